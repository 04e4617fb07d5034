"""A view whose kernel is gone: it says so at once, and asking for another layer keeps the last
picture and, after a few seconds, says why nothing comes (instead of a dimmed picture forever).
(test_kernel_restart_browser.py: a restart mid-stream, a notebook reopened without a kernel.)"""

from __future__ import annotations

from lab_views import run_view, screenshot_view


def test_a_view_without_its_kernel_says_so(lab_page, open_notebook, artifacts):
    page = lab_page
    notebook = open_notebook(page, "kernel_gone")
    cell, canvas = run_view(notebook, "import llmxai_widgets as lx\n"
                            "v = lx.AttentionView(lx.load_model(), 'The cat sat on the mat.', layer=2, head=1)\nv.wait()\nv")
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
    page.wait_for_function(
        "() => /No Kernel|Kernel Dead|Shut Down/i.test(document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar')?.innerText ?? '')"
        " || !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-kernelName')",
        timeout=30_000,
    )
    # the view says at once that its kernel is gone, keeping its picture (js/core/kernel.ts)
    root = cell.locator(".lxw-root")
    page.wait_for_function("(r) => r.dataset.kernel === 'gone'", arg=root.element_handle(), timeout=15_000)
    assert "The Python kernel is gone" in root.locator(".lxw-error").inner_text()
    assert canvas.get_attribute("data-layer") == "2"
    page.wait_for_timeout(1_000)
    cell.locator("select.lxw-layer").select_option("7")
    error = cell.locator(".lxw-error")
    page.wait_for_function("(e) => e.innerText.includes('No answer from the Python kernel')",
                           arg=error.element_handle(), timeout=15_000)
    assert error.is_visible()
    assert canvas.get_attribute("data-layer") == "2", "the last picture received stays"
    screenshot_view(cell, page, artifacts / "attention-kernel-gone.png")
    assert not notebook.page_errors, notebook.page_errors
