"""llmxai_widgets/about.json: every view has its "what this shows / where it misleads" panel (the
About toggle and the lesson notebooks), as plain, short text, and no entry names a class that does
not exist. No model is loaded."""

from __future__ import annotations

import json

import pytest

import llmxai_widgets as lx
from llmxai_widgets.widgets.about import ABOUT_FILE, about_markdown, about_of
from llmxai_widgets.widgets.explorer import ExplorerStrip
from llmxai_widgets.widgets.view import View

FIELDS = ("title", "shows", "misleads")
MAX_CHARS = 600


def _views() -> dict[str, type]:
    """Every View subclass the package exports, plus the explorer's strip (a View it does not export)."""
    views = {}
    for name in lx.__all__:
        obj = getattr(lx, name)
        if isinstance(obj, type) and issubclass(obj, View) and obj is not View:
            views[obj.__name__] = obj
    views[ExplorerStrip.__name__] = ExplorerStrip
    return views


VIEWS = _views()


@pytest.fixture(scope="module")
def about() -> dict:
    with open(ABOUT_FILE, encoding="utf-8") as f:
        return json.load(f)


def test_the_views_are_found():
    assert {"AttentionView", "CircuitView", "EvaluationView", "ExplorerStrip"} <= set(VIEWS)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_every_view_has_an_entry(about, name):
    assert name in about, f"about.json has no entry for {name}"
    entry = about[name]
    for field in FIELDS:
        text = entry.get(field)
        assert isinstance(text, str) and text.strip(), f"{name}.{field} is missing or empty"
    for field, text in entry.items():
        assert isinstance(text, str), f"{name}.{field} is not a string"
        assert "<" not in text and ">" not in text, f"{name}.{field} holds '<' or '>' (plain text only)"
        assert len(text) < MAX_CHARS, f"{name}.{field} has {len(text)} characters (under {MAX_CHARS})"


def test_no_entry_for_a_class_that_does_not_exist(about):
    unknown = sorted(set(about) - set(VIEWS))
    assert not unknown, f"about.json has entries for classes that do not exist: {unknown}"


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_the_view_and_the_lessons_get_the_entry(about, name):
    assert about_of(VIEWS[name]) == about[name]
    text = about_markdown(name)
    assert about[name]["shows"] in text and about[name]["misleads"] in text
