// Geometry of a labelled heatmap of query rows x key columns (square for self-attention,
// rectangular for cross-attention or a sentence A -> B filter): pure functions, unit-tested
// without a browser.

export type Geometry = {
  /** Query rows and key columns in the whole matrix. */
  rows: number;
  cols: number;
  /** The window shown: query rows q0..q0+nq-1, key columns k0..k0+nk-1. */
  q0: number;
  k0: number;
  nq: number;
  nk: number;
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

export type Window = { q0: number; k0: number; nq: number; nk: number };

export const LABEL_FONT_PX = 12;
const MAX_CELL = 28;
const MIN_LABELLED_CELL = 11;

function cellFor(m: number, room: number): number {
  const exact = room / Math.max(1, m);
  return Math.min(MAX_CELL, exact >= 1 ? Math.floor(exact) : exact);
}

/** Fit window ``w`` of a ``rows`` x ``cols`` matrix into ``available`` CSS pixels, with label
 * room when cells are big enough to read. One cell size for both axes: the longer side fits. */
export function layoutWindow(rows: number, cols: number, w: Window, available: number, labelWidth: number): Geometry {
  const room = Math.max(120, available) - 16;
  const m = Math.max(w.nq, w.nk);
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
  const { width, height } = pixelSize(w.nq, w.nk, cell);
  return { rows, cols, ...w, cell, left, top, width: left + width + 8, height: top + height + 8, showLabels };
}

/** The whole n x n matrix. */
export function layoutSquare(n: number, available: number, labelWidth: number): Geometry {
  return layoutWindow(n, n, { q0: 0, k0: 0, nq: n, nk: n }, available, labelWidth);
}

/** CSS pixels the cells of an nq x nk window take at ``cell`` pixels per token. */
export function pixelSize(nq: number, nk: number, cell: number): { width: number; height: number } {
  return { width: Math.round(nk * cell), height: Math.round(nq * cell) };
}

/** The (query, key) token pair under a CSS-pixel point, or null outside the matrix. */
export function cellAt(g: Geometry, x: number, y: number): { query: number; key: number } | null {
  if (x < g.left || y < g.top) return null;
  const k = Math.floor((x - g.left) / g.cell);
  const q = Math.floor((y - g.top) / g.cell);
  if (k >= g.nk || q >= g.nq) return null;
  return { query: g.q0 + q, key: g.k0 + k };
}

/** A window of ``size`` tokens around ``center``, kept inside ``lo..hi-1`` (default 0..total-1). */
export function windowAround(total: number, center: number, size: number, lo = 0, hi = total): { start: number; size: number } {
  const m = Math.max(1, Math.min(hi - lo, Math.round(size)));
  const start = Math.max(lo, Math.min(hi - m, Math.round(center - m / 2)));
  return { start, size: m };
}

// C0/C1 controls (newline and tab are handled first) and the bidirectional formatting characters.
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Token text made visible in one line: newlines and tabs as symbols, invisible controls and
 * bidirectional overrides as [U+XXXX], long tokens shortened. Twin of
 * llmxai_widgets/figures/text.py (display_token): exports label tokens the same way. */
export function displayToken(token: string, max = 24): string {
  let s = token.replace(/\r?\n/g, "\u23CE").replace(/\t/g, "\u21E5");
  s = s.replace(INVISIBLE, (c) => `[U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}]`);
  if (s.trim() === "") s = s.replace(/ /g, "\u2423");
  const chars = Array.from(s);
  return chars.length > max ? chars.slice(0, max - 1).join("") + "\u2026" : s;
}
