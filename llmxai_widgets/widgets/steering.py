"""``SteeringView``: greedy generations side by side for a range of steering strengths, each token
coloured by where the model puts it along the direction, and the concept's probability by
strength (JS: js/widgets/steering.ts)."""

from __future__ import annotations

import numpy as np
import traitlets as t

from ..methods.attention import Cancelled
from ..methods.use.steering import SteeringVector, check_alpha
from ..methods.use.steering_generate import concept_curve, concept_ids, generate
from ..models.wrapped import LoadedModel
from .base import bundle
from .view import View

CURVE_POINTS = 21


class SteeringView(View):
    """Continuations of ``prompt`` with ``alpha x vector`` added after the vector's blocks, one
    column per alpha (streamed token by token). A token's colour is the steered block's own
    output at it before the vector is added, on the vector's scale (+1: the positive examples'
    mean, -1: the negatives'). With ``concept`` (one-token strings such as ``[" great", " happy"]``)
    a chart shows their summed next-token probability after the prompt by alpha. See
    :func:`llmxai_widgets.steering_vector` and :func:`llmxai_widgets.steer`."""

    _esm = bundle("steering")
    SAVES_HTML = True
    """A saved page holds every column, candidate and the curve: its clicks need no Python."""

    prompt = t.Unicode("").tag(sync=True)
    alphas = t.List().tag(sync=True)
    """The steering strengths, one column each (the view's box sets them; each must be a number)."""
    max_new_tokens = t.Int(32).tag(sync=True)
    layers = t.List(t.Int()).tag(sync=True)
    read_layer = t.Int(0).tag(sync=True)
    description = t.Unicode("").tag(sync=True)
    """What the vector is (method, pairs, blocks), for the caption."""
    prompt_scores = t.List(t.Float()).tag(sync=True)
    columns = t.List(t.Dict()).tag(sync=True)
    """Per alpha: ``{"alpha", "tokens", "scores", "concept", "finished"}`` (grows token by token)."""
    top = t.List().tag(sync=True)
    """Per alpha, per step: the 5 most probable tokens ``[[token, probability], ...]`` (set when done)."""
    concept = t.List(t.Unicode()).tag(sync=True)
    curve = t.Dict().tag(sync=True)
    """``{"alphas": [...], "probability": [...]}``: the concept's next-token probability by alpha."""
    score_center = t.Float(0.0).tag(sync=True)
    """The colour scale's middle: the unsteered (alpha = 0) column's mean score, or 0 (halfway
    between the examples' means) without such a column."""
    score_scale = t.Float(1.0).tag(sync=True)
    """The colour scale's half-width around ``score_center`` (see :func:`color_scale`)."""
    picked = t.Dict().tag(sync=True)
    """The token clicked: ``{"column", "step"}``, or empty."""

    def __init__(self, model: LoadedModel | None = None, vector: SteeringVector | None = None, prompt: str | None = None,
                 alphas=(-8, -4, 0, 4, 8), *, max_new_tokens: int = 32, concept=None,
                 background: bool | None = None):
        super().__init__(background=background)
        if model is None:
            return
        self._open(model, prompt, causal="steered generation")
        if not isinstance(vector, SteeringVector):
            raise TypeError(f"vector must come from lx.steering_vector(model, positive, negative, layers=[...]), "
                            f"got {type(vector).__name__}")
        if vector.model_name != model.name:
            raise ValueError(f"the steering vector was computed on {vector.model_name!r}, not on {model.name!r}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= 256:
            raise ValueError(f"max_new_tokens must be an integer from 1 to 256, got {max_new_tokens!r}")
        self._vector = vector
        wanted = concept_ids(model, concept)
        alphas = self._checked_alphas(alphas)
        with self.hold_sync(), self._silent():
            self.prompt, self.alphas, self.max_new_tokens = prompt, alphas, max_new_tokens
            self.layers, self.read_layer = vector.layers, vector.layers[0]
            self.concept = [model.tokenizer.decode([i]) for i in wanted]
            self.description = (f"{vector.method} of {vector.n_pairs} pairs at block{'s' if len(vector.layers) > 1 else ''} "
                                f"{', '.join(map(str, vector.layers))} (|v| = {vector.norm(vector.layers[0]):.3g})")
        self._concept = wanted
        self._recompute()

    @staticmethod
    def _checked_alphas(alphas) -> list[float]:
        if isinstance(alphas, (str, bytes)) or not hasattr(alphas, "__iter__"):
            raise TypeError(f"alphas must be a list of numbers such as [-8, -4, 0, 4, 8], got {alphas!r}")
        alphas = [check_alpha(a, "alpha") for a in alphas]
        if not 1 <= len(alphas) <= 9:
            raise ValueError(f"give 1 to 9 alphas (one column each), got {len(alphas)}")
        return alphas

    # -- computation ---------------------------------------------------------------------------
    def _compute(self) -> None:
        model, vector, alphas = self._model, self._vector, list(self.alphas)
        with self.hold_sync():
            self.columns, self.top, self.picked, self.curve = [], [], {}, {}
        if self._concept:
            self.progress_label = "the concept's probability by alpha \u2026"
            lo, hi = min(alphas + [0.0]), max(alphas + [0.0])
            grid = sorted(set(np.round(np.linspace(lo, hi, CURVE_POINTS), 6).tolist()) | set(alphas))
            probability = concept_curve(model, self.prompt, vector, grid, self._concept)
            self.curve = {"alphas": grid, "probability": probability.tolist()}

        def on_step(step, result):
            self._show(result, final=False)
            self.progress = (step + 1) / self.max_new_tokens
            self.progress_label = f"token {step + 1} of {self.max_new_tokens}"

        try:
            result = generate(model, self.prompt, vector, alphas, max_new_tokens=self.max_new_tokens,
                              concept=self._concept or None, on_step=on_step, cancelled=lambda: self.cancelled)
        except Cancelled:
            with self.hold_sync():
                self.status, self.progress_label = "cancelled", "cancelled: the tokens so far stay"
            return
        self._result = result
        with self.hold_sync():
            self._show(result, final=True)
            self.top = [[[[tok, round(p, 6)] for tok, p in step] for step in column] for column in result.top]
            self.progress, self.progress_label, self.status = 1.0, "", "ready"

    def _show(self, result, *, final: bool) -> None:
        self._partial = result
        with self.hold_sync():
            self.prompt_scores = [float(s) for s in result.prompt_scores]
            self.columns = [{"alpha": a, "tokens": list(result.tokens[i]), "scores": [round(s, 5) for s in result.scores[i]],
                             "concept": [round(p, 6) for p in result.concept_probability[i]],
                             "finished": bool(result.finished[i])} for i, a in enumerate(result.alphas)]
            self.score_center = score_center(result)
            self.score_scale = color_scale([s - self.score_center for column in result.scores for s in column])

    # -- what the person changes -----------------------------------------------------------------
    @t.validate("alphas")
    def _valid_alphas(self, proposal):
        try:
            return self._checked_alphas(proposal["value"])
        except (TypeError, ValueError) as err:
            self._reject(str(err))

    @t.validate("prompt")
    def _valid_prompt(self, proposal):
        value = proposal["value"]
        if self._model is not None and (not isinstance(value, str) or not value.strip()):
            self._reject("the prompt is empty; type some text to continue, e.g. 'I went to the new cafe and'")
        return value

    @t.observe("alphas", "prompt")
    def _inputs_changed(self, change) -> None:
        if self._quiet or self._model is None:
            return
        if change["name"] == "prompt":
            try:
                tokens = self._model.tokenize(change["new"])
                self._model.check_length(tokens)
            except (ValueError, TypeError) as err:
                self.error = str(err)
                self._quietly(prompt=change["old"])
                return
            self._tokens = tokens
            self._quietly(tokens=list(tokens.text))
        self.error = ""
        self.wait(120)
        self._recompute()

    # -- figures ---------------------------------------------------------------------------------
    def figure(self, **options):
        """A :class:`~llmxai_widgets.figures.Figure` of the view: the prompt, one row of coloured
        tokens per alpha, the colour scale and the concept chart. ``options``:
        :class:`~llmxai_widgets.figures.FigureOptions` (width, font, title, theme, ...)."""
        from ..figures import FigureOptions
        from ..figures.steering import steering_figure

        result = self._computed("the generations")
        options.setdefault("colormap", "RdBu_r")
        return steering_figure(result, self.curve, self.score_center, self.score_scale, FigureOptions(**options),
                               description=self.description)

    def _export_request(self, request: dict) -> tuple[dict, str]:
        return {}, f"steering-{self.model_name or 'model'}"

    def _static_figure(self):
        return None if self._result is None else self.figure()

    @t.observe("status")
    def _static_changed(self, change) -> None:
        self._static_follows(change)


def score_center(result) -> float:
    """The unsteered column's mean token score (0 when no alpha is 0 or it has no tokens yet)."""
    for alpha, scores in zip(result.alphas, result.scores):
        if alpha == 0 and scores:
            return float(np.mean(scores))
    return 0.0


def color_scale(scores) -> float:
    """The half-width of the colour scale for (centred) token scores: at least 1, the largest
    |score| when it is within 3x the 98th percentile, else that percentile (one outlier token
    should not wash out the rest; it is drawn at the scale's end)."""
    values = np.abs(np.asarray([s for s in scores if np.isfinite(s)], np.float64))
    if not values.size:
        return 1.0
    top, p98 = float(values.max()), float(np.percentile(values, 98))
    return max(1.0, top if top <= 3 * p98 else p98)


__all__ = ["SteeringView", "color_scale", "score_center"]
