// What the locate views (causal tracing, activation patching: js/widgets/locate.ts) compute
// before drawing: which value a cell shows, the layer labels, which panel starts a line, the
// words for a cell. Pure functions, unit-tested; the figure's twins are in
// llmxai_widgets/figures/locate.py (shown_values, layer_labels).
import { quoted } from "./blocks";
import { Tensor } from "./wire";

/** Grids of [layer, token] (ROME's layout draws them tokens down, layers across); the others
 * ("heads", "kv_heads") are [layer, head]. */
export const TOKEN_SITES = ["residual", "mlp", "attention"];
export type Show = "exact" | "estimate";
export type LocateKind = "trace" | "patching";

export function isTokenSite(site: string): boolean {
  return TOKEN_SITES.includes(site);
}

/** One site's numbers: the exact values (NaN where not computed) and the linear estimate. */
export type SiteGrid = { exact: Tensor | null; estimate: Tensor | null; layers: number; columns: number };

export function siteGrid(exact: Tensor | null, estimate: Tensor | null): SiteGrid | null {
  const shape = (exact ?? estimate)?.shape;
  return shape && shape.length === 2 ? { exact, estimate, layers: shape[0], columns: shape[1] } : null;
}

/** Where a layer's cells come from: the exact runs, or the linear estimate (the Values menu
 * asked for it, or the layer's exact row has not come). */
export function fromEstimate(layer: number, done: readonly boolean[], show: Show): boolean {
  return show === "estimate" || !done[layer];
}

/** The value cell (layer, column) shows: exact where its layer is done, the estimate elsewhere
 * (everywhere when ``show`` is "estimate"); NaN when there is none (figures/locate.py shown_values). */
export function shownValue(g: SiteGrid, layer: number, column: number, done: readonly boolean[], show: Show): number {
  const source = fromEstimate(layer, done, show) ? g.estimate : g.exact;
  return source ? source.value(layer * g.columns + column) : NaN;
}

/** Column labels of a token grid: every ``every``-th layer and the last, "≈" before an
 * estimated layer (figures/locate.py layer_labels). */
export function layerLabels(nLayers: number, estimated: readonly boolean[], every = 5): string[] {
  return Array.from({ length: nLayers }, (_, l) =>
    l % every === 0 || l === nLayers - 1 ? `${estimated[l] ? "\u2248" : ""}${l}` : "");
}

/** Panels in a wrapping row: which of them start a line (and so carry the row labels), given
 * each one's ``width`` without labels, its labels' ``labelWidth``, the ``gap`` between panels and
 * the ``available`` width. Same greedy rule as CSS flex-wrap. */
export function lineStarts(widths: readonly number[], labelWidths: readonly number[], gap: number, available: number): boolean[] {
  const starts: boolean[] = [];
  let used = -1;
  widths.forEach((w, i) => {
    if (used >= 0 && used + gap + w <= available) {
      starts.push(false);
      used += gap + w;
    } else {
      starts.push(true);
      used = w + labelWidths[i];
    }
  });
  return starts;
}

/** Cell width of a token grid with ``nLayers`` columns: narrow, so three grids fit side by side. */
export function tokenCellWidth(nLayers: number): number {
  return Math.max(6, Math.min(18, Math.floor(340 / Math.max(1, nLayers))));
}

