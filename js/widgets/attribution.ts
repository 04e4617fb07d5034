// AttributionView frontend. Synced state: llmxai_widgets/widgets/attribution.py (AttributionView).
import { colorIndex, cssColor, rgb } from "../core/colors";
import { addOptions, el } from "../core/dom";
import { ExportFormat, isDarkTheme } from "../core/export";
import { measureLabels } from "../core/heatmap";
import { ColorLegend } from "../core/legend";
import { displayToken, jsonToken } from "../core/layout";
import { MatrixCanvas } from "../core/matrix";
import { WidgetModel } from "../core/model";
import { Pane, PaneState, paneModule, wireTensor } from "../core/pane";
import { Tensor, WireHeader } from "../core/wire";
import { JUDGE_KEYS, Judge, JudgeState, ensureJudgeStyle } from "./attribution/judge";

type Level = "token" | "word" | "sentence" | "turn";
export type AttributionState = PaneState & {
  tokens: string[];
  special: boolean[];
  n_prompt: number;
  targets: number[];
  kind: string;
  space_before: boolean[];
  target_labels: string[];
  target_probs: number[];
  scores: (WireHeader & { data: DataView }) | Record<string, never>;
  rows_done: number;
  selected: number;
  method: string;
  methods: Array<{ id: string; family: string; description: string }>;
  level: Level;
  group_ids: Record<string, number[]>;
  show_special: boolean;
  colormap: string;
  completeness: number[];
  notes: string[];
  contrast: string;
} & JudgeState;
type Model = WidgetModel<AttributionState>;
const LEVELS: Array<[Level, string]> = [["token", "tokens"], ["word", "words"], ["sentence", "sentences"], ["turn", "chat turns"]];

/** Per-token scores of one row, summed over the groups of ``level`` (NaN where nothing counts). */
export function aggregateRow(row: number[], groups: number[] | undefined, hidden: boolean[]): number[] {
  if (!groups) return row.map((v, i) => (hidden[i] ? NaN : v));
  const sums = new Map<number, number>();
  row.forEach((v, i) => {
    if (hidden[i] || Number.isNaN(v)) return;
    sums.set(groups[i], (sums.get(groups[i]) ?? 0) + v);
  });
  return row.map((v, i) => (hidden[i] || Number.isNaN(v) ? NaN : sums.get(groups[i]) ?? NaN));
}

class AttributionPane extends Pane<AttributionState> {
  private methodSelect = el("select", "lxw-method");
  private levelSelect = el("select", "lxw-level");
  private specialBox = el("input");
  /** Which picture the Export buttons write when both are on screen (generations). */
  private exportWhat = el("select", "lxw-export-what");
  private notice = el("div", "lxw-notice");
  private text = el("div", "lxw-text");
  private legend = new ColorLegend(true);
  private caption = el("div", "lxw-muted lxw-caption");
  private matrixTitle = el("div", "lxw-muted");
  private matrix = new MatrixCanvas(() => this.drawMatrix());
  private judge: Judge;
  private scoresTab = el("div", "lxw-attr-scores");

  constructor(model: Model) {
    super(model);
    this.matrix.labels = { row: "target", col: "source", value: "score", masked: "not used (comes at or after the target)" };
    this.matrix.onPick = (cell) => this.select(cell.query);
    this.judge = new Judge(model, (changes) => this.update(changes));
    this.build();
    this.watch(["tokens", "scores", "selected", "level", "show_special", "completeness", "notes", "targets", "rows_done", "method",
      "methods", "kind", "target_labels", "status", "progress", "progress_label", ...JUDGE_KEYS]);
    this.redrawOnResize(() => this.drawMatrix());
    this.cleanup(() => this.matrix.dispose());
  }

