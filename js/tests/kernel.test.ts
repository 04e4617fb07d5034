import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorPanel, ProgressLine } from "../core/chrome";
import { kernelMessage, kernelOf, lossOf, trySend, watchKernel } from "../core/kernel";
import { Pane, PaneState } from "../core/pane";
import { FakeElement } from "./fake_dom";

/** A Lumino signal: connect, disconnect, emit. */
class FakeSignal {
  slots = new Set<(sender: unknown, value: unknown) => void>();
  connect(fn: (sender: unknown, value: unknown) => void) { this.slots.add(fn); return true; }
  disconnect(fn: (sender: unknown, value: unknown) => void) { return this.slots.delete(fn); }
  emit(value: unknown) { for (const fn of Array.from(this.slots)) fn(null, value); }
}

/** A kernel connection as JupyterLab's widget manager holds it. */
function fakeKernel(status = "idle") {
  const kernel = {
    status, connectionStatus: "connected", isDisposed: false,
    statusChanged: new FakeSignal(), connectionStatusChanged: new FakeSignal(), disposed: new FakeSignal(),
    become(next: string) { kernel.status = next; kernel.statusChanged.emit(next); },
    dispose() { kernel.isDisposed = true; kernel.disposed.emit(undefined); },
    listeners: () => kernel.statusChanged.slots.size + kernel.connectionStatusChanged.slots.size + kernel.disposed.slots.size,
  };
  return kernel;
}

/** An anywidget model whose comm may be dead (send throws, as JupyterLab's does then). */
function fakeModel(kernel: unknown, status = "computing") {
  const traits: Record<string, unknown> = { status, progress: 0.4, progress_label: "layer 12 of 30", error: "", widget_id: "w", model_name: "m" };
  const listeners = new Map<string, Set<() => void>>();
  const model = {
    dead: false, sent: [] as unknown[], widget_manager: { kernel },
    get: (key: string) => traits[key],
    set: (key: string, value: unknown) => { traits[key] = value; },
    save_changes: () => {},
    on: (event: string, fn: () => void) => { if (!listeners.has(event)) listeners.set(event, new Set()); listeners.get(event)!.add(fn); },
    off: (event: string, fn: () => void) => { listeners.get(event)?.delete(fn); },
    send(content: unknown) { if (model.dead) throw new Error("Kernel is dead"); model.sent.push(content); },
  };
  return model;
}

class EmptyPane extends Pane<PaneState> {
  protected paint(): void {}
  errorText(): string { return (this.errors.node as unknown as FakeElement).children[0].textContent; }
  progressNode(): FakeElement { return this.progress.node as unknown as FakeElement; }
}

