// AttentionView frontend. Synced state: llmxai_widgets/widgets/attention.py (AttentionView).
import { ErrorPanel, ProgressLine } from "../core/chrome";
import { el, ensureStyle } from "../core/dom";
import { ExportFormat, download, exportGroup, forgetExports, isDarkTheme, receiveExport, requestExport } from "../core/export";
import { ThumbnailGrid } from "../core/grid";
import { HeadViewPane } from "../core/headview";
import { QueryKeyData, QueryKeyPane } from "../core/querykey";
import { SummaryPane } from "../core/summary";
import { drawColorBar, measureLabels } from "../core/heatmap";
import { MatrixCanvas } from "../core/matrix";
import { BaseState, WidgetModel } from "../core/model";
import { Region, formatWeight, makeScale } from "../core/scale";
import { Tensor, WireHeader, decodeTensor, decodeTrait } from "../core/wire";

/** One head's [query, key] weights: the only slice of the attention that travels. */
type SliceTensor = WireHeader & { layer: number; head: number; aggregate: Aggregate; part?: string; data: DataView };
type Aggregate = "head" | "mean" | "max" | "rollout" | "flow";
const AGGREGATE_LABELS: Record<Exclude<Aggregate, "head">, string> = {
  mean: "mean of heads",
  max: "max of heads",
  rollout: "rollout to this layer",
  flow: "flow to this layer",
};

export type AttentionState = BaseState & {
  widget_id: string;
  model_name: string;
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
  summary: { layers: number[]; names: string[]; scores: Record<string, WireHeader & { data: DataView }> } | Record<string, never>;
  thumbnails: (WireHeader & { layers: number[]; data: DataView }) | Record<string, never>;
  exclude_first: boolean;
  log_scale: boolean;
};
type Model = WidgetModel<AttentionState>;
type PairFilter = "all" | "AA" | "AB" | "BA" | "BB";
const PAIR_FILTERS: Array<[PairFilter, string]> = [
  ["all", "all tokens"], ["AA", "sentence A → A"], ["AB", "sentence A → B"],
  ["BA", "sentence B → A"], ["BB", "sentence B → B"],
];
const PART_LABELS: Record<string, string> = {
  cross: "cross-attention (decoder → encoder)",
  encoder: "encoder self-attention",
  decoder: "decoder self-attention",
};
/** How long a requested slice may take before the view says the kernel is not answering. */
const NO_ANSWER_MS = 6000;
type Mode = "matrix" | "head" | "model" | "summary" | "querykey";
const MODES: Mode[] = ["matrix", "head", "model", "summary", "querykey"];

/** Model-view thumbnails streamed during their computation (by "part:layer"), kept per model
 * so every view of it shares them. */
type Stream = { thumbs: Map<string, Tensor>; listeners: Set<() => void> };
// Keyed by the widget's own id: anywidget hands initialize() and render() different model
// wrappers, so the wrapper object cannot be the key.
const streams = new Map<string, Stream>();
function streamOf(model: Model): Stream {
  const id = model.get("widget_id");
  let s = streams.get(id);
  if (!s) streams.set(id, (s = { thumbs: new Map(), listeners: new Set() }));
  return s;
}

