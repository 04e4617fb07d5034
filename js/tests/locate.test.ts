import { describe, expect, it } from "vitest";
import {
  caption, cellRef, exactWords, gridCell, formatCell, fromEstimate, layerLabels, lineStarts, patchedWords, shownValue, siteGrid, sourceWords,
  tokenCellWidth, tokenName,
} from "../core/locate";
import { runs } from "../core/locatepanel";
import { decodeTensor } from "../core/wire";

function tensor(shape: number[], values: number[]) {
  return decodeTensor({ dtype: "float32", shape }, new DataView(new Float32Array(values).buffer));
}

// 3 layers x 2 columns: exact rows 0 and 1 done, row 2 NaN (not computed yet)
const exact = tensor([3, 2], [0.1, 0.2, 0.3, 0.4, NaN, NaN]);
const estimate = tensor([3, 2], [1.1, 1.2, 1.3, 1.4, 1.5, NaN]);
const grid = siteGrid(exact, estimate)!;
const done = [true, true, false];

describe("the value a cell shows", () => {
  it("is exact where its layer is done and the estimate elsewhere", () => {
    expect(grid.layers).toBe(3);
    expect(grid.columns).toBe(2);
    expect(shownValue(grid, 1, 0, done, "exact")).toBeCloseTo(0.3);
    expect(shownValue(grid, 2, 0, done, "exact")).toBeCloseTo(1.5);
  });

  it("is the estimate everywhere when the Values menu says so", () => {
    expect(shownValue(grid, 0, 1, done, "estimate")).toBeCloseTo(1.2);
    expect(fromEstimate(0, done, "estimate")).toBe(true);
    expect(fromEstimate(0, done, "exact")).toBe(false);
  });

  it("is NaN (drawn masked) where neither is there", () => {
    expect(shownValue(grid, 2, 1, done, "exact")).toBeNaN();
    expect(shownValue(siteGrid(null, estimate)!, 0, 0, [true, true, true], "exact")).toBeNaN();
    expect(formatCell(NaN)).toBe("not computed");
  });

  it("says where it came from", () => {
    expect(sourceWords(0, done, "exact", "computing")).toMatch(/^exact/);
    expect(sourceWords(2, done, "exact", "computing")).toContain("still computing");
    expect(sourceWords(2, done, "exact", "cancelled")).toContain("no exact run");
    expect(sourceWords(0, done, "estimate", "ready")).toContain("Values menu");
  });

  it("has four decimals", () => {
    expect(formatCell(0.123456)).toBe("0.1235");
    expect(formatCell(-1)).toBe("-1.0000");
  });
});

describe("labels", () => {
  it("name every fifth layer and the last, ≈ before estimated ones", () => {
    const estimated = Array.from({ length: 12 }, (_, l) => l >= 6);
    expect(layerLabels(12, estimated)).toEqual(["0", "", "", "", "", "5", "", "", "", "", "\u224810", "\u224811"]);
    expect(layerLabels(5, [false, false, false, false, false])).toEqual(["0", "", "", "", "4"]);
  });

  it("name a token with its index and why it is marked", () => {
    expect(tokenName(["The", " E"], 1, [1], "trace")).toBe("#1 \u201c E\u201d (corrupted)");
    expect(tokenName(["The", " E"], 0, [1], "patching")).toBe("#0 \u201cThe\u201d");
    expect(tokenName(["The", " E"], 1, [1], "patching")).toContain("differs");
  });

  it("count the exact layers", () => {
    expect(exactWords([true, false, false], "exact", "cancelled")).toContain("1 of 3 layers");
    expect(exactWords([true, true], "exact", "ready")).toBe("Exact values for all 2 layers.");
    expect(exactWords([true, true], "estimate", "ready")).toContain("Values menu");
  });
});

describe("cells and panels", () => {
  it("read token grids transposed (rows are tokens) and head grids as they are", () => {
    expect(cellRef("residual", 4, 7)).toEqual({ site: "residual", layer: 7, column: 4 });
    expect(cellRef("heads", 4, 7)).toEqual({ site: "heads", layer: 4, column: 7 });
    expect(gridCell(cellRef("mlp", 4, 7))).toEqual({ row: 4, col: 7 });
    expect(gridCell(cellRef("kv_heads", 4, 2))).toEqual({ row: 4, col: 2 });
  });

  it("say what a cell's run patched", () => {
    const tokens = ["The", " Tower"];
    expect(patchedWords("trace", "", { site: "residual", layer: 3, column: 1 }, tokens))
      .toBe("Restored the clean run's value of the residual stream after layer 3 at #1 \u201c Tower\u201d, in the runs with the subject corrupted.");
    expect(patchedWords("trace", "", { site: "mlp", layer: 3, column: 1 }, tokens)).toContain("window of layers centred on layer 3");
    expect(patchedWords("patching", "noising", { site: "heads", layer: 2, column: 5 }, tokens))
      .toBe("Put the corrupted run's query head H5's output at every token, in layer 2 into the clean run.");
    expect(patchedWords("patching", "denoising", { site: "kv_heads", layer: 2, column: 1 }, tokens)).toContain("KV1");
  });

  it("start a line where the next panel no longer fits, as flex-wrap does", () => {
    // three grids of 300 px, labels 100 px, a 70 px colour bar
    expect(lineStarts([300, 300, 300, 70], [100, 100, 100, 0], 18, 1200)).toEqual([true, false, false, false]);
    expect(lineStarts([300, 300, 300, 70], [100, 100, 100, 0], 18, 800)).toEqual([true, false, true, false]);
    expect(lineStarts([300, 300], [100, 100], 18, 350)).toEqual([true, true]);
  });

  it("keep token cells narrow and find runs of estimated layers", () => {
    expect(tokenCellWidth(30)).toBe(11);
    expect(tokenCellWidth(12)).toBe(18);
    expect(tokenCellWidth(200)).toBe(6);
    expect(runs([false, true, true, false, true])).toEqual([[1, 3], [4, 5]]);
    expect(runs([])).toEqual([]);
  });
});

describe("the caption", () => {
  it("says what a cell is and what 0 and 1 mean", () => {
    expect(caption("trace", "", "p(' Paris')")).toContain("Each cell is p(' Paris') in that run");
    expect(caption("patching", "denoising", "")).toContain("0 is the corrupted run and 1 the clean run");
    expect(caption("patching", "noising", "")).toContain("a cell near 0 is one the clean answer needs");
  });
});
