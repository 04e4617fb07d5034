import { describe, expect, it } from "vitest";
import { Packed, StandaloneModel } from "../standalone/model";
import { LensExtras, lensResponder, sliceColumns } from "../standalone/lens";
import { attributionResponder, contributionsResponder, neuronsResponder } from "../standalone/views";
import { decodeTrait } from "../core/wire";

/** Values packed as export_views.py packs them: each value's arrays at their offsets of one blob. */
class Blob {
  private bytes: number[] = [];

  pack(value: Record<string, unknown>, arrays: Record<string, { dtype: string; shape: number[]; values: number[] }>): Packed {
    const buffers = [];
    const out: Record<string, unknown> = { ...value };
    for (const [key, a] of Object.entries(arrays)) {
      const typed = a.dtype === "int32" ? Int32Array.from(a.values) : Float32Array.from(a.values);
      const raw = new Uint8Array(typed.buffer);
      // key "": the value itself is the wire tensor (head_attention's format)
      buffers.push({ path: key ? [key, "data"] : ["data"], offset: this.bytes.length, length: raw.length });
      this.bytes.push(...raw);
      if (key) out[key] = { dtype: a.dtype, shape: a.shape };
      else Object.assign(out, { dtype: a.dtype, shape: a.shape });
    }
    return { value: out, buffers };
  }

  get base64(): string {
    return btoa(String.fromCharCode(...this.bytes));
  }
}

function values(trait: unknown): number[] {
  const t = decodeTrait(trait as never)!;
  return Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, (_, i) => t.value(i));
}

describe("sliceColumns", () => {
  it("cuts columns of [position], [row, position] and [row, position, rank] tensors", () => {
    const wire = (shape: number[], n: number) => ({ dtype: "int32", shape, data: new DataView(Int32Array.from({ length: n }, (_, i) => i).buffer) });
    expect(values(sliceColumns(wire([4], 4), 1, 2))).toEqual([1, 2]);
    expect(values(sliceColumns(wire([2, 4], 8), 2, 2))).toEqual([2, 3, 6, 7]);
    const three = sliceColumns(wire([2, 3, 2], 12), 1, 1);
    expect(three.shape).toEqual([2, 1, 2]);
    expect(values(three)).toEqual([2, 3, 8, 9]);
  });
});

/** Two rows x five positions x one rank; the page holds positions 0-4 for "" and " x". */
function lens(): { extras: LensExtras; state: Record<string, unknown> } {
  const blob = new Blob();
  const n = 5;
  const top = blob.pack({}, {
    top_ids: { dtype: "int32", shape: [2, n, 1], values: [10, 11, 12, 13, 14, 20, 21, 22, 23, 24] },
    top_probs: { dtype: "float32", shape: [2, n, 1], values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] },
  });
  const followed = (base: number) => blob.pack({}, {
    target_ids: { dtype: "int32", shape: [n], values: [base, base, base, base, base] },
    target_probs: { dtype: "float32", shape: [2, n], values: Array.from({ length: 2 * n }, (_, i) => base + i) },
    target_ranks: { dtype: "int32", shape: [2, n], values: Array.from({ length: 2 * n }, () => 0) },
  });
  const targets = { "": followed(100), " x": followed(200) };
  return {
    extras: { kind: "lens", blob: blob.base64, start: 0, count: n, top, targets, vocab: { "10": "<b>" },
      missing_window: "no window", missing_target: "no target" },
    state: { tokens: ["a", "b", "c", "d", "e"], window_start: 2, window_size: 3, selected: 4, target: "", error: "" },
  };
}

describe("lensResponder", () => {
  it("answers a window move from the embedded positions and keeps the selection inside it", () => {
    const { extras, state } = lens();
    const model = new StandaloneModel(state);
    model.responder = lensResponder(extras, state);
    model.set("window_start", 0);
    model.save_changes();
    expect(values(model.get("positions"))).toEqual([0, 1, 2]);
    expect(values(model.get("top_ids"))).toEqual([10, 11, 12, 20, 21, 22]);
    expect(values(model.get("target_probs"))).toEqual([100, 101, 102, 105, 106, 107]);
    expect(model.get("selected")).toBe(2);
    expect(model.get("vocab")).toEqual({ "10": "<b>" });
    expect(model.get("error")).toBe("");
  });

  it("follows an embedded token, puts back one it lacks and says so, then clears its message", () => {
    const { extras, state } = lens();
    const model = new StandaloneModel(state);
    model.responder = lensResponder(extras, state);
    model.set("target", " x");
    model.save_changes();
    expect(values(model.get("target_probs"))).toEqual([202, 203, 204, 207, 208, 209]);
    model.set("target", " y");
    model.save_changes();
    expect(model.get("target")).toBe(" x");
    expect(model.get("error")).toBe("no target");
    model.set("window_size", 5); // clamped to the text, answered: the message goes
    model.save_changes();
    expect([model.get("window_start"), model.get("window_size")]).toEqual([0, 5]);
    expect(model.get("error")).toBe("");
  });

  it("moves the window to a selected position outside it; a window the page lacks is put back", () => {
    const { extras, state } = lens();
    const model = new StandaloneModel(state);
    model.responder = lensResponder(extras, state);
    model.set("selected", 0);
    model.save_changes();
    expect(model.get("window_start")).toBe(0);
    const short = { ...extras, count: 3 }; // positions 0-2 only
    const other = new StandaloneModel({ ...state, window_start: 0, selected: 0 });
    other.responder = lensResponder(short, { ...state, window_start: 0 });
    other.set("window_start", 2);
    other.save_changes();
    expect(other.get("window_start")).toBe(0);
    expect(other.get("error")).toBe("no window");
  });
});

