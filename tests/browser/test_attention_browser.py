"""AttentionView in a real JupyterLab + Chromium: pixels, tooltip, layer switch, XSS, error panel.

Expected weights come from transformers directly (eager attention on the cached bundled SmolLM2
folder), not from ``llmxai_widgets.attention``, so a bug shared by the Python computation and the
view cannot hide. One notebook and one kernel serve every test in this module; the tests run in
file order and share the displayed widget.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pytest

from lab_canvas import DISTINCT_JS, assert_color, cell_center, hover, pixel, tooltip_weight  # noqa: F401
from lab_views import open_tab, screenshot_view, set_theme
from llmxai_widgets.colors import to_rgb


TEXT = "The quick brown fox jumps over the lazy dog near the river."
XSS_TEXT = "Say <img src=x onerror=alert(1)> now"
LAYER, HEAD = 3, 4  # a head with a cell no other layer or head colours alike
GREY = (200, 200, 200)


@dataclass
class Reference:
    tokens: list[str]
    pattern: np.ndarray  # [layer, head, query, key]
    other_layer: int
    query: int
    key: int
    xss_tokens: list[str]

    def weight(self, layer: int, query: int | None = None, key: int | None = None) -> float:
        q = self.query if query is None else query
        k = self.key if key is None else key
        return float(self.pattern[layer, HEAD, q, k])

    def color(self, layer: int, query: int | None = None, key: int | None = None) -> tuple[int, ...]:
        vmax = float(self.pattern[layer, HEAD].max())
        return tuple(int(c) for c in to_rgb(self.weight(layer, query, key), 0.0, vmax, "viridis"))


def _shown_tokens(tokenizer, text: str) -> list[str]:
    enc = tokenizer(text, return_offsets_mapping=True)
    return [text[a:b] for a, b in enc["offset_mapping"]]


@pytest.fixture(scope="module")
def reference() -> Reference:
    """Attention of the bundled model on TEXT, straight from transformers (eager attention)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmxai_widgets.models.bundled import smollm2_folder

    folder = smollm2_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    enc = tokenizer(TEXT, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    pattern = torch.stack(out.attentions)[:, 0].float().numpy()  # [layer, head, q, k]
    n = pattern.shape[-1]

    # The cell (strict lower triangle) whose colour differs most from the same cell in every other
    # layer (same head) and every other head (same layer), so drawing the wrong layer or head
    # cannot pass; the layer-select test switches to the layer where it differs most.
    def colors(layer, head):
        return to_rgb(pattern[layer, head], 0.0, float(pattern[layer, head].max())).astype(int)

    mine = colors(LAYER, HEAD)
    others = [colors(layer, HEAD) for layer in range(pattern.shape[0]) if layer != LAYER]
    others += [colors(LAYER, head) for head in range(pattern.shape[1]) if head != HEAD]
    separation = np.abs(mine[None] - np.stack(others)).sum(-1).min(0)  # [q, k]
    separation[np.triu_indices(n)] = -1
    q, k = (int(i) for i in np.unravel_index(separation.argmax(), separation.shape))
    assert separation[q, k] > 150, f"no cell separates layer {LAYER} head {HEAD} from the rest ({separation[q, k]})"
    layer_diff = [np.abs(mine[q, k] - colors(layer, HEAD)[q, k]).sum() if layer != LAYER else -1 for layer in range(pattern.shape[0])]
    other = int(np.argmax(layer_diff))
    return Reference(
        tokens=_shown_tokens(tokenizer, TEXT),
        pattern=pattern,
        other_layer=other,
        query=q,
        key=k,
        xss_tokens=_shown_tokens(tokenizer, XSS_TEXT),
    )


@pytest.fixture(scope="module")
def notebook(lab_page, open_notebook):
    return open_notebook(lab_page, "attention_browser")


@pytest.fixture(scope="module")
def widget(notebook, reference):
    """The AttentionView cell, drawn: returns (cell locator, canvas locator)."""
    code = (
        "import llmxai_widgets\n"
        "model = llmxai_widgets.load_model()\n"
        f"v = llmxai_widgets.AttentionView(model, {TEXT!r}, layer={LAYER}, head={HEAD})\n"
        "v"
    )
    cell = notebook.run(code)
    canvas = cell.locator(".lxw-root canvas[data-layer]")
    try:
        canvas.wait_for(state="visible", timeout=90_000)
    except Exception:
        raise AssertionError(f"widget never drew; cell output:\n{cell.inner_text()}\npage errors: {notebook.page_errors}")
    assert canvas.get_attribute("data-layer") == str(LAYER)
    assert canvas.get_attribute("data-head") == str(HEAD)
    assert int(canvas.get_attribute("data-n")) == len(reference.tokens)
    return cell, canvas


# -- tests -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_view(request):
    """Tests share one view: each one that uses it starts from the same layer, head and tab, so a
    failure part-way through one test cannot fail the next."""
    if "widget" not in request.fixturenames:
        yield
        return
    notebook = request.getfixturevalue("notebook")
    cell, canvas = request.getfixturevalue("widget")
    notebook.run(
        f"v.show(layer={LAYER}, head={HEAD}, aggregate='head', mode='matrix', pair_filter='all')\n"
        "v.log_scale = v.exclude_first = False\n"
        "v.error = ''"
    )
    notebook.page.keyboard.press("Escape")
    notebook.page.wait_for_function(
        "([c, l, h]) => c.dataset.layer === String(l) && c.dataset.head === String(h) && c.dataset.scale === 'linear'",
        arg=[canvas.element_handle(), LAYER, HEAD], timeout=30_000,
    )
    yield


def test_heatmap_pixels_match_transformers(widget, reference):
    _, canvas = widget
    q, k = reference.query, reference.key
    assert_color(pixel(canvas, q, k), reference.color(LAYER), f"cell ({q}, {k}) of layer {LAYER} head {HEAD}")
    # a few more cells: the diagonal, the first column, and a masked (upper) cell
    n = len(reference.tokens)
    for qq, kk in [(n - 1, n - 1), (n - 1, 0), (n // 2, 1)]:
        assert_color(pixel(canvas, qq, kk), reference.color(LAYER, qq, kk), f"cell ({qq}, {kk})")
    assert_color(pixel(canvas, 0, n - 1), GREY, "masked upper-triangle cell")
    distinct = canvas.evaluate(DISTINCT_JS)
    assert len(distinct) >= 6, f"heatmap looks blank: only {len(distinct)} distinct cell colours {distinct}"
    vmax = float(canvas.get_attribute("data-vmax"))
    assert vmax == pytest.approx(float(reference.pattern[LAYER, HEAD].max()), abs=0.01)


def test_hover_tooltip_names_cell_and_weight(notebook, widget, reference):
    _, canvas = widget
    q, k = reference.query, reference.key
    tooltip = hover(notebook.page, canvas, q, k)
    text = tooltip.inner_text()
    quoted = lambda tok: json.dumps(tok, ensure_ascii=False)  # the view writes JSON.stringify(token)
    assert re.search(rf"query\s+#{q} {re.escape(quoted(reference.tokens[q]))}", text), text
    assert re.search(rf"key\s+#{k} {re.escape(quoted(reference.tokens[k]))}", text), text
    assert tooltip_weight(text) == pytest.approx(reference.weight(LAYER), abs=0.01), text
    assert float(tooltip.get_attribute("data-weight")) == pytest.approx(reference.weight(LAYER), abs=0.01)
    assert (tooltip.get_attribute("data-query"), tooltip.get_attribute("data-key")) == (str(q), str(k))


def test_layer_select_redraws_other_layer(notebook, widget, reference):
    cell, canvas = widget
    page = notebook.page
    q, k, other = reference.query, reference.key, reference.other_layer
    layer_select = cell.locator("select.lxw-layer")
    for layer in (other, LAYER):  # there and back: a cached layer must redraw too
        layer_select.select_option(str(layer))
        page.wait_for_function(
            "([c, l]) => c.dataset.layer === String(l)", arg=[canvas.element_handle(), layer], timeout=30_000
        )
        assert_color(pixel(canvas, q, k), reference.color(layer), f"cell ({q}, {k}) after selecting layer {layer}")
        tooltip = hover(page, canvas, q, k)
        assert tooltip_weight(tooltip.inner_text()) == pytest.approx(reference.weight(layer), abs=0.01)
    # Python followed the view
    check = notebook.run("print('layer', v.layer, 'head', v.head)")
    assert f"layer {LAYER} head {HEAD}" in check.locator(".jp-OutputArea-output").inner_text()


def test_screenshot(notebook, widget, reference, artifacts):
    cell, canvas = widget
    hover(notebook.page, canvas, reference.query, reference.key)  # tooltip and highlight in the picture
    cell.locator(".jp-OutputArea-output").filter(has=notebook.page.locator(".lxw-root")).screenshot(
        path=str(artifacts / "attention.png")
    )
    assert (artifacts / "attention.png").stat().st_size > 5_000


def test_export_buttons_download_what_is_on_screen(notebook, widget, reference, artifacts):
    """SVG and PNG from the view's buttons: drawn by Python's figure code; the PNG's cells have
    the colours the canvas shows, cell by cell, and the SVG holds every token as text."""
    import io
    import xml.etree.ElementTree as ET

    from PIL import Image

    page = notebook.page
    cell, canvas = widget
    with page.expect_download(timeout=30_000) as svg_download:
        cell.locator("button.lxw-export", has_text="SVG").click()
    svg_path = artifacts / "export-from-button.svg"
    svg_download.value.save_as(svg_path)
    assert svg_download.value.suggested_filename.endswith(f"layer{LAYER}-head{HEAD}.svg")
    root = ET.fromstring(svg_path.read_text())
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for token in reference.tokens:
        assert token in texts, (token, texts)

    with page.expect_download(timeout=30_000) as png_download:
        cell.locator("button.lxw-export", has_text="PNG").click()
    png_path = artifacts / "export-from-button.png"
    png_download.value.save_as(png_path)
    exported = np.asarray(Image.open(io.BytesIO(png_path.read_bytes())).convert("RGB"))
    geometry = notebook.run("f = v._matrix_figure()\nprint(f.left, f.top, f.cell, f.width, f.height)")
    left, top, size, width, height = map(float, geometry.locator(".jp-OutputArea-output").inner_text().split())
    scale = 200 / 72  # the button asks for 200 dpi
    assert abs(exported.shape[1] - width * scale) < 1.5 and abs(exported.shape[0] - height * scale) < 1.5
    n = len(reference.tokens)
    worst = 0
    for q in range(n):
        for k in range(q + 1):  # the readable cells; masked ones are grey in both
            x, y = int((left + (k + 0.5) * size) * scale), int((top + (q + 0.5) * size) * scale)
            got = exported[y, x].astype(int)
            shown = np.array(pixel(canvas, q, k)[:3])
            worst = max(worst, int(np.abs(got - shown).max()))
    assert worst <= 8, f"exported PNG and screen differ by up to {worst} per channel in some cell"


def test_mean_of_heads_and_log_scale_draw_the_right_colours(notebook, widget, reference):
    """Pick "mean of heads" in the head menu: the pixel is the mean over heads computed from
    transformers' own weights; then the log scale maps log10(weight) over three decades."""
    page = notebook.page
    cell, canvas = widget
    layer, q, k = LAYER, reference.query, reference.key
    mean = reference.pattern[layer].mean(axis=0)  # [query, key]
    cell.locator("select.lxw-head").select_option("mean")
    page.wait_for_function("(c) => c.dataset.aggregate === 'mean'", arg=canvas.element_handle(), timeout=15_000)
    expected = tuple(int(c) for c in to_rgb(mean[q, k], 0.0, float(mean.max())))
    assert_color(pixel(canvas, q, k), expected, "mean of heads")
    cell.locator(".lxw-options input").nth(1).check()  # log scale
    page.wait_for_function("(c) => c.dataset.scale === 'log'", arg=canvas.element_handle(), timeout=15_000)
    top = np.log10(mean.max())
    expected = tuple(int(c) for c in to_rgb(np.log10(mean[q, k]), top - 3, top))
    assert_color(pixel(canvas, q, k), expected, "mean of heads, log scale")
    cell.locator(".lxw-options input").nth(1).uncheck()
    cell.locator("select.lxw-head").select_option(str(HEAD))
    page.wait_for_function("(c) => c.dataset.aggregate === 'head' && c.dataset.scale === 'linear'", arg=canvas.element_handle(), timeout=15_000)
    assert_color(pixel(canvas, q, k), reference.color(LAYER), "back to the head")


def _networkx_flow_row(pattern: np.ndarray, upto: int, query: int) -> np.ndarray:
    """Attention flow row of ``query`` after layer ``upto``, straight from transformers' weights
    with networkx's max flow (Abnar and Zuidema's graph; row normalised as their code does)."""
    import networkx as nx

    n = pattern.shape[-1]
    graph = nx.DiGraph()
    for layer in range(upto + 1):
        mixed = 0.5 * pattern[layer].astype(np.float64).mean(axis=0) + 0.5 * np.eye(n)
        mixed /= mixed.sum(axis=-1, keepdims=True)
        for q in range(n):
            for k in range(n):
                if mixed[q, k] > 0:
                    graph.add_edge((layer, k), (layer + 1, q), capacity=float(mixed[q, k]))
    row = np.array([nx.maximum_flow_value(graph, (0, k), (upto + 1, query)) for k in range(n)])
    return row / row.sum()


def test_attention_flow_draws_the_max_flow_row(notebook, widget, reference):
    """Pick attention flow: computed in the background (progress line), then drawn; one row's
    pixels match a max flow computed by networkx from transformers' own weights."""
    page = notebook.page
    cell, canvas = widget
    q = len(reference.tokens) - 1
    row = _networkx_flow_row(reference.pattern, LAYER, q)
    cell.locator("select.lxw-head").select_option("flow")
    page.wait_for_function("(c) => c.dataset.aggregate === 'flow'", arg=canvas.element_handle(), timeout=60_000)
    vmax = float(canvas.get_attribute("data-vmax"))
    assert vmax >= row.max() - 1e-3
    for k in (0, 1, q // 2, q):
        assert_color(pixel(canvas, q, k), to_rgb(row[k], 0.0, vmax), f"flow ({q}, {k})")
    tooltip = hover(page, canvas, q, 1)
    assert tooltip_weight(tooltip.inner_text()) == pytest.approx(row[1], abs=vmax / 255 + 1e-3)


def test_model_view_shows_every_head_and_opens_one_on_click(notebook, widget, reference, artifacts):
    page = notebook.page
    cell, canvas = widget
    cell.locator(".lxw-tab", has_text="Model view").click()
    grid = cell.locator(".lxw-grid canvas").first
    grid.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "(c) => c.dataset.rows === '30' && c.dataset.filled === '30'", arg=grid.element_handle(), timeout=30_000,
    )  # every layer's thumbnails are drawn
    screenshot_view(cell, page, artifacts / "attention-model-view.png")
    box = grid.bounding_box()
    thumb, gap, top = int(grid.get_attribute("data-thumb")), 3, int(grid.get_attribute("data-top"))
    columns = [float(x) for x in grid.get_attribute("data-columns").split(",")]
    assert columns[3] - columns[2] > columns[1] - columns[0], "key/value groups sit apart (3 groups of 3)"
    layer, head = 7, 2
    page.mouse.click(box["x"] + columns[head] + thumb / 2, box["y"] + top + layer * (thumb + gap) + thumb / 2)
    page.wait_for_function(
        "(c) => c.dataset.layer === '7' && c.dataset.head === '2' && c.offsetParent !== null",
        arg=canvas.element_handle(), timeout=15_000,
    )
    expected = reference.pattern[layer, head]
    q, k = reference.query, reference.key
    color = tuple(int(c) for c in to_rgb(expected[q, k], 0.0, float(expected.max())))
    assert_color(pixel(canvas, q, k), color, "head opened from the model view")
    out = notebook.run("print(v.mode, v.layer, v.head)")
    assert out.locator(".jp-OutputArea-output").inner_text().split() == ["matrix", "7", "2"]
    notebook.run(f"v.show(layer={LAYER}, head={HEAD})")
    page.wait_for_function(
        f"(c) => c.dataset.layer === '{LAYER}' && c.dataset.head === '{HEAD}'", arg=canvas.element_handle(), timeout=15_000
    )


def test_head_summary_ranks_heads_and_opens_one(notebook, widget, artifacts):
    """The summary tab shows every head's score; the ranked list matches Python's ranking (itself
    checked against raw eager attentions in tests/test_head_summary.py); a click opens the head."""
    page = notebook.page
    cell, canvas = widget
    cell.locator(".lxw-tab", has_text="Head summary").click()
    cell.locator(".lxw-summary .lxw-score").first.wait_for(state="visible", timeout=60_000)
    assert cell.locator(".lxw-summary .lxw-score").count() == 30 * 9
    out = notebook.run("print(*[f'{l} {h} {x:.2f}' for l, h, x in llmxai_widgets.head_summary(model, v.result.tokens).top('induction', 3)], sep='|')")
    top = [row.split() for row in out.locator(".jp-OutputArea-output").inner_text().strip().split("|")]
    ranked = cell.locator(".lxw-ranked li").all_inner_texts()
    for (layer, head, value), shown in zip(top, ranked):
        assert shown.startswith(f"layer {layer}, head {head}"), (top, ranked)
        assert value in cell.locator(f".lxw-score[data-layer='{layer}'][data-head='{head}']").inner_text()
    screenshot_view(cell, page, artifacts / "attention-summary.png")
    layer, head = top[0][0], top[0][1]
    cell.locator(".lxw-ranked button").first.click()
    page.wait_for_function(
        f"(c) => c.dataset.layer === '{layer}' && c.dataset.head === '{head}' && c.offsetParent !== null",
        arg=canvas.element_handle(), timeout=15_000,
    )
    notebook.run(f"v.show(layer={LAYER}, head={HEAD})")
    page.wait_for_function(
        f"(c) => c.dataset.layer === '{LAYER}' && c.dataset.head === '{HEAD}'", arg=canvas.element_handle(), timeout=15_000
    )


def test_query_key_view_draws_a_row_per_readable_key_and_opens_the_pair(notebook, widget, reference, artifacts):
    page = notebook.page
    cell, canvas = widget
    qk = open_tab(page, cell, "Query", ".lxw-querykey canvas", "(c) => c.dataset.keys !== undefined")
    n = len(reference.tokens)
    assert qk.get_attribute("data-query") == str(n - 1) and qk.get_attribute("data-keys") == str(n)
    cell.locator(".lxw-querykey select").select_option(str(reference.query))
    page.wait_for_function(
        f"(c) => c.dataset.query === '{reference.query}' && c.dataset.keys === '{reference.query + 1}'",
        arg=qk.element_handle(), timeout=15_000,
    )  # causal: a query reads only itself and earlier keys
    screenshot_view(cell, page, artifacts / "attention-querykey.png")
    box = qk.bounding_box()
    row = 16
    page.mouse.click(box["x"] + 200, box["y"] + 34 + row * (1 + reference.key) + row / 2)  # the key's row
    tooltip = canvas.locator("xpath=..").locator(".lxw-tooltip")
    page.wait_for_function(
        f"(t) => t.dataset.query === '{reference.query}' && t.dataset.key === '{reference.key}' && t.offsetParent !== null",
        arg=tooltip.element_handle(), timeout=15_000,
    )
    assert tooltip_weight(tooltip.inner_text()) == pytest.approx(reference.weight(LAYER), abs=0.01)


def test_head_view_draws_lines_and_isolates_a_hovered_token(notebook, widget, reference, artifacts):
    page = notebook.page
    cell, _ = widget
    hv = open_tab(page, cell, "Head view", ".lxw-headview canvas", "(c) => Number(c.dataset.lines) > 0")
    quantised = np.rint(reference.pattern[LAYER] * 255) / 255  # [head, q, k] as sent
    assert int(hv.get_attribute("data-lines")) == int((quantised >= 0.02).sum())
    hv.scroll_into_view_if_needed()
    box = hv.bounding_box()
    q = reference.query
    page.mouse.move(0, 0)
    page.mouse.move(box["x"] + 60, box["y"] + 8 + (q + 0.5) * 20)  # the left-hand token q
    expected = int((quantised[:, q, :] >= 0.02).sum())
    page.wait_for_function(f"(c) => c.dataset.lines === '{expected}'", arg=hv.element_handle(), timeout=10_000)
    screenshot_view(cell, page, artifacts / "attention-head-view.png")
    cell.locator(".lxw-swatch").nth(0).click()  # hide head 0 (the mouse leaves: every token again)
    expected = int((quantised[1:] >= 0.02).sum())
    page.wait_for_function(f"(c) => c.dataset.lines === '{expected}'", arg=hv.element_handle(), timeout=10_000)
    cell.locator(".lxw-swatch").nth(0).click()
    cell.locator(".lxw-tab", has_text="Matrix").click()


def test_token_text_is_never_markup(notebook, reference, artifacts):
    page = notebook.page
    cell = notebook.run(f"v2 = llmxai_widgets.AttentionView(model, {XSS_TEXT!r}, layer=0, head=0)\nv2")
    canvas = cell.locator(".lxw-root canvas[data-layer]")
    canvas.wait_for(state="visible", timeout=60_000)
    page.wait_for_timeout(500)  # give an injected onerror handler time to fire
    assert page.locator("img[src=x]").count() == 0
    # the only image is the view's own static figure (hidden here), never one made of token text
    assert cell.locator('.jp-OutputArea-output img:not([alt^="llmxai-widgets figure"])').count() == 0
    tokens = reference.xss_tokens
    i = next(i for i, t in enumerate(tokens) if "<" in t or "img" in t)
    tooltip = hover(page, canvas, i, i)
    text = tooltip.inner_text()
    assert json.dumps(tokens[i], ensure_ascii=False) in text, text
    assert "<" in text or "img" in text, text
    assert notebook.dialogs == [], f"a dialog opened: {notebook.dialogs}"
    screenshot_view(cell, page, artifacts / "attention-xss.png")


def test_python_error_shows_in_panel_and_keeps_heatmap(notebook, widget, reference, artifacts):
    cell, canvas = widget
    before = pixel(canvas, reference.query, reference.key)
    notebook.run("v.layer = 99")
    panel = cell.locator(".lxw-error")
    panel.wait_for(state="visible", timeout=10_000)
    assert panel.get_attribute("role") == "alert"
    assert "out of range" in panel.inner_text()
    assert "99" in panel.inner_text()
    assert canvas.is_visible()
    assert canvas.get_attribute("data-layer") == str(LAYER)
    assert pixel(canvas, reference.query, reference.key) == before
    assert_color(before, reference.color(LAYER), "heatmap under the error panel")
    cell.locator(".jp-OutputArea-output").filter(has=notebook.page.locator(".lxw-root")).screenshot(
        path=str(artifacts / "attention-error.png")
    )
    assert notebook.dialogs == []


def test_layers_stream_with_progress_and_cancel_keeps_them(notebook):
    """A long text: layers arrive while Python computes; Cancel stops it and keeps what arrived."""
    page = notebook.page
    # A slow model, deterministically: half a second per layer (real layers, real hooks), so the
    # stream can be watched and cancelled whatever the machine's speed.
    cell = notebook.run(
        "import time, llmxai_widgets\n"
        "model = llmxai_widgets.load_model()\n"
        "slow = [layer.register_forward_pre_hook(lambda *_: time.sleep(0.5)) for layer in model.model.model.layers]\n"
        "long_text = ' '.join(f'token{i % 97} is number {i}.' for i in range(160))\n"
        "v3 = llmxai_widgets.AttentionView(model, long_text, layer=0)\n"
        "v3"
    )
    progress = cell.locator(".lxw-progress progress")
    progress.wait_for(state="visible", timeout=30_000)
    canvas = cell.locator(".lxw-root canvas[data-layer]")
    canvas.wait_for(state="visible", timeout=60_000)  # layer 0 drawn before the rest is done
    assert progress.is_visible(), "the computation should still be running"
    cell.locator(".lxw-progress button", has_text="Cancel").click()
    page.wait_for_function(
        "(el) => !el.querySelector('.lxw-progress progress') || el.querySelector('.lxw-progress progress').style.display === 'none'",
        arg=cell.element_handle(), timeout=60_000,
    )
    kept = notebook.run("for h in slow: h.remove()\nprint(v3.status, len(v3.result.layers), v3.result.complete)")
    status, n_layers, complete = kept.locator(".jp-OutputArea-output").inner_text().split()
    assert (status, complete) == ("cancelled", "False")
    assert 1 <= int(n_layers) < 30
    assert canvas.is_visible() and canvas.get_attribute("data-layer") == "0"
    labels = cell.locator("select.lxw-layer").locator("option").all_inner_texts()
    assert "(computing)" not in labels[0] and any("(computing)" in label for label in labels)


def test_no_uncaught_page_errors(notebook):
    assert notebook.page_errors == [], f"uncaught errors in the page: {notebook.page_errors}"
    assert notebook.dialogs == []


_FIRST_MASKED_RED_JS = """([c, red]) => { const r = c.width / c.getBoundingClientRect().width, d = c.dataset, s = Number(d.cell);
  const p = c.getContext('2d').getImageData(Math.floor((Number(d.left) + 1.5 * s) * r),
    Math.floor((Number(d.top) + 0.5 * s) * r), 1, 1).data; return p[0] === red; }"""


def test_dark_theme_redraws_with_its_colours(notebook, widget, reference, artifacts):
    """JupyterLab Dark: labels take the theme's text colour, masked cells its dark grey (the
    same as a dark-theme export), the weights keep their colours; then back to light."""
    page = notebook.page
    cell, canvas = widget
    q, k = reference.query, reference.key
    try:
        set_theme(page, True)
        page.wait_for_function(_FIRST_MASKED_RED_JS, arg=[canvas.element_handle(), 70], timeout=30_000)
        assert_color(pixel(canvas, q, k), reference.color(LAYER), "a weight on the dark theme")
        screenshot_view(cell, page, artifacts / "attention-dark.png")
    finally:
        set_theme(page, False)
    page.wait_for_function(_FIRST_MASKED_RED_JS, arg=[canvas.element_handle(), 200], timeout=30_000)
