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
  token before the input token; tokens after the query are never reached either);
- the first Dinic phase (every source-sink path has the same length in a layered graph) finds
  a blocking flow by depth-first search with current-edge pointers, out-edges tried widest
  first, and after each augmentation resumes from the first saturated edge;
- a vectorised reachability test on the residual graph (a batch of input tokens at a time)
  then proves the flow maximal, no augmenting path being left (for nearly every pair in
  SmolLM2, for 65-85% of them in MiniLM), or Dinic's later phases finish the job: levels by
  vectorised breadth-first search, a blocking flow among the edges on shortest augmenting paths.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence

import numpy as np

from ..results import AttentionResult
from .attention_views import _check_layers_up_to, _mean_heads, _self_attention_only

MAX_TOKENS = 64
"""Longest input :func:`attention_flow` takes: one max flow per (query, input token) pair, each
over every layer, so a full matrix costs about tokens**4 x layers. Measured on one core of this
project's CPU, the full matrix of 64 tokens takes about 5 s through SmolLM2's 30 layers and 9 s
through MiniLM's 6 (not causal: twice the pairs, denser graphs), one row 0.1-0.4 s; at 96
tokens SmolLM2's full matrix takes about 26 s. Rollout takes milliseconds at any of these."""

_BATCH_ELEMENTS = 1 << 22
"""Residual matrices of this many entries at most are checked at once (32 MB of float64)."""

