"""The Explorer in JupyterLab + Chromium on the bundled SmolLM2: a click on a token in the strip
moves every view (checked against values computed here: the heads that read the token, the
attribution row explaining it, the logit lens's column, the token's most active neurons, the
contributions to the prediction after it); the arrow keys move the token, digit keys switch
views; no console errors."""

from __future__ import annotations

import numpy as np
import pytest

from llmxai_widgets.figures import display_token


TEXT = "The capital of France is Paris. The capital of Italy is"
POSITION = 4  # " is"


def visible(cell, selector):
    return cell.locator(f".jp-OutputArea-output {selector}:visible")


def open_tab(page, cell, tab: str) -> None:
    cell.locator(f".lxw-explorer .lxw-tablist button[data-tab='{tab}']").click()
    page.wait_for_function("([c, t]) => c.querySelector(`.lxw-tablist button[data-tab='${t}']`)?.getAttribute('aria-selected') === 'true'",
                           arg=[cell.element_handle(), tab], timeout=15_000)


def test_a_click_in_the_strip_moves_every_view_and_keys_move_it_on(lab_page, open_notebook, artifacts):
    import llmxai_widgets as lx
    from llmxai_widgets.widgets.attention_jobs import attention_received

    page = lab_page
    page.set_viewport_size({"width": 1400, "height": 1400})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    notebook = open_notebook(page, "explorer_browser")
    cell = notebook.run(f"import llmxai_widgets as lx\nmodel = lx.load_model()\nex = lx.Explorer(model, {TEXT!r})\nex")
    model = lx.load_model()
    tokens = list(model.tokenize(TEXT).text)
    strip = cell.locator(".lxw-explorer .lxw-strip")
    page.wait_for_function("([s, n]) => s.querySelectorAll('.lxw-tok').length === n", arg=[strip.element_handle(), len(tokens)],
                           timeout=60_000)
    page.wait_for_selector(".lxw-root canvas[data-layer]", timeout=90_000)

    # click " is": the strip marks it, the attention view lists the heads that read it most
    strip.locator(f".lxw-tok[data-index='{POSITION}']").click()
    assert strip.get_attribute("data-focus") == str(POSITION)
    reads = attention_received(lx.attention(model, TEXT))
    flat = reads[:, :, POSITION].ravel()
    top = np.argsort(-flat, kind="stable")[:5]
    links = cell.locator(".lxw-reads button.lxw-link")
    page.wait_for_function("(c) => c.querySelectorAll('.lxw-reads button.lxw-link').length === 5", arg=cell.element_handle(),
                           timeout=60_000)
    shown = [(int(links.nth(i).get_attribute("data-layer")), int(links.nth(i).get_attribute("data-head"))) for i in range(5)]
    assert shown == [divmod(int(i), model.n_heads) for i in top], shown
    for i, index in enumerate(top):
        assert float(links.nth(i).get_attribute("data-weight")) == pytest.approx(float(flat[index]), abs=1e-3)
    assert f"#{POSITION}" in cell.locator(".lxw-reads").inner_text()
    tip = cell.locator(".lxw-tooltip:visible")
    assert f"#{POSITION}" in tip.inner_text().split("\n")[0] or f"query\n#{POSITION}" in tip.inner_text(), tip.inner_text()
    cell.screenshot(path=str(artifacts / "explorer-attention.png"))

    # attribution: the row explaining the token at POSITION (every token from the ones before it)
    open_tab(page, cell, "attribution")
    text = visible(cell, ".lxw-text")
    page.wait_for_function("([c, p]) => { const t = [...c.querySelectorAll('.lxw-text')].find((e) => e.offsetParent);"
                           " return t && t.querySelector(`.lxw-tok.lxw-target[data-index='${p}']`) && t.querySelector('[data-score]'); }",
                           arg=[cell.element_handle(), POSITION], timeout=90_000)
    expected = lx.attribute(model, TEXT, every_token=True, method="input_x_gradient").row(POSITION - 1)
    for j in range(POSITION):
        span = text.locator(f".lxw-tok[data-index='{j}']")
        assert float(span.get_attribute("data-score")) == pytest.approx(float(expected[j]), rel=1e-3, abs=1e-4)
    cell.screenshot(path=str(artifacts / "explorer-attribution.png"))

    # logit lens: the column of POSITION, the last layer's top tokens and probabilities
    open_tab(page, cell, "logit_lens")
    detail = visible(cell, ".lxw-detail")
    page.wait_for_function("([c, p]) => [...c.querySelectorAll('.lxw-detail h4')].some((h) => h.offsetParent && h.textContent.includes(`after #${p}`))",
                           arg=[cell.element_handle(), POSITION], timeout=90_000)
    lens = lx.logit_lens(model, TEXT)
    col = list(lens.positions).index(POSITION)
    first = detail.locator("tr").first.inner_text()
    assert display_token(str(lens.top_text[-1, col, 0]), 30) in first and f"{lens.top_probs[-1, col, 0]:.3f}" in first, first
    cell.screenshot(path=str(artifacts / "explorer-lens.png"))

    # neurons: the token's row and its most active neurons in the layer shown
    open_tab(page, cell, "neurons")
    page.wait_for_function("(c) => [...c.querySelectorAll('.lxw-focus-line button')].some((b) => b.offsetParent)",
                           arg=cell.element_handle(), timeout=90_000)
    layer = int(visible(cell, ".lxw-neurons canvas[data-layer]").get_attribute("data-layer"))
    acts = lx.neurons(model, TEXT, layers=[layer]).layer(layer)[POSITION]
    shown = [int(b.get_attribute("data-neuron")) for b in visible(cell, ".lxw-focus-line button").all()]
    assert shown == [int(n) for n in np.argsort(-acts, kind="stable")[:5]], shown
    cell.screenshot(path=str(artifacts / "explorer-neurons.png"))

    # contributions: the prediction after POSITION, summing to the model's logit there
    open_tab(page, cell, "contributions")
    page.wait_for_function("([c, p]) => [...c.querySelectorAll('.lxw-sum')].some((s) => s.offsetParent && s.textContent.includes(`after #${p}`))",
                           arg=[cell.element_handle(), POSITION], timeout=90_000)
    total = float(visible(cell, ".lxw-sum .lxw-total").inner_text())
    assert total == pytest.approx(lx.contributions(model, TEXT, position=POSITION).total, abs=1e-3)
    cell.screenshot(path=str(artifacts / "explorer-contributions.png"))

    # keys: the arrow key moves the token (the open view follows), a digit opens the first view
    strip.focus()
    page.keyboard.press("ArrowRight")
    assert strip.get_attribute("data-focus") == str(POSITION + 1)
    page.wait_for_function("([c, p]) => [...c.querySelectorAll('.lxw-sum')].some((s) => s.offsetParent && s.textContent.includes(`after #${p}`))",
                           arg=[cell.element_handle(), POSITION + 1], timeout=90_000)
    page.keyboard.press("1")
    page.wait_for_function("(c) => [...c.querySelectorAll('.lxw-reads')].some((r) => r.offsetParent && r.textContent.includes('#5'))",
                           arg=cell.element_handle(), timeout=30_000)
    out = notebook.run("print(ex.focus, [v.focus for v in ex._views.values()], ex.strip.tab)")
    assert out.locator(".jp-OutputArea-output").inner_text().strip() == f"{POSITION + 1} {[POSITION + 1] * 5} attention"

    # About: what the view shows and where it misleads, the text of about.json
    from llmxai_widgets.widgets.about import about_of

    attention = cell.locator(".lxw-root:not(.lxw-explorer):visible")
    toggle = attention.locator(".lxw-about-toggle")
    toggle.click()
    panel = attention.locator(".lxw-about")
    text = panel.inner_text()
    about = about_of(lx.AttentionView)
    assert about["shows"] in text and about["misleads"] in text and "Where it misleads" in text
    assert toggle.get_attribute("aria-expanded") == "true"
    cell.screenshot(path=str(artifacts / "explorer-about.png"))
    assert not errors, errors


