"""Standalone HTML export (no browser): the page parses, loads nothing from elsewhere, never lets
token text out of its JSON, and carries the widget's state and the embedded slices intact.
tests/browser/test_html_export_browser.py opens such pages in Chromium."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser

import numpy as np
import pytest

import llmxai_widgets as lx
from llmxai_widgets.widgets.export_html import STATE_MIME, STATIC, save_html, script_json, to_html
from llmxai_widgets.methods.attention_views import aggregate
from llmxai_widgets.models.wrapped import Tokens
from llmxai_widgets.results import AttentionResult, StoredWeights
from llmxai_widgets.wire import decode
from ipywidgets.widgets.widget import _remove_buffers

HOSTILE = ["Say", " </script><script>alert(1)</script>", " <img src=x onerror=alert(1)>", " &amp; <!-- x", " now"]


def toy_result(tokens, n_layers=3, n_heads=2, causal=True, seed=0) -> AttentionResult:
    rng = np.random.default_rng(seed)
    n = len(tokens)
    w = rng.random((n_layers, n_heads, n, n)).astype(np.float32) + 0.01
    if causal:
        w *= np.tril(np.ones((n, n), np.float32))
    w /= w.sum(-1, keepdims=True)
    toks = Tokens(
        source="".join(tokens), ids=np.arange(n), text=list(tokens),
        offsets=np.zeros((n, 2), np.int64), special=np.zeros(n, bool),
    )
    return AttentionResult(
        tokens=toks, layers=list(range(n_layers)), kv_group=np.arange(n_heads), model_name="toy",
        n_model_layers=n_layers, n_heads=n_heads, sources={i: StoredWeights(w[i]) for i in range(n_layers)}, causal=causal,
    )


class Page(HTMLParser):
    """Every element's attributes, and the text of each <script> by its type."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def script(self, type_: str) -> str:
        found = [text for attrs, text in self.scripts if attrs.get("type") == type_]
        assert len(found) == 1, f"{len(found)} <script type={type_!r}>"
        return found[0]


@pytest.fixture(scope="module")
def view():
    return lx.AttentionView.from_result(toy_result(["The", " cat", " sat", " down", "."]), layer=1, head=1)


@pytest.fixture(scope="module")
def page(view):
    return to_html(view)


