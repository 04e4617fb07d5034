// LogitLensView frontend. Synced state: llmxai_widgets/widgets/logit_lens.py (LogitLensView).
import { Legend, TargetPicker, ensureBlocksStyle, quoted } from "../core/blocks";
import { CellGrid, GridCell } from "../core/cellgrid";
import { colorIndex } from "../core/colors";
import { addOptions, el } from "../core/dom";
import { isDarkTheme } from "../core/export";
import { displayToken } from "../core/layout";
import { LensData, LensTraits, formatProb, rowLabel, stepWindow } from "../core/lens";
import { LineChart } from "../core/linechart";
import { WidgetModel } from "../core/model";
import { Pane, PaneState, paneModule } from "../core/pane";

export type LogitLensState = PaneState & LensTraits & {
  tokens: string[];
  layer_labels: string[];
  top_k: number;
  window_start: number;
  window_size: number;
  selected: number;
  target: string;
  colormap: string;
};
type Model = WidgetModel<LogitLensState>;
const WINDOW_SIZES = [8, 12, 16, 24, 32, 48]; // widgets/logit_lens.py WINDOW_SIZES
const TARGET = "#1976d2";
const LOG_DECADES = 6;
const MIN_CELL = 50;

class LensPane extends Pane<LogitLensState> {
  private picker = new TargetPicker("Follow", (token) => this.set("target", token));
  private windowBox = el("span", "lxw-window");
  private slider = el("input");
  private windowLabel = el("span", "lxw-muted");
  private sizeSelect = el("select", "lxw-window-size");
  private logBox = el("input");
  private grid = new CellGrid();
  private legend = new Legend();
  private chart = new LineChart();
  private detail = el("div", "lxw-detail");
  private caption = el("div", "lxw-muted lxw-caption lxw-blocks-caption");
  private picked: { row: number; position: number } | null = null;

  constructor(model: Model) {
    super(model, "lxw-lens");
    this.build();
    this.watch(["positions", "top_probs", "target_probs", "vocab", "selected", "target", "window_start", "window_size", "tokens",
      "colormap", "status", "progress", "progress_label"]);
    this.redrawOnResize();
    this.grid.describe = (cell) => this.describe(cell);
    this.grid.onPick = (cell) => this.pick(cell);
    this.chart.describe = (i) => this.describeLayer(i);
  }

  private build(): void {
    const back = el("button", "lxw-window-back", "\u25C0");
    const forward = el("button", "lxw-window-forward", "\u25B6");
    back.title = "Earlier tokens";
    forward.title = "Later tokens";
    const step = (sign: number) => {
      const size = this.model.get("window_size");
      const start = stepWindow(this.model.get("window_start"), sign * Math.max(1, Math.floor(size / 2)), size, this.model.get("tokens").length);
      this.set("window_start", start);
    };
    back.addEventListener("click", () => step(-1));
    forward.addEventListener("click", () => step(1));
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.title = "Move the window of positions shown (each window is computed when it is shown)";
    this.slider.addEventListener("change", () => this.set("window_start", Number(this.slider.value)));
    addOptions(this.sizeSelect, WINDOW_SIZES.map((n) => [String(n), `${n} tokens`] as [string, string]));
    this.sizeSelect.title = "How many positions to compute and show at once";
    this.sizeSelect.addEventListener("change", () => this.set("window_size", Number(this.sizeSelect.value)));
    this.windowBox.append(back, this.slider, forward, this.windowLabel, this.sizeSelect);
    this.logBox.type = "checkbox";
    this.logBox.addEventListener("change", () => this.draw());
    const log = el("label", "", "");
    log.append(this.logBox, document.createTextNode("log scale"));
    log.title = "Draw the chart's probabilities on a log scale (six decades)";
    const exporting = this.exportButtons({
      svg: "Download the grid and chart on screen as a vector figure (text stays text), drawn by the same code as view.save()",
      png: "Download the grid and chart on screen as a PNG, drawn by the same code as view.save()",
    }, () => ({ log: this.logBox.checked }));
    const bar = this.toolbar("Logit lens", this.picker.node, this.windowBox, exporting);
    const gridBox = el("div", "lxw-blocks-grid");
    gridBox.append(this.grid.node, this.legend.node);
    const lower = el("div", "lxw-blocks-body");
    const chartBox = el("div");
    chartBox.append(this.chart.node, log);
    lower.append(chartBox, this.detail);
    this.root.append(bar, this.errors.node, gridBox, lower, this.caption);
  }

