// The interactive attention matrix: a canvas heatmap with hover tooltip, click to pin, zoom
// (buttons or Ctrl + wheel), drag to pan, and jumps to a token. The widget decides what to draw;
// this class draws it and handles the mouse.
import { PanZoomCanvas } from "./layers";
import { HeatmapStyle, drawHeatmap } from "./heatmap";
import { Geometry, Window, cellAt, displayToken, layoutWindow, windowAround } from "./layout";
import { Region } from "./scale";
import { Tensor } from "./wire";

type Cell = { query: number; key: number };

export class MatrixCanvas extends PanZoomCanvas<Window> {
  geometry: Geometry | null = null;
  /** What is on the canvas: the [query, key] tensor, its query (row) and key (column) tokens,
   * and the region of it the view is limited to (e.g. sentence A -> sentence B). */
  drawn: { tensor: Tensor; rows: string[]; cols: string[]; causal: boolean; frame: Region } | null = null;
  locked: Cell | null = null;

  /** Tooltip words (attention: query, key, weight; attribution: target, source, score). */
  labels = { row: "query", col: "key", value: "weight", masked: "masked (a token cannot attend to later tokens)" };
  /** Called when a cell is clicked (after pinning). */
  onPick: ((cell: Cell) => void) | null = null;

  protected hoverAt(x: number, y: number): void {
    this.hover(x, y, false);
  }

  protected clickAt(x: number, y: number): void {
    this.hover(x, y, true);
    const cell = this.geometry ? cellAt(this.geometry, x, y) : null;
    if (cell && this.onPick) this.onPick(cell);
  }

  protected wheelZoom(factor: number, x: number, y: number): boolean {
    if (!this.geometry) return false;
    this.zoom(factor, cellAt(this.geometry, x, y));
    return true;
  }

