"""CircuitView in JupyterLab + Chromium on the bundled SmolLM2 (induction task): the drawn edges
are the result's top edges (the tooltip at an edge's midpoint, computed in Python from the same
layout, names that edge and its score; the pixel there has the sign's colour), the slider changes
the drawn edge count and shows the faithfulness Python computes for it, 5,000 edges draw in under
a second, a node click shows its exact value. Screenshots in light and dark theme."""

from __future__ import annotations

import json

import pytest

from lab_views import dark_theme, screenshot_view, view_output

VIEWPORT = {"width": 1400, "height": 1400}
VIEW = "lx.CircuitView(model, lx.circuit_tasks.induction(model, n_pairs=2), n_shown=40)"
CANVAS = ".lxw-circuit .lxw-circuit-graph canvas"


def kernel(notebook, code: str):
    return json.loads(notebook.run(code).locator(".jp-OutputArea-output").inner_text())


def set_slider(page, scope, n: int) -> float:
    """Move the slider to ``n`` as a person would (input, then change); ms the redraw took."""
    return scope.locator(".lxw-circuit-slider input").evaluate(
        """(input, n) => { const t = performance.now(); input.value = String(n);
             input.dispatchEvent(new Event('input')); input.dispatchEvent(new Event('change'));
             return performance.now() - t; }""", n)


