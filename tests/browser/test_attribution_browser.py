"""AttributionView in JupyterLab + Chromium: token colours are the scores' colours, clicking a
generated token shows its row, the method menu recomputes. Expected scores come from Captum's
LayerGradientXActivation on the embedding layer, computed in the test process."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lab_views import screenshot_view, wait_for_scores
from llmxai_widgets.colors import to_rgb


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
    wait_for_scores(page, text, 5)
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
    screenshot_view(cell, page, artifacts / "attribution.png")
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
    screenshot_view(cell, page, artifacts / "attribution-saliency.png")
    assert not notebook.page_errors, notebook.page_errors


def test_export_buttons_download_the_matrix_and_the_text(own_page, open_notebook, artifacts):
    """The toolbar's SVG and PNG buttons download what the view draws, drawn by Python's figure
    code: the matrix (every token as escaped text; the PNG's cells have the canvas's colours),
    or the selected target's text."""
    import io
    import xml.etree.ElementTree as ET

    from PIL import Image

    from lab_canvas import pixel
    from llmxai_widgets.figures import display_token

    page = own_page
    notebook = open_notebook(page, "attribution_export")
    cell = notebook.run(
        "import llmxai_widgets as lx\n"
        "model = lx.load_model()\n"
        "a = lx.AttributionView(model, 'The tag </text><script> & <b> is', generate=3, method='saliency')\n"
        "a"
    )
    matrix = cell.locator(".lxw-attr-matrix canvas").first
    page.wait_for_function("(c) => c.dataset.rows === '3' && Number(c.dataset.vmax) > 0", arg=matrix.element_handle(),
                           timeout=90_000)
    notebook.run("a.wait()")
    out = notebook.run("import json\nprint(json.dumps([a.tokens, a.special, a.targets]))")
    tokens, special, targets = json.loads(out.locator(".jp-OutputArea-output").inner_text())
    assert any("<" in t for t in tokens), tokens  # markup in the tokens themselves
    view = cell.locator(".jp-OutputArea-output").filter(has=page.locator(".lxw-root"))
    view.screenshot(path=str(artifacts / "attribution-export-buttons.png"))
    bar = cell.locator(".lxw-bar").first
    assert bar.locator(".lxw-export-group").is_visible() and cell.locator("select.lxw-export-what").is_visible()

    def export(button: str, name: str):
        with page.expect_download(timeout=30_000) as download:
            cell.locator("button.lxw-export", has_text=button).click()
        path = artifacts / name
        download.value.save_as(path)
        return download.value.suggested_filename, path

    def svg_texts(path):
        root = ET.fromstring(path.read_text())  # well-formed XML: the tokens are escaped
        assert not list(root.iter("{http://www.w3.org/2000/svg}script"))
        return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]

    name, path = export("SVG", "attribution-export-matrix.svg")
    assert name.endswith("-saliency-matrix.svg"), name
    texts = svg_texts(path)
    for token in tokens:  # each token labels a column
        assert display_token(token) in texts, (token, texts)

    name, path = export("PNG", "attribution-export-matrix.png")
    exported = np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"))
    geometry = notebook.run("f = a.figure('matrix')\nprint(f.left, f.top, f.cell)")
    left, top, size = map(float, geometry.locator(".jp-OutputArea-output").inner_text().split())
    scale = 200 / 72  # the buttons ask for 200 dpi
    worst = 0
    for q in range(len(targets)):
        for k in range(len(tokens)):
            got = exported[int((top + (q + 0.5) * size) * scale), int((left + (k + 0.5) * size) * scale)].astype(int)
            worst = max(worst, int(np.abs(got - np.array(pixel(matrix, q, k)[:3])).max()))
    assert worst <= 8, f"exported PNG and screen differ by up to {worst} per channel in some cell"

    cell.locator(".lxw-tok.lxw-generated").nth(1).click()  # show target #1's text, then export the text
    page.wait_for_function("(t) => t.dataset.selected === '1'", arg=cell.locator(".lxw-text").element_handle())
    cell.locator("select.lxw-export-what").select_option("text")
    name, path = export("SVG", "attribution-export-text.svg")
    assert name.endswith("-saliency-target1.svg"), name
    texts = svg_texts(path)
    for token, hidden in zip(tokens, special):  # every token of the text but special ones (hidden, as on screen)
        assert hidden or display_token(token).replace("\u2423", " ") in texts, (token, texts)
    assert not cell.locator(".lxw-error").is_visible() and not notebook.page_errors, notebook.page_errors