  private build(): void {
    const methodLabel = el("label", "", "Method ");
    methodLabel.appendChild(this.methodSelect);
    const levelLabel = el("label", "", "Show ");
    levelLabel.appendChild(this.levelSelect);
    addOptions(this.levelSelect, LEVELS);
    this.specialBox.type = "checkbox";
    const special = el("label", "", "");
    special.append(this.specialBox, document.createTextNode("special tokens"));
    addOptions(this.exportWhat, [["matrix", "matrix"], ["text", "text"]]);
    this.exportWhat.title = "Export the matrix of every generated token, or the text coloured for the selected one";
    const exporting = this.exportButtons({
      svg: "Download what is on screen as a vector figure (text stays text), drawn by the same code as view.save()",
      png: "Download what is on screen as a PNG, drawn by the same code as view.save()",
    }, () => this.exportRequest(), this.exportWhat);
    const bar = this.toolbar("Attribution", this.judge.tabs, methodLabel, levelLabel, special, this.judge.guessButton, exporting);
    this.methodSelect.addEventListener("change", () => this.set("method", this.methodSelect.value));
    this.levelSelect.addEventListener("change", () => this.set("level", this.levelSelect.value as Level));
    this.specialBox.addEventListener("change", () => this.set("show_special", this.specialBox.checked));
    const matrixPane = el("div", "lxw-attr-matrix");
    matrixPane.append(this.matrixTitle, this.matrix.node);
    this.scoresTab.append(this.judge.bar, this.text, this.judge.scores, this.legend.node, this.caption, matrixPane);
    this.root.append(bar, this.errors.node, this.notice, this.scoresTab, this.judge.evaluate);
  }

  private tensor(): Tensor | null {
    const trait = this.model.get("scores");
    return this.cached("scores", [trait], () => wireTensor(trait));
  }

  private select(i: number): void {
    if (i < 0) return;
    this.set("selected", i);
    const position = this.model.get("targets")[i];
    if (position !== undefined && this.model.get("kind") === "causal") this.focusTo(position);
  }

  /** Whether the view explains every token of the text from the ones before it (``every_token=True``). */
  private everyToken(): boolean {
    const targets = this.model.get("targets");
    return this.model.get("n_prompt") === 1 && targets.length > 0 && targets.length === this.model.get("tokens").length - 1;
  }

  /** A token in focus (here or in a linked view): the row explaining it, when it is one of the targets. */
  protected onFocus(position: number): void {
    const k = this.model.get("kind") === "causal" ? this.model.get("targets").indexOf(position) : -1;
    if (k >= 0 && k !== this.model.get("selected")) this.set("selected", k);
  }

  protected paint(): void {
    this.drawText();
    this.drawMatrix();
    const selected = this.model.get("selected");
    this.judge.draw(this.model.get("target_labels")[selected] ?? "", this.root.clientWidth || 720, getComputedStyle(this.root));
    this.scoresTab.style.display = this.model.get("tab") === "scores" ? "" : "none";
  }

  private fillMenus(): void {
    const methods = this.model.get("methods") ?? [];
    if (this.methodSelect.options.length !== methods.length) {
      this.methodSelect.replaceChildren();
      const families = new Map<string, HTMLOptGroupElement>();
      for (const m of methods) {
        let group = families.get(m.family);
        if (!group) {
          group = el("optgroup");
          group.label = `${m.family}-based`;
          families.set(m.family, group);
          this.methodSelect.appendChild(group);
        }
        const o = el("option", "", m.id.replace(/_/g, " "));
        o.value = m.id;
        o.title = m.description;
        group.appendChild(o);
      }
    }
    this.methodSelect.value = this.model.get("method");
    this.levelSelect.value = this.model.get("level");
    this.specialBox.checked = this.model.get("show_special");
    this.exportWhat.style.display = this.model.get("targets").length > 1 ? "" : "none";
  }

