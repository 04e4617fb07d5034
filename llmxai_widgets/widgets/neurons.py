"""``NeuronView``: the MLP neurons inside the blocks, token by token (JS: js/widgets/neurons.ts).

Python keeps every computed layer; the browser gets the selected layer's ``[token, neuron]``
slice only (float16 by default), as each layer finishes and when the layer menu changes. The
neuron detail's corpus search and the NMF factors run in background threads of their own
(``neuron_jobs.py``)."""

from __future__ import annotations

import numpy as np
import torch
import traitlets as t

from ..methods.attention import check_index, resolve_layers
from ..methods.forward import check_count
from ..methods.neurons import NeuronResult, _check_corpus, neurons
from ..models.wrapped import LoadedModel
from .base import bundle
from .neuron_figures import NeuronFigures
from .neuron_jobs import NeuronJobs
from .neuron_panes import QUANTIZE, SORTS, layer_payload
from .view import View

MODES = ("neurons", "top", "factors")


class NeuronView(NeuronJobs, NeuronFigures, View):
    """MLP neuron activations of ``model`` on ``text``: a token (rows) x neuron (columns)
    heatmap of one layer, a layer menu, a "top neurons" mode (every token's ``k`` most active
    neurons), a neuron detail on click (its activation on every token and, with ``corpus=`` a
    list of texts, where it fires most in them) and a "Factors" tab (NMF of the layer, ecco-style).

    ``layers``: the layers to compute (default all); ``layer``: the one shown first (default the
    first computed); ``top_k``: neurons kept per token for the top-neurons mode; ``quantize``:
    "float16" (default) or "uint8" for the slice sent to the browser. ``NeuronView.from_result``
    shows a :class:`~llmxai_widgets.NeuronResult` computed earlier."""

    _esm = bundle("neurons")
    SAVES_HTML = True

    special = t.List(t.Bool()).tag(sync=True)
    space_before = t.List(t.Bool()).tag(sync=True)
    n_layers = t.Int(0).tag(sync=True)
    """Blocks in the model (the layer menu lists ``layers`` of them)."""
    layers = t.List(t.Int()).tag(sync=True)
    """Model layers this view computes."""
    layers_done = t.List(t.Int()).tag(sync=True)
    """Layers finished so far (they stream in during the forward pass)."""
    n_neurons = t.Int(0).tag(sync=True)
    top_k = t.Int(10).tag(sync=True)
    layer = t.Int(0).tag(sync=True)
    layer_slice = t.Dict().tag(sync=True)
    """The selected layer only: ``{"layer", "activations": wire [token, neuron] (float16 or uint8),
    "top": wire [token, rank] (neuron ids, most active first), "order": wire [column] (neuron ids
    by highest activation)}``."""
    mode = t.Unicode("neurons").tag(sync=True)
    """"neurons" (every neuron), "top" (every token's ``k_top`` most active) or "factors" (NMF)."""
    sort = t.Unicode("index").tag(sync=True)
    """Column order: "index" (neuron number) or "max" (highest activation over the text first)."""
    k_top = t.Int(5).tag(sync=True)
    clip = t.Float(0.999).tag(sync=True)
    """Colour scale: -c..+c with c the ``clip`` quantile of |activation| over the layer's cells
    (1 = the largest), the same in both heatmap modes; stronger cells saturate."""
    colormap = t.Unicode("RdBu_r").tag(sync=True)
    neuron = t.Int(-1).tag(sync=True)
    """The neuron whose detail is open (-1: none)."""
    n_corpus = t.Int(0).tag(sync=True)
    """Texts in the corpus (0: no corpus was given)."""
    corpus_top = t.Dict().tag(sync=True)
    """Where ``neuron`` of ``layer`` fires most in the corpus: see ``neuron_panes.examples_payload``."""
    corpus_status = t.Unicode("").tag(sync=True)
    """"", "computing", "ready", "cancelled" or "error"."""
    corpus_progress = t.Float(0.0).tag(sync=True)
    corpus_label = t.Unicode("").tag(sync=True)
    nmf_k = t.Int(8).tag(sync=True)
    factors = t.Dict().tag(sync=True)
    """NMF of the selected layer: see ``neuron_panes.factors_payload``."""
    factors_status = t.Unicode("").tag(sync=True)

    def __init__(self, model: LoadedModel | None = None, text: str | None = None, layers=None, corpus=None, *,
                 layer: int | None = None, top_k: int = 10, quantize: str = "float16", corpus_k: int = 20,
                 context: int = 8, background: bool | None = None, **kwargs):
        self._partial, self._corpus, self._quantize = {}, None, quantize
        self._init_jobs(corpus_k, context)
        super().__init__(background=background, **kwargs)
        if quantize not in QUANTIZE:
            raise ValueError(f"quantize must be one of {', '.join(map(repr, QUANTIZE))}, got {quantize!r}")
        if model is None:
            return  # from_result fills the traits
        tokens = self._open(model, text)
        wanted = resolve_layers(model, layers)
        top_k = min(check_count(top_k, "top_k", "top_k=10"), model.n_neurons)
        layer = self._first_layer(layer, wanted, model.n_layers, model.name)
        if corpus is not None:
            self.corpus = corpus
        self._fill(model.name, tokens, wanted, model.n_layers, model.n_neurons, top_k, layer)
        self._recompute(model, tokens, wanted, top_k)

    @classmethod
    def from_result(cls, result: NeuronResult, *, model: LoadedModel | None = None, corpus=None,
                    layer: int | None = None, **kwargs) -> NeuronView:
        """A view of a :class:`NeuronResult`; a corpus search needs the ``model`` too."""
        view = cls(**kwargs)
        if not result.layers_done:
            raise ValueError("this NeuronResult has no finished layer to show")
        layer = cls._first_layer(layer, result.layers_done, result.n_model_layers, result.model_name)
        view._model = model
        if corpus is not None:
            if model is None:
                raise ValueError("corpus= searches the corpus with the model: pass model= too")
            view.corpus = corpus
        n_neurons = result.activations.shape[2]
        view._fill(result.model_name, result.tokens, list(result.layers), result.n_model_layers, n_neurons,
                   result.top_k, layer)
        view._show(result)
        return view

    @staticmethod
    def _first_layer(layer, wanted: list[int], n_layers: int, name: str) -> int:
        if layer is None:
            return wanted[0]
        layer = check_index(layer, n_layers, "layer", name)
        if layer not in wanted:
            raise ValueError(f"layer {layer} is not among the layers computed ({', '.join(map(str, wanted))}); "
                             f"add it to layers= or pass layers=None for all")
        return layer

    def _fill(self, name, tokens, wanted, n_layers, n_neurons, top_k, layer) -> None:
        from ..figures.attribution import space_before

        self._tokens = tokens
        with self.hold_sync(), self._silent():
            self.model_name, self.n_layers, self.n_neurons, self.top_k = name, n_layers, n_neurons, top_k
            self.tokens, self.special = list(tokens.text), [bool(s) for s in tokens.special]
            self.space_before = space_before(tokens)
            self.layers, self.layer = list(wanted), layer
            self.k_top = min(self.k_top, top_k)
            self.nmf_k = min(self.nmf_k, len(tokens))

    @property
    def corpus(self) -> list[str] | None:
        """The texts the neuron detail searches (None: no corpus). Assigning a new list clears
        the examples found so far; an empty list is an error."""
        return None if self._corpus is None else list(self._corpus)

    @corpus.setter
    def corpus(self, texts) -> None:
        try:
            checked = None if texts is None else _check_corpus(texts)
        except (TypeError, ValueError) as err:
            self.error = str(err)  # the view says it too
            raise
        self._corpus = checked
        self._forget_corpus()
        self.n_corpus = 0 if checked is None else len(checked)
        self._refresh_corpus()

    # -- computation ---------------------------------------------------------------------------
    def _compute(self, model: LoadedModel, tokens, wanted: list[int], top_k: int) -> None:
        def on_layer(layer: int, values: np.ndarray) -> None:
            self._partial[layer] = values
            with self.hold_sync():
                self.layers_done = [*self.layers_done, layer]
                self.progress = len(self.layers_done) / len(wanted)
                self.progress_label = f"layer {layer}: {len(self.layers_done)} of {len(wanted)} layers"
            if layer == self.layer:  # only what the view shows travels
                self._send_layer()
                self._refresh_panes()

        self._show(neurons(model, tokens, wanted, top_k=top_k, on_layer=on_layer, cancelled=lambda: self.cancelled))

    def _show(self, result: NeuronResult) -> None:
        self._result = result
        self._partial.clear()
        done, total = list(result.layers_done), len(result.layers)
        with self.hold_sync():
            self.layers_done = done
            self.progress = 1.0
            if result.complete:
                self.status, self.progress_label = "ready", ""
            else:
                self.status = "cancelled"
                self.progress_label = (f"cancelled: {len(done)} of {total} layers kept" if done
                                       else "cancelled before any layer finished")
                if done and self.layer not in done:
                    self.layer = done[-1]  # the last finished layer rather than an empty picture
            self._send_layer()
        self._refresh_panes()

    def _values(self, layer: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(activations[token, neuron], top[token, rank])`` of a finished layer, else None."""
        result = self._result
        if result is not None and layer in result.layers_done:
            return result.layer(layer), result.top[result.row(layer)]
        values = self._partial.get(layer)
        if values is None:
            return None
        # as neurons() computes it, so the final result's slice equals the streamed one (not re-sent)
        return values, torch.topk(torch.from_numpy(values), self.top_k, dim=-1).indices.numpy()

    def _send_layer(self) -> None:
        data = self._values(self.layer)
        if data is not None:  # an equal dict sends nothing: a slice is not sent twice
            self.layer_slice = layer_payload(self.layer, *data, self._quantize)

    # -- reactions -----------------------------------------------------------------------------
    @t.validate("layer")
    def _valid_layer(self, proposal):
        if not self.layers:
            return proposal["value"]
        value = self._indexed(proposal, self.n_layers, self.model_name)
        if value not in self.layers:
            self._reject(f"layer {value} was not computed: this view has layers {', '.join(map(str, self.layers))}")
        return value

    @t.validate("neuron")
    def _valid_neuron(self, proposal):
        if proposal["value"] == -1:
            return -1
        return self._indexed(proposal, self.n_neurons, f"layer {self.layer} of {self.model_name}",
                             note=" (-1 closes the neuron detail)")

    @t.validate("mode", "sort")
    def _valid_choice(self, proposal):
        return self._choose(proposal, MODES if proposal["trait"].name == "mode" else SORTS)

    @t.validate("k_top", "nmf_k", "clip")
    def _valid_number(self, proposal):
        if not self.tokens:
            return proposal["value"]
        bounds = {"k_top": (1, self.top_k), "nmf_k": (1, max(1, len(self.tokens))), "clip": (0.5, 1.0)}
        return self._within(proposal, *bounds[proposal["trait"].name])

    @t.observe("layer")
    def _layer_changed(self, _change) -> None:
        if not self._quiet:
            self._send_layer()
            self._refresh_panes()

    @t.observe("neuron")
    def _neuron_changed(self, _change) -> None:
        if not self._quiet:
            self._refresh_corpus()

    @t.observe("mode", "nmf_k")
    def _factors_wanted(self, _change) -> None:
        if not self._quiet:
            self._refresh_factors()

    def _refresh_panes(self) -> None:
        self._refresh_corpus()
        self._refresh_factors()

    def _standalone_extras(self, room: int) -> dict | None:
        """What a saved page embeds to answer clicks without Python (``export_views.neuron_extras``)."""
        from .export_views import neuron_extras

        return neuron_extras(self, room)

    @t.observe("status", "layer", "mode", "sort", "k_top", "clip", "factors")
    def _static_changed(self, change) -> None:
        self._static_follows(change)

    def show(self, layer: int | None = None, neuron: int | None = None, *, mode: str | None = None,
             sort: str | None = None, k: int | None = None) -> NeuronView:
        """Switch the layer, open a neuron's detail (-1 closes it), the mode ("neurons", "top",
        "factors"), the column order ("index", "max") or the top-neurons ``k``."""
        self._set_given(layer=layer, mode=mode, sort=sort, k_top=k, neuron=neuron)
        return self


__all__ = ["MODES", "NeuronView"]