def test_page_parses_and_requests_nothing_from_elsewhere(page):
    parsed = Page(page)
    tags = [tag for tag, _ in parsed.tags]
    assert tags[:2] == ["html", "head"] and "body" in tags
    assert [attrs.get("type") for attrs, _ in parsed.scripts] == [STATE_MIME, "application/json", "module"]
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), f"<{tag} {name}={value!r}>"
    assert not any(tag in ("link", "iframe", "img", "object", "embed") for tag in tags)
    # and the browser is told so: only the host (by its hash) runs; no request but blob: modules
    csp = next(attrs["content"] for tag, attrs in parsed.tags if attrs.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "unsafe-inline' blob" not in csp
    assert "http" not in csp


def test_state_round_trips_in_ipywidgets_embed_format(view, page):
    manager = json.loads(Page(page).script(STATE_MIME))
    assert (manager["version_major"], manager["version_minor"]) == (2, 0)
    entry = manager["state"][view.model_id]
    assert (entry["model_name"], entry["model_module"]) == ("AnyModel", "anywidget")
    expected, paths, buffers = _remove_buffers(view.get_state())
    state = entry["state"]
    assert state.pop("_esm") == (STATIC / "attention.js").read_text()
    expected.pop("_esm")
    assert state == json.loads(json.dumps(expected))
    assert [b["path"] for b in entry["buffers"]] == [list(p) for p in paths]
    for b, raw in zip(entry["buffers"], buffers):
        assert b["encoding"] == "base64" and base64.b64decode(b["data"]) == bytes(raw)
    assert ["pattern", "data"] in [b["path"] for b in entry["buffers"]]


def extras_of(page: str) -> tuple[dict, bytes]:
    extras = json.loads(Page(page).script("application/json"))
    return extras, base64.b64decode(extras["blob"])


def unpacked(packed: dict, blob: bytes) -> dict:
    value = dict(packed["value"])
    for b in packed["buffers"]:
        target = value
        for key in b["path"][:-1]:
            target = target[key] = dict(target[key])
        target[b["path"][-1]] = blob[b["offset"] : b["offset"] + b["length"]]
    return value


def test_every_layer_and_head_is_embedded_as_the_widget_would_send_it(view, page):
    extras, blob = extras_of(page)
    result = view.result
    slices = [unpacked(p, blob) for p in extras["slices"]]
    keys = {(s["part"], s["layer"], s["aggregate"], s["head"] if s["aggregate"] == "head" else None) for s in slices}
    wanted = {("self", layer, "head", head) for layer in result.layers for head in range(result.n_heads)}
    wanted |= {("self", layer, how, None) for layer in result.layers for how in ("mean", "max", "rollout")}
    wanted.discard(("self", view.layer, "head", view.head))  # the state's own pattern: not repeated
    assert keys == wanted and extras["skipped"] == 0
    header, data = view._slice(view.layer, 0)  # Python's own slice of another head: same bytes
    mine = next(s for s in slices if (s["layer"], s["aggregate"], s["head"]) == (view.layer, "head", 0))
    assert mine["data"] == data and {k: mine[k] for k in header} == {**header, "head": 0, "aggregate": "head"}
    for s in slices:
        np.testing.assert_allclose(
            decode(s), aggregate(result, s["layer"], s["aggregate"], s["head"]), atol=s["scale"] / 2 + 1e-6,
        )
    part = extras["parts"]["self"]
    assert part["traits"]["tokens"] == list(result.tokens.text) and part["traits"]["available_layers"] == [0, 1, 2]
    thumbs = unpacked(part["thumbnails"], blob)
    assert thumbs["layers"] == [0, 1, 2] and decode(thumbs).shape == (3, 2, 5, 5)
    summary = part["summary"]["value"]
    assert "sink" in summary["names"] and "induction" not in summary["names"]  # weights only: no model run


def test_embed_all_false_keeps_only_the_state(view):
    small = to_html(view, embed_all=False)
    extras, blob = extras_of(small)
    assert extras["slices"] == [] and blob == b"" and extras["embed_all"] is False
    assert len(small) < len(to_html(view))


def test_max_bytes_is_respected_and_the_shown_layer_comes_first(view):
    full = len(to_html(view).encode())
    limit = full - 3000
    page = to_html(view, max_bytes=limit)
    assert len(page.encode()) <= limit
    extras, blob = extras_of(page)
    assert extras["skipped"] > 0
    layers = [p["value"]["layer"] for p in extras["slices"]]
    assert layers[0] == view.layer and str(extras["skipped"]) in page
    # a limit below the state alone: the state is still all there, nothing else
    tiny = to_html(view, max_bytes=1000)
    assert extras_of(tiny)[0]["slices"] == [] and json.loads(Page(tiny).script(STATE_MIME))


def test_hostile_token_text_never_appears_as_markup(tmp_path):
    view = lx.AttentionView.from_result(toy_result(HOSTILE), layer=0, head=0)
    path = save_html(view, tmp_path / "hostile.html")
    page = path.read_text(encoding="utf-8")
    for needle in ("</script><script>", "<img", "alert(1)</script>", "<!-- x", "onerror=alert(1)>"):
        assert needle not in page, needle
    parsed = Page(page)
    assert [attrs.get("type") for attrs, _ in parsed.scripts] == [STATE_MIME, "application/json", "module"]
    assert not any(tag == "img" for tag, _ in parsed.tags)
    manager = json.loads(parsed.script(STATE_MIME))
    assert manager["state"][view.model_id]["state"]["tokens"] == HOSTILE  # exact text survives
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the title, as text
    extras = json.loads(parsed.script("application/json"))
    assert extras["parts"]["self"]["traits"]["tokens"] == HOSTILE


def test_script_json_escapes_what_could_end_a_script():
    text = script_json({"t": "</script><!--&\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"t": "</script><!--&\u2028"}


def test_title_is_escaped_and_used(view):
    page = to_html(view, title='A <b>"title"</b>')
    assert "<title>A &lt;b&gt;&quot;title&quot;&lt;/b&gt;</title>" in page


def test_encoder_decoder_embeds_every_part(tiny_t5):
    view = lx.AttentionView(tiny_t5, "The cat sat on the mat.", target="Le chat est assis.", layer=1, head=2)
    extras, blob = extras_of(to_html(view))
    results = view.results
    assert set(extras["parts"]) == {"encoder", "decoder", "cross"}
    for part, result in results.items():
        traits = extras["parts"][part]["traits"]
        assert traits["tokens"] == list(result.tokens.text) and traits["n_layers"] == result.n_model_layers
        assert traits["key_tokens"] == ([] if result.key_tokens is None else list(result.key_tokens.text))
    kinds = {(p["value"]["part"], p["value"]["aggregate"]) for p in extras["slices"]}
    assert ("cross", "rollout") not in kinds and ("encoder", "rollout") in kinds and ("decoder", "max") in kinds
    assert extras["skipped"] == 0


def test_any_anywidget_exports_with_its_module(tmp_path):
    import anywidget
    import traitlets

    module = tmp_path / "hello.js"
    module.write_text("export default { render({ model, el }) { el.textContent = model.get('value'); } };\n")

    class FromFile(anywidget.AnyWidget):
        _esm = module
        value = traitlets.Unicode("</script> hi").tag(sync=True)

    class Inline(anywidget.AnyWidget):
        _esm = "export default {\n render({ el }) { el.textContent = 'inline'; }\n};"

    for widget, esm in ((FromFile(), module.read_text()), (Inline(), Inline._esm)):
        page = to_html(widget)
        state = json.loads(Page(page).script(STATE_MIME))["state"][widget.model_id]["state"]
        assert state["_esm"] == esm
        assert json.loads(Page(page).script("application/json")) is None  # no slices: not an AttentionView
    assert "</script> hi" not in to_html(FromFile())


def test_non_finite_numbers_become_null():
    assert json.loads(script_json({"a": float("nan"), "b": [float("inf"), 1.5]})) == {"a": None, "b": [None, 1.5]}


def test_a_one_token_text_exports(recwarn):
    page = to_html(lx.AttentionView.from_result(toy_result(["Hi"]), layer=0, head=0))
    assert extras_of(page)[0]["skipped"] == 0
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
