"""``Explorer(model, text_or_messages)``: one token strip drives linked views below it (JS:
js/widgets/explorer.ts for the strip; each view keeps its own frontend).

The strip and every view share the token in focus through :mod:`.link`; a view is created (and
computes, streaming as ever) the first time its tab opens. Nothing here knows what a view does
with the token: each view's ``_focus_moved`` (Python) and ``onFocus`` (browser) decide.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import ipywidgets as w
import traitlets as t

from ..models.wrapped import LoadedModel
from .attention import AttentionView
from .attribution import AttributionView, groups
from .base import bundle
from .contributions import ContributionView
from .link import Link
from .logit_lens import LogitLensView
from .neurons import NeuronView
from .view import View, check_model

# tab id -> (label, how the view is made from (model, text, focus, background)); the tabs' order
VIEWS: dict[str, tuple[str, Callable]] = {
    "attention": ("Attention", lambda m, text, focus, bg: AttentionView(m, text, background=bg)),
    "attribution": ("Attribution", lambda m, text, focus, bg: AttributionView(
        m, text, every_token=True, method="input_x_gradient", background=bg)),
    "logit_lens": ("Logit lens", lambda m, text, focus, bg: LogitLensView(m, text, position=focus, background=bg)),
    "neurons": ("Neurons", lambda m, text, focus, bg: NeuronView(m, text, background=bg)),
    "contributions": ("Contributions", lambda m, text, focus, bg: ContributionView(m, text, position=focus,
                                                                                  background=bg)),
}


def chat_text(model: LoadedModel, messages) -> str:
    """A chat (a list of ``{"role", "content"}`` messages) as the model's chat template writes it."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ValueError(f"message {i} must be a dict with 'role' and 'content' strings, got {m!r}")
    if not model.chat_template:
        raise ValueError(f"{model.name}'s tokenizer has no chat template, so a list of messages cannot be written "
                         f"as its input; pass the text as one string instead")
    return model.tokenizer.apply_chat_template(list(messages), tokenize=False)


def turn_roles(tokens: list[str], special: list[bool], turn: list[int]) -> list[str]:
    """A label per chat turn: the word written right after the special token that opens it, up
    to the line break (``<|im_start|>assistant`` gives "assistant"), else "turn k"."""
    roles: list[str] = []
    for i, g in enumerate(turn):
        if g < len(roles):
            continue
        word = ""
        for j in range(i + 1, len(tokens) if special[i] else i + 1):
            if special[j] or "\n" in tokens[j] or len(word) > 20:
                break
            word += tokens[j]
        word = word.strip()
        roles.append(word if re.fullmatch(r"[A-Za-z_]{1,20}", word) else f"turn {g + 1}")
    return roles


class ExplorerStrip(View):
    """The explorer's token strip and tabs (its traits; :class:`Explorer` is what you display)."""

    _esm = bundle("explorer")
    special = t.List(t.Bool()).tag(sync=True)
    turns = t.List(t.Int()).tag(sync=True)
    """Chat turn of each token (empty for a plain text)."""
    roles = t.List(t.Unicode()).tag(sync=True)
    """Label of each chat turn ("system", "user", "assistant", ...)."""
    tabs = t.List(t.List(t.Unicode())).tag(sync=True)
    """``[id, label]`` of each view, in order."""
    tab = t.Unicode("").tag(sync=True)
    opened = t.List(t.Unicode()).tag(sync=True)
    """Views created so far (each computes when its tab first opens)."""

    def __init__(self, model=None, text=None, *, tabs=(), chat: bool = False, focus: int = -1, **kwargs):
        super().__init__(**kwargs)
        if model is None:
            return
        tokens = self._open(model, text)
        turn = groups(tokens, "turn") if chat else []
        with self.hold_sync():
            self.special = [bool(s) for s in tokens.special]
            self.turns, self.roles = turn, turn_roles(list(tokens.text), self.special, turn) if chat else []
            self.tabs = [list(tab) for tab in tabs]
            self.focus = focus
            self.status = "ready"

    @t.validate("tab")
    def _valid_tab(self, proposal):
        return self._choose(proposal, [tab_id for tab_id, _ in self.tabs])