  protected panned(start: Window, dx: number, dy: number): Window {
    const f = this.drawn!.frame;
    const cell = this.geometry!.cell;
    const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.round(v)));
    return { q0: clamp(start.q0 - dy / cell, f.q0, f.q1 - start.nq), nq: start.nq, k0: clamp(start.k0 - dx / cell, f.k0, f.k1 - start.nk), nk: start.nk };
  }

  /** Draw ``tensor`` (``[query, key]`` over ``rows`` x ``cols`` tokens), limited to ``frame``,
   * in the current zoom window. */
  render(rows: string[], cols: string[], tensor: Tensor, causal: boolean, frame: Region, available: number, labelWidth: number, style: HeatmapStyle): Geometry {
    const same = this.drawn && sameRegion(this.drawn.frame, frame) && this.drawn.rows.length === rows.length && this.drawn.cols.length === cols.length;
    if (!same) this.window = null; // another matrix or filter: start from the whole of it
    const whole = { q0: frame.q0, k0: frame.k0, nq: frame.q1 - frame.q0, nk: frame.k1 - frame.k0 };
    if (this.window && this.window.nq >= whole.nq && this.window.nk >= whole.nk) this.window = null;
    const win = this.window ?? whole;
    const g = layoutWindow(rows.length, cols.length, win, available, labelWidth);
    const nCols = cols.length;
    this.size(g.width, g.height);
    drawHeatmap(this.canvas, g, { value: (q, k) => tensor.value(q * nCols + k) }, rows, cols, style);
    this.geometry = g;
    this.drawn = { tensor, rows, cols, causal, frame };
    Object.assign(this.canvas.dataset, {
      n: String(rows.length), rows: String(rows.length), cols: String(cols.length), cell: String(g.cell),
      left: String(g.left), top: String(g.top), q0: String(g.q0), k0: String(g.k0),
      window: String(g.nq), nq: String(g.nq), nk: String(g.nk),
    });
    // The tooltip under a still mouse (or a pinned cell) shows the new picture's values.
    if (this.locked && !inRegion(frame, this.locked)) this.locked = null;
    if (this.mouse || this.locked) this.hover(this.mouse?.x ?? -1, this.mouse?.y ?? -1, false);
    else this.highlight(null);
    return g;
  }

  /** Forget the picture (the widget shows a placeholder instead). */
  clear(): void {
    this.drawn = null;
  }

  /** Zoom by ``factor`` (< 1 zooms in) around a token pair (default: the window's centre). */
  zoom(factor: number, around?: Cell | null): void {
    const f = this.drawn?.frame;
    if (!f) return;
    const whole = { q0: f.q0, k0: f.k0, nq: f.q1 - f.q0, nk: f.k1 - f.k0 };
    const current = this.window ?? whole;
    const nq = Math.max(Math.min(8, whole.nq), Math.min(whole.nq, Math.round(current.nq * factor)));
    const nk = Math.max(Math.min(8, whole.nk), Math.min(whole.nk, Math.round(current.nk * factor)));
    if (nq >= whole.nq && nk >= whole.nk) {
      this.window = null;
    } else {
      const cq = around ? around.query : current.q0 + current.nq / 2;
      const ck = around ? around.key : current.k0 + current.nk / 2;
      this.window = {
        q0: windowAround(0, cq, nq, f.q0, f.q1).start, nq,
        k0: windowAround(0, ck, nk, f.k0, f.k1).start, nk,
      };
    }
    this.redraw();
  }

  showWhole(): void {
    this.window = null;
    this.redraw();
  }

  /** Show query token ``i``'s row in a 48-token window (keys up to it for causal models) and pin it. */
  jumpTo(i: number): void {
    const f = this.drawn?.frame;
    if (!f) return;
    const size = 48;
    if (f.q1 - f.q0 > size || f.k1 - f.k0 > size) {
      const q = windowAround(0, i, size, f.q0, f.q1);
      const k = windowAround(0, this.drawn?.causal ? i - 20 : i, size, f.k0, f.k1);
      this.window = { q0: q.start, nq: q.size, k0: k.start, nk: k.size };
    }
    const key = Math.max(f.k0, Math.min(f.k1 - 1, i));
    this.locked = { query: i, key };
    this.redraw();
  }

  private hover(x: number, y: number, click: boolean): void {
    const g = this.geometry;
    const cell = g && x >= 0 ? cellAt(g, x, y) : null;
    if (click) this.locked = cell && !(this.locked && this.locked.query === cell.query && this.locked.key === cell.key) ? cell : null;
    const shown = this.locked ?? cell;
    this.highlight(shown);
    if (!shown || !this.drawn || !g) {
      this.hideTooltip();
      return;
    }
    const { rows, cols, tensor, causal } = this.drawn;
    const { query, key } = shown;
    const weight = tensor.value(query * cols.length + key);
    const L = this.labels;
    const left = g.left + (key - g.k0 + 1) * g.cell + 12;
    this.showTooltip([
      [L.row, `#${query} ${JSON.stringify(displayToken(rows[query], 40))}`],
      [L.col, `#${key} ${JSON.stringify(displayToken(cols[key], 40))}`],
      [L.value, (causal && key > query) || Number.isNaN(weight) ? L.masked : weight.toFixed(4)],
    ], { query: String(query), key: String(key), weight: String(weight) },
    Math.min(left, Math.max(0, g.width - 220)), g.top + (query - g.q0) * g.cell + 12);
  }

  private highlight(cell: Cell | null): void {
    const g = this.geometry;
    const ctx = g && this.clearOverlay();
    if (!ctx || !g || !cell) return;
    const row = cell.query - g.q0;
    const col = cell.key - g.k0;
    if (row < 0 || row >= g.nq) return;
    ctx.strokeStyle = "rgba(255, 64, 64, 0.9)";
    ctx.lineWidth = Math.max(1, Math.min(2, g.cell / 6));
    const size = Math.max(g.cell, 2); // a shrunk long input still shows where the mouse is
    // The query's row, up to the last key it may read.
    const readable = Math.min(g.nk, Math.max(0, (this.drawn?.causal ? cell.query + 1 : g.cols) - g.k0));
    ctx.strokeRect(g.left, g.top + row * g.cell, g.cell * readable, size);
    ctx.strokeStyle = "rgba(255, 255, 255, 0.95)";
    if (col >= 0 && col < g.nk) ctx.strokeRect(g.left + col * g.cell, g.top + row * g.cell, size, size);
  }
}

function sameRegion(a: Region, b: Region): boolean {
  return a.q0 === b.q0 && a.q1 === b.q1 && a.k0 === b.k0 && a.k1 === b.k1;
}

function inRegion(r: Region, c: Cell): boolean {
  return c.query >= r.q0 && c.query < r.q1 && c.key >= r.k0 && c.key < r.k1;
}
