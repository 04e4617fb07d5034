// The frame every view's pane stands in: its root element, the progress line and error panel,
// model helpers that clean up after themselves, redraws (on trait changes, theme switches and
// resizes) that never throw, the Export group, and decoding cached per trait value. A view
// subclasses Pane, builds its controls in its constructor and draws in paint(); its module is
// one line: ``export default paneModule("stem", ThePane, [styles])``.
import { About, aboutPanel } from "./about";
import { ErrorPanel, ProgressLine } from "./chrome";
import { el } from "./dom";
import { announceFocus, listenFocus } from "./focus";
import { ExportAnswer, ExportFormat, download, exportGroup, requestExport, viewModule } from "./export";
import { KernelLoss, kernelMessage, watchKernel } from "./kernel";
import { BaseState, WidgetModel } from "./model";
import { Tensor, WireHeader, decodeTrait } from "./wire";

/** Traits every pane reads: base.py's ExplainerWidget plus the id and model name, and view.py's
 * token in focus (-1: none) with the link group that shares it. */
export type PaneState = BaseState & { widget_id: string; model_name: string; focus?: number; link_group?: string;
  about?: About; about_open?: boolean };

/** Call ``fn`` when JupyterLab switches between light and dark themes (canvases read their
 * colours when drawn); returns the cleanup. */
export function onThemeChange(fn: () => void): () => void {
  const observer = new MutationObserver(() => fn());
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  return () => observer.disconnect();
}

/** A wire tensor trait decoded, or null while it is empty ({}). */
export function wireTensor(trait: unknown): Tensor | null {
  return trait && typeof trait === "object" && "data" in trait ? decodeTrait(trait as WireHeader & { data: DataView }) : null;
}

export abstract class Pane<S extends PaneState> {
  readonly root: HTMLDivElement;
  protected readonly progress: ProgressLine;
  protected readonly errors: ErrorPanel;
  private cleanups: Array<() => void> = [];
  private memo = new Map<string, { inputs: readonly unknown[]; value: unknown }>();

  constructor(protected readonly model: WidgetModel<S>, rootClass = "") {
    this.root = el("div", `lxw-root ${rootClass}`.trim());
    this.progress = new ProgressLine(model);
    this.errors = new ErrorPanel(model);
    this.on("change:error", () => this.errors.show(this.model.get("error")));
    this.watch(["status", "progress", "progress_label"], () => this.progress.update());
    this.cleanup(onThemeChange(() => this.draw()));
    this.on("change:focus", () => this.showFocus());
    this.cleanup(listenFocus(() => this.model.get("link_group") ?? "", this, (position) => this.takeFocus(position)));
    this.cleanup(watchKernel(model, (loss) => this.kernelLost(loss)));
  }

  /** The kernel restarted or went away: nothing more will come from Python. Say so in words and
   * keep what is drawn (root's ``data-kernel`` says which). */
  protected kernelLost(loss: KernelLoss): void {
    this.root.dataset.kernel = loss;
    const computing = this.model.get("status") === "computing";
    this.progress.stop(loss === "restarted" ? "stopped: the Python kernel restarted" : "stopped: the Python kernel is gone");
    this.errors.show(kernelMessage(loss, computing));
  }

  /** The token in focus (-1: none). */
  protected get focus(): number {
    const value = this.model.get("focus");
    return typeof value === "number" ? value : -1;
  }

  /** A click (or key) in this view put ``position`` in focus: keep it, tell Python and the linked views. */
  protected focusTo(position: number): void {
    if (position !== this.focus) this.set("focus", position as S["focus"]);
    announceFocus(this.model.get("link_group") ?? "", position, this);
  }

  /** A linked view put ``position`` in focus: take it over (a position this view lacks is none). */
  private takeFocus(position: number): void {
    const count = (this.model.get("tokens" as keyof S) as unknown as string[] | undefined)?.length ?? 0;
    const mine = position >= 0 && (count === 0 || position < count) ? position : -1;
    if (mine !== this.focus) this.set("focus", mine as S["focus"]);
  }

  private showFocus(): void {
    try {
      this.onFocus(this.focus);
    } catch (err) {
      this.errors.show(`llmxai_widgets could not show token ${this.focus}: ${err}`);
    }
  }

  /** Show the token in focus (-1: none) from what the view holds (views that show tokens override this). */
  protected onFocus(_position: number): void {}

  /** Draw the view from the model's traits (errors are caught by draw()). */
  protected abstract paint(): void;

  /** Redraw now; a failure shows in the error panel instead of breaking the notebook. */
  draw(): void {
    try {
      this.paint();
    } catch (err) {
      this.errors.show(`llmxai_widgets could not draw this view: ${err}`);
    }
  }

  /** Put the pane into ``host`` and draw it (paneModule calls this once the pane is built). */
  open(host: HTMLElement): this {
    host.appendChild(this.root);
    const about = aboutPanel(this.model as never, this.root);
    this.watch(["about", "about_open"], about);
    this.draw();
    if (this.focus >= 0) this.showFocus(); // shown again (another tab, a reopened notebook) with a token in focus
    return this;
  }

  /** Run ``fn`` on ``event`` until the pane is disposed. */
  protected on(event: string, fn: () => void): void {
    this.model.on(event, fn);
    this.cleanup(() => this.model.off(event, fn));
  }

