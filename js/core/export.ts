// The Export buttons every view shares. A button asks Python for the figure on screen (drawn by
// the code of view.save(): ExplainerWidget._export_for_download in llmxai_widgets/widgets/base.py),
// which sends the file's bytes back as an "export" message; the browser downloads them.
import { el, ensureStyle } from "./dom";
import { WidgetModel } from "./model";

export type ExportFormat = "svg" | "png";
export type ExportAnswer = { kind?: string; ok?: boolean; name?: string; format?: string };
type Exporting = WidgetModel<{ widget_id: string }> & { standalone?: boolean };

/** How long an export may take before the view says the kernel is not answering. */
export const EXPORT_WAIT_MS = 6000;
/** When each widget (by widget_id: initialize() and render() get different model wrappers)
 * last heard back about an export. */
const answered = new Map<string, number>();

/** JupyterLab marks its theme on <body>; elsewhere, the browser's preference. */
export function isDarkTheme(): boolean {
  const light = document.body.dataset.jpThemeLight;
  if (light !== undefined) return light === "false";
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
}

export function download(blob: Blob, name: string): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** The toolbar's "Export" group: its label, any ``extra`` controls, then the SVG and PNG buttons. */
export function exportGroup(onExport: (format: ExportFormat) => void, titles: Record<ExportFormat, string>,
  ...extra: HTMLElement[]): HTMLElement {
  const group = el("span", "lxw-export-group");
  group.append(el("span", "lxw-muted", "Export"), ...extra);
  for (const format of ["svg", "png"] as const) {
    const button = el("button", "lxw-export", format.toUpperCase());
    button.title = titles[format];
    button.addEventListener("click", () => onExport(format));
    group.append(button);
  }
  return group;
}

/** Ask Python for the figure in the page's theme; ``request`` says what is on screen. Without an
 * answer in time (no kernel, or a saved page that never had one) ``noAnswer(why)`` runs. */
export function requestExport(model: Exporting, request: { format: ExportFormat } & Record<string, unknown>,
  noAnswer: (why: string) => void): void {
  const id = model.get("widget_id");
  const sentAt = Date.now();
  const standalone = model.standalone === true;
  try {
    if (!standalone) model.send({ kind: "export", theme: isDarkTheme() ? "dark" : "light", ...request });
  } catch {
    // a dead comm (the kernel restarted or is gone): the timer below says no answer came
  }
  window.setTimeout(() => {
    if ((answered.get(id) ?? 0) >= sentAt) return;
    noAnswer(standalone ? "This saved page has no Python kernel" : "No answer from the Python kernel");
  }, standalone ? 0 : EXPORT_WAIT_MS);
}

/** Python's answer to an export: downloads the file (a failure is in the ``error`` trait, which
 * the view shows). Call it from initialize()'s message listener (once per model, so one download
 * however many views are open); false when ``msg`` is not about an export. */
export function receiveExport(model: Exporting, msg: ExportAnswer, buffers: DataView[] | undefined, stem: string): boolean {
  if (msg?.kind !== "export") return false;
  answered.set(model.get("widget_id"), Date.now());
  if (msg.ok && buffers?.length) {
    const b = buffers[0];
    const bytes = new Uint8Array(b.byteLength);
    bytes.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    const type = msg.format === "svg" ? "image/svg+xml" : "image/png";
    download(new Blob([bytes], { type }), msg.name ?? `${stem}.${msg.format}`);
  }
  return true;
}

export function forgetExports(model: Exporting): void {
  answered.delete(model.get("widget_id"));
}

/** The anywidget module of a view with export buttons: ``initialize`` listens for export answers
 * once per model; ``render`` adds the styles and opens the view, or says why it could not (a cell
 * is never left blank). ``open`` returns the view; its ``dispose`` runs when the output goes. */
export function viewModule<M extends Exporting>(
  stem: string,
  open: (model: M, host: HTMLElement) => { dispose(): void },
  styles: (() => void)[] = [],
  hooks: {
    /** Any other message (e.g. streamed chunks, listened for here so none sent before a view exists is lost). */
    receive?: (model: M, msg: ExportAnswer & Record<string, unknown>, buffers: DataView[]) => void;
    /** What to drop when the model goes. */
    forget?: (model: M) => void;
  } = {},
) {
  return {
    initialize({ model }: { model: M }) {
      const onMessage = (msg: ExportAnswer & Record<string, unknown>, buffers: DataView[]) => {
        if (!receiveExport(model, msg, buffers, stem)) hooks.receive?.(model, msg, buffers);
      };
      model.on("msg:custom", onMessage);
      return () => {
        model.off("msg:custom", onMessage);
        forgetExports(model);
        hooks.forget?.(model);
      };
    },
    render({ model, el: host }: { model: M; el: HTMLElement }) {
      ensureStyle();
      styles.forEach((add) => add());
      try {
        const view = open(model, host);
        return () => view.dispose();
      } catch (err) {
        const panel = el("div", "lxw-error", `llmxai_widgets could not open this view: ${err}`);
        host.appendChild(panel);
        return () => panel.remove();
      }
    },
  };
}
