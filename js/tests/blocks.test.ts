import { describe, expect, it } from "vitest";
import { typedToken } from "../core/blocks";
import { cellAtPoint, fitText, inkFor, layoutCells } from "../core/cellgrid";
import { allValues, extent, formatValue, gridValue, rankAmong, signed } from "../core/contrib";
import { LensData, formatProb, rowLabel, stepWindow } from "../core/lens";
import { chartTicks, chartY, labelEvery } from "../core/linechart";
import { decodeTensor } from "../core/wire";

const measure = (s: string) => Array.from(s).length * 7; // a monospaced stand-in: 7 px a character

function wire(dtype: "int32" | "float32", shape: number[], values: number[]) {
  const array = dtype === "int32" ? new Int32Array(values) : new Float32Array(values);
  return { dtype, shape, data: new DataView(array.buffer) };
}

describe("cell grid geometry", () => {
  const spec = { cellW: 50, cellH: 20, labelWidth: 30, gapBefore: [2], gap: 16, colSubLabels: ["#0"] };
  const g = layoutCells(3, 4, spec);

  it("leaves room for two header lines and sets apart the columns after a gap", () => {
    expect(g.colX).toEqual([0, 50, 116, 166]);
    expect(g.left).toBe(38);
    expect(g.top).toBe(36);
    expect(g.width).toBe(38 + 216 + 4);
  });

  it("finds the cell under a point, and none in the gap or outside", () => {
    expect(cellAtPoint(g, g.left + 1, g.top + 1)).toEqual({ row: 0, col: 0 });
    expect(cellAtPoint(g, g.left + 120, g.top + 45)).toEqual({ row: 2, col: 2 });
    expect(cellAtPoint(g, g.left + 105, g.top + 5)).toBeNull(); // the gap before column 2
    expect(cellAtPoint(g, g.left + 5, g.top + 60)).toBeNull();
    expect(cellAtPoint(g, g.left + 5, g.top - 1)).toBeNull();
  });

  it("shortens text with an ellipsis to fit, as the figures do", () => {
    expect(fitText("Paris", 40, measure)).toBe("Paris");
    expect(fitText("capitalisation", 42, measure)).toBe("capit\u2026");
    expect(fitText("abc", 5, measure)).toBe("");
  });

  it("writes black on light cells and white on dark ones", () => {
    expect(inkFor(253, 231, 37)).toBe("#000"); // viridis' top
    expect(inkFor(68, 1, 84)).toBe("#fff"); // viridis' bottom
  });
});

describe("line chart scale", () => {
  it("maps 0..1 linearly and a log axis over its decades", () => {
    expect(chartY(0, 0, 10, 110)).toBe(110);
    expect(chartY(0.5, 0, 10, 110)).toBe(60);
    expect(chartY(1, 6, 10, 110)).toBe(10);
    expect(chartY(1e-3, 6, 10, 110)).toBeCloseTo(60);
    expect(chartY(1e-12, 6, 10, 110)).toBe(110); // below the axis: drawn at its floor
    expect(chartTicks(2)).toEqual([0.01, 0.1, 1]);
  });

  it("thins labels so they never touch", () => {
    expect(labelEvery(30, 40)).toBe(1);
    expect(labelEvery(30, 12)).toBe(3);
  });
});

describe("logit lens data", () => {
  // 2 rows x 2 positions x 2 ranks
  const traits = {
    positions: wire("int32", [2], [7, 8]),
    top_ids: wire("int32", [2, 2, 2], [1, 2, 3, 1, 2, 3, 3, 2]),
    top_probs: wire("float32", [2, 2, 2], [0.5, 0.25, 0.6, 0.1, 0.7, 0.2, 0.9, 0.05]),
    target_ids: wire("int32", [2], [3, 2]),
    target_probs: wire("float32", [2, 2], [0.125, 0.5, 0.25, 0.05]),
    target_ranks: wire("int32", [2, 2], [4, 0, 1, 1]),
    vocab: { "1": " Paris", "2": " the", "3": "," },
  };

  it("reads the top tokens, the followed token and its column across rows", () => {
    const d = LensData.from(traits)!;
    expect([d.rows, d.cols, d.k]).toEqual([2, 2, 2]);
    expect(d.positions).toEqual([7, 8]);
    expect(d.top(1, 1, 0)).toEqual({ id: 3, text: ",", p: expect.closeTo(0.9, 6) });
    expect(d.topList(0, 0).map((r) => r.text)).toEqual([" Paris", " the"]);
    expect(d.target(1, 0)).toEqual({ id: 3, text: ",", p: 0.25, rank: 1 });
    expect(d.targetColumn(1)).toEqual([0.5, expect.closeTo(0.05, 6)]);
    expect(d.column(8)).toBe(1);
    expect(d.column(3)).toBe(-1);
  });

  it("is null until the arrays agree", () => {
    expect(LensData.from({ ...traits, positions: {} })).toBeNull();
    expect(LensData.from({ ...traits, positions: wire("int32", [3], [1, 2, 3]) })).toBeNull();
  });

  it("labels rows, writes probabilities and moves the window inside the text", () => {
    expect(rowLabel("embed")).toBe("embed");
    expect(rowLabel("12")).toBe("L12");
    expect(formatProb(0.4321)).toBe("0.432");
    expect(formatProb(7.5e-17)).toBe("7.5e-17");
    expect(stepWindow(10, -8, 16, 100)).toBe(2);
    expect(stepWindow(80, 8, 16, 100)).toBe(84);
    expect(stepWindow(0, -8, 16, 100)).toBe(0);
  });
});

describe("direct logit attribution numbers", () => {
  const parts = {
    heads: decodeTensor({ dtype: "float32", shape: [2, 2] }, new Float32Array([0.5, -1, 2, 0.25]).buffer),
    bias: decodeTensor({ dtype: "float32", shape: [2] }, new Float32Array([0, 0]).buffer),
    mlp: decodeTensor({ dtype: "float32", shape: [2] }, new Float32Array([3, -4]).buffer),
    embed: 0.125, constant: 0, nLayers: 2, nHeads: 2,
  };

  it("lays out heads, then the bias, then the MLP", () => {
    expect(gridValue(parts, 1, 0)).toBe(2);
    expect(gridValue(parts, 0, 2)).toBe(0);
    expect(gridValue(parts, 1, 3)).toBe(-4);
    expect(allValues(parts)).toEqual([0.125, 0, 0.5, -1, 0, 3, 2, 0.25, 0, -4]);
  });

  it("ranks by value and by size, and scales symmetrically", () => {
    const values = allValues(parts);
    expect(rankAmong(values, 2)).toEqual({ byValue: 2, bySize: 3 });
    expect(rankAmong(values, -4)).toEqual({ byValue: 10, bySize: 1 });
    expect(extent(values)).toBe(4);
    expect(extent([0, 0])).toBe(1);
  });

  it("writes values as the figures do", () => {
    expect(formatValue(-0.001)).toBe("0.00");
    expect(formatValue(2.824)).toBe("2.82");
    expect(formatValue(-12.34)).toBe("-12.3");
    expect(signed(-1.5)).toBe("\u22121.500");
    expect(signed(0.25, 2)).toBe("+0.25");
  });
});

describe("the target box", () => {
  it("takes off the quotes the view writes around tokens, and keeps spaces", () => {
    expect(typedToken("\u201c Paris\u201d")).toBe(" Paris");
    expect(typedToken('" Paris"')).toBe(" Paris");
    expect(typedToken(" Paris")).toBe(" Paris");
    expect(typedToken('"')).toBe('"');
  });
});
