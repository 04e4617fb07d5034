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
/** The longest a matrix's token label is drawn (longer ones are squeezed by fillText's maxWidth). */
export const LABEL_MAX_PX = 160;
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
  // Key labels lean 60 degrees from the top of their column, at most LABEL_MAX_PX long: they rise
  // sin(60) of their length and reach cos(60) of it (plus half a line) right of the last column.
  const run = Math.min(LABEL_MAX_PX, Math.max(0, labelWidth));
  const right = Math.max(8, Math.ceil(run * 0.5 + LABEL_FONT_PX / 2));
  let cell = cellFor(m, room);
  let showLabels = cell >= MIN_LABELLED_CELL;
  let margin = 0;
  if (showLabels) {
    margin = Math.min(LABEL_MAX_PX, Math.ceil(labelWidth) + 10);
    cell = cellFor(m, room - margin - right + 8);
    showLabels = cell >= MIN_LABELLED_CELL;
    if (!showLabels) {
      margin = 0;
      cell = cellFor(m, room);
    }
  }
  const left = showLabels ? margin : 4;
  const top = showLabels ? Math.ceil(run * 0.87 + LABEL_FONT_PX / 2) + 12 : 4;
  const { width, height } = pixelSize(w.nq, w.nk, cell);
  return { rows, cols, ...w, cell, left, top, width: left + width + (showLabels ? right : 8), height: top + height + 8, showLabels };
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

// The display rule for token text (twin: llmxai_widgets/figures/text.py, display_token; see its
// docstring; tests/test_display_rule.py runs both over the hostile corpus and compares).
// Invisible or text-changing code points, shown as [U+XXXX] (U+200D is kept inside an emoji sequence).
const INVISIBLE: Array<[number, number]> = [
  [0x0000, 0x001f], [0x007f, 0x009f], [0x00ad, 0x00ad], [0x034f, 0x034f], [0x061c, 0x061c],
  [0x115f, 0x1160], [0x17b4, 0x17b5], [0x180e, 0x180e], [0x200b, 0x200f], [0x2028, 0x202e],
  [0x2060, 0x2064], [0x2066, 0x206f], [0x3164, 0x3164], [0xfeff, 0xfeff],
  [0xffa0, 0xffa0], [0xfff9, 0xfffb], [0xfffe, 0xffff], [0xe0000, 0xe007f],
];
// Combining diacritical marks (the blocks "Zalgo" text piles up); other scripts' marks are left alone.
const MARKS: Array<[number, number]> = [[0x0300, 0x036f], [0x1ab0, 0x1aff], [0x1dc0, 0x1dff], [0x20d0, 0x20ff], [0xfe20, 0xfe2f]];
const EMOJI: Array<[number, number]> = [[0x2600, 0x27bf], [0x1f000, 0x1faff]];
// Whitespace a whitespace-only token is made of besides the space (shown as [U+XXXX] then).
const SPACES = new Set([0x20, 0xa0, 0x1680, ...Array.from({ length: 11 }, (_, i) => 0x2000 + i), 0x202f, 0x205f, 0x3000]);
const MAX_MARKS = 2;

const within = (o: number, ranges: Array<[number, number]>) => ranges.some(([lo, hi]) => lo <= o && o <= hi);
const code = (o: number) => `[U+${o.toString(16).toUpperCase().padStart(4, "0")}]`;

/** Token text made visible in one line: newlines and tabs as symbols; controls, zero-width,
 * format and bidirectional characters and a third-or-later stacked combining mark as [U+XXXX];
 * lone surrogates as U+FFFD; long tokens shortened to ``max`` code points with an ellipsis. Twin
 * of llmxai_widgets/figures/text.py (display_token): exports label tokens the same way. */
export function displayToken(token: string, max = 24): string {
  const chars = Array.from(String(token ?? "").replace(/\r?\n/g, "\u23CE").replace(/\t/g, "\u21E5"), (c) => c.codePointAt(0) as number);
  let out: string[] = [];
  let marks = 0;
  chars.forEach((o, i) => {
    const mark = within(o, MARKS);
    marks = mark ? marks + 1 : 0;
    if (o >= 0xd800 && o <= 0xdfff) out.push("\uFFFD");
    else if (o === 0x200d && i > 0 && i + 1 < chars.length && (within(chars[i - 1], EMOJI) || chars[i - 1] === 0xfe0f)
      && within(chars[i + 1], EMOJI)) out.push("\u200D");
    else if (within(o, INVISIBLE) || (mark && marks > MAX_MARKS)) out.push(code(o));
    else out.push(String.fromCodePoint(o));
  });
  if (out.length && out.every((c) => c.length === 1 && SPACES.has(c.charCodeAt(0)))) out = out.map((c) => (c === " " ? "\u2423" : code(c.charCodeAt(0))));
  const shown = Array.from(out.join(""));
  return shown.length > max ? shown.slice(0, max - 1).join("") + "\u2026" : shown.join("");
}

/** A token quoted for a tooltip or a sentence: the display rule first (no raw bidi, control or
 * zero-width character, no 10,000-character title), then JSON quoting. */
export function jsonToken(token: string, max = 40): string {
  return JSON.stringify(displayToken(token, max));
}
