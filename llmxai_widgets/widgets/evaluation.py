"""``EvaluationView``: how good are several attribution methods' explanations of the same
prediction? Per method ERASER's comprehensiveness and sufficiency (AOPC), the deletion and
insertion curves with their areas, beside a random ranking and the leave-one-out oracle; how much
the methods agree (rank correlation, top-k overlap); and, given a person's rationale, how
plausible each method is against it (JS: js/widgets/evaluation.ts)."""

from __future__ import annotations

from collections.abc import Sequence

import traitlets as t

from ..methods.attention import Cancelled
from ..methods.attribution import AttributionResult, explain, get_attribution_method, prepare
from ..methods.evaluate.agreement import agreement, plausibility
from ..methods.evaluate.curves import METRICS, check_bins
from ..methods.evaluate.faithfulness import MODES, FaithfulnessResult, faithfulness
from ..models.wrapped import LoadedModel
from .base import bundle
from .view import View, check_model

DEFAULT_METHODS = ("occlusion", "integrated_gradients", "input_x_gradient", "saliency")
MEASURES = ("spearman", "kendall", "top_k")


def agreement_json(results: Sequence[AttributionResult], k: int = 3) -> dict:
    """``agreement(results)`` as the view draws it (empty for fewer than two results)."""
    if len(results) < 2:
        return {}
    a = agreement(results, k=k)
    return {"methods": a.methods, "k": a.k, **{m: getattr(a, m).round(6).tolist() for m in MEASURES}}


