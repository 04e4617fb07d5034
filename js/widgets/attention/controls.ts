// AttentionView's controls: the tabs, part, layer and head menus of the toolbar, and the matrix
// tab's options row (pair filter, colour scale, zoom, find a token). The pane passes what each
// control does; sync() shows the synced state.
import { addOptions, el, fillSelect } from "../../core/dom";
import { AGGREGATE_LABELS, Aggregate, AttentionState, MODES, Mode, PAIR_FILTERS, PART_LABELS, PairFilter } from "./state";

export type Choice = { layer?: number; head?: number; aggregate?: Aggregate };
export type AttentionActions = {
  choose: (change: Choice) => void;
  set: (change: Partial<Pick<AttentionState, "mode" | "pair_filter" | "exclude_first" | "log_scale">>) => void;
  part: (part: string) => void;
  zoom: (factor: number) => void;
  whole: () => void;
  find: (token: number) => void;
};
type Synced = Pick<AttentionState, "n_layers" | "n_heads" | "kv_group" | "parts" | "part" | "segments" | "pair_filter" | "layer"
  | "aggregate" | "head" | "exclude_first" | "log_scale" | "mode" | "available_layers">;

export class AttentionControls {
  /** The toolbar's items after the title (tabs and menus). */
  readonly items: HTMLElement[];
  readonly options = el("div", "lxw-bar lxw-options");
  private tabs = new Map<Mode, HTMLButtonElement>();
  private layerSelect = el("select", "lxw-layer");
  private headSelect = el("select", "lxw-head");
  private partSelect = el("select", "lxw-part");
  private partLabel = el("label", "", "Attention ");
  private pairSelect = el("select", "lxw-pair");
  private pairLabel = el("label", "", "Show ");
  private excludeFirst = el("input");
  private logScale = el("input");
  private search = el("input", "lxw-search");
  private searchInfo = el("span", "lxw-muted");
  private searchAt = -1;

  constructor(private act: AttentionActions, private tokens: () => string[]) {
    for (const [mode, label] of MODES) {
      const tab = el("button", "lxw-tab", label);
      tab.addEventListener("click", () => act.set({ mode }));
      this.tabs.set(mode, tab);
    }
    this.partLabel.appendChild(this.partSelect);
    addOptions(this.partSelect, Object.entries(PART_LABELS));
    this.partSelect.addEventListener("change", () => act.part(this.partSelect.value));
    const layerLabel = el("label", "", "Layer ");
    layerLabel.appendChild(this.layerSelect);
    const headLabel = el("label", "", "Head ");
    headLabel.appendChild(this.headSelect);
    this.layerSelect.addEventListener("change", () => act.choose({ layer: Number(this.layerSelect.value) }));
    this.headSelect.addEventListener("change", () => {
      const v = this.headSelect.value;
      act.choose(/^\d+$/.test(v) ? { head: Number(v), aggregate: "head" } : { aggregate: v as Aggregate });
    });
    this.items = [...this.tabs.values(), this.partLabel, layerLabel, headLabel];
    this.buildOptions();
  }

  private buildOptions(): void {
    const act = this.act;
    this.excludeFirst.type = "checkbox";
    this.logScale.type = "checkbox";
    const exclude = el("label", "", "");
    exclude.append(this.excludeFirst, document.createTextNode("leave the first token out of the colour scale"));
    const log = el("label", "", "");
    log.append(this.logScale, document.createTextNode("log colour scale"));
    this.excludeFirst.addEventListener("change", () => act.set({ exclude_first: this.excludeFirst.checked }));
    this.logScale.addEventListener("change", () => act.set({ log_scale: this.logScale.checked }));
    const zoomIn = el("button", "", "+");
    const zoomOut = el("button", "", "\u2212");
    const reset = el("button", "", "Whole matrix");
    zoomIn.title = "Zoom in (or Ctrl + mouse wheel over the matrix); drag to pan";
    zoomOut.title = "Zoom out";
    zoomIn.addEventListener("click", () => act.zoom(1 / 1.6));
    zoomOut.addEventListener("click", () => act.zoom(1.6));
    reset.addEventListener("click", act.whole);
    this.search.type = "search";
    this.search.placeholder = "find token\u2026";
    this.search.addEventListener("keydown", (e) => { if (e.key === "Enter") this.findNext(); });
    this.search.addEventListener("input", () => { this.searchAt = -1; this.searchInfo.textContent = ""; });
    this.pairLabel.appendChild(this.pairSelect);
    addOptions(this.pairSelect, PAIR_FILTERS);
    this.pairSelect.title = "Sentence pairs: limit the matrix to one sentence's queries reading one sentence's keys";
    this.pairSelect.addEventListener("change", () => act.set({ pair_filter: this.pairSelect.value as PairFilter }));
    this.options.append(this.pairLabel, exclude, log, el("span", "lxw-muted", "Zoom"), zoomOut, zoomIn, reset, this.search, this.searchInfo);
  }

  sync(s: Synced): void {
    const kv = s.kv_group;
    const grouped = kv.length > 0 && Math.max(...kv) + 1 < s.n_heads;
    const parts = s.parts ?? [];
    this.partLabel.style.display = parts.length ? "" : "none";
    for (const o of Array.from(this.partSelect.options)) o.hidden = !parts.includes(o.value);
    this.partSelect.value = s.part;
    this.pairLabel.style.display = (s.segments ?? []).includes(1) ? "" : "none";
    this.pairSelect.value = s.pair_filter ?? "all";
    const layers = Array.from({ length: s.n_layers }, (_, i) => i);
    fillSelect(this.layerSelect, layers.map((i) => [String(i), s.available_layers.includes(i) ? `${i}` : `${i} (computing)`]));
    const heads = Array.from({ length: s.n_heads }, (_, i): [string, string] => [String(i), grouped ? `${i} (kv ${kv[i]})` : `${i}`]);
    fillSelect(this.headSelect, [...heads, ...Object.entries(AGGREGATE_LABELS)]);
    for (const o of Array.from(this.headSelect.options)) if (o.value === "rollout" || o.value === "flow") o.disabled = s.part === "cross";
    this.layerSelect.value = String(s.layer);
    this.headSelect.value = s.aggregate === "head" ? String(s.head) : s.aggregate;
    this.excludeFirst.checked = s.exclude_first;
    this.logScale.checked = s.log_scale;
    for (const [m, tab] of this.tabs) tab.setAttribute("aria-pressed", String(m === s.mode));
  }

  /** Jump to the next token containing the search text. */
  private findNext(): void {
    const needle = this.search.value.trim().toLowerCase();
    if (!needle) return;
    const matches = this.tokens().map((t, i) => (t.toLowerCase().includes(needle) ? i : -1)).filter((i) => i >= 0);
    if (!matches.length) {
      this.searchInfo.textContent = "no match";
      return;
    }
    this.searchAt = (this.searchAt + 1) % matches.length;
    const i = matches[this.searchAt];
    this.searchInfo.textContent = `token #${i}: match ${this.searchAt + 1} of ${matches.length}`;
    this.act.find(i);
  }
}
