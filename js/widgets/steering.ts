// SteeringView frontend: one column of greedy continuation per steering strength (tokens arrive
// as Python generates them), each token coloured by where the model puts it along the direction,
// a click shows the step's top candidates; the concept's probability by alpha as a line chart.
// Token text goes through textContent only. Synced state: llmxai_widgets/widgets/steering.py.
import { quoted } from "../core/blocks";
import { addStyleOnce, el } from "../core/dom";
import { ColorLegend } from "../core/legend";
import { LineChart } from "../core/linechart";
import { WidgetModel } from "../core/model";
import { tokenSpans } from "../core/neurondetail";
import { Pane, PaneState, paneModule } from "../core/pane";

type Column = { alpha: number; tokens: string[]; scores: number[]; concept: number[]; finished: boolean };
export type SteeringState = PaneState & {
  prompt: string; alphas: Array<number | string>; max_new_tokens: number; layers: number[]; read_layer: number;
  description: string; tokens: string[]; prompt_scores: number[]; columns: Column[];
  top: Array<Array<Array<[string, number]>>>; concept: string[]; curve: { alphas?: number[]; probability?: number[] };
  score_center: number; score_scale: number; picked: { column?: number; step?: number };
};
type Model = WidgetModel<SteeringState>;

const CSS = `
.lxw-steer-inputs { display: inline-flex; align-items: center; gap: 6px; }
.lxw-steer-inputs input.lxw-steer-alphas { width: 150px; }
.lxw-steer-prompt { margin: 4px 0 8px; line-height: 1.9; }
.lxw-steer-prompt .lxw-tok { color: var(--jp-ui-font-color2, #616161); }
.lxw-steer-grid { display: grid; gap: 10px; overflow-x: auto; max-width: 100%; padding-bottom: 4px; }
.lxw-steer-col { min-width: 140px; border-top: 3px solid var(--jp-border-color2, #e0e0e0); padding-top: 4px; }
.lxw-steer-col.lxw-zero { border-top-color: var(--jp-brand-color1, #1976d2); }
.lxw-steer-col h4 { margin: 0 0 4px; font-size: 13px; font-variant-numeric: tabular-nums; }
.lxw-steer-col .lxw-text { line-height: 1.9; font-size: 13px; white-space: pre-wrap; word-break: break-word; }
.lxw-steer-col .lxw-tok { cursor: pointer; }
.lxw-steer-col .lxw-steer-p { font-size: 11px; }
.lxw-steer-lower { display: flex; gap: 18px; align-items: flex-start; flex-wrap: wrap; margin-top: 10px; }
.lxw-steer-detail { flex: 1 1 240px; max-width: 360px; font-size: 12px; }
.lxw-steer-detail table { border-collapse: collapse; }
.lxw-steer-detail td { padding: 1px 8px 1px 0; white-space: pre; font-variant-numeric: tabular-nums; }
`;

/** ``α = +4`` as figures/steering.py ``alpha_label`` writes it. */
export function alphaLabel(alpha: number): string {
  return alpha ? `\u03b1 = ${alpha > 0 ? "+" : "\u2212"}${Math.abs(alpha)}` : "\u03b1 = 0";
}

/** The alphas box's text as the list Python validates (pieces that are not numbers stay text, so
 * Python's message names them). */
/** 0 (linear axis) when the largest probability reaches 0.25, else the decades a log axis needs
 * (2 to 6): figures/steering.py ``log_decades``. */
export function logDecades(probability: number[]): number {
  const values = probability.filter((p) => Number.isFinite(p));
  if (!values.length || Math.max(...values) >= 0.25) return 0;
  return Math.min(6, Math.max(2, Math.ceil(-Math.log10(Math.max(Math.min(...values), 1e-6)))));
}

export function parseAlphas(text: string): Array<number | string> {
  return text.split(/[,\s]+/).filter((s) => s.length).map((s) => {
    const v = Number(s.replace("\u2212", "-"));
    return s.trim() !== "" && Number.isFinite(v) ? v : s;
  });
}

/** Run ``fn`` when the box's text is committed: Enter (which JupyterLab would otherwise take for
 * its own shortcut) or leaving the box after a change. */
