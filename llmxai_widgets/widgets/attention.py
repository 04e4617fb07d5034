"""``AttentionView``: attention explorer with five linked views (JS: js/widgets/attention.ts)."""

from __future__ import annotations

import threading

import traitlets as t

from ..methods.attention import SEQ2SEQ_PARTS, Cancelled, attention, check_index, encoder_decoder_attention
from ..methods.attention_views import AGGREGATES, _self_attention_only, aggregate
from ..models.wrapped import LoadedModel, check_text
from ..results import AttentionResult
from ..wire import decode, to_wire
from .attention_panes import head_view_window, query_key_payload, summary_payload, thumbnail_grid
from .base import ExplainerWidget, bundle

MODES = ("matrix", "model", "summary", "querykey", "head")
PAIR_FILTERS = ("all", "AA", "AB", "BA", "BB")


class AttentionView(ExplainerWidget):
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

    model_name = t.Unicode("").tag(sync=True)
    tokens = t.List(t.Unicode()).tag(sync=True)
    """Query token strings as shown (exact source characters); untrusted text, drawn as text only."""
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
        self._model: LoadedModel | None = None
        self._tokens = None
        self._results: dict[str, AttentionResult] = {}  # by part, once computed
        self._partials: dict[str, AttentionResult] = {}  # by part, while computing
        self._suspend = False
        self._flows: dict[tuple[str, int], object] = {}  # attention flow by (part, layer)
        self._flow_running: set[tuple[str, int]] = set()
        super().__init__(**kwargs)
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
        head = check_index(head, model.n_heads, "head", model.name)
        self._model, self._tokens = model, tokens
        if model.kind == "seq2seq":
            part = "cross" if part is None else part
            if part not in SEQ2SEQ_PARTS:
                raise ValueError(f"part must be one of {', '.join(map(repr, SEQ2SEQ_PARTS))}, got {part!r}")
            if target is not None:
                check_text(target)
            n_layers = model.n_layers_of("encoder" if part == "encoder" else "decoder")
            layer = check_index(layer, n_layers, "layer", model.name)
            with self.hold_sync():
                self.model_name, self.n_layers, self.n_heads = model.name, n_layers, model.n_heads
                self.kv_group = [int(g) for g in model.kv_group]
                self.parts, self.part = list(SEQ2SEQ_PARTS), part
                self.layer, self.head = layer, head
                # the decoder's tokens are known once generated; until then show the source
                self.tokens, self.special = list(tokens.text), [bool(s) for s in tokens.special]
            self._start(lambda: self._compute_seq2seq(model, tokens, target, max_new_tokens), background=background)
            return
        if part not in (None, "self"):
            raise ValueError(f"part={part!r} is for encoder-decoder models; {model.name} has one attention stack")
        if target is not None:
            raise ValueError(f"target= is the decoder text of an encoder-decoder; {model.name} is a {model.kind} model")
        layer = check_index(layer, model.n_layers, "layer", model.name)
        with self.hold_sync():
            self.model_name, self.n_layers, self.n_heads = model.name, model.n_layers, model.n_heads
            self.tokens, self.special = list(tokens.text), [bool(s) for s in tokens.special]
            self.segments = [] if tokens.segments is None else [int(s) for s in tokens.segments]
            self.kv_group = [int(g) for g in model.kv_group]
            self.causal = model.kind == "causal"
            self.layer, self.head = layer, head
        self._start(lambda: self._compute(model, tokens), background=background)

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
            self._suspend = True  # one slice for the final (part, layer, head), not one per trait
            try:
                self.part = result.part
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
        self._refresh_pane()  # a pane opened before the result existed

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

    @t.validate("aggregate", "mode", "pair_filter", "part")
    def _valid_choice(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        choices = {
            "aggregate": AGGREGATES, "mode": MODES, "pair_filter": PAIR_FILTERS,
            "part": tuple(self.parts) or ("self",),
        }[name]
        if value not in choices:
            message = f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
            self.error = message  # the view shows it; the current picture stays
            raise t.TraitError(message)
        return value

    @t.observe("layer", "head", "aggregate", "log_scale", "exclude_first", "pair_filter")
    def _selection_changed(self, _change) -> None:
        if getattr(self, "_suspend", False):
            return
        try:
            self._update_pattern()
        except ValueError as err:  # e.g. rollout over layers that were not computed
            self.error = str(err)

    @t.observe("part")
    def _part_changed(self, change) -> None:
        """Another part of an encoder-decoder: its tokens, layers and panes replace the old."""
        if getattr(self, "_suspend", False) or change["old"] == change["new"]:
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
                self._suspend = True
                try:
                    self.layer = self.n_layers - 1
                finally:
                    self._suspend = False
            if self.aggregate in ("rollout", "flow") and self.part == "cross":
                self.aggregate = "mean"
            self._update_pattern()
            self._refresh_pane()

    @t.observe("mode", "layer", "head", "qk_query", "hv_start")
    def _pane_selection_changed(self, change) -> None:
        if getattr(self, "_suspend", False):
            return
        if change["name"] in ("layer", "head") and self.mode in ("model", "summary"):
            return  # those panes cover every layer and head
        self._refresh_pane()

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

    # -- figures -----------------------------------------------------------------------------------
    def figure(self, **options):
        """What the matrix shows now (part, layer, head or aggregate, sentence-pair filter, colour
        map and scale) as a :class:`~llmxai_widgets.figures.Figure`, at full precision (not the
        uint8 the browser gets). ``options`` override: see
        :class:`~llmxai_widgets.figures.FigureOptions` (width, height, font_family, font_size,
        colormap, colorbar, colorbar_label, title, rotation, log, exclude_first, theme, dpi) and
        ``tokens=(start, stop)``, ``rows=``, ``cols=`` for a token range."""
        if self.mode == "model":
            return self._grid_figure(**options)
        if self.mode == "summary":
            return self._summary_figure(**options)
        if self.mode == "head":
            return self._head_view_figure(**options)
        if self.mode == "querykey":
            return self._query_key_figure(**options)
        return self._matrix_figure(**options)

    def _query_key_figure(self, *, query: int | None = None, **options):
        """The query-key view for ``query`` (default: the one on screen, else the last token)."""
        from ..figures import FigureOptions
        from ..figures.views import query_key_figure
        from ..methods.attention_views import query_key

        result = self._shown_result()
        q = self.qk_query if query is None else int(query)
        q = q if q >= 0 else len(result.tokens) - 1
        parts = query_key(result, self.layer, self.head, q)
        options.setdefault("title", f"{self.model_name}, layer {self.layer}, head {self.head}")
        return query_key_figure(parts, list(result.tokens.text), list(result.keys.text), q,
                                options=FigureOptions(**options))

    def _shown_result(self) -> AttentionResult:
        result = self._source(self.layer)  # not self.result: that waits for a running computation
        if result is None:
            raise ValueError(
                f"nothing to save yet: layer {self.layer} is not computed (view.wait() waits for the computation)"
            )
        return result

    def _grid_figure(self, *, layers=None, heads=None, **options):
        """The model view: ``layers`` and ``heads`` pick a subset (default: all computed)."""
        from ..figures import FigureOptions
        from ..figures.views import grid_figure

        options.setdefault("colormap", self.colormap)
        return grid_figure(self._shown_result(), layers=layers, heads=heads, options=FigureOptions(**options))

    def _summary_figure(self, *, score: str | None = None, layers=None, **options):
        """The head summary: ``score`` (default: the one the view would show first, induction
        when computed) over ``layers`` (default all)."""
        from ..figures import FigureOptions
        from ..figures.views import summary_figure
        from ..methods.head_summary import pattern_scores

        if self.summary:
            scores = {name: decode(tensor) for name, tensor in self.summary["scores"].items()}
            rows = list(self.summary["layers"])
        else:
            result = self._shown_result()
            scores, rows = pattern_scores(result), list(result.layers)
        name = score or ("induction" if "induction" in scores else "sink")
        if name not in scores:
            raise ValueError(f"unknown score {name!r}; this summary has {', '.join(scores)}")
        values = scores[name]
        if layers is not None:
            keep = [i for i, layer in enumerate(rows) if layer in set(layers)]
            values, rows = values[keep], [rows[i] for i in keep]
        options.setdefault("colormap", self.colormap)
        return summary_figure(values, rows, name, options=FigureOptions(**options))

    def _head_view_figure(self, *, heads=None, focus: int | None = None, tokens=None, **options):
        """The head view of the current layer: the window on screen (or ``tokens=(start, stop)``),
        ``heads`` to pick some, ``focus`` to keep one query token's lines."""
        from ..figures import FigureOptions
        from ..figures.views import head_view_figure

        result = self._shown_result()
        if tokens is not None:
            start, stop = (int(v) for v in tokens)
            window = result.layer(self.layer)[:, start:stop, :]
            if result.key_tokens is None:
                window, key_start = window[:, :, start:stop], start
            else:
                key_start = 0
        else:
            payload = head_view_window(result, self.layer, self.hv_start)
            start, key_start = payload["start"], payload["key_start"]
            n_q, n_k = payload["shape"][1:]
            window = result.layer(self.layer)[:, start:start + n_q, key_start:key_start + n_k]
        options.setdefault("title", f"{self.model_name}, layer {self.layer}")
        return head_view_figure(window, list(result.tokens.text), list(result.keys.text), start=start,
                                key_start=key_start, heads=heads, focus=focus, options=FigureOptions(**options))

    def _matrix_figure(self, **options):
        from ..figures import attention_figure

        result = self._shown_result()
        weights = None
        if self.aggregate == "flow":
            from ..methods.attention_flow import attention_flow

            key = (self.part, self.layer)
            weights = self._flows.get(key)
            if weights is None:
                weights = self._flows[key] = attention_flow(result, self.layer)
        frame = self._frame()
        kwargs = {"colormap": self.colormap, "log": self.log_scale, "exclude_first": self.exclude_first}
        if frame is not None and "tokens" not in options:
            kwargs["rows"], kwargs["cols"] = frame
        kwargs.update(options)
        return attention_figure(result, self.layer, self.head, aggregate=self.aggregate, weights=weights, **kwargs)

    def _static_figure(self):
        if self._source(self.layer) is None or (self.aggregate == "flow" and (self.part, self.layer) not in self._flows):
            return None
        # the matrix of the current layer and head, whichever tab is open (the other views' figures
        # are not built yet)
        what = f"head {self.head}" if self.aggregate == "head" else self.aggregate
        return self._matrix_figure(title=f"{self.model_name}, layer {self.layer}, {what}")

    @t.observe("status", "layer", "head", "aggregate", "part", "pair_filter", "colormap", "log_scale",
               "exclude_first", "pattern")
    def _static_changed(self, change) -> None:
        self._static_follows(change)

    def _export_request(self, request: dict) -> tuple[dict, str]:
        """The Export buttons: the open view (the matrix's zoom window too); see base.py."""
        options = self._export_window(request)
        what = f"head{self.head}" if self.aggregate == "head" else self.aggregate
        view = {"matrix": f"layer{self.layer}-{what}", "head": f"head-view-layer{self.layer}", "model": "model-view",
                "summary": "head-summary", "querykey": f"query-key-layer{self.layer}-head{self.head}"}[self.mode]
        return options, f"attention-{self.model_name or 'model'}-{self.part}-{view}"

    def save(self, path, **options):
        """Write the view to ``path``: .svg, .pdf or .png (see :meth:`figure` for ``options``),
        or .html (a standalone, offline, interactive page). Needs no browser and no kernel."""
        from pathlib import Path

        path = Path(path)
        if path.suffix.lower() == ".html":
            from .export_html import save_html

            return save_html(self, path, **options)
        dpi = options.get("dpi", 200)
        return self.figure(**options).save(path, dpi=dpi)

    def _frame(self):
        """(rows, cols) token ranges of the sentence-pair filter, or None for all tokens."""
        segments = list(self.segments)
        if self.pair_filter == "all" or 1 not in segments:
            return None
        first_b, n = segments.index(1), len(segments)
        span = {"A": (0, first_b), "B": (first_b, n)}
        return span[self.pair_filter[0]], span[self.pair_filter[1]]

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
        with self.hold_sync():
            if part is not None:
                self.part = part
            if pair_filter is not None:
                self.pair_filter = pair_filter
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
