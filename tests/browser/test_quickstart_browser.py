"""The lessons in examples/, as a student opens them: every cell runs in JupyterLab, the views
draw, and the page makes no request beyond the local server."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUICKSTART = EXAMPLES / "quickstart.ipynb"
DONE = re.compile(r"^\[\d+\]:$")


def run_all(page, open_notebook, name: str, path: Path):
    """Open a lesson, run every cell, wait until all finished; returns (notebook, outside requests)."""
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).hostname not in ("127.0.0.1", "localhost") and not r.url.startswith(("data:", "blob:")) else None)
    notebook = open_notebook(page, name, path)
    page.locator(f"{notebook.CELLS}.jp-CodeCell .cm-content").first.click()  # commands act on the focused notebook
    page.keyboard.press("Escape")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
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
        pytest.fail(f"{name} did not finish running: prompts {texts}")
    return notebook, outside


def test_quickstart_runs_and_draws_offline(lab_page, open_notebook, artifacts):
    page = lab_page
    notebook, outside = run_all(page, open_notebook, "quickstart", QUICKSTART)
    prompts = notebook.cells.locator(".jp-InputArea-prompt")
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
    # each view's static figure (for GitHub, nbconvert, no kernel) is in the page but hidden here
    statics = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) img[alt^="llmxai-widgets figure"]')
    assert statics.count() >= 2
    assert all(not statics.nth(i).is_visible() for i in range(statics.count()))
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


def test_pairs_and_translation_lesson_draws_both_kinds(lab_page, open_notebook, artifacts):
    page = lab_page
    notebook, outside = run_all(page, open_notebook, "pairs_and_translation", EXAMPLES / "pairs_and_translation.ipynb")
    canvases = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .lxw-root canvas[data-layer]")
    canvases.last.wait_for(state="visible", timeout=60_000)
    pair, cross = canvases.first, canvases.last  # pair.show(...) displays the pair view a second time
    assert pair.get_attribute("data-filter") == "AB"  # pair.show(pair_filter='AB') in the lesson
    assert int(pair.get_attribute("data-k0")) > 0 and pair.get_attribute("data-part") == "self"
    assert cross.get_attribute("data-part") == "cross"
    assert int(cross.get_attribute("data-rows")) != int(cross.get_attribute("data-cols"))
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count() == 0
    root = cross.locator("xpath=ancestor::div[contains(@class, 'lxw-root')]")
    root.locator("button.lxw-tab", has_text="Head view").click()
    lines = root.locator(".lxw-headview canvas")
    page.wait_for_function("(c) => Number(c.dataset.lines) > 0", arg=lines.element_handle(), timeout=20_000)
    assert int(lines.get_attribute("data-keys")) == int(cross.get_attribute("data-cols"))
    assert int(lines.get_attribute("data-size")) == int(cross.get_attribute("data-rows"))
    root.screenshot(path=str(artifacts / "lesson-cross-head-view.png"))
    pair.locator("xpath=ancestor::div[contains(@class, 'lxw-root')]").screenshot(path=str(artifacts / "lesson-pair.png"))
    assert not notebook.page_errors, notebook.page_errors
    assert not outside, f"requests left the machine: {outside[:5]}"


@pytest.mark.parametrize(("name", "views"), [("attribution", ("view", "contrast")),
                                             ("inside_the_blocks", ("lens", "parts", "neurons"))])
def test_later_lessons_draw_every_view_offline(own_page, open_notebook, artifacts, name, views):
    """The attribution and inside-the-blocks lessons: every cell runs, every view finishes
    computing with no error panel, and nothing is fetched from outside the machine."""
    page = own_page
    notebook, outside = run_all(page, open_notebook, name, EXAMPLES / f"{name}.ipynb")
    roots = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .lxw-root")
    roots.nth(len(views) - 1).wait_for(state="visible", timeout=60_000)
    assert roots.count() == len(views)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:insert-cell-below')")  # a code cell after the lesson
    out = notebook.run("for v in (" + ", ".join(views) + ",):\n    v.wait(120)\n"
                       "print(*[v.status + ':' + v.error for v in (" + ", ".join(views) + ",)])")
    statuses = out.locator(".jp-OutputArea-output").inner_text().split()
    assert statuses == ["ready:"] * len(views), statuses
    for k in range(len(views)):
        errors = [e for e in roots.nth(k).locator(".lxw-error").all() if e.is_visible()]
        assert not errors, errors[0].inner_text()
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count() == 0
    roots.last.screenshot(path=str(artifacts / f"lesson-{name}-last-view.png"))
    assert not notebook.page_errors, notebook.page_errors
    assert not outside, f"requests left the machine: {outside[:5]}"
