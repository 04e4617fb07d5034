"""LogitLensView in JupyterLab + Chromium on the bundled SmolLM2: every cell's colour is the colour
table applied to the top token's probability computed here with transformers directly
(softmax(lm_head(norm(hidden state)))), hover names the token and its probability, a click lists
the top tokens and charts that position, the target box follows another token, and a long text
shows a window of positions that moves (also in the dark theme)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lab_cells import assert_cells, click_cell, hover_cell
from lab_views import set_theme
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.figures import display_token


VIEWPORT = {"width": 1400, "height": 1800}  # own_page: the view and its detail in one screenshot
TEXT = "The capital of France is"
GRID = ".lxw-lens .lxw-cellgrid canvas.lxw-cells"


@pytest.fixture(scope="module")
def reference():
    """Per row (embeddings, then after each block) and position: next-token probabilities from
    transformers' hidden states, decoded by the model's own final norm and lm_head."""
    import torch

    import llmxai_widgets as lx

    model = lx.load_model()
    ids = torch.as_tensor(model.tokenize(TEXT).ids)[None]
    with torch.no_grad():
        out = model.model(input_ids=ids, output_hidden_states=True)
        hidden = out.hidden_states  # [0]: embeddings; [l + 1]: after block l (the last one is already normed)
        rows = [torch.softmax(model.model.lm_head(model.model.model.norm(hidden[l][0])), -1) for l in range(30)]
        rows.append(torch.softmax(out.logits[0], -1))
    probs = torch.stack(rows).numpy()  # [row, position, vocab]
    return model, probs


def text_of(cell) -> str:
    return cell.locator(".jp-OutputArea-output").inner_text()


def test_cells_are_the_lens_hover_and_click_show_the_top_tokens(lab_page, open_notebook, artifacts, reference):
    model, probs = reference
    page = lab_page
    page.set_viewport_size({"width": 1400, "height": 1800})  # the whole view fits: screenshots are not cut off
    notebook = open_notebook(page, "logit_lens_browser")
    cell = notebook.run(f"import llmxai_widgets as lx\nmodel = lx.load_model()\nv = lx.LogitLensView(model, {TEXT!r})\nv")
    grid = cell.locator(GRID).first
    page.wait_for_function("(c) => c.dataset.rows === '31' && c.dataset.cols === '5'", arg=grid.element_handle(), timeout=90_000)
    top = probs.max(-1)  # [row, position]: the top token's probability
    assert_cells(grid, to_rgb(top, 0.0, 1.0, "viridis").tolist(), "logit lens grid")
    view = cell.locator(".jp-OutputArea-output").filter(has=page.locator(".lxw-root"))
    view.screenshot(path=str(artifacts / "logit-lens.png"))

    # hover the model's own output after " is": " Paris" and its probability
    tooltip = hover_cell(page, grid, 30, 4)
    tip = tooltip.inner_text()
    p_paris = probs[30, 4, model.tokenizer.encode(" Paris", add_special_tokens=False)[0]]
    assert "L29" in tip and "\u201c Paris\u201d" in tip and f"{p_paris:.3f}" in tip, tip
    view.screenshot(path=str(artifacts / "logit-lens-hover.png"))

    # click layer 19 at " of" (position 2): its top tokens, and the chart moves to that position
    click_cell(page, grid, 20, 2)
    detail = cell.locator(".lxw-detail")
    page.wait_for_function("(d) => d.dataset.row === '20' && d.dataset.position === '2'", arg=detail.element_handle())
    order = np.argsort(-probs[20, 2])[:5]
    listed = detail.locator(".lxw-detail-token").all_inner_texts()
    assert listed == [f"\u201c{display_token(model.tokenizer.decode([int(i)]), 30)}\u201d" for i in order], listed
    assert detail.locator("h4").inner_text() == "L19, after #2 \u201c of\u201d"
    chart = cell.locator(".lxw-chart canvas").first
    page.wait_for_function("(c) => c.dataset.position === '2'", arg=chart.element_handle())
    followed = int(probs[30, 2].argmax())  # the model's own prediction after " of"
    points = np.array([float(v) for v in chart.get_attribute("data-points").split(",")])
    np.testing.assert_allclose(points, probs[:, 2, followed], rtol=1e-3, atol=1e-6)
    assert text_of(notebook.run("print(v.selected)")).strip() == "2"
    view.screenshot(path=str(artifacts / "logit-lens-detail.png"))

    # follow " Paris" by typing it: recomputed, and the chart draws p(" Paris") across layers
    cell.locator("input.lxw-target-input").fill(" Paris")
    cell.locator("input.lxw-target-input").press("Enter")
    page.wait_for_function("(c) => c.dataset.title.startsWith('p(\u201c Paris\u201d)')", arg=chart.element_handle(), timeout=60_000)
    paris = model.tokenizer.encode(" Paris", add_special_tokens=False)[0]
    points = np.array([float(v) for v in chart.get_attribute("data-points").split(",")])
    np.testing.assert_allclose(points, probs[:, 2, paris], rtol=1e-3, atol=1e-7)
    assert text_of(notebook.run("print(repr(v.target), v.result.target_text[0])")).strip() == "' Paris'  Paris"
    cell.locator(".lxw-lens input[type=checkbox]").check()  # log scale: the early layers' tiny values show
    view.screenshot(path=str(artifacts / "logit-lens-paris-log.png"))

    # a token that is not one token: said in the view, the picture stays
    cell.locator("input.lxw-target-input").fill("Paris France")
    cell.locator("input.lxw-target-input").press("Enter")
    error = cell.locator(".lxw-error").first
    error.wait_for(state="visible")
    assert "cannot follow 'Paris France'" in error.inner_text()
    assert grid.get_attribute("data-rows") == "31" and cell.locator("select.lxw-target-select").input_value() == " Paris"
    view.screenshot(path=str(artifacts / "logit-lens-error.png"))
    assert not notebook.page_errors, notebook.page_errors


def test_long_text_shows_a_window_that_moves_in_the_dark_theme(own_page, open_notebook, artifacts):
    page = own_page
    notebook = open_notebook(page, "logit_lens_long")
    set_theme(page, True)
    cell = notebook.run(
        "import llmxai_widgets as lx\nmodel = lx.load_model()\n"
        "text = ' '.join(['The quick brown fox jumps over the lazy dog near the river bank.'] * 25)\n"
        "long = lx.LogitLensView(model, text)\nlong"
    )
    grid = cell.locator(GRID).first
    page.wait_for_function("(c) => c.dataset.cols === '16' && c.dataset.rows === '31'", arg=grid.element_handle(), timeout=90_000)
    n = json.loads(text_of(notebook.run("print(len(long.tokens))")))
    assert n > 300
    assert grid.get_attribute("data-positions") == ",".join(str(p) for p in range(n - 16, n))
    label = cell.locator(".lxw-window .lxw-muted")
    assert label.inner_text() == f"tokens {n - 16}\u2013{n - 1} of {n}"
    # only the window travels: 31 rows x 16 positions x 5 ranks
    assert text_of(notebook.run("print(long.top_ids['shape'])")).strip() == "[31, 16, 5]"
    view = cell.locator(".jp-OutputArea-output").filter(has=page.locator(".lxw-root"))
    # the text is readable on the dark page: row labels are drawn in a light colour
    colour = page.evaluate("(c) => getComputedStyle(c.closest('.lxw-root')).color", grid.element_handle())
    assert sum(int(v) for v in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]) > 450, colour
    view.screenshot(path=str(artifacts / "logit-lens-long-dark.png"))
    cell.locator("button.lxw-window-back").click()
    page.wait_for_function(f"(c) => c.dataset.positions.startsWith('{n - 24},')", arg=grid.element_handle(), timeout=60_000)
    assert label.inner_text() == f"tokens {n - 24}\u2013{n - 9} of {n}"
    assert text_of(notebook.run("print(long.window_start, long.selected)")).split() == [str(n - 24), str(n - 9)]
    # 16 positions fit the notebook: nothing scrolled out of sight, cells wide enough for a token
    scroller = cell.locator(".lxw-lens .lxw-scroll").first
    assert scroller.evaluate("(s) => s.scrollWidth <= s.clientWidth"), scroller.evaluate("(s) => [s.scrollWidth, s.clientWidth]")
    assert float(grid.get_attribute("data-cellw")) >= 50
    view.screenshot(path=str(artifacts / "logit-lens-long-moved.png"))
    # back to the light theme: the canvas is redrawn with the page's dark text
    dark_ink = grid.get_attribute("data-ink")
    set_theme(page, False)
    page.wait_for_function("([c, ink]) => c.dataset.ink !== ink", arg=[grid.element_handle(), dark_ink], timeout=15_000)
    ink = grid.get_attribute("data-ink")
    assert sum(int(v) for v in ink[ink.index("(") + 1 : ink.index(")")].split(",")[:3]) < 300, ink
    assert not notebook.page_errors, notebook.page_errors
