import { describe, expect, it } from "vitest";
import { windowIndices } from "../core/heatmap";
import { layoutWindow } from "../core/layout";

describe("windowIndices", () => {
  const n = 1000;
  // Weak everywhere except one strong weight; causal mask above the diagonal.
  const value = (q: number, k: number) => (q === 700 && k === 3 ? 1 : 0.01);
  const style = { index: (v: number) => Math.round(v * 255), isEmpty: (q: number, k: number) => k > q };

  it("keeps a lone strong weight visible when a long input is shrunk (max of each block)", () => {
    const g = layoutWindow(n, n, { q0: 0, k0: 0, nq: n, nk: n }, 250, 0);
    const { w: side, h, indices } = windowIndices(g, { value }, style);
    expect(h).toBe(side);
    expect(side).toBeLessThan(n);
    const span = n / side;
    const hits = Array.from(indices).flatMap((v, i) => (v === 255 ? [i] : []));
    expect(hits.length).toBe(1);
    const [py, px] = [Math.floor(hits[0] / side), hits[0] % side];
    expect(Math.floor(py * span)).toBeLessThanOrEqual(700);
    expect(Math.floor((py + 1) * span)).toBeGreaterThan(700);
    expect(Math.floor(px * span)).toBeLessThanOrEqual(3);
    expect(indices[0 * side + (side - 1)]).toBe(256); // all masked: drawn as masked, not as zero
  });

  it("draws one pixel per token inside a zoomed window", () => {
    const g = layoutWindow(n, n, { q0: 695, k0: 0, nq: 10, nk: 10 }, 700, 40);
    const { w: side, indices } = windowIndices(g, { value }, style);
    expect(side).toBe(10);
    expect(indices[5 * 10 + 3]).toBe(255); // query 700, key 3
    expect(indices[5 * 10 + 4]).toBe(3);
  });

  it("keeps the matrix's proportions when rows and columns differ (cross-attention)", () => {
    // 6 decoder tokens reading 3,000 encoder tokens: shrunk along both axes by the same factor
    const g = layoutWindow(6, 3000, { q0: 0, k0: 0, nq: 6, nk: 3000 }, 700, 0);
    expect(g.cell).toBeLessThan(1);
    const { w, h, indices } = windowIndices(g, { value: (q, k) => (q === 5 && k === 2999 ? 1 : 0) }, { index: (v) => Math.round(v * 255) });
    expect(w).toBe(Math.round(3000 * g.cell));
    expect(h).toBe(Math.max(1, Math.round(6 * g.cell)));
    expect(indices[(h - 1) * w + (w - 1)]).toBe(255); // the last pixel holds the last key's weight
  });
});
