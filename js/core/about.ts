// "About this view": what the view shows and where it misleads (llmxai_widgets/about.json,
// sent by Python as the ``about`` trait), behind a toggle every pane gets. Lesson mode
// (``lx.lesson_mode()``) opens it by default. Text only: no markup from the data.
import { addStyleOnce, el } from "./dom";

export type About = { title?: string; shows?: string; misleads?: string; read_more?: string };
type AboutModel = {
  get(key: "about"): About | undefined;
  get(key: "about_open"): boolean | undefined;
  set(key: "about_open", value: boolean): void;
  save_changes(): void;
};

const STYLE = `
.lxw-root > .lxw-about-toggle { position: absolute; top: 4px; right: 0; font-size: 12px; }
.lxw-root button.lxw-about-inbar { margin-left: auto; font-size: 12px; }
.lxw-about { border-left: 4px solid var(--jp-brand-color1, #1976d2); background: var(--jp-layout-color2, #f5f5f5);
  padding: 6px 12px; margin: 2px 0 8px; max-width: 900px; font-size: 12.5px; line-height: 1.45; }
.lxw-about h4 { margin: 6px 0 2px; font-size: 12.5px; }
.lxw-about p { margin: 0 0 4px; }
.lxw-about .lxw-muted { font-size: 11.5px; }
`;

/** The toggle and the panel for ``root``'s view; returns the function that redraws them. */
export function aboutPanel(model: AboutModel, root: HTMLElement): () => void {
  addStyleOnce("lxw-about-style", STYLE);
  const toggle = el("button", "lxw-about-toggle", "About");
  const panel = el("div", "lxw-about");
  panel.setAttribute("role", "note");
  toggle.title = "What this view shows, and where it misleads";
  toggle.addEventListener("click", () => {
    model.set("about_open", !model.get("about_open"));
    model.save_changes();
    update();
  });
  const update = () => {
    const about = model.get("about") ?? {};
    const has = Boolean(about.shows || about.misleads);
    const open = has && Boolean(model.get("about_open"));
    toggle.style.display = has ? "" : "none";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide about" : "About";
    panel.style.display = open ? "" : "none";
    panel.replaceChildren();
    if (!open) return;
    const section = (heading: string, text?: string) => {
      if (!text) return;
      panel.append(el("h4", "", heading), el("p", "", text));
    };
    section(`What ${about.title ? `the ${about.title.toLowerCase()} view` : "this view"} shows`, about.shows);
    section("Where it misleads", about.misleads);
    if (about.read_more) panel.append(el("p", "lxw-muted", `Read more: ${about.read_more}`));
  };
  // the toggle ends the view's toolbar (its first row), the panel sits under it
  const bar = Array.from(root.children)[0] as HTMLElement | undefined;
  if (bar?.classList?.contains("lxw-bar")) {
    toggle.classList.add("lxw-about-inbar");
    bar.appendChild(toggle);
  } else {
    root.appendChild(toggle);
  }
  if (bar?.nextSibling) root.insertBefore(panel, bar.nextSibling);
  else root.appendChild(panel);
  update();
  return update;
}
