// How faithful explanations are, drawn: the table (a row per method, then the random ranking and
// the leave-one-out oracle), the deletion and insertion curves under one legend, and the methods'
// agreement matrix. Used by EvaluationView and AttributionView's Evaluate tab. The figure twin is
// llmxai_widgets/figures/evaluation.py; the data is FaithfulnessResult.to_json()
// (llmxai_widgets/methods/evaluate/faithfulness.py).
import { addStyleOnce, el } from "./dom";
import { jsonToken } from "./layout";
import { LineChart, Series } from "./linechart";

export type RankingJson = {
  aopc_comprehensiveness: number | null; aopc_sufficiency: number | null;
  deletion_auc: number | null; insertion_auc: number | null;
  comprehensiveness: Array<number | null>; sufficiency: Array<number | null>;
  deletion: Array<number | null>; insertion: Array<number | null>;
};
export type TargetJson = { target: number; text: string; full: number; positions: number[];
  explanation: RankingJson; random: RankingJson | null; loo: RankingJson | null };
export type EvaluationJson = { method: string; bins: number[]; bins_name: string; mode: string;
  replacement: string | null; targets: TargetJson[] };
export type AgreementJson = { methods: string[]; k: number; spearman: number[][]; kendall: number[][]; top_k: number[][] };
export type Ranking = { name: string; data: RankingJson; color: string; dashed: boolean };

/** Okabe & Ito's colour-blind-safe palette, one per method (figures/evaluation.py METHOD_COLORS). */
export const COLORS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442"];
const RANDOM = "#8c8c8c";
const ORACLE = "#7b3294";
/** [key, header]: the header's two lines split at "|" (figures/evaluation.py COLUMNS). */
export const COLUMNS: Array<[string, string]> = [["aopc_comprehensiveness", "AOPC|comp. \u2191"],
  ["aopc_sufficiency", "AOPC|suff. \u2193"], ["deletion_auc", "deletion|AUC \u2193"], ["insertion_auc", "insertion|AUC \u2191"]];
export const MEASURES: Array<[string, string]> = [["spearman", "Spearman's \u03c1"], ["kendall", "Kendall's \u03c4-b"],
  ["top_k", "top-k overlap"]];

/** The rows for ``target``: each method, then random and the oracle (whichever evaluation has them). */
export function rankingsOf(evaluations: EvaluationJson[], target: number): Ranking[] {
  const out: Ranking[] = evaluations.filter((e) => e.targets[target]).map((e, m) => ({
    name: e.method.replace(/_/g, " "), data: e.targets[target].explanation, color: COLORS[m % COLORS.length], dashed: false }));
  const extra: Array<["random" | "loo", string, string]> = [["random", "random ranking", RANDOM], ["loo", "leave-one-out (oracle)", ORACLE]];
  for (const [key, name, color] of extra) {
    const found = evaluations.map((e) => e.targets[target]?.[key]).find((r) => r);
    if (found) out.push({ name, data: found, color, dashed: true });
  }
  return out;
}

export function formatValue(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? "\u2013" : v.toFixed(3);
}

/** -1 (orange) .. 0 (white) .. 1 (blue), as the figure (figures/evaluation.py _agreement_rgb). */
export function agreementRgb(v: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, v));
  const end = t >= 0 ? [0, 114, 178] : [230, 159, 0];
  const a = Math.abs(t);
  return end.map((e) => Math.round(255 + (e - 255) * a)) as [number, number, number];
}

