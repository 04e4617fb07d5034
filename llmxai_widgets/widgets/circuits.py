"""``CircuitView``: the circuit a task runs on, as a layered graph of heads and MLPs
(JS: js/widgets/circuits.ts).

The view gets the ``candidates`` edges with the largest ``|score|`` (default 5,000) and draws the
top ``n_shown`` of them; moving the slider recomputes the faithfulness of that circuit in the
background (exact runs). The faithfulness curve (top-n circuits for n doubling) arrives after the
scores. Clicking a node shows its score, its exact patching value and its strongest edges."""

from __future__ import annotations

import threading

import numpy as np
import traitlets as t

from ..methods.attention import Cancelled, attention
from ..methods.circuits.circuit import check_circuit, circuit
from ..wire import encode
from .base import bundle
from .view import View, check_model

CANDIDATES = 5000
MAX_SAVED_PATTERN = 128 * 128
"""A saved page keeps a head's attention pattern up to this many weights."""


class CircuitView(View):
    """Edge attribution patching of ``clean`` against ``corrupt`` (or a task from
    ``lx.circuit_tasks``) drawn as a circuit; see :func:`llmxai_widgets.circuit` for the arguments."""

    _esm = bundle("circuits")
    SAVES_HTML = True

    n_layers = t.Int(0).tag(sync=True)
    n_heads = t.Int(0).tag(sync=True)
    n_kv_heads = t.Int(0).tag(sync=True)
    n_edges = t.Int(0).tag(sync=True)
    """Edges in the graph (what ``n_shown`` can reach)."""
    candidates = t.Dict().tag(sync=True)
    """``{"up", "down": wire int32 [k], "score": wire float32 [k]}``: the k edges with the largest
    ``|score|``, largest first (writer and reader indices of :class:`~llmxai_widgets.methods.circuits.graph.Graph`)."""
    node_scores = t.Dict().tag(sync=True)
    """Wire float32 ``[writer]``: each writer's summed score (NaN for the embeddings)."""
    n_shown = t.Int(100).tag(sync=True)
    faithful = t.Dict().tag(sync=True)
    """``{"n", "value"}``: exact faithfulness of the top ``n`` edges (the last one computed)."""
    curve = t.Dict().tag(sync=True)
    """``{"counts": [...], "values": [...]}``: faithfulness of top-n circuits."""
    picked = t.Int(-1).tag(sync=True)
    """The clicked writer (-1: none)."""
    node_detail = t.Dict().tag(sync=True)
    summary = t.List(t.Unicode()).tag(sync=True)
    metric_label = t.Unicode("").tag(sync=True)

    def __init__(self, model=None, clean=None, corrupt=None, *, metric=None, answers=(" Paris", " Rome"),
                 method: str = "eap_ig", steps: int = 5, n_shown: int = 100, candidates: int = CANDIDATES,
                 background: bool | None = None):
        super().__init__(background=background)
        if model is None:
            return
        check_model(model)
        check_circuit(model, clean, corrupt, metric, answers, method, steps, "edge")  # every problem named first
        self._model = model
        self._job = dict(clean=clean, corrupt=corrupt, metric=metric, answers=answers, method=method, steps=steps)
        self._candidates = int(candidates)
        self._faith_lock = threading.Lock()
        self._faith_by_n: dict[int, float] = {}  # every faithfulness computed (for a saved page)
        self._details: dict[int, dict] = {}  # every node detail computed
        self._patterns: dict[int, np.ndarray | None] = {}
        with self.hold_sync(), self._silent():
            self.model_name = model.name
            self.n_layers, self.n_heads, self.n_kv_heads = model.n_layers, model.n_heads, model.n_kv_heads
            self.n_shown = int(n_shown)
        self._recompute()

    # -- computing -------------------------------------------------------------------------------
    def _compute(self) -> None:
        def progress(fraction, what):
            self.progress, self.progress_label = 0.8 * fraction, what

        try:
            result = circuit(self._model, on_progress=progress, cancelled=lambda: self.cancelled, **self._job)
        except Cancelled:
            self.status = "cancelled"
            return
        self._result = result
        us, ds = result.ranked()
        k = min(self._candidates, len(us))
        first = result.tokens[0][0]
        with self.hold_sync():
            self.tokens = list(first.text)
            self.n_edges = result.n_edges
            self.candidates = {"up": encode(us[:k].astype(np.int32)), "down": encode(ds[:k].astype(np.int32)),
                               "score": encode(result.scores[us[:k], ds[:k]].astype(np.float32))}
            self.node_scores = encode(result.node_scores.astype(np.float32))
            self.n_shown = min(self.n_shown, result.n_edges)
            self.metric_label = result.metric
            self.summary = self._describe(result)
            self.progress, self.progress_label = 0.8, "faithfulness of the shown circuit and the curve\u2026"
        self._faithfulness(self.n_shown)
        try:
            counts, values = result.faithfulness_curve()
        except Cancelled:
            self.status = "cancelled"
            return
        self._faith_by_n.update({int(c): float(v) for c, v in zip(counts, values)})
        with self.hold_sync():
            self.curve = {"counts": [int(c) for c in counts], "values": [float(v) for v in values]}
            self.progress, self.progress_label, self.status = 1.0, "", "ready"

    def _describe(self, r) -> list[str]:
        how = {"eap": "EAP (gradient at the clean run)", "eap_ig": f"EAP-IG ({r.steps} steps)", "exact": "exact patching"}
        return [f"{r.metric}: {r.clean_metric:.3f} clean, {r.corrupted_metric:.3f} corrupted, averaged over "
                f"{r.n_pairs} pair{'s' if r.n_pairs != 1 else ''}",
                f"{how[r.method]} over {r.n_edges:,} edges; an edge's score estimates how the metric changes when "
                f"that edge alone carries the corrupted run's value."]

    def _faithfulness(self, n: int) -> None:
        result = self._result
        if result is None:
            return
        with self._faith_lock:
            if self.faithful.get("n") == n and "value" in self.faithful:
                return
            try:
                value = self._faith_by_n.get(n)
                value = result.faithfulness(result.top(n)) if value is None else value
            except Exception as err:  # the graph stays
                self.error = f"could not compute faithfulness: {type(err).__name__}: {err}"
                return
            self._faith_by_n[n] = float(value)
            if self.n_shown == n:
                self.faithful = {"n": int(n), "value": float(value)}

    # -- reactions ---------------------------------------------------------------------------------
    @t.validate("n_shown")
    def _valid_n(self, proposal):
        limit = self.n_edges or 10**9
        return self._within(proposal, 0, limit)

    @t.observe("n_shown")
    def _n_changed(self, change) -> None:
        if self._quiet or self._result is None:
            return
        self._aside(self._faithfulness, int(change["new"]))

    @t.observe("picked")
    def _picked_changed(self, change) -> None:
        node = int(change["new"])
        if self._quiet or node < 0 or self._result is None:
            self.node_detail = {}
            return
        if node in self._details:
            self.node_detail = self._details[node]
            return
        self._aside(self._detail, node)

    def _detail(self, node: int) -> None:
        r = self._result
        g = r.graph
        if not 0 < node < g.n_upstream:
            self.error = f"node {node} is not a head or an MLP (0 is the embeddings; there are {g.n_upstream - 1})"
            return
        one_length = len({len(a) for a, _ in r.tokens}) == 1
        layer, within = divmod(node - 1, g.n_heads + 1)
        try:
            exact, by_token = r.node_effect(node, by_token=one_length)
            pattern = None
            if within < g.n_heads:  # a head: its attention on the first pair's clean prompt
                pattern = attention(self._model, r.tokens[0][0], layers=[layer]).head(layer, within)
        except Exception as err:
            self.error = f"could not run that node: {type(err).__name__}: {err}"
            return
        out = np.nan_to_num(r.scores[node], nan=0.0)
        strongest = np.argsort(-np.abs(out))[:5]
        self._patterns[node] = None if pattern is None else np.asarray(pattern, np.float32)
        self._details[node] = detail = {
            "node": node, "name": r.upstream_names[node], "score": float(r.node_scores[node]), "exact": exact,
            "out": [[int(d), float(out[d])] for d in strongest if out[d] != 0],
            "by_token": None if by_token is None else [float(v) for v in by_token],
            "pattern": None if pattern is None else encode(self._patterns[node]),
        }
        if self.picked == node:
            self.node_detail = detail

    # -- figures ---------------------------------------------------------------------------------------
    def figure(self, n: int | None = None, **options):
        """A :class:`~llmxai_widgets.figures.Figure` of the top ``n`` edges (default: as many as
        the view shows) with their faithfulness when computed. ``options``:
        :class:`~llmxai_widgets.figures.FigureOptions` (``width``, ``font_size``, ``theme``, ``title``)."""
        from ..figures import FigureOptions
        from ..figures.circuits import circuit_figure

        result = self._computed("the circuit")
        n = self.n_shown if n is None else int(n)
        faithful = self.faithful.get("value") if self.faithful.get("n") == n else None
        return circuit_figure(result, n, faithfulness=faithful, options=FigureOptions(**options))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        return {"n": int(request.get("n", self.n_shown))}, f"circuit-{self.model_name or 'model'}"

    def _standalone_extras(self) -> dict | None:
        """For a saved page: the faithfulness of every edge count computed (the curve's counts and
        the slider's stops) and the detail of every node opened, answering the slider and clicks
        (js/standalone/lookup.ts)."""
        if self._result is None:
            return None
        faith = {str(n): {"n": n, "value": v} for n, v in sorted(self._faith_by_n.items())}
        details = {"-1": {}}
        for node, d in sorted(self._details.items()):
            p = self._patterns.get(node)
            small = p is not None and p.size <= MAX_SAVED_PATTERN
            details[str(node)] = {**d, "pattern": {"shape": list(p.shape), "values": np.round(p, 4).ravel().tolist()}
                                  if small else None}
        return {"kind": "lookups", "note": f"The slider shows the faithfulness at the {len(faith)} edge counts computed "
                                           f"before saving; {len(details) - 1} node details are held.",
                "tables": [
                    {"kind": "lookup", "watch": "n_shown", "fields": ["n"], "target": "faithful", "entries": faith,
                     "missing": "not held by this saved page, which holds the counts on the curve:"},
                    {"kind": "lookup", "watch": "picked", "fields": ["node"], "target": "node_detail",
                     "entries": details,
                     "missing": "This saved page holds the details of the nodes opened before it was saved; this "
                                "node was not (open the notebook with a kernel to run it)."}]}

    def _static_figure(self):
        return None if self._result is None else self.figure()

    @t.observe("status", "faithful")
    def _static_changed(self, change) -> None:
        self._static_follows(change)


__all__ = ["CircuitView"]
