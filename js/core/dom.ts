// DOM helpers. Token text is untrusted: everything goes through textContent, never innerHTML.

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = "",
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Append an option per ``[value, label]`` to ``select``. */
export function addOptions(select: HTMLSelectElement, options: ReadonlyArray<readonly [string, string]>): void {
  for (const [value, label] of options) {
    const o = el("option", "", label);
    o.value = value;
    select.appendChild(o);
  }
}

/** Make ``select`` offer ``options`` ([value, label]), rebuilt only when they changed; the
 * chosen value stays. */
export function fillSelect(select: HTMLSelectElement, options: Array<[string, string]>): void {
  const same = select.options.length === options.length && options.every(([v, l], i) => select.options[i].value === v && select.options[i].textContent === l);
  if (same) return;
  const value = select.value;
  select.replaceChildren();
  addOptions(select, options);
  select.value = value;
}

const STYLE_ID = "llmxai-widgets-style";

const CSS = `
.lxw-root { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 13px;
  color: var(--jp-ui-font-color1, #1a1a1a); position: relative; padding: 4px 0; }
.lxw-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; margin-bottom: 6px; }
.lxw-title { font-weight: 600; }
.lxw-muted { color: var(--jp-ui-font-color2, #616161); }
.lxw-bar label { display: inline-flex; align-items: center; gap: 4px; }
.lxw-root select, .lxw-root button { font: inherit; cursor: pointer; padding: 1px 4px;
  color: var(--jp-ui-font-color1, #1a1a1a); background: var(--jp-layout-color1, #fff);
  border: 1px solid var(--jp-border-color1, #bdbdbd); border-radius: 3px; }
.lxw-progress { display: inline-flex; align-items: center; gap: 6px; }
.lxw-progress progress { width: 120px; }
.lxw-body { display: flex; align-items: flex-start; gap: 16px; }
.lxw-canvas-wrap { position: relative; }
.lxw-canvas-wrap canvas { display: block; }
.lxw-legend { display: flex; flex-direction: column; align-items: flex-start; gap: 2px; padding-top: 4px; }
.lxw-legend canvas { border: 1px solid var(--jp-border-color2, #e0e0e0); }
.lxw-tooltip { position: absolute; pointer-events: none; z-index: 10; white-space: pre;
  background: var(--jp-layout-color0, #fff); color: var(--jp-ui-font-color0, #000);
  border: 1px solid var(--jp-border-color1, #9e9e9e); border-radius: 4px; padding: 4px 8px;
  box-shadow: 0 2px 6px rgba(0,0,0,0.2); font-size: 12px; display: none; }
.lxw-tooltip { grid-template-columns: auto auto; column-gap: 8px; }
.lxw-tooltip b { font-weight: 600; }
.lxw-error { border-left: 4px solid var(--jp-error-color1, #c62828);
  background: var(--jp-error-color3, #fdecea); color: var(--jp-ui-font-color1, #611a15);
  padding: 6px 10px; margin: 4px 0 8px; display: flex; gap: 10px; align-items: flex-start; }
.lxw-error .lxw-error-text { white-space: pre-wrap; flex: 1; }
.lxw-tab { border-radius: 3px; }
.lxw-tab[aria-pressed="true"] { background: var(--jp-brand-color1, #1976d2); color: #fff;
  border-color: var(--jp-brand-color1, #1976d2); }
.lxw-options { font-size: 12px; color: var(--jp-ui-font-color2, #616161); margin-top: -2px; }
.lxw-options input { margin: 0 4px 0 0; }
.lxw-grid .lxw-muted { margin-bottom: 4px; }
.lxw-summary-grid { display: grid; gap: 2px; align-items: center; justify-items: center; }
.lxw-summary-grid .lxw-muted { font-size: 11px; padding: 0 4px; }
.lxw-root button.lxw-score { width: 44px; height: 22px; font-size: 11px; border: none; border-radius: 2px; padding: 0; }
.lxw-root button.lxw-score.lxw-current { outline: 2px solid #ff4040; }
.lxw-ranked { margin: 4px 0 0; padding-left: 22px; font-size: 12px; line-height: 1.9; }
.lxw-root button.lxw-link { border: none; background: none; padding: 0; color: var(--jp-content-link-color, #1976d2);
  text-decoration: underline; }
.lxw-root input.lxw-search { font: inherit; width: 120px; padding: 1px 4px; color: var(--jp-ui-font-color1, #1a1a1a);
  background: var(--jp-layout-color1, #fff); border: 1px solid var(--jp-border-color1, #bdbdbd); border-radius: 3px; }
.lxw-root button.lxw-swatch { color: #fff; min-width: 26px; border: 2px solid transparent; font-size: 11px; }
.lxw-root button.lxw-swatch.lxw-off { opacity: 0.25; }
.lxw-caption { max-width: 760px; margin-top: 4px; }
.lxw-export-group { display: inline-flex; align-items: center; gap: 4px; }
.lxw-text { line-height: 2.1; max-width: 900px; font-size: 14px; white-space: pre-wrap; word-break: break-word; }
.lxw-tok { padding: 2px 1px; border-radius: 2px; }
.lxw-tok.lxw-target { outline: 2px solid var(--jp-brand-color1, #1976d2); font-weight: 600; }
.lxw-target-line { width: 100%; flex-basis: 100%; margin-bottom: 6px; }
.lxw-tok.lxw-generated { cursor: pointer; text-decoration: underline dotted; }
.lxw-tok.lxw-later { color: var(--jp-ui-font-color3, #9e9e9e); }
.lxw-sep { color: var(--jp-ui-font-color3, #9e9e9e); padding: 0 2px; }
.lxw-notice { border-left: 4px solid var(--jp-warn-color1, #f9a825); background: var(--jp-warn-color3, #fff8e1);
  color: var(--jp-ui-font-color1, #1a1a1a); padding: 4px 10px; margin: 4px 0 8px; font-size: 12px; }
.lxw-legend-row { flex-direction: row; align-items: center; gap: 6px; margin: 6px 0 2px; }
.lxw-attr-matrix { margin-top: 10px; }
.lxw-placeholder { padding: 24px; color: var(--jp-ui-font-color2, #616161); }
/* Each view is followed by a static figure of itself for places that cannot run it (GitHub,
   nbconvert, a notebook opened without its kernel): hidden wherever the live view drew. */
.jp-OutputArea-child:has(.lxw-root) + .jp-OutputArea-child:has(img[alt^="llmxai-widgets figure"]) { display: none; }
`;

/** Add a stylesheet to the page once (by ``id``), whichever view comes first. */
export function addStyleOnce(id: string, css: string): void {
  if (document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.appendChild(style);
}

export function ensureStyle(): void {
  addStyleOnce(STYLE_ID, CSS);
}
