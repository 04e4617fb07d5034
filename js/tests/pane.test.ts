import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stepFocus } from "../core/focus";
import { Pane, PaneState, paneModule } from "../core/pane";
import { FakeElement } from "./fake_dom";

type State = PaneState & { value: number; other: number };

/** An anywidget model: traits, listeners by event, and what was saved. */
function fakeModel() {
  const traits: Record<string, unknown> = { status: "ready", progress: 0, progress_label: "", error: "", widget_id: "w", model_name: "m", value: 1, other: 0 };
  const listeners = new Map<string, Set<() => void>>();
  const saved: Array<Record<string, unknown>> = [];
  let pending: Record<string, unknown> = {};
  return {
    traits, listeners, saved,
    get: (key: string) => traits[key],
    set: (key: string, value: unknown) => { traits[key] = value; pending[key] = value; },
    save_changes: () => { saved.push(pending); pending = {}; },
    on: (event: string, fn: () => void) => { if (!listeners.has(event)) listeners.set(event, new Set()); listeners.get(event)!.add(fn); },
    off: (event: string, fn: () => void) => { listeners.get(event)?.delete(fn); },
    send() {},
    change(key: string, value: unknown) { traits[key] = value; listeners.get(`change:${key}`)?.forEach((fn) => fn()); },
    count: () => Array.from(listeners.values()).reduce((n, s) => n + s.size, 0),
  };
}

class CountingPane extends Pane<State> {
  painted = 0;
  decoded = 0;
  fail = false;
  constructor(model: ConstructorParameters<typeof Pane<State>>[0]) {
    super(model, "lxw-test");
    this.watch(["value"]);
  }
  protected paint(): void {
    this.painted++;
    if (this.fail) throw new Error("boom");
  }
  decode(): number { return this.cached("value", [this.model.get("value")], () => ++this.decoded); }
  choose(value: number): void { this.set("value", value); }
  chooseBoth(value: number, other: number): void { this.update({ other, value }); }
  errorText(): string { return (this.errors.node as unknown as FakeElement).children[0].textContent; }
}

class FocusPane extends Pane<State> {
  shown: number[] = [];
  protected paint(): void {}
  protected onFocus(position: number): void { this.shown.push(position); }
  click(position: number): void { this.focusTo(position); }
}

