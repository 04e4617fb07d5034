// The Explorer's token strip and tabs (llmxai_widgets/widgets/explorer.py, ExplorerStrip). The
// views below it are widgets of their own; they follow the token in focus through the link group
// (js/core/focus.ts), so nothing here knows what a view does with it.
import { addStyleOnce, el } from "../core/dom";
import { stepFocus } from "../core/focus";
import { displayToken, jsonToken } from "../core/layout";
import { WidgetModel } from "../core/model";
import { Pane, PaneState, paneModule } from "../core/pane";

type StripState = PaneState & {
  tokens: string[]; special: boolean[]; turns: number[]; roles: string[];
  tabs: Array<[string, string]>; tab: string; opened: string[]; focus: number; link_group: string;
};

const STYLE = `
.lxw-explorer .lxw-tablist { display: flex; gap: 2px; border-bottom: 1px solid var(--jp-border-color1, #bdbdbd); margin: 6px 0 0; }
.lxw-explorer .lxw-tablist button { border: 1px solid transparent; border-bottom: none; border-radius: 4px 4px 0 0;
  background: none; padding: 3px 12px; margin-bottom: -1px; }
.lxw-explorer .lxw-tablist button[aria-selected="true"] { border-color: var(--jp-border-color1, #bdbdbd);
  background: var(--jp-layout-color1, #fff); font-weight: 600; }
.lxw-explorer .lxw-strip { line-height: 2.1; font-size: 14px; white-space: pre-wrap; word-break: break-word; max-width: 980px;
  padding: 4px 6px; border-radius: 4px; outline: none; max-height: 12em; overflow-y: auto; }
.lxw-explorer .lxw-strip:focus-visible { box-shadow: 0 0 0 2px var(--jp-brand-color1, #1976d2); }
.lxw-explorer .lxw-strip .lxw-tok { cursor: pointer; }
.lxw-explorer .lxw-strip .lxw-tok:hover { background: var(--jp-layout-color2, #eee); }
.lxw-explorer .lxw-strip .lxw-tok.lxw-special { color: var(--jp-ui-font-color3, #9e9e9e); font-size: 12px; }
.lxw-explorer .lxw-strip .lxw-tok.lxw-target { background: var(--jp-brand-color3, #bbdefb); }
.lxw-explorer .lxw-role { display: inline-block; font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em;
  color: var(--jp-ui-font-color2, #616161); border: 1px solid var(--jp-border-color2, #e0e0e0); border-radius: 3px;
  padding: 0 4px; margin: 0 4px 0 0; line-height: 1.5; }
.lxw-explorer .lxw-turn-break { display: block; height: 2px; }
`;

class StripPane extends Pane<StripState> {
  private tablist = el("div", "lxw-tablist");
  private strip = el("div", "lxw-strip");
  private where = el("span", "lxw-muted");

  constructor(model: WidgetModel<StripState>) {
    super(model, "lxw-explorer");
    this.tablist.setAttribute("role", "tablist");
    this.tablist.setAttribute("aria-label", "views");
    this.strip.tabIndex = 0;
    this.strip.setAttribute("role", "listbox");
    this.strip.setAttribute("aria-label", "tokens: click one, or move with the arrow keys");
    this.strip.addEventListener("keydown", (e) => this.key(e));
    this.tablist.addEventListener("keydown", (e) => this.tabKey(e));
    const hint = el("span", "lxw-muted", "Click a token (or use \u2190 \u2192 here) and every view follows; keys 1\u2013" +
      `${Math.max(1, model.get("tabs").length)} switch views.`);
    this.root.append(this.toolbar("Explorer", this.where), this.errors.node, this.strip, hint, this.tablist);
    this.watch(["tokens", "special", "turns", "roles", "tabs", "tab", "opened", "status"]);
  }

  protected onFocus(): void {
    this.draw();
    this.strip.querySelector(".lxw-target")?.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  private key(e: KeyboardEvent): void {
    const next = stepFocus(e.key, this.focus, this.model.get("tokens").length);
    if (next !== null) {
      e.preventDefault();
      this.focusTo(next);
      return;
    }
    const tabs = this.model.get("tabs");
    const digit = Number(e.key);
    if (Number.isInteger(digit) && digit >= 1 && digit <= tabs.length) {
      e.preventDefault();
      this.set("tab", tabs[digit - 1][0]);
    }
  }

  /** Arrow keys move between tabs (the ARIA tabs pattern). */
  private tabKey(e: KeyboardEvent): void {
    const tabs = this.model.get("tabs");
    const at = tabs.findIndex(([id]) => id === this.model.get("tab"));
    const next = e.key === "ArrowRight" ? (at + 1) % tabs.length : e.key === "ArrowLeft" ? (at - 1 + tabs.length) % tabs.length
      : e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : -1;
    if (next < 0) return;
    e.preventDefault();
    this.set("tab", tabs[next][0]);
    (this.tablist.children[next] as HTMLElement | undefined)?.focus();
  }

  protected paint(): void {
    const m = this.model;
    const tokens = m.get("tokens");
    const special = m.get("special");
    const turns = m.get("turns");
    const roles = m.get("roles");
    const focus = this.focus;
    this.strip.replaceChildren();
    tokens.forEach((token, i) => {
      if (turns.length && (i === 0 || turns[i] !== turns[i - 1])) {
        if (i > 0) this.strip.appendChild(el("span", "lxw-turn-break"));
        this.strip.appendChild(el("span", "lxw-role", roles[turns[i]] ?? `turn ${turns[i] + 1}`));
      }
      const span = el("span", "lxw-tok", displayToken(token, 40).replace(/\u2423/g, " "));
      span.dataset.index = String(i);
      span.setAttribute("role", "option");
      span.setAttribute("aria-selected", String(i === focus));
      span.title = `#${i} ${jsonToken(token)}`;
      if (special[i]) span.classList.add("lxw-special");
      if (i === focus) span.classList.add("lxw-target");
      span.addEventListener("click", () => { this.focusTo(i); this.strip.focus(); });
      this.strip.appendChild(span);
    });
    this.strip.dataset.focus = String(focus);
    this.where.textContent = focus >= 0 && focus < tokens.length ? `token #${focus} ${JSON.stringify(displayToken(tokens[focus], 30))} of ${tokens.length}`
      : `${tokens.length} tokens; none in focus yet`;
    this.tablist.replaceChildren();
    const current = m.get("tab");
    if ((m as { standalone?: boolean }).standalone) {
      // a saved page holds every view, each in a container tagged with its tab: show the open one
      for (const box of Array.from(document.querySelectorAll<HTMLElement>("[data-lxw-tab]"))) {
        box.style.display = box.dataset.lxwTab === current ? "" : "none";
      }
    }
    for (const [id, label] of m.get("tabs")) {
      const button = el("button", "", label);
      button.setAttribute("role", "tab");
      button.setAttribute("aria-selected", String(id === current));
      button.tabIndex = id === current ? 0 : -1;
      button.dataset.tab = id;
      button.title = m.get("opened").includes(id) ? `show the ${label} view` : `compute and show the ${label} view`;
      button.addEventListener("click", () => this.set("tab", id));
      this.tablist.appendChild(button);
    }
  }
}

export default paneModule("explorer", StripPane, [() => addStyleOnce("lxw-explorer-style", STYLE)]);
