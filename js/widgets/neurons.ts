// NeuronView frontend. Synced state: llmxai_widgets/widgets/neurons.py (NeuronView).
import { colorIndex } from "../core/colors";
import { el } from "../core/dom";
import { ExportFormat, isDarkTheme, requestExport } from "../core/export";
import { FactorsPane, FactorsPayload } from "../core/factors";
import { ColorLegend } from "../core/legend";
import { displayToken } from "../core/layout";
import { WidgetModel } from "../core/model";
import { Pane, PaneState, paneModule, wireTensor } from "../core/pane";
import { colorMax, columnOrder, rankAt, topUnion } from "../core/neuroncolumns";
import { Mode, NeuronControls } from "../core/neuroncontrols";
import { CorpusPayload, NeuronDetail } from "../core/neurondetail";
import { GridCanvas } from "../core/neurongrid";
import { ensureNeuronStyle } from "../core/neuronstyle";
import { Tensor, WireHeader } from "../core/wire";

type Wire = WireHeader & { data: DataView };
export type NeuronState = PaneState & {
  tokens: string[]; special: boolean[]; space_before: boolean[];
  n_layers: number; layers: number[]; layers_done: number[]; n_neurons: number; top_k: number; layer: number;
  layer_slice: { layer: number; activations: Wire; top: Wire; order: Wire } | Record<string, never>;
  mode: Mode; sort: "index" | "max"; k_top: number; clip: number; colormap: string; neuron: number;
  n_corpus: number; corpus_top: CorpusPayload | Record<string, never>; corpus_status: string; corpus_progress: number;
  corpus_label: string; nmf_k: number; factors: FactorsPayload | Record<string, never>; factors_status: string;
};
type Model = WidgetModel<NeuronState>;
type Slice = { layer: number; acts: Tensor; top: Tensor; order: Tensor; cmax: Map<number, number> };

class NeuronPane extends Pane<NeuronState> {
  private controls = new NeuronControls({
    set: (key, value) => this.set(key, value as never),
    zoom: (factor) => this.grid.zoom(factor),
    whole: () => this.grid.showWhole(),
    open: (n) => this.openNeuron(n),
    export: (format) => this.exportFigure(format),
  }, this.progress.node);
  private heat = el("div", "lxw-heat");
  private placeholder = el("div", "lxw-placeholder");
  private body = el("div", "lxw-neuron-body");
  private grid = new GridCanvas(() => this.draw());
  private legend = new ColorLegend(false, "activation", "lxw-neuron-legend");
  private caption = el("div", "lxw-muted lxw-caption");
  private detail = new NeuronDetail(() => this.set("neuron", -1), () => this.model.send({ kind: "cancel_corpus" }));
  private factorsPane = new FactorsPane((k) => this.set("nmf_k", k), () => this.draw());
  private focusLine = el("div", "lxw-muted lxw-focus-line");
  private columns: Int32Array = new Int32Array(0);
  private columnsKey = "";

  constructor(model: Model) {
    super(model, "lxw-neurons");
    this.body.append(this.grid.node, this.legend.node);
    this.heat.append(this.controls.options, this.placeholder, this.body, this.caption);
    this.grid.onPick = (row, col) => {
      this.set("neuron", this.columns[col] === this.model.get("neuron") ? -1 : this.columns[col]);
      this.focusTo(row);
    };
    this.heat.append(this.focusLine);
    this.root.append(this.controls.bar, this.errors.node, this.heat, this.factorsPane.node, this.detail.node);
    this.watch([...REDRAW, "status", "progress", "progress_label"]);
    this.watch(CORPUS, () => this.drawDetail());
    this.redrawOnResize();
    this.cleanup(() => this.grid.dispose(), () => this.factorsPane.grid.dispose());
  }

  /** The selected layer's slice, decoded once per trait value. */
  private current(): Slice | null {
    const trait = this.model.get("layer_slice");
    return this.cached("slice", [trait], () => (!trait || !("activations" in trait) ? null
      : { layer: trait.layer, acts: wireTensor(trait.activations)!, top: wireTensor(trait.top)!, order: wireTensor(trait.order)!, cmax: new Map() }));
  }

  protected paint(): void {
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
    this.grid.markedRow = this.focus;
    this.drawHeatmap(s!, textColor, muted(style), style.fontFamily || "sans-serif", available);
    this.drawFocus(s!);
    this.detail.draw(this.detailInput(s));
  }

  /** A token in focus (here or in a linked view): its row outlined and its most active neurons listed. */
  protected onFocus(_position: number): void {
    this.draw();
  }

  private drawFocus(s: Slice): void {
    const p = this.focus;
    const tokens = this.model.get("tokens");
    this.focusLine.replaceChildren();
    this.focusLine.style.display = p >= 0 && p < tokens.length ? "" : "none";
    if (this.focusLine.style.display) return;
    const [, nNeurons] = s.acts.shape;
    const ranks = s.top.shape[1];
    this.focusLine.append(`Most active neurons at #${p} ${JSON.stringify(displayToken(tokens[p], 30))} (layer ${s.layer}): `);
    for (let r = 0; r < Math.min(5, ranks); r++) {
      const n = s.top.value(p * ranks + r);
      const link = el("button", "lxw-link", `${n}`);
      link.title = `open neuron ${n}`;
      link.dataset.neuron = String(n);
      link.addEventListener("click", () => this.openNeuron(n));
      this.focusLine.append(r ? " \u00b7 " : "", link, ` ${s.acts.value(p * nNeurons + n).toFixed(2)}`);
    }
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
    this.legend.signed(m.get("colormap"), Math.max(80, Math.min(240, g.height - g.top - 8)), c);
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

  /** Ask Python for the figure on screen. */
  private exportFigure(format: ExportFormat): void {
    const view = this.exportedView();
    const g = this.grid.geometry;
    const mode = this.model.get("mode");
    requestExport(this.model, {
      format, view, neuron: this.model.get("neuron"),
      window: view === mode && mode !== "factors" && g ? { q0: g.r0, nq: g.nr, k0: g.c0, nk: g.nc } : null,
    }, (why) => this.exportFailed(format, why));
  }

  private exportedView(): string {
    const mode = this.model.get("mode");
    return mode === "factors" ? "factors" : this.controls.exportWhat.value === "neuron" && this.model.get("neuron") >= 0 ? "neuron" : mode;
  }

  /** Without a kernel the heatmap's PNG is its canvas. */
  protected exportFailed(format: ExportFormat, why: string): void {
    const view = this.exportedView();
    if (format === "png" && view !== "neuron" && view !== "factors") this.downloadCanvas(this.grid.canvas, "neurons.png", why, "heatmap canvas");
    else super.exportFailed(format, why);
  }
}

/** Traits whose change redraws the view, and those that only touch the neuron detail. */
const REDRAW = ["tokens", "layers", "layers_done", "layer", "layer_slice", "mode", "sort", "k_top", "clip", "colormap",
  "neuron", "nmf_k", "factors", "factors_status"];
const CORPUS = ["n_corpus", "corpus_top", "corpus_status", "corpus_progress", "corpus_label"];

function muted(style: CSSStyleDeclaration): string {
  return style.getPropertyValue("--jp-ui-font-color2").trim() || "#616161";
}

export default paneModule("neurons", NeuronPane, [ensureNeuronStyle]);
