// AttentionView frontend. Synced state: llmxai_widgets/widgets/attention.py (AttentionView).
import { ErrorPanel, ProgressLine } from "../core/chrome";
import { el, ensureStyle } from "../core/dom";
import { drawColorBar, drawHeatmap, measureLabels } from "../core/heatmap";
import { Geometry, cellAt, displayToken, layoutSquare } from "../core/layout";
import { BaseState, WidgetModel } from "../core/model";
import { Tensor, WireHeader, decodeTensor, decodeTrait } from "../core/wire";

/** One head's [query, key] weights: the only slice of the attention that travels. */
type SliceTensor = WireHeader & { layer: number; head: number; data: DataView };

export type AttentionState = BaseState & {
  widget_id: string;
  model_name: string;
  tokens: string[];
  special: boolean[];
  causal: boolean;
  n_layers: number;
  n_heads: number;
  kv_group: number[];
  available_layers: number[];
  layer: number;
  head: number;
  pattern: SliceTensor | Record<string, never>;
  colormap: string;
};
type Model = WidgetModel<AttentionState>;

/** Slices streamed during the computation, kept per model so every view of it shares them. */
type Stream = { slices: Map<string, Tensor>; listeners: Set<() => void> };
// Keyed by the widget's own id: anywidget hands initialize() and render() different model
// wrappers, so the wrapper object cannot be the key.
const streams = new Map<string, Stream>();
const MAX_CACHED_SLICES = 64;
function streamOf(model: Model): Stream {
  const id = model.get("widget_id");
  let s = streams.get(id);
  if (!s) streams.set(id, (s = { slices: new Map(), listeners: new Set() }));
  return s;
}
const sliceKey = (layer: number, head: number) => `${layer}:${head}`;

class AttentionMatrixView {
  private root = el("div", "lxw-root");
  private layerSelect = el("select");
  private headSelect = el("select");
  private progress: ProgressLine;
  private errors: ErrorPanel;
  private canvas = el("canvas");
  private overlay = el("canvas");
  private tooltip = el("div", "lxw-tooltip");
  private placeholder = el("div", "lxw-placeholder");
  private legendMax = el("span", "lxw-muted");
  private legendBar = el("canvas");
  private legend = el("div", "lxw-legend");
  private caption = el("div", "lxw-muted lxw-caption");
  private geometry: Geometry | null = null;
  private drawn: { tensor: Tensor; vmax: number } | null = null;
  private locked: { query: number; key: number } | null = null;
  private traitCache: { trait: SliceTensor; tensor: Tensor | null } | null = null;
  private cleanups: Array<() => void> = [];

  constructor(private model: Model, host: HTMLElement) {
    this.progress = new ProgressLine(model);
    this.errors = new ErrorPanel(model);
    this.build();
    host.appendChild(this.root);
    this.listen();
    this.refreshSelectors();
    this.draw();
  }

  private build(): void {
    const bar = el("div", "lxw-bar");
    const layerLabel = el("label", "", "Layer ");
    layerLabel.appendChild(this.layerSelect);
    const headLabel = el("label", "", "Head ");
    headLabel.appendChild(this.headSelect);
    bar.append(el("span", "lxw-title", "Attention"), el("span", "lxw-muted", this.model.get("model_name")));
    bar.append(layerLabel, headLabel, this.progress.node);
    this.layerSelect.addEventListener("change", () => this.choose("layer", Number(this.layerSelect.value)));
    this.headSelect.addEventListener("change", () => this.choose("head", Number(this.headSelect.value)));

    const wrap = el("div", "lxw-canvas-wrap");
    this.overlay.style.cssText = "position:absolute;left:0;top:0;pointer-events:none";
    wrap.append(this.canvas, this.overlay, this.tooltip);
    this.legend.append(el("span", "lxw-muted", "weight"), this.legendMax, this.legendBar, el("span", "lxw-muted", "0"));
    const body = el("div", "lxw-body");
    body.append(wrap, this.legend);
    this.caption.textContent =
      "Rows: query tokens (the token attending). Columns: key tokens (what it attends to). " +
      "Each row sums to 1; the colour scale runs from 0 to this head's largest weight. " +
      "Hover a cell for its weight, click to pin it.";
    this.root.append(bar, this.errors.node, this.placeholder, body, this.caption);

    this.canvas.addEventListener("mousemove", (e) => this.hover(e.offsetX, e.offsetY, false));
    this.canvas.addEventListener("mouseleave", () => this.hover(-1, -1, false));
    this.canvas.addEventListener("click", (e) => this.hover(e.offsetX, e.offsetY, true));
  }

