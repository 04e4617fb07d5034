"""The quickstart lesson, as a student opens it: every cell runs in JupyterLab, the attention view
draws the bundled model's attention, and the page makes no request beyond the local server."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="browser tests need Debian's Chromium at /usr/bin/chromium"),
]

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"
DONE = re.compile(r"^\[\d+\]:$")


def test_quickstart_runs_and_draws_offline(lab_page, open_notebook, artifacts):
    page = lab_page
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).hostname not in ("127.0.0.1", "localhost") and not r.url.startswith(("data:", "blob:")) else None)
    notebook = open_notebook(page, "quickstart", QUICKSTART)
    page.locator(f"{notebook.CELLS}.jp-CodeCell .cm-content").first.click()  # commands act on the focused notebook
    page.keyboard.press("Escape")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    prompts = notebook.cells.locator(".jp-InputArea-prompt")
    code_cells = page.locator(f"{notebook.CELLS}.jp-CodeCell")
    deadline_ms = 180_000
    waited = 0
    while waited < deadline_ms:
        texts = [t.strip().replace("\u00a0", "") for t in code_cells.locator(".jp-InputArea-prompt").all_inner_texts()]
        if texts and all(DONE.match(t) for t in texts):
            break
        page.wait_for_timeout(250)
        waited += 250
    else:
        pytest.fail(f"the quickstart did not finish running: prompts {texts}")
    assert prompts.count() >= 5

    canvases = page.locator(".lxw-root canvas[data-layer]")
    canvases.first.wait_for(state="visible", timeout=60_000)
    # view.show(layer=10, head=4) in the lesson moves every display of the view
    assert canvases.first.get_attribute("data-layer") == "10"
    assert canvases.first.get_attribute("data-head") == "4"
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count() == 0
    # The lesson's last cell asks for layer 42 on purpose: the view shows why, and keeps drawing.
    error = page.locator(".lxw-root .lxw-error").first
    assert "layer 42 is out of range" in error.inner_text()
    assert not notebook.page_errors, notebook.page_errors
    assert not notebook.dialogs, notebook.dialogs
    assert not outside, f"requests left the machine: {outside[:5]}"
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(3).scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "quickstart.png"))



def test_view_survives_a_page_reload(lab_page):
    """Reloading the page reconnects to the same kernel: the view is rebuilt from its traits (the
    streamed chunks are gone), showing the same layer and head."""
    page = lab_page
    # Save first: an unsaved notebook asks "leave the page?", which the fixture answers "stay".
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=10_000)
    page.reload()
    canvas = page.locator(".lxw-root canvas[data-layer]").first
    canvas.wait_for(state="visible", timeout=60_000)
    assert canvas.get_attribute("data-layer") == "10" and canvas.get_attribute("data-head") == "4"
    n = int(canvas.get_attribute("data-n"))
    assert n == 14 and float(canvas.get_attribute("data-vmax")) > 0
