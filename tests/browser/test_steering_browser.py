"""SteeringView in JupyterLab + Chromium on the bundled SmolLM2: each column's tokens are the
generation computed here, each token's colour is the diverging colour of its score (centred on
the unsteered column, as Python computes it), a click shows that step's candidates, the concept
chart's points are the curve, and an alpha that is not a number is refused inside the view."""

from __future__ import annotations

import numpy as np

from lab_views import screenshot_view
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.figures import display_token

PROMPT = "I went to the new cafe yesterday. The food was"
SETUP = (
    "import llmxai_widgets as lx\nfrom llmxai_widgets.methods.use import pairs\nmodel = lx.load_model()\n"
    "vector = lx.steering_vector(model, *pairs.load('sentiment'), layers=[12])\n"
    f"s = lx.SteeringView(model, vector, {PROMPT!r}, alphas=[-8, 0, 8], max_new_tokens=12, concept=[' great', ' good'])\ns"
)


def _css_rgb(text: str) -> list[int]:
    return [int(v) for v in text[text.index("(") + 1: text.index(")")].split(",")[:3]]


def test_columns_are_the_generations_coloured_by_score_and_a_click_shows_candidates(lab_page, open_notebook, artifacts):
    import llmxai_widgets as lx
    from llmxai_widgets.methods.use import pairs
    from llmxai_widgets.methods.use.steering_generate import concept_curve, generate
    from llmxai_widgets.widgets.steering import color_scale, score_center

    page = lab_page
    page.set_viewport_size({"width": 1400, "height": 1300})
    notebook = open_notebook(page, "steering_browser")
    cell = notebook.run(SETUP)
    view = cell.locator(".lxw-steering")
    out = notebook.run("s.wait(); print(s.status)")
    assert out.locator(".jp-OutputArea-output").inner_text().strip() == "ready"

    model = lx.load_model()
    vector = lx.steering_vector(model, *pairs.load("sentiment"), layers=[12])
    result = generate(model, PROMPT, vector, [-8, 0, 8], max_new_tokens=12, concept=[" great", " good"])
    center = score_center(result)
    scale = color_scale([s - center for column in result.scores for s in column])
    counts = [len(t) for t in result.tokens]
    page.wait_for_function("([v, n]) => [...v.querySelectorAll('.lxw-steer-col')].every((c, i) => c.querySelectorAll('.lxw-tok').length === n[i])",
                           arg=[view.element_handle(), counts], timeout=30_000)
    for col in range(3):
        spans = view.locator(f".lxw-steer-col >> nth={col}").locator(".lxw-tok")
        shown = spans.evaluate_all("(s) => s.map((e) => [e.textContent, getComputedStyle(e).backgroundColor])")
        expected = to_rgb(np.clip(np.asarray(result.scores[col]) - center, -scale, scale)[None], -scale, scale, "RdBu_r")[0]
        for step, (text, background) in enumerate(shown):
            assert text == display_token(result.tokens[col][step], 40).replace("\u2423", " ")
            assert max(abs(a - b) for a, b in zip(_css_rgb(background), expected[step])) <= 1, (col, step, background)
    screenshot_view(cell, page, artifacts / "steering.png")

    # the chart's points are the concept curve at the view's grid of alphas
    points = view.locator(".lxw-chart canvas").get_attribute("data-points").split(",")
    grid = notebook.run("print(s.curve['alphas'])").locator(".jp-OutputArea-output").inner_text()
    alphas = [float(a) for a in grid.strip().strip("[]").split(",")]
    curve = concept_curve(model, PROMPT, vector, alphas, [" great", " good"])
    assert np.allclose([float(p) for p in points], curve, rtol=1e-3, atol=1e-6)

    # a click on the +8 column's 3rd token: its candidates, as generate computed them
    view.locator(".lxw-steer-col >> nth=2").locator(".lxw-tok >> nth=2").click()
    detail = view.locator(".lxw-steer-detail")
    page.wait_for_function("(d) => d.querySelectorAll('tr').length === 5", arg=detail.element_handle(), timeout=10_000)
    rows = detail.locator("tr").all_inner_texts()
    for row, (token, p) in zip(rows, result.top[2][2]):
        assert f"{p:.4f}" in row, (row, token, p)
    assert result.top[2][2][0][0] == result.tokens[2][2]  # greedy: the top candidate is the token shown
    screenshot_view(cell, page, artifacts / "steering-picked.png")

    # an alpha that is not a number: refused in the view, the columns stay
    box = view.locator("input.lxw-steer-alphas")
    box.fill("-8, strong, 8")
    box.press("Enter")
    error = view.locator(".lxw-error-text")
    page.wait_for_function("(e) => e.textContent.includes('alpha must be a number')", arg=error.element_handle(), timeout=10_000)
    assert "'strong'" in error.inner_text()
    assert view.locator(".lxw-steer-col").count() == 3
    out = notebook.run("print(s.alphas)")
    assert out.locator(".jp-OutputArea-output").inner_text().strip() == "[-8.0, 0.0, 8.0]"


def test_saved_page_draws_the_columns_and_answers_a_click(browser, smollm2, tmp_path, artifacts):
    """``save("x.html")``: the page opens from file:// under its strict CSP with no kernel, shows every
    column's tokens, and a click on a token shows that step's candidates from what the page holds."""
    import llmxai_widgets as lx
    from lab_standalone import open_file
    from llmxai_widgets.methods.use import pairs

    vector = lx.steering_vector(smollm2, *pairs.load("sentiment"), layers=[12])
    view = lx.SteeringView(smollm2, vector, PROMPT, alphas=[-8, 8], max_new_tokens=6, background=False)
    o = open_file(browser, view.save(tmp_path / "steering.html"), ready=".lxw-steering .lxw-steer-col .lxw-tok")
    page = o.page
    for col, column in enumerate(view.columns):
        shown = page.locator(f".lxw-steer-col >> nth={col}").locator(".lxw-tok").all_text_contents()
        assert shown == [display_token(t, 40).replace("\u2423", " ") for t in column["tokens"]]
    page.locator(".lxw-steer-col >> nth=1").locator(".lxw-tok >> nth=1").click()
    detail = page.locator(".lxw-steer-detail")
    page.wait_for_function("(d) => d.querySelectorAll('tr').length === 5", arg=detail.element_handle())
    for row, (_token, p) in zip(detail.locator("tr").all_inner_texts(), view.top[1][1]):
        assert f"{p:.4f}" in row
    assert page.locator("input.lxw-steer-alphas").is_disabled()  # no kernel to generate again
    page.screenshot(path=str(artifacts / "steering-saved-page.png"), full_page=True)
    o.assert_clean()
