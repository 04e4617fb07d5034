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

/** Scale for an n x n matrix read through value(q, k). */
export function makeScale(n: number, value: (q: number, k: number) => number, opts: ScaleOptions): Scale {
  let vmax = 0;
  const firstKey = opts.excludeFirst && n > 1 ? 1 : 0;
  for (let q = 0; q < n; q++) for (let k = firstKey; k < n; k++) vmax = Math.max(vmax, value(q, k));
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
