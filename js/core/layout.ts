// Geometry of a labelled square heatmap: pure functions, unit-tested without a browser.

export type Geometry = {
  n: number;
  /** Cell edge in CSS pixels. */
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

/** Fit an n x n matrix into `available` CSS pixels of width, with label room when cells are big enough to read. */
export function layoutSquare(n: number, available: number, labelWidth: number): Geometry {
  const room = Math.max(120, available);
  let cell = Math.min(MAX_CELL, Math.max(1, Math.floor((room - 16) / Math.max(1, n))));
  let showLabels = cell >= MIN_LABELLED_CELL;
  let margin = 0;
  if (showLabels) {
    margin = Math.min(160, Math.ceil(labelWidth) + 10);
    cell = Math.min(MAX_CELL, Math.floor((room - margin - 16) / Math.max(1, n)));
    showLabels = cell >= MIN_LABELLED_CELL;
    if (!showLabels) {
      margin = 0;
      cell = Math.min(MAX_CELL, Math.max(1, Math.floor((room - 16) / Math.max(1, n))));
    }
  }
  const left = showLabels ? margin : 4;
  // Key labels are rotated 60 degrees: their height is about sin(60) of their width.
  const top = showLabels ? Math.ceil(Math.min(160, labelWidth) * 0.87) + 12 : 4;
  return { n, cell, left, top, width: left + n * cell + 8, height: top + n * cell + 8, showLabels };
}

/** The (query, key) cell under a CSS-pixel point, or null outside the matrix. */
export function cellAt(g: Geometry, x: number, y: number): { query: number; key: number } | null {
  const key = Math.floor((x - g.left) / g.cell);
  const query = Math.floor((y - g.top) / g.cell);
  if (x < g.left || y < g.top || key >= g.n || query >= g.n) return null;
  return { query, key };
}

/** Token text made visible in one line: newlines and tabs as symbols, long tokens shortened. */
export function displayToken(token: string, max = 24): string {
  let s = token.replace(/\r?\n/g, "\u23CE").replace(/\t/g, "\u21E5");
  if (s.trim() === "") s = s.replace(/ /g, "\u2423");
  const chars = Array.from(s);
  return chars.length > max ? chars.slice(0, max - 1).join("") + "\u2026" : s;
}
