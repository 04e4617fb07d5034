import { describe, expect, it, vi } from "vitest";
import { StandaloneModel, decodeState, putAt, unpack } from "../standalone/model";
import {
  AttentionExtras, answerPattern, attentionResponder, floatToHalf, headViewWindow, roundHalfEven, SliceStore, toFloat16,
} from "../standalone/responder";
import { decodeTensor, decodeTrait } from "../core/wire";
import { lookupKey, lookupResponder, lookupsResponder } from "../standalone/lookup";

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** A 2x2 uint8 slice as export_html.py packs it: bytes at `offset` of the blob. */
function packed(layer: number, head: number, aggregate: string, offset: number, scale = 1 / 255) {
  return {
    value: { dtype: "uint8", shape: [2, 2], scale, offset: 0, layer, head, aggregate, part: "self" },
    buffers: [{ path: ["data"], offset, length: 4 }],
  };
}

function extras(): AttentionExtras {
  const blob = new Uint8Array([255, 0, 128, 127, /* layer 1 head 0 */ 0, 255, 10, 245, /* mean */ 51, 51, 51, 51]);
  return {
    kind: "attention",
    blob: b64(blob),
    embed_all: true,
    parts: { self: { traits: { tokens: ["a", "b"], n_layers: 2, available_layers: [0, 1] } } },
    slices: [packed(0, 0, "head", 0), packed(1, 0, "head", 4), packed(1, 0, "mean", 8, 0.002)],
    skipped: 0,
  };
}

describe("StandaloneModel", () => {
  it("fires change:<key> on set, and answers save_changes with the keys the view changed", () => {
    const model = new StandaloneModel({ layer: 0, head: 0 });
    const seen: string[] = [];
    model.on("change:layer", () => seen.push(`layer=${model.get("layer")}`));
    const answered: string[][] = [];
    model.responder = (m, changed) => {
      answered.push([...changed]);
      m.receive({ head: 3 });
    };
    model.set("layer", 2);
    model.set("layer", 2); // unchanged: no event
    expect(seen).toEqual(["layer=2"]);
    model.save_changes();
    expect(answered).toEqual([["layer"]]);
    expect(model.get("head")).toBe(3);
    model.save_changes(); // nothing changed since
    expect(answered.length).toBe(1);
  });

  it("sets every key of a received patch before announcing any", () => {
    const model = new StandaloneModel({ tokens: ["a"], pattern: {} });
    let seenTokens: unknown = null;
    model.on("change:pattern", () => (seenTokens = model.get("tokens")));
    model.receive({ pattern: { layer: 1 }, tokens: ["x", "y"] });
    expect(seenTokens).toEqual(["x", "y"]);
  });

  it("off() removes a listener; a failing listener does not stop the others", () => {
    const model = new StandaloneModel({ a: 1 });
    const calls: number[] = [];
    const bad = () => { throw new Error("boom"); };
    const good = () => calls.push(model.get("a"));
    model.on("change:a", bad);
    model.on("change:a", good);
    const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
    model.set("a", 2);
    expect(quiet).toHaveBeenCalledOnce();
    quiet.mockRestore();
    model.off("change:a", good);
    model.set("a", 3);
    expect(calls).toEqual([2]);
  });
});

describe("decodeState", () => {
  it("puts base64 buffers back as DataViews at their paths without touching the input", () => {
    const state = { pattern: { dtype: "uint8", shape: [3] }, list: [{}, { x: 1 }] };
    const out = decodeState(state, [
      { path: ["pattern", "data"], encoding: "base64", data: b64(new Uint8Array([1, 2, 3])) },
      { path: ["list", 1, "data"], encoding: "hex", data: "0aff" },
    ]);
    const t = decodeTrait(out.pattern as never)!;
    expect(Array.from(t.raw)).toEqual([1, 2, 3]);
    const d = (out.list as Array<{ data: DataView }>)[1].data;
    expect([d.getUint8(0), d.getUint8(1)]).toEqual([10, 255]);
    expect("data" in state.pattern).toBe(false);
    expect(putAt({ a: { b: 1 } }, ["a", "c"], 2)).toEqual({ a: { b: 1, c: 2 } });
  });

  it("unpacks values whose buffers share one blob", () => {
    const blob = new Uint8Array([9, 9, 1, 2]).buffer;
    const v = unpack({ value: { dtype: "uint8", shape: [2] }, buffers: [{ path: ["data"], offset: 2, length: 2 }] }, blob);
    expect(Array.from(decodeTrait(v as never)!.raw)).toEqual([1, 2]);
  });
});

describe("float16", () => {
  it("matches numpy's astype(float16) on exact, rounded, tiny and huge values", () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(0.5)).toBe(0x3800);
    expect(floatToHalf(0)).toBe(0);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(2 ** -24)).toBe(1); // smallest subnormal
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // a tie rounds to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it("turns a uint8 slice into float16 of the same values", () => {
    const data = new DataView(new Uint8Array([0, 51, 255]).buffer);
    const slice = { dtype: "uint8", shape: [3], scale: 0.004, offset: 0, layer: 1, head: 2, aggregate: "head", part: "self", data };
    const half = toFloat16(slice);
    expect(half.dtype).toBe("float16");
    expect("scale" in half).toBe(false);
    const t = decodeTensor(half, half.data);
    [0, 51 * 0.004, 255 * 0.004].forEach((v, i) => expect(t.value(i)).toBeCloseTo(v, 3));
  });

  it("rounds half to even like Python", () => {
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, 2, 3]);
  });
});