function committed(box: HTMLInputElement, fn: () => void): void {
  box.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    e.stopPropagation();
    fn();
  });
  box.addEventListener("change", fn);
}

class SteeringPane extends Pane<SteeringState> {
  private alphasBox = el("input", "lxw-steer-alphas");
  private promptBox = el("input", "lxw-steer-prompt-box");
  private caption = el("div", "lxw-muted lxw-caption");
  private promptLine = el("div", "lxw-steer-prompt");
  private grid = el("div", "lxw-steer-grid");
  private legend = new ColorLegend(true, "");
  private chart = new LineChart();
  private detail = el("div", "lxw-steer-detail");

  constructor(model: Model) {
    super(model, "lxw-steering");
    this.alphasBox.type = "text";
    this.alphasBox.title = "Steering strengths, one column each (comma separated; negative steers away)";
    committed(this.alphasBox, () => this.set("alphas", parseAlphas(this.alphasBox.value)));
    this.promptBox.type = "text";
    this.promptBox.title = "The prompt every column continues";
    committed(this.promptBox, () => this.set("prompt", this.promptBox.value));
    const inputs = el("span", "lxw-steer-inputs");
    this.promptBox.style.width = "260px";
    inputs.append(el("span", "lxw-muted", "prompt"), this.promptBox, el("span", "lxw-muted", "\u03b1"), this.alphasBox);
    const exporting = this.exportButtons({
      svg: "Download the generations as a vector figure (text stays text), drawn by the same code as view.save()",
      png: "Download the generations as a PNG, drawn by the same code as view.save()",
    });
    const lower = el("div", "lxw-steer-lower");
    lower.append(this.chart.node, this.detail);
    this.root.append(this.toolbar("Steering", inputs, exporting), this.errors.node, this.caption, this.promptLine,
      this.grid, this.legend.node, lower);
    this.chart.describe = (i) => {
      const c = this.model.get("curve");
      return [["alpha", String(c.alphas?.[i] ?? "")], ["P(concept)", (c.probability?.[i] ?? NaN).toFixed(4)]];
    };
    this.watch(["columns", "top", "curve", "picked", "prompt_scores", "tokens", "score_scale", "score_center", "alphas", "prompt", "status",
      "description"]);
    this.redrawOnResize(() => this.drawChart());
  }

  protected paint(): void {
    const m = this.model;
    if ((m as Model & { standalone?: boolean }).standalone === true) {
      for (const box of [this.alphasBox, this.promptBox]) {
        box.disabled = true;
        box.title = "This saved page has no Python kernel: it shows the generations made before saving";
      }
    }
    // the element being typed in (inside a shadow root, as in marimo, the document only sees its host)
    const typing = (this.root.getRootNode() as Document | ShadowRoot).activeElement ?? document.activeElement;
    if (typing !== this.alphasBox) this.alphasBox.value = m.get("alphas").join(", ");
    if (typing !== this.promptBox) this.promptBox.value = m.get("prompt");
    this.caption.textContent = `Each column continues the prompt greedily with \u03b1 \u00d7 the steering vector added after ` +
      `block ${m.get("layers").join(", ")} at every token (${m.get("description")}). A token's colour is block ` +
      `${m.get("read_layer")}'s own output at it (before the vector is added) projected on the direction: red lies further ` +
      `toward the positive examples than ${m.get("score_center") ? "the unsteered (\u03b1 = 0) text does on average" : "halfway between the examples"}, ` +
      `blue toward the negative ones. Click a token for the candidates at that step.`;
    const scale = m.get("score_scale") || 1;
    const center = m.get("score_center") ?? 0;
    const promptValues = m.get("prompt_scores").map((v) => Math.max(-scale, Math.min(scale, v - center)));
    this.promptLine.replaceChildren(el("span", "lxw-muted", "prompt: "), ...tokenSpans(m.get("tokens"), promptValues, scale, "RdBu_r", -1));
    this.drawColumns();
    this.legend.update("RdBu_r", 160, `\u2212${scale.toFixed(2)}`, `+${scale.toFixed(2)}`,
      `along the direction at block ${m.get("read_layer")} (0: ${center ? "the unsteered text's mean" : "halfway between the examples"}; 1 = half the examples' gap)`);
    this.drawChart();
    this.drawDetail();
  }

