"""CausalTraceView and PatchingView in JupyterLab + Chromium on the bundled SmolLM2: every cell's
colour is the colour table applied to the value the view's own result gives it (exact where its
layer is done, the linear estimate elsewhere), hover names the cell and its value, a click shows
what the model predicts in that cell's run, the Direction menu recomputes, Cancel keeps the exact
layers, and the SVG export writes every token as text. Screenshots in light and dark theme, at
1400 and 900 px."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from lab_cells import assert_cells, click_cell, hover_cell
from lab_views import dark_theme, screenshot_view, view_output
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.figures import display_token

VIEWPORT = {"width": 1400, "height": 1500}  # own_page: the whole view in one screenshot
PROMPT = "The Eiffel Tower is located in the city of"
TRACE = f"lx.CausalTraceView(model, {PROMPT!r}, 'Eiffel Tower', ' Paris', samples=2, window=6)"
CLEAN, CORRUPT = "The Eiffel Tower is in the city of", "The Colosseum is in the city of"
TOKEN_SITES = ("residual", "mlp", "attention")
SHOWN = ("import json as _json\nfrom llmxai_widgets.figures.locate import shown_values as _shown\n"
         "print(_json.dumps({'vmin': v.vmin, 'vmax': v.vmax, 'done': v.done, 'grids': "
         "{s: _shown(v.result, s).tolist() for s in v.result.scores}}))")


def grid_canvas(cell, site: str):
    return cell.locator(f".lxw-locate canvas.lxw-cells[data-site='{site}']")


def shown(notebook) -> dict:
    """What the kernel's view shows: its colour scale, done layers and every grid's values (shown_values)."""
    out = notebook.run(SHOWN).locator(".jp-OutputArea-output").inner_text()
    return json.loads(out)


def assert_grids(cell, state: dict, colormap: str, what: str) -> None:
    for site, values in state["grids"].items():
        values = np.asarray(values, np.float64)
        drawn = values.T if site in TOKEN_SITES else values  # tokens down, layers across
        assert_cells(grid_canvas(cell, site), to_rgb(drawn, state["vmin"], state["vmax"], colormap).tolist(), f"{what} {site}")


LINE_STARTS_JS = """(root) => {
  const panels = [...root.querySelectorAll('.lxw-locate-tokens .lxw-locate-panel')];
  return panels.map((p, i) => [i === 0 || p.offsetTop > panels[i - 1].offsetTop + 1,
                               p.querySelector('canvas.lxw-cells').dataset.labels === 'true',
                               [root.clientWidth, p.offsetLeft, p.offsetTop, p.offsetWidth, p.parentElement.clientWidth]]);
}"""


def assert_labels_where_lines_start(cell, what: str) -> None:
    """The token panels that start a line (as the browser wrapped them) carry the token labels; the others do not."""
    starts = cell.locator(".lxw-locate").evaluate(LINE_STARTS_JS)
    assert starts and all(first == labelled for first, labelled, _ in starts), (what, starts)


def wait_all_exact(page, cell, timeout: float = 600_000) -> None:
    note = cell.locator(".lxw-locate-note")
    try:
        page.wait_for_function("(n) => n.dataset.allExact === 'true'", arg=note.element_handle(), timeout=timeout)
    except Exception:
        from conftest import ARTIFACTS
        screenshot_view(cell, page, ARTIFACTS / "locate-timeout.png")
        raise AssertionError(f"the view never had every layer exact: {cell.inner_text()[:3000]}")


def other_looks(page, cell, state: dict, colormap: str, artifacts, stem: str) -> None:
    """The view at ~900 px (the panels wrap) and in the dark theme: the same colours; a screenshot of each."""
    size = page.viewport_size
    page.set_viewport_size({"width": 900, "height": size["height"]})
    page.wait_for_function("(c) => c.getBoundingClientRect().width < 900", arg=view_output(cell, page).element_handle())
    page.wait_for_timeout(500)  # the resize observer redraws
    assert_grids(cell, state, colormap, f"{stem} at 900 px")
    assert_labels_where_lines_start(cell, f"{stem} at 900 px")
    screenshot_view(cell, page, artifacts / f"{stem}-900.png")
    page.set_viewport_size(size)
    with dark_theme(page):
        page.wait_for_timeout(300)
        assert_grids(cell, state, colormap, f"{stem} in the dark theme")
        assert_labels_where_lines_start(cell, f"{stem} in the dark theme")
        screenshot_view(cell, page, artifacts / f"{stem}-dark.png")


def open_view(page, open_notebook, name: str, view: str, site: str):
    """A notebook showing ``view`` (``model`` is loaded) once every layer is exact: the notebook,
    the cell, the canvas of ``site`` and what the kernel's view shows."""
    notebook = open_notebook(page, name)
    cell = notebook.run(f"import llmxai_widgets as lx\nmodel = lx.load_model()\nv = {view}\nv")
    canvas = grid_canvas(cell, site)
    canvas.wait_for(timeout=120_000)
    wait_all_exact(page, cell)
    return notebook, cell, canvas, shown(notebook)