class EvaluationView(View):
    """Faithfulness of each of ``methods`` (attribution method ids) explaining ``model``'s
    prediction of ``target`` after ``prompt`` (arguments as :func:`llmxai_widgets.attribute`),
    each method's row appearing as it is done: a table per method (AOPC comprehensiveness and
    sufficiency over ``bins``, deletion and insertion areas; ``mode`` "remove" or "replace"),
    the deletion and insertion curves, and the methods' agreement matrix. ``rationale``: the
    tokens a person says matter (positions or a mask over the target's tokens); each method is
    then also scored for plausibility. From results already computed:
    :meth:`from_results`."""

    _esm = bundle("evaluation")
    SAVES_HTML = True
    """Every target's numbers travel in the traits: a saved page switches targets without Python."""

    special = t.List(t.Bool()).tag(sync=True)
    target_labels = t.List(t.Unicode()).tag(sync=True)
    """Each target as text (untrusted)."""
    target_positions = t.List(t.Int()).tag(sync=True)
    selected = t.Int(0).tag(sync=True)
    """The target whose curves are drawn."""
    methods = t.List(t.Unicode()).tag(sync=True)
    """The methods asked for, in order (rows of the table)."""
    evaluations = t.List(t.Dict()).tag(sync=True)
    """One :meth:`FaithfulnessResult.to_json` per method done, in ``methods`` order; the first
    also holds the random ranking and the leave-one-out oracle (the same for every method)."""
    agreement = t.Dict().tag(sync=True)
    """``{"methods", "k", "spearman", "kendall", "top_k"}`` (matrices, means over the targets)
    once two methods are done."""
    measure = t.Unicode("spearman").tag(sync=True)
    """The agreement measure the matrix shows: "spearman", "kendall" or "top_k"."""
    rationale = t.List(t.Int()).tag(sync=True)
    """The person's rationale (token positions), or empty."""
    plausibility = t.List(t.List(t.Dict())).tag(sync=True)
    """Per method done, per target: ERASER's plausibility against ``rationale`` (empty without one)."""

    def __init__(self, model: LoadedModel | None = None, prompt: str | None = None, target=None, generate: int = 0,
                 *, methods: Sequence[str] = DEFAULT_METHODS, bins="eraser", mode: str = "remove",
                 rationale=None, random_samples: int = 10, seed: int = 0, text_pair: str | None = None,
                 background: bool | None = None, **options):
        super().__init__(background=background)
        self._results: list[AttributionResult] = []
        self._faith: list[FaithfulnessResult] = []
        self._options = options
        if model is None:
            return
        methods = self._check(methods, bins, mode, random_samples)
        self._open(model, prompt, tokenize=False)
        self._plan = {"bins": bins, "mode": mode, "random_samples": int(random_samples), "seed": int(seed)}
        problem, tokens = prepare(model, prompt, target, generate, method=methods[0], text_pair=text_pair)
        self._problem, self._tokens = problem, tokens
        self._given_rationale = rationale
        with self.hold_sync(), self._silent():
            self.methods = methods
            self._fill_tokens(tokens.text, tokens.special, list(problem.targets))
        self._recompute()

    @classmethod
    def from_results(cls, model: LoadedModel, results: Sequence[AttributionResult], *, bins="eraser",
                     mode: str = "remove", rationale=None, random_samples: int = 10, seed: int = 0,
                     background: bool | None = None) -> EvaluationView:
        """Evaluate attribution results already computed (same text and targets, one per method)."""
        check_model(model)
        results = list(results)
        if not results or not all(isinstance(r, AttributionResult) for r in results):
            raise TypeError("results must be a list of lx.attribute(...) results, one per method")
        agreement_json(results)  # different texts or targets: the error says so
        view = cls(background=background)
        view._check([r.method for r in results], bins, mode, random_samples)
        view._open(model, results[0].tokens.source, tokenize=False)
        view._plan = {"bins": bins, "mode": mode, "random_samples": int(random_samples), "seed": int(seed)}
        view._given_rationale, view._given_results = rationale, results
        first = results[0]
        with view.hold_sync(), view._silent():
            view.methods = [r.method for r in results]
            view._fill_tokens(first.tokens.text, first.tokens.special, list(first.target_positions), first.targets)
        view._recompute()
        return view

    @staticmethod
    def _check(methods, bins, mode, random_samples) -> list[str]:
        if isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
            raise TypeError(f"methods must be a list of attribution method ids, e.g. {list(DEFAULT_METHODS)}, "
                            f"got {methods!r}")
        methods = [get_attribution_method(m).id for m in methods]
        if len(set(methods)) != len(methods):
            raise ValueError(f"methods lists a method twice: {methods}")
        check_bins(bins)
        if mode not in MODES:
            raise ValueError(f"mode must be 'remove' or 'replace', got {mode!r}")
        if isinstance(random_samples, bool) or not isinstance(random_samples, int) or random_samples < 1:
            raise ValueError(f"random_samples must be a positive integer, got {random_samples!r}")
        return methods

    def _fill_tokens(self, text, special, positions, labels=None) -> None:
        self.tokens = list(text)
        self.special = [bool(s) for s in special]
        self.target_positions = positions
        self.target_labels = list(labels) if labels is not None else [self.tokens[p] for p in positions]

    # -- computation ---------------------------------------------------------------------------
    def _compute(self) -> None:
        given = getattr(self, "_given_results", None)
        n_methods = len(self.methods)
        self._results, self._faith = [], []
        with self.hold_sync():
            self.evaluations, self.agreement, self.plausibility = [], {}, []
        try:
            for m, method in enumerate(self.methods):
                if given is not None:
                    result = given[m]
                else:
                    self.progress_label = f"{method}: attributing ({m + 1} of {n_methods} methods)"
                    result = explain(self._problem, self._tokens, method, cancelled=lambda: self.cancelled,
                                     **self._options)
                self._check_rationale(result)
                n_targets = len(result.target_positions)

                def on_target(i, _entry, m=m, method=method, n_targets=n_targets):
                    with self.hold_sync():
                        self.progress = (m + (i + 1) / n_targets) / n_methods
                        self.progress_label = f"{method}: faithfulness of target {i + 1} of {n_targets}"

                faith = faithfulness(self._model, result, bins=self._plan["bins"], mode=self._plan["mode"],
                                     baselines=("random", "loo") if m == 0 else (),
                                     random_samples=self._plan["random_samples"], seed=self._plan["seed"],
                                     on_target=on_target, cancelled=lambda: self.cancelled)
                self._results.append(result)
                self._faith.append(faith)
                self._show_method(result, faith)
        except Cancelled:
            with self.hold_sync():
                self.status = "cancelled"
                self.progress_label = f"cancelled: {len(self._faith)} of {n_methods} methods kept"
            return
        self._result = self._faith
        with self.hold_sync():
            self.progress, self.progress_label, self.status = 1.0, "", "ready"

    def _check_rationale(self, result: AttributionResult) -> None:
        """The person's rationale as positions, checked against the first result (an error in
        the view names the problem; the evaluation goes on without plausibility)."""
        given = self._given_rationale
        if given is None or self.rationale:
            return
        try:
            p = plausibility(result, given, target=0)
        except (TypeError, ValueError, IndexError) as err:
            self._given_rationale = None
            self.error = f"rationale: {err}"
            return
        self.rationale = list(p.rationale)

    def _show_method(self, result: AttributionResult, faith: FaithfulnessResult) -> None:
        with self.hold_sync():
            self.evaluations = [*self.evaluations, faith.to_json()]
            self.agreement = agreement_json(self._results)
            if self.rationale:
                rows = [plausibility(result, self.rationale, target=i).as_dict()
                        for i in range(len(result.target_positions))]
                self.plausibility = [*self.plausibility, rows]

    @property
    def results(self) -> list[AttributionResult]:
        """The attribution results evaluated, one per method done."""
        self.wait()
        return list(self._results)

    @property
    def faithfulness_results(self) -> list[FaithfulnessResult]:
        self.wait()
        return list(self._faith)

    # -- what the person changes ---------------------------------------------------------------
    @t.validate("selected")
    def _valid_selected(self, proposal):
        return self._indexed(proposal, len(self.target_positions), "this evaluation", plural="targets")

    @t.validate("measure")
    def _valid_measure(self, proposal):
        return self._choose(proposal, MEASURES)

    # -- figures ---------------------------------------------------------------------------------
    def figure(self, *, selected: int | None = None, measure: str | None = None, **options):
        """A :class:`~llmxai_widgets.figures.Figure` of what the view shows: the table, the
        deletion and insertion curves of target ``selected`` and the agreement matrix
        (``measure``)."""
        from ..figures import FigureOptions
        from ..figures.evaluation import evaluation_figure

        if not self._faith:
            raise ValueError("nothing to draw yet: the evaluation is still being computed (view.wait() waits)")
        i = self.selected if selected is None else int(selected)
        if not 0 <= i < len(self.target_positions):
            raise IndexError(f"selected {i} is out of range: there are {len(self.target_positions)} targets")
        measure = self.measure if measure is None else measure
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {', '.join(map(repr, MEASURES))}, got {measure!r}")
        return evaluation_figure([f.to_json() for f in self._faith], self.agreement, target=i, measure=measure,
                                 plausibility=self.plausibility, model_name=self.model_name,
                                 options=FigureOptions(**options))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        selected = int(request.get("selected", self.selected))
        return {"selected": selected, "measure": request.get("measure", self.measure)}, \
            f"evaluation-{self.model_name or 'model'}-target{selected}"

    def _static_figure(self):
        return self.figure() if self._faith and self.status == "ready" else None

    @t.observe("status", "selected", "measure")
    def _static_changed(self, change) -> None:
        self._static_follows(change)


__all__ = ["DEFAULT_METHODS", "EvaluationView", "METRICS", "agreement_json"]