class AttentionMatrixView {
  private root = el("div", "lxw-root");
  private layerSelect = el("select", "lxw-layer");
  private headSelect = el("select", "lxw-head");
  private partSelect = el("select", "lxw-part");
  private partLabel = el("label", "", "Attention ");
  private pairSelect = el("select", "lxw-pair");
  private pairLabel = el("label", "", "Show ");
  private waiting: { key: string; timer: number } | null = null;
  private progress: ProgressLine;
  private errors: ErrorPanel;
  private placeholder = el("div", "lxw-placeholder");
  private legendMax = el("span", "lxw-muted");
  private legendBar = el("canvas");
  private legend = el("div", "lxw-legend");
  private caption = el("div", "lxw-muted lxw-caption");
  private legendMin = el("span", "lxw-muted", "0");
  private legendTitle = el("span", "lxw-muted", "weight");
  private matrixPane = el("div");
  private grid: ThumbnailGrid;
  private tabs: Record<Mode, HTMLButtonElement> = {
    matrix: el("button", "lxw-tab", "Matrix"),
    head: el("button", "lxw-tab", "Head view"),
    model: el("button", "lxw-tab", "Model view"),
    summary: el("button", "lxw-tab", "Head summary"),
    querykey: el("button", "lxw-tab", "Query \u00d7 key"),
  };
  private queryKeyPane: QueryKeyPane;
  private headViewPane = new HeadViewPane((start) => { this.model.set("hv_start", start); this.model.save_changes(); });
  private summaryPane: SummaryPane;
  private summaryWait = el("div", "lxw-placeholder", "Computing the head summary\u2026");
  private excludeFirst = el("input");
  private logScale = el("input");
  private search = el("input", "lxw-search");
  private searchInfo = el("span", "lxw-muted");
  private searchAt = -1;
  private traitCache: { trait: SliceTensor; tensor: Tensor | null } | null = null;
  private cleanups: Array<() => void> = [];
  private matrix = new MatrixCanvas(() => this.draw());

