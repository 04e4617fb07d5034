// The logit lens's synced arrays, decoded once per change: llmxai_widgets/widgets/logit_lens.py
// (LogitLensView) sends top_ids / top_probs [row, column, rank], target_ids [column],
// target_probs / target_ranks [row, column] and positions [column] as wire tensors, and the
// text of every id in ``vocab``.
import { Tensor, WireHeader, decodeTrait } from "./wire";

export type WireTrait = (WireHeader & { data: DataView }) | Record<string, never>;

export type LensTraits = {
  positions: WireTrait;
  top_ids: WireTrait;
  top_probs: WireTrait;
  target_ids: WireTrait;
  target_probs: WireTrait;
  target_ranks: WireTrait;
  vocab: Record<string, string>;
};

export type Ranked = { id: number; text: string; p: number };

export class LensData {
  readonly rows: number;
  readonly cols: number;
  readonly k: number;
  readonly positions: number[];

  private constructor(
    private topIds: Tensor, private topProbs: Tensor, private targetIds: Tensor,
    private targetProbs: Tensor, private targetRanks: Tensor, private vocab: Record<string, string>, positions: Tensor,
  ) {
    [this.rows, this.cols, this.k] = topIds.shape;
    this.positions = Array.from({ length: positions.shape[0] }, (_, i) => positions.value(i));
  }

  /** The decoded arrays, or null while nothing has been computed (or they disagree in shape). */
  static from(traits: LensTraits): LensData | null {
    const t = (x: WireTrait) => ("data" in x ? decodeTrait(x as WireHeader & { data: DataView }) : null);
    const [positions, ids, probs, tIds, tProbs, tRanks] = [traits.positions, traits.top_ids, traits.top_probs,
      traits.target_ids, traits.target_probs, traits.target_ranks].map(t);
    if (!positions || !ids || !probs || !tIds || !tProbs || !tRanks) return null;
    const [rows, cols] = ids.shape;
    if (positions.shape[0] !== cols || probs.shape.join() !== ids.shape.join() || tProbs.shape.join() !== `${rows},${cols}`) return null;
    return new LensData(ids, probs, tIds, tProbs, tRanks, traits.vocab ?? {}, positions);
  }

  text(id: number): string {
    return this.vocab[String(id)] ?? `[token ${id}]`;
  }

  /** The ``rank``-th most likely next token at row ``r`` (a layer), column ``c``. */
  top(r: number, c: number, rank = 0): Ranked {
    const i = (r * this.cols + c) * this.k + rank;
    const id = this.topIds.value(i);
    return { id, text: this.text(id), p: this.topProbs.value(i) };
  }

  topList(r: number, c: number): Ranked[] {
    return Array.from({ length: this.k }, (_, rank) => this.top(r, c, rank));
  }

  target(r: number, c: number): Ranked & { rank: number } {
    const id = this.targetIds.value(c);
    return { id, text: this.text(id), p: this.targetProbs.value(r * this.cols + c), rank: this.targetRanks.value(r * this.cols + c) };
  }

  /** The followed token's probability at every row of column ``c``. */
  targetColumn(c: number): number[] {
    return Array.from({ length: this.rows }, (_, r) => this.targetProbs.value(r * this.cols + c));
  }

  topColumn(c: number): number[] {
    return Array.from({ length: this.rows }, (_, r) => this.top(r, c).p);
  }

  column(position: number): number {
    return this.positions.indexOf(position);
  }
}

/** "embed" or "L<layer>" (figures/logit_lens.py ``row_label``). */
export function rowLabel(label: string): string {
  return label === "embed" ? "embed" : `L${label}`;
}

/** A probability as the tooltip and detail panel write it. */
export function formatProb(p: number): string {
  if (!Number.isFinite(p)) return "\u2013";
  if (p >= 0.001) return p.toFixed(3);
  return p.toExponential(1);
}

/** The window start after a step of ``delta`` (clamped to the text). */
export function stepWindow(start: number, delta: number, size: number, n: number): number {
  return Math.max(0, Math.min(n - size, start + delta));
}
