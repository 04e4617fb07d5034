"""``EditView``: a rank-one fact edit (ROME) and what it changed: the new and old answers'
probabilities before and after on the prompt, paraphrases and neighbour prompts, CounterFact's
scores, greedy continuations, the optimisation and (when tracing chose the block) the trace
(JS: js/widgets/edit.ts)."""

from __future__ import annotations

import threading

import traitlets as t

from ..methods.attention import Cancelled
from ..methods.use.edit import edit
from ..methods.use.edit_inputs import check_edit
from ..methods.use.features import check_texts
from ..models.wrapped import LoadedModel
from .base import bundle
from .view import View


class EditView(View):
    """Compute ROME's edit making ``prompt`` continue with ``new_target`` (see
    :func:`llmxai_widgets.edit`; ``layer``, ``covariance`` and ``edit_options`` go to it), then show
    before/after probabilities on ``prompt``, ``paraphrases`` and ``neighbours`` (prompts about other
    subjects whose answer is the old one) and greedy continuations of the prompt and the first
    paraphrase and neighbour. The model is not changed until the view's *Apply* button (or
    ``view.result.apply()``); *Revert* restores it bit for bit. ``fact``: one of
    ``lx.edit_facts.FACTS`` for the prompt and subject, and for the new target, paraphrases and
    neighbours where they are not given."""

    _esm = bundle("edit")
    SAVES_HTML = True

    prompt = t.Unicode("").tag(sync=True)
    subject = t.Unicode("").tag(sync=True)
    new_target = t.Unicode("").tag(sync=True)
    old_target = t.Unicode("").tag(sync=True)
    layer = t.Int(-1).tag(sync=True)
    layer_from = t.Unicode("").tag(sync=True)
    covariance = t.Unicode("").tag(sync=True)
    trace = t.List().tag(sync=True)
    """Causal tracing's score per block when it chose the block (empty when the block was given)."""
    target_prob = t.List(t.Float()).tag(sync=True)
    """The new target's mean probability over the prefixed prompts at each optimisation step."""
    rows = t.List(t.Dict()).tag(sync=True)
    """Per prompt: ``prompt``, ``kind``, ``p_new_before``/``after``, ``p_old_before``/``after``,
    ``top_before``/``after``."""
    scores = t.Dict().tag(sync=True)
    """``efficacy``, ``generalisation``, ``specificity`` (None when no prompt of that kind)."""
    generations = t.List(t.Dict()).tag(sync=True)
    """``{"kind", "prompt", "before", "after"}`` for the prompt and the first paraphrase and neighbour."""
    applied = t.Bool(False).tag(sync=True)
    """Whether the edit is written into the model (the view's Apply / Revert buttons)."""
    seconds = t.Float(0.0).tag(sync=True)

    def __init__(self, model: LoadedModel | None = None, prompt: str | None = None, subject: str | None = None,
                 new_target: str | None = None, *, paraphrases=(), neighbours=(), fact=None, layer: int | None = None,
                 covariance=None, max_new_tokens: int = 16, edit_options: dict | None = None,
                 background: bool | None = None):
        super().__init__(background=background)
        self._applying = threading.Lock()
        if model is None:
            return
        if fact is not None:
            prompt, subject, new_target = fact.prompt, fact.subject, new_target or fact.new_target
            paraphrases, neighbours = paraphrases or fact.paraphrases, neighbours or fact.neighbours
        self._open(model, prompt, causal="edit")
        self._options = dict(edit_options or {})
        check_edit(model, prompt, subject, new_target, layer, covariance, self._options.get("prefixes"),
                   self._options.get("steps", 25), self._options.get("lr", 0.5), self._options.get("kl_weight", 0.0625),
                   self._options.get("clamp", 4.0), self._options.get("stop_below", 0.05))
        self._paraphrases = check_texts(paraphrases, "paraphrases", at_least=0) if paraphrases else []
        self._neighbours = check_texts(neighbours, "neighbours", at_least=0) if neighbours else []
        self._layer, self._covariance, self._max_new = layer, covariance, max_new_tokens
        with self.hold_sync(), self._silent():
            self.prompt, self.subject, self.new_target = prompt, subject, new_target
        self._recompute()

    # -- computation ---------------------------------------------------------------------------
    def _compute(self) -> None:
        stages = {"trace": "tracing the subject's last token", "covariance": "the keys' second moment",
                  "value": "optimising the value"}

        def on_step(stage, done, total, loss):
            extra = f", loss {loss:.3f}" if loss is not None else ""
            self.progress_label = f"{stages.get(stage, stage)}: {done} of {total}{extra}"
            self.progress = 0.8 * done / max(total, 1)

        try:
            result = edit(self._model, self.prompt, self.subject, self.new_target, layer=self._layer,
                          covariance=self._covariance, on_step=on_step, cancelled=lambda: self.cancelled,
                          **self._options)
        except Cancelled:
            with self.hold_sync():
                self.status, self.progress_label = "cancelled", "cancelled before the edit was computed"
            return
        self._result = result
        with self.hold_sync():
            self.old_target, self.layer, self.layer_from = result.old_target, result.layer, result.layer_from
            self.covariance, self.seconds = result.covariance, result.seconds
            self.trace = [] if result.trace is None else [float(x) for x in result.trace]
            self.target_prob = [float(p) for p in result.target_prob]
            self.progress_label = "before and after on every prompt \u2026"
        evaluation = result.evaluate([self.prompt], self._paraphrases, self._neighbours)
        with self.hold_sync():
            self.rows = [{"prompt": r.prompt, "kind": r.kind, "p_new_before": r.p_new_before, "p_new_after": r.p_new_after,
                          "p_old_before": r.p_old_before, "p_old_after": r.p_old_after, "top_before": r.top_before,
                          "top_after": r.top_after} for r in evaluation.rows]
            self.scores = {"efficacy": evaluation.efficacy, "generalisation": evaluation.generalisation,
                           "specificity": evaluation.specificity}
        generations = []
        for kind, texts in (("prompt", [self.prompt]), ("paraphrase", self._paraphrases), ("neighbour", self._neighbours)):
            if texts and not self.cancelled:
                self.progress_label = f"greedy continuations: the {kind} \u2026"
                before, after = result.generate(texts[0], self._max_new)
                generations.append({"kind": kind, "prompt": texts[0], "before": before, "after": after})
                self.generations = list(generations)
        with self.hold_sync():
            self.progress, self.progress_label, self.status = 1.0, "", "ready"

    # -- Apply / Revert --------------------------------------------------------------------------
    @t.observe("applied")
    def _applied_changed(self, change) -> None:
        if self._quiet:
            return
        if self._result is None:
            self.error = "the edit is still being computed; apply it when the view is ready"
            self._quietly(applied=False)
            return
        try:
            with self._applying:
                if change["new"] and not self._result.applied:
                    self._result.apply()
                elif not change["new"] and self._result.applied:
                    self._result.revert()
        except (RuntimeError, ValueError) as err:
            self.error = f"could not {'apply' if change['new'] else 'revert'} the edit: {err}"
            self._quietly(applied=self._result.applied)

    def _weights_changed(self, model, what: str) -> None:
        if self._result is not None and self._result._what() in what:
            self._quietly(applied=self._result.applied)  # this view's edit (its buttons or result.apply())
            return
        super()._weights_changed(model, what)

    # -- figures ---------------------------------------------------------------------------------
    def figure(self, **options):
        """A :class:`~llmxai_widgets.figures.Figure` of the view: the edit, the probabilities before
        and after per prompt with CounterFact's scores, and the continuations. ``options``:
        :class:`~llmxai_widgets.figures.FigureOptions` (width, font, title, theme, ...)."""
        from ..figures import FigureOptions
        from ..figures.edit import edit_figure

        self._computed("the edit")
        return edit_figure(self, FigureOptions(**options))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        return {}, f"edit-{self.model_name or 'model'}-block{self.layer}"

    def _static_figure(self):
        return None if self._result is None or not self.rows else self.figure()

    @t.observe("status")
    def _static_changed(self, change) -> None:
        self._static_follows(change)


__all__ = ["EditView"]
