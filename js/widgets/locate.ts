// CausalTraceView and PatchingView frontend (one pane for both). Synced state:
// llmxai_widgets/widgets/locate.py (_LocateView, CausalTraceView, PatchingView).
import { Legend, ensureBlocksStyle, quoted } from "../core/blocks";
import { GridCell } from "../core/cellgrid";
import { addOptions, el } from "../core/dom";
import { isDarkTheme } from "../core/export";
import { displayToken } from "../core/layout";
import { WireTrait } from "../core/lens";
import {
  CellRef, LocateKind, Show, SiteGrid, caption, cellRef, exactWords, formatCell, fromEstimate, gridCell, headName, isTokenSite, layerLabels,
  lineStarts, patchedWords, scaleEnd, shownValue, siteGrid, sourceWords, tokenCellWidth, tokenName,
} from "../core/locate";
import { LocatePanel, PanelSpec, ensureLocateStyle } from "../core/locatepanel";
import { WidgetModel } from "../core/model";
import { Pane, PaneState, paneModule, wireTensor } from "../core/pane";

export type LocateState = PaneState & {
  tokens: string[];
  kind: LocateKind;
  sites: string[];
  site_labels: Record<string, string>;
  grids: Record<string, WireTrait>;
  estimates: Record<string, WireTrait>;
  done: boolean[];
  show: Show;
  marked: number[];
  value_label: string;
  vmin: number;
  vmax: number;
  colormap: string;
  summary: string[];
  picked: Partial<CellRef>;
  /** `missing`: a saved page without this cell's run says why (js/standalone/lookup.ts). */
  picked_run: Partial<CellRef> & { top?: Array<[string, number]>; missing?: string };
  metric: string;
  direction: string;
};
type Model = WidgetModel<LocateState>;
type Site = { site: string; grid: SiteGrid };

const TOKEN_CELL_H = 18;
const HEAD_CELL = { w: 24, h: 16 };
const PANEL_GAP = 18; // .lxw-locate-row's column gap
const LEGEND_WIDTH = 70;

class LocatePane extends Pane<LocateState> {
  private values = el("select", "lxw-locate-show");
  private metric = el("select", "lxw-locate-metric");
  private direction = el("select", "lxw-locate-direction");
  private patchMenus = el("span", "lxw-locate-menus");
  private title: HTMLElement | null = null;
  private summary = el("div", "lxw-locate-summary");
  private placeholder = el("div", "lxw-muted lxw-locate-placeholder");
  private body = el("div", "lxw-locate-body");
  private tokenRow = el("div", "lxw-locate-row lxw-locate-tokens");
  private headRow = el("div", "lxw-locate-row lxw-locate-heads");
  private note = el("div", "lxw-muted lxw-locate-note");
  private legend = new Legend();
  private detail = el("div", "lxw-detail lxw-locate-detail");
  private caption = el("div", "lxw-muted lxw-caption lxw-blocks-caption");
  private panels = new Map<string, LocatePanel>();
  private width = -1;
  private recheck = 0;

  constructor(model: Model) {
    super(model, "lxw-locate");
    this.build();
    this.watch(["kind", "sites", "site_labels", "grids", "estimates", "done", "show", "marked", "value_label", "vmin", "vmax",
      "colormap", "summary", "picked", "picked_run", "metric", "direction", "tokens", "status"]);
    this.redrawOnResize(() => { if (this.root.clientWidth !== this.width) this.draw(); });
    this.cleanup(() => window.clearTimeout(this.recheck));
  }

