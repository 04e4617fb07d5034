// NeuronView frontend. Synced state: llmxai_widgets/widgets/neurons.py (NeuronView).
import { ErrorPanel, ProgressLine } from "../core/chrome";
import { colorIndex } from "../core/colors";
import { el } from "../core/dom";
import { download, ExportFormat, isDarkTheme, requestExport, viewModule } from "../core/export";
import { FactorsPane, FactorsPayload } from "../core/factors";
import { drawColorBar } from "../core/heatmap";
import { displayToken } from "../core/layout";
import { BaseState, WidgetModel } from "../core/model";
import { colorMax, columnOrder, rankAt, topUnion } from "../core/neuroncolumns";
import { Mode, NeuronControls } from "../core/neuroncontrols";
import { CorpusPayload, NeuronDetail } from "../core/neurondetail";
import { GridCanvas } from "../core/neurongrid";
import { ensureNeuronStyle } from "../core/neuronstyle";
import { formatWeight } from "../core/scale";
import { Tensor, WireHeader, decodeTrait } from "../core/wire";

type Wire = WireHeader & { data: DataView };
export type NeuronState = BaseState & {
  widget_id: string; model_name: string; tokens: string[]; special: boolean[]; space_before: boolean[];
  n_layers: number; layers: number[]; layers_done: number[]; n_neurons: number; top_k: number; layer: number;
  layer_slice: { layer: number; activations: Wire; top: Wire; order: Wire } | Record<string, never>;
  mode: Mode; sort: "index" | "max"; k_top: number; clip: number; colormap: string; neuron: number;
  n_corpus: number; corpus_top: CorpusPayload | Record<string, never>; corpus_status: string; corpus_progress: number;
  corpus_label: string; nmf_k: number; factors: FactorsPayload | Record<string, never>; factors_status: string;
};
type Model = WidgetModel<NeuronState>;
type Slice = { trait: unknown; layer: number; acts: Tensor; top: Tensor; order: Tensor; cmax: Map<number, number> };

class NeuronPane {
  private root = el("div", "lxw-root lxw-neurons");
  private controls!: NeuronControls;
  private progress: ProgressLine;
  private errors: ErrorPanel;
  private heat = el("div", "lxw-heat");
  private placeholder = el("div", "lxw-placeholder");
  private body = el("div", "lxw-neuron-body");
  private grid = new GridCanvas(() => this.draw());
  private legendMax = el("span", "lxw-muted");
  private legendMin = el("span", "lxw-muted");
  private legendBar = el("canvas");
  private caption = el("div", "lxw-muted lxw-caption");
  private detail: NeuronDetail;
  private factorsPane: FactorsPane;
  private slice: Slice | null = null;
  private columns: Int32Array = new Int32Array(0);
  private columnsKey = "";
  private cleanups: Array<() => void> = [];

  constructor(private model: Model, host: HTMLElement) {
    this.progress = new ProgressLine(model);
    this.errors = new ErrorPanel(model);
    this.detail = new NeuronDetail(() => this.set("neuron", -1), () => this.model.send({ kind: "cancel_corpus" }));
    this.factorsPane = new FactorsPane((k) => this.set("nmf_k", k), () => this.draw());
    this.build();
    host.appendChild(this.root);
    for (const key of REDRAW) this.on(`change:${key}`, () => this.draw());
    for (const key of CORPUS) this.on(`change:${key}`, () => this.drawDetail());
    this.on("change:error", () => this.errors.show(this.model.get("error")));
    for (const key of ["status", "progress", "progress_label"]) this.on(`change:${key}`, () => { this.progress.update(); this.draw(); });
    const resize = new ResizeObserver(() => this.draw());
    resize.observe(this.root);
    const theme = new MutationObserver(() => this.draw());
    theme.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
    this.cleanups.push(() => resize.disconnect(), () => theme.disconnect());
    this.draw();
  }

