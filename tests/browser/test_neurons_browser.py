"""NeuronView in a real JupyterLab + Chromium on the bundled SmolLM2.

Expected activations come from an independent forward hook on
``model.model.layers[l].mlp.down_proj``'s input (transformers directly, not llmxai_widgets), and
the colour scale's end from them by the view's documented rule. One notebook, one kernel and one
view serve the tests, which run in file order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lab_canvas import COLOR_TOL, assert_color
from lab_views import open_tab, set_theme
from llmxai_widgets.colors import to_rgb


TEXT = "The quick brown fox jumps over the lazy dog. Paris is the capital of France, and Rome is in Italy."
CORPUS = ["The cat sat on the mat.", "Paris is the capital of France.", "One, two, three, four, five.",
          "Rome and Milan are cities in Italy."]
LAYER, OTHER = 5, 14
CLIP = 0.999

_PIXELS_JS = """(c) => {
  const ratio = c.width / c.getBoundingClientRect().width, d = c.dataset, ctx = c.getContext('2d'), out = [];
  for (let r = 0; r < Number(d.nr); r++) { const row = [];
    for (let k = 0; k < Number(d.nc); k++) {
      const x = Math.floor((Number(d.left) + (k + 0.5) * Number(d.colw)) * ratio);
      const y = Math.floor((Number(d.top) + (r + 0.5) * Number(d.rowh)) * ratio);
      row.push(Array.from(ctx.getImageData(x, y, 1, 1).data)); }
    out.push(row); }
  return out; }"""


@dataclass
class Reference:
    tokens: list[str]
    acts: dict[int, np.ndarray]  # layer -> [token, neuron]
    corpus_best: dict[int, float]  # neuron -> its highest activation over the corpus (layer LAYER)

    def cmax(self, layer: int) -> float:
        flat = np.sort(np.abs(self.acts[layer]).ravel())
        return float(flat[int(np.floor(CLIP * (flat.size - 1)))])

    def color(self, layer: int, token: int, neuron: int) -> tuple[int, ...]:
        c = self.cmax(layer)
        return tuple(int(v) for v in to_rgb(self.acts[layer][token, neuron], -c, c, "RdBu_r"))


@pytest.fixture(scope="module")
def reference() -> Reference:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmxai_widgets.models.bundled import smollm2_folder

    folder = smollm2_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()

    def activations(text: str) -> dict[int, np.ndarray]:
        found, handles = {}, []
        for layer in range(30):
            def hook(_module, args, layer=layer):
                found[layer] = args[0][0].float().numpy().copy()
            handles.append(model.model.layers[layer].mlp.down_proj.register_forward_pre_hook(hook))
        try:
            with torch.no_grad():
                model(**tokenizer(text, return_tensors="pt"))
        finally:
            for h in handles:
                h.remove()
        return found

    enc = tokenizer(TEXT, return_offsets_mapping=True)
    acts = activations(TEXT)
    corpus = np.concatenate([activations(t)[LAYER] for t in CORPUS])
    return Reference(tokens=[TEXT[a:b] for a, b in enc["offset_mapping"]], acts=acts,
                     corpus_best={n: float(corpus[:, n].max()) for n in range(corpus.shape[1])})


@pytest.fixture(scope="module")
def notebook(lab_page, open_notebook):
    return open_notebook(lab_page, "neurons_browser")


@pytest.fixture(scope="module")
def widget(notebook, reference):
    cell = notebook.run(
        "import llmxai_widgets as lx\n"
        "model = lx.load_model()\n"
        f"v = lx.NeuronView(model, {TEXT!r}, layer={LAYER}, corpus={CORPUS!r})\n"
        "v"
    )
    canvas = cell.locator(".lxw-heat canvas[data-layer]")
    try:
        canvas.wait_for(state="visible", timeout=90_000)
    except Exception:
        raise AssertionError(f"the view never drew:\n{cell.inner_text()}\npage errors: {notebook.page_errors}")
    return cell, canvas


def output(cell, page):
    return cell.locator(".jp-OutputArea-output").filter(has=page.locator(".lxw-root"))


def shoot(cell, page, path: Path) -> None:
    """Screenshot the view whole: a viewport as tall as the output, so JupyterLab's own bars do
    not land on a tall view."""
    out = output(cell, page)
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(out.bounding_box()["height"]) + 400)})
    try:
        page.wait_for_timeout(300)  # the view redraws for the new size
        out.scroll_into_view_if_needed()
        out.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


def check_pixels(canvas, reference: Reference, layer: int) -> int:
    """Every visible cell's colour against the reference; returns how many cells were checked."""
    ids = [int(i) for i in canvas.get_attribute("data-colids").split(",")]
    r0 = int(canvas.get_attribute("data-r0"))
    pixels = canvas.evaluate(_PIXELS_JS)
    bad = []
    for r, row in enumerate(pixels):
        for k, got in enumerate(row):
            want = reference.color(layer, r0 + r, ids[k])
            if got[3] != 255 or max(abs(a - b) for a, b in zip(got[:3], want)) > COLOR_TOL:
                bad.append((r0 + r, ids[k], tuple(got[:3]), want))
    assert not bad, f"{len(bad)} cells differ, e.g. {bad[:5]}"
    distinct = {tuple(p[:3]) for row in pixels for p in row}
    assert len(distinct) >= 8, f"the heatmap looks flat: {len(distinct)} colours"
    return sum(len(row) for row in pixels)