  private build(): void {
    const menu = (label: string, select: HTMLSelectElement, options: Array<[string, string]>, title: string,
      trait: "show" | "metric" | "direction") => {
      addOptions(select, options);
      select.title = title;
      select.addEventListener("change", () => this.set(trait, select.value as never));
      const node = el("label", "", `${label} `);
      node.appendChild(select);
      return node;
    };
    const values = menu("Values", this.values, [["exact", "exact"], ["estimate", "linear estimate"]],
      "Exact: each cell's own patched run, and the linear estimate where that has not been computed yet; linear estimate: " +
      "attribution patching's first-order guess of every cell (one forward and one backward pass)", "show");
    this.patchMenus.append(
      menu("Metric", this.metric, [["logit_diff", "logit difference"], ["logprob", "log probability"], ["prob", "probability"]],
        "What a cell measures of the answer (normalised: 0 = corrupted run, 1 = clean run); changing it recomputes", "metric"),
      menu("Direction", this.direction, [["denoising", "denoising"], ["noising", "noising"]],
      "Denoising: does this activation suffice to bring the clean answer back? Noising: is it needed for it? Recomputes.",
      "direction"));
    this.patchMenus.style.cssText = "display: inline-flex; gap: 10px";
    const exporting = this.exportButtons({
      svg: "Download the grids as a vector figure (text stays text), drawn by the same code as view.save()",
      png: "Download the grids as a PNG, drawn by the same code as view.save()",
    }, () => ({ show: this.model.get("show") }));
    const bar = this.toolbar(this.titleText(), values, this.patchMenus, exporting);
    this.title = bar.querySelector(".lxw-title");
    const grids = el("div", "lxw-locate-grids");
    grids.append(this.tokenRow, this.headRow, this.note);
    this.body.append(grids, this.detail);
    this.root.append(bar, this.errors.node, this.summary, this.placeholder, this.body, this.caption);
  }

  private titleText(): string {
    return this.model.get("kind") === "patching" ? "Activation patching" : "Causal tracing";
  }

  /** The grids that have numbers, in the order of ``sites``, decoded once per value. */
  private data(): Site[] {
    const m = this.model;
    const [grids, estimates, sites] = [m.get("grids") ?? {}, m.get("estimates") ?? {}, m.get("sites") ?? []];
    return this.cached("sites", [grids, estimates, sites], () => {
      const names = sites.length ? sites : Object.keys(estimates);
      return names.flatMap((site) => {
        const grid = siteGrid(wireTensor(grids[site]), wireTensor(estimates[site]));
        return grid ? [{ site, grid }] : [];
      });
    });
  }

  protected paint(): void {
    const m = this.model;
    if (this.title) this.title.textContent = this.titleText();
    this.patchMenus.style.display = m.get("kind") === "patching" ? "inline-flex" : "none";
    this.values.value = m.get("show");
    this.metric.value = m.get("metric") ?? "logit_diff";
    this.direction.value = m.get("direction") ?? "denoising";
    this.summary.replaceChildren(...(m.get("summary") ?? []).map((line) => el("div", "", line)));
    this.width = this.root.clientWidth;
    const sites = this.data();
    const status = m.get("status");
    this.body.style.display = sites.length ? "" : "none";
    this.placeholder.textContent = sites.length ? "" : status === "computing"
      ? "Computing the linear estimate of every cell (one forward and one backward pass); exact values follow layer by layer\u2026"
      : status === "cancelled" ? "Cancelled before any values arrived." : "";
    this.placeholder.style.display = this.placeholder.textContent ? "" : "none";
    this.caption.textContent = sites.length ? caption(m.get("kind"), m.get("direction"), m.get("value_label")) : "";
    if (!sites.length) return;
    this.drawGrids(sites);
    this.recheckWidth();
    const done = m.get("done") ?? [];
    this.note.textContent = exactWords(done, m.get("show"), status);
    const allExact = done.length > 0 && done.every(Boolean) && m.get("show") === "exact";
    Object.assign(this.note.dataset, { exact: String(done.filter(Boolean).length), allExact: String(allExact) });
    this.drawDetail(sites);
  }

