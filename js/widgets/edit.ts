// EditView frontend: what a rank-one fact edit changed. The edit's summary, the new and old
// answers' probabilities before (light) and after (solid) on the prompt, paraphrases and neighbour
// prompts with CounterFact's scores, the greedy continuations, the optimisation's probability per
// step and, when causal tracing chose the block, its score per block. Apply / Revert write the
// edit into the model and take it out. Text via textContent only. Synced state:
// llmxai_widgets/widgets/edit.py.
import { quoted } from "../core/blocks";
import { addStyleOnce, el } from "../core/dom";
import { displayToken } from "../core/layout";
import { LineChart } from "../core/linechart";
import { WidgetModel } from "../core/model";
import { Pane, PaneState, paneModule } from "../core/pane";

type Row = { prompt: string; kind: string; p_new_before: number; p_new_after: number; p_old_before: number;
  p_old_after: number; top_before: string; top_after: string };
type Generation = { kind: string; prompt: string; before: string; after: string };
export type EditState = PaneState & {
  prompt: string; subject: string; new_target: string; old_target: string; layer: number; layer_from: string;
  covariance: string; trace: number[]; target_prob: number[]; rows: Row[];
  scores: { efficacy?: number | null; generalisation?: number | null; specificity?: number | null };
  generations: Generation[]; applied: boolean; seconds: number;
};
type Model = WidgetModel<EditState>;

const NEW = "#c62828";
const OLD = "#1565c0";
const SCORES: Array<[keyof EditState["scores"], string, string]> = [
  ["efficacy", "prompt", "the prompt now prefers the new answer"],
  ["generalisation", "paraphrase", "paraphrases of it prefer the new answer"],
  ["specificity", "neighbour", "other subjects with the old answer still prefer it"],
];

const CSS = `
.lxw-edit-summary { margin: 4px 0 8px; font-size: 13px; }
.lxw-edit-summary b { font-weight: 600; }
.lxw-edit-table { border-collapse: collapse; font-size: 12px; margin-bottom: 6px; }
.lxw-edit-table th { text-align: left; font-weight: 600; padding: 2px 8px 2px 0; }
.lxw-edit-table td { padding: 2px 8px 2px 0; vertical-align: middle; }
.lxw-edit-table td.lxw-kind { color: var(--jp-ui-font-color2, #616161); }
.lxw-edit-table td.lxw-num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.lxw-edit-table td.lxw-edit-prompt, .lxw-edit-table td.lxw-edit-top { overflow-wrap: anywhere; min-width: 8em; }
.lxw-edit-bars { width: 90px; }
.lxw-edit-bars div { height: 6px; margin: 1px 0; border-radius: 1px; }
.lxw-edit-scores { display: flex; gap: 18px; flex-wrap: wrap; margin: 6px 0 10px; font-size: 12px; }
.lxw-edit-scores b { font-size: 14px; font-variant-numeric: tabular-nums; }
.lxw-edit-gen { font-size: 12px; margin: 4px 0 8px; max-width: 900px; }
.lxw-edit-gen { overflow-wrap: anywhere; }
.lxw-edit-gen .lxw-edit-text { white-space: pre-wrap; word-break: break-word; }
.lxw-edit-lower { display: flex; gap: 18px; flex-wrap: wrap; align-items: flex-start; }
.lxw-edit-apply.lxw-on { background: var(--jp-warn-color1, #f57c00); color: #fff; }
`;

function bars(before: number, after: number, color: string): HTMLElement {
  const box = el("div", "lxw-edit-bars");
  const light = el("div");
  light.style.cssText = `width:${Math.max(0, Math.min(1, before)) * 100}%;background:${color};opacity:0.35`;
  const solid = el("div");
  solid.style.cssText = `width:${Math.max(0, Math.min(1, after)) * 100}%;background:${color}`;
  box.append(light, solid);
  return box;
}

class EditPane extends Pane<EditState> {
  private apply = el("button", "lxw-edit-apply", "Apply to the model");
  private summary = el("div", "lxw-edit-summary");
  private table = el("table", "lxw-edit-table");
  private scores = el("div", "lxw-edit-scores");
  private gens = el("div");
  private fit = new LineChart();
  private trace = new LineChart();
  private caption = el("div", "lxw-muted lxw-caption");

  constructor(model: Model) {
    super(model, "lxw-edit");
    this.apply.title = "Write the edit into the model's weights (every later computation sees it); click again to revert bit for bit";
    this.apply.addEventListener("click", () => this.set("applied", !this.model.get("applied")));
    const exporting = this.exportButtons({
      svg: "Download the before/after table as a vector figure, drawn by the same code as view.save()",
      png: "Download the before/after table as a PNG, drawn by the same code as view.save()",
    });
    const lower = el("div", "lxw-edit-lower");
    lower.append(this.fit.node, this.trace.node);
    this.root.append(this.toolbar("Fact edit (ROME)", this.apply, exporting), this.errors.node, this.summary, this.table,
      this.scores, this.gens, lower, this.caption);
    this.fit.describe = (i) => [["step", String(i + 1)], ["p(new)", (this.model.get("target_prob")[i] ?? NaN).toFixed(4)]];
    this.trace.describe = (i) => [["block", String(i)], ["restored", (this.model.get("trace")[i] ?? NaN).toFixed(4)]];
    this.watch(["rows", "scores", "generations", "applied", "target_prob", "trace", "layer", "old_target", "status"]);
  }

