import { describe, expect, it } from "vitest";
import { colorMax, columnOrder, maxAbs, rankAt, topUnion } from "../core/neuroncolumns";
import { cellAtGrid, gridIndices, layoutGrid } from "../core/neurongrid";
import { Tensor, decodeTensor } from "../core/wire";

// The same cases as tests/test_neuron_widget.py::test_rules (Python twin: widgets/neuron_panes.py).
function tensor(shape: number[], values: number[]): Tensor {
  return decodeTensor({ dtype: "float32", shape }, new Float32Array(values));
}
const values = tensor([2, 4], [0, -5, 1, 2, 0.5, 0.1, -0.2, 3]);

describe("NeuronView's shared rules", () => {
  it("ends the colour scale at a quantile of |activation| without interpolation", () => {
    expect(colorMax(values, 1)).toBe(5);
    expect(colorMax(values, 0.5)).toBeCloseTo(0.5, 6); // sorted |v|: 0 .1 .2 .5 1 2 3 5 -> index 3
    expect(colorMax(tensor([2, 2], [0, 0, 0, 0]), 0.999)).toBe(1);
  });

  it("orders columns by number or by Python's order, and takes the union of each token's top k", () => {
    const order = tensor([4], [3, 2, 0, 1]);
    expect(Array.from(columnOrder("max", order, 4))).toEqual([3, 2, 0, 1]);
    expect(Array.from(columnOrder("index", order, 4))).toEqual([0, 1, 2, 3]);
    const top = tensor([2, 2], [2, 3, 3, 0]);
    expect(Array.from(topUnion(top, 1, columnOrder("max", order, 4)))).toEqual([3, 2]);
    expect(Array.from(topUnion(top, 2, columnOrder("index", order, 4)))).toEqual([0, 2, 3]);
    expect(rankAt(top, 1, 0)).toBe(1);
    expect(rankAt(top, 0, 0)).toBe(-1);
  });

  it("merges cells keeping the value of largest magnitude, sign kept", () => {
    const v = (r: number, c: number) => values.value(r * 4 + c);
    expect(maxAbs(v, 0, 2, 0, 2)).toBe(-5);
    expect(maxAbs(v, 0, 2, 2, 4)).toBe(3);
    expect(maxAbs(() => NaN, 0, 1, 0, 1)).toBeNaN();
  });
});

describe("layoutGrid", () => {
  it("labels a short text's rows and a zoomed window's columns", () => {
    const g = layoutGrid(20, 1536, { r0: 0, nr: 20, c0: 0, nc: 1536 }, 1200, 560, 60, 30);
    expect(g.rowLabels).toBe(true);
    expect(g.rowH).toBe(18);
    expect(g.colLabels).toBe(false);
    expect(g.colW).toBeLessThan(1); // 1,536 neurons share the width: merged per pixel
    const z = layoutGrid(20, 1536, { r0: 0, nr: 20, c0: 100, nc: 40 }, 1200, 560, 60, 30);
    expect(z.colLabels).toBe(true);
    expect(cellAtGrid(z, z.left + 2.5 * z.colW, z.top + 3.5 * z.rowH)).toEqual({ row: 3, col: 102 });
    expect(cellAtGrid(z, z.left - 1, z.top + 1)).toBeNull();
  });

  it("keeps a lone strong neuron visible when 1,024 tokens x 1,536 neurons are shrunk", () => {
    const g = layoutGrid(1024, 1536, { r0: 0, nr: 1024, c0: 0, nc: 1536 }, 900, 560, 60, 30);
    expect(g.rowLabels).toBe(false);
    const data = { rows: 1024, cols: 1536, value: (r: number, c: number) => (r === 700 && c === 1000 ? -9 : 0.01),
      rowLabel: () => "", colLabel: () => "" };
    const { w, h, indices } = gridIndices(g, data, (v) => (v < -1 ? 0 : 200));
    expect(w).toBeLessThan(1536);
    expect(h).toBeLessThan(1024);
    expect(Array.from(indices).filter((i) => i === 0).length).toBe(1);
  });
});