  /** What the Export buttons ask Python for: the text of the selected target, or the matrix
   * (its zoom window too) when it is drawn and picked. */
  private exportRequest(): Record<string, unknown> {
    if (this.model.get("tab") === "evaluate") return { view: "evaluate", selected: this.model.get("selected") };
    const matrix = this.exportsMatrix();
    const g = this.matrix.geometry;
    return { view: matrix ? "matrix" : "text", selected: this.model.get("selected"),
      window: matrix && g ? { q0: g.q0, k0: g.k0, nq: g.nq, nk: g.nk } : null };
  }

  private exportsMatrix(): boolean {
    return this.model.get("targets").length > 1 && this.exportWhat.value === "matrix";
  }

  /** Without a kernel the matrix's PNG is the canvas. */
  protected exportFailed(format: ExportFormat, why: string): void {
    if (format === "png" && this.exportsMatrix()) this.downloadCanvas(this.matrix.canvas, "attribution-matrix.png", why, "matrix canvas");
    else super.exportFailed(format, why);
  }

  private drawText(): void {
    this.fillMenus();
    const tokens = this.model.get("tokens");
    const targets = this.model.get("targets");
    const t = this.tensor();
    const selected = Math.min(this.model.get("selected"), Math.max(0, targets.length - 1));
    const n = tokens.length;
    const special = this.model.get("special");
    const hidden = tokens.map((_, i) => !!special[i] && !this.model.get("show_special") && !targets.includes(i));  // a mask being explained stays, special or not
    const rowRaw = t && t.shape[0] > selected ? Array.from({ length: n }, (_, j) => t.value(selected * t.shape[1] + j)) : [];
    const level = this.model.get("level");
    const row = rowRaw.length ? aggregateRow(rowRaw, level === "token" ? undefined : this.model.get("group_ids")[level], hidden) : [];
    let vmax = 0;
    for (const v of row) if (!Number.isNaN(v)) vmax = Math.max(vmax, Math.abs(v));
    if (vmax === 0) vmax = 1;
    const colormap = this.model.get("colormap");
    const target = targets[selected] ?? -1;
    const causal = this.model.get("kind") === "causal";
    const label = this.model.get("target_labels")[selected] ?? "";
    const prob = (this.model.get("target_probs")[selected] ?? NaN).toFixed(3);
    const spaces = this.model.get("space_before") ?? [];
    this.text.replaceChildren();
    tokens.forEach((token, j) => {
      if (hidden[j]) return;
      const span = el("span", "lxw-tok", displayToken(token, 40).replace(/\u2423/g, " "));
      span.dataset.index = String(j);
      const v = row[j];
      const hiding = this.judge.hidesScores();
      if (this.judge.marked(j)) span.classList.add("lxw-marked");
      if (j === target) {
        span.classList.add("lxw-target");
        span.title = causal ? `target #${selected}: ${jsonToken(token)}, p = ${prob}`
          : `the model predicts ${jsonToken(label)} here, p = ${prob}`;
      } else if (hiding && !(causal && target >= 0 && j > target)) {
        span.classList.add("lxw-markable");
        span.title = this.judge.marked(j) ? "marked: click to unmark" : "click to mark: this token mattered";
        span.addEventListener("click", () => this.judge.toggle(j));
      } else if (row.length && !Number.isNaN(v)) {
        const idx = colorIndex(v, -vmax, vmax);
        span.style.background = cssColor(colormap, idx);
        const [r, g, b] = rgb(colormap, idx);
        span.style.color = 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 ? "#000" : "#fff";
        span.dataset.score = String(v);
        span.title = `${jsonToken(token)}: ${v.toFixed(4)}`;
      } else if (causal && j > target && target >= 0) {
        span.classList.add("lxw-later");
      }
      const k = targets.indexOf(j);
      if (k >= 0 && targets.length > 1) {
        span.classList.add("lxw-generated");
        span.addEventListener("click", () => this.select(k));
        if (k !== selected) span.title = `target #${k}: click to see what it drew on`;
      }
      if (j === this.model.get("n_prompt") && j > 0) this.text.appendChild(el("span", "lxw-sep", "\u2502"));
      else if (spaces[j] && this.text.lastChild) this.text.appendChild(document.createTextNode(" "));
      this.text.appendChild(span);
    });
    if (!causal) {  // the target is not a token of the text: say what is explained
      const what = this.model.get("kind") === "classifier" ? "Label" : "Prediction at the outlined mask";
      const line = el("div", "lxw-target-line", `${what}: `);
      line.append(el("b", "", label), el("span", "lxw-muted", ` (p = ${prob})`));
      this.text.prepend(line);
    }
    this.text.dataset.selected = String(selected);
    this.text.dataset.vmax = String(vmax);
    this.legend.signed(colormap, 140, vmax);
    this.legend.node.style.visibility = this.judge.hidesScores() ? "hidden" : "";
    const method = this.model.get("method").replace(/_/g, " ");
    const contrast = this.model.get("contrast");
    const explained = causal ? "the outlined target token" : jsonToken(label);
    this.caption.textContent =
      `Colour: how much each token raised (red) or lowered (blue) the ${contrast ? `difference between ${explained} and ${jsonToken(contrast)}` : `log-probability of ${explained}`}, by ${method}. ` +
      (targets.length > 1 ? (causal ? `Click ${this.everyToken() ? "a token" : "a generated token"} to see its row.` : "Click a mask (or a matrix row) to see its row.") : "");
    const notes = [...this.model.get("notes")];
    const completeness = this.model.get("completeness");
    if (completeness.length && completeness[selected] !== undefined) {
      notes.unshift(`Completeness error of integrated gradients for this target: ${(completeness[selected] * 100).toFixed(1)}% ` +
        "(|sum of scores - (f(input) - f(baseline))| / |f(input) - f(baseline)|).");
    }
    this.notice.replaceChildren(...notes.map((n) => el("div", "", n)));
    this.notice.style.display = notes.length ? "" : "none";
  }