def test_causal_trace_cells_hover_click_and_export(own_page, open_notebook, artifacts):
    import llmxai_widgets as lx

    page = own_page
    notebook, cell, residual, state = open_view(page, open_notebook, "locate_trace", TRACE, "residual")
    assert all(state["done"]) and state["vmin"] == 0.0
    assert_grids(cell, state, "viridis", "causal trace")
    assert_labels_where_lines_start(cell, "causal trace")
    assert residual.get_attribute("data-rows") == "10" and residual.get_attribute("data-cols") == "30"

    # the method in this process, on the residual stream only: the same numbers, and a cell's run
    model = lx.load_model()
    result = lx.causal_trace(model, PROMPT, "Eiffel Tower", " Paris", samples=2, window=6, kinds=("residual",))
    np.testing.assert_allclose(np.asarray(state["grids"]["residual"]), result.scores["residual"], atol=1e-4)  # batched differently
    summary = cell.locator(".lxw-locate-summary").inner_text()
    assert f"{result.clean_prob:.3f} clean" in summary and f"{result.corrupted_prob:.3f} corrupted" in summary, summary
    assert state["vmax"] == pytest.approx(result.clean_prob)
    screenshot_view(cell, page, artifacts / "locate-trace.png")

    layer, token = result.best("residual")
    tip = hover_cell(page, residual, token, layer).inner_text()
    assert f"L{layer}" in tip and display_token(result.tokens.text[token]) in tip and "exact" in tip, tip
    value = float(tip.split("p(' Paris')")[1].split()[0])
    assert value == pytest.approx(float(result.scores["residual"][layer, token]), abs=1e-4), tip
    screenshot_view(cell, page, artifacts / "locate-trace-hover.png")

    click_cell(page, residual, token, layer)
    detail = cell.locator(".lxw-locate-detail")
    page.wait_for_function("(d) => d.querySelectorAll('.lxw-locate-top tr').length > 0", arg=detail.element_handle(), timeout=60_000)
    assert detail.get_attribute("data-layer") == str(layer) and detail.get_attribute("data-column") == str(token)
    top = result.cell_top("residual", layer, token)
    rows = detail.locator(".lxw-locate-top tr")
    assert rows.count() == len(top)
    for k, (text, prob) in enumerate(top):
        assert display_token(text, 30) in rows.nth(k).inner_text()
        assert float(rows.nth(k).get_attribute("data-prob")) == pytest.approx(prob, abs=1e-4)
    picked = notebook.run("print(v.picked)").locator(".jp-OutputArea-output").inner_text().strip()
    assert picked == str({"site": "residual", "layer": layer, "column": token})
    screenshot_view(cell, page, artifacts / "locate-trace-click.png")
    click_cell(page, residual, token, layer)  # the same cell again: unpinned
    page.wait_for_function("(d) => !d.dataset.site", arg=detail.element_handle())
    assert notebook.run("print(v.picked)").locator(".jp-OutputArea-output").inner_text().strip() == "{}"

    # the SVG export: every token as text (before the Values menu schedules a redraw of the static figure)
    with page.expect_download(timeout=60_000) as download:
        cell.locator("button.lxw-export", has_text="SVG").click()
    path = artifacts / "locate-trace.svg"
    download.value.save_as(path)
    texts = ["".join(t.itertext()) for t in ET.fromstring(path.read_text()).iter("{http://www.w3.org/2000/svg}text")]
    for text in result.tokens.text:
        assert any(display_token(text) in t for t in texts), (text, texts)

    # the linear estimate everywhere: every column marked, colours of the estimate
    cell.locator("select.lxw-locate-show").select_option("estimate")
    page.wait_for_function("(c) => c.dataset.estimated.split(',').length === 30", arg=residual.element_handle())
    estimate = {"vmin": state["vmin"], "vmax": state["vmax"], "grids": json.loads(notebook.run(
        "print(_json.dumps({s: g.tolist() for s, g in v.result.estimate.items()}))").locator(".jp-OutputArea-output").inner_text())}
    assert_grids(cell, estimate, "viridis", "estimate")
    screenshot_view(cell, page, artifacts / "locate-trace-estimate.png")
    cell.locator("select.lxw-locate-show").select_option("exact")
    page.wait_for_function("(c) => c.dataset.estimated === ''", arg=residual.element_handle())

    other_looks(page, cell, state, "viridis", artifacts, "locate-trace")
    assert not notebook.page_errors, notebook.page_errors


