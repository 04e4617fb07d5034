import { describe, expect, it } from "vitest";
import { formatWeight, makeScale } from "../core/scale";

// A sink: every row puts 0.9 on token 0 and spreads the rest.
const n = 4;
const sink = (q: number, k: number) => (k > q ? 0 : k === 0 ? 0.9 : 0.1 / Math.max(1, q));

describe("makeScale", () => {
  it("runs from 0 to the largest weight", () => {
    const s = makeScale(n, sink, { excludeFirst: false, log: false });
    expect(s.vmax).toBeCloseTo(0.9);
    expect(s.index(0.9)).toBe(255);
    expect(s.index(0)).toBe(0);
  });

  it("can leave the first token out, so the other weights use the whole colour range", () => {
    const s = makeScale(n, sink, { excludeFirst: true, log: false });
    expect(s.vmax).toBeCloseTo(0.1);
    expect(s.index(0.1)).toBe(255);
    expect(s.index(0.9)).toBe(255); // clamped, not hidden
  });

  it("maps three decades below the maximum on a log scale", () => {
    const s = makeScale(n, sink, { excludeFirst: false, log: true });
    expect(s.index(0.9)).toBe(255);
    expect(s.index(0.0009)).toBe(0);
    expect(s.index(0.009)).toBe(85); // one decade of three up
    expect(s.vmin).toBeCloseTo(0.0009);
  });

  it("formats colour-bar labels", () => {
    expect(formatWeight(0.5)).toBe("0.500");
    expect(formatWeight(0.0009)).toBe("9.0e-4");
    expect(formatWeight(0)).toBe("0");
  });

  it("covers only the region shown (a sentence-pair filter), leaving key 0 out only when shown", () => {
    const value = (q: number, k: number) => (k === 0 ? 0.9 : q >= 4 && k < 4 ? 0.05 : 0.2);
    expect(makeScale({ q0: 4, q1: 8, k0: 1, k1: 4 }, value, { excludeFirst: false, log: false }).vmax).toBe(0.05);
    expect(makeScale({ q0: 4, q1: 8, k0: 0, k1: 4 }, value, { excludeFirst: true, log: false }).vmax).toBe(0.05);
    expect(makeScale({ q0: 4, q1: 8, k0: 0, k1: 4 }, value, { excludeFirst: false, log: false }).vmax).toBe(0.9);
  });
});