def strongest(reference: Reference, layer: int) -> int:
    return int(reference.acts[layer].max(axis=0).argmax())


def test_heatmap_draws_the_layer(notebook, widget, reference, artifacts):
    page = notebook.page
    cell, canvas = widget
    n = len(reference.tokens)
    assert (canvas.get_attribute("data-rows"), canvas.get_attribute("data-cols")) == (str(n), "1536")
    assert float(canvas.get_attribute("data-vmax")) == pytest.approx(reference.cmax(LAYER), rel=2e-3)
    shoot(cell, page, artifacts / "neurons.png")
    # zoom to the strongest neuron: 64 columns around it, every cell checked
    neuron = strongest(reference, LAYER)
    cell.locator("input.lxw-neuron-input").fill(str(neuron))
    cell.locator("input.lxw-neuron-input").press("Enter")
    page.wait_for_function("(c) => c.dataset.nc === '64'", arg=canvas.element_handle(), timeout=15_000)
    assert str(neuron) in canvas.get_attribute("data-colids").split(",")
    assert check_pixels(canvas, reference, LAYER) == 64 * n


def hover(page, canvas, row: int, col: int):
    tooltip = canvas.locator("xpath=..").locator(".lxw-tooltip")
    box = canvas.bounding_box()
    d = {a: float(canvas.get_attribute(f"data-{a}")) for a in ("left", "top", "colw", "rowh", "r0", "c0")}
    x = box["x"] + d["left"] + (col - d["c0"] + 0.5) * d["colw"]
    y = box["y"] + d["top"] + (row - d["r0"] + 0.5) * d["rowh"]
    page.mouse.move(0, 0)
    page.mouse.move(x, y)
    page.wait_for_function("([t, r, c]) => t.style.display !== 'none' && t.dataset.row === String(r) && t.dataset.col === String(c)",
                           arg=[tooltip.element_handle(), row, col], timeout=10_000)
    return tooltip


def test_hover_shows_token_neuron_and_value(notebook, widget, reference):
    page = notebook.page
    _, canvas = widget
    ids = [int(i) for i in canvas.get_attribute("data-colids").split(",")]
    c0 = int(canvas.get_attribute("data-c0"))
    row, k = 3, 10
    text = hover(page, canvas, row, c0 + k).inner_text()
    neuron = ids[k]
    assert re.search(rf"token\s+#{row} {re.escape(json.dumps(reference.tokens[row], ensure_ascii=False))}", text), text
    assert re.search(rf"neuron\s+{neuron} \(layer {LAYER}\)", text), text
    value = float(re.search(r"activation\s+(-?[0-9.]+)", text).group(1))
    assert value == pytest.approx(reference.acts[LAYER][row, neuron], rel=2e-3, abs=1e-4)


