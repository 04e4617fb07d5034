// AttributionView's judging: the Scores / Evaluate tabs (the shown method's faithfulness beside a
// random ranking and the leave-one-out oracle) and predict-then-reveal (the student marks the
// tokens they think mattered while the scores are hidden; Reveal scores the marks: plausibility
// of the method against them, and how faithful the student's own choice is). Synced state:
// llmxai_widgets/widgets/attribution_judge.py (JudgeTraits).
import { el } from "../../core/dom";
import { jsonToken } from "../../core/layout";
import { EvaluationJson, EvaluationPanel, ensureEvaluationStyle } from "../../core/evaluation";
import { WidgetModel } from "../../core/model";

/** ``evaluation`` and ``guess_scores`` hold ``missing`` in a saved page that cannot compute them
 * (js/standalone/views.ts): the view says it instead of waiting. */
export type JudgeState = {
  tab: "scores" | "evaluate";
  evaluation: EvaluationJson | { missing: string } | Record<string, never>;
  guessing: boolean;
  guess: number[];
  revealed: boolean;
  guess_scores: Record<string, number | number[] | string>;
};
export const JUDGE_KEYS = ["tab", "evaluation", "guessing", "guess", "revealed", "guess_scores"];

const CSS = `
.lxw-tabs { display: inline-flex; align-items: center; gap: 2px; }
.lxw-tok.lxw-markable { cursor: pointer; border-bottom: 1px dashed var(--jp-ui-font-color3, #9e9e9e); }
.lxw-tok.lxw-marked { outline: 2px dashed #d55e00; outline-offset: 1px; }
.lxw-guess-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; margin: 4px 0 8px; padding: 6px 10px;
  border-left: 4px solid #d55e00; background: var(--jp-layout-color2, #f5f5f5); font-size: 13px; }
.lxw-guess-scores { font-size: 13px; margin: 6px 0; max-width: 820px; line-height: 1.6; }
.lxw-guess-scores table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin-top: 4px; }
.lxw-guess-scores th { font-weight: normal; color: var(--jp-ui-font-color2, #616161); text-align: right; padding: 0 10px; }
.lxw-guess-scores th:first-child { text-align: left; }
.lxw-guess-scores td { text-align: right; padding: 1px 10px; }
.lxw-guess-scores td:first-child { text-align: left; }
`;

export function ensureJudgeStyle(): void {
  ensureEvaluationStyle();
  const id = "llmxai-widgets-judge-style";
  if (document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = CSS;
  document.head.appendChild(style);
}

type Model = WidgetModel<JudgeState & { tokens: string[]; model_name: string; status: string }>;
type Setter = (changes: Partial<JudgeState>) => void;

const EVALUATING = "Evaluating faithfulness: removing the top tokens and random ones\u2026";

function num(v: unknown, digits = 3): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "\u2013";
}

export class Judge {
  readonly tabs = el("span", "lxw-tabs");
  readonly guessButton = el("button", "lxw-tab lxw-guess-toggle", "Guess first");
  readonly bar = el("div", "lxw-guess-bar");
  readonly scores = el("div", "lxw-guess-scores");
  readonly panel = new EvaluationPanel();
  readonly evaluate = el("div", "lxw-eval-tab");
  private waiting = el("div", "lxw-placeholder", EVALUATING);
  private barText = el("span");
  private reveal = el("button", "lxw-reveal", "Reveal");
  private again = el("button", "lxw-again", "Try again");

  constructor(private model: Model, private set: Setter) {
    for (const [tab, label, title] of [["scores", "Scores", "The method's scores on the text"],
      ["evaluate", "Evaluate", "How faithful this method is: the target's probability as its top tokens are removed, against a random ranking"]]) {
      const b = el("button", "lxw-tab", label);
      b.dataset.tab = tab;
      b.title = title;
      b.addEventListener("click", () => this.set({ tab: tab as JudgeState["tab"] }));
      this.tabs.appendChild(b);
    }
    this.guessButton.title = "Predict, then reveal: hide the scores, mark the tokens you think mattered, then compare";
    this.guessButton.addEventListener("click", () => this.set({ guessing: !this.model.get("guessing") }));
    this.reveal.addEventListener("click", () => this.set({ revealed: true }));
    this.again.addEventListener("click", () => this.set({ revealed: false, guess: [] }));
    this.bar.append(this.barText, this.reveal, this.again);
    this.evaluate.append(this.waiting, this.panel.node);
  }

