// Host of a standalone HTML export (llmxai_widgets/export_html.py): no Jupyter, no kernel, no
// network. Reads the widget state the page embeds (ipywidgets' embed format, buffers base64),
// builds a model per view container, imports the widget's ES module from a Blob URL and calls
// its initialize() and render(), as anywidget would. For an AttentionView the embedded slices
// answer the view's layer/head/part choices (./responder.ts); the logit lens, contributions,
// neuron and attribution views have responders of their own (./lens.ts, ./views.ts); other views'
// clicks are answered from an embedded table (./lookup.ts).
import { AttentionExtras, attentionResponder } from "./responder";
import { EmbeddedBuffer, StandaloneModel, decodeState } from "./model";
import { LookupExtras, LookupsExtras, lookupResponder, lookupsResponder } from "./lookup";
import { LensExtras, lensResponder } from "./lens";
import {
  AttributionExtras, ContributionExtras, NeuronExtras, attributionResponder, contributionsResponder, neuronsResponder,
} from "./views";

type Extras = AttentionExtras | LookupExtras | LookupsExtras | LensExtras | ContributionExtras | NeuronExtras | AttributionExtras;

type EmbedEntry = { model_name: string; model_module: string; state: Record<string, unknown>; buffers?: EmbeddedBuffer[] };
type Manager = { version_major: number; version_minor: number; state: Record<string, EmbedEntry> };
type Widget = {
  initialize?: (ctx: { model: StandaloneModel; experimental: unknown }) => unknown;
  render?: (ctx: { model: StandaloneModel; el: HTMLElement; experimental: unknown }) => unknown;
};

const STATE_TYPE = "application/vnd.jupyter.widget-state+json";

function showFailure(container: HTMLElement, message: string): void {
  const box = document.createElement("div");
  box.className = "lxw-standalone-error";
  box.setAttribute("role", "alert");
  box.textContent = message; // never markup
  container.appendChild(box);
}

function extrasFor(id: string): Extras | null {
  for (const script of Array.from(document.querySelectorAll<HTMLScriptElement>("script.lxw-standalone-data"))) {
    if (script.dataset.lxwModelId === id) return JSON.parse(script.textContent || "null");
  }
  return null;
}

async function loadWidget(esm: string): Promise<Widget> {
  const url = URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
  try {
    const mod = await import(/* @vite-ignore */ url);
    const def = mod.default ?? mod;
    return (typeof def === "function" ? await def() : def) as Widget;
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function mount(container: HTMLElement, entry: EmbedEntry, extras: Extras | null): Promise<void> {
  const state = decodeState(entry.state, entry.buffers ?? []);
  const esm = state._esm;
  if (typeof esm !== "string" || !esm) throw new Error("the embedded state has no _esm module");
  if (typeof state._css === "string" && state._css) {
    const style = document.createElement("style");
    style.textContent = state._css;
    document.head.appendChild(style);
  }
  const model = new StandaloneModel(state);
  if (extras?.kind === "attention") model.responder = attentionResponder(extras, state);
  else if (extras?.kind === "lookup") model.responder = lookupResponder(extras);
  else if (extras?.kind === "lookups") model.responder = lookupsResponder(extras);
  else if (extras?.kind === "lens") model.responder = lensResponder(extras, state);
  else if (extras?.kind === "contributions") model.responder = contributionsResponder(extras);
  else if (extras?.kind === "neurons") model.responder = neuronsResponder(extras, state);
  else if (extras?.kind === "attribution") model.responder = attributionResponder(extras);
  // an empty change set settles the saved state: what was still computing when the page was
  // saved (a head's attention, a corpus search, an evaluation) gets its answer or its message
  model.responder?.(model, new Set());
  model.onMessage = (content) => {
    // ExplainerWidget._on_frontend_msg: "dismiss_error" clears the error; "cancel" has nothing to stop
    if ((content as { kind?: string })?.kind === "dismiss_error") model.receive({ error: "" });
  };
  const widget = await loadWidget(esm);
  const experimental = { invoke: () => Promise.reject(new Error("no kernel in an exported HTML file")) };
  await widget.initialize?.({ model, experimental });
  await widget.render?.({ model, el: container, experimental });
  container.dataset.lxwReady = "true";
}

async function main(): Promise<void> {
  const script = document.querySelector<HTMLScriptElement>(`script[type="${STATE_TYPE}"]`);
  if (!script) return;
  const manager = JSON.parse(script.textContent || "{}") as Manager;
  for (const container of Array.from(document.querySelectorAll<HTMLElement>("[data-lxw-model-id]:not(script)"))) {
    const id = container.dataset.lxwModelId!;
    const entry = manager.state?.[id];
    try {
      if (!entry) throw new Error(`no state for widget ${id}`);
      await mount(container, entry, extrasFor(id));
    } catch (err) {
      console.error(err);
      showFailure(container, `llmxai_widgets could not open this exported view: ${err}`);
      container.dataset.lxwReady = "error";
    }
  }
}

void main();
