// Stands in for AttentionView's Python side (llmxai_widgets/widgets/attention.py) in an exported
// HTML file: when the view sets layer/head/aggregate/part (+ save_changes), swap in the slice
// export_html.py embedded for it, as `pattern`, in the header format of AttentionView._slice.
// What the file does not hold (attention flow, slices over the size budget, the query-key view)
// is said in the error panel; the picture drawn stays.
import { Packed, Responder, StandaloneModel, base64ToBytes, unpack } from "./model";

/** What export_html.py embeds for an AttentionView (see `_attention_extras` there). */
export type AttentionExtras = {
  kind: "attention";
  /** Every embedded byte, base64; packed values point into it. */
  blob: string;
  /** False when exported with embed_all=False: only the state's own slice is in the file. */
  embed_all: boolean;
  /** By part: the traits the view's tokens depend on (AttentionView._show_tokens), and the
   * model-view thumbnails / head summary when embedded. */
  parts: Record<string, { traits: Record<string, unknown>; thumbnails?: Packed; summary?: Packed }>;
  /** uint8 slices: {dtype, shape, scale, offset, layer, head, aggregate, part, data}. */
  slices: Packed[];
  /** Slices left out to stay under max_bytes. */
  skipped: number;
};

type Slice = Record<string, unknown> & {
  dtype: string; shape: number[]; scale?: number; offset?: number;
  layer: number; head: number; aggregate: string; part: string; data: DataView;
};

type Get = (key: string) => any;

const SELECTION = ["layer", "head", "aggregate", "log_scale", "exclude_first", "pair_filter", "part"];
const PANE = ["mode", "layer", "head", "qk_query", "hv_start", "part"];
/** Query (and key) tokens the head view shows at a time (attention_panes.HEAD_VIEW_TOKENS). */
export const HEAD_VIEW_TOKENS = 96;
/** The view says "no answer from the Python kernel" after 6 s; our message replaces it. */

export function sliceKey(part: string, layer: number, aggregate: string, head: number): string {
  return aggregate === "head" ? `${part}|${layer}|head|${head}` : `${part}|${layer}|${aggregate}`;
}

/** Python's round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of `value` (round to nearest even, like numpy's astype(float16)). */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into the exponent: still right
  return sign | half;
}

function codes(slice: Slice): Uint8Array {
  return new Uint8Array(slice.data.buffer, slice.data.byteOffset, slice.data.byteLength);
}

/** The uint8 slice as float16 (what Python sends when the colour scale covers small weights:
 * log scale, first token left out, a sentence-pair filter). The values are the uint8 ones. */
export function toFloat16(slice: Slice): Slice {
  const src = codes(slice);
  const scale = slice.scale ?? 1;
  const offset = slice.offset ?? 0;
  const out = new DataView(new ArrayBuffer(src.length * 2));
  for (let i = 0; i < src.length; i++) out.setUint16(2 * i, floatToHalf(src[i] * scale + offset), true);
  const { scale: _s, offset: _o, ...rest } = slice;
  return { ...rest, dtype: "float16", data: out };
}

/** head_view_window (attention_panes.py) from the embedded head slices of one layer: every head
 * over a window of up to 96 queries from `start`, uint8 over 0..1; null if a head is missing. */
export function headViewWindow(
  heads: Array<Slice | undefined>, layer: number, part: string, start: number, crossKeys: boolean,
): Record<string, unknown> | null {
  if (!heads.length || heads.some((h) => !h)) return null;
  const all = heads as Slice[];
  const [n, nKeys] = all[0].shape;
  const size = Math.min(n, HEAD_VIEW_TOKENS);
  start = Math.max(0, Math.min(Math.trunc(start), n - size));
  const keySize = Math.min(nKeys, HEAD_VIEW_TOKENS);
  const keyStart = !crossKeys ? start
    : nKeys <= keySize ? 0 : roundHalfEven((start / Math.max(1, n - size)) * (nKeys - keySize));
  const out = new Uint8Array(all.length * size * keySize);
  all.forEach((slice, h) => {
    const src = codes(slice);
    const scale = slice.scale ?? 1;
    const offset = slice.offset ?? 0;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < keySize; j++) {
        const w = src[(start + i) * nKeys + keyStart + j] * scale + offset;
        out[(h * size + i) * keySize + j] = Math.max(0, Math.min(255, roundHalfEven(w * 255)));
      }
    }
  });
  return {
    layer, part, start, key_start: keyStart, dtype: "uint8", shape: [all.length, size, keySize],
    scale: 1 / 255, offset: 0, data: new DataView(out.buffer),
  };
}

