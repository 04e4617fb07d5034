// CircuitView frontend: the circuit as a layered graph on one canvas (thousands of edges, no DOM
// node per edge), the edge-count slider with the shown circuit's faithfulness, the faithfulness
// curve, hover an edge for its score, click a node for its detail. Synced state:
// llmxai_widgets/widgets/circuits.py.
import { Curve, Layout, NODE_R, edgeCurve, height, nWriters, nearestCurve, readerName, rowY, writer, writerAt, writerName } from "../core/circuitgraph";
import { el } from "../core/dom";
import { jsonToken } from "../core/layout";
import { isDarkTheme } from "../core/export";
import { WidgetModel } from "../core/model";
import { Pane, paneModule, wireTensor } from "../core/pane";
import { addStyleOnce } from "../core/dom";
import { colorIndex, cssColor } from "../core/colors";
import { drawAxisLabels } from "../core/heatmap";
import { tokenSpans } from "../core/neurondetail";

import { CSS, CircuitState, Edges, Pattern, edgesOf, fixed, patternOf, sized } from "./circuits/parts";

class CircuitPane extends Pane<CircuitState> {
  private slider = el("input");
  private count = el("span", "lxw-muted");
  private faith = el("div", "lxw-circuit-faith");
  private summary = el("div", "lxw-muted");
  private graphBox = el("div", "lxw-circuit-graph");
  private canvas = el("canvas");
  private tip = el("div", "lxw-circuit-tip");
  private curveCanvas = el("canvas");
  private detail = el("div", "lxw-circuit-detail");
  private curves: Curve[] = [];
  private layout: Layout | null = null;

  constructor(model: WidgetModel<CircuitState>) {
    super(model, "lxw-circuit");
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.addEventListener("input", () => this.showCount(Number(this.slider.value)));
    this.slider.addEventListener("change", () => this.set("n_shown", Number(this.slider.value)));
    const sliderBox = el("label", "lxw-circuit-slider", "Edges ");
    sliderBox.append(this.slider, this.count);
    this.graphBox.append(this.canvas, this.tip);
    const side = el("div", "lxw-circuit-side");
    side.append(this.faith, el("div", "lxw-muted", "Faithfulness of the top-n circuits (exact runs):"), this.curveCanvas, this.detail);
    const main = el("div", "lxw-circuit-main");
    main.append(this.graphBox, side);
    const exporting = this.exportButtons({
      svg: "Download the circuit as drawn (the top edges the slider shows) as a vector figure, drawn by the same code as view.save()",
      png: "Download the circuit as drawn as a PNG, drawn by the same code as view.save()",
    }, () => ({ n: this.model.get("n_shown") }));
    this.root.append(this.toolbar("Circuit", sliderBox, exporting), this.errors.node, this.summary, main,
      el("div", "lxw-muted lxw-caption", "Blocks bottom to top; heads left to right, the MLP at the right of each row. " +
        "An edge's width is its |score|; red: corrupting it raises the metric, blue: lowers it (the edge carries what " +
        "the clean answer needs). Hover an edge for its score; click a node for its detail."));
    this.canvas.addEventListener("mousemove", (e) => this.hover(e));
    this.canvas.addEventListener("mouseleave", () => { this.tip.style.display = "none"; });
    this.canvas.addEventListener("click", (e) => this.click(e));
    this.watch(["n_layers", "n_heads", "n_kv_heads", "candidates", "node_scores", "n_shown", "faithful", "curve", "picked",
      "node_detail", "summary", "n_edges", "tokens"]);
    this.redrawOnResize();
  }

  /** The candidate edges, decoded once per value that arrives (hover reads them on every move). */
  private edges(): Edges | null {
    const c = this.model.get("candidates");
    return this.cached("edges", [c], () => edgesOf(c));
  }

  private point(e: MouseEvent) {
    const box = this.canvas.getBoundingClientRect();
    return { x: e.clientX - box.left, y: e.clientY - box.top };
  }

  private shown(edges: Edges): number {
    return Math.min(this.model.get("n_shown"), edges.up.length);
  }

