// A widget model that lives in the page alone (no kernel, no widget manager): the slice of
// anywidget's model API the views use (js/core/model.ts), over state decoded from an exported
// HTML file (llmxai_widgets/export_html.py).
import type { Listener } from "../core/model";

export type Path = Array<string | number>;

/** A buffer as ipywidgets' embed format stores it. */
export type EmbeddedBuffer = { path: Path; encoding: "base64" | "hex"; data: string };

/** Bytes that live in one shared blob: where a value's buffers sit in it. */
export type Packed = { value: Record<string, unknown>; buffers: Array<{ path: Path; offset: number; length: number }> };

export function base64ToBytes(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(String(text));
  } catch {
    throw new Error("saved page: a buffer is not base64 (the file is damaged; save the view again)");
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function hexToBytes(text: string): Uint8Array {
  if (typeof text !== "string" || text.length % 2 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new Error("saved page: a buffer is not hexadecimal (the file is damaged; save the view again)");
  }
  const out = new Uint8Array(text.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}

/** Put `value` at `path` inside `obj` (ipywidgets' put_buffers), copying the containers on the
 * way so a shared value is never modified. */
export function putAt<T>(obj: T, path: Path, value: unknown): T {
  if (!Array.isArray(path)) throw new Error("saved page: a buffer without a path");
  if (path.length === 0) return value as T;
  const [head, ...rest] = path;
  if ((typeof head !== "string" && typeof head !== "number") || head === "__proto__" || head === "constructor" || head === "prototype") {
    throw new Error(`saved page: a buffer path holds ${JSON.stringify(head)?.slice(0, 40)}`);
  }
  const copy: any = Array.isArray(obj) ? [...obj] : { ...(obj as object) };
  copy[head] = putAt(copy[head], rest, value);
  return copy;
}

/** State with every buffer turned into a DataView at its path (what ipywidgets hands a view). */
export function decodeState(state: Record<string, unknown>, buffers: EmbeddedBuffer[] = []): Record<string, unknown> {
  let out = state;
  for (const b of buffers) {
    const bytes = b.encoding === "hex" ? hexToBytes(b.data) : base64ToBytes(b.data);
    out = putAt(out, b.path, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  return out;
}

/** A packed value with its buffers as DataViews into `blob`. */
export function unpack(packed: Packed, blob: ArrayBuffer): Record<string, unknown> {
  let out = packed.value;
  for (const b of packed.buffers) {
    if (!Number.isSafeInteger(b.offset) || !Number.isSafeInteger(b.length) || b.offset < 0 || b.length < 0 || b.offset + b.length > blob.byteLength) {
      throw new Error(`saved page: a buffer at ${b.offset}+${b.length} lies outside the ${blob.byteLength}-byte data`);
    }
    out = putAt(out, b.path, new DataView(blob, b.offset, b.length));
  }
  return out;
}

function plain(v: unknown): boolean {
  return v === null || typeof v !== "object" || (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object"));
}

/** Backbone fires change events only for values that changed; objects holding bytes count as
 * changed unless they are the same object. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!plain(a) || !plain(b)) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What answers the view's edits in place of the kernel (see `StandaloneModel.save_changes`). */
export type Responder = (model: StandaloneModel, changed: Set<string>) => void;

export class StandaloneModel<S extends Record<string, any> = Record<string, any>> {
  /** Views check this: no kernel will ever answer, so they do not wait for one. */
  readonly standalone = true;
  private state: Record<string, unknown>;
  private listeners = new Map<string, Set<Listener>>();
  private dirty = new Set<string>();
  /** Answers `save_changes()` as the Python widget would (null: edits stay local). */
  responder: Responder | null = null;
  /** Receives what the view `send()`s (the kernel's custom messages). */
  onMessage: ((content: unknown, buffers?: ArrayBuffer[]) => void) | null = null;

  constructor(state: Record<string, unknown>) {
    this.state = { ...state };
  }

  get<K extends keyof S>(key: K): S[K] {
    return this.state[key as string] as S[K];
  }

  /** A change made by the view: kept, announced, and answered at `save_changes()`. */
  set<K extends keyof S>(key: K, value: S[K]): void {
    if (this.assign({ [key as string]: value }).length) this.dirty.add(key as string);
  }

  save_changes(): void {
    const changed = this.dirty;
    this.dirty = new Set();
    if (changed.size && this.responder) this.responder(this as unknown as StandaloneModel, changed);
  }

  /** Changes that come from "Python" (the responder): all keys set first, then one event per
   * changed key, as when a kernel message updates several traits at once. */
  receive(patch: Record<string, unknown>): void {
    this.assign(patch);
  }

  private assign(patch: Record<string, unknown>): string[] {
    const changed = Object.keys(patch).filter((k) => !same(this.state[k], patch[k]));
    for (const k of changed) this.state[k] = patch[k];
    for (const k of changed) this.emit(`change:${k}`, this, this.state[k]);
    if (changed.length) this.emit("change", this);
    return changed;
  }

  on(event: string, callback: Listener): void {
    for (const name of event.split(/\s+/).filter(Boolean)) {
      let set = this.listeners.get(name);
      if (!set) this.listeners.set(name, (set = new Set()));
      set.add(callback);
    }
  }

  off(event: string, callback?: Listener): void {
    for (const name of event.split(/\s+/).filter(Boolean)) {
      if (callback) this.listeners.get(name)?.delete(callback);
      else this.listeners.delete(name);
    }
  }

  send(content: unknown, _callbacks?: unknown, buffers?: ArrayBuffer[]): void {
    this.onMessage?.(content, buffers);
  }

  /** A custom message as if from the kernel ("msg:custom"). */
  emitCustom(content: unknown, buffers: DataView[] = []): void {
    this.emit("msg:custom", content, buffers);
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const fn of Array.from(this.listeners.get(event) ?? [])) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`llmxai_widgets standalone: a "${event}" listener failed`, err);
      }
    }
  }
}
