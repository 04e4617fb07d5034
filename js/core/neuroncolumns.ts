// The rules NeuronView's screen shares with its figures (Python twin:
// llmxai_widgets/widgets/neuron_panes.py): the colour scale's end, the column order and the
// "top neurons" columns, and how cells that share a pixel are merged.
import { Tensor } from "./wire";

/** End ``c`` of the symmetric colour scale -c..+c: the ``clip`` quantile of |value| (sorted
 * ascending, entry floor(clip * (n - 1)), no interpolation; 1 = the largest). 1 when all zero. */
export function colorMax(t: Tensor, clip: number): number {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const abs = new Float32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(t.value(i));
    if (Number.isFinite(v)) abs[m++] = v;
  }
  if (m === 0) return 1;
  const values = abs.subarray(0, m);
  const index = Math.min(m - 1, Math.floor(clip * (m - 1)));
  const c = index === m - 1 ? values.reduce((a, b) => (b > a ? b : a), 0) : values.sort()[index];
  return c > 0 ? c : 1;
}

/** Neuron ids in column order: by number, or ``order`` (ids by highest activation, from Python). */
export function columnOrder(sort: string, order: Tensor, nNeurons: number): Int32Array {
  const out = new Int32Array(nNeurons);
  for (let i = 0; i < nNeurons; i++) out[i] = sort === "max" ? order.value(i) : i;
  return out;
}

/** Every neuron among some token's ``k`` most active (``top[token, rank]``), in ``order``. */
export function topUnion(top: Tensor, k: number, order: Int32Array): Int32Array {
  const [tokens, ranks] = top.shape;
  const chosen = new Uint8Array(order.length);
  const kk = Math.max(1, Math.min(k, ranks));
  for (let t = 0; t < tokens; t++) for (let r = 0; r < kk; r++) {
    const id = top.value(t * ranks + r);
    if (id >= 0 && id < chosen.length) chosen[id] = 1;
  }
  return order.filter((id) => chosen[id] === 1);
}

/** Rank (0 = most active) of ``neuron`` among token ``token``'s top neurons, or -1. */
export function rankAt(top: Tensor, token: number, neuron: number): number {
  const ranks = top.shape[1];
  for (let r = 0; r < ranks; r++) if (top.value(token * ranks + r) === neuron) return r;
  return -1;
}

/** The value of largest magnitude (sign kept, the first on ties) among ``value(r, c)`` for rows
 * r0..r1-1 and columns c0..c1-1; NaN when every cell is NaN. */
export function maxAbs(value: (r: number, c: number) => number, r0: number, r1: number, c0: number, c1: number): number {
  let best = NaN;
  let mag = -1;
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) {
    const v = value(r, c);
    if (!Number.isNaN(v) && Math.abs(v) > mag) {
      mag = Math.abs(v);
      best = v;
    }
  }
  return best;
}
