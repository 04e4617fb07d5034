"""Array-likes that compute what is indexed: a result's field that would take gigabytes as one
array (every layer and head of a long text's attention) is computed slice by slice, and a
request that needs more memory than the machine has free is refused before allocating, with
its size and the cheaper call."""

from __future__ import annotations

import numpy as np


def available_bytes() -> int | None:
    """Memory the system can still give (Linux ``MemAvailable``), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _expand(key, ndim: int) -> tuple:
    """``key`` as a tuple of ``ndim`` entries' worth (Ellipsis expanded, the end padded)."""
    key = key if isinstance(key, tuple) else (key,)
    used = sum(np.ndim(k) if isinstance(k, np.ndarray) and k.dtype == bool else (0 if k is None or k is Ellipsis else 1)
               for k in key)
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        return key[:i] + (slice(None),) * (ndim - used) + key[i + 1:]
    return key + (slice(None),) * (ndim - used)


def _select(entry, n: int):
    """The rows ``entry`` (an axis index) picks out of ``n``, and the index that picks the same
    from those rows alone (so numpy's rules for the whole key still apply)."""
    if isinstance(entry, (int, np.integer)) and not isinstance(entry, bool):
        if not -n <= entry < n:
            raise IndexError(f"index {entry} is out of bounds for an axis of size {n}")
        return [int(entry) % n], 0
    if isinstance(entry, slice):
        return list(range(n))[entry], slice(None)
    picked = np.arange(n)[np.asarray(entry)]
    return [int(i) for i in np.ravel(picked)], np.arange(picked.size).reshape(picked.shape)


class LazyArray4:
    """A read-only ``[a, b, rows, cols]`` float32 array whose ``[a, b]`` matrices come from
    ``matrix(a, b)`` (and ``[a, :]`` at once from ``block(a)`` when given). Indexing computes
    only the matrices it touches; ``np.asarray`` computes all of them. ``name`` and ``cheaper``
    go into the refusal when a request would not fit in free memory."""

    dtype = np.dtype(np.float32)
    ndim = 4

    def __init__(self, shape: tuple[int, int, int, int], matrix, *, block=None, name: str = "array",
                 cheaper: str = "index fewer matrices"):
        self.shape = tuple(int(s) for s in shape)
        self._matrix, self._block, self._name, self._cheaper = matrix, block, name, cheaper

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes the whole array would take (it is never held whole unless asked for)."""
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<lazy {self._name} {list(self.shape)} float32, {_gb(self.nbytes)} if computed whole>"

    def __getitem__(self, key):
        key = _expand(key, 4)
        a, b = self.shape[0], self.shape[1]
        outer, outer_key = _select(key[0], a)
        inner, inner_key = _select(key[1], b)
        rest = key[2:]
        basic = all(isinstance(k, slice) or (isinstance(k, (int, np.integer)) and not isinstance(k, bool)) for k in rest)
        for k, n in zip(rest, self.shape[2:]):
            if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for an axis of size {n}")
        if basic and len(rest) == 2:
            # keep the dimensions each matrix is cut to, so the whole key's rules apply afterwards
            keep = tuple(slice(k, (k + 1) or None) if isinstance(k, (int, np.integer)) else k for k in rest)
            cut = tuple(0 if isinstance(k, (int, np.integer)) else slice(None) for k in rest)
            probe = np.empty(self.shape[2:], np.bool_)[keep].shape
        else:
            keep, cut, probe = (slice(None), slice(None)), rest, self.shape[2:]
        need = len(outer) * len(inner) * int(np.prod(probe)) * 4 + self.shape[2] * self.shape[3] * 4
        self._check(need, key)
        out = np.empty((len(outer), len(inner), *probe), np.float32)
        for i, x in enumerate(outer):
            if self._block is not None and len(inner) > 1:
                block = self._block(x)
                for j, y in enumerate(inner):
                    out[i, j] = block[y][keep]
            else:
                for j, y in enumerate(inner):
                    out[i, j] = self._matrix(x, y)[keep]
        return out[(outer_key, inner_key, *cut)]

    def __array__(self, dtype=None, copy=None):
        whole = self[:, :, :, :]
        return whole if dtype is None else whole.astype(dtype)

    def __getattr__(self, name):
        # numpy's reductions and the like (sum, mean, max, ...) on the whole array, after the check
        if name.startswith("_") or not hasattr(np.ndarray, name):
            raise AttributeError(name)
        return getattr(np.asarray(self), name)

    def __eq__(self, other):
        return np.asarray(self) == other

    def _check(self, need: int, key) -> None:
        check_fits(need, f"{self._name}[{_show(key)}]", self._cheaper)


def check_fits(need: int, what: str, cheaper: str, *, share: float = 0.5) -> None:
    """Refuse (MemoryError) before allocating when ``need`` bytes would take more than ``share``
    of the memory that is free, naming ``what`` is asked for, its size and ``cheaper``, the call
    to make instead."""
    free = available_bytes()
    if free is not None and need > free * share:
        raise MemoryError(
            f"{what} needs {_gb(need)} and {_gb(free)} of memory is free: refused before allocating. {cheaper}"
        )


def _show(key) -> str:
    def one(k):
        if isinstance(k, slice):
            return ":" if k == slice(None) else f"{'' if k.start is None else k.start}:{'' if k.stop is None else k.stop}"
        if isinstance(k, np.ndarray):
            return f"<{k.dtype} array {list(k.shape)}>"
        return repr(k)
    return ", ".join(one(k) for k in key)


__all__ = ["LazyArray4", "available_bytes", "check_fits"]
