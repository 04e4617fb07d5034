"""AttentionView's figures: what each tab shows, drawn by ``llmxai_widgets.figures`` for
``figure()``, ``save()``, the Export buttons and the static picture under the view."""

from __future__ import annotations

from ..results import AttentionResult
from ..wire import decode
from .attention_panes import head_view_window


class AttentionFigures:
    """Mixin for :class:`~llmxai_widgets.AttentionView` (its traits and ``_source``)."""

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

    def _export_request(self, request: dict) -> tuple[dict, str]:
        """The Export buttons: the open view (the matrix's zoom window too); see base.py."""
        options = self._export_window(request)
        what = f"head{self.head}" if self.aggregate == "head" else self.aggregate
        view = {"matrix": f"layer{self.layer}-{what}", "head": f"head-view-layer{self.layer}", "model": "model-view",
                "summary": "head-summary", "querykey": f"query-key-layer{self.layer}-head{self.head}"}[self.mode]
        return options, f"attention-{self.model_name or 'model'}-{self.part}-{view}"

    def _frame(self):
        """(rows, cols) token ranges of the sentence-pair filter, or None for all tokens."""
        segments = list(self.segments)
        if self.pair_filter == "all" or 1 not in segments:
            return None
        first_b, n = segments.index(1), len(segments)
        span = {"A": (0, first_b), "B": (first_b, n)}
        return span[self.pair_filter[0]], span[self.pair_filter[1]]

