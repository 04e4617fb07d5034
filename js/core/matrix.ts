// The interactive attention matrix: a canvas heatmap with hover tooltip, click to pin, zoom
// (buttons or Ctrl + wheel), drag to pan, and jumps to a token. The widget decides what to draw;
// this class draws it and handles the mouse.
import { el } from "./dom";
import { HeatmapStyle, drawHeatmap } from "./heatmap";
import { Geometry, cellAt, displayToken, layoutWindow, windowAround } from "./layout";
import { Tensor } from "./wire";

type Cell = { query: number; key: number };

export class MatrixCanvas {
  /** The canvas, its highlight overlay and the tooltip, positioned together. */
  readonly node = el("div", "lxw-canvas-wrap");
  readonly canvas = el("canvas");
  private overlay = el("canvas");
  private tooltip = el("div", "lxw-tooltip");
  geometry: Geometry | null = null;
  /** What is on the canvas: the [query, key] tensor and its tokens. */
  drawn: { tensor: Tensor; tokens: string[]; causal: boolean } | null = null;
  locked: Cell | null = null;
  private mouse: { x: number; y: number } | null = null;
  /** Zoomed window (tokens); null shows the whole matrix. */
  private window: { q0: number; k0: number; m: number } | null = null;
  private drag: { x: number; y: number; q0: number; k0: number; moved: boolean } | null = null;
  private dragged = false;

  constructor(private redraw: () => void) {
    this.overlay.style.cssText = "position:absolute;left:0;top:0;pointer-events:none";
    this.node.append(this.canvas, this.overlay, this.tooltip);
    this.canvas.addEventListener("mousemove", (e) => {
      this.mouse = { x: e.offsetX, y: e.offsetY };
      if (this.drag && this.panTo(e.offsetX, e.offsetY)) return;
      this.hover(e.offsetX, e.offsetY, false);
    });
    this.canvas.addEventListener("mousedown", (e) => {
      if (this.window) this.drag = { x: e.offsetX, y: e.offsetY, q0: this.window.q0, k0: this.window.k0, moved: false };
    });
    window.addEventListener("mouseup", this.endDrag);
    this.canvas.addEventListener("wheel", (e) => {
      if (!(e.ctrlKey || e.metaKey) || !this.geometry) return; // plain wheel scrolls the notebook
      e.preventDefault();
      this.zoom(e.deltaY < 0 ? 1 / 1.25 : 1.25, cellAt(this.geometry, e.offsetX, e.offsetY));
    }, { passive: false });
    this.canvas.addEventListener("mouseleave", () => {
      this.mouse = null;
      this.hover(-1, -1, false);
    });
    this.canvas.addEventListener("click", (e) => {
      if (this.dragged) { this.dragged = false; return; } // the end of a pan, not a pin
      this.hover(e.offsetX, e.offsetY, true);
    });
  }

  /** Draw ``tensor`` (``[query, key]`` over ``tokens``) in the current window. */
  render(tokens: string[], tensor: Tensor, causal: boolean, available: number, labelWidth: number, style: HeatmapStyle): Geometry {
    const n = tokens.length;
    if (this.window && this.window.m >= n) this.window = null;
    const win = this.window ?? { q0: 0, k0: 0, m: n };
    const g = layoutWindow(n, win.q0, win.k0, win.m, available, labelWidth);
    drawHeatmap(this.canvas, g, { n, value: (q, k) => tensor.value(q * n + k) }, tokens, style);
    this.geometry = g;
    this.drawn = { tensor, tokens, causal };
    Object.assign(this.canvas.dataset, {
      n: String(n), cell: String(g.cell), left: String(g.left), top: String(g.top),
      q0: String(g.q0), k0: String(g.k0), window: String(g.n),
    });
    this.overlay.width = this.canvas.width;
    this.overlay.height = this.canvas.height;
    this.overlay.style.width = this.canvas.style.width;
    this.overlay.style.height = this.canvas.style.height;
    // The tooltip under a still mouse (or a pinned cell) shows the new picture's values.
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
    const n = this.drawn?.tokens.length ?? 0;
    if (!n) return;
    const current = this.window ?? { q0: 0, k0: 0, m: n };
    const size = Math.max(8, Math.min(n, Math.round(current.m * factor)));
    if (size >= n) {
      this.window = null;
    } else {
      const cq = around ? around.query : current.q0 + current.m / 2;
      const ck = around ? around.key : current.k0 + current.m / 2;
      this.window = { q0: windowAround(n, cq, size).start, k0: windowAround(n, ck, size).start, m: size };
    }
    this.redraw();
  }

