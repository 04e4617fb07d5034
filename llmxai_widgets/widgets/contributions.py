"""``ContributionView``: how much each head, attention bias and MLP wrote directly into one
token's final logit (JS: js/widgets/contributions.ts)."""

from __future__ import annotations

import numpy as np
import traitlets as t

from ..methods.attention import attention
from ..methods.contributions import contributions
from ..methods.forward import check_position
from ..models.wrapped import LoadedModel
from ..wire import encode
from .base import bundle
from .view import FollowsTarget


class ContributionView(FollowsTarget):
    """Direct logit attribution of ``target`` (a one-token string such as ``" Paris"`` or an id;
    None: the model's top prediction) after token ``position`` of ``text``: a layers x [heads...,
    attention bias, MLP] heatmap of what each part wrote into the target's logit, the embeddings
    and the constant beside it; together they sum to the model's own logit. Clicking a token in
    the view explains the prediction after it; the target box follows another token. See
    :func:`llmxai_widgets.contributions`."""

    _esm = bundle("contributions")
    SAVES_HTML = True
    FOCUS_TRAIT = "position"  # the token in focus: the prediction after it

    position = t.Int(0).tag(sync=True)
    """The token after which the target is predicted (the view's token strip sets it)."""
    target_text = t.Unicode("").tag(sync=True)
    """The token explained (the one asked for, or the model's prediction)."""
    target_id = t.Int(-1).tag(sync=True)
    n_layers = t.Int(0).tag(sync=True)
    n_heads = t.Int(0).tag(sync=True)
    # the parts of the sum: heads, attention biases and MLPs per layer, then the rest
    heads = t.Dict().tag(sync=True)
    """Wire tensor ``[layer, head]`` float32, logit units."""
    attention_bias = t.Dict().tag(sync=True)
    """Wire tensor ``[layer]`` float32 (zeros when the output projections have no bias)."""
    mlp = t.Dict().tag(sync=True)
    """Wire tensor ``[layer]`` float32."""
    embed = t.Float(0.0).tag(sync=True)
    constant = t.Float(0.0).tag(sync=True)
    total = t.Float(0.0).tag(sync=True)
    """The sum of every part (equals ``logit`` up to float rounding)."""
    logit = t.Float(0.0).tag(sync=True)
    """The model's own final logit of the target."""
    picked = t.Dict().tag(sync=True)
    """The cell clicked: ``{"layer", "column"}`` (columns: heads, then the bias, then the MLP), or
    ``{"part": "embed" | "constant"}``; empty when none."""
    head_attention = t.Dict().tag(sync=True)
    """The picked head's attention weights at ``position``: wire tensor ``[key]`` float32 with
    ``layer``, ``head`` and ``position`` fields; empty when no head is picked."""
    colormap = t.Unicode("RdBu_r").tag(sync=True)

    def __init__(self, model: LoadedModel | None = None, text: str | None = None, target=None, position: int = -1,
                 *, colormap: str = "RdBu_r", background: bool | None = None):
        super().__init__(background=background)
        if model is None:
            return
        self._open(model, text, causal="contributions")  # every problem is named before anything runs
        position = check_position(position, len(self._tokens))
        self._target, label = target, self._target_label(target)
        with self.hold_sync(), self._silent():
            self.n_layers, self.n_heads = model.n_layers, model.n_heads
            self.position, self.target, self.colormap = position, label, colormap
        self._recompute()

    # -- computation ---------------------------------------------------------------------------
    def _recompute(self) -> None:
        self.wait(60)  # one forward pass: let a running one finish rather than race it
        super()._recompute()

    def _compute(self) -> None:
        self.progress_label = f"splitting the logit after token {self.position} \u2026"
        result = contributions(self._model, self._tokens, self._target, self.position)
        self._result = result
        with self.hold_sync():
            self.target_text, self.target_id = result.target_text, result.target_id
            self.logit, self.total = float(result.logit), float(result.total)
            self.embed, self.constant = float(result.embed), float(result.constant)
            self.heads = encode(result.heads)
            self.attention_bias = encode(result.attention_bias)
            self.mlp = encode(result.mlp)
            self.progress, self.progress_label, self.status = 1.0, "", "ready"
        self._pattern_for(self.picked)

    def _pattern_for(self, picked: dict) -> None:
        """The picked head's attention at ``position`` (one forward pass up to its layer)."""
        if not picked or picked.get("column", self.n_heads) >= self.n_heads:
            self.head_attention = {}
            return
        layer, head, position = int(picked["layer"]), int(picked["column"]), self.position

        def work():
            try:
                row = attention(self._model, self._tokens, layers=[layer]).head(layer, head)[position]
            except Exception as err:  # the detail panel says it; the heatmap stays
                self.error = f"could not compute head L{layer} H{head}'s attention: {type(err).__name__}: {err}"
                return
            if self.picked == picked and self.position == position:
                self.head_attention = {**encode(np.asarray(row, np.float32)), "layer": layer, "head": head,
                                       "position": position}

        self._aside(work)

    # -- reactions -------------------------------------------------------------------------------
    _TARGET_ERROR = "cannot explain {target!r}: {err}"

    @t.observe("position")
    def _position_changed(self, change) -> None:
        if self._quiet or self._model is None or self._moved_to(change) is None:
            return
        self.error = ""
        self._recompute()

    @t.observe("picked")
    def _picked_changed(self, change) -> None:
        if self._model is not None and self._result is not None:
            self._pattern_for(change["new"])

    def _standalone_extras(self, room: int) -> dict | None:
        """What a saved page embeds to answer clicks without Python (``export_views.contribution_extras``)."""
        from .export_views import contribution_extras

        return contribution_extras(self, room)

    # -- figures ---------------------------------------------------------------------------------
    def figure(self, **options):
        """A :class:`~llmxai_widgets.figures.Figure` of the view: the heatmap (the picked cell
        outlined), the embeddings and constant, the sum. ``options``:
        :class:`~llmxai_widgets.figures.FigureOptions` (width, font, title, theme, ...)."""
        from ..figures import FigureOptions
        from ..figures.contributions import contributions_figure

        result = self._computed("the contributions")
        options.setdefault("colormap", self.colormap)
        options.setdefault("colorbar_label", "logit contribution")
        picked = self.picked
        cell = (int(picked["layer"]), int(picked["column"])) if "column" in picked else None
        return contributions_figure(result, picked=cell, options=FigureOptions(**options))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        return {}, f"contributions-{self.model_name or 'model'}-position{self.position}"

    def _static_figure(self):
        return None if self._result is None else self.figure()

    @t.observe("status", "picked")
    def _static_changed(self, change) -> None:
        self._static_follows(change)

    def show(self, position: int | None = None, *, target=None) -> ContributionView:
        """Explain the prediction after token ``position``, or ``target`` ("" for the model's top
        prediction); a bad value raises and the view keeps its picture."""
        if target is not None:
            self._follow(target or None, recompute=False)
        if position is not None:
            self._quietly(position=check_position(position, len(self.tokens)))
        self._recompute()
        return self


__all__ = ["ContributionView"]
