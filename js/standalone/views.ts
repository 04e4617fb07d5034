// Stand in for the Python side of ContributionView, NeuronView and AttributionView in a saved
// page (what they embed: llmxai_widgets/widgets/export_views.py). Each answers what the view's
// clicks ask Python for from the page, as the Python observers would; what the page does not
// hold is put back or marked ``missing`` (the view shows the message instead of waiting), and
// the error panel says that a running kernel is needed.
import type { Packed, Responder, StandaloneModel } from "./model";
import { Messages, PackedStore, reader, touches } from "./tables";

type Table = Record<string, Packed>;

export type ContributionExtras = {
  kind: "contributions"; blob: string; position: number; target: string;
  /** "layer|head": the head's attention at the position (head_attention's format). */
  heads: Table;
  missing_head: string; missing_position: string; missing_target: string;
};

export type NeuronExtras = {
  kind: "neurons"; blob: string;
  /** By layer: layer_slice's format (the state's own slice is not repeated). */
  slices: Table;
  /** "layer|neuron": corpus_top's format. */
  corpus: Table;
  /** "layer|k": factors' format. */
  factors: Table;
  missing_layer: string; missing_corpus: string; missing_factors: string;
};

export type AttributionExtras = {
  kind: "attribution"; method: string; missing_method: string; missing_evaluation: string; missing_scores: string;
};

/** ContributionView: a click on a head shows where it reads from; another token or target is
 * Python's work. */
export function contributionsResponder(extras: ContributionExtras): Responder {
  const store = new PackedStore(extras.blob);
  const messages = new Messages();
  return (model: StandaloneModel, changed: Set<string>) => {
    const settle = changed.size === 0; // the page opens: a head picked while saving gets its answer
    if (!settle && !touches(changed, ["position", "target", "picked"])) return;
    const patch: Record<string, unknown> = {};
    const said: string[] = [];
    if (changed.has("position") && model.get("position") !== extras.position) {
      patch.position = extras.position;
      said.push(extras.missing_position);
    }
    if (changed.has("target") && (model.get("target") ?? "") !== extras.target) {
      patch.target = extras.target;
      said.push(extras.missing_target);
    }
    const p = (model.get("picked") ?? {}) as { layer?: number; column?: number };
    const head = p.layer !== undefined && p.column !== undefined && p.column < model.get("n_heads");
    const now = (model.get("head_attention") ?? {}) as { layer?: number; head?: number; data?: unknown; missing?: string };
    const answered = !head || (now.layer === p.layer && now.head === p.column && (!!now.data || !!now.missing));
    if (changed.has("picked") || (settle && !answered)) {
      patch.head_attention = !head ? {} : store.get(extras.heads, `${p.layer}|${p.column}`)
        ?? { layer: p.layer, head: p.column, position: extras.position, missing: extras.missing_head };
    }
    messages.put(model, patch, said);
    model.receive(patch);
  };
}

/** NeuronView: the layer menu from the embedded slices, then the open neuron's corpus search and
 * the layer's factors, as _layer_changed / _neuron_changed / _factors_wanted refresh them. */
export function neuronsResponder(extras: NeuronExtras, state: Record<string, unknown>): Responder {
  const store = new PackedStore(extras.blob);
  const messages = new Messages();
  const initial = state.layer_slice as { layer?: number } | undefined;
  const own = initial && initial.layer !== undefined ? { [String(initial.layer)]: initial as Record<string, unknown> } : {};
  let shownLayer = state.layer as number;
  return (model: StandaloneModel, changed: Set<string>) => {
    const settle = changed.size === 0; // the page opens: a search or factors running while saving are answered
    if (!settle && !touches(changed, ["layer", "neuron", "mode", "nmf_k"])) return;
    const patch: Record<string, unknown> = {};
    const get = reader(model, patch);
    const said: string[] = [];
    if (changed.has("layer")) {
      const layer = get("layer");
      const slice = own[String(layer)] ?? store.get(extras.slices, String(layer));
      if (slice) {
        patch.layer_slice = slice;
        shownLayer = layer;
      } else {
        patch.layer = shownLayer;
        said.push(extras.missing_layer);
      }
    }
    const layer = get("layer");
    const neuron = get("neuron");
    const searching = settle && !["ready", "cancelled"].includes(get("corpus_status"));
    if ((touches(changed, ["layer", "neuron"]) || searching) && get("n_corpus") > 0 && neuron >= 0) {
      const found = store.get(extras.corpus, `${layer}|${neuron}`);
      Object.assign(patch, found
        ? { corpus_top: found, corpus_status: "ready", corpus_progress: 1, corpus_label: "" }
        : { corpus_top: { layer, neuron, examples: [], missing: extras.missing_corpus }, corpus_status: "missing",
          corpus_progress: 0, corpus_label: "" });
    }
    const factorising = settle && get("factors_status") !== "ready";
    if ((touches(changed, ["layer", "mode", "nmf_k"]) || factorising) && get("mode") === "factors") {
      const k = get("nmf_k");
      const found = store.get(extras.factors, `${layer}|${k}`);
      Object.assign(patch, found ? { factors: found, factors_status: "ready" }
        : { factors: { layer, k, missing: extras.missing_factors }, factors_status: "missing" });
    }
    messages.put(model, patch, said);
    model.receive(patch);
  };
}

/** AttributionView: the rows, levels and special tokens are the browser's; another method, the
 * Evaluate tab when it was not computed, and scoring the marks are Python's. */
export function attributionResponder(extras: AttributionExtras): Responder {
  const messages = new Messages();
  return (model: StandaloneModel, changed: Set<string>) => {
    const settle = changed.size === 0; // the page opens: an evaluation or scoring running while saving are answered
    if (!settle && !touches(changed, ["method", "tab", "revealed", "selected", "guessing"])) return;
    const patch: Record<string, unknown> = {};
    const get = reader(model, patch);
    const said: string[] = [];
    if (changed.has("method") && get("method") !== extras.method) {
      patch.method = extras.method;
      said.push(extras.missing_method);
    }
    if (touches(changed, ["selected", "guessing"])) Object.assign(patch, { guess: [], guess_scores: {}, revealed: false }); // _new_guess
    const evaluation = get("evaluation") ?? {};
    if (get("tab") === "evaluate" && !("targets" in evaluation) && !("missing" in evaluation)) {
      patch.evaluation = { missing: extras.missing_evaluation };
    }
    const scores = get("guess_scores") ?? {};
    if (changed.has("revealed") && get("revealed") && !(get("guess") ?? []).length) {
      patch.revealed = false; // JudgeTraits._reveal
      said.push("mark at least one token you think mattered, then reveal");
    } else if (get("revealed") && !("token_f1" in scores) && !("missing" in scores)) {
      patch.guess_scores = { missing: extras.missing_scores };
    } else if (changed.has("revealed") && !get("revealed")) {
      patch.guess_scores = {};
    }
    messages.put(model, patch, said);
    model.receive(patch);
  };
}
