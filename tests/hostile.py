"""A corpus of hostile token text: each entry is ``(name, token)``. Used by
tests/test_hostile_exports.py to check that every figure format and the standalone HTML page keep
token text as data (no live markup, no raw control characters in XML) and readable.

Not a test file: import ``HOSTILE`` (or ``TOKENS``/``NAMES``) from here."""

from __future__ import annotations

HOSTILE: list[tuple[str, str]] = [
    # HTML / JS injection
    ("script", "<script>alert(1)</script>"),
    ("img-onerror", "<img src=x onerror=alert(1)>"),
    ("svg-onload", '"><svg onload=alert(1)>'),
    ("close-text-svg", "</text></svg><script>"),
    # SVG / XML specials
    ("entity", "&amp;"),
    ("cdata-end", "]]>"),
    ("comment-open", "<!--"),
    ("xml-decl", "<?xml"),
    # bidirectional overrides and isolates
    ("rlo", "\u202eevil"),
    ("lri", "\u2066left\u2069"),
    ("rli", "\u2067right\u2069"),
    ("fsi", "\u2068first\u2069"),
    ("pdi", "\u2069"),
    # zero-width characters
    ("zwsp", "a\u200bb"),
    ("zwj", "\u200d"),
    ("bom", "\ufeffbom"),
    # combining marks
    ("combining", "e" + "\u0301" * 20),
    # emoji with ZWJ sequences, characters outside the BMP (surrogate pairs in UTF-16)
    ("emoji-zwj", "\U0001f469\u200d\U0001f4bb"),
    ("astral-math", "\U0001d54f"),
    # a very long token
    ("long", "x" * 9_990 + "TAIL_END__"),
    # NUL and other C0 controls
    ("nul", "a\x00b"),
    ("bell", "\x07"),
    ("escape", "\x1b[31mred"),
    ("c0-mix", "\x01\x02\x08\x0b\x0c\x0e\x1f"),
    # a byte-fallback token as tokenizers print it
    ("byte-fallback", "<0xE2>"),
    # numbers and CSS lookalikes
    ("inf", "1e309"),
    ("minus-zero", "-0"),
    ("nan", "NaN"),
    ("css-body", "}body{display:none}"),
    ("css-url", "url(javascript:alert(1))"),
    ("css-expression", "expression(alert(1))"),
    # a lone surrogate (Python carries it; UTF-8 and strict JSON consumers refuse it)
    ("lone-surrogate", "x\ud800y"),
]

NAMES = [name for name, _ in HOSTILE]
TOKENS = [token for _, token in HOSTILE]