class Explorer(w.VBox):
    """``model``'s views of one text (or chat: a list of ``{"role", "content"}`` messages, written
    with the model's chat template) under one token strip: click a token (or move with the arrow
    keys) and every view follows, the attention view to its row and the heads that read it most,
    the attribution view to the row explaining it, the logit lens to its column, the neuron view
    to its most active neurons, the contributions view to the prediction after it. ``views``
    picks and orders the tabs (of ``Explorer.VIEWS``); ``tab`` the first one opened; ``focus`` a
    first token. ``explorer.view(name)`` returns a view (creating it); ``explorer.focus`` is the
    token in focus."""

    VIEWS = tuple(VIEWS)

    def __init__(self, model: LoadedModel, text_or_messages, *, views=VIEWS, tab: str | None = None, focus: int = -1,
                 background: bool | None = None):
        check_model(model)
        chat = isinstance(text_or_messages, (list, tuple))
        text = chat_text(model, text_or_messages) if chat else text_or_messages
        views = tuple(views)
        unknown = [v for v in views if v not in VIEWS]
        if unknown or not views:
            raise ValueError(f"views must name some of {', '.join(VIEWS)}; got {views!r}")
        if model.kind != "causal":
            raise ValueError(f"the explorer's views read a causal LM's predictions; {model.name} is a {model.kind!r} "
                             f"model: open its views one by one (AttentionView, AttributionView, NeuronView)")
        self._model, self._text, self._background = model, text, background
        self._views: dict[str, View] = {}
        self.strip = ExplorerStrip(model, text, tabs=[(v, VIEWS[v][0]) for v in views], chat=chat,
                                   background=background)
        if focus != -1:
            self.strip.focus = focus  # checked against the tokens
        self._link = Link([self.strip], "")
        self._link.group = self.strip.link_group = f"explorer-{self.strip.widget_id}"
        super().__init__([self.strip])
        self.strip.observe(self._tab_changed, names="tab")
        self.strip.tab = tab or views[0]

    @property
    def text(self) -> str:
        """The text the views explain (a chat as its template wrote it)."""
        return self._text

    @property
    def focus(self) -> int:
        return self.strip.focus

    @focus.setter
    def focus(self, position: int) -> None:
        self.strip.focus = position

    def save(self, path, **options):
        """``.html``: one offline page with the strip and every view (all computed first), linked
        as here, with no kernel (``max_bytes=``, default 40 MB, is shared between the views).
        Other formats: the figure of the open view (``explorer.view(name).save(...)`` for another)."""
        from pathlib import Path

        from .export_explorer import explorer_html

        path = Path(path)
        if path.suffix.lower() == ".html":
            path.write_text(explorer_html(self, **options), encoding="utf-8")
            return path
        return self.view(self.strip.tab).save(path, **options)

    def view(self, name: str) -> View:
        """The view of tab ``name`` (created, and computing, on first use)."""
        if name not in VIEWS or [name, VIEWS[name][0]] not in self.strip.tabs:
            raise ValueError(f"this explorer has the views {', '.join(tab for tab, _ in self.strip.tabs)}; got {name!r}")
        if name not in self._views:
            view = VIEWS[name][1](self._model, self._text, self.strip.focus, self._background)
            self._views[name] = view
            self._link.add(view)
            self.strip.opened = [*self.strip.opened, name]
        return self._views[name]

    def _tab_changed(self, change) -> None:
        view = self.view(change["new"])
        self.children = [self.strip, view]
        if self._static_id is not None:
            self._static_to(view)
            view._schedule_static()

    # -- the static figure (GitHub, nbconvert, a notebook opened without its kernel) -----------
    _static_id: str | None = None

    def _static_to(self, view: View) -> None:
        """The static figure under the explorer shows ``view`` (the tab open) from now on."""
        for other in self._views.values():
            if other is not view and getattr(other, "_static_id", None) == self._static_id:
                other._static_id = None
        view._static_id = self._static_id

    def _ipython_display_(self) -> None:
        """The live explorer, then a static figure of the view open in it (as every view does)."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        display(data, metadata=metadata, raw=True)
        self._static_id = self._static_id or uuid.uuid4().hex
        view = self.view(self.strip.tab)
        self._static_to(view)
        view.wait(view.STATIC_WAIT)
        display(view._static_bundle(), raw=True, display_id=self._static_id)

    def __repr__(self) -> str:
        return f"Explorer({self._model.name}, {len(self.strip.tokens)} tokens, views {', '.join(self._views)})"


__all__ = ["Explorer", "ExplorerStrip", "chat_text"]