  private drawGrids(sites: Site[]): void {
    const m = this.model;
    const style = getComputedStyle(this.root);
    const colors = {
      textColor: style.color || "#000", mutedColor: style.getPropertyValue("--jp-ui-font-color2").trim() || "#616161",
      maskedColor: isDarkTheme() ? "rgb(70, 70, 70)" : "rgb(200, 200, 200)", fontFamily: style.fontFamily || "sans-serif",
    };
    for (const name of this.panels.keys()) if (!sites.some((s) => s.site === name)) this.panels.get(name)!.node.remove();
    const tokens = sites.filter((s) => isTokenSite(s.site));
    const heads = sites.filter((s) => !isTokenSite(s.site));
    const specs = sites.map((s) => ({ s, spec: this.spec(s, colors) }));
    const available = Math.max(320, (this.root.clientWidth || 1200) - 8);
    const legendRow = tokens.length ? this.tokenRow : this.headRow;
    for (const [row, group] of [[this.tokenRow, tokens], [this.headRow, heads]] as const) {
      const mine = specs.filter(({ s }) => group.includes(s));
      const panels = mine.map(({ s }) => this.panel(s.site));
      const widths = mine.map(({ spec }) => LocatePanel.widthOf(spec.rows.length, spec.cols.length, spec.cellW, spec.cellH, 0));
      const labels = mine.map(({ spec }, i) => Math.ceil(panels[i].labelWidth(spec)));
      if (row === legendRow) {
        widths.push(this.legend.node.offsetWidth || LEGEND_WIDTH);
        labels.push(0);
      }
      const starts = lineStarts(widths, labels, PANEL_GAP, available);
      const heights = mine.map(({ spec }, i) => {
        spec.showRowLabels = starts[i] || !isTokenSite(spec.site);
        return panels[i].render(spec).rows * spec.cellH;
      });
      row.replaceChildren(...panels.map((p) => p.node));
      row.style.display = mine.length ? "" : "none";
      if (row === legendRow) {
        row.appendChild(this.legend.node);
        this.legend.update(m.get("colormap"), Math.min(Math.max(...heights, 80), 240), scaleEnd(m.get("vmax")), scaleEnd(m.get("vmin")),
          m.get("value_label"));
      }
      this.labelLineStarts(panels, mine.map(({ spec }) => spec));
    }
    const picked = m.get("picked") ?? {};
    for (const [site, panel] of this.panels) {
      const on = picked.site === site && picked.layer !== undefined && picked.column !== undefined;
      panel.grid.pin(on ? gridCell(picked as CellRef) : null);
    }
  }

  /** Draw again if the width was passing (a theme switch lays the notebook out twice within a frame,
   * too fast for the resize observer, and the panels were arranged for the passing width). */
  private recheckWidth(): void {
    window.clearTimeout(this.recheck);
    this.recheck = window.setTimeout(() => { if (this.root.isConnected && this.root.clientWidth !== this.width) this.draw(); }, 150);
  }

  /** Row labels on exactly the token panels that start a line as the browser wrapped them (the
   * width measured before drawing can be off while the notebook is still laying itself out). */
  private labelLineStarts(panels: LocatePanel[], specs: PanelSpec[]): void {
    if (!this.root.isConnected || !this.root.offsetParent) return; // not laid out: the resize observer redraws
    for (let pass = 0; pass < 3; pass++) {
      const wrong = panels.filter((p, i) => isTokenSite(specs[i].site) &&
        specs[i].showRowLabels !== (i === 0 || p.node.offsetTop > panels[i - 1].node.offsetTop + 1));
      if (!wrong.length) return;
      for (const p of wrong) {
        const spec = specs[panels.indexOf(p)];
        spec.showRowLabels = !spec.showRowLabels;
        p.render(spec);
      }
    }
  }

  /** The panel of ``site``, made (with its hover and click) the first time. */
  private panel(site: string): LocatePanel {
    let panel = this.panels.get(site);
    if (!panel) {
      panel = new LocatePanel(site);
      panel.grid.describe = (cell) => this.describe(cellRef(site, cell.row, cell.col));
      panel.grid.onPick = (cell: GridCell | null) => this.set("picked", cell ? cellRef(site, cell.row, cell.col) : {});
      this.panels.set(site, panel);
    }
    return panel;
  }

  private spec({ site, grid }: Site, colors: Pick<PanelSpec, "textColor" | "mutedColor" | "maskedColor" | "fontFamily">): PanelSpec {
    const m = this.model;
    const done = m.get("done") ?? [];
    const show = m.get("show");
    const estimated = Array.from({ length: grid.layers }, (_, l) => fromEstimate(l, done, show));
    const common = { site, title: this.label(site), vmin: m.get("vmin"), vmax: m.get("vmax"), colormap: m.get("colormap"),
      showRowLabels: true, ...colors };
    if (isTokenSite(site)) {
      const tokens = m.get("tokens");
      const marked = new Set(m.get("marked") ?? []);
      return { ...common, rowIndex: true, bold: marked, colAxis: "layer",
        rows: Array.from({ length: grid.columns }, (_, i) => displayToken(tokens[i] ?? "", 16)),
        cols: layerLabels(grid.layers, estimated), estimatedCols: estimated, estimatedRows: [],
        cellW: tokenCellWidth(grid.layers), cellH: TOKEN_CELL_H, value: (r, c) => shownValue(grid, c, r, done, show) };
    }
    return { ...common, rowIndex: false, bold: new Set(), colAxis: "head",
      rows: estimated.map((e, l) => `${e ? "\u2248" : ""}L${l}`),
      cols: Array.from({ length: grid.columns }, (_, h) => headName(site, h)), estimatedCols: [], estimatedRows: estimated,
      cellW: HEAD_CELL.w, cellH: HEAD_CELL.h, value: (r, c) => shownValue(grid, r, c, done, show) };
  }

