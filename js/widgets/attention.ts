// AttentionView frontend. Synced state: llmxai_widgets/widgets/attention.py (AttentionView),
// declared in attention/state.ts; the controls and the tabs besides the matrix sit beside it.
import { el } from "../core/dom";
import { ExportFormat, isDarkTheme } from "../core/export";
import { measureLabels } from "../core/heatmap";
import { ColorLegend } from "../core/legend";
import { MatrixCanvas } from "../core/matrix";
import { Pane, paneModule, wireTensor } from "../core/pane";
import { Region, formatWeight, makeScale } from "../core/scale";
import { Tensor } from "../core/wire";
import { AttentionControls, Choice } from "./attention/controls";
import { AttentionTabs } from "./attention/tabs";
import { ReadsLine } from "./attention/reads";
import { AttentionState, Model, SliceTensor, forgetThumbs, receiveThumbs, streamOf } from "./attention/state";

/** How long a requested slice may take before the view says the kernel is not answering. */
const NO_ANSWER_MS = 6000;
/** Traits that change what the selectors show and what is drawn. */
const SELECTED = ["available_layers", "n_layers", "n_heads", "layer", "head", "aggregate", "mode", "exclude_first", "log_scale",
  "thumbnails", "summary", "querykey", "headview", "part", "parts", "pair_filter", "segments", "key_tokens"];
/** Traits that say which slice the matrix needs. */
const SLICE_KEY = ["part", "layer", "head", "aggregate", "log_scale", "exclude_first", "pair_filter"] as const;

class AttentionPane extends Pane<AttentionState> {
  private waiting: { key: string; timer: number } | null = null;
  private placeholder = el("div", "lxw-placeholder");
  private legend = new ColorLegend(false, "weight");
  private caption = el("div", "lxw-muted lxw-caption");
  private matrixPane = el("div");
  private matrix = new MatrixCanvas(() => this.draw());
  private controls = new AttentionControls({
    choose: (change) => this.choose(change),
    set: (change) => this.update(change),
    part: (part) => { this.matrix.locked = null; this.set("part", part); },
    zoom: (factor) => this.matrix.zoom(factor),
    whole: () => this.matrix.showWhole(),
    find: (i) => this.matrix.jumpTo(i),
  }, () => this.model.get("tokens"));
  private tabs = new AttentionTabs(this.model, {
    open: (layer, head) => this.update({ aggregate: "head", head, layer, mode: "matrix" }),
    pin: (query, key) => { this.matrix.locked = { query, key }; this.update({ aggregate: "head", mode: "matrix" }); },
    redraw: () => this.draw(),
  });

  private pendingFocus = -1;
  private reads = new ReadsLine(this.model, (layer, head) => this.update({ aggregate: "head", head, layer, mode: "matrix" }));

  constructor(model: Model) {
    super(model);
    this.matrix.onPick = (cell) => this.focusTo(cell.query);
    this.watch(["reads"], () => this.reads.draw(this.focus));
    this.pendingFocus = this.focus;
    this.reads.draw(this.focus);
    this.build();
    this.watch(["status", "pattern", "tokens"]);
    this.watch(SELECTED, () => { this.sync(); this.draw(); });
    const stream = streamOf(this.model);
    const arrived = () => {
      this.sync();
      if (this.model.get("mode") === "model" || !this.matrix.drawn) this.draw();
      else if (this.currentTensor() !== this.matrix.drawn?.tensor) this.draw();
    };
    stream.listeners.add(arrived);
    this.cleanup(() => stream.listeners.delete(arrived), () => this.answered(), () => this.matrix.dispose());
    this.redrawOnResize();
    this.sync();
  }

  private build(): void {
    const exporting = this.exportButtons({
      svg: "Download the open view as a vector figure (text stays text), drawn by the same code as view.save()",
      png: "Download what is on screen as a PNG",
    }, () => {
      const g = this.matrix.geometry;
      return { window: this.model.get("mode") === "matrix" && g ? { q0: g.q0, k0: g.k0, nq: g.nq, nk: g.nk } : null };
    });
    const body = el("div", "lxw-body");
    body.append(this.matrix.node, this.legend.node);
    this.matrixPane.append(this.controls.options, this.placeholder, body, this.reads.node, this.caption);
    this.root.append(this.toolbar("Attention", ...this.controls.items, exporting), this.errors.node, this.matrixPane, ...this.tabs.nodes);
  }

  private sync(): void {
    const m = this.model;
    const synced = {} as Record<string, unknown>;
    for (const key of ["n_layers", "n_heads", "kv_group", "parts", "part", "segments", "pair_filter", "layer", "aggregate", "head",
      "exclude_first", "log_scale", "mode", "available_layers"] as const) synced[key] = m.get(key);
    this.controls.sync(synced as Parameters<AttentionControls["sync"]>[0]);
  }

  private choose(change: Choice): void {
    this.matrix.locked = null;
    // head and aggregate before layer: Python asks for the slice when the layer changes
    const ordered: Partial<AttentionState> = {};
    if (change.head !== undefined) ordered.head = change.head;
    if (change.aggregate !== undefined) ordered.aggregate = change.aggregate;
    if (change.layer !== undefined) ordered.layer = change.layer;
    this.update(ordered);
    this.draw();
  }

