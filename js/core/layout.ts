// Geometry of a labelled square heatmap: pure functions, unit-tested without a browser.

export type Geometry = {
  /** Tokens in the whole matrix. */
  total: number;
  /** The window shown: query rows q0..q0+n-1, key columns k0..k0+n-1. */
  q0: number;
  k0: number;
  n: number;
  /** CSS pixels per token (below 1 when a long input is shrunk to fit: each pixel then shows
   * the largest weight of the tokens it covers). */
  cell: number;
  /** Left edge of the matrix (room for query labels), CSS pixels. */
  left: number;
  /** Top edge of the matrix (room for rotated key labels), CSS pixels. */
  top: number;
  width: number;
  height: number;
  showLabels: boolean;
};

export const LABEL_FONT_PX = 12;
const MAX_CELL = 28;
const MIN_LABELLED_CELL = 11;

function cellFor(m: number, room: number): number {
  const exact = room / Math.max(1, m);
  return Math.min(MAX_CELL, exact >= 1 ? Math.floor(exact) : exact);
}

/** Fit the window of ``m`` tokens starting at (q0, k0) of a ``total``-token matrix into
 * ``available`` CSS pixels, with label room when cells are big enough to read. */
export function layoutWindow(total: number, q0: number, k0: number, m: number, available: number, labelWidth: number): Geometry {
  const room = Math.max(120, available) - 16;
  let cell = cellFor(m, room);
  let showLabels = cell >= MIN_LABELLED_CELL;
  let margin = 0;
  if (showLabels) {
    margin = Math.min(160, Math.ceil(labelWidth) + 10);
    cell = cellFor(m, room - margin);
    showLabels = cell >= MIN_LABELLED_CELL;
    if (!showLabels) {
      margin = 0;
      cell = cellFor(m, room);
    }
  }
  const left = showLabels ? margin : 4;
  // Key labels are rotated 60 degrees: their height is about sin(60) of their width.
  const top = showLabels ? Math.ceil(Math.min(160, labelWidth) * 0.87) + 12 : 4;
  const side = Math.round(m * cell);
  return { total, q0, k0, n: m, cell, left, top, width: left + side + 8, height: top + side + 8, showLabels };
}

/** The whole n x n matrix. */
export function layoutSquare(n: number, available: number, labelWidth: number): Geometry {
  return layoutWindow(n, 0, 0, n, available, labelWidth);
}

/** The (query, key) token pair under a CSS-pixel point, or null outside the matrix. */
export function cellAt(g: Geometry, x: number, y: number): { query: number; key: number } | null {
  if (x < g.left || y < g.top) return null;
  const k = Math.floor((x - g.left) / g.cell);
  const q = Math.floor((y - g.top) / g.cell);
  if (k >= g.n || q >= g.n) return null;
  return { query: g.q0 + q, key: g.k0 + k };
}

/** A window of ``size`` tokens around ``center``, kept inside the matrix. */
export function windowAround(total: number, center: number, size: number): { start: number; size: number } {
  const m = Math.max(1, Math.min(total, Math.round(size)));
  const start = Math.max(0, Math.min(total - m, Math.round(center - m / 2)));
  return { start, size: m };
}

/** Token text made visible in one line: newlines and tabs as symbols, long tokens shortened. */
export function displayToken(token: string, max = 24): string {
  let s = token.replace(/\r?\n/g, "\u23CE").replace(/\t/g, "\u21E5");
  if (s.trim() === "") s = s.replace(/ /g, "\u2423");
  const chars = Array.from(s);
  return chars.length > max ? chars.slice(0, max - 1).join("") + "\u2026" : s;
}
