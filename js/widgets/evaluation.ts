// EvaluationView frontend: several attribution methods judged on one prediction: the
// faithfulness table and curves of the picked target (rows appear as methods are done), and the
// methods' agreement matrix. Synced state: llmxai_widgets/widgets/evaluation.py (EvaluationView).
import { addOptions, el, fillSelect } from "../core/dom";
import { AgreementJson, EvaluationJson, EvaluationPanel, MEASURES, ensureEvaluationStyle, renderAgreement } from "../core/evaluation";
import { displayToken, jsonToken } from "../core/layout";
import { WidgetModel } from "../core/model";
import { Pane, PaneState, paneModule } from "../core/pane";

export type EvaluationState = PaneState & {
  tokens: string[]; special: boolean[]; target_labels: string[]; target_positions: number[]; selected: number;
  methods: string[]; evaluations: EvaluationJson[]; agreement: AgreementJson | Record<string, never>; measure: string;
  rationale: number[]; plausibility: Array<Array<Record<string, number>>>;
};
type Model = WidgetModel<EvaluationState>;

class EvaluationPane extends Pane<EvaluationState> {
  private targetSelect = el("select", "lxw-eval-target");
  private measureSelect = el("select", "lxw-eval-measure");
  private caption = el("div", "lxw-muted lxw-caption");
  private rationale = el("div", "lxw-muted lxw-eval-note");
  private panel = new EvaluationPanel();
  private waiting = el("div", "lxw-placeholder", "Computing the first method's attribution and faithfulness\u2026");
  private agreementTitle = el("div", "lxw-title");
  private agreement = el("table", "lxw-agree");

  constructor(model: Model) {
    super(model, "lxw-evaluation");
    const targetLabel = el("label", "", "Target ");
    targetLabel.appendChild(this.targetSelect);
    const measureLabel = el("label", "", "Agreement ");
    measureLabel.appendChild(this.measureSelect);
    addOptions(this.measureSelect, MEASURES);
    this.targetSelect.addEventListener("change", () => this.set("selected", Number(this.targetSelect.value)));
    this.measureSelect.addEventListener("change", () => this.set("measure", this.measureSelect.value));
    const exporting = this.exportButtons({
      svg: "Download the table, the curves and the agreement matrix as a vector figure, drawn by the same code as view.save()",
      png: "Download the table, the curves and the agreement matrix as a PNG, drawn by the same code as view.save()",
    }, () => ({ selected: this.model.get("selected"), measure: this.model.get("measure") }));
    const agree = el("div", "lxw-eval-agreement");
    agree.append(this.agreementTitle, this.agreement);
    this.root.append(this.toolbar("Evaluating explanations", targetLabel, measureLabel, exporting), this.errors.node,
      this.caption, this.rationale, this.waiting, this.panel.node, agree);
    this.watch(["evaluations", "agreement", "measure", "selected", "target_labels", "plausibility", "rationale", "status", "methods"]);
    this.redrawOnResize();
  }

  protected paint(): void {
    const m = this.model;
    const labels = m.get("target_labels");
    fillSelect(this.targetSelect, labels.map((l, i) => [String(i), `#${i}: ${displayToken(l, 24)}`]));
    this.targetSelect.value = String(m.get("selected"));
    this.targetSelect.parentElement!.style.display = labels.length > 1 ? "" : "none";
    this.measureSelect.value = m.get("measure");
    const evaluations = m.get("evaluations");
    const methods = m.get("methods");
    const done = evaluations.length;
    this.caption.textContent = `How faithful is each method's explanation of the same prediction? Each row ranks the tokens by` +
      ` the method's scores and removes (or keeps only) the top ones. Methods done: ${done} of ${methods.length}` +
      ` (${methods.map((x) => x.replace(/_/g, " ")).join(", ")}). A method is only as good as its gap to the random ranking;` +
      ` the leave-one-out oracle ranks by the drop each token causes alone, which misses tokens that only matter together.`;
    const rationale = m.get("rationale");
    const tokens = m.get("tokens");
    this.rationale.textContent = rationale.length
      ? `Your rationale: ${rationale.map((p) => jsonToken(tokens[p] ?? "")).join(", ")}; token F1 and AUPRC score each method against it.` : "";
    this.rationale.style.display = rationale.length ? "" : "none";
    this.waiting.style.display = done ? "none" : "";
    if (m.get("status") === "cancelled" && !done) this.waiting.textContent = "Cancelled before the first method was done.";
    const style = getComputedStyle(this.root);
    this.panel.render(evaluations, m.get("selected"), m.get("plausibility"), this.root.clientWidth || 720, style, m.get("model_name"));
    const agreement = m.get("agreement");
    const shown = "methods" in agreement;
    this.agreement.parentElement!.style.display = shown ? "" : "none";
    if (shown) {
      const a = agreement as AgreementJson;
      const name = MEASURES.find(([k]) => k === m.get("measure"))?.[1].replace("k", String(a.k)) ?? "";
      this.agreementTitle.textContent = `Agreement between methods: ${name} (mean over the targets, on the tokens every method scores)`;
      renderAgreement(this.agreement, a, m.get("measure"));
    }
  }
}

export default paneModule("evaluation", EvaluationPane, [ensureEvaluationStyle]);