  private listen(): void {
    const on = (event: string, fn: () => void) => {
      this.model.on(event, fn);
      this.cleanups.push(() => this.model.off(event, fn));
    };
    on("change:error", () => this.errors.show(this.model.get("error")));
    for (const key of ["status", "progress", "progress_label"]) on(`change:${key}`, () => this.progress.update());
    on("change:status", () => this.draw());
    on("change:available_layers", () => this.refreshSelectors());
    on("change:n_layers", () => this.refreshSelectors());
    on("change:n_heads", () => this.refreshSelectors());
    on("change:layer", () => { this.refreshSelectors(); this.draw(); });
    on("change:head", () => { this.refreshSelectors(); this.draw(); });
    on("change:pattern", () => this.draw());
    on("change:tokens", () => this.draw());
    const stream = streamOf(this.model);
    const arrived = () => { this.refreshSelectors(); if (!this.drawn) this.draw(); else this.drawIfCurrent(); };
    stream.listeners.add(arrived);
    this.cleanups.push(() => stream.listeners.delete(arrived));
    const resize = new ResizeObserver(() => this.draw());
    resize.observe(this.root);
    this.cleanups.push(() => resize.disconnect());
  }

  private choose(key: "layer" | "head", value: number): void {
    this.locked = null;
    this.model.set(key, value);
    this.model.save_changes();
    this.draw();
  }

  private layerReady(layer: number): boolean {
    return this.model.get("available_layers").includes(layer);
  }

  private refreshSelectors(): void {
    const nLayers = this.model.get("n_layers");
    const nHeads = this.model.get("n_heads");
    const kv = this.model.get("kv_group");
    const grouped = kv.length > 0 && Math.max(...kv) + 1 < nHeads;
    fill(this.layerSelect, nLayers, (i) => (this.layerReady(i) ? `${i}` : `${i} (computing)`));
    fill(this.headSelect, nHeads, (i) => (grouped ? `${i} (kv ${kv[i]})` : `${i}`));
    this.layerSelect.value = String(this.model.get("layer"));
    this.headSelect.value = String(this.model.get("head"));
  }

  /** The [query, key] tensor of the selected layer and head: the trait, or a streamed copy. */
  private currentTensor(): Tensor | null {
    const layer = this.model.get("layer");
    const head = this.model.get("head");
    const trait = this.model.get("pattern") as SliceTensor;
    if (trait && trait.layer === layer && trait.head === head) {
      if (this.traitCache?.trait !== trait) this.traitCache = { trait, tensor: decodeTrait(trait) };
      return this.traitCache.tensor;
    }
    return streamOf(this.model).slices.get(sliceKey(layer, head)) ?? null;
  }

  private drawIfCurrent(): void {
    if (this.currentTensor() !== this.drawn?.tensor) this.draw();
  }

  draw(): void {
    try {
      this.drawUnsafe();
    } catch (err) {
      this.errors.show(`llmxai_widgets could not draw this view: ${err}`);
    }
  }

  private drawUnsafe(): void {
    const tokens = this.model.get("tokens");
    const tensor = this.currentTensor();
    const head = this.model.get("head");
    const wrap = this.canvas.parentElement!;
    if (!tensor && this.drawn && tokens.length > 0 && this.model.get("status") !== "error") {
      wrap.style.opacity = "0.45"; // keep the old picture, dimmed, until the requested slice arrives
      wrap.title = "loading\u2026";
      return;
    }
    wrap.style.opacity = "";
    wrap.title = "";
    if (!tensor || tokens.length === 0) {
      this.showPlaceholder(tokens.length);
      return;
    }
    const n = tokens.length;
    if (tensor.shape[0] !== n || tensor.shape[1] !== n) throw new Error(`attention shape [${tensor.shape}] does not fit ${n} tokens`);
    this.placeholder.style.display = "none";
    this.canvas.parentElement!.parentElement!.style.display = "";
    let vmax = 0;
    for (let i = 0; i < n * n; i++) vmax = Math.max(vmax, tensor.value(i));
    const fontFamily = getComputedStyle(this.root).fontFamily || "sans-serif";
    const labelWidth = measureLabels(this.canvas.getContext("2d")!, tokens, fontFamily);
    const available = (this.root.clientWidth || 720) - 90;
    const g = layoutSquare(n, available, labelWidth);
    const causal = this.model.get("causal");
    drawHeatmap(this.canvas, g, { n, value: (q, k) => tensor.value(q * n + k) }, tokens, {
      colormap: this.model.get("colormap"),
      vmin: 0,
      vmax,
      textColor: getComputedStyle(this.root).color || "#000",
      fontFamily,
      emptyColor: [200, 200, 200],
      isEmpty: causal ? (q, k) => k > q : undefined,
    });
    this.geometry = g;
    this.drawn = { tensor, vmax };
    Object.assign(this.canvas.dataset, {
      n: String(n), cell: String(g.cell), left: String(g.left), top: String(g.top),
      layer: String(this.model.get("layer")), head: String(head), vmax: String(vmax),
    });
    this.overlay.width = this.canvas.width;
    this.overlay.height = this.canvas.height;
    this.overlay.style.width = this.canvas.style.width;
    this.overlay.style.height = this.canvas.style.height;
    this.legendMax.textContent = vmax.toFixed(3);
    drawColorBar(this.legendBar, this.model.get("colormap"), Math.max(80, Math.min(240, n * g.cell)));
    this.highlight(this.locked);
  }