  constructor(private model: Model, host: HTMLElement) {
    this.progress = new ProgressLine(model);
    this.errors = new ErrorPanel(model);
    const open = (layer: number, head: number) => {
      this.model.set("aggregate", "head");
      this.model.set("head", head);
      this.model.set("layer", layer);
      this.model.set("mode", "matrix");
      this.model.save_changes();
    };
    this.grid = new ThumbnailGrid(open);
    this.summaryPane = new SummaryPane(open, () => this.draw());
    this.queryKeyPane = new QueryKeyPane(
      (q) => { this.model.set("qk_query", q); this.model.save_changes(); },
      (query, key) => {
        this.matrix.locked = { query, key };
        this.model.set("aggregate", "head");
        this.model.set("mode", "matrix");
        this.model.save_changes();
      },
    );
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
    this.partLabel.appendChild(this.partSelect);
    for (const [value, label] of Object.entries(PART_LABELS)) {
      const o = el("option", "", label);
      o.value = value;
      this.partSelect.appendChild(o);
    }
    this.partSelect.addEventListener("change", () => {
      this.matrix.locked = null;
      this.model.set("part", this.partSelect.value);
      this.model.save_changes();
    });
    const exporting = exportGroup((format) => this.exportFigure(format), {
      svg: "Download the open view as a vector figure (text stays text), drawn by the same code as view.save()",
      png: "Download what is on screen as a PNG",
    });
    bar.append(...MODES.map((m) => this.tabs[m]), this.partLabel, layerLabel, headLabel, exporting, this.progress.node);
    this.layerSelect.addEventListener("change", () => this.choose({ layer: Number(this.layerSelect.value) }));
    this.headSelect.addEventListener("change", () => {
      const v = this.headSelect.value;
      this.choose(/^\d+$/.test(v) ? { head: Number(v), aggregate: "head" } : { aggregate: v as Aggregate });
    });
    for (const mode of MODES) {
      this.tabs[mode].addEventListener("click", () => { this.model.set("mode", mode); this.model.save_changes(); });
    }
    const options = el("div", "lxw-bar lxw-options");
    this.excludeFirst.type = "checkbox";
    this.logScale.type = "checkbox";
    const exclude = el("label", "", "");
    exclude.append(this.excludeFirst, document.createTextNode("leave the first token out of the colour scale"));
    const log = el("label", "", "");
    log.append(this.logScale, document.createTextNode("log colour scale"));
    const zoomIn = el("button", "", "+");
    const zoomOut = el("button", "", "\u2212");
    const reset = el("button", "", "Whole matrix");
    zoomIn.title = "Zoom in (or Ctrl + mouse wheel over the matrix); drag to pan";
    zoomOut.title = "Zoom out";
    zoomIn.addEventListener("click", () => this.matrix.zoom(1 / 1.6));
    zoomOut.addEventListener("click", () => this.matrix.zoom(1.6));
    reset.addEventListener("click", () => this.matrix.showWhole());
    this.search.type = "search";
    this.search.placeholder = "find token\u2026";
    this.search.addEventListener("keydown", (e) => { if (e.key === "Enter") this.findNext(); });
    this.search.addEventListener("input", () => { this.searchAt = -1; this.searchInfo.textContent = ""; });
    this.pairLabel.appendChild(this.pairSelect);
    for (const [value, label] of PAIR_FILTERS) {
      const o = el("option", "", label);
      o.value = value;
      this.pairSelect.appendChild(o);
    }
    this.pairSelect.title = "Sentence pairs: limit the matrix to one sentence's queries reading one sentence's keys";
    this.pairSelect.addEventListener("change", () => { this.model.set("pair_filter", this.pairSelect.value as PairFilter); this.model.save_changes(); });
    options.append(this.pairLabel, exclude, log, el("span", "lxw-muted", "Zoom"), zoomOut, zoomIn, reset, this.search, this.searchInfo);
    this.excludeFirst.addEventListener("change", () => { this.model.set("exclude_first", this.excludeFirst.checked); this.model.save_changes(); });
    this.logScale.addEventListener("change", () => { this.model.set("log_scale", this.logScale.checked); this.model.save_changes(); });

    this.legend.append(this.legendTitle, this.legendMax, this.legendBar, this.legendMin);
    const body = el("div", "lxw-body");
    body.append(this.matrix.node, this.legend);
    this.caption.textContent =
      "Rows: query tokens (the token attending). Columns: key tokens (what it attends to). " +
      "Each row sums to 1; the colour scale runs from 0 to this head's largest weight. " +
      "Hover a cell for its weight, click to pin it.";
    this.matrixPane.append(options, this.placeholder, body, this.caption);
    this.root.append(bar, this.errors.node, this.matrixPane, this.grid.node, this.summaryWait, this.summaryPane.node, this.queryKeyPane.node, this.headViewPane.node);
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
    for (const key of ["aggregate", "mode", "exclude_first", "log_scale", "thumbnails", "summary", "querykey", "headview", "part", "parts", "pair_filter", "segments", "key_tokens"]) {
      on(`change:${key}`, () => { this.refreshSelectors(); this.draw(); });
    }
    on("change:pattern", () => this.draw());
    on("change:tokens", () => this.draw());
    const stream = streamOf(this.model);
    const arrived = () => {
      this.refreshSelectors();
      if (this.model.get("mode") === "model" || !this.matrix.drawn) this.draw();
      else this.drawIfCurrent();
    };
    stream.listeners.add(arrived);
    this.cleanups.push(() => stream.listeners.delete(arrived));
    const resize = new ResizeObserver(() => this.draw());
    resize.observe(this.root);
    this.cleanups.push(() => resize.disconnect());
    // JupyterLab's theme switch (data-jp-theme-light on <body>): redraw with its colours
    const theme = new MutationObserver(() => this.draw());
    theme.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
    this.cleanups.push(() => theme.disconnect());
  }

