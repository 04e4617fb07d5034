"""Running perturbed copies of an attribution problem's sequence and reading the targets'
values off them (used by :mod:`.perturbation`).

``runner_for(problem, batch, cancelled)`` picks the runner: a causal model's perturbed copies
reuse the key/value cache of the prefix they share with a reference (:class:`_Runner`); a
bidirectional encoder's cannot (every token sees every other), so :class:`_FullRunner` runs each
copy whole, several to a padded batch. Both answer ``run(seqs, reads)``.
"""

from __future__ import annotations

import bisect
import inspect

import numpy as np
import torch

from .core import Problem
from .gradient import _cancel


def runner_for(problem: Problem, batch: int, cancelled, references=()):
    if problem.causal:
        return _Runner(problem, batch, cancelled, references)
    return _FullRunner(problem, batch, cancelled)


class _FullRunner:
    """Runs perturbed copies of a masked LM's or classifier's input, whole: ``batch`` distinct
    copies per forward pass, right-padded with an attention mask. ``run(seqs, reads, types=)``
    as :class:`_Runner` (``types[r]``: the sentence A/B ids of ``seqs[r]``, for pairs)."""

    def __init__(self, problem: Problem, batch: int, cancelled):
        self.problem = problem
        self.model = problem.model.model
        self.batch = batch
        self.cancelled = cancelled
        self.n_targets = len(problem.targets)
        self.tokens_run = 0
        self.rows_run = 0
        pad = getattr(problem.model.tokenizer, "pad_token_id", None)
        self.pad = 0 if pad is None else int(pad)
        types = None if problem.token_type_ids is None else [problem.token_type_ids]
        self.original = self.run([problem.ids], [list(enumerate(problem.reads))], types=types)[0]

    def run(self, seqs, reads, after_batch=None, types=None) -> np.ndarray:
        out = np.full((len(seqs), self.n_targets), np.nan)
        types = types if types is not None else [None] * len(seqs)
        default = self.problem.token_type_ids
        unique: dict[bytes, int] = {}
        members: list[list[int]] = []
        work: list[tuple[torch.Tensor, torch.Tensor | None, set]] = []
        for r, seq in enumerate(seqs):
            kind = types[r] if types[r] is not None else (None if default is None else default[: len(seq)])
            key = seq.cpu().numpy().tobytes() + (b"" if kind is None else b"|" + kind.cpu().numpy().tobytes())
            u = unique.setdefault(key, len(work))
            if u == len(work):
                work.append((seq, kind, set()))
                members.append([])
            members[u].append(r)
            work[u][2].update(reads[r])
        device = self.problem.ids.device
        for start in range(0, len(work), self.batch):
            group = work[start:start + self.batch]
            width = max(len(seq) for seq, _, _ in group)
            ids = torch.full((len(group), width), self.pad, dtype=torch.long, device=device)
            mask = torch.zeros((len(group), width), dtype=torch.long, device=device)
            kinds = torch.zeros((len(group), width), dtype=torch.long, device=device)
            for b, (seq, kind, _) in enumerate(group):
                ids[b, : len(seq)] = seq
                mask[b, : len(seq)] = 1
                if kind is not None:
                    kinds[b, : len(seq)] = kind
            kwargs = {"token_type_ids": kinds} if default is not None else {}
            logits = self.model(input_ids=ids, attention_mask=mask, **kwargs).logits
            logits = logits[:, None] if self.problem.pooled else logits
            self.tokens_run += ids.numel()
            self.rows_run += len(group)
            wanted = [(b, i, p) for b, (_, _, rd) in enumerate(group) for i, p in sorted(rd)]
            values = self.problem.values(logits[[w[0] for w in wanted], [w[2] for w in wanted]],
                                         [w[1] for w in wanted]).tolist()
            got = {(start + b, i, p): v for (b, i, p), v in zip(wanted, values)}
            finished = []
            for u in range(start, start + len(group)):
                for r in members[u]:
                    for i, p in reads[r]:
                        out[r, i] = got[(u, i, p)]
                    finished.append(r)
            if after_batch is not None:
                after_batch(finished, out)
            if self.cancelled():
                _cancel()
        return out


# -- running perturbed sequences ----------------------------------------------------------------
class _Segment:
    """One distinct perturbed sequence to run: the tokens from ``offset`` on (those before it are
    the reference's, taken from its cache) and the ``(target, position)`` pairs read from it."""

    __slots__ = ("u", "ref", "offset", "tokens", "reads")

    def __init__(self, u: int, ref: int, offset: int, tokens: torch.Tensor, reads: list[tuple[int, int]]):
        self.u, self.ref, self.offset, self.tokens, self.reads = u, ref, offset, tokens, reads


