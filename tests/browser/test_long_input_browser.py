"""The bundled model's whole context (8,192 tokens) opens, responds to the mouse, and zooms to a
searched token."""

from __future__ import annotations

import json

from lab_views import screenshot_view
from llmxai_widgets.colors import to_rgb

# AttentionView tokenises text itself: give it text of the model's 8,192 tokens instead.
LONG_VIEW = """\
import llmxai_widgets
model = llmxai_widgets.load_model()
text = ' '.join(f'w{i % 911} then' for i in range(2800))
ids = model.tokenize(text).ids
text = model.tokenizer.decode(ids[:8186]) + ' Paris'
v = llmxai_widgets.AttentionView(model, text, layer=0, head=0)
print(len(v.tokens))
v"""


def test_the_whole_8192_token_context_opens_responds_and_zooms(lab_page, open_notebook, artifacts):
    page = lab_page
    notebook = open_notebook(page, "long_input")
    cell = notebook.run(LONG_VIEW)
    n = int(cell.locator(".jp-OutputArea-output").first.inner_text().strip())
    assert 8186 <= n <= 8192
    canvas = cell.locator(".lxw-root canvas[data-layer]")
    canvas.wait_for(state="visible", timeout=120_000)  # layer 0 is drawn while the rest computes
    assert canvas.get_attribute("data-window") == str(n)
    box = canvas.bounding_box()
    assert box["width"] <= 1400, "a long input is shrunk to fit, not an 8,192-pixel canvas"
    notebook.run("v.cancel(); v.wait(); print(v.status)")  # keep the finished layers, stop the rest

    # The mouse still finds single tokens in the shrunk picture.
    left, top, size = (float(canvas.get_attribute(f"data-{a}")) for a in ("left", "top", "cell"))
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(0, 0)
    page.mouse.move(box["x"] + left + 200 * size, box["y"] + top + 7000 * size)
    tooltip = cell.locator(".lxw-tooltip")
    tooltip.wait_for(state="visible", timeout=10_000)
    # one screen pixel covers 1 / size tokens (about 6 here): the token under the mouse is within it
    assert abs(int(tooltip.get_attribute("data-query")) - 7000) <= 1 / size + 1, (tooltip.get_attribute("data-query"), size)

    # Find the last token (" Paris"): the view zooms to a 48-token window with the needle's row pinned.
    search = cell.locator("input.lxw-search")
    search.fill("Paris")
    search.press("Enter")
    page.wait_for_function("(c) => c.dataset.window === '48'", arg=canvas.element_handle(), timeout=15_000)
    q0, k0 = int(canvas.get_attribute("data-q0")), int(canvas.get_attribute("data-k0"))
    assert q0 <= n - 1 < q0 + 48
    assert cell.locator(".lxw-tooltip").get_attribute("data-query") == str(n - 1)

    weights = json.loads(
        notebook.run(f"import json\nw = v.result.head(0, 0)\nprint(json.dumps([float(w.max()), [float(x) for x in w[{n - 1}, {k0}:{k0 + 48}]]]))")
        .locator(".jp-OutputArea-output").inner_text()
    )
    vmax, row = weights
    left, top, cell_px = (float(canvas.get_attribute(f"data-{a}")) for a in ("left", "top", "cell"))
    for k in (0, 20, 47):
        got = canvas.evaluate(
            """(c, [x, y]) => { const r = c.width / c.getBoundingClientRect().width;
                 return Array.from(c.getContext('2d').getImageData(Math.floor(x * r), Math.floor(y * r), 1, 1).data); }""",
            [left + (k + 0.5) * cell_px, top + (n - 1 - q0 + 0.5) * cell_px],
        )
        expected = to_rgb(row[k], 0.0, vmax)
        assert max(abs(int(a) - int(b)) for a, b in zip(got[:3], expected)) <= 8, (k, got, expected)
    screenshot_view(cell, page, artifacts / "attention-8192-zoomed.png")
    assert not notebook.page_errors, notebook.page_errors