  private choose(change: { layer?: number; head?: number; aggregate?: Aggregate }): void {
    this.matrix.locked = null;
    if (change.head !== undefined) this.model.set("head", change.head);
    if (change.aggregate !== undefined) this.model.set("aggregate", change.aggregate);
    if (change.layer !== undefined) this.model.set("layer", change.layer);
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
    const parts = this.model.get("parts") ?? [];
    this.partLabel.style.display = parts.length ? "" : "none";
    for (const o of Array.from(this.partSelect.options)) o.hidden = !parts.includes(o.value);
    this.partSelect.value = this.model.get("part");
    const paired = (this.model.get("segments") ?? []).includes(1);
    this.pairLabel.style.display = paired ? "" : "none";
    this.pairSelect.value = this.model.get("pair_filter") ?? "all";
    fill(this.layerSelect, nLayers, (i) => (this.layerReady(i) ? `${i}` : `${i} (computing)`));
    const aggregates = Object.keys(AGGREGATE_LABELS) as Array<keyof typeof AGGREGATE_LABELS>;
    fill(this.headSelect, nHeads + aggregates.length, (i) =>
      i < nHeads ? (grouped ? `${i} (kv ${kv[i]})` : `${i}`) : AGGREGATE_LABELS[aggregates[i - nHeads]],
      (i) => (i < nHeads ? String(i) : aggregates[i - nHeads]));
    const cross = this.model.get("part") === "cross";
    for (const o of Array.from(this.headSelect.options)) if (o.value === "rollout" || o.value === "flow") o.disabled = cross;
    this.layerSelect.value = String(this.model.get("layer"));
    const aggregate = this.model.get("aggregate");
    this.headSelect.value = aggregate === "head" ? String(this.model.get("head")) : aggregate;
    this.excludeFirst.checked = this.model.get("exclude_first");
    this.logScale.checked = this.model.get("log_scale");
    const mode = this.model.get("mode");
    for (const m of MODES) this.tabs[m].setAttribute("aria-pressed", String(m === mode));
  }

  /** The [query, key] tensor of the selected part, layer and head, once its slice arrived. */
  private currentTensor(): Tensor | null {
    const layer = this.model.get("layer");
    const head = this.model.get("head");
    const aggregate = this.model.get("aggregate");
    const log = this.model.get("log_scale");
    const trait = this.model.get("pattern") as SliceTensor;
    if (!trait || !("data" in trait)) return null;
    // float16 when the colour scale covers only small weights (see AttentionView._slice)
    const precise = log || this.model.get("exclude_first") || (this.model.get("pair_filter") ?? "all") !== "all";
    const sameKind = (trait.aggregate ?? "head") === aggregate && (trait.dtype === "float16") === precise
      && (trait.part ?? "self") === (this.model.get("part") ?? "self");
    if (!sameKind || trait.layer !== layer || (aggregate === "head" && trait.head !== head)) return null;
    if (this.traitCache?.trait !== trait) this.traitCache = { trait, tensor: decodeTrait(trait) };
    return this.traitCache.tensor;
  }

  private drawIfCurrent(): void {
    if (this.currentTensor() !== this.matrix.drawn?.tensor) this.draw();
  }

  draw(): void {
    try {
      this.drawUnsafe();
    } catch (err) {
      this.errors.show(`llmxai_widgets could not draw this view: ${err}`);
    }
  }

