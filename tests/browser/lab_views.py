"""What the browser tests of every view do alike: open a view's canvas, switch JupyterLab's theme,
screenshot a view, wait for coloured tokens. (Fixtures live in conftest.py; these are plain
functions so test modules import them like lab_cells and lab_canvas.)"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

MATRIX = ".lxw-root canvas[data-layer]"


def view_output(cell, page):
    """The cell's output that holds the view (not its static figure)."""
    return cell.locator(".jp-OutputArea-output").filter(has=page.locator(".lxw-root"))


def screenshot_view(cell, page, path: Path) -> None:
    view_output(cell, page).screenshot(path=str(path))


def run_view(notebook, code: str, selector: str = MATRIX, timeout: float = 90_000):
    """Run ``code`` (ending with the view) and wait until the view has drawn ``selector``:
    returns the cell and that canvas."""
    cell = notebook.run(code)
    canvas = cell.locator(selector)
    canvas.wait_for(state="visible", timeout=timeout)
    return cell, canvas


def set_theme(page, dark: bool) -> None:
    name, light = ("JupyterLab Dark", "false") if dark else ("JupyterLab Light", "true")
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{name}'}})")
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30_000)


@contextmanager
def dark_theme(page):
    """JupyterLab's dark theme for the block, the light one again after it."""
    set_theme(page, True)
    try:
        yield
    finally:
        set_theme(page, False)


def wait_for_scores(page, text, count: int, timeout: float = 90_000) -> None:
    """Until at least ``count`` tokens of an attribution text are coloured by a score."""
    page.wait_for_function(f"(t) => t.querySelectorAll('.lxw-tok[data-score]').length >= {count}",
                           arg=text.element_handle(), timeout=timeout)


def open_tab(page, cell, tab: str, selector: str, ready: str, timeout: float = 15_000):
    """Click the view's tab named ``tab`` and wait until the JS predicate ``ready`` holds for the
    element ``selector`` (e.g. its canvas has drawn); returns that element's locator."""
    cell.locator(".lxw-tab", has_text=tab).click()
    node = cell.locator(selector)
    page.wait_for_function(ready, arg=node.element_handle(), timeout=timeout)
    return node
