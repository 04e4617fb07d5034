import { describe, expect, it } from "vitest";
import { cellAt, displayToken, layoutSquare, layoutWindow, windowAround } from "../core/layout";

describe("layoutSquare", () => {
  it("gives short inputs readable labelled cells", () => {
    const g = layoutSquare(12, 700, 60);
    expect(g.showLabels).toBe(true);
    expect(g.cell).toBeGreaterThanOrEqual(11);
    expect(g.cell).toBeLessThanOrEqual(28);
    expect(g.left + 12 * g.cell).toBeLessThanOrEqual(700);
  });

  it("drops labels and shrinks long inputs to fit, below one pixel per token", () => {
    const g = layoutSquare(4096, 700, 60);
    expect(g.showLabels).toBe(false);
    expect(g.cell).toBeLessThan(1);
    expect(g.width).toBeLessThanOrEqual(700);
    expect(layoutSquare(300, 700, 60).showLabels).toBe(false);
  });

  it("maps points to tokens inside a zoomed window", () => {
    const g = layoutWindow(4096, 4096, { q0: 1000, k0: 990, nq: 40, nk: 40 }, 700, 60);
    expect(g.showLabels).toBe(true);
    expect(cellAt(g, g.left + 0.5 * g.cell, g.top + 3.5 * g.cell)).toEqual({ query: 1003, key: 990 });
    expect(windowAround(4096, 4090, 40)).toEqual({ start: 4056, size: 40 });
    expect(windowAround(4096, 3, 40)).toEqual({ start: 0, size: 40 });
  });

  it("finds the cell under a point and nothing outside the matrix", () => {
    const g = layoutSquare(10, 700, 50);
    expect(cellAt(g, g.left + 2.5 * g.cell, g.top + 7.5 * g.cell)).toEqual({ query: 7, key: 2 });
    expect(cellAt(g, g.left - 1, g.top + 1)).toBeNull();
    expect(cellAt(g, g.left + 10 * g.cell + 1, g.top + 1)).toBeNull();
  });
});

describe("displayToken", () => {
  it("makes whitespace visible and shortens long tokens", () => {
    expect(displayToken("\n")).toBe("\u23CE");
    expect(displayToken("  ")).toBe("\u2423\u2423");
    expect(displayToken(" word")).toBe(" word");
    expect(Array.from(displayToken("x".repeat(50))).length).toBe(24);
    expect(displayToken("<img src=x onerror=alert(1)>", 40)).toBe("<img src=x onerror=alert(1)>");
  });
});

import { gridCellAt, gridColumns } from "../core/grid";

describe("model view grid", () => {
  it("sets grouped-query heads apart by key/value group and finds the thumbnail under a point", () => {
    const cols = gridColumns(34, 50, 3, [0, 0, 0, 1, 1, 1, 2, 2, 2], 9);
    expect(cols[1] - cols[0]).toBe(53);
    expect(cols[3] - cols[2]).toBe(53 + 9);
    const g = { left: 34, top: 32, thumb: 50, gap: 3, layers: [0, 1, 2], heads: 9, columns: cols };
    expect(gridCellAt(g, cols[4] + 10, 32 + 53 + 10)).toEqual({ row: 1, head: 4 });
    expect(gridCellAt(g, cols[3] - 5, 40)).toBeNull(); // between groups
    expect(gridColumns(0, 10, 2, [0, 1, 2], 3)).toEqual([0, 12, 24]); // no grouping: even spacing
  });

  it("lays out a rectangular matrix: rows are queries, columns keys", () => {
    const g = layoutWindow(5, 12, { q0: 0, k0: 0, nq: 5, nk: 12 }, 700, 50);
    // room right of the last column for its leaning label: half the label's length and half a line
    expect(g.width - g.left - Math.round(12 * g.cell)).toBe(Math.ceil(50 * 0.5 + 6));
    expect(g.height - g.top - 8).toBe(Math.round(5 * g.cell));
    expect(cellAt(g, g.left + 11.5 * g.cell, g.top + 4.5 * g.cell)).toEqual({ query: 4, key: 11 });
    expect(cellAt(g, g.left + 2.5 * g.cell, g.top + 5.5 * g.cell)).toBeNull(); // below the last row
  });

  it("leaves room for the longest leaning key label above and right of the cells", () => {
    for (const label of [10, 60, 160, 400]) {
      const g = layoutWindow(12, 12, { q0: 0, k0: 0, nq: 12, nk: 12 }, 900, label);
      expect(g.showLabels).toBe(true);
      const run = Math.min(160, label); // drawn at most 160 px long, leaning 60 degrees from the column's top
      const lastColumn = g.left + 11.5 * g.cell;
      expect(lastColumn + run * Math.cos(Math.PI / 3) + 6).toBeLessThanOrEqual(g.width);
      expect(g.top - 6 - run * Math.sin(Math.PI / 3) - 3).toBeGreaterThanOrEqual(0);
      expect(g.left).toBeGreaterThanOrEqual(Math.min(160, label + 10)); // row labels: their width, or squeezed to 160
      expect(g.width).toBeLessThanOrEqual(900);
    }
  });

  it("keeps windows inside a sub-range (a sentence-pair filter)", () => {
    expect(windowAround(100, 95, 20, 40, 90)).toEqual({ start: 70, size: 20 });
    expect(windowAround(100, 10, 20, 40, 90)).toEqual({ start: 40, size: 20 });
    expect(windowAround(100, 60, 80, 40, 90)).toEqual({ start: 40, size: 50 });
  });
});
