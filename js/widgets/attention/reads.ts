// The heads that attend most to the token in focus (AttentionView.reads: each head's mean weight
// on each token from the queries that may read it), as links that open that head.
import { el } from "../../core/dom";
import { displayToken } from "../../core/layout";
import { Tensor, decodeTrait } from "../../core/wire";
import { Model } from "./state";

const SHOWN = 5;

/** The ``count`` heads with the largest ``reads[layer_index, head, key]``: [layer_index, head, weight]. */
export function topReaders(reads: Tensor, key: number, count: number): Array<[number, number, number]> {
  const [nLayers, nHeads, nKeys] = reads.shape;
  const all: Array<[number, number, number]> = [];
  if (key < 0 || key >= nKeys) return all;
  for (let l = 0; l < nLayers; l++) for (let h = 0; h < nHeads; h++) all.push([l, h, reads.value((l * nHeads + h) * nKeys + key)]);
  return all.sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]).slice(0, count);
}

export class ReadsLine {
  readonly node = el("div", "lxw-muted lxw-reads");
  private decoded: { trait: unknown; tensor: Tensor } | null = null;

  constructor(private readonly model: Model, private readonly open: (layer: number, head: number) => void) {}

  draw(position: number): void {
    const tokens = this.model.get("tokens");
    this.node.replaceChildren();
    this.node.style.display = position >= 0 && position < tokens.length ? "" : "none";
    if (this.node.style.display) return;
    const token = JSON.stringify(displayToken(tokens[position], 30));
    const reads = this.model.get("reads") as Record<string, unknown>;
    if (typeof reads?.skipped === "string") {
      this.node.textContent = `Heads that attend to #${position} ${token}: ${reads.skipped}.`;
      return;
    }
    if (!reads || !("data" in reads)) {
      const standalone = (this.model as { standalone?: boolean }).standalone;
      this.node.textContent = standalone
        ? `Token #${position} ${token} in focus (this saved page does not hold which heads read it).`
        : `Token #${position} ${token} in focus; finding the heads that attend to it most\u2026`;
      return;
    }
    if (this.decoded?.trait !== reads) {
      const tensor = decodeTrait(reads as never);
      if (!tensor) return;
      this.decoded = { trait: reads, tensor };
    }
    const layers = (reads.layers as number[]) ?? [];
    this.node.append(`Heads that attend most to #${position} ${token} (mean weight from the tokens that can read it): `);
    topReaders(this.decoded!.tensor, position, SHOWN).forEach(([l, h, w], i) => {
      const link = el("button", "lxw-link", `L${layers[l]} H${h}`);
      link.title = `open layer ${layers[l]}, head ${h}`;
      Object.assign(link.dataset, { layer: String(layers[l]), head: String(h), weight: w.toFixed(4) });
      link.addEventListener("click", () => this.open(layers[l], h));
      this.node.append(i ? " \u00b7 " : "", link, ` ${w.toFixed(2)}`);
    });
  }
}