const CSS = `
.lxw-eval-table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 4px 0; }
.lxw-eval-table th { font-weight: normal; color: var(--jp-ui-font-color2, #616161); font-size: 12px; text-align: right;
  padding: 0 10px; line-height: 1.2; vertical-align: bottom; }
.lxw-eval-table td { text-align: right; padding: 2px 10px; }
.lxw-eval-table td.lxw-eval-name { text-align: left; white-space: nowrap; }
.lxw-eval-swatch { display: inline-block; width: 16px; height: 0; border-top: 3px solid; margin-right: 6px; vertical-align: middle; }
.lxw-eval-swatch.lxw-dashed { border-top-style: dashed; }
.lxw-eval-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; margin: 12px 0 2px;
  color: var(--jp-ui-font-color2, #616161); }
.lxw-eval-charts { display: flex; flex-wrap: wrap; gap: 16px; }
.lxw-eval-note { font-size: 12px; max-width: 760px; margin: 2px 0 6px; }
.lxw-eval-agreement { margin-top: 16px; }
.lxw-agree { border-collapse: separate; border-spacing: 2px; font-variant-numeric: tabular-nums; margin-top: 4px; }
.lxw-agree th { font-weight: normal; font-size: 12px; color: var(--jp-ui-font-color2, #616161); padding: 0 4px; }
.lxw-agree th.lxw-agree-row { text-align: left; color: var(--jp-ui-font-color1, #1a1a1a); font-size: 13px; }
.lxw-agree td { min-width: 56px; text-align: center; padding: 4px 6px; border-radius: 2px; }
`;

export function ensureEvaluationStyle(): void {
  addStyleOnce("llmxai-widgets-evaluation-style", CSS);
}

function swatch(color: string, dashed: boolean): HTMLElement {
  const s = el("span", `lxw-eval-swatch${dashed ? " lxw-dashed" : ""}`);
  s.style.borderTopColor = color;
  return s;
}

/** The table and the two curves of one target. */
export class EvaluationPanel {
  readonly node = el("div", "lxw-eval");
  readonly table = el("table", "lxw-eval-table");
  private head = el("div", "lxw-muted lxw-eval-note");
  private note = el("div", "lxw-muted lxw-eval-note");
  private legend = el("div", "lxw-eval-legend");
  readonly deletion = new LineChart();
  readonly insertion = new LineChart();

  constructor() {
    const charts = el("div", "lxw-eval-charts");
    charts.append(this.deletion.node, this.insertion.node);
    this.node.append(this.head, this.table, this.note, this.legend, charts,
      el("div", "lxw-muted lxw-eval-note", "y: probability of the target; x: share of the tokens, in the ranking's order."));
  }

