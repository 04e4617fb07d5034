// What the saved pages of the logit lens, contributions, neuron and attribution views share
// (llmxai_widgets/widgets/export_views.py writes their data): values packed into one base64
// blob, looked up by key, and the responder's own message in the view's error panel.
import { Packed, StandaloneModel, base64ToBytes, unpack } from "./model";

/** Tables of packed values over one blob; a value is unpacked once, when first asked for. */
export class PackedStore {
  private blob: ArrayBuffer;
  private seen = new Map<Packed, Record<string, unknown>>();

  constructor(blob: string | undefined) {
    this.blob = base64ToBytes(blob ?? "").buffer as ArrayBuffer;
  }

  /** The value under ``key`` of ``table`` (its buffers as DataViews), or undefined. */
  get(table: Record<string, Packed | null> | undefined | null, key: string): Record<string, unknown> | undefined {
    const packed = table && Object.prototype.hasOwnProperty.call(table, key) ? table[key] : null;
    return packed ? this.value(packed) : undefined;
  }

  value(packed: Packed): Record<string, unknown> {
    let out = this.seen.get(packed);
    if (!out) this.seen.set(packed, (out = unpack(packed, this.blob)));
    return out;
  }
}

/** The responder's messages in ``error``: a new one replaces the last; an answer without one
 * clears the responder's own message (never one the view showed for another reason). */
export class Messages {
  private own = "";

  put(model: StandaloneModel, patch: Record<string, unknown>, messages: string[]): void {
    const message = messages.filter(Boolean).join(" ");
    if (message) {
      patch.error = message;
      this.own = message;
    } else if (this.own && model.get("error") === this.own) {
      patch.error = "";
      this.own = "";
    }
  }
}

/** ``patch[key]``, else the model's value. */
export function reader(model: StandaloneModel, patch: Record<string, unknown>): (key: string) => any {
  return (key) => (key in patch ? patch[key] : model.get(key));
}

/** Whether ``changed`` names any of ``keys``. */
export function touches(changed: Set<string>, keys: readonly string[]): boolean {
  return keys.some((k) => changed.has(k));
}
