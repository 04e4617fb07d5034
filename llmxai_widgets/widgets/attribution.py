"""``AttributionView``: which input tokens made the model say what it said (JS:
js/widgets/attribution.ts)."""

from __future__ import annotations

import re

import numpy as np
import traitlets as t

from ..methods.attention import Cancelled
from ..methods.attribution.core import mask_unseen
from ..methods.attribution import (ATTRIBUTION_METHODS, AttributionResult, explain, get_attribution_method, label_text,
                                   prepare)
from ..figures.attribution import space_before
from ..models.wrapped import LoadedModel, Tokens
from ..wire import to_wire
from .attribution_judge import JudgeTraits
from .base import bundle
from .view import View

LEVELS = ("token", "word", "sentence", "turn")


def groups(tokens: Tokens, level: str) -> list[int]:
    """Group id of every token at ``level``: "token" (itself), "word" (a new word starts at a
    token beginning with whitespace or after one), "sentence" (after . ! ? and a space or line
    break), "turn" (chat-template turns: a new turn at each special token that opens one, such
    as ``<|im_start|>``)."""
    n = len(tokens)
    if level == "token":
        return list(range(n))
    out, group = [], 0
    for i, text in enumerate(tokens.text):
        special = bool(tokens.special[i]) if i < len(tokens.special) else False
        if i > 0:
            prev = tokens.text[i - 1]
            if level == "word" and (special or bool(tokens.special[i - 1]) or text[:1].isspace() or prev[-1:].isspace()):
                group += 1
            elif level == "sentence" and (re.search(r"[.!?]\s*$", prev) and (text[:1].isspace() or prev[-1:].isspace())
                                          or "\n" in prev):
                group += 1
            elif level == "turn" and special and re.search(r"start|begin|\[INST\]|<\|user\|>|<\|assistant\|>", text):
                group += 1
        out.append(group)
    return out


