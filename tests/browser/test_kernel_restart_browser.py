"""Views whose kernel is lost (issue 16). A kernel restarted while a view streams: the view says
in words that the kernel restarted and that nothing more will come (instead of a progress bar
waiting forever), keeps what it had drawn, and its buttons do not throw on the dead comm. A
notebook reopened without a kernel: each view's static figure is shown in its place.
(test_kernel_gone_browser.py: a kernel shut down under a finished view.)"""

from __future__ import annotations

import json

from lab_views import screenshot_view, wait_for_scores

ACTIVE = ".jp-NotebookPanel:not(.lm-mod-hidden)"
KERNEL = "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"


def test_a_kernel_restart_mid_stream_is_said_in_words(lab_page, open_notebook, artifacts):
    page = lab_page
    notebook = open_notebook(page, "kernel_restart")
    # integrated gradients, one target row after another: a minute of streaming on this machine
    cell = notebook.run("import llmxai_widgets as lx\n"
                        "a = lx.AttributionView(lx.load_model(), 'The capital of France is', generate=8,\n"
                        "                       method='integrated_gradients', n_steps=32, batch=1)\n"
                        "a")
    text = cell.locator(".lxw-text")
    wait_for_scores(page, text, 3)  # the first row arrived; the others are still being computed
    root = cell.locator(".lxw-root")
    progress = root.locator(".lxw-progress")
    assert progress.locator("progress").is_visible(), "the view should still be computing when the kernel restarts"
    scored = text.locator(".lxw-tok[data-score]").count()

    page.evaluate(f"() => {KERNEL}.restart()")
    page.wait_for_function("(r) => r.dataset.kernel === 'restarted'", arg=root.element_handle(), timeout=15_000)
    error = root.locator(".lxw-error")
    assert error.is_visible()
    words = error.inner_text()
    assert "The Python kernel restarted" in words and "nothing more will arrive" in words, words
    assert "its computation stopped" in words and "run the cell" in words, words
    assert "stopped: the Python kernel restarted" in progress.inner_text()
    assert not progress.locator("progress").is_visible() and not progress.locator("button").is_visible()
    assert text.locator(".lxw-tok[data-score]").count() == scored, "what was drawn stays"
    screenshot_view(cell, page, artifacts / "attribution-kernel-restarted.png")

    page.wait_for_function(f"() => {KERNEL}.status === 'idle'", timeout=60_000)
    error.get_by_role("button", name="Dismiss").click()  # the comm is dead: nothing to send, nothing thrown
    assert not error.is_visible()
    assert text.locator(".lxw-tok[data-score]").count() == scored
    assert not notebook.page_errors, notebook.page_errors


def test_a_notebook_reopened_without_a_kernel_shows_the_static_figures(own_page, open_notebook, lab_server, artifacts):
    page = own_page
    notebook = open_notebook(page, "reopened_no_kernel")
    cell = notebook.run("import llmxai_widgets as lx\n"
                        "v = lx.AttentionView(lx.load_model(), 'The cat sat on the mat.', layer=2, head=1)\nv.wait()\nv")
    cell.locator(".lxw-root canvas[data-layer]").wait_for(state="visible", timeout=90_000)
    figure = cell.locator('img[alt^="llmxai-widgets figure"]')
    figure.wait_for(state="attached", timeout=30_000)
    assert not figure.is_visible(), "the live view hides its static figure"
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=10_000)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")  # kernel and session
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.sessionContext.session", timeout=30_000)

    # reopen it where no kernel can start for it: JupyterLab asks for one; the answer is "none"
    path = lab_server.root / "reopened_no_kernel.ipynb"
    saved = json.loads(path.read_text())
    assert any("image/png" in out.get("data", {}) for c in saved["cells"] for out in c.get("outputs", []))
    saved["metadata"] = {"kernelspec": {"name": "no-such-kernel", "display_name": "gone"}}  # no language to match
    path.write_text(json.dumps(saved))
    page.goto(f"{lab_server.url}/lab/workspaces/reopened/tree/reopened_no_kernel.ipynb")
    page.wait_for_selector(f"{ACTIVE} .jp-Cell", state="attached", timeout=60_000)
    dialog = page.locator(".jp-Dialog")
    try:  # JupyterLab may ask which kernel to start: none
        dialog.wait_for(state="visible", timeout=5_000)
        page.keyboard.press("Escape")
        dialog.wait_for(state="detached", timeout=15_000)
    except Exception:
        pass
    page.wait_for_function(f"() => !!document.querySelector('{ACTIVE} img[alt^=\"llmxai-widgets figure\"]')",
                           timeout=30_000)
    static = page.locator(f'{ACTIVE} img[alt^="llmxai-widgets figure"]')
    assert static.count() == 1
    static.scroll_into_view_if_needed()
    assert static.is_visible(), "without a kernel the static figure stands in for the view"
    assert static.evaluate("(img) => img.complete && img.naturalWidth > 100 && img.naturalHeight > 100")
    assert page.locator(f"{ACTIVE} .lxw-root canvas[data-layer]").count() == 0
    assert page.evaluate("() => !window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel")
    page.screenshot(path=str(artifacts / "reopened-without-kernel.png"))
    assert not notebook.page_errors, notebook.page_errors
