"""ProbeView in JupyterLab + Chromium on the bundled SmolLM2 (the sentiment set, six layers): the
chart's points are the held-out accuracy lx.probe computes here, hovering a layer describes its
numbers, a click on a layer shows its confusion table and mistakes as computed here, and the
position switch computes the probes again at the last token."""

from __future__ import annotations

from lab_views import dark_theme, screenshot_view

LAYERS = [0, 5, 10, 15, 20, 25]
SETUP = (
    "import llmxai_widgets as lx\nfrom llmxai_widgets.widgets.probe import ProbeView\nmodel = lx.load_model()\n"
    f"v = ProbeView(model, dataset='sentiment', layers={LAYERS}, position='mean')\nv"
)
ALL_DONE = "(c) => c.dataset.done === '6'"


def layer_point(canvas, index: int) -> tuple[float, float]:
    """Page coordinates on the chart at layer ``index`` (measured after scrolling: boxes go stale)."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    xs = [float(x) for x in canvas.get_attribute("data-xs").split(",")]
    return box["x"] + xs[index], box["y"] + box["height"] / 2


def shown_confusion(detail) -> list[list[int]]:
    cells = detail.locator("td[data-row]").evaluate_all("(t) => t.map((c) => [+c.dataset.row, +c.dataset.col, +c.textContent])")
    k = max(r for r, _, _ in cells) + 1
    table = [[0] * k for _ in range(k)]
    for r, c, count in cells:
        table[r][c] = count
    return table


def test_chart_is_the_probe_a_click_shows_the_layer_and_the_switch_recomputes(lab_page, open_notebook, artifacts):
    import llmxai_widgets as lx
    from llmxai_widgets.methods.use import datasets

    page = lab_page
    page.set_viewport_size({"width": 1400, "height": 1200})
    notebook = open_notebook(page, "probe_browser")
    cell = notebook.run(SETUP)
    view = cell.locator(".lxw-probe")
    out = notebook.run("v.wait(); print(v.status)")
    assert out.locator(".jp-OutputArea-output").inner_text().strip() == "ready"

    model = lx.load_model()
    texts, labels = datasets.load("sentiment")
    mean = lx.probe(model, texts, labels, layers=LAYERS, position="mean")
    canvas = view.locator(".lxw-chart canvas")
    page.wait_for_function(ALL_DONE, arg=canvas.element_handle(), timeout=30_000)
    points = [float(p) for p in canvas.get_attribute("data-points").split(",")]
    assert points == [float(f"{a:.6g}") for a in mean.accuracy]
    assert canvas.get_attribute("data-layers") == ",".join(map(str, LAYERS))

    # hovering layer 10: the tooltip gives its accuracy, control accuracy and selectivity
    page.mouse.move(*layer_point(canvas, 2))
    tooltip = view.locator(".lxw-chart .lxw-tooltip")
    page.wait_for_function("(t) => t.style.display !== 'none' && t.dataset.index === '2'", arg=tooltip.element_handle())
    text = tooltip.inner_text()
    assert "L10" in text and f"{mean.accuracy[2]:.3f}" in text and f"{mean.selectivity[2]:.3f}" in text

    # a click at layer 15: its confusion table and its most confident mistake
    page.mouse.click(*layer_point(canvas, 3))
    detail = view.locator(".lxw-probe-detail")
    page.wait_for_function("(d) => d.dataset.layer === '15'", arg=detail.element_handle(), timeout=15_000)
    assert shown_confusion(detail) == mean.confusion(15).tolist()
    wrong = mean.wrong(15)
    first = detail.locator(".lxw-probe-wrong tr >> nth=0")
    assert first.locator(".lxw-probe-text").inner_text() == wrong[0]["text"]
    assert first.locator(".lxw-probe-p").inner_text() == f"{wrong[0]['probability']:.2f}"
    assert first.locator(".lxw-probe-tag").inner_text() == f"{wrong[0]['label']} \u2192 {wrong[0]['predicted']}"
    assert detail.locator(".lxw-probe-wrong tr").count() == len(wrong)
    page.mouse.move(0, 0)
    screenshot_view(cell, page, artifacts / "probe.png")
    with dark_theme(page):
        page.wait_for_timeout(300)
        screenshot_view(cell, page, artifacts / "probe-dark.png")

    # the switch: the last token; the chart and the picked layer's table are computed again
    view.locator("button[data-position='last']").click()
    page.wait_for_function("(b) => b.getAttribute('aria-pressed') === 'true'",
                           arg=view.locator("button[data-position='last']").element_handle(), timeout=15_000)
    out = notebook.run("v.wait(); print(v.status, v.position)")
    assert out.locator(".jp-OutputArea-output").inner_text().strip() == "ready last"
    last = lx.probe(model, texts, labels, layers=LAYERS, position="last")
    expected = ",".join(f"{a:.6g}" for a in last.accuracy)
    page.wait_for_function("([c, e]) => c.dataset.done === '6' && c.dataset.points.split(',').map(Number).join(',') === e",
                           arg=[canvas.element_handle(), ",".join(str(float(f"{a:.6g}")) for a in last.accuracy)], timeout=30_000)
    assert [float(p) for p in canvas.get_attribute("data-points").split(",")] == [float(p) for p in expected.split(",")]
    page.wait_for_function("(d) => d.dataset.layer === '15'", arg=detail.element_handle(), timeout=15_000)
    assert shown_confusion(detail) == last.confusion(15).tolist()
    assert "at each text's last token" in view.locator(".lxw-caption").inner_text()
    screenshot_view(cell, page, artifacts / "probe-last.png")
    assert not notebook.page_errors, notebook.page_errors


def test_saved_page_answers_a_click_on_a_layer(browser, smollm2, tmp_path, artifacts):
    """``save("x.html")``: opened from file:// under its strict CSP with no kernel, the chart is the
    result's accuracy and a click on a layer shows that layer's confusion table from the page."""
    from lab_standalone import open_file
    from llmxai_widgets.widgets.probe import ProbeView

    view = ProbeView(smollm2, dataset="sentiment", layers=LAYERS, position="mean", background=False)
    result = view.result
    o = open_file(browser, view.save(tmp_path / "probe.html"), ready=".lxw-probe .lxw-chart canvas")
    page = o.page
    canvas = page.locator(".lxw-probe .lxw-chart canvas")
    page.wait_for_function(ALL_DONE, arg=canvas.element_handle())
    assert [float(p) for p in canvas.get_attribute("data-points").split(",")] == [float(f"{a:.6g}") for a in result.accuracy]
    page.mouse.click(*layer_point(canvas, 4))
    detail = page.locator(".lxw-probe-detail")
    page.wait_for_function("(d) => d.dataset.layer === '20'", arg=detail.element_handle())
    assert shown_confusion(detail) == result.confusion(20).tolist()
    page.screenshot(path=str(artifacts / "probe-saved-page.png"), full_page=True)
    o.assert_clean()
