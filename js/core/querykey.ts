// The query-key view: for one query token, each readable key's vector, the elementwise products
// q * k * scaling whose sum is the score, the score and the softmax weight (bertviz's neuron view).
import { rgb } from "./colors";
import { el } from "./dom";
import { displayToken } from "./layout";
import { Tensor } from "./wire";

export type QueryKeyData = {
  keys: Tensor; query_vector: Tensor; key_vectors: Tensor; products: Tensor; scores: Tensor; weights: Tensor;
};

const DIVERGING = "RdBu_r";

function diverging(v: number, extent: number): string {
  const i = Math.max(0, Math.min(255, Math.round(((v / (extent || 1)) * 0.5 + 0.5) * 255)));
  const [r, g, b] = rgb(DIVERGING, i);
  return `rgb(${r}, ${g}, ${b})`;
}

export class QueryKeyPane {
  readonly node = el("div", "lxw-querykey");
  readonly querySelect = el("select");
  private canvas = el("canvas");
  private note = el("div", "lxw-muted lxw-caption");
  rows: number[] = [];
  geometry = { top: 0, row: 0 };

  constructor(onQuery: (q: number) => void, private onOpen: (query: number, key: number) => void) {
    const bar = el("div", "lxw-bar");
    const label = el("label", "", "Query token ");
    label.appendChild(this.querySelect);
    bar.appendChild(label);
    this.querySelect.addEventListener("change", () => onQuery(Number(this.querySelect.value)));
    this.note.textContent =
      "Each row is a key the query may read: its key vector, the products q\u00b7k\u00b7scale per dimension " +
      "(red adds to the score, blue takes away; the row sums to the score), the score, and the weight after " +
      "softmax. Click a row to see the pair in the matrix.";
    this.node.append(bar, this.canvas, this.note);
    this.canvas.addEventListener("click", (e) => {
      const i = Math.floor((e.offsetY - this.geometry.top) / this.geometry.row);
      if (i >= 0 && i < this.rows.length) this.onOpen(Number(this.querySelect.value), this.rows[i]);
    });
  }

  /** ``tokens``: the queries; ``keyTokens``: what they read (the same tokens, or for
   * cross-attention the encoder's). */
  draw(tokens: string[], keyTokens: string[], query: number, d: QueryKeyData, textColor: string, font: string): void {
    if (this.querySelect.options.length !== tokens.length || this.querySelect.dataset.first !== tokens[0]) {
      this.querySelect.dataset.first = tokens[0] ?? "";
      this.querySelect.replaceChildren();
      tokens.forEach((t, i) => {
        const o = el("option", "", `#${i} ${JSON.stringify(displayToken(t, 20))}`);
        o.value = String(i);
        this.querySelect.appendChild(o);
      });
    }
    this.querySelect.value = String(query);
    const keys = Array.from({ length: d.keys.shape[0] }, (_, i) => d.keys.value(i));
    this.rows = keys;
    const dim = d.query_vector.shape[0];
    const cellW = Math.max(2, Math.min(6, Math.floor(300 / dim)));
    const row = keys.length > 60 ? 9 : 16;
    const labelW = 130;
    const block = dim * cellW;
    const gap = 14;
    const barW = 90;
    const top = 34;
    const width = labelW + 2 * block + 2 * gap + 2 * barW + 60;
    const height = top + row * (keys.length + 1) + 8;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.geometry = { top: top + row, row };
    const ctx = this.canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = `11px ${font}`;
    ctx.fillStyle = textColor;
    ctx.textBaseline = "middle";
    const x1 = labelW;
    const x2 = x1 + block + gap;
    const x3 = x2 + block + gap;
    const x4 = x3 + barW + gap;
    ctx.fillText("key vector", x1, 12);
    ctx.fillText("q \u00d7 k \u00d7 scale", x2, 12);
    ctx.fillText("score", x3, 12);
    ctx.fillText("weight", x4, 12);
    let vecExtent = 0;
    let prodExtent = 0;
    for (let i = 0; i < d.key_vectors.shape[0] * dim; i++) {
      vecExtent = Math.max(vecExtent, Math.abs(d.key_vectors.value(i)));
      prodExtent = Math.max(prodExtent, Math.abs(d.products.value(i)));
    }
    for (let j = 0; j < dim; j++) vecExtent = Math.max(vecExtent, Math.abs(d.query_vector.value(j)));
    // the query vector on the first row
    ctx.textAlign = "right";
    ctx.fillText(`query ${displayToken(tokens[query], 14)}`, labelW - 6, top + row / 2);
    for (let j = 0; j < dim; j++) {
      ctx.fillStyle = diverging(d.query_vector.value(j), vecExtent);
      ctx.fillRect(x1 + j * cellW, top, cellW, row - 1);
    }
    let sMin = Infinity;
    let sMax = -Infinity;
    for (let i = 0; i < keys.length; i++) {
      sMin = Math.min(sMin, d.scores.value(i));
      sMax = Math.max(sMax, d.scores.value(i));
    }
    const span = Math.max(1e-6, Math.max(Math.abs(sMin), Math.abs(sMax)));
    keys.forEach((key, i) => {
      const y = top + row * (i + 1);
      ctx.fillStyle = textColor;
      ctx.textAlign = "right";
      if (row >= 12 || i % 2 === 0) ctx.fillText(`#${key} ${displayToken(keyTokens[key], 12)}`, labelW - 6, y + row / 2);
      for (let j = 0; j < dim; j++) {
        ctx.fillStyle = diverging(d.key_vectors.value(i * dim + j), vecExtent);
        ctx.fillRect(x1 + j * cellW, y, cellW, row - 1);
        ctx.fillStyle = diverging(d.products.value(i * dim + j), prodExtent);
        ctx.fillRect(x2 + j * cellW, y, cellW, row - 1);
      }
      const score = d.scores.value(i);
      ctx.fillStyle = score >= 0 ? "#c0392b" : "#2e6da4";
      const w = (Math.abs(score) / span) * (barW / 2);
      ctx.fillRect(score >= 0 ? x3 + barW / 2 : x3 + barW / 2 - w, y + 1, w, row - 3);
      const weight = d.weights.value(i);
      ctx.fillStyle = "#7b6fd0";
      ctx.fillRect(x4, y + 1, weight * barW, row - 3);
      ctx.fillStyle = textColor;
      ctx.textAlign = "left";
      if (row >= 12) ctx.fillText(weight.toFixed(3), x4 + barW + 4, y + row / 2);
    });
    this.canvas.dataset.keys = String(keys.length);
    this.canvas.dataset.query = String(query);
  }
}
