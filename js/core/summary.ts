// Head summary: a layers x heads table of one score (sink, previous token, induction, entropy),
// coloured and written in each cell, beside a ranked list. Click a cell or a row to open the head.
import { colorIndex, rgb } from "./colors";
import { el } from "./dom";
import { Tensor } from "./wire";

export const SCORE_LABELS: Record<string, string> = {
  sink: "attention sink (weight on the first token)",
  previous_token: "previous token",
  induction: "induction (repeated random sequence)",
  entropy: "entropy (nats; low = focused)",
  entropy_normalised: "entropy / log(position)",
};

/** Heads ranked by one score: [row index, head, value], highest first (or lowest). */
export function rankHeads(t: Tensor, lowest: boolean): Array<[number, number, number]> {
  const [rows, heads] = t.shape;
  const out: Array<[number, number, number]> = [];
  for (let r = 0; r < rows; r++) for (let h = 0; h < heads; h++) out.push([r, h, t.value(r * heads + h)]);
  out.sort((a, b) => (lowest ? a[2] - b[2] : b[2] - a[2]));
  return out;
}

export class SummaryPane {
  readonly node = el("div", "lxw-summary");
  readonly scoreSelect = el("select");
  private order = el("select");
  private table = el("div", "lxw-summary-table");
  private ranked = el("ol", "lxw-ranked");
  private note = el("div", "lxw-muted");

  constructor(private onOpen: (layer: number, head: number) => void, private onChange: () => void) {
    const bar = el("div", "lxw-bar");
    const scoreLabel = el("label", "", "Score ");
    scoreLabel.appendChild(this.scoreSelect);
    for (const [value, label] of [["high", "highest first"], ["low", "lowest first"]]) {
      const o = el("option", "", label);
      o.value = value;
      this.order.appendChild(o);
    }
    bar.append(scoreLabel, this.order);
    this.scoreSelect.addEventListener("change", () => this.onChange());
    this.order.addEventListener("change", () => this.onChange());
    const body = el("div", "lxw-body");
    const side = el("div", "");
    side.append(el("div", "lxw-title", "Top heads"), this.ranked);
    body.append(this.table, side);
    this.node.append(bar, body, this.note);
  }

  draw(layers: number[], names: string[], scores: Record<string, Tensor>, colormap: string, current: { layer: number; head: number }) {
    if (this.scoreSelect.options.length !== names.length) {
      this.scoreSelect.replaceChildren();
      for (const name of names) {
        const o = el("option", "", SCORE_LABELS[name] ?? name);
        o.value = name;
        this.scoreSelect.appendChild(o);
      }
      if (names.includes("induction")) this.scoreSelect.value = "induction";
    }
    const name = this.scoreSelect.value || names[0];
    const t = scores[name];
    if (!t) return;
    const [rows, heads] = t.shape;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < rows * heads; i++) {
      lo = Math.min(lo, t.value(i));
      hi = Math.max(hi, t.value(i));
    }
    const grid = el("div", "lxw-summary-grid");
    grid.style.gridTemplateColumns = `auto repeat(${heads}, 44px)`;
    grid.appendChild(el("span", ""));
    for (let h = 0; h < heads; h++) grid.appendChild(el("span", "lxw-muted", `H${h}`));
    for (let r = 0; r < rows; r++) {
      grid.appendChild(el("span", "lxw-muted", `L${layers[r]}`));
      for (let h = 0; h < heads; h++) {
        const v = t.value(r * heads + h);
        const idx = colorIndex(v, lo, hi);
        const [cr, cg, cb] = rgb(colormap, idx);
        const cell = el("button", "lxw-score", v.toFixed(2));
        cell.style.background = `rgb(${cr}, ${cg}, ${cb})`;
        cell.style.color = idx > 150 ? "#000" : "#fff"; // readable on both ends of the map
        cell.title = `layer ${layers[r]}, head ${h}: ${name} ${v.toFixed(4)}; click to open`;
        cell.dataset.layer = String(layers[r]);
        cell.dataset.head = String(h);
        if (layers[r] === current.layer && h === current.head) cell.classList.add("lxw-current");
        cell.addEventListener("click", () => this.onOpen(layers[r], h));
        grid.appendChild(cell);
      }
    }
    this.table.replaceChildren(grid);
    this.ranked.replaceChildren();
    for (const [r, h, v] of rankHeads(t, this.order.value === "low").slice(0, 12)) {
      const item = el("li");
      const open = el("button", "lxw-link", `layer ${layers[r]}, head ${h}`);
      open.addEventListener("click", () => this.onOpen(layers[r], h));
      item.append(open, el("span", "lxw-muted", `  ${v.toFixed(3)}`));
      this.ranked.appendChild(item);
    }
    this.note.textContent =
      name === "induction"
        ? "Induction is measured on a random token sequence repeated twice: the weight from each token of the second copy to the token after its first occurrence."
        : "Measured on this text, averaged over query positions.";
  }
}
