"""Reading the attention matrix canvas in a real page: pixels at token cells, hover, tooltips.

The canvas publishes its geometry in data attributes (left, top, cell, q0, k0: see
js/core/matrix.ts); these helpers turn token indices into pixels and page coordinates.
"""

from __future__ import annotations

import re

COLOR_TOL = 8  # per channel: weights travel as uint8


_PIXEL_JS = """(c, [q, k]) => {
  const ratio = c.width / c.getBoundingClientRect().width;  // devicePixelRatio as drawn
  const d = c.dataset, cell = Number(d.cell);
  const x = Math.floor((Number(d.left) + (k - Number(d.k0 || 0) + 0.5) * cell) * ratio);
  const y = Math.floor((Number(d.top) + (q - Number(d.q0 || 0) + 0.5) * cell) * ratio);
  const p = c.getContext("2d").getImageData(x, y, 1, 1).data;
  return [p[0], p[1], p[2], p[3]];
}"""

DISTINCT_JS = """(c) => {
  const ratio = c.width / c.getBoundingClientRect().width;
  const d = c.dataset, n = Number(d.n), cell = Number(d.cell);
  const ctx = c.getContext("2d"), seen = new Set();
  for (let q = 0; q < n; q++) for (let k = 0; k < n; k++) {
    const p = ctx.getImageData(Math.floor((Number(d.left) + (k + 0.5) * cell) * ratio),
                               Math.floor((Number(d.top) + (q + 0.5) * cell) * ratio), 1, 1).data;
    seen.add(`${p[0]},${p[1]},${p[2]},${p[3]}`);
  }
  return [...seen];
}"""


def pixel(canvas, query: int, key: int) -> tuple[int, int, int, int]:
    return tuple(canvas.evaluate(_PIXEL_JS, [query, key]))


def assert_color(got, expected, what: str) -> None:
    assert got[3] == 255, f"{what}: transparent pixel {got}"
    diff = max(abs(int(a) - int(b)) for a, b in zip(got[:3], expected))
    assert diff <= COLOR_TOL, f"{what}: drawn {tuple(got[:3])}, expected {tuple(expected)} (max channel diff {diff})"


def cell_center(canvas, query: int, key: int) -> tuple[float, float]:
    """Page (CSS px) coordinates of a cell's centre, for page.mouse."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    left, top, size, q0, k0 = (float(canvas.get_attribute(f"data-{a}") or 0) for a in ("left", "top", "cell", "q0", "k0"))
    return box["x"] + left + (key - k0 + 0.5) * size, box["y"] + top + (query - q0 + 0.5) * size


def hover(page, canvas, query: int, key: int):
    """Move the mouse onto a cell and return the visible tooltip next to that canvas.

    Up to three passes (away, then onto the cell), as a person would nudge the mouse: on a loaded
    machine a redraw can land between Playwright's mouse events."""
    tooltip = canvas.locator("xpath=..").locator(".lxw-tooltip")
    shows = "([t, q, k]) => t.style.display !== 'none' && t.dataset.query === String(q) && t.dataset.key === String(k)"
    for attempt in range(3):
        if attempt:
            page.keyboard.press("Escape")  # close a <select> popup that might hold the mouse
        page.mouse.move(0, 0)  # from elsewhere, so the canvas sees the mouse arrive
        page.mouse.move(*cell_center(canvas, query, key))
        try:
            page.wait_for_function(shows, arg=[tooltip.element_handle(), query, key], timeout=7_000)
            return tooltip
        except Exception:
            if attempt == 2:
                state = canvas.evaluate(
                    "(c) => ({...c.dataset, tip: {...c.parentElement.querySelector('.lxw-tooltip').dataset},"
                    " display: c.parentElement.querySelector('.lxw-tooltip').style.display})"
                )
                raise AssertionError(f"no tooltip for cell ({query}, {key}): {state}") from None
    return tooltip


def tooltip_weight(text: str) -> float:
    m = re.search(r"weight\s+([0-9.]+)", text)
    assert m, f"no weight in tooltip {text!r}"
    return float(m.group(1))