  private hover(e: MouseEvent): void {
    const edges = this.edges();
    if (!edges || !this.layout) return;
    const p = this.point(e);
    const node = writerAt(this.layout, p);
    const i = node >= 0 ? -1 : nearestCurve(this.curves, p);
    if (node < 0 && i < 0) {
      this.tip.style.display = "none";
      return;
    }
    const scores = wireTensor(this.model.get("node_scores"));
    this.tip.textContent = node >= 0
      ? `${writerName(this.layout, node)}: summed score ${scores ? scores.value(node).toFixed(4) : "?"}`
      : `${writerName(this.layout, edges.up[i])} \u2192 ${readerName(this.layout, edges.down[i])}: ${edges.score[i].toFixed(4)}`;
    Object.assign(this.tip.dataset, node >= 0 ? { node: String(node), edge: "" } : { edge: String(i), node: "" });
    this.tip.style.display = "block";
    this.tip.style.left = `${p.x + 12}px`;
    this.tip.style.top = `${p.y + 8}px`;
  }

  private click(e: MouseEvent): void {
    if (!this.layout) return;
    const node = writerAt(this.layout, this.point(e));
    if (node > 0) this.set("picked", node === this.model.get("picked") ? -1 : node);
  }

  private showCount(n: number): void {
    const total = this.model.get("n_edges");
    this.count.textContent = `${n.toLocaleString()} of ${total.toLocaleString()}`;
  }

  protected paint(): void {
    const m = this.model;
    this.summary.replaceChildren(...(m.get("summary") ?? []).map((line) => el("div", "", line)));
    const edges = this.edges();
    const nLayers = m.get("n_layers");
    if (!nLayers) return;
    const layout: Layout = { nLayers, nHeads: m.get("n_heads"), nKv: m.get("n_kv_heads"), width: Math.max(360, this.graphBox.clientWidth || 600) };
    this.layout = layout;
    const max = edges ? edges.up.length : 0;
    this.slider.max = String(max);
    this.slider.value = String(Math.min(m.get("n_shown"), max));
    this.showCount(Number(this.slider.value));
    const f = m.get("faithful") ?? {};
    const counts = m.get("curve")?.counts ?? [];
    this.faith.textContent = !edges ? "Scoring the edges\u2026" : f.n === m.get("n_shown") && f.value !== undefined
      ? `Faithfulness of the top ${f.n!.toLocaleString()} edges: ${fixed(f.value, 3)}`
      : f.n === m.get("n_shown") && f.missing
        ? `Faithfulness of the top ${f.n!.toLocaleString()} edges: ${f.missing} ${counts.map((c) => c.toLocaleString()).join(", ")}`
        : `Faithfulness of the top ${m.get("n_shown").toLocaleString()} edges: computing\u2026`;
    this.faith.classList.toggle("lxw-missing", Boolean(f.missing) && f.n === m.get("n_shown"));
    this.faith.dataset.n = String(f.n ?? "");
    this.faith.dataset.value = String(f.value ?? "");
    this.drawGraph(layout, edges);
    this.drawCurve();
    this.drawDetail();
  }

