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
    const g = layoutWindow(4096, 1000, 990, 40, 700, 60);
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
