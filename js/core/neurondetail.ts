// The neuron detail under NeuronView's heatmap: one neuron's activation on every token of the
// text (coloured tokens, -max|a|..+max|a|, the strongest outlined), and where it fires most in
// the corpus (computed in Python with progress; its own Cancel). Token text goes through
// textContent only. Figure twin: llmxai_widgets/figures/neurons.py (neuron_detail_figure).
import { colorIndex, cssColor, rgb } from "./colors";
import { el } from "./dom";
import { ColorLegend } from "./legend";
import { displayToken, jsonToken } from "./layout";
import { WireHeader, decodeTrait } from "./wire";

export type CorpusPayload = {
  layer: number; neuron: number; n_texts?: number; texts_done?: number; complete?: boolean;
  examples: Array<{ text: number; position: number; activation: number; window: string[]; center: number }>;
  windows?: WireHeader & { data: DataView };
  /** A saved page without this neuron's search says why (status "missing"; js/standalone/views.ts). */
  missing?: string;
};

export type DetailInput = {
  layer: number; neuron: number; tokens: string[]; spaces: boolean[]; values: number[]; colormap: string;
  nCorpus: number; corpus: CorpusPayload | Record<string, never>; status: string; progress: number; label: string;
};

/** Tokens as coloured spans on -vmax..+vmax (NaN: uncoloured); ``outline`` gets a frame. */
export function tokenSpans(tokens: string[], values: number[], vmax: number, colormap: string, outline: number,
  spaces?: boolean[]): Node[] {
  const out: Node[] = [];
  tokens.forEach((token, j) => {
    const span = el("span", "lxw-tok", displayToken(token, 40).replace(/\u2423/g, " "));
    const v = values[j];
    if (Number.isFinite(v)) {
      const i = colorIndex(v, -vmax, vmax);
      const [r, g, b] = rgb(colormap, i);
      span.style.background = cssColor(colormap, i);
      span.style.color = 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 ? "#000" : "#fff";
      span.dataset.value = String(v);
      span.title = `${jsonToken(token)}: ${v.toFixed(4)}`;
    }
    span.dataset.index = String(j);
    if (j === outline) span.classList.add("lxw-target");
    if (spaces?.[j] && out.length) out.push(document.createTextNode(" "));
    out.push(span);
  });
  return out;
}

function symmetricMax(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) m = Math.max(m, Math.abs(values[i]));
  return m > 0 ? m : 1;
}

function barRow(vmax: number, colormap: string, label: string): HTMLElement {
  const legend = new ColorLegend(true, label);
  legend.signed(colormap, 140, vmax);
  return legend.node;
}

export class NeuronDetail {
  readonly node = el("div", "lxw-neuron-detail");
  private title = el("span", "lxw-title");
  private text = el("div", "lxw-text lxw-neuron-text");
  private textBar = el("div");
  private corpusHead = el("div", "lxw-muted lxw-corpus-head");
  private progress = el("span", "lxw-progress");
  private bar = el("progress");
  private label = el("span", "lxw-muted");
  private cancel = el("button", "", "Cancel");
  private list = el("div", "lxw-examples");
  private corpusBar = el("div");
  private textKey = "";

  constructor(onClose: () => void, onCancel: () => void) {
    const head = el("div", "lxw-bar");
    const close = el("button", "lxw-close", "Close");
    close.title = "Close the neuron detail";
    close.addEventListener("click", onClose);
    this.bar.max = 1;
    this.cancel.title = "Stop searching the corpus; the best tokens found so far stay";
    this.cancel.addEventListener("click", () => { this.cancel.disabled = true; onCancel(); });
    this.progress.append(this.bar, this.label, this.cancel);
    head.append(this.title, close);
    this.node.append(head, el("div", "lxw-muted", "On this text"), this.text, this.textBar, this.corpusHead,
      this.progress, this.list, this.corpusBar);
  }

  draw(d: DetailInput): void {
    this.node.style.display = d.neuron >= 0 ? "" : "none";
    if (d.neuron < 0) return;
    this.node.dataset.neuron = String(d.neuron);
    this.node.dataset.layer = String(d.layer);
    this.title.textContent = `Neuron ${d.neuron} of layer ${d.layer}`;
    // the text stays put while only the corpus search moves on
    const key = `${d.layer}:${d.neuron}:${d.colormap}:${d.tokens.length}:${d.values.join(",")}`;
    if (key !== this.textKey) {
      this.textKey = key;
      const vmax = symmetricMax(d.values);
      let best = 0;
      d.values.forEach((v, j) => { if (v > d.values[best]) best = j; });
      this.text.replaceChildren(...tokenSpans(d.tokens, d.values, vmax, d.colormap, best, d.spaces));
      this.text.dataset.vmax = String(vmax);
      this.textBar.replaceChildren(barRow(vmax, d.colormap, "activation (outlined: the strongest token)"));
    }
    this.drawCorpus(d);
  }

  private drawCorpus(d: DetailInput): void {
    const corpus = d.corpus as CorpusPayload;
    const mine = corpus && corpus.layer === d.layer && corpus.neuron === d.neuron;
    const computing = d.status === "computing" && mine;
    this.progress.style.display = computing ? "" : "none";
    if (!computing) this.cancel.disabled = false;
    this.bar.value = d.progress;
    this.label.textContent = d.label;
    this.list.replaceChildren();
    this.corpusBar.replaceChildren();
    this.list.dataset.status = mine ? d.status : "";
    if (d.nCorpus === 0) {
      this.corpusHead.textContent = "Pass corpus=[...] (a list of texts) to NeuronView to see where this neuron fires most in other texts.";
      return;
    }
    const examples = mine ? corpus.examples ?? [] : [];
    const done = mine ? corpus.texts_done ?? 0 : 0;
    this.corpusHead.textContent = computing ? `Searching ${d.nCorpus} texts for the tokens where this neuron fires most\u2026`
      : d.status === "cancelled" && mine ? `Where it fires most in the corpus (search stopped after ${done} of ${d.nCorpus} texts):`
        : d.status === "error" && mine ? "The corpus search failed (see the message above)."
            : d.status === "missing" && mine ? corpus.missing ?? "This saved page does not hold this neuron's corpus search."
              : `Where it fires most in the corpus: its top ${examples.length} tokens in ${d.nCorpus} texts`;
    const windows = mine && corpus.windows ? decodeTrait(corpus.windows) : null;
    if (!windows || !examples.length) return;
    const width = windows.shape[1];
    const cmax = symmetricMax(Array.from({ length: windows.shape[0] * width }, (_, i) => windows.value(i)));
    examples.forEach((e, i) => {
      const row = el("div", "lxw-example");
      const value = el("span", "lxw-example-value", e.activation.toPrecision(3));
      value.title = `text #${e.text}, token #${e.position}`;
      const spans = el("span", "lxw-text");
      const values = e.window.map((_, j) => windows.value(i * width + j));
      spans.append(...tokenSpans(e.window, values, cmax, d.colormap, e.center));
      row.append(value, spans);
      row.dataset.activation = String(e.activation);
      this.list.appendChild(row);
    });
    this.corpusBar.replaceChildren(barRow(cmax, d.colormap, "activation in the corpus windows"));
  }
}
