// ProbeView frontend: held-out accuracy of a linear probe per layer beside the control task and
// chance (a line chart that fills in as layers are done), a last/mean switch, and for the layer
// clicked its confusion table and the texts it got wrong. Texts and labels are untrusted: they
// go through textContent only. Synced state: llmxai_widgets/widgets/probe.py (ProbeView).
import { quoted } from "../core/blocks";
import { addStyleOnce, el } from "../core/dom";
import { isDarkTheme } from "../core/export";
import { displayToken } from "../core/layout";
import { LineChart, Series } from "../core/linechart";
import { WidgetModel } from "../core/model";
import { Pane, PaneState, paneModule } from "../core/pane";

type Wrong = { index: number; text: string; label: string; predicted: string; probability: number };
type Detail = { layer?: number; accuracy?: number; confusion?: number[][]; n_wrong?: number; wrong?: Wrong[] };
type Values = Array<number | null>;
export type ProbeState = PaneState & {
  dataset: string; layers: number[]; classes: string[]; class_counts: number[]; chance: number; position: "last" | "mean";
  n_texts: number; folds: number; control: boolean; accuracy: Values; control_accuracy: Values; selectivity: Values;
  done: boolean[]; picked_layer: number; detail: Detail;
};
type Model = WidgetModel<ProbeState>;

/** The series' colours: llmxai_widgets/figures/probe.py. */
const COLORS = { accuracy: "#1976d2", control: "#e65100", chance: "#8c8c8c", selectivity: "#2e7d32" };
const POSITIONS: Array<[ProbeState["position"], string, string]> = [
  ["last", "last token", "Probe the residual stream at each text's last token"],
  ["mean", "mean over tokens", "Probe the residual stream averaged over each text's tokens"],
];

const CSS = `
.lxw-probe-switch { display: inline-flex; align-items: center; gap: 2px; }
.lxw-probe-body { display: flex; gap: 20px; align-items: flex-start; flex-wrap: wrap; margin-top: 8px; }
.lxw-probe-detail { flex: 1 1 420px; max-width: 600px; font-size: 12px; }
.lxw-probe-detail h4 { margin: 0 0 6px; font-size: 13px; }
.lxw-probe-detail table { border-collapse: collapse; }
.lxw-probe-confusion th, .lxw-probe-confusion td { padding: 3px 10px; text-align: center; font-variant-numeric: tabular-nums; }
.lxw-probe-confusion th { font-weight: 600; max-width: 140px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.lxw-probe-confusion th.lxw-probe-rowhead { text-align: left; }
.lxw-probe-confusion td { border: 1px solid var(--jp-border-color2, #e0e0e0); min-width: 36px; }
.lxw-probe-confusion td.lxw-probe-right { font-weight: 700; }
.lxw-probe-wrong { margin-top: 10px; max-height: 260px; overflow-y: auto; }
.lxw-probe-wrong td { padding: 2px 10px 2px 0; vertical-align: top; }
.lxw-probe-wrong td.lxw-probe-tag { white-space: nowrap; color: var(--jp-ui-font-color2, #616161); }
.lxw-probe-wrong td.lxw-probe-p { font-variant-numeric: tabular-nums; color: var(--jp-ui-font-color2, #616161); }
.lxw-probe-wrong td.lxw-probe-text { white-space: pre-wrap; word-break: break-word; }
.lxw-probe-switch-label { margin-right: 4px; }
`;

/** A value per layer as the chart draws it: null (not done yet) is NaN, absent from the chart. */
function numbers(values: Values | undefined, n: number): number[] {
  return Array.from({ length: n }, (_, i) => values?.[i] ?? NaN);
}

function fixed(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "\u2026" : v.toFixed(digits);
}

class ProbePane extends Pane<ProbeState> {
  private switches = el("span", "lxw-probe-switch");
  private caption = el("div", "lxw-muted lxw-caption");
  private chart = new LineChart();
  private detail = el("div", "lxw-probe-detail");