class AttributionView(View, JudgeTraits):
    """Attribution of ``model``'s output for ``prompt``: a text heatmap of the prompt coloured by
    each token's contribution to the selected target token, and for generations a target x
    source matrix (click a generated token to see its row); ``every_token=True`` explains every
    token of the text from the ones before it. ``method=`` picks the method (the
    view's menu switches and recomputes in the background); other arguments as
    :func:`llmxai_widgets.attribute`. The Evaluate tab shows how faithful the method is
    (:func:`llmxai_widgets.faithfulness`); ``guess=True`` starts in predict-then-reveal: the
    scores stay hidden while the student marks the tokens they think mattered, then Reveal scores
    their marks (:func:`llmxai_widgets.score_rationale`)."""

    _esm = bundle("attribution")
    SAVES_HTML = True

    special = t.List(t.Bool()).tag(sync=True)
    space_before = t.List(t.Bool()).tag(sync=True)
    """A word space before each token (whitespace the tokens themselves do not carry)."""
    n_prompt = t.Int(0).tag(sync=True)
    targets = t.List(t.Int()).tag(sync=True)
    """Positions in ``tokens`` of the target tokens (rows of ``scores``): a causal LM's target
    tokens, a masked LM's masks; -1 for a classifier's label."""
    kind = t.Unicode("causal").tag(sync=True)
    """"causal", "masked" (targets are mask predictions) or "classifier" (targets are labels)."""
    target_labels = t.List(t.Unicode()).tag(sync=True)
    """Each target as text: the token at its position, the token predicted at a mask, or a
    classifier's label name (untrusted text)."""
    target_probs = t.List(t.Float()).tag(sync=True)
    scores = t.Dict().tag(sync=True)
    """Wire tensor ``[target, token]`` float32; NaN at and after each target and for rows not
    computed yet (they stream in as each target is done)."""
    rows_done = t.Int(0).tag(sync=True)
    selected = t.Int(0).tag(sync=True)
    """The target row the text heatmap shows."""
    method = t.Unicode("integrated_gradients").tag(sync=True)
    methods = t.List(t.Dict()).tag(sync=True)
    """``[{"id", "family", "description"}]`` of every registered method (the menu)."""
    level = t.Unicode("token").tag(sync=True)
    """Aggregation shown: "token", "word", "sentence" or "turn" (chat turns)."""
    group_ids = t.Dict().tag(sync=True)
    """``{level: [group id per token]}`` for the aggregation menu."""
    show_special = t.Bool(False).tag(sync=True)
    """Special tokens (BOS, chat-template markers) are hidden unless this is on."""
    colormap = t.Unicode("RdBu_r").tag(sync=True)
    completeness = t.List(t.Float()).tag(sync=True)
    """Integrated gradients' completeness error per target (empty for other methods)."""
    notes = t.List(t.Unicode()).tag(sync=True)
    """What the method says about its result (e.g. integrated gradients did not converge)."""
    contrast = t.Unicode("").tag(sync=True)

    def __init__(self, model: LoadedModel | None = None, prompt: str | None = None, target=None, generate: int = 0,
                 method: str = "integrated_gradients", contrast=None, *, text_pair: str | None = None,
                 every_token: bool = False, guess: bool = False, background: bool | None = None, **options):
        self._options = options
        self._job = None
        self._problem = None
        super().__init__(background=background)
        self.methods = [{"id": m.id, "family": m.family, "description": m.description}
                        for m in sorted(ATTRIBUTION_METHODS.values(), key=lambda m: (m.family, m.id))]
        if model is None:
            return
        self._open(model, prompt, tokenize=False)  # the tokens to explain come with the first computation
        get_attribution_method(method)  # a clear error before anything runs
        self._job = {"prompt": prompt, "target": target, "generate": generate, "contrast": contrast,
                     "text_pair": text_pair, "every_token": bool(every_token)}
        self.contrast = "" if contrast is None else str(contrast)
        self.guessing = bool(guess)
        self._quietly(method=method)
        self._recompute(method)

    # -- computation ---------------------------------------------------------------------------
    def _compute(self, method: str) -> None:
        job = self._job
        if self._problem is None:
            self.progress_label = "preparing the tokens to explain\u2026"
            self._problem, self._tokens = prepare(self._model, job["prompt"], job["target"], job["generate"],
                                                  job["contrast"], method=method, text_pair=job["text_pair"],
                                                  every_token=job["every_token"])
            with self.hold_sync():
                tokens, problem = self._tokens, self._problem
                self.tokens, self.special = list(tokens.text), [bool(s) for s in tokens.special]
                self.space_before = space_before(tokens)
                self.n_prompt, self.targets = problem.n_prompt, list(problem.targets)
                self.kind = problem.kind
                self.target_labels = [label_text(problem, label) for label in problem.labels]
                self.group_ids = {level: groups(tokens, level) for level in LEVELS}
        n_targets, n = len(self._problem.targets), len(self._problem.ids)
        matrix = np.full((n_targets, n), np.nan, np.float32)
        done = []

        def on_row(i, row):
            matrix[i] = np.asarray(row, np.float32)[:n]
            done.append(i)
            header, data = to_wire(matrix)
            with self.hold_sync():
                self.scores = {**header, "data": data}  # a new dict each time: the view redraws
                self.rows_done = len(done)
                self.progress = len(done) / n_targets
                self.progress_label = f"{method}: {len(done)} of {n_targets} target tokens"

        self._forget_judgement()
        with self.hold_sync():
            self.completeness, self.notes, self.rows_done = [], [], 0
            header, data = to_wire(matrix)
            self.scores = {**header, "data": data}
        try:
            result = explain(self._problem, self._tokens, method, on_row=on_row, cancelled=lambda: self.cancelled,
                             **self._options)
        except Cancelled:
            partial = self._partial(method, matrix, len(done)) if done else None
            with self.hold_sync():
                if partial is not None:  # the finished rows stay a result (view.result, figures)
                    self._result = partial
                    self.notes = list(partial.notes)
                self.status = "cancelled"
                self.progress_label = f"cancelled: {len(done)} of {n_targets} target rows kept"
            return
        self._show(result)

    def _partial(self, method: str, matrix: np.ndarray, n_done: int) -> AttributionResult:
        """The rows finished before Cancel as a result marked ``complete=False`` (the others are
        NaN; the probabilities, read after the last row, are unknown: NaN)."""
        problem, n_targets = self._problem, len(self._problem.targets)
        unknown = np.full(n_targets, np.nan, np.float32)
        foil = problem.foils[0] if problem.foils else None
        return AttributionResult(
            tokens=self._tokens, n_prompt=problem.n_prompt, target_positions=list(problem.targets),
            scores=mask_unseen(matrix, problem.ends, problem.fixed), target_probs=unknown,
            target_values=unknown.copy(), method=get_attribution_method(method).id,
            params={"target_fn": problem.target_fn}, model_name=self._model.name,
            foils=[None if foil is None else label_text(problem, foil)] * n_targets,
            notes=[f"partial result: cancelled after {n_done} of {n_targets} target rows; the other rows are "
                   f"empty (NaN)"],
            complete=False, kind=problem.kind,
            target_texts=None if problem.causal else [label_text(problem, label) for label in problem.labels],
            target_ids=[int(label) for label in problem.labels])

    def _show(self, result: AttributionResult) -> None:
        self._forget_judgement()
        self._result = result
        with self.hold_sync():
            self.tokens = list(result.tokens.text)
            self.special = [bool(s) for s in result.tokens.special]
            self.space_before = space_before(result.tokens)
            self.n_prompt = result.n_prompt
            self.targets = list(result.target_positions)
            self.kind, self.target_labels = result.kind, list(result.targets)
            self.target_probs = [float(p) for p in result.target_probs]
            self.group_ids = {level: groups(result.tokens, level) for level in LEVELS}
            header, data = to_wire(result.scores)
            self.scores = {**header, "data": data}
            self.rows_done = len(result.target_positions)
            self.completeness = [] if result.completeness is None else [float(c) for c in result.completeness]
            self.notes = list(result.notes)
            if self.selected >= len(result.target_positions):
                self.selected = 0
            if result.kind == "causal" and self.focus in self.targets:  # a token put in focus before the rows came
                self.selected = self.targets.index(self.focus)
            self.progress, self.progress_label = 1.0, ""
            self.status = "ready"

    # -- reactions -------------------------------------------------------------------------------
    @t.observe("method")
    def _method_changed(self, change) -> None:
        if self._quiet or self._job is None or change["old"] == change["new"]:
            return
        try:
            get_attribution_method(change["new"])
        except ValueError as err:
            self.error = str(err)
            return
        if self.status == "computing":
            self.cancel()
            self.wait(30)
        self.error = ""
        self._recompute(change["new"])

    def _focus_moved(self, position: int) -> None:
        """A token in focus (here or in a linked view): the row explaining it, if it is a target."""
        if self.kind == "causal" and position in self.targets and self.targets.index(position) != self.selected:
            self.selected = self.targets.index(position)

    @t.validate("level")
    def _valid_level(self, proposal):
        return self._choose(proposal, LEVELS)

    @t.validate("selected")
    def _valid_selected(self, proposal):
        return self._indexed(proposal, len(self.targets), "this attribution", plural="target rows")

    def _standalone_extras(self) -> dict | None:
        """What a saved page embeds to answer clicks without Python (``export_views.attribution_extras``)."""
        from .export_views import attribution_extras

        return attribution_extras(self)

    # -- figures ---------------------------------------------------------------------------------
    VIEWS = ("text", "matrix", "evaluate")

    def figure(self, view: str | None = None, *, selected: int | None = None, rows=None, cols=None, **options):
        """A :class:`~llmxai_widgets.figures.Figure` (``.save("fig.pdf")``) of what the view shows:

        - ``view="text"``: the text heatmap of target row ``selected`` (default: the one shown),
          aggregated at the view's level, special tokens hidden unless shown;
        - ``view="evaluate"``: the Evaluate tab: the method's faithfulness beside a random ranking
          and the leave-one-out oracle (computed now if the tab was not opened);
        - ``view="matrix"``: every target row (rows) x every token (columns), as the matrix under
          the text (generations: more than one target row); ``rows=``/``cols=`` ``(start, stop)``
          pick a window of target rows / token columns.

        The default is the matrix when the view draws one, else the text. ``options``: see
        :class:`~llmxai_widgets.figures.FigureOptions` (width, font, title, theme, colorbar_label,
        ...)."""
        from ..figures import FigureOptions
        from ..figures.attribution import aggregate_row, attribution_matrix_figure, text_heatmap_figure

        result = self._computed("the attribution")
        n_targets = len(result.target_positions)
        if view == "evaluate":
            return self._evaluation_figure(**options)
        view = view if view is not None else "matrix" if n_targets > 1 else "text"
        if view not in self.VIEWS:
            raise ValueError(f"view must be one of {', '.join(map(repr, self.VIEWS))}, got {view!r}")
        options.setdefault("colormap", self.colormap)
        options.setdefault("colorbar_label", f"{result.method.replace('_', ' ')} score")
        if view == "matrix":
            if n_targets < 2:
                raise ValueError(
                    f"the matrix needs more than one target row, and this attribution has {n_targets} target token "
                    f"(explain a generation, e.g. generate=5, for a target x source matrix); use view='text'"
                )
            if selected is not None:
                raise ValueError("selected= picks the text heatmap's target row; the matrix shows every row "
                                 "(rows=(start, stop) picks some)")
            return attribution_matrix_figure(result.scores, list(result.tokens.text), list(result.target_positions),
                                             label=options["colorbar_label"], rows=rows, cols=cols,
                                             row_labels=result.targets, causal=result.kind == "causal",
                                             options=FigureOptions(**options))
        if rows is not None or cols is not None:
            raise ValueError("rows= and cols= pick a window of the matrix (view='matrix'); the text shows one row")
        i = self.selected if selected is None else int(selected)
        if not 0 <= i < n_targets:
            raise IndexError(f"selected {i} is out of range: there are {n_targets} target tokens")
        hidden = [bool(s) and not self.show_special for s in result.tokens.special]
        ids = None if self.level == "token" else self.group_ids.get(self.level) or groups(result.tokens, self.level)
        if result.kind != "causal":  # the target is not a token of the text: name it
            what = "label" if result.kind == "classifier" else "prediction at the outlined mask"
            options.setdefault("title", f"{what}: {result.targets[i]!r} (p = {float(result.target_probs[i]):.3f})")
        position = result.target_positions[i]
        return text_heatmap_figure(list(result.tokens.text), aggregate_row(result.scores[i], ids, hidden),
                                   target=position if position >= 0 else None, hidden=hidden,
                                   space_before=space_before(result.tokens),
                                   label=options["colorbar_label"],
                                   options=FigureOptions(**options))

    def _evaluation_figure(self, **options):
        from ..figures import FigureOptions
        from ..figures.evaluation import evaluation_figure
        from ..methods.evaluate.faithfulness import faithfulness

        if self._faithfulness is None:
            self._faithfulness = faithfulness(self._model, self._result)
        options.pop("colormap", None)
        options.pop("colorbar_label", None)
        return evaluation_figure([self._faithfulness.to_json()], {}, target=min(self.selected, len(self.targets) - 1),
                                 model_name=self.model_name, options=FigureOptions(**options))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        """The Export buttons (see base.py): the text of the target row on screen, or the matrix
        (its zoom window too)."""
        view = request.get("view")
        method = self._result.method if self._result is not None else self.method
        name = f"attribution-{self.model_name or 'model'}-{method}"
        if view == "evaluate":
            return {"view": view}, f"{name}-faithfulness"
        if view == "text":
            selected = int(request.get("selected", self.selected))
            return {"view": view, "selected": selected}, f"{name}-target{selected}"
        return {"view": view, **self._export_window(request)}, f"{name}-matrix"

    def _static_figure(self):
        if self._result is None:
            return None
        title = f"{self.model_name}: {self.method.replace('_', ' ')}"
        if self._result.kind != "causal":
            i = min(self.selected, len(self._result.targets) - 1)
            title += f", explaining {self._result.targets[i]!r}"
        if not self._result.complete:
            title += f" (partial: cancelled after {self.rows_done} of {len(self._result.targets)} target rows)"
        return self.figure("text", title=title)

    @t.observe("status", "selected", "level", "show_special")
    def _static_changed(self, change) -> None:
        self._static_follows(change)

    def show(self, selected: int | None = None, *, method: str | None = None, level: str | None = None) -> AttributionView:
        """Show target row ``selected``, switch ``method`` (recomputes) or the aggregation ``level``."""
        self._set_given(selected=selected, level=level)
        if method is not None:
            self.method = method
        return self


__all__ = ["AttributionView", "groups"]
