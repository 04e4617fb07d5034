"""AttentionView's work besides the forward pass: the slice the matrix shows (sent the moment
its layer is done), attention flow (seconds per layer: a thread of its own, with progress and
cancel, kept per part and layer) and the panes filled on first opening (head view, query-key
view, head summary, model-view thumbnails)."""

from __future__ import annotations

import threading

import numpy as np

from ..methods.attention import Cancelled
from ..methods.attention_views import _self_attention_only, aggregate
from ..results import AttentionResult
from ..wire import to_wire
from .attention_panes import head_view_window, query_key_payload, summary_payload, thumbnail_grid


READS_MAX_TOKENS = 2048
"""The heads that attend to a token most are computed for texts up to this length (every head's
whole matrix is computed once: layers x heads x T^2)."""


def attention_received(result: AttentionResult) -> np.ndarray:
    """``[layer_index, head, key]``: the mean weight each head gives ``key`` from the queries that
    may read it (``key..T-1`` when causal, every query otherwise), over ``result.layers``."""
    n = len(result.tokens)
    readers = np.arange(n, 0, -1, dtype=np.float32) if result.causal else np.full(n, float(n), np.float32)
    out = np.zeros((len(result.layers), result.n_heads, n), np.float32)
    for i, layer in enumerate(result.layers):
        out[i] = result.layer(layer).sum(axis=1) / readers
    return out


