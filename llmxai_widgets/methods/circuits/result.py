"""``CircuitResult``: every edge's score, circuits picked from them, and how faithful they are."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .graph import Graph


@dataclass(frozen=True)
class Circuit:
    """A set of kept edges (``level="edge"``: pairs ``upstream[i] -> downstream[i]``) or kept
    writers (``level="node"``: ``upstream`` only; every edge out of a writer not kept is corrupted;
    the embeddings are always kept)."""

    graph: Graph
    level: str
    upstream: np.ndarray
    downstream: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.upstream)

    def missing(self) -> tuple[np.ndarray, np.ndarray]:
        """Every existing edge outside the circuit, as ``(upstream, downstream)`` indices."""
        valid = self.graph.valid()
        if self.level == "edge":
            keep = np.zeros_like(valid)
            keep[self.upstream, self.downstream] = True
        else:
            keep = np.zeros_like(valid)
            keep[np.append(self.upstream, 0)] = True  # the rows of kept writers (and the embeddings)
        us, ds = np.nonzero(valid & ~keep)
        return us, ds

    def names(self) -> list[str]:
        up = self.graph.upstream_names()
        if self.level == "node":
            return [up[u] for u in self.upstream]
        down = self.graph.downstream_names()
        return [f"{up[u]} -> {down[d]}" for u, d in zip(self.upstream, self.downstream)]


@dataclass
class CircuitResult:
    """Edge (or node) scores of ``method`` for a task of prompt pairs.

    - ``scores[upstream, downstream]`` (``level="edge"``): float32 estimate of how much the metric
      changes when that edge alone carries the corrupted run's value (NaN where no edge exists);
      ``node_scores[upstream]``: the same for a writer's whole output (all its edges). Negative =
      the edge carries what the clean answer needs (for a metric that is higher on clean runs).
    - ``clean_metric`` / ``corrupted_metric``: the metric averaged over the pairs.
    - ``method``: "eap" (gradient at the clean run), "eap_ig" (gradients averaged over ``steps``
      inputs interpolated between corrupted and clean embeddings, at ``k / steps`` for
      ``k = 1..steps``) or "exact" (one patched run per edge or node).
    """

    graph: Graph
    level: str
    method: str
    steps: int | None
    metric: str
    scores: np.ndarray | None
    node_scores: np.ndarray
    clean_metric: float
    corrupted_metric: float
    n_pairs: int
    model_name: str
    upstream_names: list[str] = field(repr=False)
    downstream_names: list[str] = field(repr=False)
    tokens: list = field(default_factory=list, repr=False)
    """The pairs' (clean, corrupt) :class:`~llmxai_widgets.models.wrapped.Tokens`."""
    runs: Callable[[list[tuple[np.ndarray, np.ndarray]]], np.ndarray] | None = field(default=None, repr=False,
                                                                                    compare=False)
    """Metric of exact runs with given edges corrupted (None on a result built by hand)."""

    # -- edges ----------------------------------------------------------------------------------
    @property
    def n_edges(self) -> int:
        return self.graph.n_edges if self.level == "edge" else self.graph.n_upstream - 1

    def ranked(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Edges (or writers) by ``|score|``, largest first: ``(upstream, downstream)`` indices."""
        if self.level == "node":
            order = np.argsort(-np.abs(self.node_scores[1:]), kind="stable") + 1
            return order, None
        us, ds = np.nonzero(np.isfinite(self.scores))
        order = np.argsort(-np.abs(self.scores[us, ds]), kind="stable")
        return us[order], ds[order]

    def top(self, n: int) -> Circuit:
        """The ``n`` edges (or writers) with the largest ``|score|``."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a whole number of {self._unit()}s, got {n!r}")
        if n > self.n_edges:
            raise ValueError(f"n={n} is more {self._unit()}s than the graph has ({self.n_edges:,}); pass "
                             f"n <= {self.n_edges:,}")
        us, ds = self.ranked()
        return Circuit(self.graph, self.level, us[:n], None if ds is None else ds[:n])

    def threshold(self, x: float) -> Circuit:
        """Every edge (or writer) with ``|score| >= x``."""
        values = np.abs(self.node_scores[1:]) if self.level == "node" else np.abs(self.scores[np.isfinite(self.scores)])
        return self.top(int(np.sum(values >= float(x))))

    def _unit(self) -> str:
        return "edge" if self.level == "edge" else "node"

    def exact_top(self, n: int) -> tuple[Circuit, np.ndarray]:
        """The top ``n`` edges (or writers) and their exact scores: one patched run each (batched),
        the metric change when that edge alone is corrupted, averaged over the pairs."""
        circuit = self.top(n)
        if self.runs is None:
            raise ValueError("this result keeps no runs; compute it with llmxai_widgets.circuit()")
        valid = self.graph.valid()
        if self.level == "edge":
            rows = [(circuit.upstream[i : i + 1], circuit.downstream[i : i + 1]) for i in range(len(circuit))]
        else:
            rows = [(np.full(int(valid[u].sum()), u), np.nonzero(valid[u])[0]) for u in circuit.upstream]
        return circuit, (self.runs(rows) - self.clean_metric).astype(np.float32)

    def node_effect(self, node: int, by_token: bool = True) -> tuple[float, np.ndarray | None]:
        """Exact: how the metric changes when writer ``node``'s output is corrupted in every reader
        (averaged over the pairs), and (``by_token``, pairs of one length) the same with its output
        corrupted at one token at a time, ``[token]``. One batch of runs."""
        if self.runs is None:
            raise ValueError("this result keeps no runs; compute it with llmxai_widgets.circuit()")
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 < node < self.graph.n_upstream:
            raise ValueError(f"node must be a head or an MLP, 1..{self.graph.n_upstream - 1} (0 is the embeddings), "
                             f"got {node!r}; names are in result.upstream_names")
        valid = self.graph.valid()
        us, ds = np.full(int(valid[node].sum()), node), np.nonzero(valid[node])[0]
        lengths = {len(a) for a, _ in self.tokens}
        if by_token and len(lengths) > 1:
            raise ValueError(f"the pairs have different token lengths {sorted(lengths)}, so a token index means "
                             f"different things in each; pass by_token=False or a task of one length")
        n_tokens = lengths.pop() if lengths else 0
        rows = [(us, ds)] + ([(us, ds, t) for t in range(n_tokens)] if by_token else [])
        values = self.runs(rows) - self.clean_metric
        return float(values[0]), (values[1:].astype(np.float32) if by_token else None)

    # -- faithfulness -----------------------------------------------------------------------------
    def faithfulness(self, circuit: Circuit | Sequence[Circuit]):
        """Exact: run each pair with every edge outside ``circuit`` corrupted; the metric as a
        fraction of the way from corrupted (0) to clean (1), averaged over the pairs' metrics
        first. One float, or an array for a list of circuits (run as one batch)."""
        if self.runs is None:
            raise ValueError("this result keeps no runs; compute it with llmxai_widgets.circuit()")
        many = not isinstance(circuit, Circuit)
        circuits = list(circuit) if many else [circuit]
        values = self.runs([c.missing() for c in circuits])
        out = (values - self.corrupted_metric) / (self.clean_metric - self.corrupted_metric)
        return out if many else float(out[0])

    def faithfulness_curve(self, counts: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(counts, faithfulness)`` of the top-``count`` circuits (default: 0, then doubling
        from 1 up to every edge)."""
        if counts is None:
            counts = [0] + [2**k for k in range(int(np.log2(max(self.n_edges, 1))) + 1)] + [self.n_edges]
            counts = sorted(set(counts))
        counts = np.asarray(counts, np.int64)
        return counts, np.asarray(self.faithfulness([self.top(int(c)) for c in counts]))