def click_at(canvas, page, xy) -> None:
    """Click the canvas at ``xy`` (its own pixels); kernel cells and screenshots scroll the page."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])


def test_circuit_view_draws_the_result(own_page, open_notebook, artifacts):
    page = own_page
    notebook = open_notebook(page, "circuits")
    cell = notebook.run(f"import llmxai_widgets as lx\nmodel = lx.load_model()\nv = {VIEW}\nv")
    canvas = cell.locator(CANVAS)
    canvas.wait_for(timeout=240_000)
    faith = cell.locator(".lxw-circuit-faith")
    page.wait_for_function("(f) => f.dataset.n === '40'", arg=faith.element_handle(), timeout=240_000)
    assert canvas.get_attribute("data-edges") == "40"

    width = canvas.evaluate("(c) => c.getBoundingClientRect().width")
    state = kernel(notebook, (
        "import json\nfrom llmxai_widgets.figures.circuits import _Layout\n"
        f"r = v.result; lay = _Layout(r.graph, {width}, 0.0); top = r.top(40)\n"
        "import numpy as np\n"
        "def at(p, t): return [(1-t)**3*p[0][k] + 3*(1-t)**2*t*p[1][k] + 3*(1-t)*t*t*p[2][k] + t**3*p[3][k] for k in (0, 1)]\n"
        "curves = [lay.curve(int(u), int(d)) for u, d in zip(top.upstream, top.downstream)]\n"
        "samples = [np.array([at(c, t) for t in np.linspace(0, 1, 200)]) for c in curves]\n"
        "def alone(i): m = np.array(at(curves[i], 0.5)); return min(np.min(np.hypot(*(s - m).T)) for j, s in enumerate(samples) if j != i)\n"
        "isolated = [i for i in range(len(curves)) if alone(i) > 8][:3]\n"
        "print(json.dumps({'faith': r.faithfulness(top), 'edges': [[int(top.upstream[i]), int(top.downstream[i]), "
        "float(r.scores[top.upstream[i], top.downstream[i]]), at(curves[i], 0.5)] for i in isolated], "
        "'nodes': [int(u) for u in top.upstream if u > 0][:1], "
        "'head': [int(u) for u in top.upstream if u > 0 and (u - 1) % (r.graph.n_heads + 1) != r.graph.n_heads][0]}))"))
    assert len(state["edges"]) == 3, state
    assert float(faith.get_attribute("data-value")) == pytest.approx(state["faith"], abs=1e-6)
    tip = cell.locator(".lxw-circuit-tip")
    canvas.scroll_into_view_if_needed()  # the kernel's cell scrolled the page
    box = canvas.bounding_box()
    for i, (u, d, score, (x, y)) in enumerate(state["edges"][:3]):
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.wait_for_function("(t) => t.style.display === 'block'", arg=tip.element_handle())
        text = tip.inner_text()
        assert f"{score:.4f}" in text, (i, text)
    screenshot_view(cell, page, artifacts / "circuit.png")

    # the slider: the drawn count and the recomputed faithfulness follow it
    set_slider(page, cell, 200)
    assert canvas.get_attribute("data-edges") == "200"
    page.wait_for_function("(f) => f.dataset.n === '200'", arg=faith.element_handle(), timeout=120_000)
    expected = kernel(notebook, "print(json.dumps(r.faithfulness(r.top(200))))")
    assert float(faith.get_attribute("data-value")) == pytest.approx(expected, abs=1e-6)
    ms = min(set_slider(page, cell, 5000) for _ in range(3))
    assert canvas.get_attribute("data-edges") == "5000"
    assert ms < 1000, f"5,000 edges took {ms:.0f} ms to draw"
    screenshot_view(cell, page, artifacts / "circuit-5000.png")
    set_slider(page, cell, 40)

    # a node: its exact value
    node = state["nodes"][0]
    xy = kernel(notebook, f"print(json.dumps(lay.writer({node})[:2]))")
    click_at(canvas, page, xy)
    detail = cell.locator(".lxw-circuit-detail")
    page.wait_for_function(f"(d) => d.dataset.node === '{node}' && d.textContent.includes('Exact')",
                           arg=detail.element_handle(), timeout=120_000)
    got = kernel(notebook, "print(json.dumps([v.node_detail['exact'], v.node_detail['by_token']]))")
    assert f"{got[0]:.4f}" in detail.inner_text()
    # the row of tokens: one coloured span per token, carrying the exact per-token value
    shown = detail.locator(".lxw-circuit-row .lxw-tok").evaluate_all("(s) => s.map((x) => Number(x.dataset.value))")
    assert shown == pytest.approx(got[1], abs=1e-6)

    # a head: its attention pattern; hovering the strongest key of the last query names that weight
    head = state["head"]
    xy, (q, k, w) = kernel(notebook, (
        f"import numpy as np\nL, H = divmod({head} - 1, r.graph.n_heads + 1)\n"
        "p = np.asarray(lx.attention(model, r.tokens[0][0], layers=[L]).head(L, H)); q = p.shape[0] - 1\n"
        "k = int(np.argmax(p[q]))\n"
        f"print(json.dumps([lay.writer({head})[:2], [q, k, float(p[q, k])]]))"))
    click_at(canvas, page, xy)
    pattern = cell.locator(".lxw-circuit-detail canvas.lxw-circuit-pattern")
    pattern.wait_for(timeout=120_000)
    assert detail.get_attribute("data-node") == str(head)
    n = len(got[1])
    size = pattern.bounding_box()
    cell_px = max(1, min(16, 240 // n))
    left, top = 70, size["height"] - 4 - n * cell_px  # the row labels take 70 px
    page.mouse.move(size["x"] + left + (k + 0.5) * cell_px, size["y"] + top + (q + 0.5) * cell_px)
    note = cell.locator(".lxw-circuit-pattern-note")
    page.wait_for_function("(n) => n.textContent.length > 0", arg=note.element_handle())
    assert note.inner_text().endswith(f"{w:.3f}"), note.inner_text()
    screenshot_view(cell, page, artifacts / "circuit-head.png")
    with dark_theme(page):
        page.wait_for_timeout(300)
        screenshot_view(cell, page, artifacts / "circuit-dark.png")
    assert view_output(cell, page).count() == 1
    assert not notebook.page_errors, notebook.page_errors


def test_saved_page_answers_the_slider_and_opened_nodes(browser, smollm2, tmp_path, artifacts):
    """``save("x.html")``: from file:// with no kernel, the page draws the top edges, the slider
    shows the faithfulness of every count computed before saving, a node opened before saving
    shows its detail, another says the page does not hold it."""
    import llmxai_widgets as lx
    from lab_standalone import open_file
    from llmxai_widgets.figures.circuits import _Layout

    view = lx.CircuitView(smollm2, lx.circuit_tasks.induction(smollm2, n_pairs=2), n_shown=40, background=False)
    r = view.result
    opened_node = int(r.top(40).upstream[r.top(40).upstream > 0][0])
    view.picked = opened_node
    o = open_file(browser, view.save(tmp_path / "circuit.html"), ready=".lxw-circuit .lxw-circuit-graph canvas")
    page = o.page
    canvas = page.locator(".lxw-circuit .lxw-circuit-graph canvas")
    assert canvas.get_attribute("data-edges") == "40"
    faith = page.locator(".lxw-circuit-faith")
    counts, values = view.curve["counts"], view.curve["values"]
    stop = counts[len(counts) // 2]
    set_slider(page, page, stop)
    assert canvas.get_attribute("data-edges") == str(stop)
    page.wait_for_function(f"(f) => f.dataset.n === '{stop}'", arg=faith.element_handle())
    assert float(faith.get_attribute("data-value")) == pytest.approx(values[counts.index(stop)], abs=1e-9)
    set_slider(page, page, stop + 1)
    page.wait_for_function("(f) => f.textContent.includes('not held by this saved page')",
                           arg=faith.element_handle())

    lay = _Layout(r.graph, canvas.evaluate("(c) => c.getBoundingClientRect().width"), 0.0)
    detail = page.locator(".lxw-circuit-detail")
    opened_detail = f"(d) => d.dataset.node === '{opened_node}' && d.textContent.includes('Exact')"
    page.wait_for_function(opened_detail, arg=detail.element_handle())  # open when saved, open in the page
    assert f"{view.node_detail['exact']:.4f}" in detail.inner_text()
    other = opened_node + 1 if opened_node + 1 < r.graph.n_upstream else opened_node - 1
    click_at(canvas, page, lay.writer(other)[:2])
    page.wait_for_function(f"(d) => d.dataset.node === '{other}' && d.textContent.includes('holds the details')",
                           arg=detail.element_handle())
    click_at(canvas, page, lay.writer(opened_node)[:2])
    page.wait_for_function(opened_detail, arg=detail.element_handle())
    page.screenshot(path=str(artifacts / "circuit-saved-page.png"), full_page=True)
    o.assert_clean()
