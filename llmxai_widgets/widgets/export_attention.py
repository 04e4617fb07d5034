"""What a standalone page of an :class:`~llmxai_widgets.AttentionView` embeds so that it answers
the view's layer, head, aggregate and part choices without Python: uint8 slices of every
(part, layer, head), the mean and max of heads, rollout, the model-view thumbnails and a head
summary, packed into one base64 blob while the page stays under ``max_bytes``
(see :func:`~llmxai_widgets.widgets.export_html.to_html`)."""

from __future__ import annotations

import base64
import warnings

from ipywidgets.widgets.widget import _remove_buffers

from ..wire import to_wire
from .export_html import _SLACK, _Page, script_json


class _Blob:
    """Bytes of many values in one base64 string; each packed value says where its buffers sit."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.size = 0

    def pack(self, value: dict) -> dict:
        stripped, paths, buffers = _remove_buffers(value)
        where = []
        for p, b in zip(paths, buffers):
            data = bytes(b)
            pad = -self.size % 4  # aligned, so float32 buffers need no copy in the browser
            if pad:
                self.chunks.append(b"\0" * pad)
                self.size += pad
            where.append({"path": list(p), "offset": self.size, "length": len(data)})
            self.chunks.append(data)
            self.size += len(data)
        return {"value": stripped, "buffers": where}

    @staticmethod
    def b64_len(size: int) -> int:
        return 4 * -(-size // 3)

    def encode(self) -> str:
        return base64.standard_b64encode(b"".join(self.chunks)).decode("ascii")


class EmbeddedAttention:
    """What an AttentionView page embeds so it answers the view without Python."""

    def __init__(self, view, page: _Page, *, embed_all: bool, max_bytes: int):
        self.view, self.page, self.embed_all, self.max_bytes = view, page, embed_all, max_bytes
        self.blob = _Blob()
        self.extras = {"kind": "attention", "embed_all": embed_all, "parts": {}, "slices": [], "skipped": 0}
        self.used = 0  # bytes the page grew by beyond its base
        self.room = 0

    def fill(self) -> None:
        page, view = self.page, self.view
        page.extras = self.extras
        results = view.results if self.embed_all else {}
        shown = view.part
        order = [p for p in (shown, *results) if p in results]
        order = list(dict.fromkeys(order))
        for part in order:
            self.extras["parts"][part] = {"traits": _part_traits(results[part])}
        self.extras["blob"] = ""
        self.room = self.max_bytes - len(page.render().encode("utf-8")) - _SLACK
        self.have = self._in_state()
        for part in order:
            self._fill_part(results[part], first=part == shown)
        self.extras["blob"] = self.blob.encode()
        count = len(self.extras["slices"]) + len(self.have["slices"])
        if not self.embed_all:
            page.note += " Only the picture shown at export is embedded (embed_all=False)."
        else:
            skipped = self.extras["skipped"]
            page.note += f" {count} attention pictures embedded" + (
                f"; {skipped} more left out to stay under {self.max_bytes:,} bytes." if skipped
                else " (every layer and head, their mean and max, and rollout)."
            )

    def _in_state(self) -> dict:
        """What the view's own state already holds (the host picks it up from there)."""
        view = self.view
        p = view.pattern
        slices = set()
        if p and p.get("dtype") == "uint8":
            slices.add(_key(p.get("part", "self"), p["layer"], p.get("aggregate", "head"), p["head"]))
        panes = {name: (getattr(view, name) or {}).get("part", "self") for name in ("thumbnails", "summary") if getattr(view, name)}
        return {"slices": slices, "panes": panes}

    def _add(self, value: dict) -> dict | None:
        """Pack ``value`` if the page stays under max_bytes."""
        before, chunks = self.blob.size, len(self.blob.chunks)
        packed = self.blob.pack(value)
        grown = self.blob.b64_len(self.blob.size) - self.blob.b64_len(before)
        cost = grown + len(script_json(packed).encode("utf-8")) + 1
        if self.used + cost > self.room:
            del self.blob.chunks[chunks:]
            self.blob.size = before
            return None
        self.used += cost
        return packed

    def _fits(self, nbytes: int) -> bool:
        """Room for ``nbytes`` of data and its JSON header (checked before computing it)."""
        return self.used + self.blob.b64_len(nbytes + 3) + 300 <= self.room

    def _fill_part(self, result, *, first: bool) -> None:
        from ..methods.attention_views import aggregate
        from .attention_panes import summary_payload, thumbnail_grid

        view, part = self.view, result.part
        layers = sorted(result.layers, key=lambda layer: (abs(layer - view.layer), layer)) if first else list(result.layers)
        heads = list(range(result.n_heads))
        if first and 0 <= view.head < result.n_heads:
            heads.remove(view.head)
            heads.insert(0, view.head)
        size = len(result.tokens) * len(result.keys)
        entry = self.extras["parts"][part]

        def slice_(layer, how, head=0) -> bool:
            key = _key(part, layer, how, head)
            if key in self.have["slices"]:
                return True
            if not self._fits(size):
                self.extras["skipped"] += 1
                return False
            weights = aggregate(result, layer, how, head)
            top = float(weights.max()) if weights.size else 1.0
            header, data = to_wire(weights, quantize="uint8", value_range=(0.0, top or 1.0))
            packed = self._add({**header, "layer": layer, "head": head, "aggregate": how, "part": part, "data": data})
            if packed is None:
                self.extras["skipped"] += 1
                return False
            self.extras["slices"].append(packed)
            return True

        complete = True
        for i, layer in enumerate(layers):
            for head in heads:
                complete &= slice_(layer, "head", head)
            slice_(layer, "mean")
            slice_(layer, "max")
            if i == 0 and self.have["panes"].get("thumbnails") != part:
                n_thumb = len(result.layers) * result.n_heads * min(len(result.tokens), 48) * min(len(result.keys), 48)
                if self._fits(n_thumb):
                    packed = self._add(thumbnail_grid(result))
                    if packed is not None:
                        entry["thumbnails"] = packed
        if part != "cross":
            for layer in sorted(result.layers):
                if all(prior in result.sources for prior in range(layer + 1)):
                    slice_(layer, "rollout")
        if complete and self.have["panes"].get("summary") != part:
            # the weights-only scores (the live view adds induction, which runs the model)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # e.g. no previous token in a 1-token text
                summary = summary_payload(result)
            packed = self._add(summary)
            if packed is not None:
                entry["summary"] = packed


def _key(part: str, layer: int, how: str, head: int) -> tuple:
    return (part, layer, how, head if how == "head" else None)


def _part_traits(result) -> dict:
    """The traits AttentionView._show_tokens (and _part_changed) set for ``result``'s part."""
    segments = result.tokens.segments if result.key_tokens is None else None
    return {
        "tokens": list(result.tokens.text),
        "special": [bool(s) for s in result.tokens.special],
        "key_tokens": [] if result.key_tokens is None else list(result.key_tokens.text),
        "segments": [] if segments is None else [int(s) for s in segments],
        "causal": bool(result.causal),
        "n_layers": int(result.n_model_layers),
        "available_layers": [int(layer) for layer in result.layers],
    }