  private drawMatrix(): void {
    const targets = this.model.get("targets");
    const t = this.tensor();
    const wrap = this.matrix.node.parentElement!;
    if (!t || targets.length < 2 || this.judge.hidesScores()) {
      wrap.style.display = "none";
      return;
    }
    wrap.style.display = "";
    const tokens = this.model.get("tokens");
    const causal = this.model.get("kind") === "causal";
    const rows = causal ? targets.map((p) => tokens[p]) : this.model.get("target_labels");
    const n = tokens.length;
    let vmax = 0;
    for (let i = 0; i < t.shape[0] * n; i++) {
      const v = t.value(i);
      if (!Number.isNaN(v)) vmax = Math.max(vmax, Math.abs(v));
    }
    if (vmax === 0) vmax = 1;
    this.matrixTitle.textContent = causal ? `Every ${this.everyToken() ? "token after the first" : "generated token"} (rows) and what it drew on (columns); click a row to show it above.`
      : "Every target (rows) and what it drew on (columns); click a row to show it above.";
    const style = getComputedStyle(this.root);
    const ctx = this.matrix.canvas.getContext("2d")!;
    const font = style.fontFamily || "sans-serif";
    const labelWidth = Math.max(measureLabels(ctx, rows, font), measureLabels(ctx, tokens, font));
    this.matrix.render(rows, tokens, t, false, { q0: 0, q1: rows.length, k0: 0, k1: n }, (this.root.clientWidth || 720) - 40, labelWidth, {
      colormap: this.model.get("colormap"),
      index: (v) => colorIndex(v, -vmax, vmax),
      textColor: style.color || "#000",
      fontFamily: font,
      // masked cells as in exports (llmxai_widgets/figures/figure.py THEMES)
      emptyColor: isDarkTheme() ? [70, 70, 70] : [200, 200, 200],
      isEmpty: (q, k) => (causal && k >= targets[q]) || Number.isNaN(t.value(q * n + k)),
    });
    this.matrix.canvas.dataset.vmax = String(vmax);
  }
}

export default paneModule("attribution", AttributionPane, [ensureJudgeStyle]);
