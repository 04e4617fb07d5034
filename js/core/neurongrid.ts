// A rows x columns heatmap whose cells are as tall as a label and as wide as the columns allow
// (1,536 neurons per row), on one canvas: a window of it can be zoomed (buttons, Ctrl + wheel)
// and dragged; more cells than pixels are merged keeping the value of largest magnitude, so a
// lone strong neuron stays visible. Hover asks the view what to say; click picks a cell.
import { Pixels, drawAxisLabels, paintPixels, pooledIndices } from "./heatmap";
import { PanZoomCanvas, TooltipLines } from "./layers";
import { LABEL_FONT_PX, displayToken } from "./layout";
import { maxAbs } from "./neuroncolumns";

export type GridWindow = { r0: number; nr: number; c0: number; nc: number };
export type GridGeometry = GridWindow & {
  rows: number; cols: number; left: number; top: number; rowH: number; colW: number;
  width: number; height: number; rowLabels: boolean; colLabels: boolean;
};
export type GridStyle = {
  colormap: string;
  /** Colour-table entry (0-255) of a value. */
  index: (v: number) => number;
  textColor: string;
  mutedColor: string;
  fontFamily: string;
  emptyColor: [number, number, number];
  /** What the axes say when cells are too small for labels, e.g. "neurons {0}-{1}". */
  axes: [string, string];
};
export type GridData = {
  rows: number;
  cols: number;
  value: (row: number, col: number) => number;
  rowLabel: (row: number) => string;
  colLabel: (col: number) => string;
  /** An id per column published on the canvas (data-colids) for tests and tools. */
  colId?: (col: number) => number;
};

const MAX_ROW = 18;
const MAX_COL = 28;
const LABELLED = 11;

/** Fit window ``w`` into ``available`` x ``maxHeight`` CSS pixels, with label room when the
 * cells are big enough to read. */
export function layoutGrid(rows: number, cols: number, w: GridWindow, available: number, maxHeight: number,
  rowLabelWidth: number, colLabelWidth: number): GridGeometry {
  const rowH = Math.min(MAX_ROW, maxHeight / Math.max(1, w.nr));
  const rowLabels = rowH >= LABELLED;
  const left = rowLabels ? Math.min(160, Math.ceil(rowLabelWidth) + 10) : 22;
  const room = Math.max(120, available) - left - 8;
  const colW = Math.min(MAX_COL, room / Math.max(1, w.nc));
  const colLabels = colW >= LABELLED;
  // labels lean 60 degrees when there is room between columns, else stand upright
  const lean = colW >= 16 ? 0.87 : 1;
  const top = colLabels ? Math.ceil(Math.min(120, colLabelWidth) * lean) + 12 : 18;
  const width = left + Math.round(w.nc * colW) + 8;
  const height = top + Math.round(w.nr * rowH) + 8;
  return { rows, cols, ...w, left, top, rowH, colW, width, height, rowLabels, colLabels };
}

export function cellAtGrid(g: GridGeometry, x: number, y: number): { row: number; col: number } | null {
  if (x < g.left || y < g.top) return null;
  const col = Math.floor((x - g.left) / g.colW);
  const row = Math.floor((y - g.top) / g.rowH);
  if (col >= g.nc || row >= g.nr) return null;
  return { row: g.r0 + row, col: g.c0 + col };
}

/** Colour-table entries of the window's pixels (256: no value). */
export function gridIndices(g: GridGeometry, data: GridData, index: (v: number) => number): Pixels {
  const h = Math.max(1, Math.min(g.nr, Math.round(g.nr * g.rowH)));
  const w = Math.max(1, Math.min(g.nc, Math.round(g.nc * g.colW)));
  return pooledIndices(g.r0, g.nr, g.c0, g.nc, w, h, (ra, rb, ca, cb) => {
    const v = maxAbs(data.value, ra, rb, ca, cb);
    return Number.isNaN(v) ? 256 : index(v);
  });
}