  private drawColumns(): void {
    const m = this.model;
    const columns = m.get("columns");
    const picked = m.get("picked") ?? {};
    const scale = m.get("score_scale") || 1;
    const center = m.get("score_center") ?? 0;
    this.grid.style.gridTemplateColumns = `repeat(${Math.max(1, columns.length)}, minmax(140px, 1fr))`;
    this.grid.replaceChildren(...columns.map((c, col) => {
      const box = el("div", `lxw-steer-col${c.alpha === 0 ? " lxw-zero" : ""}`);
      box.dataset.alpha = String(c.alpha);
      const mean = c.concept.length ? c.concept.reduce((a, b) => a + b, 0) / c.concept.length : NaN;
      const head = el("h4", "", alphaLabel(c.alpha));
      const text = el("div", "lxw-text");
      const values = c.scores.map((v) => Math.max(-scale, Math.min(scale, v - center)));
      const spans = tokenSpans(c.tokens.slice(0, values.length), values, scale, "RdBu_r", picked.column === col ? picked.step ?? -1 : -1);
      spans.forEach((span) => {
        if (!(span instanceof HTMLElement)) return;
        const step = Number(span.dataset.index);
        span.title = `${quoted(c.tokens[step], 40)} \u00b7 position ${c.scores[step].toFixed(3)}${m.get("top").length ? " \u00b7 click for the candidates" : ""}`;
        span.addEventListener("click", () => this.set("picked", { column: col, step }));
      });
      text.append(...spans);
      if (m.get("status") === "computing" && !c.finished) text.append(el("span", "lxw-muted", " \u2026"));
      box.append(head, text);
      if (Number.isFinite(mean)) box.append(el("div", "lxw-muted lxw-steer-p", `mean P(concept) over the steps: ${mean.toFixed(3)}`));
      return box;
    }));
    if (!columns.length) this.grid.append(el("div", "lxw-muted", m.get("status") === "computing" ? "Generating\u2026" : ""));
  }

  private drawChart(): void {
    const m = this.model;
    const curve = m.get("curve");
    this.chart.node.style.display = curve.alphas?.length ? "" : "none";
    if (!curve.alphas?.length) return;
    const style = getComputedStyle(this.root);
    this.chart.render({
      labels: curve.alphas.map((a) => String(Number(a.toFixed(3)))), width: 360, height: 190,
      logDecades: logDecades(curve.probability ?? []),
      series: [{ values: curve.probability ?? [], color: "#1976d2", label: `P(${m.get("concept").map((c) => quoted(c)).join(", ")}) next after the prompt` }],
      title: "Concept probability by \u03b1", textColor: style.color || "#000",
      mutedColor: style.getPropertyValue("--jp-ui-font-color2").trim() || "#616161", fontFamily: style.fontFamily || "sans-serif",
    });
  }

  private drawDetail(): void {
    const m = this.model;
    const { column, step } = m.get("picked") ?? {};
    const c = column !== undefined ? m.get("columns")[column] : undefined;
    if (!c || step === undefined || step >= c.tokens.length) {
      this.detail.replaceChildren(el("div", "lxw-muted", "Click a generated token to see the candidates at that step."));
      return;
    }
    const rows = m.get("top")[column!]?.[step] ?? [];
    const table = el("table");
    for (const [token, p] of rows) {
      const tr = el("tr");
      tr.append(el("td", "", quoted(token, 30)), el("td", "", p.toFixed(4)));
      table.append(tr);
    }
    this.detail.replaceChildren(el("h4", "", `${alphaLabel(c.alpha)}, token ${step + 1}: ${quoted(c.tokens[step], 30)}`),
      el("div", "", `position on the direction: ${c.scores[step]?.toFixed(3) ?? "\u2026"}`),
      rows.length ? table : el("div", "lxw-muted", "The candidates arrive when the generation ends."));
  }
}

export default paneModule("steering", SteeringPane, [() => addStyleOnce("llmxai-widgets-steering-style", CSS)]);
