// Parts of the "inside the blocks" views (logit lens, direct logit attribution): the target
// picker, a vertical colour bar with its units, a token strip to pick a position, and their
// styles (kept here, next to the parts, so the shared stylesheet in dom.ts stays as it is).
import { drawColorBar } from "./heatmap";
import { displayToken } from "./layout";
import { addOptions, addStyleOnce, el } from "./dom";

/** A token as a label: quoted, newlines and invisible characters made visible. */
export function quoted(token: string, max = 24): string {
  return `\u201c${displayToken(token, max)}\u201d`;
}

/** What a person typed into the target box: surrounding quotes (as the view writes tokens)
 * are taken off, the rest (leading spaces included) is the token. */
export function typedToken(value: string): string {
  const m = /^[\u201c"'](.*)[\u201d"']$/s.exec(value);
  return m && m[1].length ? m[1] : value;
}

/** The menu and text box that choose the token a view follows ("" = the model's prediction). */
export class TargetPicker {
  readonly node = el("span", "lxw-target-picker");
  readonly select = el("select", "lxw-target-select");
  readonly input = el("input", "lxw-search lxw-target-input");
  private button = el("button", "lxw-target-follow", "Follow");

  constructor(label: string, private onPick: (token: string) => void, private defaultLabel = "model's prediction") {
    this.input.type = "text";
    this.input.placeholder = "type a token: \" Paris\"";
    this.input.title = "A token of the model's vocabulary; mind the leading space (\" Paris\", not \"Paris\"). Enter follows it.";
    this.select.title = "The token whose probability or logit is followed";
    const name = el("label", "", `${label} `);
    name.appendChild(this.select);
    this.node.append(name, this.input, this.button);
    this.select.addEventListener("change", () => this.onPick(this.select.value));
    const typed = () => { if (this.input.value) this.onPick(typedToken(this.input.value)); };
    this.button.addEventListener("click", typed);
    this.input.addEventListener("keydown", (e) => { if (e.key === "Enter") typed(); });
  }

  /** Offer the model's prediction, ``suggestions`` and the ``current`` token. */
  update(current: string, suggestions: string[], defaultLabel = this.defaultLabel): void {
    const options: Array<[string, string]> = [["", defaultLabel]];
    for (const s of [...(current ? [current] : []), ...suggestions]) {
      if (!options.some(([v]) => v === s)) options.push([s, quoted(s)]);
    }
    const same = options.length === this.select.options.length &&
      options.every(([v, label], i) => this.select.options[i].value === v && this.select.options[i].textContent === label);
    if (!same) {
      this.select.replaceChildren();
      addOptions(this.select, options);
    }
    this.select.value = current;
  }
}

/** A vertical colour bar: its top and bottom values beside it and its units written upright. */
export class Legend {
  readonly node = el("div", "lxw-vlegend");
  private bar = el("canvas");
  private top = el("span", "lxw-muted");
  private bottom = el("span", "lxw-muted");
  private units = el("span", "lxw-muted lxw-vlegend-units");

  constructor() {
    const ends = el("div", "lxw-vlegend-ends");
    ends.append(this.top, this.bottom);
    this.node.append(this.bar, ends, this.units);
  }

  update(colormap: string, length: number, top: string, bottom: string, units: string): void {
    drawColorBar(this.bar, colormap, Math.max(40, Math.round(length)));
    this.top.textContent = top;
    this.bottom.textContent = bottom;
    this.units.textContent = units;
    this.node.style.marginTop = "0";
  }
}

const STYLE_ID = "llmxai-widgets-blocks-style";
const CSS = `
.lxw-target-picker { display: inline-flex; align-items: center; gap: 4px; }
.lxw-root input.lxw-target-input { width: 150px; }
.lxw-vlegend { display: flex; align-items: stretch; gap: 4px; }
.lxw-vlegend canvas { border: 1px solid var(--jp-border-color2, #e0e0e0); }
.lxw-vlegend-ends { display: flex; flex-direction: column; justify-content: space-between; font-size: 11px; }
.lxw-vlegend-units { writing-mode: vertical-rl; transform: rotate(180deg); font-size: 11px; text-align: center; }
.lxw-scroll { overflow-x: auto; max-width: 100%; padding-bottom: 4px; }
.lxw-blocks-body { display: flex; align-items: flex-start; gap: 12px; flex-wrap: wrap; }
.lxw-blocks-grid { display: flex; align-items: flex-start; gap: 8px; min-width: 0; max-width: 100%; }
.lxw-blocks-grid > .lxw-cellgrid { min-width: 0; flex: 0 1 auto; }
.lxw-caption.lxw-blocks-caption { margin-top: 8px; }
.lxw-stale { opacity: 0.45; }
.lxw-window { display: inline-flex; align-items: center; gap: 4px; }
.lxw-window input[type=range] { width: 160px; }
.lxw-detail { flex: 1 1 220px; min-width: 220px; max-width: 360px; font-size: 12px; border-left: 3px solid var(--jp-brand-color1, #1976d2);
  padding: 2px 10px; }
.lxw-detail h4 { margin: 0 0 6px; font-size: 13px; font-weight: 600; }
.lxw-detail table { border-collapse: collapse; width: 100%; }
.lxw-detail td { padding: 1px 4px; vertical-align: middle; white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; }
.lxw-detail td.lxw-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.lxw-detail h4, .lxw-detail p { overflow-wrap: anywhere; }
.lxw-detail .lxw-barcell { width: 90px; }
.lxw-detail .lxw-bar-fill { height: 9px; background: var(--jp-brand-color1, #1976d2); border-radius: 2px; }
.lxw-detail .lxw-bar-fill.lxw-neg { background: #2166ac; }
.lxw-detail .lxw-bar-fill.lxw-pos { background: #b2182b; }
.lxw-detail p { margin: 4px 0; }
.lxw-strip { line-height: 2; max-width: 900px; font-size: 13px; white-space: pre-wrap; word-break: break-word; margin: 2px 0 6px; }
.lxw-strip .lxw-tok { cursor: pointer; border: 1px solid transparent; }
.lxw-strip .lxw-tok:hover { border-color: var(--jp-border-color1, #9e9e9e); }
.lxw-sum { margin: 2px 0 8px; }
.lxw-sum b { font-variant-numeric: tabular-nums; }
`;

export function ensureBlocksStyle(): void {
  addStyleOnce(STYLE_ID, CSS);
}

/** Tokens as clickable spans (text only); ``selected`` outlined. */
export function tokenStrip(node: HTMLElement, tokens: string[], selected: number, onPick: (i: number) => void): void {
  node.replaceChildren();
  tokens.forEach((token, i) => {
    const span = el("span", "lxw-tok", displayToken(token, 40).replace(/\u2423/g, " "));
    span.dataset.index = String(i);
    span.title = `#${i} ${quoted(token, 40)}: click to explain the prediction after it`;
    if (i === selected) span.classList.add("lxw-target");
    span.addEventListener("click", () => onPick(i));
    node.appendChild(span);
  });
}