  /** The [query, key] tensor of the selected part, layer and head, once its slice arrived. */
  private currentTensor(): Tensor | null {
    const m = this.model;
    const aggregate = m.get("aggregate");
    const trait = m.get("pattern") as SliceTensor;
    if (!trait || !("data" in trait)) return null;
    // float16 when the colour scale covers only small weights (see AttentionView._slice)
    const precise = m.get("log_scale") || m.get("exclude_first") || (m.get("pair_filter") ?? "all") !== "all";
    const sameKind = (trait.aggregate ?? "head") === aggregate && (trait.dtype === "float16") === precise
      && (trait.part ?? "self") === (m.get("part") ?? "self");
    if (!sameKind || trait.layer !== m.get("layer") || (aggregate === "head" && trait.head !== m.get("head"))) return null;
    return this.cached("pattern", [trait], () => wireTensor(trait));
  }

  protected paint(): void {
    const mode = this.model.get("mode");
    this.matrixPane.style.display = mode === "matrix" ? "" : "none";
    this.tabs.draw(mode, getComputedStyle(this.root), this.root.clientWidth || 720);
    if (mode === "matrix") this.paintMatrix();
  }

  private paintMatrix(): void {
    const m = this.model;
    const tokens = m.get("tokens");
    const keyTokens = m.get("key_tokens") ?? [];
    const cols = keyTokens.length ? keyTokens : tokens;
    const tensor = this.currentTensor();
    const wrap = this.matrix.node;
    if (!tensor && this.matrix.drawn && tokens.length > 0 && m.get("status") !== "error") {
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
    const scale = makeScale(frame, (q, k) => tensor.value(q * nCols + k), { excludeFirst: m.get("exclude_first"), log: m.get("log_scale") });
    const style = getComputedStyle(this.root);
    const fontFamily = style.fontFamily || "sans-serif";
    const ctx = this.matrix.canvas.getContext("2d")!;
    const labelWidth = Math.max(measureLabels(ctx, tokens, fontFamily), measureLabels(ctx, cols, fontFamily));
    const causal = m.get("causal");
    const g = this.matrix.render(tokens, cols, tensor, causal, frame, (this.root.clientWidth || 720) - 90, labelWidth, {
      colormap: m.get("colormap"),
      index: scale.index,
      textColor: style.color || "#000",
      fontFamily,
      // masked cells as in exports (llmxai_widgets/figures/figure.py THEMES): light grey, or dark grey on a dark theme
      emptyColor: isDarkTheme() ? [70, 70, 70] : [200, 200, 200],
      isEmpty: causal ? (q, k) => k > q : undefined,
    });
    Object.assign(this.matrix.canvas.dataset, {
      layer: String(m.get("layer")), head: String(m.get("head")), vmax: String(scale.vmax),
      aggregate: m.get("aggregate"), scale: scale.log ? "log" : "linear", part: m.get("part"), filter: m.get("pair_filter"),
    });
    this.legend.update(m.get("colormap"), Math.max(80, Math.min(240, Math.max(g.nq, g.nk) * g.cell)),
      formatWeight(scale.vmin), formatWeight(scale.vmax), scale.log ? "weight (log)" : "weight");
    this.caption.textContent = this.captionText();
    const pending = this.pendingFocus;
    this.pendingFocus = -1;
    if (pending >= 0 && pending === this.focus && pending < tokens.length) this.matrix.jumpTo(pending);
  }

  /** A token in focus (a click here or in a linked view): its row, pinned, and the heads that read it. */
  protected onFocus(position: number): void {
    this.reads.draw(position);
    if (position < 0 || this.matrix.locked?.query === position) return;
    if (this.matrix.drawn) this.matrix.jumpTo(position);
    else this.pendingFocus = position; // pinned once a slice is drawn
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
    const filter = this.model.get("pair_filter") ?? "all";
    const rows = this.model.get("part") === "cross" ? "Rows: decoder tokens (the token attending). Columns: encoder tokens (the source it reads). "
      : "Rows: query tokens (the token attending). Columns: key tokens (what it attends to). ";
    const scope = filter !== "all" && (this.model.get("segments") ?? []).includes(1)
      ? `Showing sentence ${filter[0]}'s queries reading sentence ${filter[1]}'s keys; rows then sum to less than 1 and the colour scale covers only these cells. `
      : "Each row sums to 1; the colour scale runs from 0 to the largest weight shown. ";
    return rows + scope + "Hover a cell for its weight, click to pin it.";
  }

  /** Without an answer (no kernel), the matrix tab's PNG comes from the canvas itself. */
  protected exportFailed(format: ExportFormat, why: string): void {
    if (this.model.get("mode") !== "matrix") this.errors.show(`${why}: figures are drawn in Python (view.save()); the matrix tab's PNG comes from the canvas.`);
    else if (format === "png") this.downloadCanvas(this.matrix.canvas, "attention.png", why, "canvas");
    else super.exportFailed(format, why);
  }

  /** A slice was asked for: if Python does not answer within a few seconds, say why. */
  private expectAnswer(): void {
    if ((this.model as { standalone?: boolean }).standalone) return; // a saved page: it says what it lacks
    const key = SLICE_KEY.map((k) => String(this.model.get(k))).join(":");
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
      : status === "computing" && !this.model.get("available_layers").includes(layer) ? `Computing attention for ${nTokens} tokens; layer ${layer} appears when it is ready\u2026`
      : `Loading layer ${layer}\u2026 (needs the Python kernel that created this view)`;
  }
}

export default paneModule("attention", AttentionPane, [], { receive: receiveThumbs, forget: forgetThumbs });
