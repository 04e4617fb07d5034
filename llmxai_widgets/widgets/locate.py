"""``CausalTraceView`` and ``PatchingView``: where a model keeps what it needs for an answer
(JS: js/widgets/locate.ts, one pane for both).

Both show grids side by side: the residual stream, MLP and attention per layer x token (ROME's
layout: tokens down, layers across) and, for patching, every query head and key/value head per
layer. The first picture is attribution patching's linear estimate of the whole grid (one forward
and one backward pass); exact rows replace it layer by layer while Python computes. Clicking a
cell shows what the run with that cell patched predicts."""

from __future__ import annotations

import numpy as np
import traitlets as t

from ..methods.attention import Cancelled
from ..methods.locate.patching import DIRECTIONS, METRICS, PATCH_SITES, check_patch, patch
from ..methods.locate.trace import TRACE_KINDS, causal_trace, check_trace
from ..figures.text import display_token
from ..wire import encode
from .base import bundle
from .view import View

SITE_LABELS = {"residual": "Residual stream", "mlp": "MLP output", "attention": "Attention output",
               "heads": "Query heads (output)", "kv_heads": "Key/value heads"}


class _LocateView(View):
    """What both views share: the grids, the estimate/exact switch, the clicked cell's run."""

    _esm = bundle("locate")
    SAVES_HTML = True

    kind = t.Unicode("trace").tag(sync=True)
    """"trace" (causal tracing) or "patching"."""
    sites = t.List(t.Unicode()).tag(sync=True)
    """The grids, in order: "residual", "mlp", "attention" ([layer, token]), "heads", "kv_heads" ([layer, head])."""
    site_labels = t.Dict(SITE_LABELS).tag(sync=True)
    grids = t.Dict().tag(sync=True)
    """``{site: wire tensor [layer, column] float32}``: exact values; NaN where not computed yet."""
    estimates = t.Dict().tag(sync=True)
    """``{site: wire tensor [layer, column] float32}``: the linear estimate of every cell."""
    done = t.List(t.Bool()).tag(sync=True)
    """Per layer: its exact row is in ``grids``."""
    show = t.Unicode("exact").tag(sync=True)
    """"exact" (the estimate only where no exact value has come yet) or "estimate" (everywhere)."""
    marked = t.List(t.Int()).tag(sync=True)
    """Token positions to mark: the corrupted subject (tracing) or the tokens that differ (patching)."""
    value_label = t.Unicode("").tag(sync=True)
    """What a cell's number is, with its units (the colour bar's title)."""
    vmin = t.Float(0.0).tag(sync=True)
    vmax = t.Float(1.0).tag(sync=True)
    colormap = t.Unicode("viridis").tag(sync=True)
    summary = t.List(t.Unicode()).tag(sync=True)
    """Lines saying what was run and the unpatched numbers (plain text)."""
    picked = t.Dict().tag(sync=True)
    """The clicked cell ``{"site", "layer", "column"}``; empty when none."""
    picked_run = t.Dict().tag(sync=True)
    """The picked cell's run: ``{"site", "layer", "column", "top": [[token, probability], ...]}``."""

    # -- computing -----------------------------------------------------------------------------
    def _stream(self, compute, describe) -> None:
        """Run ``compute(on_layer, cancelled)``; rows go to the view as they are done."""
        n_layers = self._model.n_layers

        def on_layer(layer, result):
            self._result = result
            self._push(result)
            self.progress = (layer + 1) / n_layers
            self.progress_label = (f"exact values: {layer + 1} of {n_layers} layers" if layer >= 0 else
                                   "the estimate is shown; computing exact values\u2026")

        self.progress_label = "the linear estimate of every cell\u2026"
        try:
            result = compute(on_layer, lambda: self.cancelled)
        except Cancelled:
            done = sum(self.done)
            with self.hold_sync():
                self.status = "cancelled"
                self.progress_label = f"cancelled: {done} of {n_layers} layers exact, the rest is the estimate"
            return
        self._result = result
        with self.hold_sync():
            self._push(result)
            self.summary = describe(result)
            self.progress, self.progress_label, self.status = 1.0, "", "ready"

    def _push(self, result) -> None:
        with self.hold_sync():
            if not self.estimates:
                self.estimates = {site: encode(np.asarray(v, np.float32)) for site, v in result.estimate.items()}
                self.summary = self._describe(result)
            self.grids = {site: encode(np.asarray(v, np.float32)) for site, v in result.scores.items()}
            self.done = [bool(d) for d in result.done]

    def _clear(self) -> None:
        with self.hold_sync():
            self.grids, self.estimates, self.done, self.picked_run = {}, {}, [], {}

    # -- reactions -------------------------------------------------------------------------------
    @t.validate("show")
    def _valid_show(self, proposal):
        return self._choose(proposal, ("exact", "estimate"))

    @t.observe("picked")
    def _picked_changed(self, change) -> None:
        picked = change["new"]
        if self._quiet or not picked or self._result is None or self._result.runs is None:
            self.picked_run = {}
            return

        def work():
            try:
                site, layer, column = picked["site"], int(picked["layer"]), int(picked["column"])
                top = self._result.runs.top(site, layer, column)
            except Exception as err:  # the grids stay
                self.error = f"could not run that cell: {type(err).__name__}: {err}"
                return
            if self.picked == picked:
                self.picked_run = {"site": site, "layer": layer, "column": column, "top": [[s, p] for s, p in top]}

        self._aside(work)

    def _standalone_extras(self) -> dict | None:
        """For a saved page: every computed cell's top tokens, answering a click as ``picked_run``
        (js/standalone/lookup.ts)."""
        tops = None if self._result is None or self._result.runs is None else self._result.runs.tops
        if tops is None:
            return None
        decode, text = self._model.tokenizer.decode, {}
        entries = {}
        for site, ids in tops.ids.items():
            probs = tops.probs[site]
            for layer, column in zip(*np.nonzero(ids[:, :, 0] >= 0)):
                top = [[text.setdefault(int(i), decode([int(i)])), round(float(p), 6)]
                       for i, p in zip(ids[layer, column], probs[layer, column]) if i >= 0]
                entries[f"{site}|{layer}|{column}"] = {"site": site, "layer": int(layer), "column": int(column), "top": top}
        return {"kind": "lookup", "watch": "picked", "fields": ["site", "layer", "column"], "target": "picked_run",
                "entries": entries, "note": f"Clicking a cell shows its run's top tokens ({len(entries)} cells held).",
                "missing": "This saved page holds the next tokens of the cells computed exactly before it was "
                           "saved; this cell was not (open the notebook with a kernel to run it)."}

    # -- figures ---------------------------------------------------------------------------------
    def figure(self, *, estimate: bool | None = None, sites=None, **options):
        """A :class:`~llmxai_widgets.figures.Figure` of the grids as the view shows them (exact
        values; with ``estimate=True`` the linear estimate; default: the view's switch).
        ``sites``: some of the grids (default all). ``options``:
        :class:`~llmxai_widgets.figures.FigureOptions`."""
        from ..figures import FigureOptions
        from ..figures.locate import locate_figure

        result = self._computed("the grid")
        options.setdefault("colormap", self.colormap)
        options.setdefault("colorbar_label", self.value_label)
        use_estimate = self.show == "estimate" if estimate is None else bool(estimate)
        return locate_figure(result, estimate=use_estimate, sites=sites, vmin=self.vmin, vmax=self.vmax,
                             options=FigureOptions(**options))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        name = "causal-trace" if self.kind == "trace" else "patching"
        return {"estimate": request.get("show") == "estimate"}, f"{name}-{self.model_name or 'model'}"

    def _static_figure(self):
        return None if self._result is None else self.figure()

    @t.observe("status", "show")
    def _static_changed(self, change) -> None:
        self._static_follows(change)


