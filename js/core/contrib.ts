// Direct logit attribution's numbers as the view shows them: llmxai_widgets/widgets/contributions.py
// (ContributionView) sends heads [layer, head], attention_bias [layer] and mlp [layer] as wire
// tensors and the embeddings, constant, logit and sum as numbers. Pure functions (unit-tested).
import { Tensor } from "./wire";

export type Parts = {
  heads: Tensor;
  bias: Tensor;
  mlp: Tensor;
  embed: number;
  constant: number;
  nLayers: number;
  nHeads: number;
};

/** Columns of the grid: heads, then the attention bias, then the MLP. */
export function columnLabels(nHeads: number): string[] {
  return [...Array.from({ length: nHeads }, (_, h) => `H${h}`), "bias", "MLP"];
}

export function componentName(nHeads: number, col: number): string {
  return col < nHeads ? `head ${col}` : col === nHeads ? "attention bias" : "MLP";
}

/** The value at grid cell (layer, column). */
export function gridValue(p: Parts, layer: number, col: number): number {
  if (col < p.nHeads) return p.heads.value(layer * p.nHeads + col);
  return col === p.nHeads ? p.bias.value(layer) : p.mlp.value(layer);
}

/** Every part in one list: the embeddings, the constant, every grid cell (row by row). */
export function allValues(p: Parts): number[] {
  const out = [p.embed, p.constant];
  for (let l = 0; l < p.nLayers; l++) for (let c = 0; c < p.nHeads + 2; c++) out.push(gridValue(p, l, c));
  return out;
}

/** 1-based rank of ``v`` among ``values``: by value (1 = pushed the target up the most) and by size |v|. */
export function rankAmong(values: number[], v: number): { byValue: number; bySize: number } {
  let byValue = 1;
  let bySize = 1;
  for (const x of values) {
    if (x > v) byValue++;
    if (Math.abs(x) > Math.abs(v)) bySize++;
  }
  return { byValue, bySize };
}

/** The colour scale's end: max |part| (1 if all are 0); figures/contributions.py ``symmetric_extent``. */
export function extent(values: number[]): number {
  let top = 0;
  for (const v of values) if (Number.isFinite(v)) top = Math.max(top, Math.abs(v));
  return top > 0 ? top : 1;
}

/** A contribution as written in its cell (figures/contributions.py ``format_value``). */
export function formatValue(v: number): string {
  const text = Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return text === "-0.00" ? "0.00" : text;
}

/** A signed value with its sign always written ("+2.820", "\u22121.610"). */
export function signed(v: number, digits = 3): string {
  return `${v < 0 ? "\u2212" : "+"}${Math.abs(v).toFixed(digits)}`;
}
