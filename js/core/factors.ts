// NeuronView's "Factors" tab: NMF of the layer's activations (computed in Python) as a factor x
// token heatmap, then the text with each token coloured by its strongest factor, ecco-style
// (opacity: the factor's strength there); a legend chip shows one factor alone. Figure twin:
// llmxai_widgets/figures/neurons.py (factors_figure).
import { colorIndex } from "./colors";
import { addOptions, el } from "./dom";
import { drawColorBar } from "./heatmap";
import { HEAD_COLORS } from "./headview";
import { displayToken, jsonToken } from "./layout";
import { GridCanvas } from "./neurongrid";
import { Tensor, WireHeader, decodeTrait } from "./wire";

export type FactorsPayload = {
  layer: number; k: number; relative_error: number; neurons: number[][];
  token_factors: WireHeader & { data: DataView };
};

export type FactorsInput = {
  tokens: string[]; spaces: boolean[]; layer: number; k: number; maxK: number; status: string;
  /** A saved page without these factors sends ``{layer, k, missing}`` and status "missing" (js/standalone/views.ts). */
  factors: FactorsPayload | { layer: number; k: number; missing: string } | Record<string, never>; textColor: string; mutedColor: string; fontFamily: string;
  available: number; dark: boolean;
};

function hexRgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

export class FactorsPane {
  readonly node = el("div", "lxw-factors");
  readonly grid: GridCanvas;
  private kSelect = el("select", "lxw-nmf-k");
  private status = el("span", "lxw-muted");
  private legendBar = el("canvas");
  private text = el("div", "lxw-text lxw-factor-text");
  private chips = el("div", "lxw-factor-chips");
  private only = -1;
  private last: FactorsInput | null = null;
  private cache: { trait: unknown; tensor: Tensor | null } | null = null;

  constructor(onK: (k: number) => void, redraw: () => void) {
    this.grid = new GridCanvas(redraw);
    const bar = el("div", "lxw-bar lxw-options");
    const label = el("label", "", "Factors ");
    label.appendChild(this.kSelect);
    this.kSelect.title = "How many non-negative factors the layer's activations are split into";
    this.kSelect.addEventListener("change", () => onK(Number(this.kSelect.value)));
    bar.append(label, this.status);
    const legend = el("div", "lxw-legend lxw-legend-row");
    legend.append(el("span", "lxw-muted", "0"), this.legendBar, el("span", "lxw-muted", "1  factor strength (each factor scaled to its maximum)"));
    const note = el("div", "lxw-muted lxw-caption",
      "Non-negative matrix factorisation of the layer's activations (negative values clipped to 0, as ecco does): " +
      "each factor is a group of neurons that fire together, and the rows say where in the text each group is active. " +
      "Tokens that share a factor often play a similar role. Click a factor below to show it alone.");
    this.node.append(bar, this.grid.node, legend, el("div", "lxw-muted", "Each token coloured by its strongest factor:"),
      this.text, this.chips, note);
    drawColorBar(this.legendBar, "viridis", 140, true);
  }

  private tensor(trait: FactorsPayload["token_factors"]): Tensor | null {
    if (this.cache?.trait !== trait) this.cache = { trait, tensor: decodeTrait(trait) };
    return this.cache.tensor;
  }

  draw(d: FactorsInput): void {
    this.last = d;
    if (this.kSelect.options.length !== d.maxK) {
      this.kSelect.replaceChildren();
      addOptions(this.kSelect, Array.from({ length: d.maxK }, (_, i) => [String(i + 1), String(i + 1)] as [string, string]));
    }
    this.kSelect.value = String(d.k);
    const f = d.factors as FactorsPayload;
    const ready = f && f.token_factors && f.layer === d.layer && f.k === d.k;
    this.status.textContent = ready ? `layer ${d.layer}: relative reconstruction error ${(f.relative_error * 100).toFixed(1)}%`
      : d.status === "error" ? "could not factorise this layer (see the message above)"
        : d.status === "missing" ? (d.factors as { missing?: string }).missing ?? "this saved page does not hold these factors"
          : d.status === "waiting" ? `waiting for layer ${d.layer}\u2026` : `factorising layer ${d.layer}\u2026`;
    this.node.dataset.ready = ready ? "true" : "false";
    this.grid.node.style.display = ready ? "" : "none";
    if (!ready) { this.text.replaceChildren(); this.chips.replaceChildren(); return; }
    const t = this.tensor(f.token_factors)!;
    const [k, n] = t.shape;
    if (this.only >= k) this.only = -1;
    this.grid.describe = (row, col) => [["factor", `F${row}`], ["token", `#${col} ${JSON.stringify(displayToken(d.tokens[col], 40))}`],
      ["strength", t.value(row * n + col).toFixed(3)]];
    this.grid.onPick = (row) => { this.only = this.only === row ? -1 : row; this.draw(d); };
    this.grid.render({
      rows: k, cols: n, value: (r, c) => t.value(r * n + c), rowLabel: (r) => `F${r}`, colLabel: (c) => d.tokens[c], colId: (c) => c,
    }, {
      colormap: "viridis", index: (v) => colorIndex(v, 0, 1), textColor: d.textColor, mutedColor: d.mutedColor,
      fontFamily: d.fontFamily, emptyColor: d.dark ? [70, 70, 70] : [200, 200, 200], axes: ["factors {0}-{1}", "tokens {0}-{1}"],
    }, d.available, 320);
    this.drawText(d, t, k, n, f.neurons);
  }

  private drawText(d: FactorsInput, t: Tensor, k: number, n: number, neurons: number[][]): void {
    this.text.replaceChildren();
    for (let j = 0; j < n; j++) {
      let best = 0;
      for (let i = 1; i < k; i++) if (t.value(i * n + j) > t.value(best * n + j)) best = i;
      const factor = this.only >= 0 ? this.only : best;
      const strength = Math.max(0, Math.min(1, t.value(factor * n + j)));
      const [r, g, b] = hexRgb(HEAD_COLORS[factor % HEAD_COLORS.length]);
      const span = el("span", "lxw-tok", displayToken(d.tokens[j], 40).replace(/\u2423/g, " "));
      span.style.background = `rgba(${r}, ${g}, ${b}, ${strength.toFixed(3)})`;
      // ink: on a strong colour by its lightness, else the theme's text colour
      if (strength > 0.5) span.style.color = 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 ? "#000" : "#fff";
      span.title = `${jsonToken(d.tokens[j])}: factor F${factor}, strength ${strength.toFixed(3)}`;
      Object.assign(span.dataset, { index: String(j), factor: String(factor), strength: String(strength) });
      if (d.spaces[j] && this.text.lastChild) this.text.appendChild(document.createTextNode(" "));
      this.text.appendChild(span);
    }
    this.chips.replaceChildren();
    for (let i = 0; i < k; i++) {
      const chip = el("button", "lxw-factor-chip");
      const swatch = el("span", "lxw-swatch-dot");
      swatch.style.background = HEAD_COLORS[i % HEAD_COLORS.length];
      chip.append(swatch, document.createTextNode(`F${i}: neurons ${(neurons[i] ?? []).slice(0, 3).join(", ")}`));
      chip.title = `Factor ${i}'s heaviest neurons: ${(neurons[i] ?? []).join(", ")}. Click to show this factor alone (again: all).`;
      chip.setAttribute("aria-pressed", String(this.only === i));
      chip.addEventListener("click", () => { this.only = this.only === i ? -1 : i; if (this.last) this.draw(this.last); });
      this.chips.appendChild(chip);
    }
  }
}
