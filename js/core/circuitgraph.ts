// Geometry of CircuitView's layered graph (llmxai_widgets/methods/circuits/graph.py's node
// order): one row per block, bottom to top; heads left to right and the MLP at the right of its
// row; the embeddings below the first row, the logits above the last. Edges are cubic curves from
// the writer's top to the reader's port: a query enters its head, a key/value head's keys (left)
// and values (right) enter the middle of the query heads that read them.

export type Layout = { nLayers: number; nHeads: number; nKv: number; width: number };
export type Point = { x: number; y: number };
export type Curve = [Point, Point, Point, Point];

export const ROW_H = 24;
export const MARGIN = { left: 44, right: 16, top: 26, bottom: 26 };

export function height(l: Layout): number {
  return MARGIN.top + MARGIN.bottom + (l.nLayers + 1) * ROW_H;
}

function columnX(l: Layout, column: number): number {
  const w = (l.width - MARGIN.left - MARGIN.right) / (l.nHeads + 2);
  return MARGIN.left + (column + 0.5) * w;
}

/** Centre y of block ``layer``'s row (-1: the embeddings, nLayers: the logits). */
export function rowY(l: Layout, layer: number): number {
  return MARGIN.top + (l.nLayers - layer) * ROW_H;
}

export type NodeKind = "emb" | "head" | "mlp" | "logits";
export type GraphNode = { kind: NodeKind; layer: number; head: number; x: number; y: number };

/** Writer ``index`` (the graph's upstream order: emb, then per layer its heads and its MLP). */
export function writer(l: Layout, index: number): GraphNode {
  if (index === 0) return { kind: "emb", layer: -1, head: -1, x: columnX(l, (l.nHeads + 1) / 2), y: rowY(l, -1) };
  const layer = Math.floor((index - 1) / (l.nHeads + 1));
  const within = (index - 1) % (l.nHeads + 1);
  if (within === l.nHeads) return { kind: "mlp", layer, head: -1, x: columnX(l, l.nHeads + 1), y: rowY(l, layer) };
  return { kind: "head", layer, head: within, x: columnX(l, within), y: rowY(l, layer) };
}

export function nWriters(l: Layout): number {
  return 1 + l.nLayers * (l.nHeads + 1);
}

export type Reader = { kind: "q" | "k" | "v" | "mlp" | "logits"; layer: number; index: number; x: number; y: number };

/** Reader ``index`` (per layer: q heads, k per kv head, v per kv head, MLP; then the logits). */
export function reader(l: Layout, index: number): Reader {
  const per = l.nHeads + 2 * l.nKv + 1;
  if (index >= l.nLayers * per) return { kind: "logits", layer: l.nLayers, index: 0, x: columnX(l, (l.nHeads + 1) / 2), y: rowY(l, l.nLayers) + NODE_R };
  const layer = Math.floor(index / per);
  const at = index % per;
  const y = rowY(l, layer) + NODE_R;
  if (at < l.nHeads) return { kind: "q", layer, index: at, x: columnX(l, at), y };
  if (at === per - 1) return { kind: "mlp", layer, index: 0, x: columnX(l, l.nHeads + 1), y };
  const kv = at - l.nHeads;
  const kind = kv < l.nKv ? "k" : "v";
  const group = kv % l.nKv;
  const size = l.nHeads / l.nKv;
  const centre = columnX(l, group * size + (size - 1) / 2);
  return { kind, layer, index: group, x: centre + (kind === "k" ? -3 : 3), y };
}

export const NODE_R = 5;

/** The edge's curve: from the writer's top to the reader's port. */
export function edgeCurve(l: Layout, up: number, down: number): Curve {
  const a = writer(l, up);
  const b = reader(l, down);
  const start = { x: a.x, y: a.y - NODE_R };
  if (b.layer === a.layer) { // a head into its own block's MLP: an arc over the row
    const lift = ROW_H * 0.6;
    return [start, { x: start.x, y: start.y - lift }, { x: b.x, y: b.y - 2 * NODE_R - lift }, { x: b.x, y: b.y - 2 * NODE_R }];
  }
  const dy = (start.y - b.y) * 0.45;
  const bend = Math.abs(b.x - start.x) < 1 ? bulge(b.layer - a.layer) : 0;
  return [start, { x: start.x + bend, y: start.y - dy }, { x: b.x + bend, y: b.y + dy }, { x: b.x, y: b.y }];
}

/** How far right an edge between nodes stacked in one column bows out, so that it does not run
 * through the nodes between them (0 for neighbouring rows). */
export function bulge(rows: number): number {
  return rows > 1 ? Math.min(48, 8 * rows) : 0;
}

export function pointAt(c: Curve, t: number): Point {
  const u = 1 - t;
  const w = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
  return { x: w[0] * c[0].x + w[1] * c[1].x + w[2] * c[2].x + w[3] * c[3].x, y: w[0] * c[0].y + w[1] * c[1].y + w[2] * c[2].y + w[3] * c[3].y };
}

function segmentDistance(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x, dy = b.y - a.y;
  const len = dx * dx + dy * dy;
  const t = len ? Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len)) : 0;
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/** Distance from ``p`` to the curve (sampled in 16 segments). */
export function curveDistance(c: Curve, p: Point): number {
  let best = Infinity;
  let prev = c[0];
  for (let i = 1; i <= 16; i++) {
    const next = pointAt(c, i / 16);
    best = Math.min(best, segmentDistance(p, prev, next));
    prev = next;
  }
  return best;
}

/** The index (into ``curves``) of the curve nearest ``p`` within ``tolerance`` px, or -1;
 * ties go to the earlier (stronger) edge. */
export function nearestCurve(curves: Curve[], p: Point, tolerance = 4): number {
  let best = -1;
  let bestD = tolerance;
  curves.forEach((c, i) => {
    const lo = Math.min(c[0].x, c[1].x, c[2].x, c[3].x) - tolerance, hi = Math.max(c[0].x, c[1].x, c[2].x, c[3].x) + tolerance;
    const top = Math.min(c[0].y, c[1].y, c[2].y, c[3].y) - tolerance, bottom = Math.max(c[0].y, c[1].y, c[2].y, c[3].y) + tolerance;
    if (p.x < lo || p.x > hi || p.y < top || p.y > bottom) return;
    const d = curveDistance(c, p);
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}

/** The writer under ``p`` (within the node's radius + 2 px), or -1. */
export function writerAt(l: Layout, p: Point): number {
  for (let i = 0; i < nWriters(l); i++) {
    const n = writer(l, i);
    if (Math.hypot(p.x - n.x, p.y - n.y) <= NODE_R + 2) return i;
  }
  return -1;
}

export function writerName(l: Layout, index: number): string {
  const n = writer(l, index);
  return n.kind === "emb" ? "embeddings" : n.kind === "mlp" ? `MLP ${n.layer}` : `L${n.layer} H${n.head}`;
}

export function readerName(l: Layout, index: number): string {
  const r = reader(l, index);
  if (r.kind === "logits") return "logits";
  if (r.kind === "mlp") return `MLP ${r.layer} (input)`;
  if (r.kind === "q") return `L${r.layer} H${r.index} query`;
  return `L${r.layer} KV${r.index} ${r.kind === "k" ? "keys" : "values"}`;
}
