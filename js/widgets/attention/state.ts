// AttentionView's synced state (llmxai_widgets/widgets/attention.py, AttentionView), its menus'
// words, and the model-view thumbnails streamed while they are computed.
import { PaneState } from "../../core/pane";
import { Tensor, WireHeader, decodeTensor } from "../../core/wire";
import { WidgetModel } from "../../core/model";

/** One head's [query, key] weights: the only slice of the attention that travels. */
export type SliceTensor = WireHeader & { layer: number; head: number; aggregate: Aggregate; part?: string; data: DataView };
export type Aggregate = "head" | "mean" | "max" | "rollout" | "flow";
export type Mode = "matrix" | "head" | "model" | "summary" | "querykey";
export type PairFilter = "all" | "AA" | "AB" | "BA" | "BB";
export type Summary = { layers: number[]; names: string[]; scores: Record<string, WireHeader & { data: DataView }> };

export type AttentionState = PaneState & {
  tokens: string[];
  key_tokens: string[];
  special: boolean[];
  segments: number[];
  parts: string[];
  part: string;
  pair_filter: PairFilter;
  causal: boolean;
  n_layers: number;
  n_heads: number;
  kv_group: number[];
  available_layers: number[];
  layer: number;
  head: number;
  pattern: SliceTensor | Record<string, never>;
  colormap: string;
  aggregate: Aggregate;
  mode: Mode;
  hv_start: number;
  headview: Record<string, unknown>;
  qk_query: number;
  querykey: Record<string, unknown>;
  summary: Summary | Record<string, never>;
  thumbnails: (WireHeader & { layers: number[]; data: DataView }) | Record<string, never>;
  exclude_first: boolean;
  log_scale: boolean;
  reads: (WireHeader & { layers: number[]; data: DataView }) | { skipped: string } | Record<string, never>;
};
export type Model = WidgetModel<AttentionState>;

export const AGGREGATE_LABELS: Record<Exclude<Aggregate, "head">, string> = {
  mean: "mean of heads",
  max: "max of heads",
  rollout: "rollout to this layer",
  flow: "flow to this layer",
};
export const PAIR_FILTERS: Array<[PairFilter, string]> = [
  ["all", "all tokens"], ["AA", "sentence A → A"], ["AB", "sentence A → B"],
  ["BA", "sentence B → A"], ["BB", "sentence B → B"],
];
export const PART_LABELS: Record<string, string> = {
  cross: "cross-attention (decoder → encoder)",
  encoder: "encoder self-attention",
  decoder: "decoder self-attention",
};
export const MODES: Array<[Mode, string]> = [
  ["matrix", "Matrix"], ["head", "Head view"], ["model", "Model view"], ["summary", "Head summary"], ["querykey", "Query \u00d7 key"],
];

/** Model-view thumbnails streamed during their computation (by "part:layer"), kept per model
 * so every view of it shares them. */
export type Stream = { thumbs: Map<string, Tensor>; listeners: Set<() => void> };
// Keyed by the widget's own id: anywidget hands initialize() and render() different model
// wrappers, so the wrapper object cannot be the key.
const streams = new Map<string, Stream>();

export function streamOf(model: Model): Stream {
  const id = model.get("widget_id");
  let s = streams.get(id);
  if (!s) streams.set(id, (s = { thumbs: new Map(), listeners: new Set() }));
  return s;
}

/** A "thumbs" message (initialize() listens, so chunks sent before a view exists are kept). */
export function receiveThumbs(model: Model, msg: { kind?: string; tensor?: unknown }, buffers: DataView[]): void {
  if (msg?.kind !== "thumbs" || !msg.tensor || !buffers?.length) return;
  const t = msg.tensor as WireHeader & { layer: number; part?: string };
  const stream = streamOf(model);
  stream.thumbs.set(`${t.part ?? "self"}:${t.layer}`, decodeTensor(t, buffers[0]));
  stream.listeners.forEach((fn) => fn());
}

export function forgetThumbs(model: Model): void {
  streams.delete(model.get("widget_id"));
}
