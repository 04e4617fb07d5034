// ContributionView frontend. Synced state: llmxai_widgets/widgets/contributions.py (ContributionView).
import { Legend, TargetPicker, ensureBlocksStyle, quoted, tokenStrip } from "../core/blocks";
import { CellGrid } from "../core/cellgrid";
import { colorIndex } from "../core/colors";
import { Parts, allValues, columnLabels, componentName, extent, formatValue, gridValue, rankAmong, signed } from "../core/contrib";
import { el } from "../core/dom";
import { WireTrait } from "../core/lens";
import { WidgetModel } from "../core/model";
import { Pane, PaneState, paneModule, wireTensor } from "../core/pane";

type Picked = { layer?: number; column?: number; part?: "embed" | "constant" };
export type ContributionState = PaneState & {
  tokens: string[];
  position: number;
  target: string;
  target_text: string;
  target_id: number;
  n_layers: number;
  n_heads: number;
  logit: number;
  total: number;
  embed: number;
  constant: number;
  heads: WireTrait;
  attention_bias: WireTrait;
  mlp: WireTrait;
  picked: Picked;
  /** ``missing``: a saved page without this head's attention says why (js/standalone/views.ts). */
  head_attention: WireTrait & { layer?: number; head?: number; position?: number; missing?: string };
  colormap: string;
};
type Model = WidgetModel<ContributionState>;
const STRIP = ["embed", "constant"] as const;

class ContributionPane extends Pane<ContributionState> {
  private picker = new TargetPicker("Explain", (token) => this.set("target", token));
  private strip = el("div", "lxw-strip");
  private sum = el("div", "lxw-sum");
  private parts = new CellGrid();
  private grid = new CellGrid();
  private legend = new Legend();
  private detail = el("div", "lxw-detail");
  private caption = el("div", "lxw-muted lxw-caption lxw-blocks-caption");
  private body = el("div", "lxw-blocks-body");

  constructor(model: Model) {
    super(model, "lxw-contrib");
    this.build();
    this.watch(["heads", "attention_bias", "mlp", "embed", "constant", "logit", "total", "position", "target", "target_text", "picked",
      "head_attention", "tokens", "colormap", "status", "progress", "progress_label"]);
    this.grid.describe = (cell) => this.describe({ layer: cell.row, column: cell.col });
    this.parts.describe = (cell) => this.describe({ part: STRIP[cell.col] });
    this.grid.onPick = (cell) => this.set("picked", cell ? { layer: cell.row, column: cell.col } : {});
    this.parts.onPick = (cell) => this.set("picked", cell ? { part: STRIP[cell.col] } : {});
  }

  private build(): void {
    const exporting = this.exportButtons({
      svg: "Download the heatmap as a vector figure (text stays text), drawn by the same code as view.save()",
      png: "Download the heatmap as a PNG, drawn by the same code as view.save()",
    });
    const bar = this.toolbar("Direct logit attribution", this.picker.node, exporting);
    const grids = el("div");
    grids.append(this.parts.node, this.grid.node);
    const body = this.body;
    const gridBox = el("div", "lxw-blocks-grid");
    gridBox.append(grids, this.legend.node);
    body.append(gridBox, this.detail);
    this.root.append(bar, this.errors.node, this.strip, this.sum, body, this.caption);
  }

  private data(): Parts | null {
    const m = this.model;
    const key = [m.get("heads"), m.get("attention_bias"), m.get("mlp"), m.get("embed"), m.get("constant")];
    return this.cached("parts", key, () => {
      const [heads, bias, mlp] = [wireTensor(m.get("heads")), wireTensor(m.get("attention_bias")), wireTensor(m.get("mlp"))];
      return heads && bias && mlp ? { heads, bias, mlp, embed: m.get("embed"), constant: m.get("constant"),
        nLayers: heads.shape[0], nHeads: heads.shape[1] } : null;
    });
  }

  /** A token in focus (here or in a linked view): the prediction after it (Python computes it). */
  protected onFocus(position: number): void {
    if (position >= 0 && position < this.model.get("tokens").length && position !== this.model.get("position")) {
      this.set("position", position);
    }
  }

  protected paint(): void {
    const m = this.model;
    const tokens = m.get("tokens");
    const position = m.get("position");
    tokenStrip(this.strip, tokens, position, (i) => { this.set("position", i); this.focusTo(i); });
    const p = this.data();
    const target = m.get("target_text");
    this.picker.update(m.get("target"), target ? [target] : [], target && !m.get("target") ? `model's prediction: ${quoted(target)}` : "model's prediction");
    if (!p) {
      this.sum.textContent = m.get("status") === "computing" ? "Computing the contributions\u2026" : "";
      return;
    }
    this.body.classList.toggle("lxw-stale", m.get("status") === "computing");
    this.drawSum(tokens, position, target);
    const values = allValues(p);
    const vmax = extent(values);
    const style = getComputedStyle(this.root);
    const common = {
      cellW: 48, cellH: 20, labelWidth: 32, colormap: m.get("colormap"), textColor: style.color || "#000",
      mutedColor: style.getPropertyValue("--jp-ui-font-color2").trim() || "#616161", fontFamily: style.fontFamily || "sans-serif",
    };
    const strip = [p.embed, p.constant];
    this.parts.render({
      ...common, cellW: 68, rowLabels: [""], colLabels: ["embed", "constant"], gapBefore: [1], gap: 16,
      index: (_r, c) => colorIndex(strip[c], -vmax, vmax), text: (_r, c) => formatValue(strip[c]),
    });
    const layout = this.grid.render({
      ...common, rowLabels: Array.from({ length: p.nLayers }, (_, l) => `L${l}`), colLabels: columnLabels(p.nHeads),
      gapBefore: [p.nHeads], gap: 16,
      index: (r, c) => colorIndex(gridValue(p, r, c), -vmax, vmax), text: (r, c) => formatValue(gridValue(p, r, c)),
    });
    const picked = m.get("picked") ?? {};
    this.grid.pin(picked.column !== undefined && picked.layer !== undefined ? { row: picked.layer, col: picked.column } : null);
    this.parts.pin(picked.part ? { row: 0, col: STRIP.indexOf(picked.part) } : null);
    this.grid.canvas.dataset.vmax = String(vmax);
    this.parts.canvas.dataset.vmax = String(vmax);
    this.legend.update(m.get("colormap"), Math.min(layout.rows * layout.cellH, 240), signed(vmax), signed(-vmax), "logit contribution");
    this.drawDetail(p, picked, values);
    this.caption.textContent = `Each cell is what one part of the model wrote directly into the logit of ${quoted(target)}` +
      ` (red raised it, blue lowered it; the final norm's scale is frozen at its value on this input, so the parts add up).` +
      ` Rows: layers; columns: attention heads, the attention output's bias, the MLP. Hover a cell for its value; click one for` +
      ` its rank${p.nHeads ? " and, for a head, where it reads from" : ""}. Click a token above to explain the prediction after it.`;
  }

