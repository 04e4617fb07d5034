// Colour scales for attention: linear from 0 to the maximum, optionally leaving out the first
// token's column (attention sinks), or logarithmic over a few decades below the maximum.
import { colorIndex } from "./colors";

export type ScaleOptions = { excludeFirst: boolean; log: boolean; decades?: number };

export type Scale = {
  /** Colour-table entry (0-255) for a weight. */
  index(value: number): number;
  /** The weight at the top of the colour bar. */
  vmax: number;
  /** The weight at the bottom of the colour bar. */
  vmin: number;
  log: boolean;
};

/** Rows q0..q1-1 and key columns k0..k1-1 of a matrix: the part a colour scale covers. */
export type Region = { q0: number; q1: number; k0: number; k1: number };

/** Scale for ``region`` of a matrix read through value(q, k) (an n x n matrix: pass n). */
export function makeScale(region: Region | number, value: (q: number, k: number) => number, opts: ScaleOptions): Scale {
  const r = typeof region === "number" ? { q0: 0, q1: region, k0: 0, k1: region } : region;
  let vmax = 0;
  // the first token's column (key 0) is left out when asked, if other keys remain
  const firstKey = opts.excludeFirst && r.k0 === 0 && r.k1 > 1 ? 1 : r.k0;
  for (let q = r.q0; q < r.q1; q++) for (let k = firstKey; k < r.k1; k++) vmax = Math.max(vmax, value(q, k));
  if (vmax <= 0) vmax = 1;
  if (!opts.log) return { index: (v) => colorIndex(v, 0, vmax), vmax, vmin: 0, log: false };
  const decades = opts.decades ?? 3;
  const top = Math.log10(vmax);
  const bottom = top - decades;
  return {
    index: (v) => (v <= 0 ? 0 : colorIndex(Math.log10(v), bottom, top)),
    vmax,
    vmin: 10 ** bottom,
    log: true,
  };
}

/** Short label for a colour-bar end. */
export function formatWeight(v: number): string {
  if (v === 0) return "0";
  if (v >= 0.01) return v.toFixed(3);
  return v.toExponential(1);
}
