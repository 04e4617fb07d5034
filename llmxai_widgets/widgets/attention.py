"""``AttentionView``: attention explorer with five linked views (JS: js/widgets/attention.ts)."""

from __future__ import annotations

import threading

import traitlets as t

from ..methods.attention import SEQ2SEQ_PARTS, Cancelled, attention, check_index, encoder_decoder_attention
from ..methods.attention_views import AGGREGATES
from ..models.wrapped import LoadedModel, check_text
from ..results import AttentionResult
from .attention_figures import AttentionFigures
from .attention_jobs import AttentionJobs
from .base import bundle
from .view import View

MODES = ("matrix", "model", "summary", "querykey", "head")
PAIR_FILTERS = ("all", "AA", "AB", "BA", "BB")


class AttentionView(AttentionJobs, AttentionFigures, View):
    """Attention of ``model`` on ``text``: pick a layer and head, hover a cell for its weight.

    ``AttentionView(model, text, layer=0, head=0)`` computes every layer (streaming them to the
    view as they finish when inside a notebook) and draws ``pattern[layer, head]``.
    Sentence-pair encoders take ``text_pair=`` (the view can then limit the matrix to sentence
    A -> B and so on); encoder-decoders take ``target=`` (the decoder's text; None: the model's
    greedy output) and show ``part="cross"`` (default), "encoder" or "decoder" attention, all
    three computed in one pass. ``AttentionView.from_result(result)`` shows an
    :class:`AttentionResult` (or a dict of them by part) computed earlier.
    """

    _esm = bundle("attention")

    SAVES_HTML = True
    key_tokens = t.List(t.Unicode()).tag(sync=True)
    """Key token strings when they differ from the queries' (cross-attention: the encoder's
    tokens); empty for self-attention."""
    parts = t.List(t.Unicode()).tag(sync=True)
    """Attention parts this view can switch between ("encoder", "decoder", "cross" for an
    encoder-decoder); empty for a single-stack model."""
    part = t.Unicode("self").tag(sync=True)
    """The part shown ("self" for single-stack models)."""
    pair_filter = t.Unicode("all").tag(sync=True)
    """Sentence pairs: the matrix shows "all" tokens, or queries of one sentence reading keys of
    one sentence ("AA", "AB", "BA", "BB")."""
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
    reads = t.Dict().tag(sync=True)
    """Wire tensor ``[layer_index, head, key]`` (+ ``"layers"``): each head's mean weight on each
    token from the queries that may read it; filled when a token is first put in focus."""

    def __init__(
        self,
        model: LoadedModel | None = None,
        text: str | None = None,
        *,
        text_pair: str | None = None,
        target: str | None = None,
        part: str | None = None,
        max_new_tokens: int = 32,
        layer: int = 0,
        head: int = 0,
        background: bool | None = None,
        **kwargs,
    ):
        # before the traits: observers may run while super().__init__ sets them
        self._panes_lock = threading.Lock()
        self._results: dict[str, AttentionResult] = {}  # by part, once computed
        self._partials: dict[str, AttentionResult] = {}  # by part, while computing
        self._flows: dict[tuple[str, int], object] = {}  # attention flow by (part, layer)
        self._flow_running: set[tuple[str, int]] = set()
        super().__init__(background=background, **kwargs)
        if model is None:
            return  # from_result fills the traits
        tokens = self._open(model, text, text_pair=text_pair)
        head = check_index(head, model.n_heads, "head", model.name)
        self.special = [bool(s) for s in tokens.special]  # the decoder's are known once generated
        if model.kind == "seq2seq":
            part = "cross" if part is None else part
            if part not in SEQ2SEQ_PARTS:
                raise ValueError(f"part must be one of {', '.join(map(repr, SEQ2SEQ_PARTS))}, got {part!r}")
            if target is not None:
                check_text(target)
            n_layers = model.n_layers_of("encoder" if part == "encoder" else "decoder")
            layer = check_index(layer, n_layers, "layer", model.name)
            with self.hold_sync():
                self.n_layers, self.n_heads = n_layers, model.n_heads
                self.kv_group = [int(g) for g in model.kv_group]
                self.parts, self.part = list(SEQ2SEQ_PARTS), part
                self.layer, self.head = layer, head
            self._start(lambda: self._compute_seq2seq(model, tokens, target, max_new_tokens), background=background)
            return
        if part not in (None, "self"):
            raise ValueError(f"part={part!r} is for encoder-decoder models; {model.name} has one attention stack")
        if target is not None:
            raise ValueError(f"target= is the decoder text of an encoder-decoder; {model.name} is a {model.kind} model")
        layer = check_index(layer, model.n_layers, "layer", model.name)
        with self.hold_sync():
            self.n_layers, self.n_heads = model.n_layers, model.n_heads
            self.segments = [] if tokens.segments is None else [int(s) for s in tokens.segments]
            self.kv_group = [int(g) for g in model.kv_group]
            self.causal = model.kind == "causal"
            self.layer, self.head = layer, head
        self._recompute(model, tokens)

    @classmethod
    def from_result(cls, result, *, layer: int | None = None, head: int = 0, part: str | None = None, **kwargs):
        """A view of an :class:`AttentionResult`, or of ``encoder_decoder_attention``'s dict of
        them (``part`` picks the one shown first)."""
        results = dict(result) if isinstance(result, dict) else {result.part: result}
        part = part or ("cross" if "cross" in results else next(iter(results)))
        if part not in results:
            raise ValueError(f"part {part!r} is not in these results ({', '.join(results)})")
        mode = kwargs.pop("mode", None)
        view = cls(**kwargs)
        view._results = results
        if set(results) - {"self"}:
            view.parts = [p for p in SEQ2SEQ_PARTS if p in results]
        first = results[part]
        view._show_result(first, layer=first.layers[0] if layer is None else layer, head=head)
        if mode is not None:
            view.mode = mode
        return view

    @property
    def result(self) -> AttentionResult | None:
        """The :class:`AttentionResult` shown (waits for a running computation to end)."""
        self.wait()
        return self._results.get(self.part)

    @property
    def results(self) -> dict[str, AttentionResult]:
        """Every computed part's :class:`AttentionResult` (waits for a running computation)."""
        self.wait()
        return dict(self._results)

    # -- computation -----------------------------------------------------------------------------
    def _compute(self, model: LoadedModel, tokens) -> None:
        total = model.n_layers

        def on_layer(layer: int, partial: AttentionResult) -> None:
            self._partials["self"] = partial
            with self.hold_sync():
                self.available_layers = [*self.available_layers, layer]
                self.progress = (layer + 1) / total
                self.progress_label = f"layer {layer + 1} of {total}"
            if layer == self.layer:  # what the view shows travels at once; other layers on request
                self._update_pattern()
            if self.cancelled:
                raise Cancelled

        result = attention(model, tokens, on_layer=on_layer, keep_partial=True)
        self._results["self"] = result
        self._show_result(result, layer=self.layer, head=self.head)

    def _compute_seq2seq(self, model: LoadedModel, tokens, target, max_new_tokens: int) -> None:
        n_enc, n_dec = model.n_layers_of("encoder"), model.n_layers_of("decoder")
        total = n_enc + 2 * n_dec
        if target is None:
            self.progress_label = "generating the decoder's text…"
        done = []

        def on_layer(part: str, layer: int, partial: AttentionResult) -> None:
            self._partials[part] = partial
            done.append(part)
            with self.hold_sync():
                if part == self.part:
                    if len(partial.layers) == 1:
                        self._show_tokens(partial)
                    self.available_layers = list(partial.layers)
                self.progress = len(done) / total
                self.progress_label = f"{part} layer {layer + 1}, {len(done)} of {total} attention layers"
            if part == self.part and layer == self.layer:
                self._update_pattern()
            if self.cancelled:
                raise Cancelled

        results = encoder_decoder_attention(
            model, tokens, target, max_new_tokens=max_new_tokens, on_layer=on_layer, keep_partial=True
        )
        self._results.update(results)
        self._show_result(results[self.part], layer=self.layer, head=self.head)

    def _show_tokens(self, result: AttentionResult) -> None:
        """Traits that describe the matrix of ``result`` (its part's tokens, shape, masking)."""
        self.tokens, self.special = list(result.tokens.text), [bool(s) for s in result.tokens.special]
        self.key_tokens = [] if result.key_tokens is None else list(result.key_tokens.text)
        segments = result.tokens.segments if result.key_tokens is None else None
        self.segments = [] if segments is None else [int(s) for s in segments]
        self.causal = result.causal
        self.n_layers = result.n_model_layers

    def _show_result(self, result: AttentionResult, *, layer: int, head: int) -> None:
        self._partials.pop(result.part, None)
        if not result.layers:
            with self.hold_sync():
                self.status, self.progress_label = "cancelled", "cancelled before any layer finished"
            return
        if layer not in result.layers:
            layer = result.layers[-1]
        with self.hold_sync():
            self.model_name = result.model_name
            self._show_tokens(result)
            self.n_heads = result.n_heads
            self.kv_group = [int(g) for g in result.kv_group]
            self.available_layers = list(result.layers)
            with self._silent():  # one slice for the final (part, layer, head), not one per trait
                self.part = result.part
                self.head = check_index(head, result.n_heads, "head", result.model_name)
                self.layer = layer
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
        self._refresh_pane()  # a pane opened before the result existed

    # -- reactions to the view -------------------------------------------------------------------
    @t.validate("layer")
    def _valid_layer(self, proposal):
        return self._indexed(proposal, self.n_layers, self.model_name)

    @t.validate("head")
    def _valid_head(self, proposal):
        return self._indexed(proposal, self.n_heads, self.model_name)

    @t.validate("aggregate", "mode", "pair_filter", "part")
    def _valid_choice(self, proposal):
        choices = {"aggregate": AGGREGATES, "mode": MODES, "pair_filter": PAIR_FILTERS,
                   "part": tuple(self.parts) or ("self",)}
        return self._choose(proposal, choices[proposal["trait"].name])

    @t.observe("layer", "head", "aggregate", "log_scale", "exclude_first", "pair_filter")
    def _selection_changed(self, _change) -> None:
        if self._quiet:
            return
        try:
            self._update_pattern()
        except ValueError as err:  # e.g. rollout over layers that were not computed
            self.error = str(err)

    @t.observe("part")
    def _part_changed(self, change) -> None:
        """Another part of an encoder-decoder: its tokens, layers and panes replace the old."""
        if self._quiet or change["old"] == change["new"]:
            return
        result = self._results.get(self.part) or self._partials.get(self.part)
        with self.hold_sync():
            self.thumbnails, self.summary, self.headview, self.querykey = {}, {}, {}, {}
            if result is None:  # not reached yet by the running computation
                self.available_layers = []
                return
            self._show_tokens(result)
            self.available_layers = list(result.layers)
            if self.layer >= self.n_layers:
                self._quietly(layer=self.n_layers - 1)
            if self.aggregate in ("rollout", "flow") and self.part == "cross":
                self.aggregate = "mean"
            self._update_pattern()
            self._refresh_pane()

    @t.observe("mode", "layer", "head", "qk_query", "hv_start")
    def _pane_selection_changed(self, change) -> None:
        if self._quiet:
            return
        if change["name"] in ("layer", "head") and self.mode in ("model", "summary"):
            return  # those panes cover every layer and head
        self._refresh_pane()

    @t.observe("status", "layer", "head", "aggregate", "part", "pair_filter", "colormap", "log_scale",
               "exclude_first", "pattern")
    def _static_changed(self, change) -> None:
        self._static_follows(change)


    def show(
        self,
        layer: int | None = None,
        head: int | None = None,
        *,
        aggregate: str | None = None,
        mode: str | None = None,
        part: str | None = None,
        pair_filter: str | None = None,
    ) -> AttentionView:
        """Switch the view to ``layer``/``head`` (or an ``aggregate``), to another view
        (``mode="model"``, ...), another ``part`` of an encoder-decoder, or a sentence-pair
        filter ("AB": sentence A's queries reading sentence B); a clear error if out of range."""
        if head is not None and aggregate is None:
            aggregate = "head"  # a head asked for is shown as itself
        self._set_given(part=part, pair_filter=pair_filter, head=head, aggregate=aggregate, layer=layer, mode=mode)
        return self


__all__ = ["AttentionView"]