def test_patching_heads_and_direction(own_page, open_notebook, artifacts):
    page = own_page
    notebook, cell, heads, state = open_view(page, open_notebook, "locate_patching",
                                             f"lx.PatchingView(model, {CLEAN!r}, {CORRUPT!r})", "heads")
    assert {"residual", "heads"} <= set(state["grids"]) and (state["vmin"], state["vmax"]) == (-1.0, 1.0)
    assert_grids(cell, state, "RdBu_r", "denoising")
    assert heads.get_attribute("data-rows") == "30" and heads.get_attribute("data-cols") == "9"
    tip = hover_cell(page, heads, 20, 3).inner_text()
    assert "L20" in tip and "H3" in tip and f"{state['grids']['heads'][20][3]:.3f}"[:4] in tip, tip
    screenshot_view(cell, page, artifacts / "locate-patching.png")
    before = cell.locator(".lxw-locate-summary").inner_text()
    assert "Denoising" in before

    cell.locator("select.lxw-locate-direction").select_option("noising")
    summary = cell.locator(".lxw-locate-summary")
    page.wait_for_function("(s) => s.textContent.includes('Noising')", arg=summary.element_handle(), timeout=120_000)
    wait_all_exact(page, cell)
    assert summary.inner_text() != before
    noising = shown(notebook)
    assert notebook.run("print(v.result.direction)").locator(".jp-OutputArea-output").inner_text().strip() == "noising"
    assert not np.allclose(np.asarray(noising["grids"]["heads"]), np.asarray(state["grids"]["heads"]))
    assert_grids(cell, noising, "RdBu_r", "noising")
    screenshot_view(cell, page, artifacts / "locate-patching-noising.png")
    other_looks(page, cell, noising, "RdBu_r", artifacts, "locate-patching")
    assert not notebook.page_errors, notebook.page_errors


def test_cancel_keeps_the_exact_layers(own_page, open_notebook, artifacts):
    page = own_page
    notebook = open_notebook(page, "locate_cancel")
    prompt = "In the middle of the old town, the famous cathedral called Notre Dame is located in the city of"
    cell = notebook.run(f"import llmxai_widgets as lx\nv = lx.CausalTraceView(lx.load_model(), {prompt!r}, 'Notre Dame', "
                        "' Paris', samples=10)\nv")
    note = cell.locator(".lxw-locate-note")
    note.wait_for(timeout=180_000)
    page.wait_for_function("(n) => Number(n.dataset.exact) >= 1", arg=note.element_handle(), timeout=180_000)
    screenshot_view(cell, page, artifacts / "locate-cancel-computing.png")
    cell.locator(".lxw-progress button", has_text="Cancel").click()
    page.wait_for_function("(n) => n.textContent.includes('cancelled')", arg=note.element_handle(), timeout=120_000)
    state = shown(notebook)
    exact = sum(state["done"])
    assert 1 <= exact < 30 and notebook.run("print(v.status)").locator(".jp-OutputArea-output").inner_text().strip() == "cancelled"
    assert f"Exact values for {exact} of 30 layers" in note.inner_text() and note.get_attribute("data-exact") == str(exact)
    assert_grids(cell, state, "viridis", "cancelled")  # exact layers exact, the rest the estimate
    residual = grid_canvas(cell, "residual")
    assert residual.get_attribute("data-estimated") == ",".join(str(l) for l in range(exact, 30))
    assert f"cancelled: {exact} of 30 layers exact" in cell.locator(".lxw-progress").inner_text()
    screenshot_view(cell, page, artifacts / "locate-cancel.png")
    assert not notebook.page_errors, notebook.page_errors