  private drawUnsafe(): void {
    const mode = this.model.get("mode");
    const summary = this.model.get("summary") as AttentionState["summary"];
    const hasSummary = !!(summary && "names" in summary && summary.names);
    this.matrixPane.style.display = mode === "matrix" ? "" : "none";
    this.grid.node.style.display = mode === "model" ? "" : "none";
    this.summaryPane.node.style.display = mode === "summary" && hasSummary ? "" : "none";
    this.summaryWait.style.display = mode === "summary" && !hasSummary ? "" : "none";
    this.queryKeyPane.node.style.display = mode === "querykey" ? "" : "none";
    this.headViewPane.node.style.display = mode === "head" ? "" : "none";
    if (mode === "head") {
      const hv = this.model.get("headview") as Record<string, unknown> & { start?: number; layer?: number };
      if (hv && hv.start !== undefined) {
        const style = getComputedStyle(this.root);
        const keyTokens = this.model.get("key_tokens") ?? [];
        this.headViewPane.draw(this.model.get("tokens"), keyTokens.length ? keyTokens : this.model.get("tokens"),
          hv.start, (hv as { key_start?: number }).key_start ?? hv.start,
          decodeTrait(hv as unknown as WireHeader & { data: DataView })!, style.color || "#000", style.fontFamily || "sans-serif");
      }
      return;
    }
    if (mode === "querykey") {
      const qk = this.model.get("querykey") as Record<string, unknown> & { query?: number };
      if (qk && qk.query !== undefined) {
        const parts = {} as Record<string, Tensor>;
        for (const name of ["keys", "query_vector", "key_vectors", "products", "scores", "weights"]) {
          parts[name] = decodeTrait(qk[name] as WireHeader & { data: DataView })!;
        }
        const style = getComputedStyle(this.root);
        const keyTokens = this.model.get("key_tokens") ?? [];
        this.queryKeyPane.draw(this.model.get("tokens"), keyTokens.length ? keyTokens : this.model.get("tokens"), qk.query, parts as unknown as QueryKeyData,
          style.color || "#000", style.fontFamily || "sans-serif");
      }
      return;
    }
    if (mode === "model") {
      this.drawGrid();
      return;
    }
    if (mode === "summary") {
      if (hasSummary) {
        const s = summary as Exclude<AttentionState["summary"], Record<string, never>>;
        const scores: Record<string, Tensor> = {};
        for (const name of s.names) scores[name] = decodeTrait(s.scores[name])!;
        this.summaryPane.draw(s.layers, s.names, scores, this.model.get("colormap"),
          { layer: this.model.get("layer"), head: this.model.get("head") });
      }
      return;
    }
    const tokens = this.model.get("tokens");
    const keyTokens = this.model.get("key_tokens") ?? [];
    const cols = keyTokens.length ? keyTokens : tokens;
    const tensor = this.currentTensor();
    const wrap = this.matrix.node;
    if (!tensor && this.matrix.drawn && tokens.length > 0 && this.model.get("status") !== "error") {
      wrap.style.opacity = "0.45"; // keep the old picture, dimmed, until the requested slice arrives
      wrap.title = "loading…";
      this.expectAnswer();
      return;
    }
    this.answered();
    wrap.style.opacity = "";
    wrap.title = "";
    if (!tensor || tokens.length === 0) {
      this.showPlaceholder(tokens.length);
      return;
    }
    const [nRows, nCols] = tensor.shape;
    if (nRows !== tokens.length || nCols !== cols.length) {
      throw new Error(`attention shape [${tensor.shape}] does not fit ${tokens.length} x ${cols.length} tokens`);
    }
    this.placeholder.style.display = "none";
    wrap.parentElement!.style.display = "";
    const frame = this.frame(tokens.length, cols.length);
    const value = (q: number, k: number) => tensor.value(q * nCols + k);
    const scale = makeScale(frame, value, { excludeFirst: this.model.get("exclude_first"), log: this.model.get("log_scale") });
    const style = getComputedStyle(this.root);
    const fontFamily = style.fontFamily || "sans-serif";
    const ctx = this.matrix.canvas.getContext("2d")!;
    const labelWidth = Math.max(measureLabels(ctx, tokens, fontFamily), measureLabels(ctx, cols, fontFamily));
    const causal = this.model.get("causal");
    const g = this.matrix.render(tokens, cols, tensor, causal, frame, (this.root.clientWidth || 720) - 90, labelWidth, {
      colormap: this.model.get("colormap"),
      index: scale.index,
      textColor: style.color || "#000",
      fontFamily,
      // masked cells as in exports (llmxai_widgets/figures/figure.py THEMES): light grey, or dark grey on a dark theme
      emptyColor: isDarkTheme() ? [70, 70, 70] : [200, 200, 200],
      isEmpty: causal ? (q, k) => k > q : undefined,
    });
    Object.assign(this.matrix.canvas.dataset, {
      layer: String(this.model.get("layer")), head: String(this.model.get("head")), vmax: String(scale.vmax),
      aggregate: this.model.get("aggregate"), scale: scale.log ? "log" : "linear",
      part: this.model.get("part"), filter: this.model.get("pair_filter"),
    });
    this.legendMax.textContent = formatWeight(scale.vmax);
    this.legendMin.textContent = formatWeight(scale.vmin);
    this.legendTitle.textContent = scale.log ? "weight (log)" : "weight";
    this.caption.textContent = this.captionText();
    drawColorBar(this.legendBar, this.model.get("colormap"), Math.max(80, Math.min(240, Math.max(g.nq, g.nk) * g.cell)));
  }