/** The slices of an export, by (part, layer, aggregate, head). */
export class SliceStore {
  private slices = new Map<string, Slice>();
  private blob: ArrayBuffer;

  private initialPanes: Record<string, Record<string, unknown>> = {};

  /** `state`: the view's state at export, whose slice and panes are not repeated in `extras`. */
  constructor(private extras: AttentionExtras, state: Record<string, unknown> = {}) {
    const bytes = base64ToBytes(extras.blob ?? "");
    this.blob = bytes.buffer as ArrayBuffer;
    for (const packed of extras.slices ?? []) this.add(unpack(packed, this.blob) as Slice);
    // the state's own slice (uint8 means it is the linear-scale one Python would send)
    const p = state.pattern as Slice | undefined;
    if (p && p.data && p.dtype === "uint8" && p.layer !== undefined) this.add(p);
    for (const name of ["thumbnails", "summary"]) {
      const pane = state[name] as Record<string, unknown> | undefined;
      if (pane && Object.keys(pane).length) this.initialPanes[`${pane.part ?? "self"}|${name}`] = pane;
    }
  }

  private add(s: Slice): void {
    this.slices.set(sliceKey(s.part ?? "self", s.layer, s.aggregate ?? "head", s.head), s);
  }

  get(part: string, layer: number, aggregate: string, head: number): Slice | undefined {
    return this.slices.get(sliceKey(part, layer, aggregate, head));
  }

  get size(): number {
    return this.slices.size;
  }

  pane(part: string, name: "thumbnails" | "summary"): Record<string, unknown> | undefined {
    const packed = this.extras.parts?.[part]?.[name];
    return packed ? unpack(packed, this.blob) : this.initialPanes[`${part}|${name}`];
  }
}

function precise(get: Get): boolean {
  return !!get("log_scale") || !!get("exclude_first") || (get("pair_filter") ?? "all") !== "all";
}

/** The `pattern` Python would send for the selection `get` reads, or a reason it cannot. */
export function answerPattern(store: SliceStore, extras: AttentionExtras, get: Get): { pattern?: Slice; missing?: string } {
  const part = get("part") ?? "self";
  const layer = get("layer") as number;
  const head = get("head") as number;
  const aggregate = get("aggregate") ?? "head";
  const slice = store.get(part, layer, aggregate, head);
  if (!slice) return { missing: missingMessage(extras, part, layer, aggregate, head) };
  let pattern: Slice = aggregate === "head" ? slice : { ...slice, head };
  if (precise(get)) pattern = toFloat16(pattern);
  return { pattern };
}

function missingMessage(extras: AttentionExtras, part: string, layer: number, aggregate: string, head: number): string {
  const label: Record<string, string> = {
    head: `head ${head} of layer ${layer}`, mean: `the mean of layer ${layer}'s heads`,
    max: `the max of layer ${layer}'s heads`, rollout: `attention rollout to layer ${layer}`, flow: `attention flow to layer ${layer}`,
  };
  const multi = extras.parts && Object.keys(extras.parts).length > 1;
  const what = (label[aggregate] ?? `${aggregate} of layer ${layer}`) + (multi ? ` (${part} attention)` : "");
  const why = aggregate === "flow"
    ? "attention flow is computed by Python on request and is not stored in exported files"
    : !extras.embed_all
      ? "this file was exported with embed_all=False, so it holds only the picture shown at export"
      : extras.skipped > 0
        ? `it is one of ${extras.skipped} pictures left out to keep the file under its size limit (export with a larger max_bytes to keep more)`
        : "this file does not hold it";
  return `This exported file cannot show ${what}: ${why}. The picture drawn before stays; ` +
    "open the notebook with a running kernel (or export again) to see it.";
}