def test_saved_page_draws_and_answers_a_click(browser, smollm2, tmp_path, artifacts):
    """``save("x.html")``: the page opens from file:// under its strict CSP with no kernel, draws
    the view's colours, and a click on a cell shows that cell's run from what the page holds."""
    from lab_standalone import open_file
    from llmxai_widgets import PatchingView
    from llmxai_widgets.figures.locate import shown_values

    view = PatchingView(smollm2, CLEAN, CORRUPT, sites=("residual", "heads"), background=False)
    result = view.result
    assert result.exact
    o = open_file(browser, view.save(tmp_path / "patching.html"), ready=".lxw-locate canvas.lxw-cells")
    page = o.page
    for site in result.scores:
        values = shown_values(result, site).astype(np.float64)
        drawn = values.T if site in TOKEN_SITES else values
        assert_cells(page.locator(f".lxw-locate canvas.lxw-cells[data-site='{site}']"),
                     to_rgb(drawn, view.vmin, view.vmax, view.colormap).tolist(), f"saved page {site}")
    heads = page.locator(".lxw-locate canvas.lxw-cells[data-site='heads']")
    layer, head = np.unravel_index(int(np.nanargmax(result.scores["heads"])), result.scores["heads"].shape)
    click_cell(page, heads, int(layer), int(head))
    detail = page.locator(".lxw-locate-detail")
    page.wait_for_function("(d) => d.querySelectorAll('.lxw-locate-top tr').length > 0", arg=detail.element_handle())
    top = result.cell_top("heads", int(layer), int(head))
    rows = detail.locator(".lxw-locate-top tr")
    assert rows.count() == len(top)
    for k, (text, prob) in enumerate(top):
        assert display_token(text, 30) in rows.nth(k).inner_text()
        assert float(rows.nth(k).get_attribute("data-prob")) == pytest.approx(prob, abs=1e-5)
    page.screenshot(path=str(artifacts / "locate-saved-page.png"), full_page=True)
    o.assert_clean()


def test_saved_causal_trace_page_draws_and_answers_a_click(browser, smollm2, tmp_path):
    """The causal trace's own page: its residual grid's colours, and a click on a cell shows
    that cell's restored run from what the page holds (no kernel)."""
    from lab_standalone import open_file
    from llmxai_widgets import CausalTraceView
    from llmxai_widgets.figures.locate import shown_values

    view = CausalTraceView(smollm2, PROMPT, "Eiffel Tower", " Paris", samples=2, window=6, kinds=("residual",),
                           background=False)
    result = view.result
    o = open_file(browser, view.save(tmp_path / "trace.html"), ready=".lxw-locate canvas.lxw-cells")
    page = o.page
    grid = page.locator(".lxw-locate canvas.lxw-cells[data-site='residual']")
    values = shown_values(result, "residual").astype(np.float64)
    assert_cells(grid, to_rgb(values.T, view.vmin, view.vmax, view.colormap).tolist(), "saved causal trace")
    layer, token = np.unravel_index(int(np.nanargmax(result.scores["residual"])), result.scores["residual"].shape)
    click_cell(page, grid, int(token), int(layer))  # rows: tokens, columns: layers
    detail = page.locator(".lxw-locate-detail")
    page.wait_for_function("(d) => d.querySelectorAll('.lxw-locate-top tr').length > 0", arg=detail.element_handle())
    top = result.cell_top("residual", int(layer), int(token))
    first = detail.locator(".lxw-locate-top tr").first
    assert display_token(top[0][0], 30) in first.inner_text()
    assert float(first.get_attribute("data-prob")) == pytest.approx(top[0][1], abs=1e-5)
    o.assert_clean()
