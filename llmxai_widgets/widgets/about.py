"""What each view shows and where it misleads (``llmxai_widgets/about.json``): the ``about``
trait every view sends to its pane (behind an "About" toggle), and the same text for the
lesson notebooks. ``lesson_mode()`` opens the panels of the views made afterwards."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

ABOUT_FILE = Path(__file__).resolve().parent.parent / "about.json"
_state = {"open": False}


@lru_cache(maxsize=1)
def _entries() -> dict[str, dict[str, str]]:
    if not ABOUT_FILE.exists():
        return {}
    return json.loads(ABOUT_FILE.read_text(encoding="utf-8"))


def about_of(view) -> dict[str, str]:
    """The entry of ``view`` (a view or its class): the first class in its MRO that has one."""
    cls = view if isinstance(view, type) else type(view)
    for klass in cls.__mro__:
        entry = _entries().get(klass.__name__)
        if entry:
            return dict(entry)
    return {}


def lesson_mode(on: bool = True) -> None:
    """Open (``on=True``) or close the "About" panel of every view made from now on: what the
    view shows and where it misleads, for classrooms. Each view's own toggle still works."""
    _state["open"] = bool(on)


def lesson_mode_on() -> bool:
    return _state["open"]


def about_markdown(name: str) -> str:
    """The entry of view class ``name`` as a markdown cell's text (the lesson notebooks)."""
    entry = _entries()[name]
    parts = [f"**What the {entry['title'].lower()} view shows.** {entry['shows']}",
             f"**Where it misleads.** {entry['misleads']}"]
    if entry.get("read_more"):
        parts.append(f"*Read more:* {entry['read_more']}")
    return "\n\n".join(parts)


__all__ = ["about_markdown", "about_of", "lesson_mode"]
