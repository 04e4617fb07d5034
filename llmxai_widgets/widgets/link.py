"""``link(view_a, view_b, ...)``: views of the same text share the token in focus.

Clicking a token in one view moves every linked view to it. In the browser the panes tell each
other directly (a DOM event tagged with the views' ``link_group``: instant, and it works in a
saved page with no kernel); in Python every change of one ``focus`` moves the others (so views
not on screen follow too). A view that needs
Python to show a token (the contributions view explains the prediction at it) computes when its
own ``focus`` arrives.
"""

from __future__ import annotations

import uuid

from .view import View


def _first_difference(a: list[str], b: list[str]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None


def check_same_text(views) -> None:
    """A ValueError naming the first token where two views' texts differ (positions must mean
    the same token in every linked view; one may go on further, e.g. with generated tokens)."""
    known = [v for v in views if v.tokens]
    for other in known[1:]:
        i = _first_difference(known[0].tokens, other.tokens)
        if i is not None:
            raise ValueError(
                f"cannot link views of different texts: token {i} is {known[0].tokens[i]!r} in the "
                f"{type(known[0]).__name__} and {other.tokens[i]!r} in the {type(other).__name__}; link views "
                f"made from the same text (and model tokenizer)"
            )


class Link:
    """Views sharing the token in focus; ``unlink()`` separates them again."""

    def __init__(self, views: list[View], group: str):
        self.views, self.group = views, group
        self._moving = False
        for view in views:
            view.observe(self._moved, names="focus")

    def _moved(self, change) -> None:
        source = change["owner"]
        # Also for a click in the browser, which reached the linked panes shown there already: views
        # not on screen (an explorer's other tabs) learn it here. A pane that moved on meanwhile
        # keeps its newer value (ipywidgets drops a kernel update of a trait the page is changing).
        if self._moving:
            return
        self._moving = True
        try:
            for view in self.views:
                if view is not source and view.focus != change["new"]:
                    if change["new"] < len(view.tokens) or not view.tokens:
                        view.focus = change["new"]
        finally:
            self._moving = False

    def add(self, view: View) -> None:
        """Link one more view (of the same text); it moves to the token in focus."""
        check_same_text([*self.views, view])
        self.views.append(view)
        view.link_group = self.group
        view.observe(self._moved, names="focus")
        focus = next((v.focus for v in self.views if v.focus >= 0), -1)
        if focus >= 0 and focus != view.focus and (focus < len(view.tokens) or not view.tokens):
            view.focus = focus

    def unlink(self) -> None:
        for view in self.views:
            view.unobserve(self._moved, names="focus")
            if view.link_group == self.group:
                view.link_group = ""

    def __repr__(self) -> str:
        return f"Link({', '.join(type(v).__name__ for v in self.views)})"


def link(*views: View) -> Link:
    """Link ``views`` (two or more views of the same text, e.g. an AttentionView and a
    LogitLensView of one prompt): clicking a token in one moves the others to it (the attention
    view's row, the lens's column, the attribution view's row, the neuron view's top neurons, the
    contributions view's prediction). Returns a :class:`Link` (``unlink()`` undoes it)."""
    if len(views) == 1 and isinstance(views[0], (list, tuple)):
        views = tuple(views[0])
    if len(views) < 2:
        raise ValueError(f"link() needs two or more views, got {len(views)}")
    for view in views:
        if not isinstance(view, View):
            raise TypeError(f"link() links llmxai_widgets views (AttentionView, LogitLensView, ...); got "
                            f"{type(view).__name__}")
    if len({id(v) for v in views}) < len(views):
        raise ValueError("link() got the same view twice; pass each view once")
    check_same_text(views)
    group = next((v.link_group for v in views if v.link_group), "") or uuid.uuid4().hex
    for view in views:
        view.link_group = group
    return Link(list(views), group)


__all__ = ["Link", "check_same_text", "link"]
