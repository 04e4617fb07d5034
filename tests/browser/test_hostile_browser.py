"""The hostile-token corpus (tests/hostile.py, plus payloads that would set ``window.__pwned``:
tests/browser/lab_hostile.py) through the live views in JupyterLab + Chromium and through saved
pages opened from file://: no script runs (the flag stays unset, no dialog opens), no markup gets
live (no script, img, svg, iframe or on* attribute inside a view), every token reads as the display
rule (llmxai_widgets/figures/text.py, js/core/layout.ts) shows it, in a label or its tooltip, with
no raw bidi, zero-width or control character, and the page logs no error.

The attention and neuron views are made by hand from the corpus (the lone surrogate included: it
must reach the browser as U+FFFD, not blank the view); the attribution, logit lens, contributions
and explorer views run the bundled SmolLM2 with every corpus token added to its vocabulary."""

from __future__ import annotations

import re
from pathlib import Path

from lab_canvas import hover
from lab_hostile import (LIVE_MARKUP_JS, MODEL_TOKENS, RAW, SOURCE, TEXT, TRAP, attention_view, hostile_model,
                         neuron_view, quoted_json, shown)
from lab_standalone import open_file
from lab_views import MATRIX, view_output
from llmxai_widgets.figures import display_token

VIEWPORT = {"width": 1400, "height": 1400}
HERE = Path(__file__).resolve().parent
SETUP = f"import sys\nsys.path[:0] = [{str(HERE)!r}, {str(HERE.parent)!r}]\nimport llmxai_widgets as lx\nimport lab_hostile as h"
RAW_CHARS = re.compile(RAW)
EMOJI_ZWJ = re.compile("(?<=[\u2600-\u27bf\ufe0f\U0001f000-\U0001faff])\u200d(?=[\u2600-\u27bf\U0001f000-\U0001faff])")
LENS_GRID = ".lxw-lens .lxw-cellgrid canvas.lxw-cells"

# A cellgrid's tooltip for a cell, by a synthetic mouse move (the grid may scroll sideways).
_GRID_TIP_JS = """(c, [row, col]) => {
  const d = c.dataset, colx = d.colx.split(",").map(Number), box = c.getBoundingClientRect();
  const x = Number(d.left) + colx[col] + Number(d.cellw) / 2, y = Number(d.top) + (row + 0.5) * Number(d.cellh);
  c.dispatchEvent(new MouseEvent("mousemove", { clientX: box.left + x, clientY: box.top + y, bubbles: true }));
  const tip = c.closest(".lxw-cellgrid").querySelector(":scope > .lxw-tooltip");
  return tip.dataset.row === String(row) && tip.dataset.col === String(col) ? tip.textContent : null;
}"""


def watch(page) -> list[str]:
    """Console errors (and page errors) from now on."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    return errors


def assert_nothing_ran(page) -> None:
    assert page.evaluate("() => window.__pwned") is None, "an injected payload ran"
    assert page.evaluate(LIVE_MARKUP_JS) == [], "token text became markup"


def assert_readable(text: str, what: str) -> None:
    text = EMOJI_ZWJ.sub("", text)  # a zero-width joiner inside an emoji sequence is the emoji
    assert not RAW_CHARS.search(text), (what, [hex(ord(c)) for c in RAW_CHARS.findall(text)])
    assert len(text) < 2_000, (what, len(text))  # the 10,000-character token is shortened


def assert_spans(root, tokens: list[str], what: str) -> None:
    """Every token has a span reading as the display rule shows it, its tooltip quoting it."""
    spans = root.evaluate("(r) => [...r.querySelectorAll('.lxw-tok')].map((s) => [s.textContent, s.title])")
    texts = [t for t, _ in spans]
    for token in tokens:
        assert shown(token) in texts, (what, shown(token), texts)
    for text, title in spans:
        assert_readable(text, what)
        assert_readable(title, what)


def assert_matrix_tooltips(page, canvas, tokens: list[str], what: str) -> None:
    """The attention matrix's tooltip on each diagonal cell quotes the row's and column's token."""
    for q, token in enumerate(tokens):
        tip = hover(page, canvas, q, q).text_content()
        assert f"#{q} {quoted_json(token)}" in tip, (what, q, quoted_json(token), tip)
        assert_readable(tip, what)