  constructor(model: Model) {
    super(model, "lxw-probe");
    this.switches.append(el("span", "lxw-muted lxw-probe-switch-label", "position"));
    for (const [value, label, title] of POSITIONS) {
      const button = el("button", "lxw-tab", label);
      button.dataset.position = value;
      button.title = title;
      button.addEventListener("click", () => { if (this.model.get("position") !== value) this.set("position", value); });
      this.switches.append(button);
    }
    const exporting = this.exportButtons({
      svg: "Download the chart (and the picked layer's table) as a vector figure (text stays text), drawn by the same code as view.save()",
      png: "Download the chart (and the picked layer's table) as a PNG, drawn by the same code as view.save()",
    });
    const body = el("div", "lxw-probe-body");
    body.append(this.chart.node, this.detail);
    this.root.append(this.toolbar("Linear probe", this.switches, exporting), this.errors.node, this.caption, body);
    this.chart.describe = (i) => this.describeLayer(i);
    this.chart.onPick = (i) => {
      const layer = this.model.get("layers")[i];
      if (layer !== undefined) this.set("picked_layer", layer);
    };
    this.watch(["layers", "classes", "chance", "position", "accuracy", "control_accuracy", "selectivity", "done", "picked_layer",
      "detail", "status", "dataset"]);
    this.redrawOnResize(() => this.drawChart());
  }