def test_the_saved_explorer_page_links_its_views_with_no_kernel(browser, smollm2, tmp_path, artifacts):
    import llmxai_widgets as lx
    from lab_standalone import open_file
    from llmxai_widgets.widgets.attention_jobs import attention_received

    hostile = TEXT + " <img src=x onerror=alert(1)>"
    explorer = lx.Explorer(smollm2, hostile, background=False)
    path = explorer.save(tmp_path / "explorer.html")
    opened = open_file(browser, path, ready=".lxw-explorer .lxw-strip .lxw-tok")
    page = opened.page
    strip = page.locator(".lxw-explorer .lxw-strip")
    assert "<img src=x onerror=alert(1)>" in strip.inner_text().replace("\u2423", " ") or "onerror" in strip.inner_text()
    assert page.locator("img").count() == 0  # the hostile token is text
    page.wait_for_selector("[data-lxw-tab='attention'] canvas[data-layer]")
    strip.locator(f".lxw-tok[data-index='{POSITION}']").click()

    # attention: the heads that read the token, from the page alone
    reads = attention_received(explorer.view("attention").result)[:, :, POSITION].ravel()
    first = page.locator("[data-lxw-tab='attention'] .lxw-reads button.lxw-link").first
    first.wait_for(state="visible")
    assert (int(first.get_attribute("data-layer")), int(first.get_attribute("data-head"))) == divmod(int(reads.argmax()), smollm2.n_heads)

    # the other tabs show the same token; only the open view is visible
    page.locator(".lxw-tablist button[data-tab='logit_lens']").click()
    assert page.locator("[data-lxw-tab='attention']").is_hidden()
    heading = page.locator("[data-lxw-tab='logit_lens'] .lxw-detail h4")
    heading.wait_for(state="visible")
    assert f"after #{POSITION}" in heading.inner_text()
    lens = lx.logit_lens(smollm2, hostile)  # every position (the view holds a window; the page holds all)
    col = list(lens.positions).index(POSITION)
    row = page.locator("[data-lxw-tab='logit_lens'] .lxw-detail tr").first.inner_text()
    assert display_token(str(lens.top_text[-1, col, 0]), 30) in row and f"{lens.top_probs[-1, col, 0]:.3f}" in row, row

    page.locator(".lxw-tablist button[data-tab='attribution']").click()
    text = page.locator("[data-lxw-tab='attribution'] .lxw-text")
    text.locator(f".lxw-tok.lxw-target[data-index='{POSITION}']").wait_for(state="visible")
    expected = explorer.view("attribution").result.row(POSITION - 1)
    assert float(text.locator(".lxw-tok[data-index='1']").get_attribute("data-score")) == pytest.approx(float(expected[1]), abs=1e-4)

    page.locator(".lxw-tablist button[data-tab='neurons']").click()
    neuron = page.locator("[data-lxw-tab='neurons'] .lxw-focus-line button").first
    neuron.wait_for(state="visible")
    view = explorer.view("neurons")
    acts = view.result.layer(view.layer)[POSITION]
    assert int(neuron.get_attribute("data-neuron")) == int(np.argmax(acts))
    page.screenshot(path=str(artifacts / "explorer-saved-page.png"), full_page=True)

    # the keys move the token here too; a digit switches back to the first view
    strip.focus()
    page.keyboard.press("ArrowRight")
    assert strip.get_attribute("data-focus") == str(POSITION + 1)
    page.keyboard.press("1")
    page.wait_for_function("(p) => [...document.querySelectorAll('.lxw-reads')].some((r) => r.offsetParent && r.textContent.includes(`#${p}`))",
                           arg=POSITION + 1)
    opened.assert_clean()
    page.context.close()
