// One grid of the locate views (js/widgets/locate.ts), titled, on a CellGrid (hover, click,
// pin): cells coloured by value, cells with no value drawn as masked (grey, struck through),
// row labels (tokens with their index, marked ones bold with "*"; or layers) and column labels
// (every few layers; or heads) drawn here because they may be wider than a narrow cell, and the
// layers still on the linear estimate marked outside the cells (a dashed line, "≈") so every
// cell keeps exactly the colour of its value. Figure twin: llmxai_widgets/figures/locate.py.
import { CellGrid, CellLayout, layoutCells } from "./cellgrid";
import { colorIndex } from "./colors";
import { addStyleOnce, el } from "./dom";

export type PanelSpec = {
  site: string;
  title: string;
  /** Row labels: tokens (with ``rowIndex``; a marked one's index gets "*") or layers. */
  rows: string[];
  /** A small "#i" before each row label (token grids). */
  rowIndex: boolean;
  bold: ReadonlySet<number>;
  showRowLabels: boolean;
  cols: string[];
  /** The word over the row labels, naming the columns ("layer", "head"). */
  colAxis: string;
  /** Layers on the estimate: columns of a token grid, rows of a head grid. */
  estimatedCols: readonly boolean[];
  estimatedRows: readonly boolean[];
  cellW: number;
  cellH: number;
  value: (row: number, col: number) => number;
  vmin: number;
  vmax: number;
  colormap: string;
  textColor: string;
  mutedColor: string;
  maskedColor: string;
  fontFamily: string;
};

const LABEL_FONT = 12;
const SMALL_FONT = 10;

export class LocatePanel {
  readonly node = el("div", "lxw-locate-panel");
  readonly heading = el("div", "lxw-locate-title");
  readonly grid = new CellGrid();

  constructor(readonly site: string) {
    this.node.append(this.heading, this.grid.node);
    this.node.dataset.site = site;
  }

  /** Room the row labels take (0 without them). */
  labelWidth(spec: PanelSpec): number {
    if (!spec.showRowLabels) return 0;
    const ctx = this.grid.canvas.getContext("2d");
    const measure = (s: string, font: string) => {
      if (!ctx) return s.length * 7;
      ctx.font = font;
      return ctx.measureText(s).width;
    };
    let width = measure(spec.colAxis, `${SMALL_FONT}px ${spec.fontFamily}`);
    spec.rows.forEach((label, r) => {
      const index = spec.rowIndex ? measure(`#${r}*`, `bold ${SMALL_FONT}px ${spec.fontFamily}`) + 8 : 0;
      const bold = spec.bold.has(r) ? "bold " : "";
      width = Math.max(width, index + measure(label, `${bold}${LABEL_FONT}px ${spec.fontFamily}`));
    });
    return Math.ceil(width) + 4;
  }

  /** The canvas's width with or without labels (for arranging panels in lines). */
  static widthOf(rows: number, cols: number, cellW: number, cellH: number, labelWidth: number): number {
    return layoutCells(rows, cols, { cellW, cellH, labelWidth }).width;
  }

  render(spec: PanelSpec): CellLayout {
    const label = this.labelWidth(spec);
    this.heading.textContent = spec.title;
    const blank = (n: number) => Array.from({ length: n }, () => "");
    const g = this.grid.render({
      rowLabels: blank(spec.rows.length), colLabels: blank(spec.cols.length), cellW: spec.cellW, cellH: spec.cellH,
      labelWidth: label, colormap: spec.colormap, textColor: spec.textColor, mutedColor: spec.mutedColor, fontFamily: spec.fontFamily,
      index: (r, c) => {
        const v = spec.value(r, c);
        return Number.isNaN(v) ? 0 : colorIndex(v, spec.vmin, spec.vmax);
      },
    });
    const ctx = this.grid.canvas.getContext("2d");
    if (ctx) {
      ctx.save();
      this.mask(ctx, g, spec);
      this.labels(ctx, g, spec);
      this.estimated(ctx, g, spec);
      ctx.restore();
    }
    const layers = (spec.estimatedCols.length ? spec.estimatedCols : spec.estimatedRows);
    Object.assign(this.grid.canvas.dataset, {
      site: spec.site, vmin: String(spec.vmin), vmax: String(spec.vmax), colormap: spec.colormap,
      estimated: layers.flatMap((e, l) => (e ? [l] : [])).join(","), labels: String(spec.showRowLabels),
    });
    return g;
  }

