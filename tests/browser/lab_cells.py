"""Reading the rectangular cell grids (js/core/cellgrid.ts) in a real page: the canvas publishes
its geometry in data attributes (left, top, cellw, cellh, colx); these helpers read a cell's
colour away from the text written in it, and move the mouse onto a cell."""

from __future__ import annotations

COLOR_TOL = 3  # float32 values through the same 256-entry table on both sides

_PIXELS_JS = """(c) => {
  const ratio = c.width / c.getBoundingClientRect().width;  // devicePixelRatio as drawn
  const d = c.dataset, colx = d.colx.split(",").map(Number), ctx = c.getContext("2d");
  const out = [];
  for (let r = 0; r < Number(d.rows); r++) {
    const row = [];
    for (let k = 0; k < Number(d.cols); k++) {
      // 2 px inside the cell's top-left corner: the cell's fill, not its text
      const x = Math.floor((Number(d.left) + colx[k] + 2) * ratio), y = Math.floor((Number(d.top) + r * Number(d.cellh) + 2) * ratio);
      const p = ctx.getImageData(x, y, 1, 1).data;
      row.push([p[0], p[1], p[2], p[3]]);
    }
    out.push(row);
  }
  return out;
}"""


def cell_pixels(canvas) -> list[list[list[int]]]:
    """``[row][col] = [r, g, b, a]`` of every cell."""
    return canvas.evaluate(_PIXELS_JS)


def assert_cells(canvas, expected_rgb, what: str) -> None:
    """Every cell's colour is ``expected_rgb[row][col]`` (within COLOR_TOL per channel)."""
    got = cell_pixels(canvas)
    assert len(got) == len(expected_rgb) and len(got[0]) == len(expected_rgb[0]), (len(got), len(got[0]))
    worst = (0, None)
    for r, row in enumerate(expected_rgb):
        for c, want in enumerate(row):
            pixel = got[r][c]
            assert pixel[3] == 255, f"{what}: transparent cell ({r}, {c})"
            diff = max(abs(int(a) - int(b)) for a, b in zip(pixel[:3], want))
            if diff > worst[0]:
                worst = (diff, (r, c, tuple(pixel[:3]), tuple(int(v) for v in want)))
    assert worst[0] <= COLOR_TOL, f"{what}: cell (row, col, drawn, expected) {worst[1]} differs by {worst[0]}"


def cell_point(canvas, row: int, col: int) -> tuple[float, float]:
    """Page coordinates of a cell's centre, for page.mouse."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    left, top, cellw, cellh = (float(canvas.get_attribute(f"data-{a}")) for a in ("left", "top", "cellw", "cellh"))
    colx = [float(v) for v in canvas.get_attribute("data-colx").split(",")]
    return box["x"] + left + colx[col] + cellw / 2, box["y"] + top + (row + 0.5) * cellh


def hover_cell(page, canvas, row: int, col: int):
    """Move the mouse onto a cell; the tooltip next to the canvas once it describes that cell."""
    tooltip = canvas.locator("xpath=ancestor::div[contains(@class, 'lxw-cellgrid')][1]").locator(":scope > .lxw-tooltip")
    shows = "([t, r, c]) => t.style.display !== 'none' && t.dataset.row === String(r) && t.dataset.col === String(c)"
    for attempt in range(3):  # as a person would nudge the mouse when a redraw lands in between
        page.mouse.move(0, 0)
        page.mouse.move(*cell_point(canvas, row, col))
        try:
            page.wait_for_function(shows, arg=[tooltip.element_handle(), row, col], timeout=7_000)
            return tooltip
        except Exception:
            if attempt == 2:
                raise
    return tooltip


def click_cell(page, canvas, row: int, col: int) -> None:
    page.mouse.click(*cell_point(canvas, row, col))
