// Colour bars with their ends written beside them: a column (top = the largest value, as beside
// a matrix) or a row (left = the smallest, as under a coloured text). Text only.
import { el } from "./dom";
import { drawColorBar } from "./heatmap";
import { formatWeight } from "./scale";

export class ColorLegend {
  readonly node: HTMLDivElement;
  private bar = el("canvas");
  private low = el("span", "lxw-muted");
  private high = el("span", "lxw-muted");
  private title = el("span", "lxw-muted");

  /** ``row``: low, bar, high, title from left to right; else title, high, bar, low from the top. */
  constructor(private row: boolean, title = "", extraClass = "") {
    this.node = el("div", `lxw-legend${row ? " lxw-legend-row" : ""} ${extraClass}`.trim());
    this.title.textContent = title;
    if (row) this.node.append(this.low, this.bar, this.high, this.title);
    else this.node.append(this.title, this.high, this.bar, this.low);
  }

  /** Draw the bar ``length`` CSS pixels long through ``colormap`` between the ``low`` and ``high`` labels. */
  update(colormap: string, length: number, low: string, high: string, title?: string): void {
    drawColorBar(this.bar, colormap, length, this.row);
    this.low.textContent = low;
    this.high.textContent = high;
    if (title !== undefined) this.title.textContent = title;
  }

  /** A scale of -vmax..+vmax. */
  signed(colormap: string, length: number, vmax: number): void {
    this.update(colormap, length, `\u2212${formatWeight(vmax)}`, `+${formatWeight(vmax)}`);
  }
}