/** A colour bar's end: three significant digits. */
export function scaleEnd(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** A cell's number: 4 decimals (probabilities, normalised metrics), "not computed" for NaN. */
export function formatCell(v: number): string {
  if (Number.isNaN(v)) return "not computed";
  return Math.abs(v) < 100 ? v.toFixed(4) : v.toPrecision(4);
}

/** "H3" for a query head, "KV1" for a key/value head. */
export function headName(site: string, head: number): string {
  return `${site === "kv_heads" ? "KV" : "H"}${head}`;
}

/** "#3 “ Tower”", with why it is marked. */
export function tokenName(tokens: readonly string[], i: number, marked: readonly number[], kind: LocateKind): string {
  const why = marked.includes(i) ? (kind === "trace" ? " (corrupted)" : " (differs in the corrupted prompt)") : "";
  return `#${i} ${quoted(tokens[i] ?? "")}${why}`;
}

/** A clicked or hovered cell in Python's terms: its grid, layer and column (token or head). */
export type CellRef = { site: string; layer: number; column: number };

/** The grid cell (row, col) of a panel in Python's terms: token grids are drawn transposed. */
export function cellRef(site: string, row: number, col: number): CellRef {
  return isTokenSite(site) ? { site, layer: col, column: row } : { site, layer: row, column: col };
}

/** Where a cell of Python's terms is drawn: (row, col) of its panel. */
export function gridCell(ref: CellRef): { row: number; col: number } {
  return isTokenSite(ref.site) ? { row: ref.column, col: ref.layer } : { row: ref.layer, col: ref.column };
}

/** Where a cell's value came from, in words. */
export function sourceWords(layer: number, done: readonly boolean[], show: Show, status: string): string {
  if (!fromEstimate(layer, done, show)) return "exact (its own run)";
  if (show === "estimate") return "linear estimate (Values menu)";
  return status === "computing" ? "linear estimate (exact value still computing)" : "linear estimate (no exact run for this layer)";
}

/** What a cell's run patched, in a sentence. */
export function patchedWords(kind: LocateKind, direction: string, ref: CellRef, tokens: readonly string[]): string {
  const at = `#${ref.column} ${quoted(tokens[ref.column] ?? "")}`;
  const L = `layer ${ref.layer}`;
  const what: Record<string, string> = {
    residual: `the residual stream after ${L} at ${at}`,
    mlp: `what the MLP wrote at ${at}`,
    attention: `what the attention wrote at ${at}`,
    heads: `query head ${headName(ref.site, ref.column)}'s output at every token, in ${L}`,
    kv_heads: `key/value head ${headName(ref.site, ref.column)}'s keys and values at every token, in ${L}`,
  };
  const thing = what[ref.site] ?? `${ref.site} cell ${ref.column} of ${L}`;
  if (kind === "trace") {
    const window = ref.site === "residual" ? "" : ` in a window of layers centred on ${L}`;
    return `Restored the clean run's value of ${thing}${window}, in the runs with the subject corrupted.`;
  }
  const sublayer = ref.site === "mlp" || ref.site === "attention" ? ` in ${L}` : "";
  return direction === "noising"
    ? `Put the corrupted run's ${thing}${sublayer} into the clean run.`
    : `Put the clean run's ${thing}${sublayer} into the corrupted run.`;
}

/** How many layers are exact, as the note under the grids says it. */
export function exactWords(done: readonly boolean[], show: Show, status: string): string {
  const n = done.filter(Boolean).length;
  const total = done.length;
  if (show === "estimate") return `\u2248 every layer shows the linear estimate (Values menu); ${n} of ${total} have exact values.`;
  if (n === total) return `Exact values for all ${total} layers.`;
  const why = status === "computing" ? "exact values arriving layer by layer"
    : status === "cancelled" ? "cancelled: the rest keeps the linear estimate" : "the rest keeps the linear estimate";
  return `Exact values for ${n} of ${total} layers; \u2248 / dashed layers: linear estimate (${why}).`;
}

/** How to read the grids, in plain words, under the view. */
export function caption(kind: LocateKind, direction: string, valueLabel: string): string {
  const estimate = (what: string) => ` ${what} marked \u2248 (a dashed line along them) still show attribution patching's` +
    " linear estimate (a first-order guess of every cell from one forward and one backward pass), replaced by each layer's" +
    " exact runs as they finish. Hover a cell for its value; click it to see what the model predicts in that run.";
  if (kind === "trace") {
    return "Causal tracing: the subject's tokens (marked *) get noise added to their embeddings, which mostly destroys the" +
      ` answer; then one activation at a time is restored to its clean value. Each cell is ${valueLabel || "the answer's probability"}` +
      " in that run: rows are tokens, columns are layers, and a bright cell means restoring that layer's state at that token" +
      " brings the answer back. Residual stream cells restore the whole hidden state after the layer; MLP and attention cells" +
      " restore what that sublayer wrote, over a window of layers centred on the column." + estimate("Columns");
  }
  return "Activation patching: the two prompts differ in the tokens marked *. Each cell is the metric with one activation" +
    " patched, normalised so that 0 is the corrupted run and 1 the clean run (red above 0, blue below). " +
    (direction === "noising" ? "Noising puts a corrupted activation into the clean run: a cell near 0 is one the clean answer needs."
      : "Denoising puts a clean activation into the corrupted run: a cell near 1 is enough to bring the clean answer back.") +
    " Token grids: rows are tokens, columns are layers. Head grids: rows are layers, columns are heads (a query head's" +
    " output, or a key/value head's keys and values, at every token)." + estimate("Layers");
}