describe("the AttentionView responder", () => {
  it("answers a layer choice with the embedded slice, in AttentionView._slice's format", () => {
    const store = new SliceStore(extras());
    const state: Record<string, unknown> = { part: "self", layer: 1, head: 0, aggregate: "head", pair_filter: "all" };
    const { pattern } = answerPattern(store, extras(), (k) => state[k]);
    expect(pattern).toMatchObject({ layer: 1, head: 0, aggregate: "head", part: "self", dtype: "uint8", shape: [2, 2] });
    expect(Array.from(decodeTrait(pattern as never)!.raw)).toEqual([0, 255, 10, 245]);
    state.aggregate = "mean";
    state.head = 5; // the head the view has selected travels along, as in Python
    expect(answerPattern(store, extras(), (k) => state[k]).pattern).toMatchObject({ aggregate: "mean", head: 5 });
    state.log_scale = true;
    expect(answerPattern(store, extras(), (k) => state[k]).pattern!.dtype).toBe("float16");
  });

  it("says what it cannot answer (flow, missing slices) and keeps the picture", () => {
    const model = new StandaloneModel({
      part: "self", layer: 0, head: 0, aggregate: "head", pair_filter: "all", mode: "matrix", error: "", pattern: {},
      n_heads: 1, tokens: ["a", "b"],
    });
    model.responder = attentionResponder({ ...extras(), skipped: 7 }, {});
    model.set("aggregate", "flow");
    model.save_changes();
    expect(model.get("error")).toMatch(/attention flow is computed by Python/);
    expect(model.get("pattern")).toEqual({});
    model.set("aggregate", "head");
    model.set("layer", 1);
    model.save_changes();
    expect(model.get("error")).toBe(""); // our message goes once answered
    expect((model.get("pattern") as { layer: number }).layer).toBe(1);
    model.set("head", 3);
    model.save_changes();
    expect(model.get("error")).toMatch(/head 3 of layer 1: .*max_bytes/);
    expect((model.get("pattern") as { head: number }).head).toBe(0);
  });

  it("builds the head view window from the head slices (uint8 over 0..1)", () => {
    const store = new SliceStore(extras());
    const hv = headViewWindow([store.get("self", 1, "head", 0)], 1, "self", 0, false)!;
    expect(hv).toMatchObject({ layer: 1, start: 0, key_start: 0, shape: [1, 2, 2], dtype: "uint8" });
    const t = decodeTrait(hv as never)!;
    expect(Array.from(t.raw)).toEqual([0, 255, 10, 245]); // scale 1/255: the same codes
    expect(headViewWindow([undefined], 1, "self", 0, false)).toBeNull();
  });
});

describe("lookupResponder", () => {
  const table = {
    kind: "lookup" as const, watch: "picked", fields: ["site", "layer", "column"], target: "picked_run",
    entries: { "mlp|2|5": { site: "mlp", layer: 2, column: 5, top: [["<b>x</b>", 0.5]] } },
    missing: "not in this file",
  };

  it("answers a click with the embedded entry, and a missing one with the message", () => {
    const model = new StandaloneModel({ picked: {}, picked_run: {} });
    model.responder = lookupResponder(table);
    model.set("picked", { layer: 2, column: 5, site: "mlp" }); // key order does not matter
    model.save_changes();
    expect(model.get("picked_run")).toEqual(table.entries["mlp|2|5"]);
    model.set("picked", { site: "mlp", layer: 2, column: 6 });
    model.save_changes();
    expect(model.get("picked_run")).toEqual({ site: "mlp", layer: 2, column: 6, missing: "not in this file" });
    model.set("picked", {});
    model.save_changes();
    expect(model.get("picked_run")).toEqual({});
  });

  it("ignores other traits and keys such as __proto__", () => {
    const model = new StandaloneModel({ picked: {}, picked_run: { keep: 1 }, show: "exact" });
    model.responder = lookupResponder(table);
    model.set("show", "estimate");
    model.save_changes();
    expect(model.get("picked_run")).toEqual({ keep: 1 });
    expect(lookupKey({ site: "__proto__", layer: 0 }, ["site", "layer"])).toBe("__proto__|0");
    model.set("picked", { site: "constructor", layer: "", column: "" });
    model.save_changes();
    expect(model.get("picked_run").missing).toBe("not in this file");
  });

  it("keys a trait holding one number by its value, and answers several traits from several tables", () => {
    const model = new StandaloneModel({ n_shown: 40, faithful: {}, picked: -1, node_detail: {} });
    model.responder = lookupsResponder({ kind: "lookups", tables: [
      { kind: "lookup", watch: "n_shown", fields: ["n"], target: "faithful", entries: { 64: { n: 64, value: 0.5 } }, missing: "m1" },
      { kind: "lookup", watch: "picked", fields: ["node"], target: "node_detail", entries: { "-1": {}, 7: { node: 7 } }, missing: "m2" },
    ] });
    model.set("n_shown", 64);
    model.save_changes();
    expect(model.get("faithful")).toEqual({ n: 64, value: 0.5 });
    model.set("n_shown", 65);
    model.save_changes();
    expect(model.get("faithful")).toEqual({ n: 65, missing: "m1" });
    expect(model.get("node_detail")).toEqual({}); // not asked
    model.set("picked", 8);
    model.save_changes();
    expect(model.get("node_detail")).toEqual({ node: 8, missing: "m2" });
    model.set("picked", -1);
    model.save_changes();
    expect(model.get("node_detail")).toEqual({});
  });
});
