import { describe, expect, it } from "vitest";
import { windowIndices } from "../core/heatmap";
import { layoutWindow } from "../core/layout";

describe("windowIndices", () => {
  const n = 1000;
  // Weak everywhere except one strong weight; causal mask above the diagonal.
  const value = (q: number, k: number) => (q === 700 && k === 3 ? 1 : 0.01);
  const style = { index: (v: number) => Math.round(v * 255), isEmpty: (q: number, k: number) => k > q };

  it("keeps a lone strong weight visible when a long input is shrunk (max of each block)", () => {
    const g = layoutWindow(n, 0, 0, n, 250, 0);
    const { side, indices } = windowIndices(g, { n, value }, style);
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
    const g = layoutWindow(n, 695, 0, 10, 700, 40);
    const { side, indices } = windowIndices(g, { n, value }, style);
    expect(side).toBe(10);
    expect(indices[5 * 10 + 3]).toBe(255); // query 700, key 3
    expect(indices[5 * 10 + 4]).toBe(3);
  });
});
