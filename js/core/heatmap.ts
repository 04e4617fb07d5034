// Canvas heatmap: one ImageData pixel per cell through the 256-entry colour table, scaled up
// without smoothing; labels drawn with fillText (text, never markup).
import { lut } from "./colors";
import { Geometry, LABEL_FONT_PX, displayToken, pixelSize } from "./layout";

export type Matrix = { value(query: number, key: number): number };

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

/** Colour-table entries of the window's pixels (``w`` x ``h``): one token per pixel, or the
 * largest weight of the tokens a pixel covers when shrunk; 256 marks a pixel whose tokens are
 * all masked. */
export function windowIndices(g: Geometry, m: Matrix, style: Pick<HeatmapStyle, "index" | "isEmpty">): { w: number; h: number; indices: Uint16Array } {
  const shrink = g.cell < 1;
  const h = shrink ? Math.max(1, Math.round(g.nq * g.cell)) : g.nq;
  const w = shrink ? Math.max(1, Math.round(g.nk * g.cell)) : g.nk;
  const indices = new Uint16Array(w * h);
  const spanQ = g.nq / h;
  const spanK = g.nk / w;
  for (let py = 0; py < h; py++) {
    const qa = g.q0 + Math.floor(py * spanQ);
    const qb = Math.max(qa + 1, g.q0 + Math.floor((py + 1) * spanQ));
    for (let px = 0; px < w; px++) {
      const ka = g.k0 + Math.floor(px * spanK);
      const kb = Math.max(ka + 1, g.k0 + Math.floor((px + 1) * spanK));
      let best = -Infinity;
      for (let q = qa; q < qb; q++) {
        for (let k = ka; k < kb; k++) {
          if (style.isEmpty && style.isEmpty(q, k)) continue;
          const v = m.value(q, k);
          if (v > best) best = v;
        }
      }
      indices[py * w + px] = best === -Infinity ? 256 : style.index(best);
    }
  }
  return { w, h, indices };
}

export function drawHeatmap(
  canvas: HTMLCanvasElement,
  g: Geometry,
  m: Matrix,
  rowTokens: string[],
  colTokens: string[],
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
  const { w, h, indices } = windowIndices(g, m, style);
  const image = new ImageData(w, h);
  const px = image.data;
  for (let i = 0; i < w * h; i++) {
    const o = 4 * i;
    if (indices[i] === 256) {
      [px[o], px[o + 1], px[o + 2]] = style.emptyColor;
    } else {
      const c = 3 * indices[i];
      px[o] = table[c];
      px[o + 1] = table[c + 1];
      px[o + 2] = table[c + 2];
    }
    px[o + 3] = 255;
  }
  const cells = document.createElement("canvas");
  cells.width = w;
  cells.height = h;
  cells.getContext("2d")!.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  const size = pixelSize(g.nq, g.nk, g.cell);
  ctx.drawImage(cells, g.left * dpr, g.top * dpr, size.width * dpr, size.height * dpr);

  if (g.showLabels) drawLabels(ctx, g, rowTokens, colTokens, style, dpr);
}

function drawLabels(ctx: CanvasRenderingContext2D, g: Geometry, rowTokens: string[], colTokens: string[], style: HeatmapStyle, dpr: number) {
  ctx.save();
  ctx.scale(dpr, dpr);
  ctx.fillStyle = style.textColor;
  ctx.font = `${LABEL_FONT_PX}px ${style.fontFamily}`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  for (let q = 0; q < g.nq; q++) {
    ctx.fillText(displayToken(rowTokens[g.q0 + q] ?? ""), g.left - 6, g.top + (q + 0.5) * g.cell, g.left - 8);
  }
  ctx.textAlign = "left";
  for (let k = 0; k < g.nk; k++) {
    ctx.save();
    ctx.translate(g.left + (k + 0.5) * g.cell, g.top - 6);
    ctx.rotate(-Math.PI / 3);
    ctx.fillText(displayToken(colTokens[g.k0 + k] ?? ""), 0, 0, 180);
    ctx.restore();
  }
  ctx.restore();
}

/** A colour bar: vertical (top = vmax, 14 px wide) or ``horizontal`` (left = vmin, 10 px high). */
export function drawColorBar(canvas: HTMLCanvasElement, colormap: string, length: number, horizontal = false): void {
  const [width, height] = horizontal ? [length, 10] : [14, length];
  canvas.width = width;
  canvas.height = height;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d")!;
  const table = lut(colormap);
  for (let i = 0; i < length; i++) {
    const t = i / Math.max(1, length - 1);
    const c = 3 * Math.round((horizontal ? t : 1 - t) * 255);
    ctx.fillStyle = `rgb(${table[c]}, ${table[c + 1]}, ${table[c + 2]})`;
    if (horizontal) ctx.fillRect(i, 0, 1, height);
    else ctx.fillRect(0, i, width, 1);
  }
}