export class GridCanvas extends PanZoomCanvas<GridWindow> {
  geometry: GridGeometry | null = null;
  private data: GridData | null = null;
  /** Tooltip lines of a cell. */
  describe: (row: number, col: number) => TooltipLines = () => [];
  onPick: ((row: number, col: number) => void) | null = null;
  /** A column to outline (the open neuron), or -1. */
  marked = -1;
  /** A row to outline (the token in focus), or -1. */
  markedRow = -1;

  protected hoverAt(): void {
    this.hover();
  }

  protected clickAt(x: number, y: number): void {
    const cell = this.geometry && cellAtGrid(this.geometry, x, y);
    if (cell && this.onPick) this.onPick(cell.row, cell.col);
  }

  protected wheelZoom(factor: number, x: number, y: number): boolean {
    if (!this.geometry) return false;
    this.zoom(factor, cellAtGrid(this.geometry, x, y)?.col);
    return true;
  }

  protected panned(start: GridWindow, dx: number, dy: number): GridWindow {
    const g = this.geometry!;
    const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, Math.round(v)));
    return { ...start, c0: clamp(start.c0 - dx / g.colW, g.cols - start.nc), r0: clamp(start.r0 - dy / g.rowH, g.rows - start.nr) };
  }

  /** Forget the zoom window (another layer order or data shape), or start from ``w``. */
  reset(w: GridWindow | null = null): void { this.window = w; }

  render(data: GridData, style: GridStyle, available: number, maxHeight: number): GridGeometry {
    if (this.window && (this.window.c0 + this.window.nc > data.cols || this.window.r0 + this.window.nr > data.rows)) this.window = null;
    const whole = { r0: 0, nr: data.rows, c0: 0, nc: data.cols };
    const win = this.window ?? whole;
    const ctx = this.canvas.getContext("2d")!;
    ctx.font = `${LABEL_FONT_PX}px ${style.fontFamily}`;
    const widest = (n0: number, n: number, label: (i: number) => string) => {
      let m = 0;
      for (let i = n0; i < n0 + Math.min(n, 400); i++) m = Math.max(m, ctx.measureText(displayToken(label(i))).width);
      return m;
    };
    const g = layoutGrid(data.rows, data.cols, win, available, maxHeight,
      widest(win.r0, win.nr, data.rowLabel), widest(win.c0, win.nc, data.colLabel));
    this.draw(g, data, style);
    this.geometry = g;
    this.data = data;
    const ids = data.colId ? Array.from({ length: g.nc }, (_, i) => data.colId!(g.c0 + i)).join(",") : "";
    Object.assign(this.canvas.dataset, {
      rows: String(g.rows), cols: String(g.cols), left: String(g.left), top: String(g.top), rowh: String(g.rowH),
      colw: String(g.colW), r0: String(g.r0), c0: String(g.c0), nr: String(g.nr), nc: String(g.nc), colids: ids,
    });
    this.hover();
    return g;
  }

  private draw(g: GridGeometry, data: GridData, style: GridStyle): void {
    const dpr = this.size(g.width, g.height);
    const ctx = this.canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.width, g.height);
    paintPixels(ctx, gridIndices(g, data, style.index), style.colormap, style.emptyColor, g.left, g.top,
      Math.round(g.nc * g.colW), Math.round(g.nr * g.rowH));
    drawAxisLabels(ctx, g, data.rowLabel, data.colLabel, style, g.rowLabels, g.colLabels, 130, g.colW >= 16);
    ctx.font = `${LABEL_FONT_PX}px ${style.fontFamily}`;
    ctx.textBaseline = "middle";
    ctx.fillStyle = style.mutedColor;
    ctx.textAlign = "left";
    const say = (t: string, a: number, n: number) => t.replace("{0}", String(a)).replace("{1}", String(a + n - 1));
    if (!g.colLabels) ctx.fillText(say(style.axes[1], g.c0, g.nc), g.left, g.top - 9);
    if (!g.rowLabels) {
      ctx.save();
      ctx.translate(g.left - 9, g.top + (g.nr * g.rowH) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "center";
      ctx.fillText(say(style.axes[0], g.r0, g.nr), 0, 0);
      ctx.restore();
    }
  }

  /** Zoom the columns (and the rows of a long text) by ``factor`` (< 1 zooms in) around a column. */
  zoom(factor: number, aroundCol?: number): void {
    const d = this.data;
    if (!d) return;
    const cur = this.window ?? { r0: 0, nr: d.rows, c0: 0, nc: d.cols };
    const nc = Math.max(Math.min(8, d.cols), Math.min(d.cols, Math.round(cur.nc * factor)));
    const rowsFit = d.rows * LABELLED <= 560;
    const nr = rowsFit ? d.rows : Math.max(Math.min(8, d.rows), Math.min(d.rows, Math.round(cur.nr * factor)));
    const cc = aroundCol ?? cur.c0 + cur.nc / 2;
    const c0 = Math.max(0, Math.min(d.cols - nc, Math.round(cc - nc / 2)));
    const r0 = Math.max(0, Math.min(d.rows - nr, Math.round(cur.r0 + cur.nr / 2 - nr / 2)));
    this.window = nc >= d.cols && nr >= d.rows ? null : { r0, nr, c0, nc };
    this.redraw();
  }

  /** Show ``count`` columns centred on column ``col``. */
  showColumn(col: number, count = 64): void {
    const d = this.data;
    if (!d) return;
    this.window = this.window ?? { r0: 0, nr: d.rows, c0: 0, nc: d.cols };
    const nc = Math.min(d.cols, count);
    this.window = { ...this.window, nc, c0: Math.max(0, Math.min(d.cols - nc, col - Math.floor(nc / 2))) };
    if (this.window.nc >= d.cols && this.window.nr >= d.rows) this.window = null;
    this.redraw();
  }

  showWhole(): void { this.window = null; this.redraw(); }

  private hover(): void {
    const g = this.geometry;
    const cell = g && this.mouse ? cellAtGrid(g, this.mouse.x, this.mouse.y) : null;
    this.outline(cell);
    if (!cell || !g) {
      this.hideTooltip();
      return;
    }
    const x = g.left + (cell.col - g.c0 + 1) * g.colW + 12;
    this.showTooltip(this.describe(cell.row, cell.col), { row: String(cell.row), col: String(cell.col) },
      Math.min(x, Math.max(0, g.width - 240)), g.top + (cell.row - g.r0 + 1) * g.rowH + 8);
  }

  private outline(cell: { row: number; col: number } | null): void {
    const g = this.geometry;
    const ctx = g && this.clearOverlay();
    if (!g || !ctx) return;
    const column = (c: number, color: string) => {
      if (c < g.c0 || c >= g.c0 + g.nc) return;
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.strokeRect(g.left + (c - g.c0) * g.colW, g.top, Math.max(2, g.colW), g.nr * g.rowH);
    };
    column(this.marked, "rgba(25, 118, 210, 0.95)");
    const r = this.markedRow;
    if (r >= g.r0 && r < g.r0 + g.nr) {
      ctx.strokeStyle = "rgba(25, 118, 210, 0.95)";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(g.left, g.top + (r - g.r0) * g.rowH, g.nc * g.colW, Math.max(2, g.rowH));
    }
    if (!cell) return;
    column(cell.col, "rgba(255, 64, 64, 0.7)");
    ctx.strokeStyle = "rgba(0, 0, 0, 0.9)";
    ctx.strokeRect(g.left + (cell.col - g.c0) * g.colW, g.top + (cell.row - g.r0) * g.rowH, Math.max(2, g.colW), Math.max(2, g.rowH));
  }
}
