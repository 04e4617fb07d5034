// Stands in for LogitLensView's Python side (llmxai_widgets/widgets/logit_lens.py) in a saved
// page: the window's moves (clamped, the selected position kept inside it, as Python does), a
// click on a column outside the window and the followed token are answered by slicing the
// positions export_views.py embedded (lens_extras). A window or token the page does not hold is
// put back, and the view says a kernel is needed.
import type { Packed, Responder, StandaloneModel } from "./model";
import { Messages, PackedStore, reader, touches } from "./tables";

export type LensExtras = {
  kind: "lens";
  blob: string;
  /** The first embedded position and how many follow it (0: none embedded). */
  start: number;
  count: number;
  /** {top_ids, top_probs}: wire [row, position, rank] over the embedded positions. */
  top: Packed | null;
  /** By followed token ("" = the model's own prediction): {target_ids [position], target_probs and
   * target_ranks [row, position]}. */
  targets: Record<string, Packed>;
  vocab: Record<string, string>;
  missing_window: string;
  missing_target: string;
};

export type Wire = { dtype: string; shape: number[]; data: DataView; [k: string]: unknown };

const KEYS = ["window_start", "window_size", "selected", "target"];

/** ``count`` columns from ``from`` of a wire tensor whose column axis is its first ([position])
 * or second ([row, position, ...]). */
export function sliceColumns(t: Wire, from: number, count: number): Wire {
  const axis = t.shape.length === 1 ? 0 : 1;
  const outer = axis === 0 ? 1 : t.shape[0];
  const cols = t.shape[axis];
  const total = t.shape.reduce((a, b) => a * b, 1);
  const width = (t.data.byteLength / Math.max(1, total)) * t.shape.slice(axis + 1).reduce((a, b) => a * b, 1); // bytes per column
  const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(outer * count * width);
  for (let o = 0; o < outer; o++) {
    out.set(src.subarray((o * cols + from) * width, (o * cols + from + count) * width), o * count * width);
  }
  const shape = [...t.shape];
  shape[axis] = count;
  return { dtype: t.dtype, shape, data: new DataView(out.buffer) };
}

function positions(start: number, size: number): Wire {
  const values = Int32Array.from({ length: size }, (_, i) => start + i);
  return { dtype: "int32", shape: [size], data: new DataView(values.buffer) };
}

/** The traits LogitLensView._show sets for the window ``start..start+size`` following ``target``. */
export function lensWindow(extras: LensExtras, store: PackedStore, start: number, size: number, target: string): Record<string, unknown> | null {
  const followed = store.get(extras.targets, target);
  if (!extras.top || !followed || start < extras.start || start + size > extras.start + extras.count) return null;
  const top = store.value(extras.top);
  const from = start - extras.start;
  const cut = (v: unknown) => sliceColumns(v as Wire, from, size);
  return {
    positions: positions(start, size), top_ids: cut(top.top_ids), top_probs: cut(top.top_probs),
    target_ids: cut(followed.target_ids), target_probs: cut(followed.target_probs), target_ranks: cut(followed.target_ranks),
    vocab: extras.vocab,
  };
}

export function lensResponder(extras: LensExtras, state: Record<string, unknown>): Responder {
  const store = new PackedStore(extras.blob);
  const messages = new Messages();
  let shown = { start: state.window_start as number, size: state.window_size as number, target: (state.target as string) ?? "" };

  return (model: StandaloneModel, changed: Set<string>) => {
    if (!touches(changed, KEYS)) return;
    const patch: Record<string, unknown> = {};
    const get = reader(model, patch);
    const n = (get("tokens") ?? []).length;
    if (!n) return;
    const said: string[] = [];
    let size = Math.min(Math.max(1, Math.trunc(get("window_size"))), n);
    let start = Math.max(0, Math.min(Math.trunc(get("window_start")), n - size));
    let selected = Math.trunc(get("selected"));
    if (selected < 0) selected += n; // counted from the end, as Python's _moved_to
    selected = Math.max(0, Math.min(selected, n - 1));
    if (changed.has("selected") && !(start <= selected && selected < start + size)) {
      start = Math.max(0, Math.min(selected - Math.floor(size / 2), n - size)); // the window moves to it
    }
    let target = get("target") ?? "";
    if (!Object.prototype.hasOwnProperty.call(extras.targets ?? {}, target)) {
      said.push(extras.missing_target);
      target = shown.target;
    }
    let answer = lensWindow(extras, store, start, size, target);
    if (!answer) {
      said.push(extras.missing_window);
      ({ start, size } = shown);
      answer = lensWindow(extras, store, start, size, target);
    }
    if (!(start <= selected && selected < start + size)) selected = Math.min(Math.max(selected, start), start + size - 1);
    const kept: Record<string, unknown> = { window_start: start, window_size: size, selected, target };
    for (const [k, v] of Object.entries(kept)) if (get(k) !== v) patch[k] = v;
    if (answer && (start !== shown.start || size !== shown.size || target !== shown.target)) {
      Object.assign(patch, answer);
      shown = { start, size, target };
    }
    messages.put(model, patch, said);
    model.receive(patch);
  };
}
