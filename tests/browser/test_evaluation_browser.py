"""Judging explanations in JupyterLab + Chromium on the bundled SmolLM2: predict-then-reveal in
AttributionView (the scores stay hidden while tokens are marked; Reveal shows scores of the marks
equal to lx.score_rationale computed here), its Evaluate tab (table and curves equal
lx.faithfulness computed here), and EvaluationView (a row per method, the agreement matrix equal
to lx.agreement computed here, the measure switch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lab_views import dark_theme, screenshot_view

PROMPT = "The Eiffel Tower is in the city of"
TARGET = " Paris"


@pytest.fixture(scope="module")
def model():
    import llmxai_widgets as lx

    return lx.load_model()


def _cell_values(row) -> dict:
    return row.locator("td[data-key]").evaluate_all("(t) => Object.fromEntries(t.map((c) => [c.dataset.key, +c.dataset.value]))")


def test_predict_then_reveal_and_the_evaluate_tab(lab_page, open_notebook, artifacts, model):
    import llmxai_widgets as lx

    page = lab_page
    page.set_viewport_size({"width": 1300, "height": 1200})
    notebook = open_notebook(page, "judge_browser")
    cell = notebook.run("import llmxai_widgets as lx\nmodel = lx.load_model()\n"
                        f"a = lx.AttributionView(model, {PROMPT!r}, target={TARGET!r}, method='occlusion', guess=True)\na")
    text = cell.locator(".lxw-text")
    page.wait_for_function("(t) => t.querySelectorAll('.lxw-tok.lxw-markable').length >= 5", arg=text.element_handle(),
                           timeout=90_000)
    notebook.run("a.wait()")
    # the scores are hidden while guessing: no token is coloured, the legend is hidden
    assert text.locator(".lxw-tok[data-score]").count() == 0
    assert cell.locator(".lxw-legend").first.evaluate("(n) => getComputedStyle(n).visibility") == "hidden"
    tokens = model.tokenize(PROMPT).text
    marks = [tokens.index(" E"), tokens.index(" city")] if " E" in tokens else [1, len(tokens) - 2]
    for j in marks:
        text.locator(f".lxw-tok[data-index='{j}']").click()
    page.wait_for_function(f"(t) => t.querySelectorAll('.lxw-tok.lxw-marked').length === {len(marks)}",
                           arg=text.element_handle())
    out = notebook.run("print(a.guess)")
    assert json.loads(out.locator(".jp-OutputArea-output").inner_text()) == sorted(marks)
    bar = cell.locator(".lxw-guess-bar")
    assert f"({len(marks)} marked)" in bar.inner_text()
    screenshot_view(cell, page, artifacts / "judge-guessing.png")

    cell.locator("button.lxw-reveal").click()
    scores = cell.locator(".lxw-guess-scores")
    page.wait_for_function("(s) => !!s.querySelector('tr[data-kind=yours]')", arg=scores.element_handle(), timeout=60_000)
    result = lx.attribute(model, PROMPT, target=TARGET, method="occlusion")
    expected = lx.score_rationale(model, result, marks).as_dict()
    shown = _cell_values(scores.locator("tr[data-kind=yours]"))
    for key in ("without", "only", "comprehensiveness", "sufficiency"):
        assert shown[key] == pytest.approx(expected[key], abs=1e-5), key
    method = _cell_values(scores.locator("tr[data-kind=method]"))
    assert method["method_comprehensiveness"] == pytest.approx(expected["method_comprehensiveness"], abs=1e-5)
    line = scores.locator("[data-kind=plausibility]").inner_text()
    assert f"token F1 {expected['token_f1']:.3f}" in line and f"AUPRC {expected['auprc']:.3f}" in line
    wait = "(t) => t.querySelectorAll('.lxw-tok[data-score]').length >= 5"
    page.wait_for_function(wait, arg=text.element_handle())  # revealed: the scores' colours are back
    assert text.locator(".lxw-tok.lxw-marked").count() == len(marks)
    page.mouse.move(0, 0)
    screenshot_view(cell, page, artifacts / "judge-revealed.png")

    # the Evaluate tab: the method's faithfulness beside random and the oracle, as computed here
    cell.locator(".lxw-tab", has_text="Evaluate").click()
    table = cell.locator(".lxw-eval-tab .lxw-eval-table")
    page.wait_for_function("(t) => t.querySelectorAll('tr[data-ranking]').length === 3", arg=table.element_handle(),
                           timeout=60_000)
    faith = lx.faithfulness(model, result).targets[0]
    rows = {name: _cell_values(table.locator(f"tr[data-ranking='{name}']"))
            for name in ("occlusion", "random ranking", "leave-one-out (oracle)")}
    for name, ranking in (("occlusion", faith.explanation), ("random ranking", faith.random),
                          ("leave-one-out (oracle)", faith.loo)):
        for key in ("aopc_comprehensiveness", "aopc_sufficiency", "deletion_auc", "insertion_auc"):
            assert rows[name][key] == pytest.approx(getattr(ranking, key), abs=1e-5), (name, key)
    canvas = cell.locator(".lxw-eval-tab .lxw-chart canvas").first
    series = json.loads(canvas.get_attribute("data-series"))
    assert [s["label"] for s in series] == ["occlusion", "random ranking", "leave-one-out (oracle)"]
    assert np.allclose(series[0]["values"], faith.explanation.deletion, atol=1e-5)
    assert np.allclose(series[2]["values"], faith.loo.deletion, atol=1e-5)
    assert not cell.locator(".lxw-text").is_visible()  # the tab replaces the heatmap
    page.mouse.move(0, 0)
    screenshot_view(cell, page, artifacts / "attribution-evaluate-tab.png")


def test_evaluation_view_rows_agreement_and_measure(own_page, open_notebook, artifacts, model):
    import llmxai_widgets as lx

    page = own_page
    page.set_viewport_size({"width": 1300, "height": 1400})
    notebook = open_notebook(page, "evaluation_browser")
    methods = ["occlusion", "saliency", "input_x_gradient"]
    cell = notebook.run("import llmxai_widgets as lx\nmodel = lx.load_model()\n"
                        f"e = lx.EvaluationView(model, {PROMPT!r}, target={TARGET!r}, methods={methods}, rationale=[4])\ne")
    table = cell.locator(".lxw-eval-table")
    page.wait_for_function("(t) => t.querySelectorAll('tr[data-ranking]').length === 5", arg=table.element_handle(),
                           timeout=120_000)
    results = [lx.attribute(model, PROMPT, target=TARGET, method=m) for m in methods]
    agreement = lx.agreement(results)
    cells = cell.locator(".lxw-agree td").evaluate_all("(t) => t.map((c) => +c.dataset.value)")
    assert np.allclose(np.reshape(cells, (3, 3)), agreement.spearman, atol=1e-5)
    for m, result in zip(methods, results):
        f = lx.faithfulness(model, result, baselines=()).targets[0]
        row = _cell_values(table.locator(f"tr[data-ranking='{m.replace('_', ' ')}']"))
        assert row["aopc_comprehensiveness"] == pytest.approx(f.explanation.aopc_comprehensiveness, abs=1e-5)
        assert row["token_f1"] == pytest.approx(lx.plausibility(result, [4]).token_f1, abs=1e-9)
    cell.locator("select.lxw-eval-measure").select_option("kendall")
    page.wait_for_function("(t) => t.textContent.includes('Kendall')", arg=cell.locator(".lxw-eval-agreement").element_handle())
    cells = cell.locator(".lxw-agree td").evaluate_all("(t) => t.map((c) => +c.dataset.value)")
    assert np.allclose(np.reshape(cells, (3, 3)), agreement.kendall, atol=1e-5)
    page.mouse.move(0, 0)
    screenshot_view(cell, page, artifacts / "evaluation.png")
    with dark_theme(page):
        page.wait_for_timeout(300)
        screenshot_view(cell, page, artifacts / "evaluation-dark.png")


def test_saved_evaluation_page_switches_targets_without_python(browser, model, tmp_path, artifacts):
    """``save("x.html")`` of a two-target evaluation: opened from file:// with no kernel, the table
    is the result's, and the target menu switches the table from the page's own data."""
    import llmxai_widgets as lx
    from lab_standalone import open_file

    view = lx.EvaluationView(model, "The capital of France is", generate=2, methods=["occlusion", "saliency"],
                             random_samples=2, background=False)
    faith = view.faithfulness_results
    o = open_file(browser, view.save(tmp_path / "evaluation.html"), ready=".lxw-evaluation .lxw-chart canvas")
    page = o.page
    table = page.locator(".lxw-eval-table")
    for target in (0, 1):
        if target:
            page.locator("select.lxw-eval-target").select_option("1")
        expected = faith[1].targets[target].explanation.aopc_comprehensiveness
        page.wait_for_function("([t, e]) => Math.abs(+t.querySelector(\"tr[data-ranking='saliency'] "
                               "td[data-key=aopc_comprehensiveness]\").dataset.value - e) < 1e-6",
                               arg=[table.element_handle(), expected])
    page.screenshot(path=str(artifacts / "evaluation-saved-page.png"), full_page=True)
    o.assert_clean()