  private drawGraph(layout: Layout, edges: Edges | null): void {
    const w = layout.width, h = height(layout);
    const dark = isDarkTheme();
    const ctx = sized(this.canvas, w, h, dark ? "#111" : "#fff", false); // its width follows the box (CSS)
    const n = edges ? this.shown(edges) : 0;
    this.curves = [];
    let biggest = 0;
    for (let i = 0; i < n; i++) biggest = Math.max(biggest, Math.abs(edges!.score[i]));
    for (let i = n - 1; i >= 0; i--) { // weakest first: the strongest edges end on top
      const c = edgeCurve(layout, edges!.up[i], edges!.down[i]);
      const s = edges!.score[i];
      ctx.strokeStyle = s >= 0 ? "rgba(200, 40, 40, 0.75)" : "rgba(30, 90, 200, 0.75)";
      ctx.lineWidth = 0.4 + 3.6 * (biggest ? Math.abs(s) / biggest : 0);
      ctx.beginPath();
      ctx.moveTo(c[0].x, c[0].y);
      ctx.bezierCurveTo(c[1].x, c[1].y, c[2].x, c[2].y, c[3].x, c[3].y);
      ctx.stroke();
    }
    for (let i = 0; i < n; i++) this.curves.push(edgeCurve(layout, edges!.up[i], edges!.down[i]));
    this.canvas.dataset.edges = String(n);
    // nodes, and the layer labels
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillStyle = dark ? "#bbb" : "#555";
    for (let layer = 0; layer < layout.nLayers; layer++) ctx.fillText(`L${layer}`, 6, rowY(layout, layer));
    const picked = this.model.get("picked");
    for (let i = 0; i < nWriters(layout); i++) {
      const node = writer(layout, i);
      ctx.beginPath();
      if (node.kind === "mlp") ctx.rect(node.x - NODE_R, node.y - NODE_R, 2 * NODE_R, 2 * NODE_R);
      else ctx.arc(node.x, node.y, NODE_R, 0, 2 * Math.PI);
      ctx.fillStyle = i === picked ? "#f5b400" : dark ? "#ddd" : "#333";
      ctx.fill();
    }
    const top = rowY(layout, layout.nLayers);
    ctx.fillStyle = dark ? "#ddd" : "#333";
    ctx.textAlign = "center";
    ctx.fillText("logits", writer(layout, 0).x, top - 2);
    ctx.fillText("embeddings", writer(layout, 0).x, rowY(layout, -1) + 13);
    ctx.textAlign = "start";
  }