  /** Scores hidden: the student is still guessing. */
  hidesScores(): boolean {
    return this.model.get("guessing") && !this.model.get("revealed");
  }

  marked(j: number): boolean {
    return this.model.get("guessing") && this.model.get("guess").includes(j);
  }

  /** Mark or unmark token ``j`` (only while guessing). */
  toggle(j: number): void {
    if (!this.hidesScores()) return;
    const guess = this.model.get("guess");
    this.set({ guess: guess.includes(j) ? guess.filter((g) => g !== j) : [...guess, j].sort((a, b) => a - b) });
  }

  draw(target: string, width: number, style: CSSStyleDeclaration): void {
    const m = this.model;
    const tab = m.get("tab");
    for (const b of this.tabs.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.tab === tab));
    const guessing = m.get("guessing");
    this.guessButton.setAttribute("aria-pressed", String(guessing));
    this.bar.style.display = guessing && tab === "scores" ? "" : "none";
    const guess = m.get("guess");
    const tokens = m.get("tokens");
    if (!m.get("revealed")) {
      this.barText.textContent = `Which tokens made the model predict ${jsonToken(target)}? Click them (${guess.length} marked), then reveal the method's scores.`;
    } else {
      this.barText.textContent = `Your marks: ${guess.map((g) => jsonToken(tokens[g] ?? "")).join(", ")}.`;
    }
    this.reveal.style.display = m.get("revealed") ? "none" : "";
    this.reveal.disabled = !guess.length;
    this.again.style.display = m.get("revealed") ? "" : "none";
    this.drawScores(tokens);
    const evaluation = m.get("evaluation");
    const has = "targets" in evaluation;
    this.evaluate.style.display = tab === "evaluate" ? "" : "none";
    this.waiting.style.display = has ? "none" : "";
    this.waiting.textContent = "missing" in evaluation ? String(evaluation.missing) : EVALUATING;
    if (has) this.panel.render([evaluation as EvaluationJson], 0, null, width, style, m.get("model_name"));
  }

  private drawScores(tokens: string[]): void {
    const s = this.model.get("guess_scores");
    const shown = this.model.get("guessing") && this.model.get("revealed") && this.model.get("tab") === "scores";
    this.scores.style.display = shown ? "" : "none";
    this.scores.replaceChildren();
    if (!shown) return;
    if (!("token_f1" in s)) {
      this.scores.textContent = "missing" in s ? String(s.missing) : "Scoring your marks: removing them, keeping only them\u2026";
      return;
    }
    const names = (key: string) => ((s[key] as number[]) ?? []).map((p) => jsonToken(tokens[p] ?? "")).join(", ");
    const k = s.k as number;
    const line = el("div");
    line.dataset.kind = "plausibility";
    line.textContent = `The method's top ${k}: ${names("predicted")}. Against your marks, as a rationale: token F1 ${num(s.token_f1)}, ` +
      `token IOU ${num(s.token_iou)}, IOU F1 ${num(s.iou_f1)}, AUPRC ${num(s.auprc)} (ERASER's plausibility; 1 = the method's ` +
      `top tokens are yours).`;
    const table = el("table");
    const head = el("tr");
    for (const h of ["", "p without them", "p with only them", "comprehensiveness \u2191", "sufficiency \u2193"]) head.appendChild(el("th", "", h));
    table.appendChild(head);
    const rows: Array<[string, string, string, string, string, string]> = [
      ["yours", `your ${(s.rationale as number[]).length} token(s)`, "without", "only", "comprehensiveness", "sufficiency"],
      ["method", `the method's top ${k}`, "method_without", "method_only", "method_comprehensiveness", "method_sufficiency"]];
    for (const [kind, label, ...keys] of rows) {
      const tr = el("tr");
      tr.dataset.kind = kind;
      tr.appendChild(el("td", "", label));
      for (const key of keys) {
        const td = el("td", "", num(s[key]));
        td.dataset.key = key;
        td.dataset.value = String(s[key]);
        tr.appendChild(td);
      }
      table.appendChild(tr);
    }
    const note = el("div", "lxw-muted");
    note.textContent = `p(target) on the whole text: ${num(s.full)}. Faithful tokens are comprehensive (removing them drops p a lot)` +
      ` and sufficient (keeping only them drops it little). Plausible is not faithful: the tokens a person points at need not be` +
      ` the ones the model uses.`;
    this.scores.append(line, table, note);
  }
}
