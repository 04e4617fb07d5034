"""Token text as labels show it, on screen and in every export (twin: js/core/layout.ts
``displayToken``; tests/test_figures.py writes the shared cases the JS test reads).

Token text is data, not markup or layout: newlines and tabs become visible symbols, a token of
spaces shows its spaces, and invisible control and bidirectional-override characters are written
as ``[U+202E]`` so a token cannot silently reverse or hide the labels after it.
"""

from __future__ import annotations

import re

# C0/C1 controls (newline and tab are handled first) and the bidirectional formatting characters.
_INVISIBLE = re.compile("[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def display_token(token: str, max_chars: int = 24) -> str:
    """``token`` as a one-line label of at most ``max_chars`` characters (code points)."""
    s = re.sub(r"\r?\n", "\u23ce", token).replace("\t", "\u21e5")
    s = _INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", s)
    if s.strip() == "":
        s = s.replace(" ", "\u2423")
    return s if len(s) <= max_chars else s[: max_chars - 1] + "\u2026"
