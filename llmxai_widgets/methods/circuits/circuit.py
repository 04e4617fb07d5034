"""``circuit()``: score every edge of the graph (:mod:`.graph`) for a task of prompt pairs.

"eap" and "eap_ig" take a handful of forward and backward passes per pair however many edges
there are (:mod:`.gradients`); "exact" runs the clean prompt once per edge (or node) with that
edge corrupted, batched (:mod:`.patched`), for checking the estimates and for small graphs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ...models.wrapped import LoadedModel, Tokens
from ..locate.patching import METRICS, check_answers, check_pair, metric_fn
from ..registry import register
from . import gradients, patched
from .graph import Graph
from .parts import CircuitParts
from .result import CircuitResult
from .tasks import Task

METHODS = ("eap", "eap_ig", "exact")
LEVELS = ("edge", "node")
GRADIENT_ROWS = 8
"""Prompt pairs of one length whose gradients are computed in one batch."""


def check_circuit(model: LoadedModel, clean, corrupt, metric, answers, method, steps, level):
    """Every argument checked before anything runs: ``(pairs [(clean, corrupt, answer ids)], metric,
    parts)``."""
    parts = CircuitParts(model)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    if level not in LEVELS:
        raise ValueError(f"level must be 'edge' (every edge) or 'node' (every head and MLP); got {level!r}")
    if method == "eap_ig" and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1):
        raise ValueError(f"steps must be a positive integer (EAP-IG's interpolation steps), got {steps!r}; e.g. steps=5")
    if isinstance(clean, Task):
        metric = metric or clean.metric
        triples = [(p.clean, p.corrupt, p.answers) for p in clean.pairs]
    elif isinstance(clean, (list, tuple)):
        if not isinstance(corrupt, (list, tuple)) or len(corrupt) != len(clean):
            raise ValueError(f"for a batch of pairs pass clean and corrupt as lists of the same length; got "
                             f"{len(clean)} clean and {len(corrupt) if isinstance(corrupt, (list, tuple)) else 'one'} corrupt")
        per_pair = isinstance(answers, list)
        if per_pair and len(answers) != len(clean):
            raise ValueError(f"answers as a list gives one answer tuple per pair: {len(clean)} pairs, {len(answers)} answers")
        triples = [(c, k, answers[i] if per_pair else answers) for i, (c, k) in enumerate(zip(clean, corrupt))]
    else:
        if corrupt is None:
            raise ValueError("pass the corrupted prompt: circuit(model, clean, corrupt, answers=...), or a task such "
                             "as lx.circuit_tasks.induction(model)")
        triples = [(clean, corrupt, answers)]
    if not triples:
        raise ValueError("the task has no prompt pairs")
    metric = metric or "logit_diff"
    if not callable(metric) and metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(map(repr, METRICS))} or a function of the last "
                         f"position's logits [rows, vocab] -> [rows]; got {metric!r}")
    pairs = []
    for c, k, a in triples:
        a_tokens, k_tokens, _ = check_pair(model, c, k)
        ids = () if callable(metric) else check_answers(model, metric, a)[1]
        pairs.append((a_tokens, k_tokens, ids))
    return pairs, metric, parts


def _metric(metric, answer_ids) -> Callable[[torch.Tensor], torch.Tensor]:
    return metric if callable(metric) else metric_fn(metric, answer_ids)


@register("circuit")
def circuit(model: LoadedModel, clean: str | Tokens | Task | list, corrupt=None, *, metric: str | Callable | None = None,
            answers=(" Paris", " Rome"), method: str = "eap_ig", steps: int = 5, level: str = "edge",
            on_progress: Callable[[float, str], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> CircuitResult:
    """Score every edge (``level="edge"``) or every head and MLP (``level="node"``) of ``model``'s
    graph by how much corrupting it moves ``metric`` on ``clean`` toward ``corrupt``.

    ``clean``/``corrupt``: two prompts of equal token length, two lists of them (a task; scores
    averaged over the pairs), or ``clean`` a :class:`~.tasks.Task` (``lx.circuit_tasks``).
    ``metric``: "logit_diff" (``answers[0]`` minus ``answers[1]``), "logprob" or "prob" of
    ``answers[0]`` at the last token, or a function of the logits; ``answers`` one tuple or a list
    with one per pair. ``method``: "eap", "eap_ig" (``steps`` interpolation steps) or "exact".
    ``on_progress(fraction, what)`` reports; ``cancelled()`` returning True stops with
    :class:`~llmxai_widgets.methods.Cancelled`.
    """
    pairs, metric, parts = check_circuit(model, clean, corrupt, metric, answers, method, steps, level)
    graph = Graph(model.n_layers, model.n_heads, model.n_kv_heads)
    say = on_progress or (lambda fraction, what: None)
    runs: list[patched.PairRuns] = []
    with model.lock:
        for i, (a, b, ids) in enumerate(pairs):
            say(0.1 * i / len(pairs), f"running pair {i + 1} of {len(pairs)}")
            measure = _metric(metric, ids)
            ids_a, ids_b = torch.as_tensor(a.ids)[None], torch.as_tensor(b.ids)[None]
            clean_out, resid, logits_a = gradients.outputs(parts, graph, ids_a)
            corrupt_out, _, logits_b = gradients.outputs(parts, graph, ids_b)
            m_a, m_b = float(measure(logits_a)[0]), float(measure(logits_b)[0])
            runs.append(patched.PairRuns(ids_a[0], resid[:, 0], clean_out[0], corrupt_out[0], measure, m_a, m_b))
    clean_metric = float(np.mean([r.clean_metric for r in runs]))
    corrupted_metric = float(np.mean([r.corrupt_metric for r in runs]))
    if abs(clean_metric - corrupted_metric) < 1e-6:
        raise ValueError(f"the metric is {clean_metric:.4g} on both the clean and the corrupted prompts, so no edge can "
                         f"explain a difference: the metric does not depend on what differs between them. Pick "
                         f"answers the prompts disagree on (clean's first) or another metric")

    def exact(rows):
        with model.lock:
            return patched.metric_with(parts, graph, runs, rows, cancelled)

    if method == "exact":
        say(0.1, "exact runs")
        edge, node = _exact(graph, level, exact, clean_metric)
    else:
        alphas = [1.0] if method == "eap" else [k / steps for k in range(1, steps + 1)]
        edge = _estimate(parts, graph, pairs, runs, metric, alphas, say, cancelled)
        node = np.nansum(edge, axis=1).astype(np.float32)
        node[0] = np.nan
    say(1.0, "")
    return CircuitResult(
        graph=graph, level=level, method=method, steps=steps if method == "eap_ig" else None,
        metric=metric if isinstance(metric, str) else getattr(metric, "__name__", "custom"),
        scores=edge, node_scores=node, clean_metric=clean_metric, corrupted_metric=corrupted_metric,
        n_pairs=len(runs), model_name=model.name, upstream_names=graph.upstream_names(),
        downstream_names=graph.downstream_names(), tokens=[(a, b) for a, b, _ in pairs], runs=exact)


def _estimate(parts, graph, pairs, runs, metric, alphas, say, cancelled) -> np.ndarray:
    """``[upstream, downstream]``: (corrupted - clean output) . mean gradient at the reader's input,
    summed over tokens, averaged over pairs (NaN where no edge)."""
    total = torch.zeros(graph.n_upstream, graph.n_downstream, dtype=torch.float64)
    groups: dict[int, list[int]] = {}
    for i, (a, _, _) in enumerate(pairs):
        groups.setdefault(len(a), []).append(i)
    done = 0
    for members in groups.values():
        for start in range(0, len(members), GRADIENT_ROWS):
            if cancelled is not None and cancelled():
                from ..attention import Cancelled

                raise Cancelled
            chunk = members[start : start + GRADIENT_ROWS]
            clean = torch.stack([runs[i].ids for i in chunk])
            corrupt = torch.stack([torch.as_tensor(pairs[i][1].ids) for i in chunk])
            measures = [runs[i].metric for i in chunk]

            def metric_rows(logits, measures=measures):
                return torch.cat([m(logits[j : j + 1]) for j, m in enumerate(measures)])

            with parts.model.lock:
                grads = gradients.input_gradients(parts, graph, clean, corrupt, metric_rows, alphas)
            delta = torch.stack([runs[i].corrupt_out - runs[i].clean_out for i in chunk])
            total += torch.einsum("butx,bdtx->ud", delta, grads).double()
            done += len(chunk)
            say(0.1 + 0.9 * done / len(pairs), f"gradients: {done} of {len(pairs)} pairs")
    scores = (total / len(pairs)).float().numpy()
    scores[~graph.valid()] = np.nan
    return scores


def _exact(graph: Graph, level: str, exact, clean_metric: float):
    valid = graph.valid()
    node = np.full(graph.n_upstream, np.nan, np.float32)
    rows = []
    for u in range(1, graph.n_upstream):  # a writer's whole output: every edge out of it
        ds = np.nonzero(valid[u])[0]
        rows.append((np.full(len(ds), u), ds))
    node[1:] = exact(rows) - clean_metric
    if level == "node":
        return None, node
    us, ds = np.nonzero(valid)
    order = np.lexsort((us, graph.downstream_layer()[ds]))  # batches share writers and a start block
    us, ds = us[order], ds[order]
    values = exact([(us[i : i + 1], ds[i : i + 1]) for i in range(len(us))])
    edge = np.full(valid.shape, np.nan, np.float32)
    edge[us, ds] = values - clean_metric
    return edge, node
