import { afterEach, describe, expect, it } from "vitest";
import { shareStyles } from "../core/pane";

/** A shadow root (marimo renders each widget inside one) and a document head, as far as
 * shareStyles uses them (no browser in vitest). */
class FakeShadowRoot {
  styles: Array<{ id: string; textContent: string }> = [];
  getElementById(id: string) { return this.styles.find((s) => s.id === id) ?? null; }
  appendChild(node: { id: string; textContent: string }) { this.styles.push(node); return node; }
}

function fakeStyle(id: string, css: string) {
  return { id, textContent: css, cloneNode: () => ({ id, textContent: css }) };
}

const globals = globalThis as Record<string, unknown>;
const saved = { ShadowRoot: globals.ShadowRoot, document: globals.document, MutationObserver: globals.MutationObserver };

function setUp() {
  const head: ReturnType<typeof fakeStyle>[] = [fakeStyle("llmxai-widgets-style", "a"), fakeStyle("other-page-style", "b")];
  const observers: Array<{ fn: () => void; connected: boolean }> = [];
  globals.ShadowRoot = FakeShadowRoot;
  globals.document = {
    head: {
      querySelectorAll: (selector: string) => {
        expect(selector).toContain("llmxai-widgets");
        return head.filter((s) => s.id.startsWith("llmxai-widgets") || s.id.startsWith("lxw-"));
      },
    },
  };
  globals.MutationObserver = class {
    entry: { fn: () => void; connected: boolean };
    constructor(fn: () => void) { this.entry = { fn, connected: false }; observers.push(this.entry); }
    observe() { this.entry.connected = true; }
    disconnect() { this.entry.connected = false; }
  };
  const added = (style: ReturnType<typeof fakeStyle>) => {
    head.push(style);
    observers.filter((o) => o.connected).forEach((o) => o.fn());
  };
  return { observers, added };
}

afterEach(() => Object.assign(globals, saved));

describe("styles in a shadow root", () => {
  it("copies the view's stylesheets into the host's shadow root, once each, and those added later", () => {
    const { observers, added } = setUp();
    const root = new FakeShadowRoot();
    const host = { getRootNode: () => root } as unknown as HTMLElement;
    const stop = shareStyles(host);
    expect(root.styles.map((s) => s.id)).toEqual(["llmxai-widgets-style"]);
    shareStyles(host)(); // a second view in the same root adds nothing twice
    expect(root.styles.map((s) => s.id)).toEqual(["llmxai-widgets-style"]);
    added(fakeStyle("lxw-about-style", "c")); // a panel's stylesheet added later
    expect(root.styles.map((s) => s.id)).toEqual(["llmxai-widgets-style", "lxw-about-style"]);
    stop();
    expect(observers.every((o) => !o.connected)).toBe(true);
  });

  it("does nothing for a host in the document (JupyterLab, Notebook 7, Voila) or without getRootNode", () => {
    const { observers } = setUp();
    expect(() => shareStyles({ getRootNode: () => ({}) } as unknown as HTMLElement)()).not.toThrow();
    expect(() => shareStyles({} as HTMLElement)()).not.toThrow();
    expect(observers.length).toBe(0);
  });
});