  /** Run ``fn`` (default: redraw) when any of ``keys`` changes. */
  protected watch(keys: readonly string[], fn: () => void = () => this.draw()): void {
    for (const key of keys) this.on(`change:${key}`, fn);
  }

  /** Set one trait and send it to Python. */
  protected set<K extends keyof S>(key: K, value: S[K]): void {
    this.update({ [key]: value } as unknown as Partial<S>);
  }

  /** Set several traits (in the order given) and send them to Python together. */
  protected update(changes: Partial<S>): void {
    for (const key of Object.keys(changes) as Array<keyof S>) this.model.set(key, changes[key] as S[keyof S]);
    this.model.save_changes();
  }

  /** Run ``fn`` when the pane is disposed. */
  protected cleanup(...fns: Array<() => void>): void {
    this.cleanups.push(...fns);
  }

  /** Run ``fn`` (default: redraw) when the root's size changes. */
  protected redrawOnResize(fn: () => void = () => this.draw()): void {
    const observer = new ResizeObserver(() => fn());
    observer.observe(this.root);
    this.cleanup(() => observer.disconnect());
  }

  /** ``compute()``'s value, computed again only when an input changed (by identity): wire
   * traits are decoded once per value that arrives. */
  protected cached<T>(name: string, inputs: readonly unknown[], compute: () => T): T {
    const hit = this.memo.get(name);
    if (hit && hit.inputs.length === inputs.length && hit.inputs.every((v, i) => v === inputs[i])) return hit.value as T;
    const value = compute();
    this.memo.set(name, { inputs, value });
    return value;
  }

  /** The toolbar: the view's title, the model's name, ``items``, then the progress line. */
  protected toolbar(title: string, ...items: HTMLElement[]): HTMLElement {
    const bar = el("div", "lxw-bar");
    bar.append(el("span", "lxw-title", title), el("span", "lxw-muted", this.model.get("model_name")), ...items, this.progress.node);
    return bar;
  }

  /** The Export group: its buttons ask Python for the figure (``request`` says what is on screen). */
  protected exportButtons(titles: Record<ExportFormat, string>, request: (format: ExportFormat) => Record<string, unknown> = () => ({}),
    ...extra: HTMLElement[]): HTMLElement {
    return exportGroup((format) => requestExport(this.model, { ...request(format), format },
      (why) => this.exportFailed(format, why)), titles, ...extra);
  }

  /** No answer to an export (no kernel): say so. A view with a canvas may download it instead. */
  protected exportFailed(_format: ExportFormat, why: string): void {
    this.errors.show(`${why}: figures are drawn in Python (view.save(), view.figure()).`);
  }

  /** Download ``canvas`` as drawn, saying why it is not Python's figure. */
  protected downloadCanvas(canvas: HTMLCanvasElement, name: string, why: string, what: string): void {
    canvas.toBlob((blob) => { if (blob) download(blob, name); });
    this.errors.show(`${why}: the PNG is the ${what} as drawn (no colour bar); figures are drawn in Python (view.save()).`);
  }

  dispose(): void {
    for (const fn of this.cleanups.splice(0)) fn();
    this.root.remove();
  }
}

type PaneClass<S extends PaneState> = new (model: WidgetModel<S>) => Pane<S>;

/** Messages a view's module receives besides export answers (e.g. streamed chunks), and what to
 * forget when the model goes. */
export type ModuleHooks<S> = {
  receive?: (model: WidgetModel<S>, msg: ExportAnswer & Record<string, unknown>, buffers: DataView[]) => void;
  forget?: (model: WidgetModel<S>) => void;
};

/** Our stylesheets (``<style id="llmxai-widgets-..." | "lxw-...">``, added once to
 * document.head) do not reach into a shadow root. A front end that renders a widget inside one
 * (marimo) would show the view unstyled, so copy them into ``host``'s shadow root, now and
 * whenever another is added (a panel's styles may come later); returns the cleanup. A host in
 * the document (JupyterLab, Notebook 7, Voila, a saved page) needs nothing. */
export function shareStyles(host: HTMLElement): () => void {
  const root = typeof host.getRootNode === "function" ? host.getRootNode() : null;
  if (typeof ShadowRoot === "undefined" || !(root instanceof ShadowRoot)) return () => {};
  const copy = () => {
    for (const style of document.head.querySelectorAll<HTMLStyleElement>("style[id^='llmxai-widgets'], style[id^='lxw-']")) {
      if (!root.getElementById(style.id)) root.appendChild(style.cloneNode(true));
    }
  };
  copy();
  const observer = new MutationObserver(copy);
  observer.observe(document.head, { childList: true });
  return () => observer.disconnect();
}

/** The anywidget module of a pane: ``export default paneModule("logit-lens", LensPane, [ensureBlocksStyle])``. */
export function paneModule<S extends PaneState>(stem: string, View: PaneClass<S>, styles: (() => void)[] = [], hooks: ModuleHooks<S> = {}) {
  return viewModule<WidgetModel<S>>(stem, (model, host) => {
    const unshare = shareStyles(host);
    try {
      const pane = new View(model).open(host);
      return { dispose: () => { unshare(); pane.dispose(); } };
    } catch (err) {
      unshare();
      throw err;
    }
  }, styles, hooks);
}
