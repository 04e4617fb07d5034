"""What every view repeats, in one place: the constructor's checks (model, text, model kind,
tokens), the checks of a trait the person changes in the view (a position, a choice, a number,
an index: the problem shown in ``error``, the old value kept), following a target token, and
running work beside the view.

A view is a file that declares its traits, calls these checks from its constructor and
observers, and implements ``_compute`` (fill the traits from a result) and ``figure``::

    class TracingView(View):
        _esm = bundle("tracing")
        layer = t.Int(0).tag(sync=True)

        def __init__(self, model=None, text=None, *, background=None):
            super().__init__(background=background)
            if model is None:
                return  # from_result fills the traits
            self._open(model, text, causal="tracing")
            self._recompute()

        def _compute(self): ...          # in a thread inside a kernel; sets status "ready"

        @t.validate("layer")
        def _valid_layer(self, proposal):
            return self._indexed(proposal, self._model.n_layers, self.model_name)
"""

from __future__ import annotations

import threading
from typing import NoReturn

import traitlets as t

from ..methods.attention import check_index
from ..methods.forward import check_position, require_causal, token_id
from ..models.wrapped import LoadedModel, Tokens, check_text
from .about import about_of, lesson_mode_on
from .base import ExplainerWidget, in_kernel


def check_model(model) -> LoadedModel:
    """``model`` if it came from ``load_model()``, else a TypeError that says how to get one."""
    if not isinstance(model, LoadedModel):
        raise TypeError(
            f"model must come from llmxai_widgets.load_model(), got {type(model).__name__}; "
            f"wrap a transformers model with load_model(model=m, tokenizer=t)"
        )
    return model