class _Runner:
    """Runs perturbed copies of a problem's sequence and reads the targets' values off them.

    ``run(seqs, reads)``: ``seqs[r]`` a 1-D id tensor, ``reads[r]`` a list of ``(target index,
    position)``: the position whose logits predict that target in ``seqs[r]``. Returns
    ``[len(seqs), n_targets]`` values (NaN where not read).

    How: identical sequences run once; each one reuses the cached keys and values of the longest
    prefix it shares with a reference sequence (the original, or another one given), so only its
    suffix runs. Suffixes are packed several to a row of at most the longest suffix's length
    (best-fit decreasing), each attending to its own cached prefix and to itself through a 4-D
    attention mask, with its own position ids; ``batch`` rows run at a time. Packing is checked
    once against the plain forward pass and dropped (plain right-padded batches) if the model does
    not reproduce it. Only the logits read are projected on the vocabulary."""

    def __init__(self, problem: Problem, batch: int, cancelled, references=()):
        self.problem = problem
        self.model = problem.model.model
        self.batch = batch
        self.cancelled = cancelled
        self.end = max(problem.ends)  # the model reads ids[:end]
        self.n_targets = len(problem.targets)
        params = inspect.signature(self.model.forward).parameters
        self.keep = "logits_to_keep" in params
        self.keep_rows = self.keep and _keeps_rows(self.model)
        self.cache_arg = "cache" if "cache" in params else "past_key_values"  # transformers 5 renamed it
        self.bool_mask = getattr(self.model.config, "_attn_implementation", None) == "sdpa"
        self.tokens_run = 0  # token positions run through the model, padding included (for the record)
        self.rows_run = 0
        self.refs: list[tuple[torch.Tensor, list | None]] = []
        self.original = self._reference(problem.ids[: self.end], list(enumerate(problem.reads)))
        for seq in references:
            self._reference(seq, [])
        self.packing = self.refs[0][1] is not None and self.end >= 2 and self._packing_works()

    # -- references and forward passes ---------------------------------------------------------
    def _reference(self, seq: torch.Tensor, reads) -> np.ndarray:
        """Run ``seq`` once and keep its key/value cache; the values of ``reads``."""
        positions = sorted({p for _, p in reads}) or [len(seq) - 1]
        keep = torch.as_tensor(positions, device=seq.device)
        out = self._forward(seq[None], keep=keep, use_cache=True)
        cache = getattr(out, "cache", None)
        if cache is None:
            cache = getattr(out, "past_key_values", None)
        kv = None
        try:
            from transformers.cache_utils import DynamicCache, DynamicLayer

            layers = getattr(cache, "layers", None)
            if (isinstance(cache, DynamicCache) and layers and all(type(layer) is DynamicLayer for layer in layers)
                    and all(layer.keys is not None and layer.keys.shape[-2] == len(seq) for layer in layers)):
                kv = [(layer.keys, layer.values) for layer in layers]
        except ImportError:  # an old transformers: no prefix reuse
            kv = None
        self.refs.append((seq, kv))
        values = np.full(self.n_targets, np.nan)
        if reads:
            logits = self._logits(out, 1, keep)
            where = {p: k for k, p in enumerate(positions)}
            got = self._values(logits[0, [where[p] for _, p in reads]], [i for i, _ in reads])
            for (i, _), v in zip(reads, got.tolist()):
                values[i] = v
        return values

    def _forward(self, ids, *, keep, kv=None, offset=0, use_cache=False, **kwargs):
        if kv is not None and offset > 0:
            from transformers.cache_utils import DynamicCache

            kwargs[self.cache_arg] = DynamicCache(ddp_cache_data=kv)
            use_cache = True
        if self.keep:
            kwargs["logits_to_keep"] = keep
        self.tokens_run += ids.numel()
        self.rows_run += ids.shape[0]
        return self.model(input_ids=ids, use_cache=use_cache, **kwargs)

    def _logits(self, out, rows: int, keep: torch.Tensor) -> torch.Tensor:
        """``[rows, len(keep), vocab]`` whatever the model did with ``logits_to_keep``."""
        logits = out.logits
        if not self.keep:
            logits = logits[:, keep] if keep.ndim == 1 else torch.take_along_dim(logits, keep[..., None], dim=1)
        return logits

    def _values(self, rows: torch.Tensor, targets: list[int]) -> torch.Tensor:
        """Value of ``targets[r]`` read off logits ``rows[r]`` (as :meth:`Problem.score`)."""
        return self.problem.values(rows, targets)

    def _cache(self, refs: list[int], length: int):
        """Per-layer (keys, values) of the first ``length`` tokens of each row's reference."""
        if length == 0:
            return None
        kv = [self.refs[r][1] for r in refs]
        if all(r == refs[0] for r in refs):
            n = len(refs)
            return [(k[:, :, :length].expand(n, -1, -1, -1), v[:, :, :length].expand(n, -1, -1, -1)) for k, v in kv[0]]
        return [(torch.cat([layers[j][0][:, :, :length] for layers in kv]),
                 torch.cat([layers[j][1][:, :, :length] for layers in kv])) for j in range(len(kv[0]))]

    def _run_plain(self, segments: list[_Segment]) -> list[list[float]]:
        """Right-padded rows, one segment each, all from the smallest offset of the group."""
        common = min(s.offset for s in segments)
        suffixes = [torch.cat([self.refs[s.ref][0][common:s.offset], s.tokens]) for s in segments]
        width = max(len(x) for x in suffixes)
        ids = torch.zeros((len(segments), width), dtype=torch.long, device=self.problem.ids.device)
        for b, x in enumerate(suffixes):  # right padding: a causal model's earlier positions ignore it
            ids[b, : len(x)] = x
        positions = sorted({p - common for s in segments for _, p in s.reads})
        where = {p: k for k, p in enumerate(positions)}
        keep = torch.as_tensor(positions, device=ids.device)
        out = self._forward(ids, keep=keep, kv=self._cache([s.ref for s in segments], common), offset=common)
        logits = self._logits(out, len(segments), keep)
        wanted = [(b, i, where[p - common]) for b, s in enumerate(segments) for i, p in s.reads]
        values = self._values(logits[[w[0] for w in wanted], [w[2] for w in wanted]], [w[1] for w in wanted]).tolist()
        return _split(values, [len(s.reads) for s in segments])

    def _run_packed(self, rows: list[list[_Segment]]) -> list[list[float]]:
        """Several segments to a row, each seeing its reference's cached prefix and itself."""
        device = self.problem.ids.device
        n = len(rows)
        width = max(sum(len(s.tokens) for s in row) for row in rows)
        cached = max(s.offset for row in rows for s in row)
        ids = torch.zeros((n, width), dtype=torch.long, device=device)
        pos = torch.zeros((n, width), dtype=torch.long, device=device)
        allow = torch.zeros((n, width, cached + width), dtype=torch.bool, device=device)
        tril = torch.ones((width, width), dtype=torch.bool, device=device).tril()
        columns = []  # per row: the column of every read, in segment order
        for b, row in enumerate(rows):
            c, cols = 0, []
            for s in row:
                m = len(s.tokens)
                ids[b, c:c + m] = s.tokens
                pos[b, c:c + m] = torch.arange(s.offset, s.offset + m, device=device)
                allow[b, c:c + m, : s.offset] = True
                allow[b, c:c + m, cached + c:cached + c + m] = tril[:m, :m]
                cols += [c + p - s.offset for _, p in s.reads]
                c += m
            for q in range(c, width):  # padding attends to itself only
                allow[b, q, cached + q] = True
            columns.append(cols)
        if self.bool_mask:
            mask = allow[:, None]
        else:
            dtype = next(self.model.parameters()).dtype
            mask = torch.zeros(allow.shape, dtype=dtype, device=device).masked_fill_(~allow, torch.finfo(dtype).min)
            mask = mask[:, None]
        k = max(len(c) for c in columns)
        if self.keep_rows:
            keep = torch.as_tensor([c + [c[0]] * (k - len(c)) for c in columns], device=device)
            pick = torch.arange(k, device=device).expand(n, k)
        else:
            union = sorted({x for c in columns for x in c})
            where = {x: j for j, x in enumerate(union)}
            keep = torch.as_tensor(union, device=device)
            pick = torch.as_tensor([[where[x] for x in c + [c[0]] * (k - len(c))] for c in columns], device=device)
        out = self._forward(ids, keep=keep, kv=self._cache([row[0].ref for row in rows], cached), offset=cached,
                            attention_mask=mask, position_ids=pos)
        logits = out.logits if self.keep else out.logits[:, keep]  # [rows, columns kept, vocab]
        flat_rows = [b for b, c in enumerate(columns) for _ in c]
        flat_pick = [int(pick[b, j]) for b, c in enumerate(columns) for j in range(len(c))]
        targets = [i for row in rows for s in row for i, _ in s.reads]
        values = self._values(logits[flat_rows, flat_pick], targets).tolist()
        return _split(values, [len(s.reads) for row in rows for s in row])

    def _packing_works(self) -> bool:
        """Two suffixes of the original packed in one row must give the original's value."""
        last = self.problem.ends.index(self.end)
        seq = self.refs[0][0]
        row = [_Segment(0, 0, self.end - 2, seq[self.end - 2:], [(last, self.end - 1)]),
               _Segment(1, 0, self.end - 1, seq[self.end - 1:], [(last, self.end - 1)])]
        try:
            got = [v for vs in self._run_packed([row]) for v in vs]
        except Exception:  # noqa: BLE001  (a model that takes no 4-D mask or position ids: plain batches)
            return False
        want = self.original[last]
        return all(abs(v - want) <= 1e-3 * (1.0 + abs(want)) for v in got)

    # -- the public part -----------------------------------------------------------------------
    def run(self, seqs: list[torch.Tensor], reads: list[list[tuple[int, int]]], after_batch=None,
            types=None) -> np.ndarray:
        """See the class docstring (``types``: sentence A/B ids, unused by causal models)."""
        out = np.full((len(seqs), self.n_targets), np.nan)
        unique: dict[bytes, int] = {}
        members: list[list[int]] = []
        useqs: list[torch.Tensor] = []
        ureads: list[set] = []
        for r, seq in enumerate(seqs):
            u = unique.setdefault(seq.cpu().numpy().tobytes(), len(useqs))
            if u == len(useqs):
                useqs.append(seq)
                members.append([])
                ureads.append(set())
            members[u].append(r)
            ureads[u].update(reads[r])
        segments = []
        for u, seq in enumerate(useqs):
            ref, lcp = self._prefix(seq)
            reads_u = sorted(ureads[u])
            offset = min(lcp, min(p for _, p in reads_u))
            segments.append(_Segment(u, ref, offset, seq[offset:], reads_u))
        groups = self._pack(segments) if self.packing else self._group(segments)
        for group in groups:
            if self.packing:
                values = self._run_packed(group)
                done = [s for row in group for s in row]
            else:
                values = self._run_plain(group)
                done = group
            finished = []
            for s, vs in zip(done, values):
                got = dict(zip(s.reads, vs))
                for r in members[s.u]:
                    for i, p in reads[r]:
                        out[r, i] = got[(i, p)]
                    finished.append(r)
            if after_batch is not None:
                after_batch(finished, out)
            if self.cancelled():
                _cancel()
        return out

    def _prefix(self, seq: torch.Tensor) -> tuple[int, int]:
        """(reference index, length of the prefix ``seq`` shares with it), the longest."""
        best = (0, 0)
        for r, (ref, kv) in enumerate(self.refs):
            if kv is None:
                continue
            m = min(len(seq), len(ref))
            diff = (seq[:m] != ref[:m]).nonzero()
            lcp = int(diff[0, 0]) if len(diff) else m
            if lcp > best[1]:
                best = (r, lcp)
        return best

    def _group(self, segments: list[_Segment]) -> list[list[_Segment]]:
        """Plain batches: ``batch`` segments of one reference with neighbouring offsets."""
        segments = sorted(segments, key=lambda s: (s.ref, s.offset))
        groups: list[list[_Segment]] = []
        for s in segments:
            if groups and groups[-1][0].ref == s.ref and len(groups[-1]) < self.batch:
                groups[-1].append(s)
            else:
                groups.append([s])
        return groups

    def _pack(self, segments: list[_Segment]) -> list[list[list[_Segment]]]:
        """Best-fit decreasing: rows no longer than the longest suffix, one reference per row;
        then ``batch`` rows per forward pass."""
        segments = sorted(segments, key=lambda s: (-len(s.tokens), s.offset))
        if not segments:
            return []
        capacity, shortest = len(segments[0].tokens), len(segments[-1].tokens)
        rows: list[list[_Segment]] = []
        room: dict[int, list[tuple[int, int]]] = {}  # per reference, sorted (room left, row) of open rows
        for s in segments:
            m = len(s.tokens)
            free = room.setdefault(s.ref, [])
            k = bisect.bisect_left(free, (m, -1))
            if k < len(free):
                left, j = free.pop(k)
                rows[j].append(s)
            else:
                left, j = capacity, len(rows)
                rows.append([s])
            if left - m >= shortest:
                bisect.insort(free, (left - m, j))
        return [rows[k:k + self.batch] for k in range(0, len(rows), self.batch)]


def _split(values: list[float], sizes: list[int]) -> list[list[float]]:
    out, k = [], 0
    for n in sizes:
        out.append(values[k:k + n])
        k += n
    return out


def _keeps_rows(model) -> bool:
    """Whether the model's forward takes a 2-D ``logits_to_keep`` (positions per row): those
    calling transformers' ``slice_logits_to_keep`` do."""
    try:
        return "slice_logits_to_keep" in inspect.getsource(type(model).forward)
    except (OSError, TypeError):
        return False


