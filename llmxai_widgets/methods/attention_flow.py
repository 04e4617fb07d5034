"""Attention flow (Abnar and Zuidema 2020, "Quantifying Attention Flow in Transformers").

The layers' attention becomes a flow network. One node per token at every layer boundary:
boundary 0 holds the input embeddings, boundary ``l + 1`` the output of layer ``l``. The edge
from token ``k`` at boundary ``l`` to token ``q`` at boundary ``l + 1`` has capacity
``M_l[q, k]``, where ``M_l = 0.5 * mean_heads(A_l) + 0.5 * I`` with rows renormalised (the same
residual-mixed matrix :func:`~llmxai_widgets.methods.attention_views.rollout` multiplies). The
attention flow from input token ``k`` to token ``q`` after layer ``L`` is the maximum flow from
node ``(0, k)`` to node ``(L + 1, q)``. Where rollout spreads each token's mixture over its
inputs in proportion, flow asks how much could get through at most: the value is bounded by the
narrowest cut on the way, not diluted by the number of paths.

The max-flow solver is written for this graph (numpy and plain Python, no extra dependency):

- the search runs from the query down to the inputs (every node's capacities to the boundary
  below sum to 1, so less flow is pushed into dead ends than from the inputs upwards);
- nodes that cannot reach the input token are pruned before the search (in causal models every
  token before the input token, and every token after the query);
- the first Dinic phase (every source-sink path has the same length in a layered graph) finds
  a blocking flow by depth-first search with current-edge pointers, out-edges tried widest
  first, and after each augmentation resumes from the first saturated edge;
- a vectorised reachability test on the residual graph then proves the flow maximal (no
  augmenting path left, which is what happens on real models), or hands the residual graph to a
  general Dinic that finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..results import AttentionResult
from .attention_views import _mean_heads

MAX_TOKENS = 96
"""Longest input :func:`attention_flow` takes. Its cost grows about as tokens**4 x layers for a
full matrix; on one CPU core, the full 96 x 96 matrix of SmolLM2-135M's 30 layers takes about
a minute and one row a few seconds (rollout: milliseconds)."""

EPS = 1e-12
"""Residual capacities at or below this count as saturated (capacities are at most 1)."""


def attention_flow(
    result: AttentionResult,
    upto_layer: int,
    queries: Sequence[int] | None = None,
    *,
    normalize: bool = True,
    on_row: Callable[[int, np.ndarray], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> np.ndarray:
    """Attention flow from each input token to each of ``queries`` after layer ``upto_layer``.

    Returns float32 ``[len(queries), n_tokens]`` (``queries``: all tokens in order by default).
    Entry ``[i, k]`` is the maximum flow from input token ``k`` (its embedding, layer-boundary 0)
    to token ``queries[i]`` after layer ``upto_layer``, through the capacities
    ``M_l = 0.5 * mean_heads(A_l) + 0.5 * I`` (rows renormalised) of layers ``0..upto_layer``;
    see the module docstring. In causal models the flow from a later token is 0.

    ``normalize`` (default True) divides each row by its sum, so it sums to 1 over the input
    tokens like a rollout row. This follows the authors' reference code
    (github.com/samiraabnar/attention_flow, ``attention_graph_util.compute_flows``: each output
    node's flow values over the input nodes are divided by their sum), which their figures and
    correlations use. Raw values (``normalize=False``) lie in [0, 1]: at most 1 reaches a token,
    whose incoming capacities sum to 1. With ``upto_layer=0`` the flow is ``M_0`` itself.

    ``on_row(i, row)`` runs as row ``i`` (query token ``queries[i]``) is done, with the float32
    row as returned; ``cancelled()`` is polled between (query, key) pairs and, when it returns
    True, :class:`~llmxai_widgets.methods.attention.Cancelled` is raised.

    Needs layers ``0..upto_layer`` in ``result`` and at most :data:`MAX_TOKENS` tokens (the max
    flows cost much more than rollout: use rollout for longer inputs).
    """
    from .attention import Cancelled

    if getattr(result, "part", "self") == "cross":
        raise ValueError(
            "attention flow follows self-attention through the layers; cross-attention has no such "
            "chain: choose part='encoder' or 'decoder'"
        )
    if isinstance(upto_layer, bool) or not isinstance(upto_layer, (int, np.integer)) or upto_layer < 0:
        raise ValueError(f"upto_layer must be a layer number (0 or more), got {upto_layer!r}")
    upto_layer = int(upto_layer)
    missing = [layer for layer in range(upto_layer + 1) if layer not in result.sources]
    if missing:
        raise ValueError(
            f"attention flow to layer {upto_layer} needs layers 0-{upto_layer}; this result lacks "
            f"{missing[:5]}{'...' if len(missing) > 5 else ''}: compute with layers=None"
        )
    n = len(result.tokens)
    if n > MAX_TOKENS:
        raise ValueError(
            f"attention flow takes at most {MAX_TOKENS} tokens (its max-flow computations grow about "
            f"as tokens**4 x layers); this text has {n}: shorten it, or use rollout, which follows "
            f"the same graph in proportion and takes milliseconds"
        )
    queries = _check_queries(queries, n)
    capacities = [_mixed(result, layer) for layer in range(upto_layer + 1)]

    def finish_row(i: int, raw: np.ndarray) -> None:
        row = raw
        if normalize:
            total = raw.sum()
            row = raw / total if total > 0 else raw
        out[i] = row
        if on_row is not None:
            on_row(i, out[i].copy())

    def check() -> None:
        if cancelled():
            raise Cancelled

    out = np.zeros((len(queries), n), np.float32)
    layered_max_flow(capacities, queries, on_row=finish_row, check=check)
    return out


def _check_queries(queries, n: int) -> list[int]:
    if queries is None:
        return list(range(n))
    if isinstance(queries, (int, np.integer)) and not isinstance(queries, bool):
        queries = [queries]
    out = []
    for q in queries:
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)):
            raise TypeError(f"queries must be token positions (integers), got {type(q).__name__} {q!r}")
        if not 0 <= q < n:
            raise IndexError(f"query {q} is out of range: the text has {n} tokens, numbered 0-{n - 1}")
        out.append(int(q))
    return out


def _mixed(result: AttentionResult, layer: int) -> np.ndarray:
    """``0.5 * mean_heads(A) + 0.5 * I``, rows renormalised, float64 (as in rollout)."""
    n = len(result.tokens)
    mixed = 0.5 * _mean_heads(result, layer).astype(np.float64) + 0.5 * np.eye(n)
    mixed /= mixed.sum(axis=-1, keepdims=True)
    return mixed


def layered_max_flow(
    capacities: Sequence[np.ndarray],
    queries: Sequence[int] | None = None,
    *,
    on_row: Callable[[int, np.ndarray], None] | None = None,
    check: Callable[[], None] | None = None,
) -> np.ndarray:
    """Raw max flows ``[len(queries), n]`` (float64) in the layered graph of ``capacities``.

    ``capacities[l][q, k] >= 0`` is the capacity from token ``k`` at boundary ``l`` to token
    ``q`` at boundary ``l + 1``; entry ``[i, k]`` of the result is the max flow from ``(0, k)``
    to ``(len(capacities), queries[i])``. Any nonnegative square matrices of one size work
    (capacities at or below :data:`EPS` are left out). ``on_row(i, row)`` runs as each row is
    done; ``check()`` runs before each (query, key) pair and may raise to stop.
    """
    caps = [np.asarray(c, dtype=np.float64) for c in capacities]
    if not caps:
        raise ValueError("capacities is empty: give one matrix per layer")
    n = caps[0].shape[0]
    if any(c.shape != (n, n) for c in caps):
        raise ValueError(f"capacities must all be square and of one size, got {[c.shape for c in caps]}")
    if any(not np.isfinite(c).all() or (c < 0).any() for c in caps):
        raise ValueError("capacities must be nonnegative numbers")
    queries = list(range(n)) if queries is None else [int(q) for q in queries]
    out = np.zeros((len(queries), n))
    if len(caps) == 1:  # one layer: the edge itself
        for i, q in enumerate(queries):
            if check is not None:
                check()
            out[i] = np.where(caps[0][q] > EPS, caps[0][q], 0.0)
            if on_row is not None:
                on_row(i, out[i])
        return out
    graph = _Graph(caps)
    for i, q in enumerate(queries):
        for k in range(n):
            if check is not None:
                check()
            out[i, k] = graph.max_flow(q, k)
        if on_row is not None:
            on_row(i, out[i])
    return out


class _Graph:
    """The layered graph searched from the query (top) down to the input token (bottom).

    Internal boundaries are numbered top-down: ``b = 0`` is model boundary ``E - 1`` (the
    output of the next-to-last layer), ``b = nb - 1`` model boundary 1, with ``E`` layers and
    ``nb = E - 1``. Edge layer ``b`` joins internal boundary ``b`` to ``b + 1``: node ``a`` to
    node ``j`` with capacity ``M_{E-2-b}[a, j]``. The source (query ``q`` at boundary ``E``)
    feeds internal node ``j`` of boundary 0 through ``M_{E-1}[q, j]``; internal node ``j`` of
    the last boundary drains into the sink (input token ``k``) through ``M_0[j, k]``.
    """

    def __init__(self, caps: list[np.ndarray]) -> None:
        self.n = n = caps[0].shape[0]
        self.top = caps[-1]  # source edges: row q
        self.bottom = caps[0]  # sink edges: column k
        self.nb = len(caps) - 1
        # Edge layers top-down, each node's out-edges widest first, flattened per layer.
        self.dense, self.targets, self.caps, self.starts, self.ends, self.rows, self.cols = [], [], [], [], [], [], []
        for b in range(self.nb - 1):
            m = caps[len(caps) - 2 - b]
            m = np.where(m > EPS, m, 0.0)
            order = np.argsort(-m, axis=1, kind="stable")
            counts = (m > 0).sum(axis=1)
            rows = np.repeat(np.arange(n), counts)
            cols = np.concatenate([order[a, : counts[a]] for a in range(n)]) if n else np.zeros(0, int)
            ends = np.cumsum(counts)
            self.dense.append(m)
            self.rows.append(rows)
            self.cols.append(cols)
            self.targets.append(cols.tolist())
            self.caps.append(m[rows, cols].tolist())
            self.starts.append((ends - counts).tolist())
            self.ends.append(ends.tolist())
        # dead[k][b][j]: node j of internal boundary b cannot reach input token k.
        alive = np.zeros((n, self.nb, n), bool)
        alive[:, self.nb - 1] = (self.bottom > EPS).T
        for b in range(self.nb - 2, -1, -1):
            reach = (self.dense[b] > 0).astype(np.float32)  # [a, j]
            alive[:, b] = (alive[:, b + 1].astype(np.float32) @ reach.T) > 0
        self.dead = (~alive).tolist()

    def max_flow(self, q: int, k: int) -> float:
        nb, n = self.nb, self.n
        dead = [row[:] for row in self.dead[k]]
        source = self.top[q]
        sink = [float(c) if c > EPS else 0.0 for c in self.bottom[:, k]]
        src_left = [float(c) if c > EPS else 0.0 for c in source]
        if not any(src_left[j] > 0 and not dead[0][j] for j in range(n)):
            return 0.0
        res = [c[:] for c in self.caps]
        ptr = [s[:] for s in self.starts]
        total = self._blocking_flow(res, ptr, dead, src_left, sink)
        if not any(c > EPS for c in src_left) or not any(c > EPS for c in sink):
            return total  # the source's or the sink's edges are all full: a saturated cut
        state = self._augmentable(res, src_left, sink)
        if state is None:
            return total
        return total + _dinic_residual(self, state, src_left, sink, q, k)

    def _blocking_flow(self, res, ptr, dead, src_left, sink) -> float:
        """Dinic's first phase: a blocking flow of the layered graph (all paths have length nb+1)."""
        last = self.nb - 1
        targets, ends = self.targets, self.ends
        source = np.asarray(src_left)
        total = 0.0
        for j0 in np.argsort(-source, kind="stable").tolist():
            s = src_left[j0]
            if s <= EPS or dead[0][j0]:
                continue
            nodes, mins = [j0], [s]  # the path; mins[i]: its bottleneck up to node i
            while nodes:
                i = len(nodes) - 1
                u = nodes[i]
                if i == last:
                    c = sink[u]
                    if c <= EPS:
                        dead[i][u] = True
                        nodes.pop()
                        mins.pop()
                        continue
                    f = mins[i] if mins[i] < c else c
                    sink[u] = c - f
                    total += f
                    s -= f
                    cut = i
                    for t in range(i):
                        r = res[t]
                        p = ptr[t][nodes[t]]
                        r[p] -= f
                        if r[p] <= EPS and cut == i:
                            cut = t
                    if s <= EPS:
                        break
                    del nodes[cut + 1 :]
                    del mins[cut + 1 :]
                    for t in range(cut + 1):
                        mins[t] -= f
                    continue
                pu, r, tg, nd = ptr[i], res[i], targets[i], dead[i + 1]
                p, end = pu[u], ends[i][u]
                while p < end and (r[p] <= EPS or nd[tg[p]]):
                    p += 1
                pu[u] = p
                if p == end:
                    dead[i][u] = True
                    nodes.pop()
                    mins.pop()
                    continue
                c = r[p]
                mins.append(c if c < mins[i] else mins[i])
                nodes.append(tg[p])
            src_left[j0] = s if s > EPS else 0.0
        return total

    def _flows(self, res) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Dense residual and flow matrices ``[a, j]`` of each edge layer."""
        residual, flow = [], []
        for b in range(self.nb - 1):
            r = np.zeros((self.n, self.n))
            r[self.rows[b], self.cols[b]] = res[b]
            residual.append(r)
            flow.append(self.dense[b] - r)
        return residual, flow

    def _augmentable(self, res, src_left, sink):
        """The nodes that augmenting paths can still use, per internal boundary (reachable from
        the source and reaching the sink in the residual graph: forward residuals and backward
        flows), or None when no augmenting path is left. Augmenting only ever removes residual
        edges or adds ones between nodes of the path, so later paths stay among these nodes."""
        residual, flow = self._flows(res)
        open_r = [r > EPS for r in residual]
        open_f = [f > EPS for f in flow]
        reach = _closure(
            [np.asarray(src_left) > EPS] + [np.zeros(self.n, bool) for _ in range(self.nb - 1)],
            down=open_r, up=open_f,
        )
        sink_open = np.asarray(sink) > EPS
        if not (sink_open & reach[-1]).any():
            return None
        # Reaching the sink: the same closure on the reversed residual graph, bottom-up.
        co = _closure(
            [sink_open] + [np.zeros(self.n, bool) for _ in range(self.nb - 1)],
            down=[r.T for r in reversed(open_r)], up=[f.T for f in reversed(open_f)],
        )[::-1]
        return [a & b for a, b in zip(reach, co)], residual, flow


def _closure(reach: list[np.ndarray], down: list[np.ndarray], up: list[np.ndarray]) -> list[np.ndarray]:
    """Grow ``reach[b]`` (bool per node of boundary ``b``) along ``down[b][a, j]`` (node ``a`` of
    boundary ``b`` to node ``j`` of ``b + 1``) and ``up[b][a, j]`` (node ``j`` of ``b + 1`` back to
    node ``a`` of ``b``) until nothing changes."""
    count = sum(int(r.sum()) for r in reach)
    while True:
        for b in range(len(down)):
            reach[b + 1] |= down[b][reach[b]].any(axis=0)
        for b in range(len(up) - 1, -1, -1):
            reach[b] |= up[b][:, reach[b + 1]].any(axis=1)
        new = sum(int(r.sum()) for r in reach)
        if new == count:
            return reach
        count = new


def _dinic_residual(graph: _Graph, state, src_left, sink, q: int, k: int) -> float:
    """Finish a max flow from the residual state the first phase left: Dinic on the general
    residual graph (augmenting paths may step back along edges that carry flow), restricted to
    the nodes augmenting paths can use. Returns the extra flow. Rarely needed; plain lists."""
    alive, residual, flow = state
    n, nb = graph.n, graph.nb
    ids = np.full((nb, n), -1)
    nodes = np.flatnonzero(np.concatenate(alive))
    ids.reshape(-1)[nodes] = np.arange(len(nodes))
    s, t = len(nodes), len(nodes) + 1
    to: list[int] = []
    cap: list[float] = []
    adj: list[list[int]] = [[] for _ in range(len(nodes) + 2)]

    def add(u: int, v: int, forward: float, backward: float) -> None:
        e = len(to)
        to.extend((v, u))
        cap.extend((forward, backward))
        adj[u].append(e)
        adj[v].append(e + 1)

    source_caps, bottom = graph.top[q], graph.bottom[:, k]
    for j in np.flatnonzero(alive[0] & (np.asarray(src_left) > EPS)).tolist():
        add(s, int(ids[0, j]), src_left[j], float(source_caps[j]) - src_left[j])
    for b in range(nb - 1):
        usable = (residual[b] > EPS) | (flow[b] > EPS)
        rows, cols = np.nonzero(usable & alive[b][:, None] & alive[b + 1][None, :])
        for a, j, r, f in zip(ids[b, rows].tolist(), ids[b + 1, cols].tolist(),
                              residual[b][rows, cols].tolist(), flow[b][rows, cols].tolist()):
            add(a, j, r, f)
    for j in np.flatnonzero(alive[nb - 1] & (np.asarray(sink) > EPS)).tolist():
        add(int(ids[nb - 1, j]), t, sink[j], float(bottom[j]) - sink[j])

    total = 0.0
    size = len(adj)
    while True:
        level = [-1] * size
        level[s] = 0
        frontier = [s]
        while frontier and level[t] < 0:
            nxt = []
            for u in frontier:
                for e in adj[u]:
                    v = to[e]
                    if level[v] < 0 and cap[e] > EPS:
                        level[v] = level[u] + 1
                        nxt.append(v)
            frontier = nxt
        if level[t] < 0:
            return total
        ptr = [0] * size
        while True:
            # Iterative depth-first search for one path in the level graph.
            path: list[int] = []  # edges
            u = s
            while u != t:
                edges = adj[u]
                while ptr[u] < len(edges):
                    e = edges[ptr[u]]
                    if cap[e] > EPS and level[to[e]] == level[u] + 1:
                        break
                    ptr[u] += 1
                if ptr[u] == len(edges):
                    if not path:
                        break
                    level[u] = -1  # dead end for this phase
                    e = path.pop()
                    u = to[e ^ 1]
                    ptr[u] += 1
                    continue
                path.append(edges[ptr[u]])
                u = to[edges[ptr[u]]]
            if u != t:
                break
            f = min(cap[e] for e in path)
            for e in path:
                cap[e] -= f
                cap[e ^ 1] += f
            total += f