  /** Draw ``target`` of ``evaluations``; ``plausibility[m][target]`` adds token F1 and AUPRC columns. */
  render(evaluations: EvaluationJson[], target: number, plausibility: Array<Array<Record<string, number>>> | null,
    width: number, style: CSSStyleDeclaration, modelName: string): void {
    const first = evaluations[0];
    const entry = first?.targets[target];
    this.node.style.display = entry ? "" : "none";
    if (!first || !entry) return;
    const bins = first.bins.map((b) => `${+(b * 100).toPrecision(3)}%`).join(", ");
    const how = first.mode === "remove" ? "removed" : `replaced by ${jsonToken(first.replacement ?? "", 30)}`;
    this.head.textContent = `Faithfulness on ${modelName}: target ${jsonToken(entry.text, 30)} (p = ${entry.full.toFixed(3)}); ` +
      `${entry.positions.length} tokens ${how}; AOPC over bins ${bins} (${first.bins_name}).`;
    const rows = rankingsOf(evaluations, target);
    const columns = [...COLUMNS];
    const plaus = !!plausibility && plausibility.length > 0;
    if (plaus) columns.push(["token_f1", "token|F1"], ["auprc", "|AUPRC"]);
    this.table.replaceChildren();
    const header = el("tr");
    header.appendChild(el("th"));
    for (const [key, label] of columns) {
      const th = el("th");
      th.dataset.key = key;
      label.split("|").forEach((part, i) => { if (i) th.appendChild(el("br")); th.appendChild(document.createTextNode(part)); });
      header.appendChild(th);
    }
    this.table.appendChild(header);
    rows.forEach((r, i) => {
      const tr = el("tr");
      tr.dataset.ranking = r.name;
      const name = el("td", "lxw-eval-name");
      name.append(swatch(r.color, r.dashed), document.createTextNode(r.name));
      tr.appendChild(name);
      for (const [key] of columns) {
        const value = key === "token_f1" || key === "auprc"
          ? (r.dashed ? null : plausibility?.[i]?.[target]?.[key] ?? null)
          : (r.data as unknown as Record<string, number | null>)[key];
        const td = el("td", "", formatValue(value));
        td.dataset.key = key;
        if (value !== null && value !== undefined) td.dataset.value = String(value);
        tr.appendChild(td);
      }
      this.table.appendChild(tr);
    });
    this.note.textContent = "\u2191 higher is more faithful, \u2193 lower is. Comprehensiveness: the drop in the target's probability " +
      "when the top tokens are removed; sufficiency: the drop when only they are kept (ERASER, DeYoung et al. 2020); " +
      "deletion/insertion: the probability as the top tokens are removed / put back (Petsiuk et al. 2018)." +
      (plaus ? " Token F1 and AUPRC: agreement with the person's rationale." : "");
    this.legend.replaceChildren(...rows.map((r) => {
      const item = el("span");
      item.append(swatch(r.color, r.dashed), document.createTextNode(r.name));
      return item;
    }));
    const chartW = Math.max(240, Math.min(420, (width - 24) / 2));
    const n = entry.explanation.deletion.length - 1;
    const labels = Array.from({ length: n + 1 }, (_, j) => `${Math.round((100 * j) / Math.max(n, 1))}%`);
    const charts: Array<[LineChart, "deletion" | "insertion", string]> = [
      [this.deletion, "deletion", "deletion: top tokens removed \u2192"], [this.insertion, "insertion", "insertion: top tokens put back \u2192"]];
    for (const [chart, key, title] of charts) {
      const series: Series[] = rows.map((r) => ({ values: r.data[key].map((v) => (v === null ? NaN : v)), color: r.color,
        label: r.name, dashed: r.dashed }));
      chart.describe = (j) => [[`${labels[j]} of the tokens ${key === "deletion" ? "removed" : "kept"}`, ""],
        ...series.map((s): [string, string] => [s.label, Number.isFinite(s.values[j]) ? s.values[j].toFixed(4) : "\u2013"])];
      chart.render({ labels, series, width: chartW, height: 220, logDecades: 0, title, legend: false,
        textColor: style.color || "#000", mutedColor: "#8c8c8c", fontFamily: style.fontFamily || "sans-serif" });
      chart.canvas.dataset.series = JSON.stringify(series.map((s) => ({ label: s.label, values: s.values })));
    }
  }
}

/** The agreement matrix as a table of coloured cells, the value written in each. */
export function renderAgreement(table: HTMLTableElement, agreement: AgreementJson, measure: string): void {
  table.replaceChildren();
  const values = (agreement as unknown as Record<string, number[][]>)[measure] ?? [];
  const names = agreement.methods.map((m) => m.replace(/_/g, " "));
  const head = el("tr");
  head.appendChild(el("th"));
  for (const n of names) head.appendChild(el("th", "", n));
  table.appendChild(head);
  names.forEach((name, r) => {
    const tr = el("tr");
    tr.appendChild(el("th", "lxw-agree-row", name));
    names.forEach((_, c) => {
      const v = values[r]?.[c] ?? NaN;
      const td = el("td", "", Number.isFinite(v) ? v.toFixed(2) : "\u2013");
      const [R, G, B] = agreementRgb(Number.isFinite(v) ? v : 0);
      td.style.background = `rgb(${R},${G},${B})`;
      td.style.color = 0.2126 * R + 0.7152 * G + 0.0722 * B > 140 ? "#000" : "#fff";
      td.dataset.value = String(v);
      tr.appendChild(td);
    });
    table.appendChild(tr);
  });
}
