"""A view whose kernel is gone: asking for another layer keeps the last picture and, after a few
seconds, says why nothing comes (instead of a dimmed picture forever)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="browser tests need Debian's Chromium at /usr/bin/chromium"),
]


def test_a_view_without_its_kernel_says_so(lab_page, open_notebook, artifacts):
    page = lab_page
    notebook = open_notebook(page, "kernel_gone")
    cell = notebook.run(
        "import llmxai_widgets as lx\n"
        "v = lx.AttentionView(lx.load_model(), 'The cat sat on the mat.', layer=2, head=1)\n"
        "v.wait()\n"
        "v"
    )
    canvas = cell.locator(".lxw-root canvas[data-layer]")
    canvas.wait_for(state="visible", timeout=90_000)
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
    page.wait_for_function(
        "() => /No Kernel|Kernel Dead|Shut Down/i.test(document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar')?.innerText ?? '')"
        " || !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-kernelName')",
        timeout=30_000,
    )
    page.wait_for_timeout(1_000)
    cell.locator("select.lxw-layer").select_option("7")
    error = cell.locator(".lxw-error")
    error.wait_for(state="visible", timeout=15_000)
    assert "No answer from the Python kernel" in error.inner_text()
    assert canvas.get_attribute("data-layer") == "2", "the last picture received stays"
    cell.locator(".jp-OutputArea-output").filter(has=page.locator(".lxw-root")).screenshot(
        path=str(artifacts / "attention-kernel-gone.png")
    )
    assert not notebook.page_errors, notebook.page_errors
