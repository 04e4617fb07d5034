// Canvas heatmap: one ImageData pixel per cell through the 256-entry colour table, scaled up
// without smoothing; labels drawn with fillText (text, never markup).
import { lut } from "./colors";
import { Geometry, LABEL_FONT_PX, displayToken } from "./layout";

export type Matrix = { n: number; value(query: number, key: number): number };

export type HeatmapStyle = {
  colormap: string;
  /** Colour-table entry (0-255) of a value: see scale.ts. */
  index: (value: number) => number;
  textColor: string;
  fontFamily: string;
  /** Cells never computed (e.g. above a causal mask) are drawn in this colour, not as zero. */
  emptyColor: [number, number, number];
  isEmpty?: (query: number, key: number) => boolean;
};

export function measureLabels(ctx: CanvasRenderingContext2D, tokens: string[], fontFamily: string): number {
  ctx.font = `${LABEL_FONT_PX}px ${fontFamily}`;
  let widest = 0;
  for (const t of tokens) widest = Math.max(widest, ctx.measureText(displayToken(t)).width);
  return widest;
}

export function drawHeatmap(
  canvas: HTMLCanvasElement,
  g: Geometry,
  m: Matrix,
  tokens: string[],
  style: HeatmapStyle,
): void {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(g.width * dpr);
  canvas.height = Math.round(g.height * dpr);
  canvas.style.width = `${g.width}px`;
  canvas.style.height = `${g.height}px`;
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);

  const table = lut(style.colormap);
  const image = new ImageData(m.n, m.n);
  const px = image.data;
  for (let q = 0; q < m.n; q++) {
    for (let k = 0; k < m.n; k++) {
      const o = 4 * (q * m.n + k);
      if (style.isEmpty && style.isEmpty(q, k)) {
        [px[o], px[o + 1], px[o + 2]] = style.emptyColor;
      } else {
        const c = 3 * style.index(m.value(q, k));
        px[o] = table[c];
        px[o + 1] = table[c + 1];
        px[o + 2] = table[c + 2];
      }
      px[o + 3] = 255;
    }
  }
  const cells = document.createElement("canvas");
  cells.width = m.n;
  cells.height = m.n;
  cells.getContext("2d")!.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cells, g.left * dpr, g.top * dpr, m.n * g.cell * dpr, m.n * g.cell * dpr);

  if (g.showLabels) drawLabels(ctx, g, tokens, style, dpr);
}

function drawLabels(ctx: CanvasRenderingContext2D, g: Geometry, tokens: string[], style: HeatmapStyle, dpr: number) {
  ctx.save();
  ctx.scale(dpr, dpr);
  ctx.fillStyle = style.textColor;
  ctx.font = `${LABEL_FONT_PX}px ${style.fontFamily}`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  for (let q = 0; q < g.n; q++) {
    ctx.fillText(displayToken(tokens[q] ?? ""), g.left - 6, g.top + (q + 0.5) * g.cell, g.left - 8);
  }
  ctx.textAlign = "left";
  for (let k = 0; k < g.n; k++) {
    ctx.save();
    ctx.translate(g.left + (k + 0.5) * g.cell, g.top - 6);
    ctx.rotate(-Math.PI / 3);
    ctx.fillText(displayToken(tokens[k] ?? ""), 0, 0, 180);
    ctx.restore();
  }
  ctx.restore();
}

/** A vertical colour bar (top = vmax) with its range written beside it. */
export function drawColorBar(canvas: HTMLCanvasElement, colormap: string, height: number): void {
  const width = 14;
  canvas.width = width;
  canvas.height = height;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d")!;
  const table = lut(colormap);
  for (let y = 0; y < height; y++) {
    const c = 3 * Math.round((1 - y / Math.max(1, height - 1)) * 255);
    ctx.fillStyle = `rgb(${table[c]}, ${table[c + 1]}, ${table[c + 2]})`;
    ctx.fillRect(0, y, width, 1);
  }
}