  private drawCurve(): void {
    const curve = this.model.get("curve") ?? {};
    const w = 280, h = 150;
    const dark = isDarkTheme();
    const ctx = sized(this.curveCanvas, w, h, dark ? "#111" : "#fff");
    const counts = curve.counts ?? [], values = curve.values ?? [];
    ctx.fillStyle = dark ? "#bbb" : "#555";
    ctx.font = "10px system-ui, sans-serif";
    if (!counts.length) {
      ctx.fillText("computing\u2026", 10, h / 2);
      return;
    }
    const left = 30, right = w - 12, top = 8, bottom = h - 28;
    const lx = (c: number) => Math.log2(c + 1);
    const xmax = lx(counts[counts.length - 1]);
    const lo = Math.min(0, ...values), hi = Math.max(1, ...values);
    const X = (c: number) => left + (right - left) * lx(c) / (xmax || 1);
    const Y = (v: number) => bottom - (bottom - top) * (v - lo) / (hi - lo || 1);
    ctx.strokeStyle = dark ? "#666" : "#bbb";
    ctx.beginPath();
    for (const v of [0, 1]) { ctx.moveTo(left, Y(v)); ctx.lineTo(right, Y(v)); }
    ctx.stroke();
    ctx.fillText("1", 18, Y(1));
    ctx.fillText("0", 18, Y(0));
    ctx.textAlign = "center";
    for (let c = 1; c <= counts[counts.length - 1]; c *= 100) ctx.fillText(c >= 1000 ? `${c / 1000}k` : String(c), X(c), bottom + 11);
    ctx.textAlign = "start";
    ctx.fillText("edges kept (log scale) \u2192", left + 40, h - 2);
    ctx.strokeStyle = dark ? "#8ab4f8" : "#1a5fb4";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    counts.forEach((c, i) => (i ? ctx.lineTo(X(c), Y(values[i])) : ctx.moveTo(X(c), Y(values[i]))));
    ctx.stroke();
    const f = this.model.get("faithful") ?? {};
    if (f.n !== undefined && f.value !== undefined) {
      ctx.fillStyle = "#f5b400";
      ctx.beginPath();
      ctx.arc(X(f.n), Y(f.value), 4, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  private drawDetail(): void {
    const d = this.model.get("node_detail") ?? {};
    const picked = this.model.get("picked");
    if (picked < 0) {
      this.detail.replaceChildren();
      return;
    }
    if (d.node !== picked || d.missing) {
      this.detail.replaceChildren(el("p", "lxw-muted", d.missing ?? "Running the model with this node corrupted\u2026"));
      this.detail.dataset.node = d.missing ? String(picked) : "";
      return;
    }
    const table = el("table");
    for (const [down, score] of d.out ?? []) {
      const tr = el("tr");
      tr.append(el("td", "", `\u2192 ${this.layout ? readerName(this.layout, down) : down}`), el("td", "lxw-num", score.toFixed(4)));
      table.appendChild(tr);
    }
    const metric = this.model.get("metric_label");
    const parts: Node[] = [el("h4", "", this.layout ? writerName(this.layout, picked) : String(d.name)),
      el("p", "", `Summed edge score (estimate): ${d.score?.toFixed(4)}. Exact: corrupting its output in every reader ` +
        `changes ${metric} by ${d.exact?.toFixed(4)}.`)];
    const tokens = this.model.get("tokens") ?? [];
    if (d.by_token && d.by_token.length === tokens.length) {
      const vmax = Math.max(1e-9, ...d.by_token.map(Math.abs));
      const row = el("div", "lxw-text lxw-circuit-row");
      row.append(...tokenSpans(tokens, d.by_token, vmax, "RdBu_r", -1));
      parts.push(el("p", "", `Corrupted at one token at a time (pair 1's tokens; red raises, blue lowers ${metric}; ` +
        `\u00b1${vmax.toFixed(3)} at full colour):`), row);
    }
    const pattern = patternOf(d.pattern);
    if (pattern && pattern.shape.length === 2) {
      parts.push(el("p", "", "Its attention on pair 1's clean prompt (rows: queries, columns: keys):"),
        this.patternCanvas(pattern, tokens), this.patternNote);
    }
    parts.push(el("p", "", "Strongest edges out:"), table);
    this.detail.replaceChildren(...parts);
    this.detail.dataset.node = String(picked);
  }

  private patternNote = el("div", "lxw-muted lxw-circuit-pattern-note");

  /** The head's attention weights as cells (viridis on 0..1), token labels when they fit; hover a
   * cell for its query, key and weight. */
  private patternCanvas(t: Pattern, tokens: string[]): HTMLCanvasElement {
    const [nq, nk] = t.shape;
    const labels = nq <= 48;
    const cell = Math.max(1, Math.min(16, Math.floor(240 / Math.max(nq, nk))));
    const left = labels ? 70 : 4, top = labels ? 60 : 4;
    const w = left + nk * cell + (labels ? 34 : 4), h = top + nq * cell + 4;
    const canvas = el("canvas", "lxw-circuit-pattern");
    const ctx = sized(canvas, w, h);
    for (let q = 0; q < nq; q++) {
      for (let k = 0; k < nk; k++) {
        ctx.fillStyle = k > q && nq === nk ? (isDarkTheme() ? "#222" : "#eee") : cssColor("viridis", colorIndex(t.value(q * nk + k), 0, 1));
        ctx.fillRect(left + k * cell, top + q * cell, cell, cell);
      }
    }
    if (labels) {
      drawAxisLabels(ctx, { left, top, r0: 0, c0: 0, nr: nq, nc: nk, rowH: cell, colW: cell },
        (q) => tokens[q] ?? "", (k) => tokens[k] ?? "",
        { textColor: isDarkTheme() ? "#ccc" : "#333", fontFamily: "system-ui, sans-serif" }, true, true, 56);
    }
    canvas.addEventListener("mousemove", (e) => {
      const box = canvas.getBoundingClientRect();
      const q = Math.floor((e.clientY - box.top - top) / cell), k = Math.floor((e.clientX - box.left - left) / cell);
      this.patternNote.textContent = q >= 0 && q < nq && k >= 0 && k < nk
        ? `${jsonToken(tokens[q] ?? String(q))} \u2192 ${jsonToken(tokens[k] ?? String(k))}: ${t.value(q * nk + k).toFixed(3)}` : "";
    });
    return canvas;
  }
}

export default paneModule("circuits", CircuitPane, [() => addStyleOnce("llmxai-widgets-circuit-style", CSS)]);
