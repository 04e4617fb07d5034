// A grid of rectangular cells on one canvas, with text written in the cells (the logit lens's
// top tokens, direct logit attribution's values), row labels on the left and one or two header
// lines over the columns. Hover shows a tooltip the view describes; click pins a cell. The
// figure twin is llmxai_widgets/figures/cells.py (same ink rule, same 1-pixel gaps).
import { lut } from "./colors";
import { el } from "./dom";
import { CanvasLayers, TooltipLines } from "./layers";

export type GridCell = { row: number; col: number };

export type CellLayout = {
  left: number; top: number; cellW: number; cellH: number; rows: number; cols: number;
  /** Left edge of each column, relative to ``left`` (a few columns may stand apart). */
  colX: number[];
  width: number; height: number;
};

export type CellGridSpec = {
  rowLabels: string[];
  colLabels: string[];
  /** A small line over the column labels (e.g. "#12"), or none. */
  colSubLabels?: string[];
  cellW: number;
  cellH: number;
  /** Room for the row labels (CSS px); views with two grids pass the same value to align them. */
  labelWidth: number;
  /** Columns preceded by an extra gap of ``gap`` px. */
  gapBefore?: number[];
  gap?: number;
  /** Colour-table entry (0-255) of a cell. */
  index: (row: number, col: number) => number;
  text?: (row: number, col: number) => string;
  colormap: string;
  textColor: string;
  mutedColor: string;
  fontFamily: string;
  /** A column outlined over its whole height (the selected position). */
  outlineCol?: number;
};

export const HEADER_LINE = 15;

export function layoutCells(rows: number, cols: number, spec: Pick<CellGridSpec, "cellW" | "cellH" | "labelWidth" | "gapBefore" | "gap" | "colSubLabels">): CellLayout {
  const colX: number[] = [];
  let x = 0;
  for (let c = 0; c < cols; c++) {
    if (spec.gapBefore?.includes(c)) x += spec.gap ?? 0;
    colX.push(x);
    x += spec.cellW;
  }
  const left = Math.ceil(spec.labelWidth) + 8;
  const top = HEADER_LINE * (spec.colSubLabels ? 2 : 1) + 6;
  return { left, top, cellW: spec.cellW, cellH: spec.cellH, rows, cols, colX, width: left + x + 4, height: top + rows * spec.cellH + 4 };
}

export function cellAtPoint(g: CellLayout, x: number, y: number): GridCell | null {
  const row = Math.floor((y - g.top) / g.cellH);
  if (y < g.top || row >= g.rows) return null;
  const col = g.colX.findIndex((cx) => x >= g.left + cx && x < g.left + cx + g.cellW);
  return col < 0 ? null : { row, col };
}

/** Black or white text on a cell of colour ``rgb`` (figures/cells.py ``ink``). */
export function inkFor(r: number, g: number, b: number): string {
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 ? "#000" : "#fff";
}

/** ``text`` shortened with "…" until ``measure`` says it fits ``width`` (figures/cells.py ``fit_text``). */
export function fitText(text: string, width: number, measure: (s: string) => number): string {
  if (width <= 0) return "";
  if (measure(text) <= width) return text;
  const chars = Array.from(text);
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(chars.slice(0, mid).join("") + "\u2026") <= width) lo = mid;
    else hi = mid - 1;
  }
  return lo ? chars.slice(0, lo).join("") + "\u2026" : "";
}

export class CellGrid extends CanvasLayers {
  /** The grid scrolls sideways inside ``node`` when it is wider than the notebook; the tooltip
   * sits outside the scroller, so it is never clipped by it. */
  readonly scroller = el("div", "lxw-scroll");
  layout: CellLayout | null = null;
  pinned: GridCell | null = null;
  private hovered: GridCell | null = null;
  /** Tooltip lines of a cell: [label, value] pairs (text only). */
  describe: ((cell: GridCell) => TooltipLines) | null = null;
  onPick: ((cell: GridCell | null) => void) | null = null;

  constructor() {
    super("lxw-canvas-wrap lxw-cellgrid", "lxw-cells");
    const inner = el("div", "lxw-canvas-wrap");
    inner.append(this.canvas, this.overlay);
    this.scroller.appendChild(inner);
    this.scroller.addEventListener("scroll", () => this.hover(null));
    this.node.append(this.scroller, this.tooltip);
    this.canvas.addEventListener("mousemove", (e) => this.hover(this.at(e.offsetX, e.offsetY)));
    this.canvas.addEventListener("mouseleave", () => this.hover(null));
    this.canvas.addEventListener("click", (e) => {
      const cell = this.at(e.offsetX, e.offsetY);
      this.pinned = cell && !(this.pinned && this.pinned.row === cell.row && this.pinned.col === cell.col) ? cell : null;
      this.hover(cell);
      this.onPick?.(this.pinned);
    });
  }