describe("contributionsResponder", () => {
  const blob = new Blob();
  const heads = { "3|1": blob.pack({ layer: 3, head: 1, position: 4 }, { "": { dtype: "float32", shape: [2], values: [0.25, 0.75] } }) };
  const extras = { kind: "contributions" as const, blob: blob.base64, position: 4, target: "", heads,
    missing_head: "no head", missing_position: "no position", missing_target: "no target" };
  const start = () => new StandaloneModel({ position: 4, target: "", picked: {}, head_attention: {}, n_heads: 2, error: "" });

  it("answers a head with its embedded attention, a missing one with a message, an MLP with nothing", () => {
    const model = start();
    model.responder = contributionsResponder(extras);
    model.set("picked", { layer: 3, column: 1 });
    model.save_changes();
    expect(values(model.get("head_attention"))).toEqual([0.25, 0.75]);
    model.set("picked", { layer: 2, column: 0 });
    model.save_changes();
    expect(model.get("head_attention")).toEqual({ layer: 2, head: 0, position: 4, missing: "no head" });
    model.set("picked", { layer: 2, column: 3 });
    model.save_changes();
    expect(model.get("head_attention")).toEqual({});
  });

  it("puts back another position or target and says a kernel is needed; settles a head picked while saving", () => {
    const model = start();
    model.responder = contributionsResponder(extras);
    model.set("position", 1);
    model.save_changes();
    expect([model.get("position"), model.get("error")]).toEqual([4, "no position"]);
    const saved = new StandaloneModel({ position: 4, picked: { layer: 3, column: 1 }, head_attention: {}, n_heads: 2, error: "" });
    saved.responder = contributionsResponder(extras);
    saved.responder(saved, new Set());
    expect(values(saved.get("head_attention"))).toEqual([0.25, 0.75]);
  });
});

describe("neuronsResponder", () => {
  const blob = new Blob();
  const slice = (layer: number) => blob.pack({ layer }, { activations: { dtype: "float32", shape: [1, 2], values: [layer, -layer] } });
  const slices = { "7": slice(7) };
  const extras = { kind: "neurons" as const, blob: blob.base64, slices,
    corpus: { "7|1": { value: { layer: 7, neuron: 1, examples: [] }, buffers: [] } }, factors: {},
    missing_layer: "no layer", missing_corpus: "no search", missing_factors: "no factors" };
  const state = { layer: 2, layer_slice: { layer: 2 }, neuron: 1, n_corpus: 3, corpus_top: {}, corpus_status: "computing",
    mode: "neurons", nmf_k: 4, factors: {}, factors_status: "", error: "" };

  it("answers a layer from the page, its corpus search from the page or with a message", () => {
    const model = new StandaloneModel(state);
    model.responder = neuronsResponder(extras, state);
    model.responder(model, new Set()); // opened while the search ran: said, not "Searching..."
    expect([model.get("corpus_status"), (model.get("corpus_top") as { missing?: string }).missing]).toEqual(["missing", "no search"]);
    model.set("layer", 7);
    model.save_changes();
    expect(values((model.get("layer_slice") as { activations: unknown }).activations)).toEqual([7, -7]);
    expect(model.get("corpus_status")).toBe("ready");
    model.set("layer", 2); // the state's own slice
    model.save_changes();
    expect(model.get("layer_slice")).toEqual({ layer: 2 });
    model.set("layer", 9);
    model.save_changes();
    expect([model.get("layer"), model.get("error")]).toEqual([2, "no layer"]);
    model.set("mode", "factors");
    model.save_changes();
    expect([model.get("factors_status"), (model.get("factors") as { missing?: string }).missing]).toEqual(["missing", "no factors"]);
  });
});

describe("attributionResponder", () => {
  const extras = { kind: "attribution" as const, method: "saliency", missing_method: "no method",
    missing_evaluation: "no evaluation", missing_scores: "no scores" };
  const state = { method: "saliency", tab: "scores", evaluation: {}, selected: 0, guessing: true, guess: [2], revealed: false,
    guess_scores: {}, error: "" };

  it("puts back another method, and says the evaluation and the marks' scores need Python", () => {
    const model = new StandaloneModel(state);
    model.responder = attributionResponder(extras);
    model.set("method", "lime");
    model.save_changes();
    expect([model.get("method"), model.get("error")]).toEqual(["saliency", "no method"]);
    model.set("revealed", true);
    model.save_changes();
    expect(model.get("guess_scores")).toEqual({ missing: "no scores" });
    expect(model.get("error")).toBe("");
    model.set("tab", "evaluate");
    model.save_changes();
    expect(model.get("evaluation")).toEqual({ missing: "no evaluation" });
    model.set("selected", 1); // another target: the marks start again
    model.save_changes();
    expect([model.get("guess"), model.get("revealed"), model.get("guess_scores")]).toEqual([[], false, {}]);
    model.set("revealed", true); // nothing marked: refused, as Python refuses it
    model.save_changes();
    expect(model.get("revealed")).toBe(false);
  });
});
