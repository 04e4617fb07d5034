// The head view: tokens in two columns, a line from each query token (left) to each key token
// (right) it reads, one colour per head, opacity = weight. Hover a token to see only its lines;
// click a head's swatch to hide or show it. Long inputs are shown a window of tokens at a time.
import { el } from "./dom";
import { displayToken } from "./layout";
import { Tensor } from "./wire";

/** Colour-blind-friendly categorical colours (Okabe-Ito with grey for its black, which would
 * vanish on a dark theme, then Tol's muted). */
export const HEAD_COLORS = [
  "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#8C8C8C",
  "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
];

export class HeadViewPane {
  readonly node = el("div", "lxw-headview");
  private swatches = el("div", "lxw-bar");
  private nav = el("div", "lxw-bar");
  private canvas = el("canvas");
  private hidden = new Set<number>();
  private focus: { side: "left" | "right"; index: number } | null = null;
  private last: { tokens: string[]; keys: string[]; start: number; keyStart: number; t: Tensor; textColor: string; font: string } | null = null;
  private rowH = 20;
  private top = 8;

  constructor(private onWindow: (start: number) => void) {
    this.node.append(this.swatches, this.nav, this.canvas);
    this.canvas.addEventListener("mousemove", (e) => this.hover(e.offsetX, e.offsetY));
    this.canvas.addEventListener("mouseleave", () => { this.focus = null; this.redraw(); });
  }

  /** ``t`` is ``[head, query, key]`` for queries ``start..`` of ``tokens`` (left) and keys
   * ``keyStart..`` of ``keys`` (right; the same tokens for self-attention). */
  draw(tokens: string[], keys: string[], start: number, keyStart: number, t: Tensor, textColor: string, font: string): void {
    this.last = { tokens, keys, start, keyStart, t, textColor, font };
    const heads = t.shape[0];
    if (this.swatches.childElementCount !== heads + 1) {
      this.swatches.replaceChildren(el("span", "lxw-muted", "Heads (click to hide/show):"));
      for (let h = 0; h < heads; h++) {
        const b = el("button", "lxw-swatch", String(h));
        const colour = HEAD_COLORS[h % HEAD_COLORS.length];
        b.style.background = colour;
        b.style.color = luminance(colour) > 0.5 ? "#000" : "#fff"; // readable on light swatches
        b.addEventListener("click", () => {
          if (this.hidden.has(h)) this.hidden.delete(h);
          else this.hidden.add(h);
          b.classList.toggle("lxw-off", this.hidden.has(h));
          this.redraw();
        });
        this.swatches.appendChild(b);
      }
    }
    const size = t.shape[1];
    const total = tokens.length;
    this.nav.replaceChildren();
    if (size < total) {
      const prev = el("button", "", "\u25c0 earlier");
      const next = el("button", "", "later \u25b6");
      prev.disabled = start === 0;
      next.disabled = start + size >= total;
      prev.addEventListener("click", () => this.onWindow(Math.max(0, start - Math.floor(size / 2))));
      next.addEventListener("click", () => this.onWindow(Math.min(total - size, start + Math.floor(size / 2))));
      this.nav.append(prev, el("span", "lxw-muted", `tokens ${start}-${start + size - 1} of ${total}`), next);
    }
    this.redraw();
  }

  private redraw(): void {
    if (!this.last) return;
    const { tokens, keys, start, keyStart, t, textColor, font } = this.last;
    const [heads, size, nKeys] = t.shape;
    const labelW = 140;
    const gapW = 260;
    const width = 2 * labelW + gapW;
    const height = this.top * 2 + Math.max(size, nKeys) * this.rowH;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const ctx = this.canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const y = (i: number) => this.top + (i + 0.5) * this.rowH;
    ctx.lineWidth = 2;
    let drawn = 0;
    const visible = Array.from({ length: heads }, (_, h) => h).filter((h) => !this.hidden.has(h));
    for (let h = 0; h < heads; h++) {
      if (this.hidden.has(h)) continue;
      ctx.strokeStyle = HEAD_COLORS[h % HEAD_COLORS.length];
      for (let q = 0; q < size; q++) {
        if (this.focus?.side === "left" && this.focus.index !== q) continue;
        for (let k = 0; k < nKeys; k++) {
          if (this.focus?.side === "right" && this.focus.index !== k) continue;
          const w = t.value((h * size + q) * nKeys + k);
          if (w < 0.02) continue; // invisible anyway; keeps long windows fast
          ctx.globalAlpha = Math.min(1, w);
          ctx.beginPath();
          // each head's lines start and end a little apart, so heads reading the same key show
          // side by side as stripes instead of the last one drawn hiding the rest
          const spread = visible.length > 1 ? (visible.indexOf(h) / (visible.length - 1) - 0.5) * this.rowH * 0.6 : 0;
          ctx.moveTo(labelW, y(q) + spread);
          ctx.lineTo(labelW + gapW, y(k) + spread);
          ctx.stroke();
          drawn++;
        }
      }
    }
    ctx.globalAlpha = 1;
    ctx.font = `12px ${font}`;
    ctx.textBaseline = "middle";
    const bold = (side: "left" | "right", i: number) => this.focus?.side === side && this.focus.index === i;
    ctx.fillStyle = textColor;
    ctx.textAlign = "right";
    for (let i = 0; i < size; i++) {
      ctx.font = `${bold("left", i) ? "bold " : ""}12px ${font}`;
      ctx.fillText(displayToken(tokens[start + i] ?? "", 18), labelW - 8, y(i), labelW - 10);
    }
    ctx.textAlign = "left";
    for (let i = 0; i < nKeys; i++) {
      ctx.font = `${bold("right", i) ? "bold " : ""}12px ${font}`;
      ctx.fillText(displayToken(keys[keyStart + i] ?? "", 18), labelW + gapW + 8, y(i), labelW - 10);
    }
    this.canvas.dataset.lines = String(drawn);
    this.canvas.dataset.start = String(start);
    this.canvas.dataset.size = String(size);
    this.canvas.dataset.keys = String(nKeys);
  }

  private hover(x: number, yPx: number): void {
    if (!this.last) return;
    const i = Math.floor((yPx - this.top) / this.rowH);
    const [, size, nKeys] = this.last.t.shape;
    const side = x < 140 ? "left" : x > 400 ? "right" : null;
    const next = side && i >= 0 && i < (side === "left" ? size : nKeys) ? { side, index: i } as const : null;
    if (next?.side === this.focus?.side && next?.index === this.focus?.index) return;
    this.focus = next;
    this.redraw();
  }
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
