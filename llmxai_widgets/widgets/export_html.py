"""Standalone HTML export: one file that draws a view in any browser, with no network at all.

``to_html(view)`` returns a page holding

- the widget's synced state in ipywidgets' embed format (``<script type=
  "application/vnd.jupyter.widget-state+json">``: version 2.0, state by model id, binary
  buffers base64), including the widget's ES module as its ``_esm`` trait;
- for an :class:`~llmxai_widgets.AttentionView` with ``embed_all=True``, uint8 slices of every
  (part, layer, head), the mean and max of heads and attention rollout, in the format of
  ``AttentionView._slice`` (``export_attention.py``), plus the model-view thumbnails and a head summary, as long as the
  page stays under ``max_bytes``;
- a small host (``js/standalone/host.ts``, built to ``static/standalone.js``) that decodes the
  state, gives the view a model object (get/set/save_changes/on/off/send), imports the module
  from a Blob URL, calls its ``initialize`` and ``render``, and answers the view's layer, head,
  aggregate and part choices with the embedded slices;
- for other views, what their ``_standalone_extras`` embeds so their clicks are answered without
  Python (lookup tables; for the logit lens, contributions, neuron and attribution views packed
  arrays: ``export_views.py``, answered by ``js/standalone/lens.ts`` and ``views.ts``), and the
  messages the view shows for what only a running kernel can compute.

Nothing loads from elsewhere: a Content-Security-Policy forbids every request other than the
module's own Blob URL, and only the host script (allowed by its hash) may run. Token text is
untrusted: it only ever travels inside JSON with ``<``, ``>`` and ``&`` escaped, and in the
page's text through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import inspect
import json
import math
import re
from pathlib import Path

import traitlets as t
from ipywidgets.widgets.widget import _remove_buffers

from .base import utf8_safe_value

STATIC = Path(__file__).resolve().parent.parent / "static"
HOST = STATIC / "standalone.js"
STATE_MIME = "application/vnd.jupyter.widget-state+json"
_SLACK = 256  # bytes kept free under max_bytes (counts that grow by a digit, rounding)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="llmxai_widgets {version}">
<title>{title}</title>
<style>
body {{ margin: 16px 24px; font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff; }}
.lxw-export-head h1 {{ font-size: 16px; font-weight: 600; margin: 0 0 2px; overflow-wrap: anywhere; }}
.lxw-export-head p {{ font-size: 12px; color: #616161; margin: 0 0 10px; }}
.lxw-standalone-error {{ border-left: 4px solid #c62828; background: #fdecea; color: #611a15; padding: 6px 10px; }}
</style>
</head>
<body>
<header class="lxw-export-head"><h1>{title}</h1><p>{note}</p></header>
{containers}
<noscript><p>This page needs JavaScript to draw the view.</p></noscript>
<script type="{state_mime}">{state}</script>
{extras}
<script type="module">{host}</script>
</body>
</html>
"""


def to_html(widget, *, title: str | None = None, embed_all: bool = True, max_bytes: int = 20_000_000) -> str:
    """A standalone HTML page that draws ``widget`` offline, in any browser, without Python.

    - ``title``: the page's title and heading (default: the model's name and the text).
    - ``embed_all``: for an ``AttentionView``, also embed every layer and head (and the mean,
      max and rollout of heads, the model-view thumbnails and a head summary), so the page
      answers layer/head/part choices by itself; for other views what their clicks show
      (``_standalone_extras``: e.g. each computed cell's top tokens in the locate views, every
      position of the logit lens, each head's attention in the contributions view, every layer
      of the neuron view: ``export_views.py``). False: only the picture shown now.
    - ``max_bytes``: the page's size limit for what ``embed_all`` adds; slices that would pass it
      are left out (the page then says so). The view's own state is always included, even if it
      alone is larger.

    What only Python can compute (attention flow, the query-key view of other heads) is not
    embedded; the view shows a message when asked for it.
    """
    return page_for(widget, title=title, embed_all=embed_all, max_bytes=max_bytes).render()


def widget_entry(widget) -> dict:
    """``widget``'s state in ipywidgets' embed format (binary buffers base64), its module included."""
    state = widget.get_state()
    state["_esm"] = _esm_source(widget)
    stripped, paths, buffers = _remove_buffers(state)
    return {
        "model_name": widget._model_name,
        "model_module": widget._model_module,
        "model_module_version": widget._model_module_version,
        "state": stripped,
        "buffers": [
            {"encoding": "base64", "path": list(p), "data": base64.standard_b64encode(bytes(b)).decode("ascii")}
            for p, b in zip(paths, buffers)
        ],
    }


def page_for(widget, *, title: str | None = None, embed_all: bool = True, max_bytes: int = 20_000_000) -> "_Page":
    """The page :func:`to_html` renders (its state, and the extras that answer clicks)."""
    if hasattr(widget, "wait"):
        widget.wait()  # a computation running in the background: export what it ends with
    model_id = widget.model_id
    entry = widget_entry(widget)
    manager = {"version_major": 2, "version_minor": 0, "state": {model_id: entry}}
    host = _host_script()
    page = _Page(title if title is not None else _default_title(widget), manager, host, model_id)

    from .attention import AttentionView
    from .export_attention import EmbeddedAttention

    if isinstance(widget, AttentionView):
        EmbeddedAttention(widget, page, embed_all=embed_all, max_bytes=max_bytes).fill()
    elif embed_all and getattr(widget, "_standalone_extras", None) is not None:
        extras = widget._standalone_extras
        if "room" in inspect.signature(extras).parameters:  # views that embed arrays keep the page bounded
            page.extras = extras(room=max_bytes - len(page.render().encode("utf-8")) - _SLACK)
        else:
            page.extras = extras()
        if page.extras and page.extras.get("note"):
            page.note += " " + page.extras["note"]
    return page


