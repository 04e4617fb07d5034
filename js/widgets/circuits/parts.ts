// CircuitView's synced state (llmxai_widgets/widgets/circuits.py), its stylesheet and the
// small helpers its pane draws with.
import { WireTrait } from "../../core/lens";
import { PaneState, wireTensor } from "../../core/pane";

export type CircuitState = PaneState & {
  n_layers: number; n_heads: number; n_kv_heads: number; n_edges: number;
  candidates: { up?: WireTrait; down?: WireTrait; score?: WireTrait };
  node_scores: WireTrait;
  n_shown: number;
  faithful: { n?: number; value?: number; missing?: string };
  curve: { counts?: number[]; values?: number[] };
  picked: number;
  node_detail: {
    node?: number; name?: string; score?: number; exact?: number; out?: Array<[number, number]>;
    by_token?: number[] | null; pattern?: WireTrait | { shape: number[]; values: number[] } | null; missing?: string;
  };
  summary: string[];
  metric_label: string;
  tokens: string[];
};

export type Edges = { up: ArrayLike<number>; down: ArrayLike<number>; score: ArrayLike<number> };

export const CSS = `
.lxw-circuit-main { display: flex; gap: 18px; align-items: flex-start; flex-wrap: wrap; }
.lxw-circuit-graph { position: relative; flex: 1 1 520px; min-width: 360px; }
.lxw-circuit-graph canvas { display: block; width: 100%; }
.lxw-circuit-side { flex: 0 1 300px; font-size: 12px; }
.lxw-circuit-slider { display: inline-flex; align-items: center; gap: 6px; }
.lxw-circuit-slider input { width: 180px; }
.lxw-circuit-tip { position: absolute; pointer-events: none; background: var(--jp-layout-color0, #fff);
  color: var(--jp-ui-font-color0, #111); border: 1px solid #999; border-radius: 4px; padding: 3px 6px;
  font-size: 12px; white-space: nowrap; display: none; }
.lxw-circuit-faith { font-weight: 600; margin: 4px 0; }
.lxw-circuit-faith.lxw-missing { font-weight: 400; }
.lxw-circuit-detail table { border-collapse: collapse; }
.lxw-circuit-detail td { padding: 1px 6px 1px 0; }
.lxw-circuit-detail .lxw-text { line-height: 1.9; margin: 4px 0 8px; }
.lxw-circuit-pattern-note { min-height: 1.3em; }
`;

/** ``v`` to ``digits`` decimals without a minus sign on a rounded zero. */
export function fixed(v: number, digits: number): string {
  const text = v.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

/** ``canvas`` sized to ``w`` x ``h`` CSS pixels at the screen's pixel ratio (``setWidth`` false:
 * CSS sets its width), cleared to ``background``; its context draws in CSS pixels. */
export function sized(canvas: HTMLCanvasElement, w: number, h: number, background?: string, setWidth = true): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  if (setWidth) canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  if (background) {
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, w, h);
  }
  return ctx;
}

export type Pattern = { shape: number[]; value: (i: number) => number };

/** A head's pattern as the kernel sends it (wire) or a saved page holds it (plain numbers). */
export function patternOf(p: CircuitState["node_detail"]["pattern"]): Pattern | null {
  if (p && "values" in p && Array.isArray(p.values)) return { shape: p.shape, value: (i) => p.values[i] };
  return wireTensor(p);
}

export function edgesOf(c: CircuitState["candidates"]): Edges | null {
  const up = wireTensor(c?.up), down = wireTensor(c?.down), score = wireTensor(c?.score);
  if (!up || !down || !score) return null;
  return { up: up.raw, down: down.raw, score: Float32Array.from({ length: score.raw.length }, (_, i) => score.value(i)) };
}