def test_clicking_a_neuron_opens_its_detail(notebook, widget, reference, artifacts):
    page = notebook.page
    cell, canvas = widget
    ids = [int(i) for i in canvas.get_attribute("data-colids").split(",")]
    c0, k = int(canvas.get_attribute("data-c0")), 20
    neuron = ids[k]
    hover(page, canvas, 1, c0 + k)
    page.mouse.down()
    page.mouse.up()
    detail = cell.locator(".lxw-neuron-detail")
    page.wait_for_function("([d, n]) => d.dataset.neuron === String(n) && d.style.display !== 'none'",
                           arg=[detail.element_handle(), neuron], timeout=15_000)
    assert f"Neuron {neuron} of layer {LAYER}" in detail.inner_text()
    values = reference.acts[LAYER][:, neuron]
    m = float(np.abs(values).max())
    spans = detail.locator(".lxw-neuron-text .lxw-tok")
    assert spans.count() == len(reference.tokens)
    for j in range(len(values)):
        span = spans.nth(j)
        assert float(span.get_attribute("data-value")) == pytest.approx(values[j], rel=2e-3, abs=1e-4)
        got = span.evaluate("(s) => getComputedStyle(s).backgroundColor")
        rgb = tuple(int(v) for v in re.findall(r"\d+", got)[:3])
        assert_color((*rgb, 255), tuple(int(c) for c in to_rgb(values[j], -m, m, "RdBu_r")), f"token {j}")
    assert detail.locator(".lxw-neuron-text .lxw-tok.lxw-target").get_attribute("data-index") == str(int(values.argmax()))
    # the corpus search runs in the background, then lists the windows
    page.wait_for_function("(d) => d.querySelector('.lxw-examples').dataset.status === 'ready'",
                           arg=detail.element_handle(), timeout=60_000)
    rows = detail.locator(".lxw-example")
    assert rows.count() >= 5
    assert float(rows.first.get_attribute("data-activation")) == pytest.approx(reference.corpus_best[neuron], rel=1e-4)
    assert rows.first.locator(".lxw-tok.lxw-target").count() == 1
    assert notebook.run("print(v.neuron)").locator(".jp-OutputArea-output").inner_text().strip() == str(neuron)
    shoot(cell, page, artifacts / "neurons-detail.png")


def test_layer_menu_switches_the_slice(notebook, widget, reference, artifacts):
    page = notebook.page
    cell, canvas = widget
    cell.locator("select.lxw-layer").select_option(str(OTHER))
    page.wait_for_function("([c, l]) => c.dataset.layer === String(l)", arg=[canvas.element_handle(), OTHER], timeout=30_000)
    assert float(canvas.get_attribute("data-vmax")) == pytest.approx(reference.cmax(OTHER), rel=2e-3)
    check_pixels(canvas, reference, OTHER)
    sent = notebook.run("print(v.layer_slice['layer'], len(v.layer_slice['activations']['data']))")
    layer, size = sent.locator(".jp-OutputArea-output").inner_text().split()
    assert int(layer) == OTHER and int(size) == len(reference.tokens) * 1536 * 2  # one layer's float16 slice


def test_top_neurons_mode(notebook, widget, reference, artifacts):
    page = notebook.page
    cell, canvas = widget
    cell.locator("button.lxw-tab", has_text="Top neurons").click()
    page.wait_for_function("(c) => c.dataset.mode === 'top'", arg=canvas.element_handle(), timeout=15_000)
    shoot(cell, page, artifacts / "neurons-top.png")  # columns wide enough for their numbers
    cell.locator("button", has_text="Whole layer").click()
    acts = reference.acts[OTHER]
    union = sorted({int(n) for row in np.argsort(-acts, axis=1, kind="stable")[:, :5] for n in row})
    page.wait_for_function("([c, n]) => c.dataset.nc === String(n)", arg=[canvas.element_handle(), len(union)], timeout=15_000)
    assert [int(i) for i in canvas.get_attribute("data-colids").split(",")] == union
    check_pixels(canvas, reference, OTHER)


