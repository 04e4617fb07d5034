"""NeuronView's ``figure()``/``save()``, its Export buttons and its static figure: the same
columns, colour scale and tokens as the screen (rules in ``neuron_panes.py``), drawn by
``llmxai_widgets.figures.neurons`` at full precision."""

from __future__ import annotations

from ..figures.matrix import _span
from .neuron_panes import color_max, columns_for

VIEWS = ("neurons", "top", "neuron", "factors")


class NeuronFigures:
    """Mixin for :class:`~llmxai_widgets.NeuronView`."""

    def figure(self, view: str | None = None, *, layer: int | None = None, neuron: int | None = None,
               k: int | None = None, rows=None, cols=None, **options):
        """A :class:`~llmxai_widgets.figures.Figure` (``.save("fig.pdf")``) of what the view shows:

        - ``view="neurons"``: the token x neuron heatmap of ``layer`` (default: the one shown), its
          columns in the view's order; ``rows=``/``cols=`` ``(start, stop)`` pick a window of
          tokens / columns (the zoom window on screen);
        - ``view="top"``: the top-neurons columns (every token's ``k_top`` most active neurons);
        - ``view="neuron"``: ``neuron``'s activation on every token, and its top-activating corpus
          windows once found;
        - ``view="factors"``: NMF of the layer into ``k`` factors (default ``nmf_k``).

        The default is the open tab. ``options``: see :class:`~llmxai_widgets.figures.FigureOptions`
        (width, font_size, title, theme, colormap, ...)."""
        from ..figures import FigureOptions

        view = view if view is not None else self.mode
        if view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(map(repr, VIEWS))}, got {view!r}")
        layer = self.layer if layer is None else layer
        if layer not in self.layers:
            raise IndexError(f"layer {layer} is out of range: this view has layers {', '.join(map(str, self.layers))}")
        data = self._values(layer)
        if data is None:
            raise ValueError(f"nothing to draw yet: layer {layer} is not computed (view.wait() waits)")
        values, top = data
        name = self.model_name
        if view == "factors":
            from ..figures.neurons import factors_figure

            k = self.nmf_k if k is None else k
            found, payload = self._nmf_of(layer, k)
            options.setdefault("colormap", "viridis")
            options.setdefault("colorbar_label", "factor strength")
            options.setdefault("title", f"{name}: layer {layer} in {k} NMF factors")
            return factors_figure(found.token_factors, self.tokens, neurons=payload["neurons"],
                                  space_before=self.space_before, options=FigureOptions(**options))
        options.setdefault("colormap", self.colormap)
        if view == "neuron":
            from ..figures.neurons import neuron_detail_figure

            n = self.neuron if neuron is None else int(neuron)
            if n < 0:
                raise ValueError("no neuron is open: click a column in the view, or pass neuron=")
            if not 0 <= n < self.n_neurons:
                raise IndexError(f"neuron {n} is out of range: layer {layer} has {self.n_neurons} neurons, "
                                 f"numbered 0-{self.n_neurons - 1}")
            examples = self._corpus_cache.get((layer, n))
            shown = self.corpus_top
            if examples is None and shown.get("windows") and (shown["layer"], shown["neuron"]) == (layer, n):
                examples = shown  # a cancelled search: the best found so far
            options.setdefault("title", f"{name}: layer {layer}, neuron {n}")
            return neuron_detail_figure(self.tokens, values[:, n], space_before=self.space_before, examples=examples,
                                        options=FigureOptions(**options))
        from ..figures.neurons import heatmap_figure

        columns = columns_for(view, self.sort, values, top, self.k_top)
        c = color_max(values, self.clip)  # one scale per layer, whichever columns are shown
        r0, r1 = _span(rows, len(self.tokens), "rows")
        c0, c1 = _span(cols, len(columns), "cols")
        shown = columns[c0:c1]
        what = f"top {self.k_top} neurons of each token" if view == "top" else "MLP neurons"
        options.setdefault("title", f"{name}: layer {layer}, {what}")
        clip = "largest |activation|" if self.clip >= 1 else f"{self.clip * 100:g}th percentile of |activation|"
        options.setdefault("colorbar_label", f"activation (scale: {clip})")
        order = "by neuron number" if self.sort == "index" else "highest activation first"
        return heatmap_figure(values[r0:r1][:, shown], self.tokens[r0:r1], [str(int(n)) for n in shown],
                              vrange=(-c, c), axes=("tokens {}-{}", f"neuron columns {{}}-{{}} ({order})"),
                              first=(r0, c0), options=FigureOptions(**options))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        """The Export buttons (see base.py): the open tab (its zoom window too) or the neuron detail."""
        view = request.get("view") or self.mode
        name = f"neurons-{self.model_name or 'model'}-layer{self.layer}"
        if view == "neuron":
            neuron = int(request.get("neuron", self.neuron))
            return {"view": view, "neuron": neuron}, f"{name}-neuron{neuron}"
        if view == "factors":
            return {"view": view}, f"{name}-factors{self.nmf_k}"
        return {"view": view, **self._export_window(request)}, f"{name}-{view}"

    def _static_figure(self):
        # while layers still stream in, a placeholder: the figure comes once, when the pass ends
        if self.status == "computing" or self._values(self.layer) is None:
            return None
        view = self.mode
        if view == "factors" and (self.layer, self.nmf_k) not in self._factor_cache:
            view = "neurons"  # the factors are not computed yet: the heatmap meanwhile
        # 7 in: a 1,024-token layer merges into ~500 x 500 cells, ~0.5 MB of PNG instead of ~1.3 MB
        return self.figure(view, max_size="7in")