  private showPlaceholder(nTokens: number): void {
    const status = this.model.get("status");
    this.canvas.parentElement!.parentElement!.style.display = "none";
    this.placeholder.style.display = "";
    this.drawn = null;
    const layer = this.model.get("layer");
    this.placeholder.textContent =
      status === "error" ? "Nothing to draw: the computation failed (see the message above)."
      : status === "cancelled" ? `Layer ${layer} was not computed before the computation was cancelled; pick another layer.`
      : nTokens === 0 ? "Waiting for tokens\u2026"
      : status === "computing" && !this.layerReady(layer) ? `Computing attention for ${nTokens} tokens; layer ${layer} appears when it is ready\u2026`
      : `Loading layer ${layer}\u2026 (needs the Python kernel that created this view)`;
  }

  private hover(x: number, y: number, click: boolean): void {
    const g = this.geometry;
    const cell = g && x >= 0 ? cellAt(g, x, y) : null;
    if (click) this.locked = cell && !(this.locked && this.locked.query === cell.query && this.locked.key === cell.key) ? cell : null;
    const shown = this.locked ?? cell;
    this.highlight(shown);
    if (!shown || !this.drawn || !g) {
      this.tooltip.style.display = "none";
      return;
    }
    const tokens = this.model.get("tokens");
    const n = tokens.length;
    const { query, key } = shown;
    const masked = this.model.get("causal") && key > query;
    const weight = this.drawn.tensor.value(query * n + key);
    this.tooltip.replaceChildren();
    const line = (label: string, value: string) => this.tooltip.append(el("b", "", label), el("span", "", value));
    line("query", `#${query} ${JSON.stringify(displayToken(tokens[query], 40))}`);
    line("key", `#${key} ${JSON.stringify(displayToken(tokens[key], 40))}`);
    line("weight", masked ? "masked (a token cannot attend to later tokens)" : weight.toFixed(4));
    this.tooltip.dataset.query = String(query);
    this.tooltip.dataset.key = String(key);
    this.tooltip.dataset.weight = String(weight);
    this.tooltip.style.display = "grid";
    const left = g.left + (key + 1) * g.cell + 12;
    const top = g.top + query * g.cell + 12;
    this.tooltip.style.left = `${Math.min(left, Math.max(0, g.width - 220))}px`;
    this.tooltip.style.top = `${top}px`;
  }

  private highlight(cell: { query: number; key: number } | null): void {
    const g = this.geometry;
    const ctx = this.overlay.getContext("2d");
    if (!ctx || !g) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.width, g.height);
    if (!cell) return;
    ctx.strokeStyle = "rgba(255, 64, 64, 0.9)";
    ctx.lineWidth = Math.max(1, Math.min(2, g.cell / 6));
    // The query's row, up to the last key it may read.
    const readable = this.model.get("causal") ? cell.query + 1 : g.n;
    ctx.strokeRect(g.left, g.top + cell.query * g.cell, g.cell * readable, g.cell);
    ctx.strokeStyle = "rgba(255, 255, 255, 0.95)";
    ctx.strokeRect(g.left + cell.key * g.cell, g.top + cell.query * g.cell, g.cell, g.cell);
  }

  dispose(): void {
    for (const fn of this.cleanups) fn();
    this.root.remove();
  }
}

function fill(select: HTMLSelectElement, count: number, label: (i: number) => string): void {
  if (select.options.length !== count) {
    select.replaceChildren();
    for (let i = 0; i < count; i++) select.appendChild(el("option", "", label(i)));
    Array.from(select.options).forEach((o, i) => (o.value = String(i)));
  } else {
    Array.from(select.options).forEach((o, i) => (o.textContent = label(i)));
  }
}

export default {
  initialize({ model }: { model: Model }) {
    // Listen here, not in render: chunks sent before a view exists are kept for it.
    const stream = streamOf(model);
    const onMessage = (msg: { kind?: string; tensor?: SliceTensor }, buffers: DataView[]) => {
      if (msg?.kind !== "slice" || !msg.tensor || !buffers?.length) return;
      stream.slices.set(sliceKey(msg.tensor.layer, msg.tensor.head), decodeTensor(msg.tensor, buffers[0]));
      if (stream.slices.size > MAX_CACHED_SLICES) stream.slices.delete(stream.slices.keys().next().value!);
      stream.listeners.forEach((fn) => fn());
    };
    model.on("msg:custom", onMessage);
    return () => {
      model.off("msg:custom", onMessage);
      streams.delete(model.get("widget_id"));
    };
  },
  render({ model, el: host }: { model: Model; el: HTMLElement }) {
    ensureStyle();
    try {
      const view = new AttentionMatrixView(model, host);
      return () => view.dispose();
    } catch (err) {
      const panel = el("div", "lxw-error", `llmxai_widgets could not open this view: ${err}`);
      host.appendChild(panel);
      return () => panel.remove();
    }
  },
};