def save_html(widget, path, **kwargs) -> Path:
    """Write :func:`to_html` of ``widget`` to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    path.write_text(to_html(widget, **kwargs), encoding="utf-8")
    return path


# -- the page ------------------------------------------------------------------------------------


utf8_safe = utf8_safe_value  # a page's text: lone surrogates as U+FFFD, as in the live views


def script_json(value) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>``, ``&`` (and the JS line separators)
    as ``\\u`` escapes, so no text inside can close the element or open a comment; lone
    surrogates as U+FFFD (:func:`utf8_safe`), so the page can be written as UTF-8."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity: not JSON; null as Python's json would not write it
        text = json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return utf8_safe(text)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _host_script() -> str:
    if not HOST.exists():
        raise FileNotFoundError(
            f"the standalone HTML host ({HOST}) is missing because this checkout was not built since it "
            f"was added: run `npm install && npm run build` in the repository (or `pip install -e .`)"
        )
    js = HOST.read_text(encoding="utf-8")
    # never true of the built host; kept so an edit cannot end the element early
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    return js.replace("<!--", "<\\!--")


def _esm_source(widget) -> str:
    """The widget's ES module: read from the file its ``_esm`` points to, else the text itself."""
    value = None
    for cls in type(widget).__mro__:  # anywidget turns the class attribute into a trait on a subclass
        candidate = cls.__dict__.get("_esm")
        if candidate is not None and not isinstance(candidate, t.TraitType):
            value = candidate
            break
    for source in (value, getattr(widget, "_esm", None)):
        path = _as_path(source)
        if path is not None:
            return path.read_text(encoding="utf-8")
        if isinstance(source, str) and source.strip():
            return source
    raise ValueError(f"{type(widget).__name__} has no _esm module to embed")


def _as_path(value) -> Path | None:
    path = getattr(value, "_path", None)  # anywidget's FileContents
    if path is None and isinstance(value, Path):
        path = value
    if path is None and isinstance(value, str) and "\n" not in value and re.search(r"\.m?js$", value):
        path = Path(value)
    return Path(path) if path is not None and Path(path).is_file() else None


def _default_title(widget) -> str:
    name = getattr(widget, "model_name", "")
    what = f"{name} attention" if name and hasattr(widget, "pattern") else type(widget).__name__
    text = " ".join("".join(getattr(widget, "tokens", None) or []).split())
    if len(text) > 80:
        text = text[:79] + "\u2026"
    return f"{what}: {text}" if text else what


class _Page:
    def __init__(self, title: str, manager: dict, host: str, model_id: str):
        self.title, self.host, self.model_id = title, host, model_id
        self.manager = manager
        self.state = script_json(manager)
        self.extras: dict | None = None
        self.note = "Exported from llmxai_widgets; this page works offline and needs no Python."

    def render(self, extras_json: str | None = None) -> str:
        if extras_json is None:
            extras_json = script_json(self.extras)
        return render_page(self.title, self.note, self.host, self.state, [(self.model_id, extras_json, {})])


TITLE_CHARS = 300


def _shown_title(title: str) -> str:
    """The page's ``<title>`` and ``<h1>``: token text (the default title quotes the input) under
    the display rule (``display_token``: no raw bidi, zero-width or control character, a lone
    surrogate as U+FFFD), at most TITLE_CHARS characters; escaped by the caller."""
    from ..figures.text import display_token

    return utf8_safe(display_token(title, TITLE_CHARS))


def render_page(title: str, note: str, host: str, state_json: str, parts: list[tuple[str, str, dict]]) -> str:
    """The page: a container per ``(model_id, extras_json, attributes)`` of ``parts`` (drawn in
    that order; ``attributes`` become ``data-lxw-*`` attributes), the widgets' state, each one's
    extras, and the host, the only script allowed to run."""
    from .. import __version__

    host_hash = base64.b64encode(hashlib.sha256(host.encode("utf-8")).digest()).decode("ascii")
    csp = (
        f"default-src 'none'; script-src 'sha256-{host_hash}' blob:; style-src 'unsafe-inline'; "
        "img-src data: blob:; base-uri 'none'; form-action 'none'"
    )
    containers, extras = [], []
    for model_id, extras_json, attributes in parts:
        more = "".join(f' data-lxw-{html.escape(k)}="{html.escape(str(v))}"' for k, v in attributes.items())
        containers.append(f'<div class="lxw-standalone" data-lxw-model-id="{html.escape(model_id)}"{more}></div>')
        extras.append(f'<script type="application/json" class="lxw-standalone-data" '
                      f'data-lxw-model-id="{html.escape(model_id)}">{extras_json}</script>')
    return _PAGE.format(
        csp=csp,
        version=html.escape(__version__),
        title=html.escape(_shown_title(title)),
        note=html.escape(utf8_safe(note)),
        containers="\n".join(containers),
        state_mime=STATE_MIME,
        state=state_json,
        extras="\n".join(extras),
        host=host,
    )


__all__ = ["save_html", "to_html"]
