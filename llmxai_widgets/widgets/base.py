"""Shared widget machinery: status, progress, errors, background computation, cancel.

Traits are the source of truth (they survive re-display and notebook reload); streamed chunks
travel as custom messages tagged with a ``kind`` and are only a faster path to the same picture.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import traceback
import uuid
from pathlib import Path

import anywidget
import traitlets as t

from .filewatch import WatchedFile, follow_weakly

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


_SURROGATES = re.compile("[\ud800-\udfff]")


def utf8_safe_value(value):
    """``value`` (a widget state or message: dicts, lists and strings; buffers untouched) with every
    lone surrogate in its strings replaced by U+FFFD. A Python string can hold one (a tokenizer's
    byte-level piece, text sliced mid-pair); the comm writes JSON as UTF-8, which cannot encode it,
    so one such token would otherwise lose the whole message and blank the view."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value) if _SURROGATES.search(value) else value
    if isinstance(value, dict):
        return {utf8_safe_value(k): utf8_safe_value(v) for k, v in value.items()}
    if isinstance(value, list) or type(value) is tuple:
        return type(value)(utf8_safe_value(v) for v in value)
    return value


def in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class ExplainerWidget(anywidget.AnyWidget):
    """Base for every view: computes in a background thread when inside a kernel."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)  # anywidget turns a Path into a FileContents here
        for key in ("_esm", "_css"):
            value = cls.__dict__.get(key)
            if hasattr(value, "changed") and not isinstance(value, (str, t.TraitType)):
                setattr(cls, key, WatchedFile(value))

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
        for key in ("_esm", "_css"):  # the class's file, followed weakly (see WatchedFile)
            found = (c.__dict__.get(key) for c in type(self).__mro__)
            watched = next((v for v in found if v is not None and not isinstance(v, t.TraitType)), None)
            if isinstance(watched, WatchedFile):
                follow_weakly(self, key, watched)
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

    # -- static figure for places that cannot run the view -------------------------------------
    STATIC_DPI = 144
    STATIC_WAIT = 1.5
    """Seconds a display waits for a running computation before showing a placeholder."""
    STATIC_DELAY = 0.6
    """Seconds of quiet before the static figure is redrawn after a change."""

    def _static_figure(self):
        """A :class:`~llmxai_widgets.figures.Figure` of what the view shows, or None (nothing
        drawn yet). Subclasses override."""
        return None

    def _static_bundle(self) -> dict:
        import base64
        import html

        label = f"<{type(self).__name__}: {self.status}>"
        try:
            figure = self._static_figure()
            if figure is None:
                return {"text/plain": f"{label} (static figure: computing)"}
            png = base64.b64encode(figure.png(dpi=self.STATIC_DPI)).decode("ascii")
        except Exception as err:  # the live view is unaffected; say why the picture is missing
            return {"text/plain": f"{label} (no static figure: {type(err).__name__}: {err})"}
        width = round(figure.width / 72 * 96)  # CSS pixels, sharp on high-DPI screens
        alt = html.escape(f"llmxai-widgets figure: {type(self).__name__}", quote=True)
        return {
            "text/html": f'<img alt="{alt}" width="{width}" src="data:image/png;base64,{png}">',
            "image/png": png,
            "text/plain": f"{label} (static figure of the view)",
        }

    def _ipython_display_(self) -> None:
        """The live view, then a static figure of it (kept up to date while the kernel runs):
        GitHub, nbviewer without widgets, nbconvert and notebooks reopened without their kernel
        show the figure; JupyterLab hides it wherever the live view drew (js/core/dom.ts)."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        display(data, metadata=metadata, raw=True)
        if getattr(self, "_static_id", None) is None:
            self._static_id = uuid.uuid4().hex
        # A short computation ends here, so the figure goes out with the cell (a notebook run
        # headless may end before a later update); a long one updates the figure when done.
        self.wait(self.STATIC_WAIT)
        display(self._static_bundle(), raw=True, display_id=self._static_id)

    def _schedule_static(self) -> None:
        """Redraw the static figure once the view has been still for STATIC_DELAY seconds."""
        if getattr(self, "_static_id", None) is None:
            return
        timer = getattr(self, "_static_timer", None)
        if timer is not None:
            timer.cancel()
        self._static_timer = threading.Timer(self.STATIC_DELAY, self._update_static)
        self._static_timer.daemon = True
        self._static_timer.start()

    def _static_follows(self, change) -> None:
        """Keep the static figure current: redraw as soon as a computation ends, and once the
        view has been still after a person's changes. Subclasses call this from an observer of
        the traits their figure depends on."""
        if getattr(self, "_static_id", None) is None or self.status not in ("ready", "cancelled", "error"):
            return
        if change["name"] == "status":  # the computation just ended: draw now, in its thread
            self._update_static()
        else:
            self._schedule_static()

    def _update_static(self) -> None:
        from IPython.display import update_display

        try:
            update_display(self._static_bundle(), raw=True, display_id=self._static_id)
        except Exception:  # no display system (plain Python): nothing to update
            traceback.print_exc()

    # -- messages ------------------------------------------------------------------------------
    def set_state(self, sync_data) -> None:
        """The browser's changes. A value a validator refuses is rolled back with everything set
        in the same message (ipywidgets holds trait notifications), so the refusal's message is
        shown after the rollback, and the browser gets the kept values back."""
        try:
            super().set_state(sync_data)
        except t.TraitError as err:
            self.error = str(err)
            self.send_state([key for key in sync_data if key in self.keys])

    def get_state(self, key=None, drop_defaults=False):
        """The synced state, UTF-8 safe (:func:`utf8_safe_value`): a lone surrogate in a token
        reaches the browser as U+FFFD instead of failing the whole state message."""
        return utf8_safe_value(super().get_state(key=key, drop_defaults=drop_defaults))

    def send(self, content, buffers=None) -> None:
        """A custom message (streamed chunks), UTF-8 safe like :meth:`get_state`."""
        super().send(utf8_safe_value(content), buffers)

    def _on_frontend_msg(self, _widget, content, _buffers) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "cancel":
            self.cancel()
        elif kind == "dismiss_error":
            self.error = ""
        elif kind == "export":  # off the message loop: a figure can take a while to draw
            threading.Thread(target=self._export_for_download, args=(content,), daemon=True).start()

    def send_chunk(self, kind: str, content: dict, buffers: list[bytes] | None = None) -> None:
        """Stream one chunk to every open view (lost if none is displayed: traits stay the truth)."""
        self.send({"kind": kind, **content}, buffers=buffers or [])

    # -- the Export buttons (js/core/export.ts) ------------------------------------------------
    EXPORT_DPI = 200

    _quiet = False
    """True while the widget sets its own traits (observers that recompute skip those changes)."""

    @contextlib.contextmanager
    def _silent(self):
        """Trait changes made inside do not start a recomputation (observers check ``_quiet``)."""
        before, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = before  # nested: the outer block stays quiet

    def _quietly(self, **values) -> None:
        """Set traits without starting a recomputation (e.g. putting back a value the user
        asked for that was refused, or showing where a clamped value ended up)."""
        with self._silent():
            for name, value in values.items():
                setattr(self, name, value)

    SAVES_HTML = False
    """True for views whose ``save("x.html")`` writes a standalone page (``export_html.py``)."""

    def _standalone_extras(self) -> dict | None:
        """What a standalone page embeds besides the view's state so it answers clicks without
        Python (js/standalone/host.ts reads ``kind``); None: the state alone."""
        return None

    def save(self, path, *args, **options):
        """Write :meth:`figure` (``args`` and ``options`` go to it) to ``path``: .svg, .pdf or .png
        (``dpi=``, default 200), or for views that offer it .html (a standalone, offline,
        interactive page; ``options`` go to :func:`~llmxai_widgets.widgets.export_html.to_html`).
        Needs no browser and no kernel."""
        if Path(path).suffix.lower() == ".html" and self.SAVES_HTML:
            from .export_html import save_html

            return save_html(self, path, **options)
        if Path(path).suffix.lower() == ".html":
            raise ValueError(f"{type(self).__name__} saves figures as .svg, .pdf or .png; a standalone .html page "
                             f"is not available for this view")
        return self.figure(*args, **options).save(path, dpi=options.get("dpi", 200))

    def _export_request(self, request: dict) -> tuple[dict, str]:
        """``figure()`` options for what an Export button's ``request`` says is on screen, and
        the download's file name without its suffix. Views with Export buttons override."""
        raise NotImplementedError(f"{type(self).__name__} has no export buttons")

    @staticmethod
    def _export_window(request: dict) -> dict:
        """``rows=``/``cols=`` of the zoom window a matrix's Export request carries (none: all)."""
        window = request.get("window") or {}
        if not {"q0", "nq", "k0", "nk"} <= set(window):
            return {}
        q0, k0 = int(window["q0"]), int(window["k0"])
        return {"rows": (q0, q0 + int(window["nq"])), "cols": (k0, k0 + int(window["nk"]))}

    def _export_for_download(self, request: dict) -> None:
        """An Export button: the figure on screen as SVG or PNG bytes, in the page's theme, drawn
        by the same code as ``save()`` and sent back for the browser to download. A failure is
        shown in the view (``error``); the computed result and the view's state stay as they were."""
        fmt = request.get("format")
        try:
            if fmt not in ("svg", "png"):
                raise ValueError(f"the export buttons offer svg and png, not {fmt!r}")
            options, name = self._export_request(request)
            if request.get("theme") in ("light", "dark"):
                options["theme"] = request["theme"]
            data = self.figure(**options).to_bytes(fmt, dpi=self.EXPORT_DPI)
        except Exception as err:  # nothing is downloaded
            self.error = f"could not export the figure: {type(err).__name__}: {err}"
            self.send_chunk("export", {"format": fmt, "ok": False})
            return
        name = re.sub(r"[^\w.-]+", "_", name)  # a file name, whatever the model is called
        self.send_chunk("export", {"format": fmt, "ok": True, "name": f"{name}.{fmt}"}, [data])
