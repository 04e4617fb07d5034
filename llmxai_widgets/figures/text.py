"""Token text as labels show it, on screen and in every export (twin: js/core/layout.ts
``displayToken``; tests/test_display_rule.py runs both over the hostile corpus, tests/test_figures.py
writes the shared cases the JS unit test reads).

Token text is data, not markup or layout: newlines and tabs become visible symbols, a token of
spaces shows its spaces, and characters that are invisible or change the text around them are
written as ``[U+202E]``:

- C0/C1 controls; zero-width and format characters (U+200B..U+200F, U+2060..U+2064, U+FEFF, soft
  hyphen, Hangul fillers, line/paragraph separators, tag characters ...); bidirectional embeddings,
  overrides and isolates (U+202A..U+202E, U+2066..U+2069), so a token cannot silently reverse or
  hide the labels after it. A zero-width joiner between two emoji is kept (one emoji sequence).
- a third and later combining diacritical mark in a row ("Zalgo" text that would pile over the
  neighbouring labels); the first two stay, so accented letters read as they are.
- a lone surrogate (a Python string can hold one; UTF-8 and the browser cannot) becomes U+FFFD.
- a token that is only whitespace shows its spaces as U+2423 and other spaces as ``[U+00A0]``.
- a label longer than ``max_chars`` code points ends with an ellipsis.
"""

from __future__ import annotations

import re

# Invisible or text-changing code points, shown as [U+XXXX] (U+200D is kept inside an emoji sequence).
_INVISIBLE = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C),
    (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180E, 0x180E), (0x200B, 0x200F), (0x2028, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0x3164, 0x3164), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0xFFFE, 0xFFFF), (0xE0000, 0xE007F),
)
# Combining diacritical marks (the blocks "Zalgo" text piles up); other scripts' marks are left alone.
_MARKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))
_EMOJI = ((0x2600, 0x27BF), (0x1F000, 0x1FAFF))
# Whitespace a whitespace-only token is made of besides the space (shown as [U+XXXX] then).
_SPACES = frozenset([0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000])
MAX_MARKS = 2


def _within(o: int, ranges) -> bool:
    return any(lo <= o <= hi for lo, hi in ranges)


def _code(o: int) -> str:
    return f"[U+{o:04X}]"


def display_token(token: str, max_chars: int = 24) -> str:
    """``token`` as a one-line label of at most ``max_chars`` characters (code points)."""
    chars = [ord(c) for c in re.sub(r"\r?\n", "\u23ce", token).replace("\t", "\u21e5")]
    out: list[str] = []
    marks = 0
    for i, o in enumerate(chars):
        mark = _within(o, _MARKS)
        marks = marks + 1 if mark else 0
        if 0xD800 <= o <= 0xDFFF:
            out.append("\ufffd")
        elif o == 0x200D and i > 0 and i + 1 < len(chars) and (_within(chars[i - 1], _EMOJI) or chars[i - 1] == 0xFE0F) \
                and _within(chars[i + 1], _EMOJI):
            out.append("\u200d")
        elif _within(o, _INVISIBLE) or (mark and marks > MAX_MARKS):
            out.append(_code(o))
        else:
            out.append(chr(o))
    if out and all(len(c) == 1 and ord(c) in _SPACES for c in out):
        out = ["\u2423" if c == " " else _code(ord(c)) for c in out]
    s = "".join(out)
    return s if len(s) <= max_chars else s[: max_chars - 1] + "\u2026"
