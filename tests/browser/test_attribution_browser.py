"""AttributionView in JupyterLab + Chromium: token colours are the scores' colours, clicking a
generated token shows its row, the method menu recomputes. Expected scores come from Captum's
LayerGradientXActivation on the embedding layer, computed in the test process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmxai_widgets.colors import to_rgb

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="browser tests need Debian's Chromium at /usr/bin/chromium"),
]

PROMPT = "The capital of France is"


def css_rgb(text: str) -> tuple[int, int, int]:
    inside = text[text.index("(") + 1 : text.index(")")]
    return tuple(int(float(v)) for v in inside.split(",")[:3])


def test_token_colours_match_captum_and_a_click_shows_its_row(lab_page, open_notebook, artifacts):
    import torch
    from captum.attr import LayerGradientXActivation

    import llmxai_widgets as lx

    page = lab_page
    notebook = open_notebook(page, "attribution_browser")
    cell = notebook.run(
        "import llmxai_widgets as lx\n"
        "model = lx.load_model()\n"
        f"a = lx.AttributionView(model, {PROMPT!r}, generate=3, method='input_x_gradient')\n"
        "a"
    )
    text = cell.locator(".lxw-text")
    page.wait_for_function("(t) => t.querySelectorAll('.lxw-tok[data-score]').length >= 5", arg=text.element_handle(),
                           timeout=90_000)
    out = notebook.run("import json\nprint(json.dumps([list(map(int, a.result.tokens.ids)), a.targets]))")
    ids, targets = json.loads(out.locator(".jp-OutputArea-output").inner_text())

    model = lx.load_model()

    def expected_row(k):
        t = targets[k]

        def f(x):
            return torch.log_softmax(model.model(input_ids=x).logits[:, -1].float(), -1)[:, ids[t]]

        layer = LayerGradientXActivation(f, model.model.get_input_embeddings())
        return layer.attribute(torch.tensor([ids[:t]]))[0].sum(-1).detach().numpy()

    def check_row(k):
        row = expected_row(k)
        vmax = np.abs(row).max()
        page.wait_for_function("([t, k]) => t.dataset.selected === String(k)", arg=[text.element_handle(), k], timeout=15_000)
        for j in range(len(row)):
            span = text.locator(f".lxw-tok[data-index='{j}']")
            got = css_rgb(span.evaluate("(s) => getComputedStyle(s).backgroundColor"))
            want = tuple(int(c) for c in to_rgb(row[j], -vmax, vmax, "RdBu_r"))
            assert max(abs(a - b) for a, b in zip(got, want)) <= 3, (k, j, got, want)
            assert float(span.get_attribute("data-score")) == pytest.approx(row[j], rel=1e-3, abs=1e-4)

    check_row(0)
    assert text.locator(".lxw-target").get_attribute("data-index") == str(targets[0])
    cell.locator(".jp-OutputArea-output").filter(has=page.locator(".lxw-root")).screenshot(path=str(artifacts / "attribution.png"))
    # click the last generated token: its row, with every earlier generated token coloured too
    text.locator(f".lxw-tok[data-index='{targets[2]}']").click()
    check_row(2)
    assert text.locator(".lxw-target").get_attribute("data-index") == str(targets[2])
    assert notebook.run("print(a.selected)").locator(".jp-OutputArea-output").inner_text().strip() == "2"
    # the matrix of every target row is drawn
    matrix = cell.locator(".lxw-attr-matrix canvas").first
    assert matrix.is_visible() and int(matrix.get_attribute("data-rows")) == 3

    # switching the method recomputes in the background and redraws
    cell.locator("select.lxw-method").select_option("saliency")
    page.wait_for_function(
        "(t) => [...t.querySelectorAll('.lxw-tok[data-score]')].every((s) => Number(s.dataset.score) >= 0)",
        arg=text.element_handle(), timeout=60_000,
    )
    assert "saliency" in notebook.run("print(a.result.method)").locator(".jp-OutputArea-output").inner_text()
    cell.locator(".jp-OutputArea-output").filter(has=page.locator(".lxw-root")).screenshot(path=str(artifacts / "attribution-saliency.png"))
    assert not notebook.page_errors, notebook.page_errors