  protected paint(): void {
    const m = this.model;
    for (const button of this.switches.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.position === m.get("position")));
    }
    const classes = m.get("classes").map((c) => quoted(c, 20)).join(", ");
    const folds = m.get("folds");
    const where = m.get("position") === "last" ? "at each text's last token" : "averaged over each text's tokens";
    const source = m.get("dataset") ? ` (the ${m.get("dataset")} set)` : "";
    const control = m.get("control") ? ` Orange: the control task (Hewitt & Liang), the same probe on a random label per word` +
      ` type; where it scores as high, the probe is memorising, so read the gap (selectivity, green), not the height.` : "";
    this.caption.textContent = `Each point: how often a logistic-regression probe reads the label (${classes}) of` +
      ` ${m.get("n_texts")} texts${source} from the residual stream after that block, ${where}, held out (each text is` +
      ` predicted by a probe trained on the other ${Math.max(1, folds - 1)} of ${folds} folds). Decodable is not used: the model` +
      ` need not rely on a layer the label can be read from.${control} Grey: chance, the largest class's share` +
      ` (${fixed(m.get("chance"))}). Hover a layer for its numbers; click one for its confusion table and mistakes.`;
    this.drawChart();
    this.drawDetail();
  }

  private drawChart(): void {
    const m = this.model;
    const layers = m.get("layers");
    const n = layers.length;
    const selectivity = numbers(m.get("selectivity"), n);
    const series: Series[] = [{ values: numbers(m.get("accuracy"), n), color: COLORS.accuracy, label: "held-out accuracy" }];
    if (m.get("control")) series.push({ values: numbers(m.get("control_accuracy"), n), color: COLORS.control, label: "control task", dashed: true });
    series.push({ values: layers.map(() => m.get("chance")), color: COLORS.chance, label: "chance", dashed: true });
    if (m.get("control")) {
      const below = selectivity.some((v) => v < 0);
      series.push({ values: selectivity, color: COLORS.selectivity, label: below ? "selectivity (< 0 drawn at 0)" : "selectivity", dashed: true });
    }
    const style = getComputedStyle(this.root);
    const available = (this.root.clientWidth || 900) - 420 - 20; // the detail panel beside it
    this.chart.marked = layers.indexOf(m.get("picked_layer"));
    this.chart.render({
      labels: layers.map((l) => `L${l}`), series, width: Math.min(720, Math.max(470, available)), height: 260, logDecades: 0,
      title: "Probe accuracy by layer", textColor: style.color || "#000",
      mutedColor: isDarkTheme() ? "#a0a0a0" : "#666666", fontFamily: style.fontFamily || "sans-serif",
    });
    this.chart.canvas.dataset.layers = layers.join(",");
    this.chart.canvas.dataset.xs = this.chart.layout?.xs.map((x) => x.toFixed(1)).join(",") ?? "";
    this.chart.canvas.dataset.done = m.get("done").filter(Boolean).length.toString();
  }

  private describeLayer(i: number): Array<[string, string]> {
    const m = this.model;
    const layer = m.get("layers")[i];
    if (m.get("accuracy")[i] === null || m.get("accuracy")[i] === undefined) {
      return [["layer", `L${layer}`], ["", m.get("status") === "computing" ? "not done yet" : "not computed"]];
    }
    const lines: Array<[string, string]> = [["layer", `L${layer}`], ["accuracy", fixed(m.get("accuracy")[i])]];
    if (m.get("control")) {
      lines.push(["control task", fixed(m.get("control_accuracy")[i])], ["selectivity", fixed(m.get("selectivity")[i])]);
    }
    lines.push(["chance", fixed(m.get("chance"))], ["", "click for its confusion table"]);
    return lines;
  }

  private drawDetail(): void {
    const m = this.model;
    const picked = m.get("picked_layer");
    const d = m.get("detail") ?? {};
    delete this.detail.dataset.layer;
    if (picked < 0) {
      this.detail.replaceChildren(el("p", "lxw-muted", "Click a layer on the chart to see its confusion table and the texts its probe got wrong."));
      return;
    }
    if (d.layer !== picked || !d.confusion) {
      const why = m.get("status") === "computing" ? "its probe is still being fit\u2026" : "its probe was not fit (cancelled); run the cell again.";
      this.detail.replaceChildren(el("h4", "", `L${picked}`), el("p", "lxw-muted", why));
      return;
    }
    this.detail.dataset.layer = String(picked);
    const classes = m.get("classes");
    const total = d.confusion.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
    const heading = el("h4", "", `L${picked}: held-out accuracy ${fixed(d.accuracy)} (${total - (d.n_wrong ?? 0)} of ${total} right)`);
    this.detail.replaceChildren(heading, this.confusionTable(classes, d.confusion), ...this.wrongList(d));
  }

  private confusionTable(classes: string[], counts: number[][]): HTMLElement {
    const table = el("table", "lxw-probe-confusion");
    const head = el("tr");
    head.append(el("th", "lxw-muted lxw-probe-rowhead", "true \u2193 / predicted \u2192"));
    for (const c of classes) {
      const th = el("th", "", displayToken(c, 18));
      th.title = quoted(c, 40);
      head.append(th);
    }
    table.append(head);
    const top = Math.max(1, ...counts.flat());
    counts.forEach((row, r) => {
      const tr = el("tr");
      const th = el("th", "lxw-probe-rowhead", displayToken(classes[r] ?? "", 18));
      th.title = quoted(classes[r] ?? "", 40);
      tr.append(th);
      row.forEach((count, c) => {
        const td = el("td", r === c ? "lxw-probe-right" : "", String(count));
        const color = r === c ? COLORS.accuracy : COLORS.control;
        const alpha = count ? Math.round((0.12 + 0.4 * (count / top)) * 255).toString(16).padStart(2, "0") : "00";
        td.style.background = `${color}${alpha}`;
        Object.assign(td.dataset, { row: String(r), col: String(c) });
        td.title = `${count} text${count === 1 ? "" : "s"} labelled ${quoted(classes[r] ?? "")} predicted ${quoted(classes[c] ?? "")}`;
        tr.append(td);
      });
      table.append(tr);
    });
    return table;
  }

  private wrongList(d: Detail): HTMLElement[] {
    const wrong = d.wrong ?? [];
    const n = d.n_wrong ?? wrong.length;
    if (!n) return [el("p", "lxw-muted", "The probe got every text right at this layer.")];
    const more = wrong.length < n ? ` (the ${wrong.length} most confident shown)` : "";
    const note = el("p", "", `${n} text${n === 1 ? "" : "s"} wrong, most confident mistakes first${more} (true \u2192 predicted, its probability):`);
    const table = el("table");
    for (const w of wrong) {
      const tr = el("tr");
      const tag = el("td", "lxw-probe-tag", `${displayToken(w.label, 16)} \u2192 ${displayToken(w.predicted, 16)}`);
      const p = el("td", "lxw-probe-p", w.probability.toFixed(2));
      tag.title = p.title = `labelled ${quoted(w.label)}; the held-out probe gave ${quoted(w.predicted)} probability ${w.probability.toFixed(4)}`;
      tr.append(tag, p, el("td", "lxw-probe-text", displayToken(w.text, 200)));  // as the figure shows it
      tr.dataset.index = String(w.index);
      table.append(tr);
    }
    const box = el("div", "lxw-probe-wrong");
    box.append(table);
    return [note, box];
  }
}

export default paneModule("probe", ProbePane, [() => addStyleOnce("llmxai-widgets-probe-style", CSS)]);