def assert_lens_tooltips(page, canvas, tokens: list[str]) -> None:
    """The logit lens's tooltip on each column names the token the column reads after."""
    positions = [int(p) for p in canvas.get_attribute("data-positions").split(",")]
    assert positions == list(range(len(tokens))), positions
    for col, p in enumerate(positions):
        tip = None
        for _ in range(20):
            tip = canvas.evaluate(_GRID_TIP_JS, [0, col])
            if tip is not None:
                break
            page.wait_for_timeout(50)
        assert tip is not None, col
        assert f"#{p} \u201c{display_token(tokens[p])}\u201d" in tip, (p, tip)
        assert_readable(tip, "lens tooltip")


def test_views_made_from_the_corpus_keep_tokens_as_text(lab_page, open_notebook, artifacts):
    """Attention (the lone surrogate too: it reaches the page as U+FFFD) and neurons."""
    page = lab_page
    page.set_viewport_size(VIEWPORT)
    errors = watch(page)
    notebook = open_notebook(page, "hostile_made")
    notebook.run(SETUP)
    expected = [t.replace("\ud800", "\ufffd") for t in SOURCE]

    cell = notebook.run("a = h.attention_view()\na")
    canvas = cell.locator(MATRIX)
    canvas.wait_for(state="visible", timeout=60_000)
    assert canvas.get_attribute("data-n") == str(len(SOURCE))
    assert_matrix_tooltips(page, canvas, expected, "attention")  # the lone surrogate's row reads "x\ufffdy"
    view_output(cell, page).screenshot(path=str(artifacts / "hostile-attention.png"))

    cell = notebook.run("n = h.neuron_view()\nn")
    detail = cell.locator(".lxw-neuron-detail")
    page.wait_for_function("(d) => d.querySelectorAll('.lxw-tok').length >= " + str(len(SOURCE)),
                           arg=detail.element_handle(), timeout=60_000)
    assert_spans(detail, expected, "neuron detail")
    view_output(cell, page).screenshot(path=str(artifacts / "hostile-neurons.png"))

    assert_nothing_ran(page)
    assert notebook.dialogs == [] and notebook.page_errors == [], (notebook.dialogs, notebook.page_errors)
    assert errors == [], errors