EPS = 1e-12
"""Residual capacities at or below this count as saturated (attention capacities are at most 1;
smaller ones are left out of the graph, changing a flow by far less than float32 resolves)."""


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

    _self_attention_only(result, "attention flow")
    if isinstance(upto_layer, bool) or not isinstance(upto_layer, (int, np.integer)) or upto_layer < 0:
        raise ValueError(f"upto_layer must be a layer number (0 or more), got {upto_layer!r}")
    upto_layer = int(upto_layer)
    _check_layers_up_to(result, upto_layer, "attention flow")
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
        out[i] = graph.row(q, check)
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
        dense = []
        self.targets, self.caps, self.starts, self.ends, self.rows, self.cols = [], [], [], [], [], []
        for b in range(self.nb - 1):
            m = caps[len(caps) - 2 - b]
            m = np.where(m > EPS, m, 0.0)
            order = np.argsort(-m, axis=1, kind="stable")
            counts = (m > 0).sum(axis=1)
            rows = np.repeat(np.arange(n), counts)
            cols = np.concatenate([order[a, : counts[a]] for a in range(n)]) if n else np.zeros(0, int)
            ends = np.cumsum(counts)
            dense.append(m)
            self.rows.append(rows)
            self.cols.append(cols)
            self.targets.append(cols.tolist())
            self.caps.append(array("d", m[rows, cols].tobytes()))
            self.starts.append((ends - counts).tolist())
            self.ends.append(ends.tolist())
        self.dense = np.stack(dense) if dense else np.zeros((0, n, n))
        self.flat = np.concatenate(
            [b * n * n + self.rows[b] * n + self.cols[b] for b in range(self.nb - 1)] or [np.zeros(0, int)]
        )
        # dead[k][b][j]: node j of internal boundary b cannot reach input token k.
        alive = np.zeros((n, self.nb, n), bool)
        alive[:, self.nb - 1] = (self.bottom > EPS).T
        for b in range(self.nb - 2, -1, -1):
            reach = (self.dense[b] > 0).astype(np.float32)  # [a, j]
            alive[:, b] = (alive[:, b + 1].astype(np.float32) @ reach.T) > 0
        self.dead = (~alive).tolist()
        top = np.where(self.top > EPS, self.top, 0.0)
        bottom = np.where(self.bottom > EPS, self.bottom, 0.0)
        self.source_caps = top.tolist()  # [q][j]
        self.source_order = [  # [q]: q's source edges, widest first
            [j for j in np.argsort(-row, kind="stable").tolist() if row[j] > 0] for row in top
        ]
        self.sink_caps = bottom.T.tolist()  # [k][j]
        # connected[q, k]: some source edge of q leads to a node that reaches k.
        self.connected = ((top > 0).astype(np.float32) @ alive[:, 0, :].T.astype(np.float32)) > 0

    def row(self, q: int, check: Callable[[], None] | None = None) -> np.ndarray:
        """Max flows from every input token to query ``q``."""
        out = np.zeros(self.n)
        batch = max(1, _BATCH_ELEMENTS // max(1, (self.nb - 1) * self.n * self.n))
        pending = []  # (key, residuals, source edge residuals, sink edge residuals)
        for k in range(self.n):
            if check is not None:
                check()
            out[k], state = self._first_phase(q, k)
            if state is not None:
                pending.append((k, *state))
            if len(pending) == batch or (k == self.n - 1 and pending):
                for key, extra in self._finish(pending):
                    out[key] += extra
                pending = []
        return out

    def _finish(self, pending):
        """Prove the first phase's flows maximal (no augmenting path left in the residual
        graph), a batch of keys at once, or finish them with Dinic's later phases. Yields
        ``(key, extra flow)`` for the keys that had more."""
        residual = self._residuals([p[1] for p in pending])
        flow = self.dense - residual
        src_left = np.array([p[2] for p in pending])
        sink_left = np.array([p[3] for p in pending])
        reach = _closure(src_left > EPS, residual > EPS, flow > EPS)
        for i in np.flatnonzero((reach[:, -1] & (sink_left > EPS)).any(axis=1)).tolist():
            yield pending[i][0], _more_phases(residual[i], flow[i], src_left[i], sink_left[i])

    def _first_phase(self, q: int, k: int):
        """Dinic's first phase from query ``q`` to input token ``k``: its flow, and the residual
        state to check (None when a saturated cut already proves the flow maximal)."""
        if not self.connected[q, k]:
            return 0.0, None
        dead = [row[:] for row in self.dead[k]]
        sink = self.sink_caps[k][:]
        src_left = self.source_caps[q][:]
        res = [c[:] for c in self.caps]  # array copies: memcpy
        ptr = [s[:] for s in self.starts]
        total = self._blocking_flow(res, ptr, dead, src_left, sink, self.source_order[q])
        if not any(c > EPS for c in src_left) or not any(c > EPS for c in sink):
            return total, None  # the source's or the sink's edges are all full: a saturated cut
        return total, (res, src_left, sink)

    def _blocking_flow(self, res, ptr, dead, src_left, sink, order) -> float:
        """Dinic's first phase: a blocking flow of the layered graph (all paths have length nb+1).

        Depth-first, one path at a time: ``nodes[i]`` is the path's node at boundary ``i``,
        ``edge[i]`` the index of its edge to the next node, and ``limit[i] - pushed`` the path's
        bottleneck up to ``nodes[i]`` (stored against the flow pushed since the source edge was
        taken, so augmenting need not update it). After augmenting, the search resumes from the
        first saturated edge."""
        last = self.nb - 1
        targets, ends = self.targets, self.ends
        total = 0.0
        for j0 in order:
            s = src_left[j0]
            if s <= EPS or dead[0][j0]:
                continue
            pushed = 0.0
            nodes, edge, limit = [j0], [], [s]
            while nodes:
                i = len(nodes) - 1
                u = nodes[i]
                if i == last:
                    c = sink[u]
                    if c <= EPS:
                        dead[i][u] = True
                        nodes.pop()
                        limit.pop()
                        if edge:
                            edge.pop()
                        continue
                    f = limit[i] - pushed
                    if c < f:
                        f = c
                    sink[u] = c - f
                    pushed += f
                    cut = i
                    t = 0
                    for r, p in zip(res, edge):
                        v = r[p] - f
                        r[p] = v
                        if v <= EPS and cut == i:
                            cut = t
                        t += 1
                    if s - pushed <= EPS:
                        break
                    del nodes[cut + 1 :], limit[cut + 1 :], edge[cut:]
                    continue
                r, tg, nd = res[i], targets[i], dead[i + 1]
                pu = ptr[i]
                p, end = pu[u], ends[i][u]
                while p < end and (r[p] <= EPS or nd[tg[p]]):
                    p += 1
                pu[u] = p
                if p == end:
                    dead[i][u] = True
                    nodes.pop()
                    limit.pop()
                    if edge:
                        edge.pop()
                    continue
                c = r[p] + pushed
                limit.append(c if c < limit[i] else limit[i])
                edge.append(p)
                nodes.append(tg[p])
            total += pushed
            s -= pushed
            src_left[j0] = s if s > EPS else 0.0
        return total

    def _residuals(self, states) -> np.ndarray:
        """Dense residual capacities ``[key, b, a, j]`` of the edge layers."""
        residual = np.zeros((len(states), self.nb - 1, self.n, self.n))
        if self.nb > 1:
            flat = residual.reshape(len(states), -1)
            for i, res in enumerate(states):
                flat[i, self.flat] = np.concatenate([np.frombuffer(r) for r in res])
        return residual


def _more_phases(residual, flow, src_left, sink_left) -> float:
    """Dinic's later phases, from the residual state the first phase left: augmenting paths
    may now step back along edges that carry flow. Returns the extra flow; each phase first
    checks that the sink is still reachable in the residual graph.

    ``residual[b, a, j]`` and ``flow[b, a, j]`` (node ``a`` of internal boundary ``b`` to node
    ``j`` of ``b + 1``) are updated in place, as are ``src_left`` and ``sink_left``, the
    residuals of the source's and the sink's edges. Each phase labels nodes with their distance
    from the source and to the sink (vectorised breadth-first searches), keeps the edges on
    shortest augmenting paths (usually few) and finds a blocking flow among them by depth-first
    search.
    """
    nb, n = residual.shape[0] + 1, len(src_left)
    total = 0.0
    while True:
        open_r, open_f = residual > EPS, flow > EPS
        start, stop = src_left > EPS, sink_left > EPS
        if not _closure(start, open_r, open_f)[nb - 1][stop].any():
            return total
        level = _levels(start, open_r, open_f)
        ends = (level[nb - 1] >= 0) & stop
        length = int(level[nb - 1][ends].min()) + 1  # edges from the source to the sink
        ends &= level[nb - 1] == length - 1
        # Distances to the sink: the same search on the reversed residual graph.
        back = _levels(ends, open_r[::-1].transpose(0, 2, 1), open_f[::-1].transpose(0, 2, 1))[::-1]
        on = (level >= 0) & (back >= 0) & (level + back == length)
        # The level graph: edges from distance d to d + 1 among nodes on shortest paths.
        ids = np.full((nb, n), -1)
        where = np.flatnonzero(on)
        ids.reshape(-1)[where] = np.arange(len(where))
        s, t = len(where), len(where) + 1
        adj: list[list[int]] = [[] for _ in range(len(where) + 2)]
        to: list[int] = []
        where_from: list[tuple] = []  # per edge: which residual it is, to write the result back
        cap: list[float] = []
        for j in np.flatnonzero(on[0] & start & (level[0] == 1)).tolist():
            adj[s].append(len(to))
            to.append(int(ids[0, j]))
            cap.append(float(src_left[j]))
            where_from.append(("s", j))
        up, down = level[:-1, :, None], level[1:, None, :]
        both = on[:-1, :, None] & on[1:, None, :]
        for kind, mask in (("r", open_r & both & (down == up + 1)), ("f", open_f & both & (up == down + 1))):
            for b, a, j in zip(*(x.tolist() for x in np.nonzero(mask))):
                u, v = int(ids[b, a]), int(ids[b + 1, j])
                if kind == "f":
                    u, v = v, u
                adj[u].append(len(to))
                to.append(v)
                cap.append(float(residual[b, a, j] if kind == "r" else flow[b, a, j]))
                where_from.append((kind, b, a, j))
        for j in np.flatnonzero(on[nb - 1] & ends).tolist():
            adj[int(ids[nb - 1, j])].append(len(to))
            to.append(t)
            cap.append(float(sink_left[j]))
            where_from.append(("t", j))
        before = cap[:]
        total += _blocking(adj, to, cap, s, t)
        for e, place in enumerate(where_from):
            d = before[e] - cap[e]
            if d == 0.0:
                continue
            if place[0] == "s":
                src_left[place[1]] -= d
            elif place[0] == "t":
                sink_left[place[1]] -= d
            else:
                _, b, a, j = place
                if place[0] == "f":
                    d = -d
                residual[b, a, j] -= d
                flow[b, a, j] += d


def _closure(start, down, up) -> np.ndarray:
    """Nodes ``[..., boundary, node]`` reachable from the ``start[..., node]`` nodes of boundary
    0 along ``down[..., b, a, j]`` (node ``a`` of boundary ``b`` to node ``j`` of ``b + 1``) and
    ``up[..., b, a, j]`` (node ``j`` of ``b + 1`` back to node ``a`` of ``b``), for a batch of
    graphs at once: sweeps down and up until nothing changes (few: flows seldom zigzag)."""
    nb = down.shape[-3] + 1
    down, up = down.astype(np.float32), up.astype(np.float32)
    reach = np.zeros((*start.shape[:-1], nb, start.shape[-1]), np.float32)
    reach[..., 0, :] = start
    count = reach.sum()
    while True:
        for b in range(nb - 1):
            step = (reach[..., b, None, :] @ down[..., b, :, :])[..., 0, :] > 0
            reach[..., b + 1, :] = np.maximum(reach[..., b + 1, :], step)
        for b in range(nb - 2, -1, -1):
            step = (up[..., b, :, :] @ reach[..., b + 1, :, None])[..., 0] > 0
            reach[..., b, :] = np.maximum(reach[..., b, :], step)
        new = reach.sum()
        if new == count:
            return reach > 0
        count = new


def _levels(start, down, up) -> np.ndarray:
    """Breadth-first distances ``[boundary, node]`` (-1: unreached) from the ``start`` nodes of
    boundary 0 (at distance 1), along ``down`` and ``up`` as in :func:`_closure`."""
    nb, n = down.shape[0] + 1, len(start)
    down, up = down.astype(np.float32), up.astype(np.float32)
    level = np.full((nb, n), -1)
    frontier = np.zeros((nb, n), np.float32)
    frontier[0] = start
    level[0][start] = 1
    d = 1
    while True:
        nxt = np.zeros((nb, n), bool)
        nxt[1:] = (frontier[:-1, None, :] @ down)[:, 0, :] > 0
        nxt[:-1] |= (up @ frontier[1:, :, None])[:, :, 0] > 0
        nxt &= level < 0
        if not nxt.any():
            return level
        d += 1
        level[nxt] = d
        frontier = nxt.astype(np.float32)


def _blocking(adj, to, cap, s: int, t: int) -> float:
    """A blocking flow from ``s`` to ``t`` in an acyclic level graph (lists; ``cap`` updated)."""
    ptr = [0] * len(adj)
    dead = [False] * len(adj)
    total = 0.0
    while True:
        path: list[int] = []  # edges
        u = s
        while u != t:
            edges = adj[u]
            p = ptr[u]
            while p < len(edges) and (cap[edges[p]] <= EPS or dead[to[edges[p]]]):
                p += 1
            ptr[u] = p
            if p == len(edges):
                dead[u] = True
                if not path:
                    return total
                path.pop()
                u = to[path[-1]] if path else s
                continue
            path.append(edges[p])
            u = to[edges[p]]
        f = min(cap[e] for e in path)
        for e in path:
            cap[e] -= f
        total += f

