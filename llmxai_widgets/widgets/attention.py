"""``AttentionView``: one layer/head attention matrix as a canvas heatmap (JS: js/widgets/attention.ts)."""

from __future__ import annotations

import traitlets as t

import threading

from ..methods.attention import Cancelled, attention, check_index
from ..methods.attention_views import AGGREGATES, aggregate, query_key, thumbnails
from ..methods.head_summary import head_summary, pattern_scores
from ..models.wrapped import LoadedModel, check_text
from ..results import AttentionResult
from ..wire import to_wire
from .base import ExplainerWidget, bundle


MODES = ("matrix", "model", "summary", "querykey", "head")
HEAD_VIEW_TOKENS = 96


class AttentionView(ExplainerWidget):
    """Attention of ``model`` on ``text``: pick a layer and head, hover a cell for its weight.

    ``AttentionView(model, text, layer=0, head=0)`` (``text_pair=`` for sentence-pair encoders)
    computes every layer (streaming them to the
    view as they finish when inside a notebook) and draws ``pattern[layer, head]``.
    ``AttentionView.from_result(result)`` shows an :class:`AttentionResult` computed earlier.
    """

    _esm = bundle("attention")

    model_name = t.Unicode("").tag(sync=True)
    tokens = t.List(t.Unicode()).tag(sync=True)
    """Token strings as shown (exact source characters); untrusted text, drawn as text only."""
    special = t.List(t.Bool()).tag(sync=True)
    segments = t.List(t.Int()).tag(sync=True)
    """Sentence A/B of each token (0/1) for sentence pairs; empty for a single text."""
    causal = t.Bool(False).tag(sync=True)
    """True when a token attends only to itself and earlier tokens (the view greys out the rest)."""
    n_layers = t.Int(0).tag(sync=True)
    n_heads = t.Int(0).tag(sync=True)
    kv_group = t.List(t.Int()).tag(sync=True)
    """``kv_group[head]``: key/value head each query head reads (grouped-query attention)."""
    available_layers = t.List(t.Int()).tag(sync=True)
    """Layers Python holds; the view can ask for any of them by setting ``layer``."""
    layer = t.Int(0).tag(sync=True)
    head = t.Int(0).tag(sync=True)
    pattern = t.Dict().tag(sync=True)
    """Wire tensor ``[query, key]`` (uint8 with scale/offset) of ``pattern["layer"]``,
    ``pattern["head"]``: only the slice the view shows travels."""
    colormap = t.Unicode("viridis").tag(sync=True)
    aggregate = t.Unicode("head").tag(sync=True)
    """What the matrix shows: "head" (one head), "mean" or "max" over the layer's heads, or
    "rollout" (attention rollout through layers 0..layer)."""
    mode = t.Unicode("matrix").tag(sync=True)
    """"matrix" (one layer/head), "model" (thumbnails of every layer and head) or "summary"
    (per-head scores: sink, previous token, induction, entropy)."""
    hv_start = t.Int(0).tag(sync=True)
    """First token of the head view's window (the head view shows up to 96 tokens at a time)."""
    headview = t.Dict().tag(sync=True)
    """The head view's data: ``{"layer", "start"}`` and a wire tensor ``[head, query, key]``
    (uint8 over 0..1) of the window's tokens, every head of the layer."""
    qk_query = t.Int(-1).tag(sync=True)
    """Query token of the query-key view (-1: the last token)."""
    querykey = t.Dict().tag(sync=True)
    """The query-key view's data for (layer, head, qk_query): wire tensors ``keys``,
    ``query_vector``, ``key_vectors``, ``products``, ``scores``, ``weights`` (see
    ``methods.attention_views.query_key``)."""
    summary = t.Dict().tag(sync=True)
    """``{"layers": [...], "names": [...], "scores": {name: wire tensor [layer_index, head]}}``,
    filled when the summary is first opened."""
    thumbnails = t.Dict().tag(sync=True)
    """Wire tensor ``[layer_index, head, s, s]`` (uint8, each thumbnail scaled to its own maximum)
    plus ``"layers"``; filled when the model view is first opened."""
    exclude_first = t.Bool(False).tag(sync=True)
    """Leave the first token's column out of the colour scale (attention sinks dwarf the rest)."""
    log_scale = t.Bool(False).tag(sync=True)
    """Colour by log10(weight) over three decades below the maximum."""

    def __init__(
        self,
        model: LoadedModel | None = None,
        text: str | None = None,
        *,
        text_pair: str | None = None,
        layer: int = 0,
        head: int = 0,
        background: bool | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._thumbs_lock = threading.Lock()
        self._model: LoadedModel | None = None
        self._tokens = None
        self._result: AttentionResult | None = None
        self._partial: AttentionResult | None = None  # the result still being computed
        self._suspend = False
        if model is None:
            return  # from_result fills the traits
        if not isinstance(model, LoadedModel):
            raise TypeError(
                f"model must come from llmxai_widgets.load_model(), got {type(model).__name__}; "
                f"wrap a transformers model with load_model(model=m, tokenizer=t)"
            )
        check_text(text)
        tokens = model.tokenize(text, text_pair)
        model.check_length(tokens)
        layer = check_index(layer, model.n_layers, "layer", model.name)
        head = check_index(head, model.n_heads, "head", model.name)
        self._model, self._tokens = model, tokens
        with self.hold_sync():
            self.model_name, self.n_layers, self.n_heads = model.name, model.n_layers, model.n_heads
            self.tokens, self.special = list(tokens.text), [bool(s) for s in tokens.special]
            self.segments = [] if tokens.segments is None else [int(s) for s in tokens.segments]
            self.kv_group = [int(g) for g in model.kv_group]
            self.causal = model.kind in ("causal", "seq2seq")
            self.layer, self.head = layer, head
        self._start(lambda: self._compute(model, tokens), background=background)

    @classmethod
    def from_result(cls, result: AttentionResult, *, layer: int | None = None, head: int = 0, **kwargs):
        view = cls(**kwargs)
        view._show_result(result, layer=result.layers[0] if layer is None else layer, head=head)
        return view

    @property
    def result(self) -> AttentionResult | None:
        """The :class:`AttentionResult` shown (waits for a running computation to end)."""
        self.wait()
        return self._result

    # -- computation -----------------------------------------------------------------------------
    def _compute(self, model: LoadedModel, tokens) -> None:
        total = model.n_layers

        def on_layer(layer: int, partial: AttentionResult) -> None:
            self._partial = partial
            with self.hold_sync():
                self.available_layers = [*self.available_layers, layer]
                self.progress = (layer + 1) / total
                self.progress_label = f"layer {layer + 1} of {total}"
            if layer == self.layer:  # stream what the view shows; other layers on request
                header, data = self._slice(layer, self.head)
                self.send_chunk("slice", {"tensor": header}, [data])
            if self.cancelled:
                raise Cancelled

        result = attention(model, tokens, on_layer=on_layer, keep_partial=True)
        self._show_result(result, layer=self.layer, head=self.head)

    def _show_result(self, result: AttentionResult, *, layer: int, head: int) -> None:
        self._result = result
        self._partial = None
        if not result.layers:
            with self.hold_sync():
                self.status, self.progress_label = "cancelled", "cancelled before any layer finished"
            return
        if layer not in result.layers:
            layer = result.layers[-1]
        with self.hold_sync():
            self.model_name = result.model_name
            self.tokens, self.special = list(result.tokens.text), [bool(s) for s in result.tokens.special]
            self.n_layers, self.n_heads = result.n_model_layers, result.n_heads
            self.kv_group = [int(g) for g in result.kv_group]
            self.available_layers = list(result.layers)
            self._suspend = True  # one slice for the final (layer, head), not one per trait
            try:
                self.head = check_index(head, result.n_heads, "head", result.model_name)
                self.layer = layer
            finally:
                self._suspend = False
            self._update_pattern()
            self.progress = 1.0
            if result.complete:
                self.status, self.progress_label = "ready", ""
            elif result.failure:
                self.status, self.error = "error", f"{result.failure} (the layers computed before it are kept)"
                self.progress_label = f"failed: {len(result.layers)} of {result.n_model_layers} layers kept"
            else:
                self.status = "cancelled"
                self.progress_label = f"cancelled: {len(result.layers)} of {result.n_model_layers} layers kept"

    def _source(self, layer: int) -> AttentionResult | None:
        """The result holding ``layer``, during or after the computation."""
        for result in (self._result, self._partial):
            if result is not None and layer in result.sources:
                return result
        return None

    def _slice(self, layer: int, head: int) -> tuple[dict, bytes]:
        """``[query, key]`` of what the matrix shows as uint8 over 0..its max (at most 0.2% of
        the max off); float16 when the log scale is on, so small weights keep their digits."""
        how = self.aggregate
        weights = aggregate(self._source(layer), layer, how, head)
        if self.log_scale:
            header, data = to_wire(weights, quantize="float16")
        else:
            top = float(weights.max()) if weights.size else 1.0
            header, data = to_wire(weights, quantize="uint8", value_range=(0.0, top or 1.0))
        return {**header, "layer": layer, "head": head, "aggregate": how}, data

    def _update_pattern(self) -> None:
        if self._source(self.layer) is not None and 0 <= self.head < self.n_heads:
            header, data = self._slice(self.layer, self.head)
            self.pattern = {**header, "data": data}

    # -- reactions to the view -------------------------------------------------------------------
    @t.validate("layer")
    def _valid_layer(self, proposal):
        return self._checked(proposal["value"], self.n_layers, "layer")

    @t.validate("head")
    def _valid_head(self, proposal):
        return self._checked(proposal["value"], self.n_heads, "head")

    def _checked(self, value, count: int, what: str) -> int:
        if count == 0:  # not filled yet
            return value
        try:
            return check_index(value, count, what, self.model_name or "the model")
        except (IndexError, TypeError) as err:
            self.error = str(err)  # the view shows it; the current picture stays
            raise t.TraitError(str(err)) from None

    @t.validate("aggregate", "mode")
    def _valid_choice(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        choices = AGGREGATES if name == "aggregate" else MODES
        if value not in choices:
            message = f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
            self.error = message  # the view shows it; the current picture stays
            raise t.TraitError(message)
        return value

    @t.observe("layer", "head", "aggregate", "log_scale")
    def _selection_changed(self, _change) -> None:
        if getattr(self, "_suspend", False):
            return
        try:
            self._update_pattern()
        except ValueError as err:  # e.g. rollout over layers that were not computed
            self.error = str(err)

    @t.observe("mode", "layer", "head", "qk_query", "hv_start")
    def _querykey_changed(self, _change) -> None:
        if self.mode == "querykey":
            self._update_querykey()
        elif self.mode == "head":
            self._update_headview()

    def _update_headview(self) -> None:
        source = self._source(self.layer)
        if source is None:
            return
        n = len(source.tokens)
        size = min(n, HEAD_VIEW_TOKENS)
        start = max(0, min(self.hv_start, n - size))
        window = source.layer(self.layer)[:, start : start + size, start : start + size]
        header, data = to_wire(window, quantize="uint8", value_range=(0.0, 1.0))
        self.headview = {"layer": self.layer, "start": start, **header, "data": data}

    def _update_querykey(self) -> None:
        source = self._source(self.layer)
        if source is None:
            return
        n = len(source.tokens)
        query = self.qk_query if self.qk_query >= 0 else n - 1
        try:
            parts = query_key(source, self.layer, self.head, query)
        except (ValueError, IndexError) as err:
            self.error = str(err)
            return
        wire = {}
        for name, values in parts.items():
            header, data = to_wire(values)
            wire[name] = {**header, "data": data}
        self.querykey = {"layer": self.layer, "head": self.head, "query": query, **wire}

    @t.observe("mode")
    def _mode_changed(self, change) -> None:
        if change["new"] == "model" and not self.thumbnails:
            threading.Thread(target=self._fill_thumbnails, daemon=True).start()
        if change["new"] == "summary" and not self.summary:
            threading.Thread(target=self._fill_summary, daemon=True).start()

    def _fill_summary(self) -> None:
        """Per-head scores on this text (and induction on a repeated random sequence)."""
        with self._thumbs_lock:
            result = self.result
            if result is None or not result.layers or self.summary:
                return
            try:
                if self._model is not None and result.complete:
                    hs = head_summary(self._model, self._tokens)
                    scores = {name: hs.score(name) for name in hs.score_names}
                else:  # a result without its model: what the weights alone can say
                    scores = pattern_scores(result)
            except Exception as err:  # shown in the view; the other views stay usable
                self.error = f"could not compute the head summary: {type(err).__name__}: {err}"
                return
            wire = {}
            for name, values in scores.items():
                header, data = to_wire(values)
                wire[name] = {**header, "data": data}
            self.summary = {"layers": list(result.layers), "names": list(scores), "scores": wire}

    def _fill_thumbnails(self) -> None:
        """Thumbnails of every layer and head, streamed a layer at a time, then kept in a trait."""
        with self._thumbs_lock:
            result = self.result  # waits for a running computation
            if result is None or not result.layers or self.thumbnails:
                return

            def on_layer(layer, thumbs):
                header, data = to_wire(thumbs, quantize="uint8", value_range=(0.0, 1.0))
                self.send_chunk("thumbs", {"tensor": {**header, "layer": layer}}, [data])

            try:
                grid = thumbnails(result, on_layer=on_layer)
            except Exception as err:  # shown in the view; the matrix stays usable
                self.error = f"could not draw the model view: {type(err).__name__}: {err}"
                return
            header, data = to_wire(grid, quantize="uint8", value_range=(0.0, 1.0))
            self.thumbnails = {**header, "layers": list(result.layers), "data": data}

    def show(
        self,
        layer: int | None = None,
        head: int | None = None,
        *,
        aggregate: str | None = None,
        mode: str | None = None,
    ) -> AttentionView:
        """Switch the view to ``layer``/``head`` (or an ``aggregate``), or to the model view
        (``mode="model"``); a clear error if out of range."""
        with self.hold_sync():
            if head is not None:
                self.head = head
                self.aggregate = "head" if aggregate is None else aggregate
            if aggregate is not None:
                self.aggregate = aggregate
            if layer is not None:
                self.layer = layer
            if mode is not None:
                self.mode = mode
        return self


__all__ = ["AttentionView"]