def test_views_on_a_model_that_reads_the_corpus_as_tokens(own_page, open_notebook, artifacts):
    """Attribution, logit lens, contributions and the explorer's strip on SmolLM2 whose vocabulary
    holds every corpus token: the model's own tokens are the corpus."""
    page = own_page
    errors = watch(page)
    notebook = open_notebook(page, "hostile_model")
    notebook.run(SETUP + "\nm = h.hostile_model()", timeout=180_000)

    cell = notebook.run("at = lx.AttributionView(m, h.TEXT, method='input_x_gradient')\nat")
    text = cell.locator(".lxw-text")
    text.wait_for(timeout=90_000)
    page.wait_for_function(f"(t) => t.querySelectorAll('.lxw-tok').length >= {len(MODEL_TOKENS)}", arg=text.element_handle(),
                           timeout=90_000)
    assert_spans(text, MODEL_TOKENS, "attribution")
    view_output(cell, page).screenshot(path=str(artifacts / "hostile-attribution.png"))

    cell = notebook.run(f"lens = lx.LogitLensView(m, h.TEXT, window={len(MODEL_TOKENS)})\nlens")
    grid = cell.locator(LENS_GRID)
    page.wait_for_function(f"(c) => (c.dataset.positions || '').split(',').length === {len(MODEL_TOKENS)}",
                           arg=grid.element_handle(), timeout=90_000)
    assert_lens_tooltips(page, grid, MODEL_TOKENS)
    view_output(cell, page).screenshot(path=str(artifacts / "hostile-lens.png"))

    cell = notebook.run("c = lx.ContributionView(m, h.TEXT)\nc")
    strip = cell.locator(".lxw-contrib .lxw-strip")
    page.wait_for_function(f"(s) => s.querySelectorAll('.lxw-tok').length === {len(MODEL_TOKENS)}", arg=strip.element_handle(),
                           timeout=90_000)
    page.wait_for_function("(c) => c.dataset.rows === '30'", arg=cell.locator(".lxw-contrib canvas.lxw-cells").nth(1).element_handle(),
                           timeout=90_000)
    assert_spans(strip, MODEL_TOKENS, "contributions strip")
    caption = cell.locator(".lxw-sum").inner_text()
    assert f"after #{len(MODEL_TOKENS) - 1} \u201c{display_token(MODEL_TOKENS[-1])}\u201d" in caption, caption
    assert_readable(caption, "contributions caption")
    view_output(cell, page).screenshot(path=str(artifacts / "hostile-contributions.png"))

    cell = notebook.run("ex = lx.Explorer(m, h.TEXT)\nex")
    strip = cell.locator(".lxw-explorer .lxw-strip")
    page.wait_for_function(f"(s) => s.querySelectorAll('.lxw-tok').length === {len(MODEL_TOKENS)}", arg=strip.element_handle(),
                           timeout=90_000)
    cell.locator(".lxw-root canvas[data-layer]").first.wait_for(state="visible", timeout=90_000)
    assert_spans(strip, MODEL_TOKENS, "explorer strip")
    long = MODEL_TOKENS.index("x" * 9_990 + "TAIL_END__")
    strip.locator(f".lxw-tok[data-index='{long}']").click()
    where = cell.locator(".lxw-explorer").inner_text()
    assert f"token #{long} {quoted_json(MODEL_TOKENS[long], 30)}" in where, where[:400]
    view_output(cell, page).screenshot(path=str(artifacts / "hostile-explorer.png"))

    assert_nothing_ran(page)
    assert notebook.dialogs == [] and notebook.page_errors == [], (notebook.dialogs, notebook.page_errors)
    assert errors == [], errors


def test_saved_pages_keep_tokens_as_text(browser, tmp_path, artifacts):
    """Four saved pages (attention and neurons made from the corpus, attribution and the logit
    lens on the model that reads it), opened from file:// with no kernel."""
    import llmxai_widgets as lx

    expected = [t.replace("\ud800", "\ufffd") for t in SOURCE]
    model = hostile_model()
    pages = {
        "attention": (attention_view(), MATRIX),
        "neurons": (neuron_view(), ".lxw-neuron-detail .lxw-tok"),
        "attribution": (lx.AttributionView(model, TEXT, method="input_x_gradient", background=False), ".lxw-text .lxw-tok"),
        "lens": (lx.LogitLensView(model, TEXT, window=len(MODEL_TOKENS), background=False), LENS_GRID),
    }
    for name, (view, ready) in pages.items():
        opened = open_file(browser, view.save(tmp_path / f"{name}.html"), ready=ready, init_script=TRAP)
        page = opened.page
        page.set_viewport_size({"width": 1200, "height": 1400})  # the whole matrix in view, for the mouse
        heading = page.locator("h1").inner_text()
        assert_readable(heading, f"{name} heading")
        if name == "attention":
            assert_matrix_tooltips(page, page.locator(MATRIX).first, expected, "saved attention")
        elif name == "neurons":
            assert_spans(page.locator(".lxw-neuron-detail"), expected, "saved neurons")
        elif name == "attribution":
            assert_spans(page.locator(".lxw-text"), MODEL_TOKENS, "saved attribution")
        else:
            assert_lens_tooltips(page, page.locator(LENS_GRID).first, MODEL_TOKENS)
        page.screenshot(path=str(artifacts / f"hostile-saved-{name}.png"), full_page=True)
        assert_nothing_ran(page)
        opened.assert_clean()
        page.context.close()
