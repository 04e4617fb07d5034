"""Shared widget machinery: status, progress, errors, background computation, cancel.

Traits are the source of truth (they survive re-display and notebook reload); streamed chunks
travel as custom messages tagged with a ``kind`` and are only a faster path to the same picture.
"""

from __future__ import annotations

import json
import threading
import traceback
import uuid
from pathlib import Path

import anywidget
import traitlets as t

STATIC = Path(__file__).resolve().parent.parent / "static"


_UNBUILT = """
export default { render({ el }) {
  const box = document.createElement("div");
  box.style.cssText = "padding:8px 12px;border-left:4px solid #c62828;background:#fdecea;color:#611a15";
  box.textContent = %s;
  el.appendChild(box);
} };
"""


def bundle(name: str) -> Path | str:
    """The built JS module for widget ``name``.

    A source checkout that was never built gets a module that shows how to build it, so the
    view explains itself instead of leaving a blank cell.
    """
    path = STATIC / f"{name}.js"
    if path.exists():
        return path
    message = (
        f"llmxai_widgets: the {name} view's JavaScript ({path}) is missing because this checkout "
        f"was never built. Run `npm install && npm run build` in the repository (or "
        f"`pip install -e .`), then restart the kernel."
    )
    return _UNBUILT % json.dumps(message)


def in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class ExplainerWidget(anywidget.AnyWidget):
    """Base for every view: computes in a background thread when inside a kernel."""

    widget_id = t.Unicode().tag(sync=True)
    """A unique id, so every view of this widget shares what was streamed to it."""
    status = t.Unicode("idle").tag(sync=True)
    """"idle", "computing", "ready", "cancelled" or "error"."""
    progress = t.Float(0.0).tag(sync=True)
    """Fraction of the computation done, 0..1."""
    progress_label = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    """A message for the user; the view shows it in an error panel above what it can still draw."""

    @t.default("widget_id")
    def _new_id(self) -> str:
        return uuid.uuid4().hex

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._done.set()
        self.on_msg(self._on_frontend_msg)

    # -- running computations -------------------------------------------------------------------
    def _start(self, job, *, background: bool | None) -> None:
        """Run ``job()`` now, or in a thread so the view shows progress and stays cancellable."""
        self._cancel.clear()
        self._done.clear()
        self.status, self.progress, self.error = "computing", 0.0, ""
        if background is None:
            background = in_kernel()
        if not background:
            self._run(job, reraise=True)
            return
        self._thread = threading.Thread(target=self._run, args=(job,), daemon=True)
        self._thread.start()

    def _run(self, job, reraise: bool = False) -> None:
        try:
            job()
        except Exception as err:  # shown in the widget; partial results stay
            with self.hold_sync():
                self.error = f"{type(err).__name__}: {err}"
                self.status = "error"
            if reraise:
                raise
            traceback.print_exc()
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the computation ends; True if it ended within ``timeout`` seconds."""
        return self._done.wait(timeout)

    def cancel(self) -> None:
        """Stop the running computation after the current step; finished parts are kept."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # -- messages ------------------------------------------------------------------------------
    def _on_frontend_msg(self, _widget, content, _buffers) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "cancel":
            self.cancel()
        elif kind == "dismiss_error":
            self.error = ""

    def send_chunk(self, kind: str, content: dict, buffers: list[bytes] | None = None) -> None:
        """Stream one chunk to every open view (lost if none is displayed: traits stay the truth)."""
        self.send({"kind": kind, **content}, buffers=buffers or [])
