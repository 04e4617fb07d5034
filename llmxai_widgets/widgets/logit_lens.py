"""``LogitLensView``: what the model would predict if it stopped after each block (JS:
js/widgets/logit_lens.ts).

Only a window of positions is computed and sent (the lens costs one unembedding per layer and
position: 1,024 positions x 31 rows take about a minute here); moving the window computes the
new one in the background, and the last few windows are kept."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import traitlets as t

from ..methods.forward import check_count, check_position
from ..methods.logit_lens import LogitLensResult, _resolve_rows, logit_lens
from ..models.wrapped import LoadedModel
from ..wire import encode
from .base import bundle
from .view import FollowsTarget

WINDOW_SIZES = (8, 12, 16, 24, 32, 48)


class LogitLensView(FollowsTarget):
    """The logit lens of ``text``: a layers x positions grid, each cell showing the top token the
    residual stream after that layer predicts next (coloured by its probability), and a chart of
    ``target``'s probability across layers at the selected position (``target=None`` follows the
    model's own final prediction at each position; the view's target box picks another token and
    recomputes). ``window`` positions are computed and shown at a time (long texts: move the
    window in the view, or ``show(position=...)``). ``top_k`` and ``layers`` as
    :func:`llmxai_widgets.logit_lens`."""

    _esm = bundle("logit_lens")
    SAVES_HTML = True
    FOCUS_TRAIT = "selected"  # the token in focus: its column (the window follows)

    layer_labels = t.List(t.Unicode()).tag(sync=True)
    """Each row: "embed" or the block's index ("0", "1", ...)."""
    top_k = t.Int(5).tag(sync=True)
    window_start = t.Int(0).tag(sync=True)
    """First token position of the window shown (the view's arrows and slider move it)."""
    window_size = t.Int(16).tag(sync=True)
    selected = t.Int(0).tag(sync=True)
    """The token position whose target probability the chart shows (a column of the window)."""
    positions = t.Dict().tag(sync=True)
    """Wire tensor ``[column]`` int32: the token position of each computed column."""
    top_ids = t.Dict().tag(sync=True)
    """Wire tensor ``[row, column, rank]`` int32: the ``top_k`` token ids; their text is in ``vocab``."""
    top_probs = t.Dict().tag(sync=True)
    """Wire tensor ``[row, column, rank]`` float32."""
    target_ids = t.Dict().tag(sync=True)
    """Wire tensor ``[column]`` int32: the token followed at each column."""
    target_probs = t.Dict().tag(sync=True)
    """Wire tensor ``[row, column]`` float32."""
    target_ranks = t.Dict().tag(sync=True)
    """Wire tensor ``[row, column]`` int32 (0 = the top token)."""
    vocab = t.Dict().tag(sync=True)
    """``{str(token id): text}`` of every id in ``top_ids`` and ``target_ids`` (untrusted text)."""
    colormap = t.Unicode("viridis").tag(sync=True)

    CACHE = 8

    def __init__(self, model: LoadedModel | None = None, text: str | None = None, target=None, *, top_k: int = 5,
                 layers=None, window: int = 16, position: int = -1, colormap: str = "viridis",
                 background: bool | None = None):
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._busy, self._wanted = False, None
        super().__init__(background=background)
        if model is None:
            return
        self._open(model, text, causal="logit_lens")  # every problem is named before anything runs
        self._layers = _resolve_rows(model, layers)
        top_k = check_count(top_k, "top_k", "top_k=5")
        self._target, label = target, self._target_label(target)
        n = len(self._tokens)
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window must be a positive number of token positions, got {window!r}; e.g. window=16")
        size = min(int(window), n)
        position = check_position(position, n)
        with self.hold_sync(), self._silent():
            self.top_k = int(top_k)
            self.layer_labels = ["embed" if layer < 0 else str(layer) for layer in self._layers]
            self.colormap, self.target = colormap, label
            self.window_size, self.window_start = size, max(0, min(position - size + 1, n - size))
            self.selected = position
        self._recompute()

    # -- computation ---------------------------------------------------------------------------
    def _recompute(self) -> None:
        """Compute the window and target the traits ask for (a running computation picks the
        newest request up when it finishes, so quick clicks do not queue up work)."""
        want = (self.window_start, self.window_size, self._target)
        with self._lock:
            self._wanted = want
            if self._busy:
                return
            self._busy = True
        super()._recompute()

    def _compute(self) -> None:
        try:
            while True:
                want = self._wanted
                start, size, target = want
                self.status, self.progress_label = "computing", f"logit lens of tokens {start}-{start + size - 1} \u2026"
                result = self._cache.get(want)
                if result is None:
                    result = logit_lens(self._model, self._tokens, target, top_k=self.top_k, layers=self._layers,
                                        positions=list(range(start, start + size)))
                    self._cache[want] = result
                    while len(self._cache) > self.CACHE:
                        self._cache.popitem(last=False)
                if self.cancelled:
                    self.status, self.progress_label = "cancelled", "cancelled: the last window computed is shown"
                    return
                if want != self._wanted:
                    continue  # the window or target changed while this one was computed
                self._show(result)
                with self._lock:  # done, unless a request came in while the result was being shown
                    if want == self._wanted:
                        self._busy = False
                        return
        finally:
            with self._lock:
                self._busy = False

    def _show(self, result: LogitLensResult) -> None:
        self._result = result
        ids = np.concatenate([result.top_ids.ravel(), result.target_ids])
        vocab = {str(int(i)): self._model.tokenizer.decode([int(i)]) for i in np.unique(ids)}
        with self.hold_sync():
            self.positions = encode(result.positions.astype(np.int32))
            self.top_ids = encode(result.top_ids.astype(np.int32))
            self.top_probs = encode(result.top_probs)
            self.target_ids = encode(result.target_ids.astype(np.int32))
            self.target_probs = encode(result.target_probs)
            self.target_ranks = encode(result.target_ranks.astype(np.int32))
            self.vocab = vocab
            self.progress, self.progress_label, self.status = 1.0, "", "ready"

    # -- reactions -------------------------------------------------------------------------------
    @t.observe("window_start", "window_size")
    def _window_changed(self, change) -> None:
        if self._quiet or self._model is None:
            return
        n = len(self.tokens)
        size = min(max(1, self.window_size), n)
        start = max(0, min(self.window_start, n - size))
        if (start, size) != (self.window_start, self.window_size):
            with self._silent(), self.hold_sync():  # clamped: the view shows where the window ended up
                self.window_start, self.window_size = start, size
        if not start <= self.selected < start + size:
            with self._silent():
                self.selected = min(max(self.selected, start), start + size - 1)
        self._recompute()

    @t.observe("selected")
    def _selected_changed(self, change) -> None:
        if self._quiet or self._model is None:
            return
        position = self._moved_to(change)
        if position is not None and not self.window_start <= position < self.window_start + self.window_size:
            self.window_start = max(0, min(position - self.window_size // 2, len(self.tokens) - self.window_size))

    def _standalone_extras(self, room: int) -> dict | None:
        """What a saved page embeds to answer clicks without Python (``export_views.lens_extras``)."""
        from .export_views import lens_extras

        return lens_extras(self, room)

    # -- figures ---------------------------------------------------------------------------------
    def figure(self, *, position: int | None = None, chart: bool = True, log: bool = False, **options):
        """A :class:`~llmxai_widgets.figures.Figure` of the window shown: the grid, and the chart of
        the target's probability at ``position`` (default: the selected one; ``chart=False``
        leaves it out; ``log=True`` draws it on a log scale). ``options``:
        :class:`~llmxai_widgets.figures.FigureOptions` (width, font, title, theme, ...)."""
        from ..figures import FigureOptions
        from ..figures.logit_lens import logit_lens_figure

        result = self._computed("the logit lens")
        options.setdefault("colormap", self.colormap)
        options.setdefault("colorbar_label", "probability of the top token")
        selected = self.selected if position is None else position
        if selected not in result.positions:
            selected = int(result.positions[-1])
        return logit_lens_figure(result, selected=selected, chart=chart, log=log, options=FigureOptions(**options))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        return {"log": bool(request.get("log", False))}, (
            f"logit-lens-{self.model_name or 'model'}-tokens{self.window_start}-{self.window_start + self.window_size - 1}")

    def _static_figure(self):
        return None if self._result is None else self.figure(title=f"{self.model_name}: logit lens")

    @t.observe("status", "selected")
    def _static_changed(self, change) -> None:
        self._static_follows(change)

    def show(self, position: int | None = None, *, target=None, window: int | None = None) -> LogitLensView:
        """Select token ``position`` (the window moves to it), follow ``target`` ("" for the
        model's own prediction) or change the ``window`` size; recomputes what is needed."""
        if window is not None:
            self.window_size = int(window)
        if position is not None:
            self.selected = position
        if target is not None:
            self._follow(target or None)  # a bad target raises here, and the view keeps its picture
        return self


__all__ = ["LogitLensView", "WINDOW_SIZES"]