def test_masked_lm_and_classifier_views_name_what_they_explain(own_page, open_notebook, artifacts):
    """A masked LM with two masks (MiniLM's encoder, an MLM head from a fixed seed): the view says
    which token is predicted at the outlined mask, leaves the masks uncoloured, colours the other
    tokens by the row's scores, and a click on the second mask shows its row. A classifier's
    view names the label."""
    page = own_page
    notebook = open_notebook(page, "attribution_encoders_browser")
    cell = notebook.run(
        "import torch, transformers, llmxai_widgets as lx\n"
        "transformers.logging.set_verbosity_error()\n"
        "enc = lx.load_model('minilm')\n"
        "path = enc.model.config._name_or_path\n"
        "torch.manual_seed(0)\n"
        "mlm = lx.load_model(model=transformers.BertForMaskedLM.from_pretrained(path).eval(), tokenizer=enc.tokenizer)\n"
        "m = lx.AttributionView(mlm, 'The [MASK] sat on the [MASK].', method='input_x_gradient')\n"
        "m"
    )
    text = cell.locator(".lxw-text")
    wait_for_scores(page, text, 5)
    out = notebook.run("import json\nprint(json.dumps([m.targets, m.target_labels, m.result.scores.tolist()]))")
    targets, labels, scores = json.loads(out.locator(".jp-OutputArea-output").inner_text().replace("NaN", "null"))
    assert len(targets) == 2

    def check(k):
        page.wait_for_function("([t, k]) => t.dataset.selected === String(k)", arg=[text.element_handle(), k],
                               timeout=15_000)
        line = text.locator(".lxw-target-line").inner_text()
        assert line.startswith("Prediction at the outlined mask:") and labels[k] in line
        assert text.locator(".lxw-target").get_attribute("data-index") == str(targets[k])
        row = np.array([np.nan if v is None else v for v in scores[k]])
        shown = [j for j in range(len(row)) if text.locator(f".lxw-tok[data-index='{j}']").count()]
        assert 0 not in shown  # [CLS] and [SEP] are hidden by default; the scale covers what is shown
        vmax = np.nanmax(np.abs(row[shown]))
        for j in shown:
            v, span = row[j], text.locator(f".lxw-tok[data-index='{j}']")
            if j in targets:  # the masks are not coloured
                assert span.get_attribute("data-score") is None
                continue
            got = css_rgb(span.evaluate("(s) => getComputedStyle(s).backgroundColor"))
            want = tuple(int(c) for c in to_rgb(v, -vmax, vmax, "RdBu_r"))
            assert max(abs(a - b) for a, b in zip(got, want)) <= 3, (k, j, got, want)

    check(0)
    text.locator(f".lxw-tok[data-index='{targets[1]}']").click()
    check(1)
    screenshot_view(cell, page, artifacts / "attribution-masked.png")
    cell = notebook.run(
        "torch.manual_seed(0)\n"
        "clf = transformers.BertForSequenceClassification.from_pretrained(path, num_labels=2, "
        "id2label={0: 'negative', 1: 'positive'}).eval()\n"
        "c = lx.AttributionView(lx.load_model(model=clf, tokenizer=enc.tokenizer), 'I loved this film.', "
        "target='positive', method='occlusion')\n"
        "c"
    )
    text = cell.locator(".lxw-text")
    wait_for_scores(page, text, 4)
    assert text.locator(".lxw-target-line").inner_text().startswith("Label: positive")
    assert text.locator(".lxw-target").count() == 0
    screenshot_view(cell, page, artifacts / "attribution-classifier.png")