class CausalTraceView(_LocateView):
    """Causal tracing of ``target`` after ``prompt`` with ``subject`` corrupted (see
    :func:`llmxai_widgets.causal_trace`; its keyword arguments pass through): each cell is the
    target's probability when that layer's residual stream (or a window of MLP / attention
    outputs) at that token is restored to its clean value."""

    def __init__(self, model=None, prompt: str | None = None, subject=None, target=None, *, kinds=TRACE_KINDS,
                 colormap: str = "viridis", background: bool | None = None, **trace_options):
        super().__init__(background=background)
        if model is None:
            return
        self._open(model, prompt, causal="causal_trace")
        _, span, kinds, _, _ = check_trace(model, prompt, subject, target, kinds, trace_options.get("samples", 10),
                                           trace_options.get("window", 10))  # every problem named before anything runs
        self._job = dict(prompt=prompt, subject=subject, target=target, kinds=kinds, **trace_options)
        with self.hold_sync(), self._silent():
            self.kind, self.colormap, self.sites, self.marked = "trace", colormap, kinds, list(range(*span))
        self._recompute()

    def _describe(self, r) -> list[str]:
        subject = "".join(r.tokens.text[r.subject[0]:r.subject[1]])
        with self.hold_sync():
            self.marked = list(range(*r.subject))
            self.value_label = f"p({display_token(r.target_text)!r})"
            self.vmin, self.vmax = 0.0, float(r.clean_prob)  # brighter = more of the clean answer back
        return [f"Corrupted {display_token(subject, 40)!r} (tokens {r.subject[0]}-{r.subject[1] - 1}); target "
                f"{display_token(r.target_text)!r}: "
                f"p = {r.clean_prob:.3f} clean, {r.corrupted_prob:.3f} corrupted",
                f"Noise: {r.noise}. MLP and attention cells restore a window of {r.window} layers."]

    def _compute(self) -> None:
        self._clear()
        self._stream(lambda on_layer, cancelled: causal_trace(self._model, on_layer=on_layer, cancelled=cancelled,
                                                              **self._job), self._describe)