  protected paint(): void {
    const m = this.model;
    const applied = m.get("applied");
    this.apply.textContent = applied ? "Applied: revert" : "Apply to the model";
    this.apply.classList.toggle("lxw-on", applied);
    const saved = (m as Model & { standalone?: boolean }).standalone === true;
    this.apply.disabled = saved || (m.get("status") !== "ready" && m.get("status") !== "cancelled");
    if (saved) this.apply.title = "This saved page has no Python kernel: it shows the edit but cannot change a model";
    this.apply.dataset.applied = String(applied);
    const old = m.get("old_target");
    this.summary.replaceChildren(
      el("b", "", quoted(m.get("subject"), 40)), document.createTextNode(": "),
      el("span", "", old ? quoted(old) : "\u2026"), document.createTextNode(" \u2192 "), el("b", "", quoted(m.get("new_target"))),
      document.createTextNode(m.get("layer") >= 0 ? `, MLP output projection of block ${m.get("layer")} (${m.get("layer_from")}; ` +
        `covariance: ${m.get("covariance")})` : ""));
    this.drawTable(old);
    this.drawScores();
    this.drawGenerations();
    this.drawCharts();
    this.caption.textContent = "ROME reads the MLP at the subject's last token as a key-value memory and changes its output " +
      "projection by a rank-one update so that this key maps to a value that makes the model say the new answer. " +
      "Bars: probability before (light) and after (solid) the edit. CounterFact's scores count only which answer is " +
      "more probable; a neighbour can keep its answer and still lose most of its probability (compare its bars), " +
      "which is how edits bleed into related facts.";
  }

  private drawTable(old: string): void {
    const m = this.model;
    const rows = m.get("rows");
    if (!rows.length) {
      this.table.replaceChildren(el("caption", "lxw-muted", m.get("status") === "computing" ? "Computing the edit\u2026" : ""));
      return;
    }
    const head = el("tr");
    for (const [text, color] of [["", ""], ["", ""], [`p(${quoted(m.get("new_target"))})`, NEW], ["", ""],
      [`p(${quoted(old)})`, OLD], ["", ""], ["top next token", ""]]) {
      const th = el("th", "", text);
      if (color) th.style.color = color;
      head.append(th);
    }
    this.table.replaceChildren(head, ...rows.map((r) => {
      const tr = el("tr");
      tr.dataset.kind = r.kind;
      tr.append(el("td", "lxw-kind", r.kind), el("td", "lxw-edit-prompt", displayToken(r.prompt, 200)),
        el("td", "", ""), el("td", "lxw-num", `${r.p_new_before.toFixed(3)} \u2192 ${r.p_new_after.toFixed(3)}`),
        el("td", "", ""), el("td", "lxw-num", `${r.p_old_before.toFixed(3)} \u2192 ${r.p_old_after.toFixed(3)}`),
        el("td", "lxw-edit-top", `${quoted(r.top_before)} \u2192 ${quoted(r.top_after)}`));
      tr.children[2].append(bars(r.p_new_before, r.p_new_after, NEW));
      tr.children[4].append(bars(r.p_old_before, r.p_old_after, OLD));
      return tr;
    }));
  }

  private drawScores(): void {
    const scores = this.model.get("scores");
    this.scores.replaceChildren(...SCORES.filter(([name]) => scores[name] !== undefined && scores[name] !== null).map(([name, kind, what]) => {
      const box = el("span");
      box.dataset.score = name;
      box.title = `${what} (the share of ${kind} prompts)`;
      box.append(el("span", "lxw-muted", `${name} `), el("b", "", (scores[name] as number).toFixed(2)));
      return box;
    }));
  }

  private drawGenerations(): void {
    this.gens.replaceChildren(...this.model.get("generations").map((g) => {
      const box = el("div", "lxw-edit-gen");
      box.append(el("div", "lxw-muted", `${g.kind}: ${displayToken(g.prompt, 200)}`));
      for (const [when, text] of [["before", g.before], ["after", g.after]]) {
        const line = el("div");
        // the display rule: no raw bidi, zero-width or control character, no 10,000-character line
        line.append(el("span", "lxw-muted", `${when}: `), el("span", "lxw-edit-text", displayToken(text, 400)));
        line.dataset.when = when;
        box.append(line);
      }
      return box;
    }));
  }

  private drawCharts(): void {
    const m = this.model;
    const style = getComputedStyle(this.root);
    const common = { width: 320, height: 170, logDecades: 0, textColor: style.color || "#000",
      mutedColor: style.getPropertyValue("--jp-ui-font-color2").trim() || "#616161", fontFamily: style.fontFamily || "sans-serif" };
    const prob = m.get("target_prob");
    this.fit.node.style.display = prob.length ? "" : "none";
    if (prob.length) {
      this.fit.render({ ...common, title: "Optimising the value", labels: prob.map((_, i) => String(i + 1)),
        series: [{ values: prob, color: NEW, label: `p(${quoted(m.get("new_target"))}) per step` }] });
    }
    const trace = m.get("trace");
    this.trace.node.style.display = trace.length ? "" : "none";
    if (trace.length) {
      const top = Math.max(...trace.map((v) => (Number.isFinite(v) ? Math.abs(v) : 0)), 1e-9);
      this.trace.render({ ...common, title: `Causal tracing chose block ${m.get("layer")}`, labels: trace.map((_, i) => `L${i}`),
        series: [{ values: trace.map((v) => Math.max(0, v) / top), color: "#6a1b9a", label: "MLP restored at the subject (scaled to the largest)" }] });
    }
  }
}

export default paneModule("edit", EditPane, [() => addStyleOnce("llmxai-widgets-edit-style", CSS)]);