  private drawSum(tokens: string[], position: number, target: string): void {
    const m = this.model;
    const logit = el("b", "lxw-logit", m.get("logit").toFixed(3));
    const total = el("b", "lxw-total", m.get("total").toFixed(3));
    logit.dataset.value = String(m.get("logit"));
    total.dataset.value = String(m.get("total"));
    this.sum.replaceChildren(
      document.createTextNode(`Predicting ${quoted(target)} after #${position} ${quoted(tokens[position] ?? "")}: logit `), logit,
      document.createTextNode(" = embeddings + heads + attention biases + MLPs + constant = "), total,
      el("span", "lxw-muted", " (everything below sums to the final logit)"));
  }

  private describe(what: Picked): Array<[string, string]> {
    const p = this.data();
    if (!p) return [];
    const v = this.valueOf(p, what);
    const share = this.model.get("logit") ? ` (${((v / this.model.get("logit")) * 100).toFixed(1)}% of the logit)` : "";
    if (what.part) return [["part", what.part === "embed" ? "embeddings" : "constant (norm and unembedding biases)"], ["value", `${signed(v)}${share}`]];
    return [["layer", `L${what.layer}`], ["component", componentName(p.nHeads, what.column!)], ["value", `${signed(v)}${share}`]];
  }

  private valueOf(p: Parts, what: Picked): number {
    if (what.part) return what.part === "embed" ? p.embed : p.constant;
    return gridValue(p, what.layer!, what.column!);
  }

  private drawDetail(p: Parts, picked: Picked, values: number[]): void {
    const inGrid = picked.layer !== undefined && picked.column !== undefined && picked.layer < p.nLayers && picked.column < p.nHeads + 2;
    if (!picked.part && !inGrid) {
      this.detail.replaceChildren(el("p", "lxw-muted", "Click a cell to see its value, its rank among all parts and, for a head, where it reads from."));
      delete this.detail.dataset.value;
      return;
    }
    const v = this.valueOf(p, picked);
    const { byValue, bySize } = rankAmong(values, v);
    const name = picked.part ? (picked.part === "embed" ? "Embeddings" : "Constant") : `L${picked.layer} ${componentName(p.nHeads, picked.column!)}`;
    const target = quoted(this.model.get("target_text"));
    const children: HTMLElement[] = [el("h4", "", name),
      el("p", "", `Wrote ${signed(v)} into the logit of ${target}.`),
      el("p", "lxw-rank", `Rank ${byValue} of ${values.length} parts by value (1 = raised ${target} the most); ${bySize} by size.`)];
    if (!picked.part && picked.column! < p.nHeads) children.push(...this.headPattern(picked.layer!, picked.column!));
    this.detail.replaceChildren(...children);
    Object.assign(this.detail.dataset, { value: String(v), rank: String(byValue) });
  }

  /** Where the picked head reads from at the position: its largest attention weights. */
  private headPattern(layer: number, head: number): HTMLElement[] {
    const m = this.model;
    const trait = m.get("head_attention");
    const position = m.get("position");
    const mine = trait.layer === layer && trait.head === head && trait.position === position;
    if (mine && trait.missing) return [el("p", "lxw-muted lxw-missing", trait.missing)];
    const weights = mine ? this.cached("head", [trait], () => wireTensor(trait)) : null;
    if (!weights) return [el("p", "lxw-muted", "Computing where this head reads from\u2026")];
    const tokens = m.get("tokens");
    const order = Array.from({ length: weights.shape[0] }, (_, k) => k).sort((a, b) => weights.value(b) - weights.value(a)).slice(0, 8);
    const table = el("table", "lxw-head-pattern");
    for (const k of order) {
      const w = weights.value(k);
      const fill = el("div", "lxw-bar-fill");
      fill.style.width = `${Math.max(1, w * 100)}%`;
      const bar = el("td", "lxw-barcell");
      bar.appendChild(fill);
      const tr = el("tr");
      tr.append(el("td", "lxw-muted", `#${k}`), el("td", "", quoted(tokens[k] ?? "", 30)), bar, el("td", "lxw-num", w.toFixed(3)));
      table.appendChild(tr);
    }
    return [el("p", "", `Where it reads from at #${position} ${quoted(tokens[position] ?? "")} (largest attention weights):`), table];
  }
}

export default paneModule("contributions", ContributionPane, [ensureBlocksStyle]);