class PatchingView(_LocateView):
    """Activation patching between ``clean`` and ``corrupt`` (see :func:`llmxai_widgets.patch`):
    each cell is the metric, normalised so 0 = the corrupted run and 1 = the clean run, with that
    activation patched. The view's menus switch ``metric`` and ``direction`` (recomputed)."""

    metric = t.Unicode("logit_diff").tag(sync=True)
    direction = t.Unicode("denoising").tag(sync=True)

    def __init__(self, model=None, clean: str | None = None, corrupt: str | None = None, *,
                 answers=(" Paris", " Rome"), metric: str = "logit_diff", direction: str = "denoising",
                 sites=PATCH_SITES, positions="all", colormap: str = "RdBu_r", background: bool | None = None):
        super().__init__(background=background)
        if model is None:
            return
        self._open(model, clean, causal="patch")
        check_patch(model, clean, corrupt, metric, answers, sites, direction, positions)  # before anything runs
        self._job = dict(clean=clean, corrupt=corrupt, answers=answers, sites=sites, positions=positions)
        with self.hold_sync(), self._silent():
            self.kind, self.colormap = "patching", colormap
            self.metric, self.direction = metric, direction
        self._recompute()

    @t.validate("metric")
    def _valid_metric(self, proposal):
        return self._choose(proposal, METRICS)

    @t.validate("direction")
    def _valid_direction(self, proposal):
        return self._choose(proposal, DIRECTIONS)

    @t.observe("metric", "direction")
    def _menu_changed(self, change) -> None:
        if self._quiet or self._model is None or change["old"] == change["new"]:
            return
        if self.status == "computing":
            self.cancel()
            self.wait(60)
        self.error = ""
        self._recompute()

    def _describe(self, r) -> list[str]:
        with self.hold_sync():
            self.sites = list(r.scores)
            self.marked = [i for i, (a, b) in enumerate(zip(r.clean.ids, r.corrupt.ids)) if a != b]
            a, b = ([display_token(t) for t in r.answers] + [""])[:2]  # as labels show tokens: short, no raw bidi
            what = {"logit_diff": f"logit({a!r}) \u2212 logit({b!r})", "logprob": f"log p({a!r})",
                    "prob": f"p({a!r})"}[r.metric]
            self.value_label = {"logit_diff": "logit difference", "logprob": "log probability",
                                "prob": "probability"}[r.metric] + " (normalised)"
            self.vmin, self.vmax = -1.0, 1.0
        corrupt = " ".join(f"#{i} {display_token(r.corrupt.text[i])!r}" for i in self.marked)
        how = ("clean activations patched into the corrupted run" if r.direction == "denoising"
               else "corrupted activations patched into the clean run")
        return [f"{what}: {r.clean_metric:.3f} clean, {r.corrupted_metric:.3f} corrupted ({corrupt} in the corrupted prompt)",
                f"{r.direction.capitalize()}: {how}.", *r.notes]

    def _compute(self) -> None:
        self._clear()
        self._stream(lambda on_layer, cancelled: patch(self._model, metric=self.metric, direction=self.direction,
                                                       on_layer=on_layer, cancelled=cancelled, **self._job),
                     self._describe)


__all__ = ["CausalTraceView", "PatchingView"]