  /** Cells with no value: a neutral grey with a thin stroke, never a colour of the scale. */
  private mask(ctx: CanvasRenderingContext2D, g: CellLayout, spec: PanelSpec): void {
    ctx.lineWidth = 1;
    for (let r = 0; r < g.rows; r++) {
      for (let c = 0; c < g.cols; c++) {
        if (!Number.isNaN(spec.value(r, c))) continue;
        const x = g.left + g.colX[c];
        const y = g.top + r * g.cellH;
        ctx.fillStyle = spec.maskedColor;
        ctx.fillRect(x, y, g.cellW - 1, g.cellH - 1);
        ctx.strokeStyle = spec.mutedColor;
        ctx.beginPath();
        ctx.moveTo(x + 2, y + g.cellH - 3);
        ctx.lineTo(x + g.cellW - 3, y + 4);
        ctx.stroke();
      }
    }
  }

  private labels(ctx: CanvasRenderingContext2D, g: CellLayout, spec: PanelSpec): void {
    ctx.textBaseline = "middle";
    if (spec.showRowLabels) {
      spec.rows.forEach((label, r) => {
        const y = g.top + (r + 0.5) * g.cellH;
        ctx.textAlign = "right";
        ctx.fillStyle = spec.textColor;
        ctx.font = `${spec.bold.has(r) ? "bold " : ""}${LABEL_FONT}px ${spec.fontFamily}`;
        ctx.fillText(label, g.left - 6, y);
        if (!spec.rowIndex) return;
        ctx.textAlign = "left";
        ctx.fillStyle = spec.mutedColor;
        ctx.font = `${spec.bold.has(r) ? "bold " : ""}${SMALL_FONT}px ${spec.fontFamily}`;
        ctx.fillText(`#${r}${spec.bold.has(r) ? "*" : ""}`, 2, y);
      });
      ctx.textAlign = "right";
      ctx.fillStyle = spec.mutedColor;
      ctx.font = `italic ${SMALL_FONT}px ${spec.fontFamily}`;
      ctx.fillText(spec.colAxis, g.left - 6, g.top - 10);
    }
    ctx.textAlign = "center";
    ctx.font = `${SMALL_FONT}px ${spec.fontFamily}`;
    spec.cols.forEach((label, c) => {
      if (!label) return;
      ctx.fillStyle = spec.estimatedCols[c] ? spec.mutedColor : spec.textColor;
      ctx.fillText(label, g.left + g.colX[c] + (g.cellW - 1) / 2, g.top - 10);
    });
  }

  /** A dashed line over estimated columns (token grids) or beside estimated rows (head grids). */
  private estimated(ctx: CanvasRenderingContext2D, g: CellLayout, spec: PanelSpec): void {
    ctx.strokeStyle = spec.mutedColor;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([3, 2]);
    for (const [start, stop] of runs(spec.estimatedCols)) {
      ctx.beginPath();
      ctx.moveTo(g.left + g.colX[start], g.top - 3);
      ctx.lineTo(g.left + g.colX[stop - 1] + g.cellW - 1, g.top - 3);
      ctx.stroke();
    }
    for (const [start, stop] of runs(spec.estimatedRows)) {
      ctx.beginPath();
      ctx.moveTo(g.left - 3, g.top + start * g.cellH);
      ctx.lineTo(g.left - 3, g.top + stop * g.cellH - 1);
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }
}

/** Runs of consecutive true entries as [start, stop) pairs. */
export function runs(flags: readonly boolean[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  flags.forEach((f, i) => {
    if (!f) return;
    const last = out[out.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  });
  return out;
}

const CSS = `
.lxw-locate-summary { margin: 2px 0 8px; line-height: 1.5; }
.lxw-locate-summary div:first-child { font-weight: 600; }
.lxw-locate-body { display: flex; align-items: flex-start; gap: 16px 20px; flex-wrap: wrap; }
.lxw-locate-grids { display: flex; flex-direction: column; gap: 14px; min-width: 0; max-width: 100%; flex: 0 1 auto; }
.lxw-locate-row { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 10px 18px; }
.lxw-locate-panel { min-width: 0; max-width: 100%; }
.lxw-locate-title { font-weight: 600; font-size: 12px; margin: 0 0 2px; white-space: nowrap; }
.lxw-locate-row > .lxw-vlegend { padding-top: 40px; }
.lxw-locate-note { font-size: 12px; margin: 6px 0 0; }
.lxw-detail.lxw-locate-detail { max-width: 420px; }
.lxw-detail table.lxw-locate-top { width: auto; }
.lxw-locate-top td.lxw-barcell { width: 110px; }
.lxw-locate-detail td.lxw-rank { color: var(--jp-ui-font-color2, #616161); }
.lxw-locate-placeholder { padding: 16px 0; }
`;

export function ensureLocateStyle(): void {
  addStyleOnce("llmxai-widgets-locate-style", CSS);
}
