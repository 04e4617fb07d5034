"""``ProbeView``: held-out accuracy of a linear probe at each layer, with the control task and
chance beside it, filled in layer by layer; a click on a layer shows its confusion table and the
texts it got wrong (JS: js/widgets/probe.ts)."""

from __future__ import annotations

import math

import numpy as np
import traitlets as t

from ..methods.attention import Cancelled
from ..methods.use import datasets
from ..methods.use.features import POSITIONS, check_layers, check_position_kind, check_texts, encode
from ..methods.use.probe import ProbeResult, _check, probe
from ..models.wrapped import LoadedModel
from .base import bundle
from .view import View, check_model

WRONG_SHOWN = 50
"""The detail panel lists at most this many wrong texts (most confident mistakes first)."""


def _json(values) -> list:
    """Floats per layer with NaN (not done yet) as None, so the list travels as JSON."""
    if values is None:
        return []
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(values, np.float64)]


class ProbeView(View):
    """A logistic-regression probe per layer reading ``labels`` from the residual stream after
    each block in ``layers`` (None: every block), at each text's last token or averaged over its
    tokens (``position``). The chart shows held-out accuracy (``folds``-fold cross-validation),
    the control task's accuracy (Hewitt & Liang: random labels per word type, the same probe) and
    chance (the majority class's share); layers appear as they are done. Click a layer for its
    confusion table and wrong texts. Pass ``texts`` and ``labels`` (one per text), or
    ``dataset=`` one of ``llmxai_widgets.probe_datasets.NAMES``. See :func:`llmxai_widgets.probe`."""

    _esm = bundle("probe")
    SAVES_HTML = True
    """A saved page holds every done layer's confusion table and mistakes: its clicks need no Python."""

    dataset = t.Unicode("").tag(sync=True)
    """The dataset's name when given by ``dataset=`` ("" for the person's own texts)."""
    layers = t.List(t.Int()).tag(sync=True)
    classes = t.List(t.Unicode()).tag(sync=True)
    """The sorted distinct labels, as strings (untrusted text)."""
    class_counts = t.List(t.Int()).tag(sync=True)
    chance = t.Float(0.0).tag(sync=True)
    """The majority class's share: what predicting it for every text scores."""
    position = t.Unicode("last").tag(sync=True)
    """"last" (each text's last token) or "mean" (the mean over its tokens); the view's switch sets it."""
    n_texts = t.Int(0).tag(sync=True)
    folds = t.Int(5).tag(sync=True)
    control = t.Bool(True).tag(sync=True)
    accuracy = t.List().tag(sync=True)
    """Held-out accuracy per layer (row ``i`` = ``layers[i]``), None until that layer is done."""
    control_accuracy = t.List().tag(sync=True)
    """The control task's held-out accuracy per layer, None until done (empty without control)."""
    selectivity = t.List().tag(sync=True)
    """``accuracy - control_accuracy`` per layer, None until done (empty without control)."""
    done = t.List(t.Bool()).tag(sync=True)
    picked_layer = t.Int(-1).tag(sync=True)
    """The layer clicked (one of ``layers``), or -1 for none."""
    detail = t.Dict().tag(sync=True)
    """The picked layer once done: ``{"layer", "accuracy", "confusion": [[true][predicted]],
    "n_wrong", "wrong": [{"index", "text", "label", "predicted", "probability"}, ...]}`` (at most
    50 wrong texts, most confident first); empty when none is picked or it is not done yet."""

    _partial: ProbeResult | None = None

    def __init__(self, model: LoadedModel | None = None, texts=None, labels=None, *, dataset: str | None = None,
                 layers=None, position: str = "last", control: bool = True, folds: int = 5, C: float = 1.0,
                 seed: int = 0, background: bool | None = None):
        super().__init__(background=background)
        if model is None and texts is None and labels is None and dataset is None:
            return
        check_model(model)  # every problem is named here, before anything runs
        if model.kind == "seq2seq":
            raise ValueError(f"ProbeView reads one stack of blocks over each text; {model.name} is an encoder-decoder "
                             "(seq2seq) model, which is not supported. Load a decoder-only or encoder model, e.g. "
                             "lx.load_model('smollm2')")
        texts, labels = self._inputs(texts, labels, dataset)
        classes, y, C = _check(texts, labels, folds, C)
        position = check_position_kind(position)
        layers = check_layers(model, layers)
        if not isinstance(control, bool):
            raise TypeError(f"control must be True or False (also train the control task), got {control!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise TypeError(f"seed must be an integer (it draws the folds and the control labels), got {seed!r}")
        encode(model, texts)  # every text tokenised and its length checked now
        self._open(model, texts[0], tokenize=False)
        self._texts, self._labels, self._C, self._seed = texts, list(labels), C, int(seed)
        with self.hold_sync(), self._silent():
            self.dataset = dataset or ""
            self.layers, self.classes = layers, [str(c) for c in classes]
            self.class_counts = np.bincount(y, minlength=len(classes)).tolist()
            self.chance = float(np.bincount(y).max() / len(y))
            self.position, self.n_texts, self.folds, self.control = position, len(texts), int(folds), control
        self._recompute()

    @staticmethod
    def _inputs(texts, labels, dataset) -> tuple[list[str], list]:
        """The texts and labels to probe: the person's own, or a dataset's."""
        if dataset is not None:
            if texts is not None or labels is not None:
                raise ValueError("pass either texts and labels or dataset=..., not both")
            if not isinstance(dataset, str):
                raise TypeError(f"dataset must be the name of a probe dataset ({', '.join(map(repr, datasets.NAMES))}), "
                                f"got {type(dataset).__name__}")
            texts, labels = datasets.load(dataset)
        elif texts is None or labels is None:
            raise ValueError(f"pass texts and labels (one label per text), or dataset= one of "
                             f"{', '.join(map(repr, datasets.NAMES))}")
        return check_texts(texts, at_least=2), labels

    # -- computation ---------------------------------------------------------------------------
    def _compute(self) -> None:
        n = len(self.layers)
        self._result = self._partial = None
        with self.hold_sync():
            self.accuracy, self.done, self.detail = [None] * n, [False] * n, {}
            self.control_accuracy = self.selectivity = [None] * n if self.control else []
            self.progress_label = "reading the residual stream \u2026"

        def on_layer(layer, result):
            self._partial = result
            self._show(result)

        def on_progress(fraction, label):
            with self.hold_sync():
                self.progress, self.progress_label = fraction, label

        try:
            result = probe(self._model, self._texts, self._labels, layers=list(self.layers), position=self.position,
                           control=self.control, folds=self.folds, C=self._C, seed=self._seed, on_layer=on_layer,
                           cancelled=lambda: self.cancelled, on_progress=on_progress)
        except Cancelled:
            self._result = self._partial  # the layers done stay (figures and the detail use them)
            done = 0 if self._partial is None else int(self._partial.done.sum())
            with self.hold_sync():
                self.status = "cancelled"
                self.progress_label = f"cancelled after {done} of {len(self.layers)} layers; those stay"
            return
        self._result = result
        with self.hold_sync():
            self._show(result)
            self.progress, self.progress_label, self.status = 1.0, "", "ready"

    def _show(self, result: ProbeResult) -> None:
        with self.hold_sync():
            self.accuracy = _json(result.accuracy)
            self.control_accuracy = _json(result.control_accuracy)
            self.selectivity = _json(result.selectivity)
            self.done = [bool(d) for d in result.done]
            if self.picked_layer in result.layers and not self.detail:
                self.detail = self._detail(self.picked_layer)

    @property
    def _shown(self) -> ProbeResult | None:
        """The result on screen: the finished one, or the layers done so far."""
        return self._result if self._result is not None else self._partial

    def _standalone_extras(self) -> dict | None:
        """Every done layer's detail, keyed by layer, for the saved page's clicks
        (js/standalone/lookup.ts)."""
        result = self._shown
        if result is None:
            return None
        entries = {"-1": {}}
        entries.update({str(layer): self._detail(layer) for layer, done in zip(result.layers, result.done) if done})
        return {"kind": "lookup", "watch": "picked_layer", "fields": ["layer"], "target": "detail", "entries": entries,
                "missing": "This saved page holds the layers computed before it was saved; this one was not."}

    def _detail(self, layer: int) -> dict:
        result = self._shown
        if layer < 0 or result is None or layer not in result.layers or not result.done[result.layers.index(layer)]:
            return {}
        wrong = result.wrong(layer)
        return {"layer": layer, "accuracy": float(result.accuracy[result.layers.index(layer)]),
                "confusion": result.confusion(layer).tolist(), "n_wrong": len(wrong),
                "wrong": [{"index": w["index"], "text": w["text"], "label": str(w["label"]),
                           "predicted": str(w["predicted"]), "probability": w["probability"]} for w in wrong[:WRONG_SHOWN]]}

    # -- what the person changes -----------------------------------------------------------------
    @t.validate("picked_layer")
    def _valid_picked(self, proposal):
        value = proposal["value"]
        if self.layers and value != -1 and value not in self.layers:
            self._reject(f"picked_layer must be one of the probed layers {list(self.layers)} (or -1 for none), "
                         f"got {value!r}")
        return value

    @t.observe("picked_layer")
    def _picked_changed(self, change) -> None:
        if self._model is not None:
            self.detail = self._detail(change["new"])

    @t.validate("position")
    def _valid_position(self, proposal):
        return self._choose(proposal, POSITIONS)

    @t.observe("position")
    def _position_changed(self, change) -> None:
        if self._quiet or self._model is None:
            return
        self.error = ""
        self.cancel()  # the running probe stops between layers; the new position starts afresh
        self.wait(120)
        self._recompute()

    # -- figures ---------------------------------------------------------------------------------
    def figure(self, layer: int | None = None, *, wrong: int = 8, **options):
        """A :class:`~llmxai_widgets.figures.Figure` of the view: accuracy, control accuracy,
        chance and selectivity by layer, and for ``layer`` (default: the picked layer, if any)
        its confusion table and its ``wrong`` most confident mistakes. ``options``:
        :class:`~llmxai_widgets.figures.FigureOptions` (width, font, title, theme, ...)."""
        from ..figures import FigureOptions
        from ..figures.probe import probe_figure

        result = self._shown
        if result is None or not result.done.any():
            raise ValueError("nothing to draw yet: no layer's probe is done (view.wait() waits)")
        layer = self.picked_layer if layer is None else layer
        return probe_figure(result, layer=layer if layer >= 0 else None, wrong=wrong, dataset=self.dataset,
                            options=FigureOptions(**options))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        return {}, f"probe-{self.model_name or 'model'}-{self.position}"

    def _static_figure(self):
        result = self._shown
        return None if result is None or not result.done.any() else self.figure()

    @t.observe("status", "picked_layer")
    def _static_changed(self, change) -> None:
        self._static_follows(change)


__all__ = ["ProbeView"]