  /** The rows and columns the pair filter keeps (sentence A = segment 0, B = segment 1). */
  private frame(rows: number, cols: number): Region {
    const filter = this.model.get("pair_filter") ?? "all";
    const segments = this.model.get("segments") ?? [];
    const whole = { q0: 0, q1: rows, k0: 0, k1: cols };
    if (filter === "all" || segments.length !== rows || rows !== cols || !segments.includes(1)) return whole;
    const firstB = segments.indexOf(1);
    const span = (s: string) => (s === "A" ? [0, firstB] : [firstB, rows]);
    const [q0, q1] = span(filter[0]);
    const [k0, k1] = span(filter[1]);
    return { q0, q1, k0, k1 };
  }

  private captionText(): string {
    const part = this.model.get("part");
    const filter = this.model.get("pair_filter") ?? "all";
    const rows = part === "cross" ? "Rows: decoder tokens (the token attending). Columns: encoder tokens (the source it reads). "
      : "Rows: query tokens (the token attending). Columns: key tokens (what it attends to). ";
    const scope = filter !== "all" && (this.model.get("segments") ?? []).includes(1)
      ? `Showing sentence ${filter[0]}'s queries reading sentence ${filter[1]}'s keys; rows then sum to less than 1 and the colour scale covers only these cells. `
      : "Each row sums to 1; the colour scale runs from 0 to the largest weight shown. ";
    return rows + scope + "Hover a cell for its weight, click to pin it.";
  }

  /** Ask Python for the figure of what is on screen (zoom window included); without an answer
   * (no kernel), the PNG comes from the canvas itself and the SVG explains why it cannot. */
  private exportFigure(format: ExportFormat): void {
    const g = this.matrix.geometry;
    const matrix = this.model.get("mode") === "matrix";
    requestExport(this.model, { format, window: matrix && g ? { q0: g.q0, k0: g.k0, nq: g.nq, nk: g.nk } : null }, (why) => {
      if (format === "png" && this.model.get("mode") === "matrix") {
        this.matrix.canvas.toBlob((blob) => { if (blob) download(blob, "attention.png"); });
        this.errors.show(`${why}: the PNG is the canvas as drawn (no colour bar); SVG figures are drawn in Python (view.save()).`);
      } else {
        this.errors.show(`${why}: figures are drawn in Python (view.save()); the matrix tab's PNG comes from the canvas.`);
      }
    });
  }

  /** A slice was asked for: if Python does not answer within a few seconds, say why. */
  private expectAnswer(): void {
    if ((this.model as { standalone?: boolean }).standalone) return; // a saved page: it says what it lacks
    const key = ["part", "layer", "head", "aggregate", "log_scale", "exclude_first", "pair_filter"].map((k) => String(this.model.get(k as keyof AttentionState))).join(":");
    if (this.waiting?.key === key) return;
    this.answered();
    const timer = window.setTimeout(() => {
      if (this.waiting?.key !== key || this.currentTensor()) return;
      if (this.model.get("status") === "computing") return; // still computing: the progress line says so
      const shown = this.matrix.canvas.dataset;
      this.errors.show(`No answer from the Python kernel for layer ${this.model.get("layer")}. If the notebook was ` +
        "reopened or the kernel restarted, run the cell that created this view again; the picture shown " +
        `(layer ${shown.layer}, ${shown.aggregate === "head" ? `head ${shown.head}` : shown.aggregate}) is the last one received.`);
    }, NO_ANSWER_MS);
    this.waiting = { key, timer };
  }

  private answered(): void {
    if (this.waiting) window.clearTimeout(this.waiting.timer);
    this.waiting = null;
  }

