// A small line chart on canvas: values per category (the logit lens's layers) on a y axis from
// 0 to 1, or log10 over a few decades. Hover shows a guide line and a tooltip the view
// describes. The figure twin is llmxai_widgets/figures/cells.py ``line_chart``.
import { el } from "./dom";

export type Series = { values: number[]; color: string; label: string; dashed?: boolean };

export type ChartSpec = {
  labels: string[];
  series: Series[];
  width: number;
  height: number;
  /** Decades below 1 on a log axis; 0 draws a linear axis from 0 to 1. */
  logDecades: number;
  title: string;
  textColor: string;
  mutedColor: string;
  fontFamily: string;
  /** false: no legend above the chart (the view draws one for several charts). */
  legend?: boolean;
};

export type ChartLayout = { left: number; right: number; top: number; bottom: number; xs: number[] };

/** Vertical pixel of value ``v`` between ``top`` (1) and ``bottom`` (0 or 10^-decades). */
export function chartY(v: number, decades: number, top: number, bottom: number): number {
  const t = decades > 0 ? (Math.log10(Math.max(v, 10 ** -decades)) + decades) / decades : Math.min(1, Math.max(0, v));
  return bottom - t * (bottom - top);
}

/** Label every ``n``-th category so labels of ``widest`` px never touch at ``step`` px apart. */
export function labelEvery(widest: number, step: number): number {
  return Math.max(1, Math.ceil((widest + 6) / Math.max(step, 1e-6)));
}

export function chartTicks(decades: number): number[] {
  if (decades > 0) return Array.from({ length: decades + 1 }, (_, i) => 10 ** -(decades - i));
  return [0, 0.25, 0.5, 0.75, 1];
}

export class LineChart {
  readonly node = el("div", "lxw-canvas-wrap lxw-chart");
  readonly canvas = el("canvas");
  private tooltip = el("div", "lxw-tooltip");
  private spec: ChartSpec | null = null;
  layout: ChartLayout | null = null;
  describe: ((index: number) => Array<[string, string]>) | null = null;
  /** Called with the nearest category when the chart is clicked (null: clicks do nothing). */
  onPick: ((index: number) => void) | null = null;
  /** A category marked by a solid guide line (e.g. the one picked), or -1. */
  marked = -1;
  private hovered = -1;

  constructor() {
    this.node.append(this.canvas, this.tooltip);
    this.canvas.addEventListener("mousemove", (e) => this.hover(this.nearest(e.offsetX)));
    this.canvas.addEventListener("mouseleave", () => this.hover(-1));
    this.canvas.addEventListener("click", (e) => {
      const index = this.nearest(e.offsetX);
      if (index >= 0 && this.onPick) this.onPick(index);
    });
  }

  private nearest(x: number): number {
    const xs = this.layout?.xs ?? [];
    let best = -1;
    for (let i = 0; i < xs.length; i++) if (best < 0 || Math.abs(xs[i] - x) < Math.abs(xs[best] - x)) best = i;
    return best;
  }

  render(spec: ChartSpec): void {
    this.spec = spec;
    this.draw();
    this.hover(this.hovered);
  }

