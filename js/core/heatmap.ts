// Canvas heatmap: one ImageData pixel per cell through the 256-entry colour table, scaled up
// without smoothing; labels drawn with fillText (text, never markup).
import { lut } from "./colors";
import { Geometry, LABEL_FONT_PX, LABEL_MAX_PX, displayToken, pixelSize } from "./layout";

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

/** Colour-table entries (256: nothing to show) of a ``w`` x ``h`` pixel picture of rows
 * r0..r0+nr-1 and columns c0..c0+nc-1: ``pool`` gives the entry of the block of cells a pixel covers
 * (one cell per pixel unless the picture is shrunk). Shared by every canvas heatmap. */
export function pooledIndices(r0: number, nr: number, c0: number, nc: number, w: number, h: number,
  pool: (ra: number, rb: number, ca: number, cb: number) => number): Pixels {
  const indices = new Uint16Array(w * h);
  for (let py = 0; py < h; py++) {
    const ra = r0 + Math.floor((py * nr) / h);
    const rb = Math.max(ra + 1, r0 + Math.floor(((py + 1) * nr) / h));
    for (let px = 0; px < w; px++) {
      const ca = c0 + Math.floor((px * nc) / w);
      const cb = Math.max(ca + 1, c0 + Math.floor(((px + 1) * nc) / w));
      indices[py * w + px] = pool(ra, rb, ca, cb);
    }
  }
  return { w, h, indices };
}
export type Pixels = { w: number; h: number; indices: Uint16Array };

/** Colour-table entries of the window's pixels (``w`` x ``h``): one token per pixel, or the
 * largest weight of the tokens a pixel covers when shrunk; 256 marks a pixel whose tokens are
 * all masked. */
export function windowIndices(g: Geometry, m: Matrix, style: Pick<HeatmapStyle, "index" | "isEmpty">): Pixels {
  const shrink = g.cell < 1;
  const h = shrink ? Math.max(1, Math.round(g.nq * g.cell)) : g.nq;
  const w = shrink ? Math.max(1, Math.round(g.nk * g.cell)) : g.nk;
  return pooledIndices(g.q0, g.nq, g.k0, g.nk, w, h, (qa, qb, ka, kb) => {
    let best = -Infinity;
    for (let q = qa; q < qb; q++) {
      for (let k = ka; k < kb; k++) {
        if (style.isEmpty && style.isEmpty(q, k)) continue;
        const v = m.value(q, k);
        if (v > best) best = v;
      }
    }
    return best === -Infinity ? 256 : style.index(best);
  });
}

/** Paint ``pixels`` through ``colormap`` (256: ``emptyColor``), scaled up without smoothing over
 * ``width`` x ``height`` CSS pixels at (``x``, ``y``). */
export function paintPixels(ctx: CanvasRenderingContext2D, pixels: Pixels, colormap: string, emptyColor: [number, number, number],
  x: number, y: number, width: number, height: number): void {
  const { w, h, indices } = pixels;
  const table = lut(colormap);
  const image = new ImageData(w, h);
  const px = image.data;
  for (let i = 0; i < w * h; i++) {
    const o = 4 * i;
    if (indices[i] === 256) {
      [px[o], px[o + 1], px[o + 2]] = emptyColor;
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
  const dpr = window.devicePixelRatio || 1;
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cells, x * dpr, y * dpr, width * dpr, height * dpr);
  ctx.restore();
}

/** Draw the window of ``m`` on ``canvas`` (already sized to ``g``), with its token labels when they fit. */
export function drawHeatmap(
  canvas: HTMLCanvasElement,
  g: Geometry,
  m: Matrix,
  rowTokens: string[],
  colTokens: string[],
  style: HeatmapStyle,
): void {
  const ctx = canvas.getContext("2d")!;
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, g.width, g.height);
  const size = pixelSize(g.nq, g.nk, g.cell);
  paintPixels(ctx, windowIndices(g, m, style), style.colormap, style.emptyColor, g.left, g.top, size.width, size.height);
  if (g.showLabels) {
    drawAxisLabels(ctx, { ...g, r0: g.q0, c0: g.k0, nr: g.nq, nc: g.nk, rowH: g.cell, colW: g.cell },
      (q) => rowTokens[q] ?? "", (k) => colTokens[k] ?? "", style, true, true, LABEL_MAX_PX);
  }
}

/** Row labels left of the cells and column labels over them, leaning 60 degrees (upright when
 * ``lean`` is false); the context is in CSS pixels. */
export function drawAxisLabels(ctx: CanvasRenderingContext2D,
  g: { left: number; top: number; r0: number; c0: number; nr: number; nc: number; rowH: number; colW: number },
  rowLabel: (row: number) => string, colLabel: (col: number) => string, style: Pick<HeatmapStyle, "textColor" | "fontFamily">,
  rows: boolean, cols: boolean, colWidth: number, lean = true): void {
  ctx.save();
  ctx.fillStyle = style.textColor;
  ctx.font = `${LABEL_FONT_PX}px ${style.fontFamily}`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  if (rows) for (let r = 0; r < g.nr; r++) ctx.fillText(displayToken(rowLabel(g.r0 + r)), g.left - 6, g.top + (r + 0.5) * g.rowH, g.left - 8);
  ctx.textAlign = "left";
  for (let c = 0; cols && c < g.nc; c++) {
    ctx.save();
    ctx.translate(g.left + (c + 0.5) * g.colW, g.top - 6);
    ctx.rotate(lean ? -Math.PI / 3 : -Math.PI / 2);
    ctx.fillText(displayToken(colLabel(g.c0 + c)), 0, 0, colWidth);
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