  private data(): LensData | null {
    const m = this.model;
    const traits: LensTraits = {
      positions: m.get("positions"), top_ids: m.get("top_ids"), top_probs: m.get("top_probs"), target_ids: m.get("target_ids"),
      target_probs: m.get("target_probs"), target_ranks: m.get("target_ranks"), vocab: m.get("vocab"),
    };
    return this.cached("lens", Object.values(traits), () => LensData.from(traits));
  }

  protected paint(): void {
    const m = this.model;
    const tokens = m.get("tokens");
    const n = tokens.length;
    const size = m.get("window_size");
    const start = m.get("window_start");
    this.slider.max = String(Math.max(0, n - size));
    this.slider.value = String(start);
    this.sizeSelect.value = String(size);
    this.windowLabel.textContent = `tokens ${start}\u2013${start + size - 1} of ${n}`;
    this.windowBox.style.display = n > WINDOW_SIZES[0] ? "" : "none";
    for (const b of this.windowBox.querySelectorAll("button, input")) (b as HTMLInputElement).disabled = n <= size;
    const d = this.data();
    if (!d) {
      this.caption.textContent = m.get("status") === "computing" ? "Computing the logit lens\u2026" : "";
      return;
    }
    const selected = m.get("selected");
    const col = d.column(selected) >= 0 ? d.column(selected) : d.cols - 1;
    if (this.picked && this.picked.row < 0) this.picked.row = d.rows - 1;
    const stale = d.positions[0] !== start || d.cols !== Math.min(size, n);
    this.grid.node.classList.toggle("lxw-stale", stale);
    this.picker.update(m.get("target"), d.topList(d.rows - 1, col).map((r) => r.text));
    const style = getComputedStyle(this.root);
    const font = style.fontFamily || "sans-serif";
    const labels = m.get("layer_labels").map(rowLabel);
    // Cells wide enough for a short token (longer ones end in "…"; the tooltip has them whole),
    // beside the row labels (56 px) and the colour bar; a window too wide for that scrolls.
    const legendWidth = (this.legend.node.offsetWidth || 50) + 12;
    const available = Math.max(320, (this.root.clientWidth || 900) - 56 - legendWidth);
    const cellW = Math.max(MIN_CELL, Math.min(110, Math.floor(available / d.cols)));
    const layout = this.grid.render({
      rowLabels: labels,
      colLabels: d.positions.map((p) => displayToken(tokens[p] ?? "")),
      colSubLabels: d.positions.map((p) => `#${p}`),
      cellW, cellH: 20, labelWidth: 44,
      index: (r, c) => colorIndex(d.top(r, c).p, 0, 1),
      text: (r, c) => displayToken(d.top(r, c).text),
      colormap: m.get("colormap"),
      textColor: style.color || "#000",
      mutedColor: style.getPropertyValue("--jp-ui-font-color2").trim() || "#616161",
      fontFamily: font,
      outlineCol: col,
    });
    this.grid.canvas.dataset.positions = d.positions.join(",");
    this.legend.update(m.get("colormap"), Math.min(layout.rows * layout.cellH, 220), "1", "0", "probability of the top token");
    this.drawChart(d, col, labels, style, font);
    this.drawDetail(d);
    const target = m.get("target");
    this.caption.textContent = `Rows: the residual stream after each block, read through the final norm and unembedding` +
      ` (embed = before the first block; the last row is the model's own output). Columns: token positions; each cell is` +
      ` the most likely next token there, coloured by its probability. Hover a cell for the top ${d.k}; click one for` +
      ` details and to chart it. ${target ? `The chart follows ${quoted(target)}.` : "The chart follows the model's own final prediction at the position."}`;
  }

  private drawChart(d: LensData, col: number, labels: string[], style: CSSStyleDeclaration, font: string): void {
    const position = d.positions[col];
    const token = this.model.get("tokens")[position] ?? "";
    const target = d.target(0, col).text;
    this.chart.render({
      labels,
      series: [
        { values: d.targetColumn(col), color: TARGET, label: `p(${quoted(target, 16)})` },
        { values: d.topColumn(col), color: "#8c8c8c", label: "top token's p", dashed: true },
      ],
      width: Math.min(620, Math.max(360, (this.root.clientWidth || 900) - 380)),
      height: 220,
      logDecades: this.logBox.checked ? LOG_DECADES : 0,
      title: `p(${quoted(target)}) after #${position} ${quoted(token)}, by layer`,
      textColor: style.color || "#000",
      mutedColor: isDarkTheme() ? "#a0a0a0" : "#666666",
      fontFamily: font,
    });
    this.chart.canvas.dataset.position = String(position);
  }