describe("the pane every view extends", () => {
  let observers = 0;
  let documentListeners = () => 0;
  beforeEach(() => {
    observers = 0;
    const handlers = new Map<string, Set<(e: unknown) => void>>();
    documentListeners = () => Array.from(handlers.values()).reduce((n, h) => n + h.size, 0);
    vi.stubGlobal("document", {
      createElement: () => new FakeElement(), body: {}, getElementById: () => ({}),
      addEventListener: (type: string, fn: (e: unknown) => void) => { if (!handlers.has(type)) handlers.set(type, new Set()); handlers.get(type)!.add(fn); },
      removeEventListener: (type: string, fn: (e: unknown) => void) => { handlers.get(type)?.delete(fn); },
      dispatchEvent: (e: { type: string }) => { handlers.get(e.type)?.forEach((fn) => fn(e)); return true; },
    });
    vi.stubGlobal("CustomEvent", class { constructor(public type: string, init: { detail: unknown }) { this.detail = init.detail; } detail: unknown; });
    vi.stubGlobal("MutationObserver", class { observe() { observers++; } disconnect() { observers--; } });
  });
  afterEach(() => vi.unstubAllGlobals());

  it("redraws when a watched trait changes, and only then", () => {
    const model = fakeModel();
    const pane = new CountingPane(model as never);
    const host = new FakeElement();
    pane.open(host as unknown as HTMLElement);
    expect(host.children[0]).toBe(pane.root);
    expect(pane.painted).toBe(1);
    model.change("value", 2);
    expect(pane.painted).toBe(2);
    model.change("other", 3);
    expect(pane.painted).toBe(2);
  });

  it("shows a drawing failure and Python's errors in its error panel", () => {
    const model = fakeModel();
    const pane = new CountingPane(model as never);
    pane.fail = true;
    expect(() => pane.draw()).not.toThrow();
    expect(pane.errorText()).toBe("llmxai_widgets could not draw this view: Error: boom");
    model.change("error", "the model is too large");
    expect(pane.errorText()).toBe("the model is too large");
  });

  it("sends what it sets to Python, several traits in one message", () => {
    const model = fakeModel();
    const pane = new CountingPane(model as never);
    pane.choose(5);
    pane.chooseBoth(6, 7);
    expect(model.saved).toEqual([{ value: 5 }, { other: 7, value: 6 }]);
  });

  it("decodes again only when the trait's value is another object", () => {
    const model = fakeModel();
    const pane = new CountingPane(model as never);
    const trait = { data: 1 };
    model.traits.value = trait;
    expect([pane.decode(), pane.decode()]).toEqual([1, 1]);
    model.traits.value = { data: 1 };
    expect(pane.decode()).toBe(2);
  });

  it("leaves nothing behind when disposed", () => {
    const model = fakeModel();
    const pane = new CountingPane(model as never);
    expect(model.count()).toBeGreaterThan(0);
    expect(observers).toBe(1);
    pane.dispose();
    expect(model.count()).toBe(0);
    expect(observers).toBe(0);
    expect(documentListeners()).toBe(0);
    expect((pane.root as unknown as FakeElement).removed).toBe(true);
  });

  it("shares the token in focus with the panes of its link group, and only those", () => {
    const models = [fakeModel(), fakeModel(), fakeModel()];
    models[0].traits.link_group = models[1].traits.link_group = "g";
    models[2].traits.link_group = "other";
    for (const m of models) { m.traits.focus = -1; m.traits.tokens = ["a", "b", "c"]; }
    const panes = models.map((m) => new FocusPane(m as never));
    panes[0].click(2);
    expect(models.map((m) => m.traits.focus)).toEqual([2, 2, -1]);
    expect(models[1].saved).toEqual([{ focus: 2 }]);  // Python learns it from each pane
    models[1].change("focus", 2);
    expect(panes[1].shown).toEqual([2]);  // onFocus runs when the trait changes
    models[1].traits.tokens = ["a"];  // a shorter view: a position it lacks is "none"
    panes[0].click(1);
    expect(models[1].traits.focus).toBe(-1);
    panes[1].dispose();
    panes[0].click(0);
    expect(models[1].traits.focus).toBe(-1);
  });

  it("has an About toggle that opens what the view shows and where it misleads, as text", () => {
    const model = fakeModel();
    model.traits.about = { title: "Attention", shows: "Rows are <b>queries</b>.", misleads: "Weights are not explanations.", read_more: "Jain & Wallace 2019" };
    model.traits.about_open = false;
    const pane = new CountingPane(model as never);
    pane.open(new FakeElement() as unknown as HTMLElement);
    const root = pane.root as unknown as FakeElement;
    const toggle = root.children.find((c) => c.className.includes("lxw-about-toggle"))!;
    const panel = root.children.find((c) => c.className === "lxw-about")!;
    expect(panel.style.display).toBe("none");
    toggle.listeners.click();
    expect(model.saved[model.saved.length - 1]).toEqual({ about_open: true });
    expect(panel.style.display).toBe("");
    expect(toggle.attributes["aria-expanded"]).toBe("true");
    expect(panel.text()).toContain("What the attention view shows");
    expect(panel.text()).toContain("Rows are <b>queries</b>.");  // the markup stays text
    expect(panel.text()).toContain("Where it misleads");
    expect(panel.text()).toContain("Read more: Jain & Wallace 2019");
    model.traits.about = {};
    model.change("about", {});
    expect(toggle.style.display).toBe("none");  // nothing to say: no toggle
  });

  it("makes the anywidget module: render opens the pane, its cleanup disposes it", () => {
    const model = fakeModel();
    const module = paneModule("test", CountingPane);
    const host = new FakeElement();
    const cleanup = module.render({ model: model as never, el: host as unknown as HTMLElement });
    const root = host.children[0];
    expect(root.className).toBe("lxw-root lxw-test");
    cleanup();
    expect(root.removed).toBe(true);
    expect(model.count()).toBe(0);
  });
});

describe("keys that move the token in focus", () => {
  it("steps along the tokens and stops at the ends", () => {
    expect(stepFocus("ArrowRight", -1, 3)).toBe(0);
    expect(stepFocus("ArrowLeft", -1, 3)).toBe(2);
    expect(stepFocus("ArrowRight", 2, 3)).toBe(2);
    expect(stepFocus("ArrowLeft", 0, 3)).toBe(0);
    expect(stepFocus("Home", 2, 3)).toBe(0);
    expect(stepFocus("End", 0, 3)).toBe(2);
    expect(stepFocus("a", 1, 3)).toBeNull();
    expect(stepFocus("ArrowRight", 0, 0)).toBeNull();
  });
});