  private on(event: string, fn: () => void): void {
    this.model.on(event, fn);
    this.cleanups.push(() => this.model.off(event, fn));
  }

  private set<K extends keyof NeuronState>(key: K, value: NeuronState[K]): void {
    this.model.set(key, value);
    this.model.save_changes();
  }

  private build(): void {
    this.controls = new NeuronControls({
      set: (key, value) => this.set(key, value as never),
      zoom: (factor) => this.grid.zoom(factor),
      whole: () => this.grid.showWhole(),
      open: (n) => this.openNeuron(n),
      export: (format) => this.exportFigure(format),
    }, this.progress.node);
    const legend = el("div", "lxw-legend lxw-neuron-legend");
    legend.append(el("span", "lxw-muted", "activation"), this.legendMax, this.legendBar, this.legendMin);
    this.body.append(this.grid.node, legend);
    this.heat.append(this.controls.options, this.placeholder, this.body, this.caption);
    this.grid.onPick = (_row, col) => this.set("neuron", this.columns[col] === this.model.get("neuron") ? -1 : this.columns[col]);
    this.root.append(this.controls.bar, this.errors.node, this.heat, this.factorsPane.node, this.detail.node);
  }

  /** The selected layer's slice, decoded once per trait value. */
  private current(): Slice | null {
    const trait = this.model.get("layer_slice");
    if (!trait || !("activations" in trait)) return null;
    if (this.slice?.trait !== trait) {
      this.slice = { trait, layer: trait.layer, acts: decodeTrait(trait.activations)!, top: decodeTrait(trait.top)!,
        order: decodeTrait(trait.order)!, cmax: new Map() };
    }
    return this.slice;
  }

  draw(): void {
    try {
      this.drawAll();
    } catch (err) {
      this.errors.show(`llmxai_widgets could not draw this view: ${err}`);
    }
  }

  private drawAll(): void {
    const m = this.model;
    const mode = m.get("mode");
    this.controls.sync({ modelName: m.get("model_name"), mode, layers: m.get("layers"), done: m.get("layers_done"),
      layer: m.get("layer"), topK: m.get("top_k"), kTop: m.get("k_top"), sort: m.get("sort"), clip: m.get("clip"),
      neuronOpen: m.get("neuron") >= 0 });
    const style = getComputedStyle(this.root);
    const textColor = style.color || "#000";
    const available = (this.root.clientWidth || 900) - 100;
    const s = this.current();
    const ready = s !== null && s.layer === m.get("layer");
    this.heat.style.display = mode === "factors" ? "none" : "";
    this.factorsPane.node.style.display = mode === "factors" ? "" : "none";
    if (mode === "factors") {
      this.factorsPane.draw({ tokens: m.get("tokens"), spaces: m.get("space_before"), layer: m.get("layer"), k: m.get("nmf_k"),
        maxK: Math.min(12, m.get("tokens").length), status: m.get("factors_status"), factors: m.get("factors"), textColor,
        mutedColor: muted(style), fontFamily: style.fontFamily || "sans-serif", available, dark: isDarkTheme() });
      this.detail.draw({ ...this.detailInput(null), neuron: -1 });
      return;
    }
    this.placeholder.style.display = ready ? "none" : "";
    this.body.style.display = ready ? "" : "none";
    if (!ready) {
      this.placeholder.textContent = this.waitingText();
      this.detail.draw({ ...this.detailInput(null), neuron: -1 });
      return;
    }
    this.drawHeatmap(s!, textColor, muted(style), style.fontFamily || "sans-serif", available);
    this.detail.draw(this.detailInput(s));
  }

  private drawDetail(): void {
    const s = this.current();
    const shown = s !== null && s.layer === this.model.get("layer") && this.model.get("mode") !== "factors";
    this.detail.draw(shown ? this.detailInput(s) : { ...this.detailInput(null), neuron: -1 });
  }

