"""NeuronView's background work besides the forward pass: the neuron detail's corpus search
(``top_activating``, one forward pass per text, with progress and its own Cancel) and the NMF
factors of a layer. Each keeps finished answers by (layer, neuron) / (layer, k); an answer that
arrives after the person moved on is kept but not shown."""

from __future__ import annotations

import threading
import traceback

from ..methods.neuron_factors import nmf
from ..methods.neurons import NeuronResult, top_activating
from .neuron_panes import examples_payload, factors_payload


class NeuronJobs:
    """Mixin for :class:`~llmxai_widgets.NeuronView` (its traits and ``_values``)."""

    def _init_jobs(self, corpus_k: int, context: int) -> None:
        self._corpus_k, self._context = corpus_k, context
        self._corpus_cache: dict[tuple[int, int], dict] = {}
        self._corpus_stop: threading.Event | None = None
        self._corpus_lock = threading.Lock()  # one corpus search at a time: hooks share the model
        self._factor_cache: dict[tuple[int, int], tuple] = {}
        self._factor_running: set[tuple[int, int]] = set()

    def _on_frontend_msg(self, widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("kind") == "cancel_corpus":
            if self._corpus_stop is not None:
                self._corpus_stop.set()
            return
        super()._on_frontend_msg(widget, content, buffers)

    # -- the corpus search ---------------------------------------------------------------------
    def _forget_corpus(self) -> None:
        if self._corpus_stop is not None:
            self._corpus_stop.set()
        self._corpus_stop = None
        self._corpus_cache.clear()
        with self.hold_sync():
            self.corpus_top, self.corpus_status, self.corpus_label, self.corpus_progress = {}, "", "", 0.0

    def cancel_corpus(self) -> None:
        """Stop the corpus search after the current text; the examples found so far are shown."""
        if self._corpus_stop is not None:
            self._corpus_stop.set()

    def _refresh_corpus(self) -> None:
        if self._corpus is None or self.neuron < 0 or self._model is None:
            return
        key = (self.layer, self.neuron)
        shown = self.corpus_top
        if shown and (shown.get("layer"), shown.get("neuron")) == key and self.corpus_status == "computing":
            return  # already on it
        if self._corpus_stop is not None:
            self._corpus_stop.set()  # the previous neuron's search gives way
        if key in self._corpus_cache:
            self._corpus_stop = None
            with self.hold_sync():
                self.corpus_top, self.corpus_status, self.corpus_progress = self._corpus_cache[key], "ready", 1.0
                self.corpus_label = ""
            return
        stop = threading.Event()
        self._corpus_stop = stop
        with self.hold_sync():
            self.corpus_top = {"layer": key[0], "neuron": key[1], "examples": []}
            self.corpus_status, self.corpus_progress = "computing", 0.0
            self.corpus_label = f"searching {len(self._corpus)} texts\u2026"
        threading.Thread(target=self._run_corpus, args=(key, stop), daemon=True).start()

    def _run_corpus(self, key: tuple[int, int], stop: threading.Event) -> None:
        self.wait()  # the view's own forward pass first: hooks on one model must not overlap
        with self._corpus_lock:
            if stop.is_set() and self._corpus_stop is not stop:
                return  # superseded before it started
            layer, neuron = key
            current = lambda: self._corpus_stop is stop  # noqa: E731

            def progress(done: int, total: int) -> None:
                if current():
                    with self.hold_sync():
                        self.corpus_progress = done / total
                        self.corpus_label = f"{done} of {total} texts"

            try:
                found = top_activating(self._model, self._corpus, layer, neuron, k=self._corpus_k,
                                       context=self._context, on_progress=progress, cancelled=stop.is_set)
            except Exception as err:  # shown in the view; the rest stays usable
                traceback.print_exc()
                if current():
                    with self.hold_sync():
                        self.corpus_status, self.corpus_label = "error", ""
                        self.error = f"could not search the corpus: {type(err).__name__}: {err}"
                return
            payload = examples_payload(found, layer, neuron)
            if found.complete:
                self._corpus_cache[key] = payload
            if current():
                with self.hold_sync():
                    self.corpus_top, self.corpus_progress = payload, found.texts_done / max(1, found.n_texts)
                    self.corpus_status = "ready" if found.complete else "cancelled"
                    self.corpus_label = "" if found.complete else \
                        f"cancelled after {found.texts_done} of {found.n_texts} texts: the best so far"

    # -- NMF factors -----------------------------------------------------------------------------
    def _nmf_of(self, layer: int, k: int):
        """``(NMFResult, payload)`` of ``layer`` in ``k`` factors, computed now if not kept."""
        key = (layer, k)
        if key not in self._factor_cache:
            data = self._values(layer)
            if data is None:
                raise ValueError(f"layer {layer} is not computed yet (view.wait() waits for the computation)")
            values, top = data
            one = NeuronResult(tokens=self._tokens, layers=[layer], activations=values[None], top=top[None],
                               top_k=self.top_k, model_name=self.model_name, n_model_layers=self.n_layers,
                               layers_done=[layer], complete=True)
            found = nmf(one, layer, k)
            self._factor_cache[key] = (found, factors_payload(found, layer, k))
        return self._factor_cache[key]

    def _refresh_factors(self) -> None:
        if self.mode != "factors":
            return
        key = (self.layer, self.nmf_k)
        if key in self._factor_cache:
            with self.hold_sync():
                self.factors, self.factors_status = self._factor_cache[key][1], "ready"
            return
        if self._values(self.layer) is None:
            self.factors_status = "waiting"  # asked again when the layer arrives
            return
        self.factors_status = "computing"
        if key not in self._factor_running:
            self._factor_running.add(key)
            threading.Thread(target=self._run_factors, args=(key,), daemon=True).start()

    def _run_factors(self, key: tuple[int, int]) -> None:
        try:
            _found, payload = self._nmf_of(*key)
        except Exception as err:  # e.g. every activation <= 0: nothing to factorise
            if key == (self.layer, self.nmf_k):
                with self.hold_sync():
                    self.factors_status = "error"
                    self.error = f"could not factorise layer {key[0]} into {key[1]} factors: {err}"
            return
        finally:
            self._factor_running.discard(key)
        if key == (self.layer, self.nmf_k) and self.mode == "factors":
            with self.hold_sync():
                self.factors, self.factors_status = payload, "ready"
