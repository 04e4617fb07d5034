// Styles of NeuronView's parts (the shared ones are in dom.ts); JupyterLab's --jp-* variables
// keep them right in light and dark themes.
import { addStyleOnce } from "./dom";

const STYLE_ID = "llmxai-widgets-neuron-style";

const CSS = `
.lxw-neuron-body { display: flex; align-items: flex-start; gap: 12px; }
.lxw-neuron-detail { margin-top: 12px; padding-top: 6px; border-top: 1px solid var(--jp-border-color2, #e0e0e0); max-width: 980px; }
.lxw-neuron-detail .lxw-bar { margin-bottom: 2px; }
.lxw-neuron-text { margin: 2px 0 4px; }
.lxw-corpus-head { margin-top: 10px; }
.lxw-examples { display: flex; flex-direction: column; gap: 1px; margin: 4px 0; max-height: 340px; overflow-y: auto; }
.lxw-example { display: flex; gap: 10px; align-items: baseline; }
.lxw-example-value { flex: none; font-weight: 600; width: 78px; text-align: right; font-variant-numeric: tabular-nums; }
.lxw-example .lxw-text { line-height: 1.9; }
.lxw-factor-chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.lxw-root button.lxw-factor-chip { display: inline-flex; align-items: center; gap: 5px; font-size: 12px; }
.lxw-root button.lxw-factor-chip[aria-pressed="true"] { outline: 2px solid var(--jp-brand-color1, #1976d2); }
.lxw-swatch-dot { width: 11px; height: 11px; border-radius: 2px; display: inline-block; }
.lxw-root input.lxw-neuron-input { font: inherit; width: 64px; padding: 1px 4px; color: var(--jp-ui-font-color1, #1a1a1a);
  background: var(--jp-layout-color1, #fff); border: 1px solid var(--jp-border-color1, #bdbdbd); border-radius: 3px; }
.lxw-neuron-legend { min-width: 70px; }
`;

export function ensureNeuronStyle(): void {
  addStyleOnce(STYLE_ID, CSS);
}
