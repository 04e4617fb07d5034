import { describe, expect, it } from "vitest";
import { cellAt, displayToken, layoutSquare } from "../core/layout";

describe("layoutSquare", () => {
  it("gives short inputs readable labelled cells", () => {
    const g = layoutSquare(12, 700, 60);
    expect(g.showLabels).toBe(true);
    expect(g.cell).toBeGreaterThanOrEqual(11);
    expect(g.cell).toBeLessThanOrEqual(28);
    expect(g.left + 12 * g.cell).toBeLessThanOrEqual(700);
  });

  it("drops labels and shrinks cells for long inputs but keeps at least one pixel", () => {
    const g = layoutSquare(4096, 700, 60);
    expect(g.showLabels).toBe(false);
    expect(g.cell).toBe(1);
    expect(layoutSquare(300, 700, 60).showLabels).toBe(false);
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