def test_factors_tab_draws(notebook, widget, reference, artifacts):
    import llmxai_widgets as lx
    from llmxai_widgets.methods.neurons import NeuronResult

    page = notebook.page
    cell, _ = widget
    pane = open_tab(page, cell, "Factors", ".lxw-factors", "(p) => p.dataset.ready === 'true'", timeout=60_000)
    grid = pane.locator("canvas[data-colids]").first
    acts = reference.acts[OTHER]
    tokens = lx.load_model().tokenize(TEXT)
    found = lx.nmf(NeuronResult(tokens, [OTHER], acts[None], np.zeros((1, len(acts), 1), int), 1, "smollm2", 30,
                                [OTHER], True), OTHER, 8)
    tf = found.token_factors
    pixels = grid.evaluate(_PIXELS_JS)
    assert len(pixels) == 8 and len(pixels[0]) == len(reference.tokens)
    for f in range(8):
        for j in range(len(reference.tokens)):
            want = tuple(int(v) for v in to_rgb(tf[f, j], 0.0, 1.0, "viridis"))
            assert_color(pixels[f][j], want, f"factor {f}, token {j}")
    spans = pane.locator(".lxw-factor-text .lxw-tok")
    assert spans.count() == len(reference.tokens)
    shown = [int(s) for s in spans.evaluate_all("(ss) => ss.map((s) => s.dataset.factor)")]
    for j, f in enumerate(shown):  # the strongest factor (ties within the uint8 step either way)
        assert tf[f, j] >= tf[:, j].max() - 2 / 255, (j, f, tf[:, j])
    shoot(cell, page, artifacts / "neurons-factors.png")
    cell.locator("button.lxw-tab", has_text="All neurons").click()


def test_errors_show_in_the_view(notebook, widget, artifacts):
    page = notebook.page
    cell, canvas = widget
    notebook.run("try:\n    v.layer = 99\nexcept Exception as err:\n    print(type(err).__name__)")
    panel = cell.locator(".lxw-error")
    panel.wait_for(state="visible", timeout=10_000)
    assert "layer 99 is out of range" in panel.inner_text() and panel.get_attribute("role") == "alert"
    assert canvas.is_visible() and canvas.get_attribute("data-layer") == str(OTHER)  # the picture stays
    shoot(cell, page, artifacts / "neurons-error.png")
    panel.locator("button", has_text="Dismiss").click()
    cell.locator("input.lxw-neuron-input").fill("5000")
    cell.locator("input.lxw-neuron-input").press("Enter")
    page.wait_for_function("(p) => p.innerText.includes('neuron 5000 is out of range')", arg=panel.element_handle(), timeout=10_000)
    panel.locator("button", has_text="Dismiss").click()


def test_dark_theme(notebook, widget, reference, artifacts):
    page = notebook.page
    cell, canvas = widget
    try:
        set_theme(page, True)
        cell.locator("input.lxw-neuron-input").fill(str(strongest(reference, OTHER)))
        cell.locator("input.lxw-neuron-input").press("Enter")
        page.wait_for_function("(c) => c.dataset.nc === '64' && c.dataset.mode === 'neurons'", arg=canvas.element_handle(),
                               timeout=15_000)
        check_pixels(canvas, reference, OTHER)
        shoot(cell, page, artifacts / "neurons-dark.png")
    finally:
        set_theme(page, False)


def test_layers_stream_in_and_cancel_keeps_them(notebook, artifacts):
    page = notebook.page
    cell = notebook.run(
        "import time\n"
        "slow = [layer.register_forward_pre_hook(lambda *_: time.sleep(0.4)) for layer in model.model.model.layers]\n"
        "long_text = ' '.join(f'word{i % 97} is number {i}.' for i in range(120))\n"
        "v2 = lx.NeuronView(model, long_text, layer=0)\n"
        "v2"
    )
    canvas = cell.locator(".lxw-heat canvas[data-layer]")
    canvas.wait_for(state="visible", timeout=60_000)  # layer 0 drawn while the rest computes
    progress = cell.locator(".lxw-progress progress").first
    assert progress.is_visible(), "the forward pass should still be running"
    shoot(cell, page, artifacts / "neurons-streaming.png")
    cell.locator(".lxw-progress button", has_text="Cancel").first.click()
    page.wait_for_function("(p) => p.style.display === 'none'", arg=progress.element_handle(), timeout=60_000)
    kept = notebook.run("for h in slow: h.remove()\nprint(v2.status, len(v2.layers_done), v2.result.complete)")
    status, n_done, complete = kept.locator(".jp-OutputArea-output").inner_text().split()
    assert (status, complete) == ("cancelled", "False") and 1 <= int(n_done) < 30
    labels = cell.locator("select.lxw-layer option").all_inner_texts()
    assert "(computing)" not in labels[0] and any("(computing)" in label for label in labels)
    assert canvas.get_attribute("data-layer") == "0"


def test_no_uncaught_page_errors(notebook):
    assert notebook.page_errors == [], notebook.page_errors
    assert notebook.dialogs == []