  private at(x: number, y: number): GridCell | null {
    return this.layout ? cellAtPoint(this.layout, x, y) : null;
  }

  render(spec: CellGridSpec): CellLayout {
    const rows = spec.rowLabels.length;
    const cols = spec.colLabels.length;
    const g = layoutCells(rows, cols, spec);
    const dpr = this.size(g.width, g.height);
    const ctx = this.canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.width, g.height);
    const table = lut(spec.colormap);
    const cellFont = `${Math.min(12, Math.max(9, spec.cellH - 8))}px ${spec.fontFamily}`;
    ctx.textBaseline = "middle";
    for (let r = 0; r < rows; r++) {
      const y = g.top + r * g.cellH;
      for (let c = 0; c < cols; c++) {
        const x = g.left + g.colX[c];
        const i = 3 * spec.index(r, c);
        ctx.fillStyle = `rgb(${table[i]}, ${table[i + 1]}, ${table[i + 2]})`;
        ctx.fillRect(x, y, g.cellW - 1, g.cellH - 1); // the 1-pixel gap shows the page between cells
        const text = spec.text?.(r, c);
        if (!text) continue;
        ctx.font = cellFont;
        ctx.fillStyle = inkFor(table[i], table[i + 1], table[i + 2]);
        ctx.textAlign = "center";
        ctx.fillText(fitText(text, g.cellW - 6, (s) => ctx.measureText(s).width), x + (g.cellW - 1) / 2, y + (g.cellH - 1) / 2 + 0.5);
      }
    }
    this.drawLabels(ctx, g, spec);
    this.layout = g;
    Object.assign(this.canvas.dataset, {
      left: String(g.left), top: String(g.top), cellw: String(g.cellW), cellh: String(g.cellH),
      rows: String(rows), cols: String(cols), colx: g.colX.join(","), ink: spec.textColor,
    });
    if (this.pinned && (this.pinned.row >= rows || this.pinned.col >= cols)) this.pinned = null;
    this.hover(this.hovered);
    return g;
  }

  private drawLabels(ctx: CanvasRenderingContext2D, g: CellLayout, spec: CellGridSpec): void {
    const measure = (s: string) => ctx.measureText(s).width;
    ctx.fillStyle = spec.textColor;
    ctx.font = `12px ${spec.fontFamily}`;
    ctx.textAlign = "right";
    spec.rowLabels.forEach((label, r) => ctx.fillText(label, g.left - 6, g.top + (r + 0.5) * g.cellH));
    ctx.textAlign = "center";
    spec.colLabels.forEach((label, c) => {
      const x = g.left + g.colX[c] + (g.cellW - 1) / 2;
      ctx.font = `${c === spec.outlineCol ? "bold " : ""}12px ${spec.fontFamily}`;
      ctx.fillStyle = spec.textColor;
      ctx.fillText(fitText(label, g.cellW - 2, measure), x, g.top - 4 - HEADER_LINE / 2);
      const sub = spec.colSubLabels?.[c];
      if (sub) {
        ctx.font = `10px ${spec.fontFamily}`;
        ctx.fillStyle = spec.mutedColor;
        ctx.fillText(fitText(sub, g.cellW - 2, measure), x, g.top - 4 - HEADER_LINE * 1.5);
      }
    });
    if (spec.outlineCol !== undefined && spec.outlineCol >= 0 && spec.outlineCol < g.cols) {
      ctx.strokeStyle = "#1976d2"; // figures/logit_lens.py TARGET_COLOR
      ctx.lineWidth = 2;
      ctx.strokeRect(g.left + g.colX[spec.outlineCol] - 1.5, g.top - 1.5, g.cellW + 2, g.rows * g.cellH + 2);
    }
  }

  /** Outline ``cell`` (or none) as the clicked one, e.g. from a synced trait. */
  pin(cell: GridCell | null): void {
    this.pinned = cell;
    this.hover(this.hovered);
  }

  private hover(cell: GridCell | null): void {
    this.hovered = cell;
    const g = this.layout;
    const ctx = g && this.clearOverlay();
    if (!g || !ctx) return;
    for (const [c, color] of [[this.pinned, "rgba(255, 64, 64, 0.95)"], [cell, "rgba(255, 255, 255, 0.95)"]] as const) {
      if (!c) continue;
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.strokeRect(g.left + g.colX[c.col] + 1, g.top + c.row * g.cellH + 1, g.cellW - 3, g.cellH - 3);
    }
    const shown = cell ?? null;
    if (!shown || !this.describe) {
      this.hideTooltip();
      return;
    }
    const x = g.left + g.colX[shown.col] + g.cellW + 8 - this.scroller.scrollLeft;
    const room = this.node.clientWidth || g.width;
    this.showTooltip(this.describe(shown), { row: String(shown.row), col: String(shown.col) },
      Math.max(0, Math.min(x, room - 260)), g.top + (shown.row + 1) * g.cellH + 4);
  }
}
