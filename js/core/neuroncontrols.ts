// NeuronView's toolbar (tabs, layer menu, Export, progress) and the heatmap's options row
// (column order, top k, colour scale, zoom, go to a neuron). The view passes what each control
// does; sync() shows the synced state.
import { addOptions, el, fillSelect } from "./dom";
import { ExportFormat, exportGroup } from "./export";

export type Mode = "neurons" | "top" | "factors";
const TABS: Array<[Mode, string]> = [["neurons", "All neurons"], ["top", "Top neurons"], ["factors", "Factors"]];
const CLIPS: Array<[string, string]> = [["0.999", "99.9th percentile"], ["0.99", "99th percentile"], ["1", "largest |activation|"]];

export type ControlActions = {
  set: (key: "mode" | "layer" | "sort" | "k_top" | "clip", value: string | number) => void;
  zoom: (factor: number) => void;
  whole: () => void;
  open: (neuron: number) => void;
  export: (format: ExportFormat) => void;
};

export type ControlState = {
  modelName: string; mode: Mode; layers: number[]; done: number[]; layer: number; topK: number; kTop: number;
  sort: string; clip: number; neuronOpen: boolean;
};

export class NeuronControls {
  readonly bar = el("div", "lxw-bar");
  readonly options = el("div", "lxw-bar lxw-options");
  readonly goto = el("input", "lxw-neuron-input");
  readonly windowInfo = el("span", "lxw-muted lxw-window-info");
  readonly exportWhat = el("select", "lxw-export-what");
  private tabs = new Map<Mode, HTMLButtonElement>();
  private layerSelect = el("select", "lxw-layer");
  private sortSelect = el("select", "lxw-sort");
  private kSelect = el("select", "lxw-topk");
  private kLabel = el("label", "", "Top ");
  private clipSelect = el("select", "lxw-clip");
  private name = el("span", "lxw-muted");

  constructor(act: ControlActions, progress: HTMLElement) {
    this.bar.append(el("span", "lxw-title", "Neurons"), this.name);
    for (const [mode, label] of TABS) {
      const tab = el("button", "lxw-tab", label);
      tab.addEventListener("click", () => act.set("mode", mode));
      this.tabs.set(mode, tab);
      this.bar.append(tab);
    }
    const layerLabel = el("label", "", "Layer ");
    layerLabel.appendChild(this.layerSelect);
    this.layerSelect.addEventListener("change", () => act.set("layer", Number(this.layerSelect.value)));
    addOptions(this.exportWhat, [["heatmap", "heatmap"], ["neuron", "neuron detail"]]);
    this.exportWhat.title = "Export the heatmap (its zoom window) or the open neuron's detail";
    const exporting = exportGroup(act.export, {
      svg: "Download what is on screen as a vector figure (text stays text), drawn by the same code as view.save()",
      png: "Download what is on screen as a PNG, drawn by the same code as view.save()",
    }, this.exportWhat);
    this.bar.append(layerLabel, exporting, progress);

    const sortLabel = el("label", "", "Columns ");
    sortLabel.appendChild(this.sortSelect);
    addOptions(this.sortSelect, [["index", "by neuron number"], ["max", "highest activation first"]]);
    this.sortSelect.addEventListener("change", () => act.set("sort", this.sortSelect.value));
    this.kLabel.append(this.kSelect, document.createTextNode(" per token"));
    this.kSelect.addEventListener("change", () => act.set("k_top", Number(this.kSelect.value)));
    const clipLabel = el("label", "", "Colour scale to ");
    clipLabel.appendChild(this.clipSelect);
    addOptions(this.clipSelect, CLIPS);
    this.clipSelect.title = "A few neurons fire 100x harder than the rest; clipping the scale keeps the others visible (stronger cells saturate)";
    this.clipSelect.addEventListener("change", () => act.set("clip", Number(this.clipSelect.value)));
    const zoomOut = el("button", "", "\u2212");
    const zoomIn = el("button", "", "+");
    const whole = el("button", "", "Whole layer");
    zoomIn.title = "Zoom in (or Ctrl + mouse wheel over the heatmap); drag to pan";
    zoomIn.addEventListener("click", () => act.zoom(1 / 2));
    zoomOut.addEventListener("click", () => act.zoom(2));
    whole.addEventListener("click", act.whole);
    this.goto.type = "number";
    this.goto.placeholder = "neuron #";
    this.goto.title = "Open a neuron by its number (Enter)";
    this.goto.addEventListener("keydown", (e) => { if (e.key === "Enter") act.open(Number(this.goto.value)); });
    this.options.append(sortLabel, this.kLabel, clipLabel, el("span", "lxw-muted", "Zoom"), zoomOut, zoomIn, whole,
      this.goto, this.windowInfo);
  }

  sync(s: ControlState): void {
    this.name.textContent = s.modelName;
    fillSelect(this.layerSelect, s.layers.map((l) => [String(l), s.done.includes(l) ? String(l) : `${l} (computing)`]));
    this.layerSelect.value = String(s.layer);
    fillSelect(this.kSelect, Array.from({ length: s.topK }, (_, i) => [String(i + 1), String(i + 1)]));
    this.kSelect.value = String(s.kTop);
    this.sortSelect.value = s.sort;
    this.clipSelect.value = String(s.clip);
    for (const [tab, button] of this.tabs) button.setAttribute("aria-pressed", String(tab === s.mode));
    this.kLabel.style.display = s.mode === "top" ? "" : "none";
    this.exportWhat.style.display = s.neuronOpen && s.mode !== "factors" ? "" : "none";
  }
}