class AttentionJobs:
    """Mixin for :class:`~llmxai_widgets.AttentionView` (its traits, ``_results`` and ``_partials``)."""

    def _focus_moved(self, position: int) -> None:
        """The first token put in focus computes, for every token at once, how much each head
        attends to it (``reads``): the view lists the heads that read the token in focus most."""
        if position >= 0 and not self.reads and self.part == "self":
            threading.Thread(target=self._fill_reads, daemon=True).start()

    def _fill_reads(self) -> None:
        with self._panes_lock:
            result = self.result
            if result is None or not result.layers or self.reads:
                return
            if len(result.tokens) > READS_MAX_TOKENS:
                self.reads = {"skipped": f"the heads that read a token are listed for texts up to "
                                         f"{READS_MAX_TOKENS:,} tokens; this one has {len(result.tokens):,}"}
                return
            try:
                header, data = to_wire(attention_received(result))
                self.reads = {**header, "data": data, "layers": list(result.layers)}
            except Exception as err:  # shown in the view; the matrix stays
                self.error = f"could not compute which heads read each token: {type(err).__name__}: {err}"

    def _source(self, layer: int) -> AttentionResult | None:
        """The result of the shown part holding ``layer``, during or after the computation."""
        for result in (self._results.get(self.part), self._partials.get(self.part)):
            if result is not None and layer in result.sources:
                return result
        return None

    def _slice(self, layer: int, head: int, weights=None) -> tuple[dict, bytes]:
        """``[query, key]`` of what the matrix shows as uint8 over 0..its max (at most 0.2% of
        the max off); float16 when the colour scale covers only small weights (log scale, first
        token left out, a sentence-pair filter), so they keep three digits instead of a few
        uint8 steps of the largest weight."""
        how = self.aggregate
        if weights is None:
            weights = aggregate(self._source(layer), layer, how, head)
        if self._precise():
            header, data = to_wire(weights, quantize="float16")
        else:
            top = float(weights.max()) if weights.size else 1.0
            header, data = to_wire(weights, quantize="uint8", value_range=(0.0, top or 1.0))
        return {**header, "layer": layer, "head": head, "aggregate": how, "part": self.part}, data

    def _precise(self) -> bool:
        return self.log_scale or self.exclude_first or self.pair_filter != "all"

    def _update_pattern(self) -> None:
        # Assigning an equal dict sends nothing: a slice already streamed is not sent again.
        if self._source(self.layer) is None or not 0 <= self.head < self.n_heads:
            return
        if self.aggregate == "flow":
            self._show_flow()
            return
        header, data = self._slice(self.layer, self.head)
        self.pattern = {**header, "data": data}

    def _show_flow(self) -> None:
        """Attention flow takes seconds (a max flow per token pair): computed in a thread with
        progress and cancel, kept per (part, layer), drawn when done if still asked for."""
        key = (self.part, self.layer)
        if key in self._flows:
            header, data = self._slice(self.layer, self.head, self._flows[key])
            self.pattern = {**header, "data": data}
            return
        result = self._source(self.layer)
        _self_attention_only(result, "attention flow")
        from ..methods.attention_flow import MAX_TOKENS

        if len(result.tokens) > MAX_TOKENS:
            raise ValueError(
                f"attention flow solves a max flow for every pair of tokens through every layer; it is limited to "
                f"{MAX_TOKENS} tokens and this text has {len(result.tokens)}: choose rollout (its proportional "
                f"cousin, fast at any length) or a shorter text"
            )
        if key in self._flow_running:
            return
        self._flow_running.add(key)
        threading.Thread(target=self._compute_flow, args=(result, key), daemon=True).start()

    def _compute_flow(self, result: AttentionResult, key) -> None:
        from ..methods.attention_flow import attention_flow

        part, layer = key
        n = len(result.tokens)
        self._cancel.clear()
        with self.hold_sync():
            self.status, self.progress = "computing", 0.0
            self.progress_label = f"attention flow to layer {layer}"

        def on_row(i, _row):
            self.progress = (i + 1) / n
            self.progress_label = f"attention flow to layer {layer}: {i + 1} of {n} tokens"

        try:
            flow = attention_flow(result, layer, on_row=on_row, cancelled=lambda: self.cancelled)
        except Cancelled:
            with self.hold_sync():
                self.status, self.progress_label = "ready", "attention flow cancelled"
            return
        except Exception as err:  # shown in the view; the picture drawn stays
            with self.hold_sync():
                self.status, self.progress_label = "ready", ""
                self.error = f"could not compute attention flow: {type(err).__name__}: {err}"
            return
        finally:
            self._flow_running.discard(key)
        self._flows[key] = flow
        with self.hold_sync():
            self.status, self.progress, self.progress_label = "ready", 1.0, ""
            if (self.part, self.layer, self.aggregate) == (part, layer, "flow"):
                self._update_pattern()

    def _refresh_pane(self) -> None:
        if self.mode == "model" and not self.thumbnails:
            threading.Thread(target=self._fill_thumbnails, daemon=True).start()  # waits for the result
        elif self.mode == "summary" and not self.summary:
            threading.Thread(target=self._fill_summary, daemon=True).start()
        source = self._source(self.layer)
        if source is None or self.mode not in ("querykey", "head"):
            return
        try:
            if self.mode == "querykey":
                self.querykey = query_key_payload(source, self.layer, self.head, self.qk_query)
            else:
                self.headview = head_view_window(source, self.layer, self.hv_start)
        except (ValueError, IndexError) as err:
            self.error = str(err)

    def _fill_summary(self) -> None:
        """Per-head scores on this text (and induction on a repeated random sequence)."""
        with self._panes_lock:
            result = self.result
            if result is None or not result.layers or self.summary:
                return
            try:
                self.summary = summary_payload(result, self._model, self._tokens)
            except Exception as err:  # shown in the view; the other views stay usable
                self.error = f"could not compute the head summary: {type(err).__name__}: {err}"

    def _fill_thumbnails(self) -> None:
        """Thumbnails of every layer and head, streamed a layer at a time, then kept in a trait."""
        with self._panes_lock:
            result = self.result  # waits for a running computation
            if result is None or not result.layers or self.thumbnails:
                return

            def on_layer(layer, header, data):
                self.send_chunk("thumbs", {"tensor": {**header, "layer": layer, "part": result.part}}, [data])

            try:
                self.thumbnails = thumbnail_grid(result, on_layer=on_layer)
            except Exception as err:  # shown in the view; the matrix stays usable
                self.error = f"could not draw the model view: {type(err).__name__}: {err}"