class View(ExplainerWidget):
    """Base of every view that explains a model on a text (see the module's docstring)."""

    model_name = t.Unicode("").tag(sync=True)
    tokens = t.List(t.Unicode()).tag(sync=True)
    """Token strings as shown (untrusted text, drawn as text only)."""
    focus = t.Int(-1).tag(sync=True)
    """The token the person is looking at (a position in ``tokens``; -1: none). Clicking a token
    in the view sets it; views linked by :func:`llmxai_widgets.link` (or in an ``Explorer``)
    share it, in the browser and in Python."""
    link_group = t.Unicode("").tag(sync=True)
    """The views this one is linked with share this id ("" = not linked)."""
    about = t.Dict().tag(sync=True)
    """What this view shows and where it misleads (``about.json``), behind the view's About toggle."""
    about_open = t.Bool(False).tag(sync=True)
    """Whether the About panel is open (``lx.lesson_mode()`` opens it for new views)."""

    # class defaults, so observers that run while the traits are first set find them
    _model: LoadedModel | None = None
    _tokens: Tokens | None = None
    _result = None
    _background: bool | None = None

    def __init__(self, *, background: bool | None = None, **kwargs):
        self._background = background
        super().__init__(**kwargs)
        with self.hold_sync(), self._silent():
            self.about, self.about_open = about_of(self), lesson_mode_on()

    # -- the constructor's checks --------------------------------------------------------------
    def _open(self, model, text, *, causal: str | None = None, text_pair: str | None = None,
              tokenize: bool = True) -> Tokens | None:
        """Check ``model`` and ``text`` (and that the model is a causal LM when ``causal`` names
        the method that needs one), every problem named before anything runs; tokenise the text
        (its length checked) unless ``tokenize=False``; set ``model_name`` and ``tokens``."""
        check_model(model)
        check_text(text)
        if causal is not None:
            require_causal(model, causal)
        self._model = model
        model.watch_weights(self)
        tokens = None
        if tokenize:
            tokens = model.tokenize(text, text_pair)
            model.check_length(tokens)
            self._tokens = tokens
        with self.hold_sync(), self._silent():
            self.model_name = model.name
            if tokens is not None:
                self.tokens = list(tokens.text)
        return tokens

    def _weights_changed(self, model: LoadedModel, what: str) -> None:
        """The model's weights changed under the view (an edit applied or reverted): say so; what
        the view shows was computed with the weights before the change."""
        if self._result is None and self.status != "computing":
            return
        self.error = (f"The model's weights changed after this view computed ({what}); it still shows the model "
                      f"as it was. Run the cell again to see the model as it is now.")

    @property
    def result(self):
        """The result shown (waits for a running computation)."""
        self.wait()
        return self._result

    def _computed(self, what: str):
        """The result to draw, or a ValueError saying ``what`` is still being computed."""
        if self._result is None:
            raise ValueError(f"nothing to draw yet: {what} is still being computed (view.wait() waits)")
        return self._result

    # -- computing -----------------------------------------------------------------------------
    def _compute(self, *args) -> None:
        raise NotImplementedError(f"{type(self).__name__} computes nothing")

    def _recompute(self, *args) -> None:
        """Run ``_compute(*args)``: in a thread inside a kernel (unless ``background=False``)."""
        self._start(lambda: self._compute(*args), background=self._background)

    def _aside(self, work, *args) -> None:
        """Run ``work(*args)`` beside the view (a thread) when the view computes in the
        background, else now (scripts and tests see its effect at once)."""
        if in_kernel() and self._background is not False:
            threading.Thread(target=work, args=args, daemon=True).start()
        else:
            work(*args)

    # -- checking what the person changes -----------------------------------------------------
    def _reject(self, message: str) -> NoReturn:
        """Refuse a trait's new value: the view shows ``message``; the picture stays."""
        self.error = message
        raise t.TraitError(message)

    def _choose(self, proposal, choices):
        """A validator's check that the value is one of ``choices``."""
        name, value = proposal["trait"].name, proposal["value"]
        if value not in choices:
            self._reject(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value

    def _within(self, proposal, lo, hi):
        """A validator's check that the value is in ``lo..hi`` (both included)."""
        name, value = proposal["trait"].name, proposal["value"]
        if not lo <= value <= hi:
            self._reject(f"{name} must be between {lo} and {hi}, got {value!r}")
        return value

    def _indexed(self, proposal, count: int, owner: str, *, plural: str | None = None, note: str = "") -> int:
        """A validator's check that the value indexes one of the ``count`` ``plural`` (default:
        the trait's name + "s") of ``owner`` (any value while ``count`` is 0: the view is not
        filled yet); ``note`` ends the message."""
        name, value = proposal["trait"].name, proposal["value"]
        if count == 0:
            return value
        try:
            return check_index(value, count, name, owner or "the model", plural)
        except (IndexError, TypeError) as err:
            self._reject(f"{err}{note}")

    def _moved_to(self, change) -> int | None:
        """The token position an observed change asks for (negative counts from the end; the
        trait then shows where it ended up), or None when it is not one of the text's positions:
        the message is shown in ``error`` and the old value put back."""
        name = change["name"]
        try:
            position = check_position(change["new"], len(self.tokens))
        except (IndexError, TypeError) as err:
            self.error = str(err)  # the current picture stays
            self._quietly(**{name: change["old"]})
            return None
        if position != change["new"]:
            self._quietly(**{name: position})
        return position

    # -- the token in focus (linked views) ---------------------------------------------------
    @t.validate("focus")
    def _valid_focus(self, proposal):
        value = proposal["value"]
        if value != -1 and self.tokens and not 0 <= value < len(self.tokens):
            self._reject(f"focus must be a token position from 0 to {len(self.tokens) - 1} (or -1 for none), "
                         f"got {value!r}")
        return value

    @t.observe("focus")
    def _focus_changed(self, change) -> None:
        if not self._quiet and self._model is not None:
            self._focus_moved(change["new"])

    FOCUS_TRAIT: str | None = None
    """A position trait of the view that follows the token in focus (e.g. the logit lens's
    ``selected`` column), set by the default ``_focus_moved``."""

    def _focus_moved(self, position: int) -> None:
        """The token in focus changed (a click here or in a linked view): a view that needs
        Python to show it (a computation at that token) does it here, by default by moving its
        ``FOCUS_TRAIT``; showing what the state already holds is the browser's work (the pane's
        ``onFocus``)."""
        name = self.FOCUS_TRAIT
        if name and 0 <= position < len(self.tokens) and getattr(self, name) != position:
            setattr(self, name, position)

    def _set_given(self, **values) -> None:
        """Set the traits whose value is not None, in the order given, in one message
        (what ``show()`` does)."""
        with self.hold_sync():
            for name, value in values.items():
                if value is not None:
                    setattr(self, name, value)


class FollowsTarget(View):
    """A view that explains one token (``target``), which the view's target box can change."""

    target = t.Unicode("").tag(sync=True)
    """The token followed ("" = the model's own prediction at each position)."""

    _target = None
    """What was asked for: a one-token string, a token id, or None (the model's own prediction)."""
    _TARGET_ERROR = "cannot follow {target!r}: {err}"

    def _target_label(self, target) -> str:
        """``target`` as the view shows it (a decoded token; "" for None); errors name the fix."""
        return "" if target is None else self._model.tokenizer.decode([token_id(self._model, target)])

    def _follow(self, target, *, recompute: bool = True) -> None:
        """Follow ``target`` (a one-token string or id; None: the model's own predictions)."""
        label = self._target_label(target)  # a bad target raises before anything changes
        self._quietly(target=label)
        self.error = ""
        self._target = target
        if recompute:
            self._recompute()

    @t.observe("target")
    def _target_changed(self, change) -> None:
        if self._quiet or self._model is None:
            return
        try:
            self._follow(change["new"] or None)
        except (ValueError, IndexError, TypeError) as err:
            self.error = self._TARGET_ERROR.format(target=change["new"], err=err)  # the picture stays
            self._quietly(target=change["old"])


__all__ = ["FollowsTarget", "View", "check_model"]