  private label(site: string): string {
    return this.model.get("site_labels")?.[site] ?? site;
  }

  private find(ref: Partial<CellRef>): { grid: SiteGrid; ref: CellRef } | null {
    const s = this.data().find((x) => x.site === ref.site);
    if (!s || ref.layer === undefined || ref.column === undefined) return null;
    return ref.layer < s.grid.layers && ref.column < s.grid.columns ? { grid: s.grid, ref: ref as CellRef } : null;
  }

  private where(ref: CellRef): [string, string] {
    const m = this.model;
    return isTokenSite(ref.site) ? ["token", tokenName(m.get("tokens"), ref.column, m.get("marked") ?? [], m.get("kind"))]
      : ["head", headName(ref.site, ref.column)];
  }

  private describe(ref: CellRef): Array<[string, string]> {
    const m = this.model;
    const found = this.find(ref);
    if (!found) return [];
    const done = m.get("done") ?? [];
    const v = shownValue(found.grid, ref.layer, ref.column, done, m.get("show"));
    return [["grid", this.label(ref.site)], ["layer", `L${ref.layer}`], this.where(ref),
      [m.get("value_label") || "value", formatCell(v)], ["from", sourceWords(ref.layer, done, m.get("show"), m.get("status"))]];
  }

  private drawDetail(sites: Site[]): void {
    const m = this.model;
    const found = sites.length ? this.find(m.get("picked") ?? {}) : null;
    if (!found) {
      this.detail.replaceChildren(el("p", "lxw-muted",
        "Click a cell to see what was patched, its value and what the model predicts in that run."));
      for (const key of ["site", "layer", "column", "value"]) delete this.detail.dataset[key];
      return;
    }
    const { grid, ref } = found;
    const done = m.get("done") ?? [];
    const v = shownValue(grid, ref.layer, ref.column, done, m.get("show"));
    const [, where] = this.where(ref);
    const source = sourceWords(ref.layer, done, m.get("show"), m.get("status"));
    const children: HTMLElement[] = [
      el("h4", "", `${this.label(ref.site)}, layer ${ref.layer}, ${where}`),
      el("p", "", patchedWords(m.get("kind"), m.get("direction"), ref, m.get("tokens"))),
      el("p", "lxw-locate-value", `${m.get("value_label") || "value"} = ${formatCell(v)}: ${source}.`),
      ...this.topTokens(ref),
    ];
    this.detail.replaceChildren(...children);
    Object.assign(this.detail.dataset, { site: ref.site, layer: String(ref.layer), column: String(ref.column), value: String(v) });
  }

  /** The picked cell's run: its most likely next tokens, once Python has run it. */
  private topTokens(ref: CellRef): HTMLElement[] {
    const run = this.model.get("picked_run") ?? {};
    const same = run.site === ref.site && run.layer === ref.layer && run.column === ref.column;
    if (same && run.missing) return [el("p", "lxw-muted", run.missing)];
    if (!same || !run.top) {
      return [el("p", "lxw-muted", "Running the model with this cell patched\u2026")];
    }
    const table = el("table", "lxw-locate-top");
    run.top.forEach(([token, p], k) => {
      const fill = el("div", "lxw-bar-fill");
      fill.style.width = `${Math.max(1, p * 100)}%`;
      const bar = el("td", "lxw-barcell");
      bar.appendChild(fill);
      const tr = el("tr");
      tr.dataset.prob = String(p);
      tr.append(el("td", "lxw-rank", String(k + 1)), el("td", "lxw-token", quoted(token, 30)), bar, el("td", "lxw-num", p.toFixed(4)));
      table.appendChild(tr);
    });
    const samples = this.model.get("kind") === "trace" ? " (probabilities averaged over the noise samples)" : "";
    return [el("p", "", `What the model predicts next in this run${samples}:`), table];
  }
}

export default paneModule("locate", LocatePane, [ensureBlocksStyle, ensureLocateStyle]);