  private draw(): void {
    const s = this.spec;
    if (!s) return;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(s.width * dpr);
    this.canvas.height = Math.round(s.height * dpr);
    this.canvas.style.width = `${s.width}px`;
    this.canvas.style.height = `${s.height}px`;
    const ctx = this.canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, s.width, s.height);
    ctx.font = `11px ${s.fontFamily}`;
    const tickW = ctx.measureText(s.logDecades ? "1e-6" : "0.75").width;
    const left = tickW + 10;
    const last = s.labels[s.labels.length - 1] ?? "";
    const right = s.width - Math.max(8, ctx.measureText(last).width / 2 + 2); // the last x label stays inside
    const legend = s.legend !== false;
    const top = legend ? 40 : 26;
    const bottom = s.height - 20;
    ctx.fillStyle = s.textColor;
    ctx.font = `bold 12px ${s.fontFamily}`;
    ctx.textBaseline = "alphabetic";
    ctx.textAlign = "left";
    ctx.fillText(s.title, 0, 13);
    ctx.font = `11px ${s.fontFamily}`;
    let lx = left;
    for (const series of legend ? s.series : []) { // the legend
      this.stroke(ctx, series, [[lx, 28], [lx + 16, 28]]);
      ctx.fillStyle = s.mutedColor;
      ctx.textBaseline = "middle";
      ctx.fillText(series.label, lx + 20, 28);
      lx += 20 + ctx.measureText(series.label).width + 14;
    }
    ctx.textAlign = "right";
    for (const v of chartTicks(s.logDecades)) {
      const y = chartY(v, s.logDecades, top, bottom);
      ctx.strokeStyle = s.mutedColor;
      ctx.globalAlpha = 0.3;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y) + 0.5);
      ctx.lineTo(right, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.fillStyle = s.mutedColor;
      ctx.fillText(s.logDecades ? (v < 1 ? `1e-${Math.round(-Math.log10(v))}` : "1") : String(v), left - 4, y);
    }
    const n = s.labels.length;
    const step = (right - left) / Math.max(1, n - 1);
    const xs = s.labels.map((_, i) => left + i * step);
    const widest = Math.max(0, ...s.labels.map((t) => ctx.measureText(t).width));
    const every = labelEvery(widest, step);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    s.labels.forEach((label, i) => { if (i % every === 0 || i === n - 1) ctx.fillText(label, xs[i], bottom + 4); });
    if (this.marked >= 0 && this.marked < n) { // the picked category, under the series
      ctx.strokeStyle = s.series[0]?.color ?? s.mutedColor;
      ctx.globalAlpha = 0.45;
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.moveTo(xs[this.marked], top);
      ctx.lineTo(xs[this.marked], bottom);
      ctx.stroke();
      ctx.globalAlpha = 1;
    }
    for (const series of s.series) {
      const points = series.values.map((v, i) => [xs[i], chartY(v, s.logDecades, top, bottom)] as [number, number])
        .filter((_, i) => Number.isFinite(series.values[i]));
      this.stroke(ctx, series, points);
      ctx.fillStyle = series.color;
      for (const [x, y] of points) ctx.fillRect(x - 2, y - 2, 4, 4);
    }
    this.canvas.style.cursor = this.onPick ? "pointer" : "";
    this.layout = { left, right, top, bottom, xs };
    this.canvas.dataset.points = s.series[0]?.values.map((v) => v.toPrecision(6)).join(",") ?? "";
    this.canvas.dataset.title = s.title;
  }

  private stroke(ctx: CanvasRenderingContext2D, series: Series, points: Array<[number, number]>): void {
    ctx.strokeStyle = series.color;
    ctx.lineWidth = 2;
    ctx.setLineDash(series.dashed ? [5, 4] : []);
    ctx.beginPath();
    points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
    ctx.setLineDash([]);
  }

  private hover(index: number): void {
    this.hovered = index;
    const g = this.layout;
    if (!g || index < 0 || !this.describe) {
      this.tooltip.style.display = "none";
      if (g) this.draw();
      return;
    }
    this.draw();
    const ctx = this.canvas.getContext("2d")!;
    ctx.strokeStyle = this.spec!.mutedColor;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(Math.round(g.xs[index]) + 0.5, g.top);
    ctx.lineTo(Math.round(g.xs[index]) + 0.5, g.bottom);
    ctx.stroke();
    this.tooltip.replaceChildren();
    for (const [label, value] of this.describe(index)) this.tooltip.append(el("b", "", label), el("span", "", value));
    this.tooltip.dataset.index = String(index);
    this.tooltip.style.display = "grid";
    const x = g.xs[index] + 12;
    this.tooltip.style.left = `${Math.max(0, Math.min(x, (this.spec?.width ?? 400) - 240))}px`;
    this.tooltip.style.top = `${g.top}px`;
  }
}
