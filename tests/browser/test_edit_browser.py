"""EditView in JupyterLab + Chromium on the bundled SmolLM2: the before/after numbers and bars are
the edit's evaluation computed here, the scores are CounterFact's, Apply writes the edit into the
kernel's model and Revert restores it; the saved page shows the same table and cannot apply."""

from __future__ import annotations

import pytest

from lab_views import screenshot_view

SETUP = ("import llmxai_widgets as lx\nmodel = lx.load_model()\nfact = lx.edit_facts.FACTS[1]\n"
         "v = lx.EditView(model, fact=fact, layer=4, max_new_tokens=8)\nv")


def _numbers(text: str) -> tuple[float, float]:
    before, after = text.split("\u2192")
    return float(before), float(after)


def test_table_is_the_evaluation_and_apply_changes_the_kernels_model(lab_page, open_notebook, artifacts):
    import llmxai_widgets as lx

    page = lab_page
    page.set_viewport_size({"width": 1400, "height": 1300})
    notebook = open_notebook(page, "edit_browser")
    cell = notebook.run(SETUP)
    out = notebook.run("v.wait(); print(v.status, v.error)")
    assert out.locator(".jp-OutputArea-output").inner_text().strip() == "ready"
    view = cell.locator(".lxw-edit")
    fact = lx.edit_facts.FACTS[1]
    model = lx.load_model()
    evaluation = fact.evaluate(lx.edit(model, fact.prompt, fact.subject, fact.new_target, layer=4))
    rows = view.locator(".lxw-edit-table tr[data-kind]")
    page.wait_for_function("([t, n]) => t.querySelectorAll('tr[data-kind]').length === n",
                           arg=[view.locator(".lxw-edit-table").element_handle(), len(evaluation.rows)], timeout=30_000)
    for k, row in enumerate(evaluation.rows):
        cells = rows.nth(k).locator("td")
        assert cells.nth(0).inner_text() == row.kind and cells.nth(1).inner_text() == row.prompt
        assert _numbers(cells.nth(3).inner_text()) == pytest.approx((row.p_new_before, row.p_new_after), abs=6e-4)
        assert _numbers(cells.nth(5).inner_text()) == pytest.approx((row.p_old_before, row.p_old_after), abs=6e-4)
        solid = cells.nth(2).locator(".lxw-edit-bars div").nth(1)
        width = solid.evaluate("(d) => d.getBoundingClientRect().width / d.parentElement.getBoundingClientRect().width")
        assert width == pytest.approx(row.p_new_after, abs=0.02)
    for name in ("efficacy", "generalisation", "specificity"):
        shown = view.locator(f".lxw-edit-scores [data-score='{name}'] b").inner_text()
        assert shown == f"{getattr(evaluation, name):.2f}"
    screenshot_view(cell, page, artifacts / "edit.png")

    button = view.locator("button.lxw-edit-apply")
    button.click()
    page.wait_for_function("(b) => b.dataset.applied === 'true'", arg=button.element_handle(), timeout=15_000)
    out = notebook.run("print(v.result.applied, model.weights_changes[-1].split(':')[0])")
    assert out.locator(".jp-OutputArea-output").inner_text().strip() == "True edit applied"
    screenshot_view(cell, page, artifacts / "edit-applied.png")
    button = view.locator("button.lxw-edit-apply")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_function("(b) => b.dataset.applied === 'false'", arg=button.element_handle(), timeout=15_000)
    out = notebook.run("print(v.result.applied, model.weights_changes[-1].split(':')[0])")
    assert out.locator(".jp-OutputArea-output").inner_text().strip() == "False edit reverted"


def test_saved_page_shows_the_table_and_cannot_apply(browser, smollm2, tmp_path, artifacts):
    import llmxai_widgets as lx
    from lab_standalone import open_file

    view = lx.EditView(smollm2, fact=lx.edit_facts.FACTS[1], layer=4, max_new_tokens=4, background=False)
    o = open_file(browser, view.save(tmp_path / "edit.html"), ready=".lxw-edit .lxw-edit-table tr[data-kind]")
    page = o.page
    rows = page.locator(".lxw-edit-table tr[data-kind]")
    assert rows.count() == len(view.rows)
    for k, row in enumerate(view.rows):
        assert _numbers(rows.nth(k).locator("td").nth(3).inner_text()) == pytest.approx(
            (row["p_new_before"], row["p_new_after"]), abs=6e-4)
    assert page.locator("button.lxw-edit-apply").is_disabled()
    page.screenshot(path=str(artifacts / "edit-saved-page.png"), full_page=True)
    o.assert_clean()
