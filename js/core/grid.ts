// The model view: a layers x heads grid of attention thumbnails on one canvas. Hover names the
// head, click opens it in the matrix view.
import { lut } from "./colors";
import { el } from "./dom";
import { CanvasLayers } from "./layers";
import { Tensor } from "./wire";

export type GridGeometry = {
  left: number; top: number; thumb: number; gap: number; layers: number[]; heads: number;
  /** x of each head's column (grouped-query heads get a wider gap between key/value groups). */
  columns: number[];
};

export function gridCellAt(g: GridGeometry, x: number, y: number): { row: number; head: number } | null {
  const pitch = g.thumb + g.gap;
  const row = Math.floor((y - g.top) / pitch);
  const head = g.columns.findIndex((cx) => x >= cx && x <= cx + g.thumb);
  if (y < g.top || head < 0 || row >= g.layers.length) return null;
  if ((y - g.top) % pitch > g.thumb) return null; // in a gap
  return { row, head };
}

/** Column positions: heads sharing a key/value head sit together, groups a little apart. */
export function gridColumns(left: number, thumb: number, gap: number, kvGroup: number[], heads: number): number[] {
  const grouped = kvGroup.length === heads && new Set(kvGroup).size < heads;
  const out: number[] = [];
  let x = left;
  for (let h = 0; h < heads; h++) {
    if (h > 0 && grouped && kvGroup[h] !== kvGroup[h - 1]) x += 3 * gap;
    out.push(x);
    x += thumb + gap;
  }
  return out;
}

export class ThumbnailGrid extends CanvasLayers {
  geometry: GridGeometry | null = null;

  constructor(private onOpen: (layer: number, head: number) => void) {
    super("lxw-grid");
    const wrap = el("div", "lxw-canvas-wrap");
    wrap.append(this.canvas, this.overlay);
    const label = el("div", "lxw-muted",
      "Each thumbnail is one head (rows: layers, columns: heads), scaled to its own maximum. Click one to open it.");
    this.node.replaceChildren(label, wrap);
    this.canvas.addEventListener("mousemove", (e) => this.hover(e.offsetX, e.offsetY));
    this.canvas.addEventListener("mouseleave", () => this.hover(-1, -1));
    this.canvas.addEventListener("click", (e) => {
      const g = this.geometry;
      const cell = g && gridCellAt(g, e.offsetX, e.offsetY);
      if (g && cell) this.onOpen(g.layers[cell.row], cell.head);
    });
  }

  /** Draw thumbnails: rows[i] is layer layers[i], a [head, s, s] tensor (or missing: not yet). */
  draw(layers: number[], heads: number, rows: Map<number, Tensor>, colormap: string, available: number, textColor: string, font: string, kvGroup: number[] = []) {
    const gap = 3;
    const left = 34;
    const grouped = kvGroup.length === heads && new Set(kvGroup).size < heads;
    const top = grouped ? 32 : 18;
    const thumb = Math.max(24, Math.min(72, Math.floor((available - left - (grouped ? 9 * gap * new Set(kvGroup).size : 0)) / heads) - gap));
    const columns = gridColumns(left, thumb, gap, kvGroup, heads);
    const g: GridGeometry = { left, top, thumb, gap, layers, heads, columns };
    this.geometry = g;
    const width = columns[heads - 1] + thumb + gap;
    const height = top + layers.length * (thumb + gap);
    const dpr = this.size(width, height);
    const ctx = this.canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = textColor;
    ctx.font = `11px ${font}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let h = 0; h < heads; h++) ctx.fillText(`H${h}`, columns[h] + thumb / 2, top - 9);
    if (grouped) {
      // One label over each group of query heads that share a key/value head.
      for (const kv of new Set(kvGroup)) {
        const members = columns.filter((_, h) => kvGroup[h] === kv);
        const mid = (members[0] + members[members.length - 1] + thumb) / 2;
        ctx.fillText(`key/value head ${kv}`, mid, 7);
      }
    }
    ctx.textAlign = "right";
    const table = lut(colormap);
    layers.forEach((layer, row) => {
      const y = top + row * (thumb + gap);
      ctx.fillStyle = textColor;
      ctx.fillText(`L${layer}`, left - 6, y + thumb / 2);
      const t = rows.get(layer);
      for (let h = 0; h < heads; h++) {
        const x = columns[h];
        if (!t) {
          ctx.fillStyle = "rgba(128,128,128,0.25)";
          ctx.fillRect(x, y, thumb, thumb);
          continue;
        }
        const [, r, cols] = t.shape; // rows x columns (cross-attention thumbnails are not square)
        const image = new ImageData(cols, r);
        for (let i = 0; i < r * cols; i++) {
          const c = 3 * Math.round(Math.max(0, Math.min(1, t.value(h * r * cols + i))) * 255);
          image.data[4 * i] = table[c];
          image.data[4 * i + 1] = table[c + 1];
          image.data[4 * i + 2] = table[c + 2];
          image.data[4 * i + 3] = 255;
        }
        const small = document.createElement("canvas");
        small.width = cols;
        small.height = r;
        small.getContext("2d")!.putImageData(image, 0, 0);
        ctx.imageSmoothingEnabled = false;
        // keep the matrix's proportions inside the square slot (one cell size for both axes)
        const cell = thumb / Math.max(r, cols);
        ctx.drawImage(small, x, y, cols * cell, r * cell);
      }
    });
    this.canvas.dataset.thumb = String(thumb);
    this.canvas.dataset.columns = columns.join(",");
    this.canvas.dataset.top = String(top);
    this.canvas.dataset.rows = String(layers.length);
    this.canvas.dataset.filled = String(layers.filter((layer) => rows.has(layer)).length);
  }

  highlight(layer: number, head: number): void {
    const g = this.geometry;
    const ctx = g && this.clearOverlay();
    if (!g || !ctx) return;
    const row = g.layers.indexOf(layer);
    if (row < 0) return;
    ctx.strokeStyle = "rgba(255, 64, 64, 0.95)";
    ctx.lineWidth = 2;
    ctx.strokeRect(g.columns[head] - 1, g.top + row * (g.thumb + g.gap) - 1, g.thumb + 2, g.thumb + 2);
  }

  private hover(x: number, y: number): void {
    const g = this.geometry;
    const cell = g && x >= 0 ? gridCellAt(g, x, y) : null;
    this.canvas.style.cursor = cell ? "pointer" : "default";
    this.canvas.title = cell && g ? `layer ${g.layers[cell.row]}, head ${cell.head}: click to open` : "";
  }
}