  private drawGrid(): void {
    const thumbsTrait = this.model.get("thumbnails") as WireHeader & { layers?: number[]; part?: string; data?: DataView };
    const part = this.model.get("part") ?? "self";
    const rows = new Map<number, Tensor>();
    for (const [key, t] of streamOf(this.model).thumbs) {
      const [p, layer] = key.split(":");
      if (p === part) rows.set(Number(layer), t);
    }
    if (thumbsTrait && thumbsTrait.layers && thumbsTrait.data && (thumbsTrait.part ?? "self") === part) {
      const all = decodeTrait(thumbsTrait as WireHeader & { data: DataView })!;
      const [, heads, r, c] = all.shape;
      thumbsTrait.layers.forEach((layer, i) => {
        const offset = i * heads * r * c;
        rows.set(layer, { shape: [heads, r, c], raw: all.raw, scale: all.scale, offset: all.offset, value: (j) => all.value(offset + j) });
      });
    }
    const layers = Array.from({ length: this.model.get("n_layers") }, (_, i) => i);
    const style = getComputedStyle(this.root);
    this.grid.draw(layers, this.model.get("n_heads"), rows, this.model.get("colormap"),
      Math.min(760, (this.root.clientWidth || 720) - 10), style.color || "#000", style.fontFamily || "sans-serif",
      this.model.get("kv_group"));
    if (this.model.get("aggregate") === "head") this.grid.highlight(this.model.get("layer"), this.model.get("head"));
  }

  private showPlaceholder(nTokens: number): void {
    const status = this.model.get("status");
    this.matrix.node.parentElement!.style.display = "none";
    this.placeholder.style.display = "";
    this.matrix.clear();
    const layer = this.model.get("layer");
    this.placeholder.textContent =
      status === "error" ? "Nothing to draw: the computation failed (see the message above)."
      : status === "cancelled" ? `Layer ${layer} was not computed before the computation was cancelled; pick another layer.`
      : nTokens === 0 ? "Waiting for tokens\u2026"
      : status === "computing" && !this.layerReady(layer) ? `Computing attention for ${nTokens} tokens; layer ${layer} appears when it is ready\u2026`
      : `Loading layer ${layer}\u2026 (needs the Python kernel that created this view)`;
  }

  /** Jump to the next token containing the search text: zoom there and pin its row. */
  private findNext(): void {
    const needle = this.search.value.trim().toLowerCase();
    const tokens = this.model.get("tokens");
    if (!needle) return;
    const matches = tokens.map((t, i) => (t.toLowerCase().includes(needle) ? i : -1)).filter((i) => i >= 0);
    if (!matches.length) {
      this.searchInfo.textContent = "no match";
      return;
    }
    this.searchAt = (this.searchAt + 1) % matches.length;
    const i = matches[this.searchAt];
    this.searchInfo.textContent = `token #${i}: match ${this.searchAt + 1} of ${matches.length}`;
    this.matrix.jumpTo(i);
  }

  dispose(): void {
    for (const fn of this.cleanups) fn();
    this.answered();
    this.matrix.dispose();
    this.root.remove();
  }
}

function fill(select: HTMLSelectElement, count: number, label: (i: number) => string, value = (i: number) => String(i)): void {
  if (select.options.length !== count) {
    select.replaceChildren();
    for (let i = 0; i < count; i++) select.appendChild(el("option", "", label(i)));
    Array.from(select.options).forEach((o, i) => (o.value = value(i)));
  } else {
    Array.from(select.options).forEach((o, i) => (o.textContent = label(i)));
  }
}

export default {
  initialize({ model }: { model: Model }) {
    // Listen here, not in render: chunks sent before a view exists are kept for it.
    const stream = streamOf(model);
    const onMessage = (msg: { kind?: string; tensor?: WireHeader & { layer: number; part?: string }; ok?: boolean; name?: string; format?: string }, buffers: DataView[]) => {
      if (receiveExport(model, msg, buffers, "attention")) return;
      if (msg?.kind !== "thumbs" || !msg.tensor || !buffers?.length) return;
      const t = msg.tensor;
      stream.thumbs.set(`${t.part ?? "self"}:${t.layer}`, decodeTensor(t, buffers[0]));
      stream.listeners.forEach((fn) => fn());
    };
    model.on("msg:custom", onMessage);
    return () => {
      model.off("msg:custom", onMessage);
      forgetExports(model);
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
