// AttentionView's tabs besides the matrix: the head view, the model view's thumbnails, the head
// summary and the query-key view. Each draws from the traits its Python side sets.
import { el } from "../../core/dom";
import { ThumbnailGrid } from "../../core/grid";
import { HeadViewPane } from "../../core/headview";
import { wireTensor } from "../../core/pane";
import { QueryKeyData, QueryKeyPane } from "../../core/querykey";
import { SummaryPane } from "../../core/summary";
import { Tensor, WireHeader } from "../../core/wire";
import { Mode, Model, Summary, streamOf } from "./state";

export type TabActions = {
  /** Open a head in the matrix tab. */
  open: (layer: number, head: number) => void;
  /** Pin a query-key pair in the matrix tab. */
  pin: (query: number, key: number) => void;
  redraw: () => void;
};

export class AttentionTabs {
  readonly grid: ThumbnailGrid;
  private summary: SummaryPane;
  private summaryWait = el("div", "lxw-placeholder", "Computing the head summary\u2026");
  private queryKey: QueryKeyPane;
  private headView: HeadViewPane;

  constructor(private model: Model, act: TabActions) {
    this.grid = new ThumbnailGrid(act.open);
    this.summary = new SummaryPane(act.open, act.redraw);
    this.queryKey = new QueryKeyPane((q) => { model.set("qk_query", q); model.save_changes(); }, act.pin);
    this.headView = new HeadViewPane((start) => { model.set("hv_start", start); model.save_changes(); });
  }

  get nodes(): HTMLElement[] {
    return [this.grid.node, this.summaryWait, this.summary.node, this.queryKey.node, this.headView.node];
  }

  /** Show ``mode``'s tab (none for the matrix) and draw it. */
  draw(mode: Mode, style: CSSStyleDeclaration, width: number): void {
    const summary = this.summaryTrait();
    this.grid.node.style.display = mode === "model" ? "" : "none";
    this.summary.node.style.display = mode === "summary" && summary ? "" : "none";
    this.summaryWait.style.display = mode === "summary" && !summary ? "" : "none";
    this.queryKey.node.style.display = mode === "querykey" ? "" : "none";
    this.headView.node.style.display = mode === "head" ? "" : "none";
    const color = style.color || "#000";
    const font = style.fontFamily || "sans-serif";
    if (mode === "head") this.drawHeadView(color, font);
    else if (mode === "querykey") this.drawQueryKey(color, font);
    else if (mode === "model") this.drawGrid(color, font, width);
    else if (mode === "summary" && summary) this.drawSummary(summary);
  }

  private summaryTrait(): Summary | null {
    const s = this.model.get("summary");
    return s && "names" in s && s.names ? (s as Summary) : null;
  }

  private keyTokens(): string[] {
    const keys = this.model.get("key_tokens") ?? [];
    return keys.length ? keys : this.model.get("tokens");
  }

  private drawHeadView(color: string, font: string): void {
    const hv = this.model.get("headview") as { start?: number; key_start?: number };
    if (!hv || hv.start === undefined) return;
    this.headView.draw(this.model.get("tokens"), this.keyTokens(), hv.start, hv.key_start ?? hv.start, wireTensor(hv)!, color, font);
  }

  private drawQueryKey(color: string, font: string): void {
    const qk = this.model.get("querykey") as Record<string, unknown> & { query?: number };
    if (!qk || qk.query === undefined) return;
    const parts: Record<string, Tensor> = {};
    for (const name of ["keys", "query_vector", "key_vectors", "products", "scores", "weights"]) parts[name] = wireTensor(qk[name])!;
    this.queryKey.draw(this.model.get("tokens"), this.keyTokens(), qk.query, parts as unknown as QueryKeyData, color, font);
  }

  private drawSummary(s: Summary): void {
    const scores: Record<string, Tensor> = {};
    for (const name of s.names) scores[name] = wireTensor(s.scores[name])!;
    this.summary.draw(s.layers, s.names, scores, this.model.get("colormap"), { layer: this.model.get("layer"), head: this.model.get("head") });
  }

  private drawGrid(color: string, font: string, width: number): void {
    const m = this.model;
    const thumbs = m.get("thumbnails") as WireHeader & { layers?: number[]; part?: string; data?: DataView };
    const part = m.get("part") ?? "self";
    const rows = new Map<number, Tensor>();
    for (const [key, t] of streamOf(m).thumbs) {
      const [p, layer] = key.split(":");
      if (p === part) rows.set(Number(layer), t);
    }
    if (thumbs && thumbs.layers && thumbs.data && (thumbs.part ?? "self") === part) {
      const all = wireTensor(thumbs)!;
      const [, heads, r, c] = all.shape;
      thumbs.layers.forEach((layer, i) => {
        const offset = i * heads * r * c;
        rows.set(layer, { shape: [heads, r, c], raw: all.raw, scale: all.scale, offset: all.offset, value: (j) => all.value(offset + j) });
      });
    }
    const layers = Array.from({ length: m.get("n_layers") }, (_, i) => i);
    this.grid.draw(layers, m.get("n_heads"), rows, m.get("colormap"), Math.min(760, width - 10), color, font, m.get("kv_group"));
    if (m.get("aggregate") === "head") this.grid.highlight(m.get("layer"), m.get("head"));
  }
}