  private waitingText(): string {
    const m = this.model;
    const status = m.get("status");
    const layer = m.get("layer");
    if (status === "error") return "Nothing to draw: the computation failed (see the message above).";
    if (status === "cancelled" && !m.get("layers_done").includes(layer)) return `Layer ${layer} was not computed before the computation was cancelled; pick another layer.`;
    if (status === "computing") return `Running the model on ${m.get("tokens").length} tokens; layer ${layer} appears when its MLP has run\u2026`;
    return `Loading layer ${layer}\u2026 (needs the Python kernel that created this view)`;
  }

  private drawHeatmap(s: Slice, textColor: string, mutedColor: string, fontFamily: string, available: number): void {
    const m = this.model;
    const mode = m.get("mode");
    const tokens = m.get("tokens");
    const [nTokens, nNeurons] = s.acts.shape;
    const key = `${s.layer}:${mode}:${m.get("sort")}:${m.get("k_top")}`;
    if (key !== this.columnsKey) {
      const order = columnOrder(m.get("sort"), s.order, nNeurons);
      this.columns = mode === "top" ? topUnion(s.top, m.get("k_top"), order) : order;
      if (this.columnsKey.split(":").slice(1).join(":") !== key.split(":").slice(1).join(":")) {
        // top neurons: start with columns wide enough for their numbers (drag or zoom out for the rest)
        const fit = Math.floor((available - 80) / 14);
        this.grid.reset(mode === "top" && this.columns.length > fit ? { r0: 0, nr: nTokens, c0: 0, nc: fit } : null);
      }
      this.columnsKey = key;
    }
    const cols = this.columns;
    const clip = m.get("clip");
    if (!s.cmax.has(clip)) s.cmax.set(clip, colorMax(s.acts, clip));
    const c = s.cmax.get(clip)!;
    this.grid.describe = (row, col) => {
      const n = cols[col];
      const lines: Array<[string, string]> = [["token", `#${row} ${JSON.stringify(displayToken(tokens[row], 40))}`],
        ["neuron", `${n} (layer ${s.layer})`], ["activation", s.acts.value(row * nNeurons + n).toFixed(4)]];
      const rank = rankAt(s.top, row, n);
      if (rank >= 0) lines.push(["rank", `#${rank + 1} at this token`]);
      return lines;
    };
    this.grid.marked = cols.indexOf(m.get("neuron"));
    const g = this.grid.render({
      rows: nTokens, cols: cols.length, value: (r, col) => s.acts.value(r * nNeurons + cols[col]),
      rowLabel: (r) => tokens[r] ?? "", colLabel: (col) => String(cols[col]), colId: (col) => cols[col],
    }, {
      colormap: m.get("colormap"), index: (v) => colorIndex(v, -c, c), textColor, mutedColor, fontFamily,
      emptyColor: isDarkTheme() ? [70, 70, 70] : [200, 200, 200], axes: ["tokens {0}-{1}",
        mode === "top" ? `neurons: columns {0}-{1} of ${cols.length} (each token's top ${m.get("k_top")})` : `neurons: columns {0}-{1} of ${nNeurons}`],
    }, available, 560);
    Object.assign(this.grid.canvas.dataset, { layer: String(s.layer), mode, vmax: String(c), sort: m.get("sort") });
    const part = g.nc < cols.length || g.nr < nTokens;
    this.controls.windowInfo.textContent = part ? `showing columns ${g.c0}\u2013${g.c0 + g.nc - 1} of ${cols.length}` +
      (g.nr < nTokens ? `, tokens ${g.r0}\u2013${g.r0 + g.nr - 1} of ${nTokens}` : "") + " (drag to pan)" : "";
    this.legendMax.textContent = `+${formatWeight(c)}`;
    this.legendMin.textContent = `\u2212${formatWeight(c)}`;
    drawColorBar(this.legendBar, m.get("colormap"), Math.max(80, Math.min(240, g.height - g.top - 8)));
    const what = mode === "top" ? `the neurons among each token's ${m.get("k_top")} most active (${cols.length} of ${nNeurons})`
      : `the ${nNeurons.toLocaleString()} MLP neurons`;
    const scale = clip >= 1 ? "the largest |activation|" : `the ${(clip * 100).toFixed(1).replace(/\.0$/, "")}th percentile of |activation| (stronger cells saturate)`;
    this.caption.textContent = `Rows: tokens. Columns: ${what} of layer ${s.layer}, ${m.get("sort") === "max" ? "highest activation first" : "by number"}; ` +
      `the value is the MLP's hidden unit after its non-linearity. Red: positive, blue: negative; the colour scale runs to ${scale}. ` +
      "Hover a cell for its value, click a column to open that neuron; zoom with the buttons or Ctrl + wheel, drag to pan.";
  }