  private describe(cell: GridCell): Array<[string, string]> {
    const d = this.data();
    if (!d) return [];
    const position = d.positions[cell.col];
    const lines: Array<[string, string]> = [
      ["layer", rowLabel(this.model.get("layer_labels")[cell.row] ?? "")],
      ["after", `#${position} ${quoted(this.model.get("tokens")[position] ?? "")}`],
    ];
    d.topList(cell.row, cell.col).forEach((r, i) => lines.push([i ? `${i + 1}.` : "top", `${quoted(r.text)}  ${formatProb(r.p)}`]));
    const t = d.target(cell.row, cell.col);
    lines.push(["followed", `${quoted(t.text)}  ${formatProb(t.p)}, rank ${t.rank + 1}`]);
    return lines;
  }

  private describeLayer(i: number): Array<[string, string]> {
    const d = this.data();
    if (!d) return [];
    const col = Math.max(0, d.column(this.model.get("selected")));
    const t = d.target(i, col);
    const top = d.top(i, col);
    return [["layer", rowLabel(this.model.get("layer_labels")[i] ?? "")], [`p(${quoted(t.text, 16)})`, formatProb(t.p)],
      ["rank", String(t.rank + 1)], ["top", `${quoted(top.text)}  ${formatProb(top.p)}`]];
  }

  private pick(cell: GridCell | null): void {
    const d = this.data();
    this.picked = cell && d ? { row: cell.row, position: d.positions[cell.col] } : null;
    if (this.picked) {
      this.set("selected", this.picked.position);
      this.focusTo(this.picked.position);
    }
    this.draw();
  }

  /** A token in focus (here or in a linked view): its column, the cell of the last layer picked. */
  protected onFocus(position: number): void {
    if (position < 0 || position >= this.model.get("tokens").length) return;
    if (position !== this.model.get("selected")) this.set("selected", position);
    const d = this.data();
    this.picked = { row: this.picked?.row ?? (d ? d.rows - 1 : -1), position }; // -1: the last layer, once drawn
    this.draw();
  }

  private drawDetail(d: LensData): void {
    const p = this.picked;
    const col = p ? d.column(p.position) : -1;
    if (!p || col < 0 || p.row >= d.rows) {
      this.detail.replaceChildren(el("p", "lxw-muted", "Click a cell to list its top tokens here."));
      delete this.detail.dataset.row;
      return;
    }
    const layer = rowLabel(this.model.get("layer_labels")[p.row] ?? "");
    const heading = el("h4", "", `${layer}, after #${p.position} ${quoted(this.model.get("tokens")[p.position] ?? "")}`);
    const table = el("table");
    d.topList(p.row, col).forEach((r, i) => {
      const tr = el("tr");
      const fill = el("div", "lxw-bar-fill");
      fill.style.width = `${Math.max(1, r.p * 100)}%`;
      const bar = el("td", "lxw-barcell");
      bar.appendChild(fill);
      const follow = el("button", "lxw-link", "follow");
      follow.title = `Chart ${quoted(r.text)} across layers at every position`;
      follow.addEventListener("click", () => this.set("target", r.text));
      const cellOf = (text: string, cls = "") => el("td", cls, text);
      tr.append(cellOf(`${i + 1}.`, "lxw-muted"), cellOf(quoted(r.text, 30), "lxw-detail-token"), bar, cellOf(formatProb(r.p), "lxw-num"));
      const last = el("td");
      last.appendChild(follow);
      tr.appendChild(last);
      table.appendChild(tr);
    });
    const t = d.target(p.row, col);
    const note = el("p", "lxw-muted", `Followed token ${quoted(t.text)}: p = ${formatProb(t.p)}, rank ${t.rank + 1} here.`);
    this.detail.replaceChildren(heading, table, note);
    Object.assign(this.detail.dataset, { row: String(p.row), position: String(p.position) });
  }
}

export default paneModule("logit-lens", LensPane, [ensureBlocksStyle]);