describe("a view's kernel", () => {
  beforeEach(() => {
    vi.stubGlobal("document", { createElement: () => new FakeElement(), body: {}, getElementById: () => ({}),
      addEventListener() {}, removeEventListener() {} });
    vi.stubGlobal("MutationObserver", class { observe() {} disconnect() {} });
  });
  afterEach(() => vi.unstubAllGlobals());

  it("reads a restart, a shutdown and a lost connection, and nothing else, as lost", () => {
    expect(lossOf({ status: "restarting" })).toBe("restarted");
    expect(lossOf({ status: "autorestarting" })).toBe("restarted");
    expect(lossOf({ status: "dead" })).toBe("gone");
    expect(lossOf({ status: "idle", connectionStatus: "disconnected" })).toBe("gone");
    expect(lossOf({ status: "idle", isDisposed: true })).toBe("gone");
    for (const status of ["idle", "busy", "starting", "unknown"]) expect(lossOf({ status, connectionStatus: "connecting" })).toBeNull();
  });

  it("finds the kernel through the widget manager, and none where there is none", () => {
    const kernel = fakeKernel();
    expect(kernelOf({ widget_manager: { kernel } })).toBe(kernel);
    expect(kernelOf({})).toBeNull();
    expect(kernelOf({ widget_manager: {} })).toBeNull();
    expect(kernelOf(null)).toBeNull();
    expect(kernelOf({ get widget_manager(): never { throw new Error("no access"); } })).toBeNull();
    expect(watchKernel({ standalone: true }, () => { throw new Error("never called"); })).toBeTypeOf("function");
  });

  it("reports a restart once, then stops listening; the cleanup disconnects", () => {
    const kernel = fakeKernel();
    const seen: string[] = [];
    watchKernel({ widget_manager: { kernel } }, (loss) => seen.push(loss));
    expect(kernel.listeners()).toBe(3);
    kernel.become("busy");
    expect(seen).toEqual([]);
    kernel.become("restarting");
    kernel.become("dead");
    expect(seen).toEqual(["restarted"]);
    expect(kernel.listeners()).toBe(0);

    const other = fakeKernel();
    const stop = watchKernel({ widget_manager: { kernel: other } }, (loss) => seen.push(loss));
    stop();
    expect(other.listeners()).toBe(0);
    other.become("dead");
    expect(seen).toEqual(["restarted"]);
  });

  it("reports at once a kernel already gone, and a disposed one", () => {
    const seen: string[] = [];
    watchKernel({ widget_manager: { kernel: fakeKernel("dead") } }, (loss) => seen.push(loss));
    const kernel = fakeKernel();
    watchKernel({ widget_manager: { kernel } }, (loss) => seen.push(loss));
    kernel.dispose();
    expect(seen).toEqual(["gone", "gone"]);
  });

  it("says in words what happened and what to do", () => {
    expect(kernelMessage("restarted", true)).toMatch(/kernel restarted.*nothing more will arrive and its computation stopped.*drawn stays.*run the cell/);
    expect(kernelMessage("gone", false)).toMatch(/kernel is gone.*nothing more will arrive\. What is drawn stays/);
  });

  it("sends nothing and throws nothing on a dead comm", () => {
    const model = fakeModel(null);
    expect(trySend(model, { kind: "cancel" })).toBe(true);
    model.dead = true;
    expect(trySend(model, { kind: "cancel" })).toBe(false);
    expect(model.sent).toEqual([{ kind: "cancel" }]);
  });

  it("Dismiss and Cancel do not throw when the comm is dead", () => {
    const model = fakeModel(null);
    model.dead = true;
    const errors = new ErrorPanel(model as never);
    errors.show("something");
    const dismiss = (errors.node as unknown as FakeElement).children[1];
    expect(() => dismiss.listeners.click()).not.toThrow();
    expect((errors.node as unknown as FakeElement).style.display).toBe("none");

    const progress = new ProgressLine(model as never);
    const [bar, label, cancel] = (progress.node as unknown as FakeElement).children;
    expect(() => cancel.listeners.click()).not.toThrow();
    expect(label.textContent).toBe("stopped: the Python kernel is gone");
    expect(bar.style.display).toBe("none");
    expect(cancel.style.display).toBe("none");
  });

  it("a pane whose kernel restarts mid-computation says so and stops its progress line", () => {
    const kernel = fakeKernel("busy");
    const model = fakeModel(kernel);
    const pane = new EmptyPane(model as never);
    pane.open(new FakeElement() as unknown as HTMLElement);
    expect(pane.errorText()).toBe("");
    kernel.become("restarting");
    expect(pane.root.dataset.kernel).toBe("restarted");
    expect(pane.errorText()).toBe(kernelMessage("restarted", true));
    const [bar, label, cancel] = pane.progressNode().children;
    expect(label.textContent).toBe("stopped: the Python kernel restarted");
    expect(bar.style.display).toBe("none");
    expect(cancel.style.display).toBe("none");
    pane.dispose();
    expect(kernel.listeners()).toBe(0);
  });

  it("a pane disposed before its kernel goes is not told", () => {
    const kernel = fakeKernel();
    const pane = new EmptyPane(fakeModel(kernel, "ready") as never);
    pane.dispose();
    kernel.become("dead");
    expect(pane.root.dataset.kernel).toBeUndefined();
  });
});