  private detailInput(s: Slice | null) {
    const m = this.model;
    const neuron = m.get("neuron");
    const n = s ? s.acts.shape[1] : 0;
    const values = s && neuron >= 0 && neuron < n ? Array.from({ length: s.acts.shape[0] }, (_, t) => s.acts.value(t * n + neuron)) : [];
    return { layer: m.get("layer"), neuron: s ? neuron : -1, tokens: m.get("tokens"), spaces: m.get("space_before"), values,
      colormap: m.get("colormap"), nCorpus: m.get("n_corpus"), corpus: m.get("corpus_top"), status: m.get("corpus_status"),
      progress: m.get("corpus_progress"), label: m.get("corpus_label") };
  }

  private openNeuron(n: number): void {
    const count = this.model.get("n_neurons");
    if (!Number.isInteger(n) || n < 0 || n >= count) {
      this.errors.show(`neuron ${this.controls.goto.value || "?"} is out of range: layer ${this.model.get("layer")} has ${count} neurons, numbered 0-${count - 1}`);
      return;
    }
    this.set("neuron", n);
    const col = this.columns.indexOf(n);
    if (col >= 0) this.grid.showColumn(col);
  }

  /** Ask Python for the figure on screen; without a kernel the heatmap's PNG is its canvas. */
  private exportFigure(format: ExportFormat): void {
    const mode = this.model.get("mode");
    const view = mode === "factors" ? "factors" : this.controls.exportWhat.value === "neuron" && this.model.get("neuron") >= 0 ? "neuron" : mode;
    const g = this.grid.geometry;
    requestExport(this.model, {
      format, view, neuron: this.model.get("neuron"),
      window: view === mode && mode !== "factors" && g ? { q0: g.r0, nq: g.nr, k0: g.c0, nk: g.nc } : null,
    }, (why) => {
      if (format === "png" && view !== "neuron" && view !== "factors") {
        this.grid.canvas.toBlob((blob) => { if (blob) download(blob, "neurons.png"); });
        this.errors.show(`${why}: the PNG is the heatmap canvas as drawn (no colour bar); figures are drawn in Python (view.save()).`);
      } else {
        this.errors.show(`${why}: figures are drawn in Python (view.save(), view.figure()).`);
      }
    });
  }

  dispose(): void {
    for (const fn of this.cleanups) fn();
    this.grid.dispose();
    this.factorsPane.grid.dispose();
    this.root.remove();
  }
}

/** Traits whose change redraws the view, and those that only touch the neuron detail. */
const REDRAW = ["tokens", "layers", "layers_done", "layer", "layer_slice", "mode", "sort", "k_top", "clip", "colormap",
  "neuron", "nmf_k", "factors", "factors_status"];
const CORPUS = ["n_corpus", "corpus_top", "corpus_status", "corpus_progress", "corpus_label"];

function muted(style: CSSStyleDeclaration): string {
  return style.getPropertyValue("--jp-ui-font-color2").trim() || "#616161";
}

export default viewModule<Model>("neurons", (model, host) => new NeuronPane(model, host), [ensureNeuronStyle]);