  showWhole(): void {
    this.window = null;
    this.redraw();
  }

  /** Show token ``i``'s row in a 48-token window (keys up to it for causal models) and pin it. */
  jumpTo(i: number): void {
    const n = this.drawn?.tokens.length ?? 0;
    if (n > 48) {
      const q = windowAround(n, i, 48);
      const k = windowAround(n, this.drawn?.causal ? i - 20 : i, 48);
      this.window = { q0: q.start, k0: k.start, m: 48 };
    }
    this.locked = { query: i, key: i };
    this.redraw();
  }

  dispose(): void {
    window.removeEventListener("mouseup", this.endDrag);
  }

  private endDrag = (): void => {
    if (this.drag?.moved) this.dragged = true;
    this.drag = null;
  };

  /** Move the zoomed window with the mouse; true while dragging. */
  private panTo(x: number, y: number): boolean {
    const d = this.drag;
    const g = this.geometry;
    if (!d || !g || !this.window) return false;
    if (!d.moved && Math.abs(x - d.x) + Math.abs(y - d.y) < 4) return false;
    d.moved = true;
    const m = this.window.m;
    const clamp = (v: number) => Math.max(0, Math.min(g.total - m, Math.round(v)));
    this.window = { q0: clamp(d.q0 - (y - d.y) / g.cell), k0: clamp(d.k0 - (x - d.x) / g.cell), m };
    this.tooltip.style.display = "none";
    this.redraw();
    return true;
  }

  private hover(x: number, y: number, click: boolean): void {
    const g = this.geometry;
    const cell = g && x >= 0 ? cellAt(g, x, y) : null;
    if (click) this.locked = cell && !(this.locked && this.locked.query === cell.query && this.locked.key === cell.key) ? cell : null;
    const shown = this.locked ?? cell;
    this.highlight(shown);
    if (!shown || !this.drawn || !g) {
      this.tooltip.style.display = "none";
      return;
    }
    const { tokens, tensor, causal } = this.drawn;
    const { query, key } = shown;
    const weight = tensor.value(query * tokens.length + key);
    this.tooltip.replaceChildren();
    const line = (label: string, value: string) => this.tooltip.append(el("b", "", label), el("span", "", value));
    line("query", `#${query} ${JSON.stringify(displayToken(tokens[query], 40))}`);
    line("key", `#${key} ${JSON.stringify(displayToken(tokens[key], 40))}`);
    line("weight", causal && key > query ? "masked (a token cannot attend to later tokens)" : weight.toFixed(4));
    Object.assign(this.tooltip.dataset, { query: String(query), key: String(key), weight: String(weight) });
    this.tooltip.style.display = "grid";
    const left = g.left + (key - g.k0 + 1) * g.cell + 12;
    this.tooltip.style.left = `${Math.min(left, Math.max(0, g.width - 220))}px`;
    this.tooltip.style.top = `${g.top + (query - g.q0) * g.cell + 12}px`;
  }

  private highlight(cell: Cell | null): void {
    const g = this.geometry;
    const ctx = this.overlay.getContext("2d");
    if (!ctx || !g) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.width, g.height);
    if (!cell) return;
    const row = cell.query - g.q0;
    const col = cell.key - g.k0;
    if (row < 0 || row >= g.n) return;
    ctx.strokeStyle = "rgba(255, 64, 64, 0.9)";
    ctx.lineWidth = Math.max(1, Math.min(2, g.cell / 6));
    const size = Math.max(g.cell, 2); // a shrunk long input still shows where the mouse is
    // The query's row, up to the last key it may read.
    const readable = Math.min(g.n, Math.max(0, (this.drawn?.causal ? cell.query + 1 : g.total) - g.k0));
    ctx.strokeRect(g.left, g.top + row * g.cell, g.cell * readable, size);
    ctx.strokeStyle = "rgba(255, 255, 255, 0.95)";
    if (col >= 0 && col < g.n) ctx.strokeRect(g.left + col * g.cell, g.top + row * g.cell, size, size);
  }
}