/** The AttentionView responder over `extras` (see AttentionExtras). */
export function attentionResponder(extras: AttentionExtras, state: Record<string, unknown>): Responder {
  const store = new SliceStore(extras, state);
  let ownError = "";

  const say = (model: StandaloneModel, patch: Record<string, unknown>, message: string) => {
    if (message) {
      patch.error = message;
      ownError = message;
    } else if (ownError && model.get("error") === ownError) {
      patch.error = "";
      ownError = "";
    }
  };

  return (model, changed) => {
    const patch: Record<string, unknown> = {};
    const get: Get = (k) => (k in patch ? patch[k] : model.get(k));
    let message = "";

    if (changed.has("part")) {
      // AttentionView._part_changed: the part's tokens, layers and panes replace the old
      const part = get("part");
      Object.assign(patch, { thumbnails: {}, summary: {}, headview: {}, querykey: {} });
      const data = extras.parts?.[part];
      if (!data) {
        patch.available_layers = [];
        message = `This exported file does not hold ${part} attention.`;
      } else {
        Object.assign(patch, data.traits);
        if (get("layer") >= get("n_layers")) patch.layer = get("n_layers") - 1;
        if (["rollout", "flow"].includes(get("aggregate")) && part === "cross") patch.aggregate = "mean";
      }
    }
    if (!message && SELECTION.some((k) => changed.has(k))) {
      const answer = answerPattern(store, extras, get);
      if (answer.pattern) patch.pattern = answer.pattern;
      else message = answer.missing!;
    }
    if (PANE.some((k) => changed.has(k))) {
      const paneMessage = refreshPane(store, extras, get, patch, changed);
      message = message || paneMessage;
    }
    say(model, patch, message);
    model.receive(patch);
  };
}

/** AttentionView._refresh_pane: the data of the open tab, when the file holds it. */
function refreshPane(store: SliceStore, extras: AttentionExtras, get: Get, patch: Record<string, unknown>, changed: Set<string>): string {
  const mode = get("mode");
  const part = get("part") ?? "self";
  const empty = (v: unknown) => !v || Object.keys(v as object).length === 0;
  if (mode === "model" && empty(get("thumbnails"))) {
    const thumbs = store.pane(part, "thumbnails");
    if (thumbs) patch.thumbnails = thumbs;
    else return "The model view's thumbnails are not in this exported file.";
  } else if (mode === "summary" && empty(get("summary"))) {
    const summary = store.pane(part, "summary");
    if (summary) patch.summary = summary;
    else return "The head summary is not in this exported file.";
  } else if (mode === "head") {
    const layer = get("layer");
    const hv = get("headview") as { layer?: number; start?: number; part?: string } | undefined;
    const nHeads = get("n_heads") as number;
    const heads = Array.from({ length: nHeads }, (_, h) => store.get(part, layer, "head", h));
    const window = headViewWindow(heads, layer, part, get("hv_start") ?? 0, (get("key_tokens") ?? []).length > 0);
    if (window) {
      if (!hv || hv.layer !== window.layer || hv.start !== window.start || (hv.part ?? "self") !== part) patch.headview = window;
    } else if (!hv || hv.layer !== layer || (hv.part ?? "self") !== part) {
      patch.headview = {};
      return `The head view of layer ${layer} is not in this exported file (it needs every head of the layer).`;
    }
  } else if (mode === "querykey") {
    const qk = get("querykey") as { layer?: number; head?: number; query?: number; part?: string } | undefined;
    const n = (get("tokens") ?? []).length;
    const wanted = get("qk_query") >= 0 ? get("qk_query") : n - 1;
    const same = qk && qk.layer === get("layer") && qk.head === get("head") && qk.query === wanted && (qk.part ?? "self") === part;
    if (!same) {
      if (!empty(qk)) patch.querykey = {};
      return "The query \u00d7 key view needs the queries and keys that only Python holds; this exported file " +
        "has it only for the layer, head and query shown at export (if that tab was open).";
    }
  } else if (changed.has("mode")) {
    return "";
  }
  return "";
}
