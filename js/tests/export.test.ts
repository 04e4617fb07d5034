import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EXPORT_WAIT_MS, receiveExport, requestExport } from "../core/export";

/** The model API the Export buttons use, recording what the view sends. */
function fakeModel(standalone = false) {
  const sent: unknown[] = [];
  return {
    sent, standalone, get: (_key: "widget_id") => `w-${standalone}`,
    set() {}, save_changes() {}, on() {}, off() {}, send: (content: unknown) => sent.push(content),
  };
}

describe("export buttons", () => {
  const clicked: Array<{ href: string; download: string }> = [];
  beforeEach(() => {
    vi.useFakeTimers();
    clicked.length = 0;
    const anchor = () => {
      const a = { href: "", download: "", click: () => clicked.push({ href: a.href, download: a.download }), remove() {} };
      return a;
    };
    vi.stubGlobal("window", { setTimeout, matchMedia: undefined });
    vi.stubGlobal("document", { body: { dataset: { jpThemeLight: "false" }, appendChild() {} }, createElement: anchor });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("asks Python for the figure in the page's theme and downloads the bytes it sends back", () => {
    const model = fakeModel();
    const noAnswer = vi.fn();
    requestExport(model, { format: "svg", view: "matrix" }, noAnswer);
    expect(model.sent).toEqual([{ kind: "export", theme: "dark", format: "svg", view: "matrix" }]);
    const bytes = new TextEncoder().encode("<svg/>");
    expect(receiveExport(model, { kind: "export", ok: true, format: "svg", name: "a-matrix.svg" }, [new DataView(bytes.buffer)], "x")).toBe(true);
    expect(clicked.map((c) => c.download)).toEqual(["a-matrix.svg"]);
    vi.advanceTimersByTime(EXPORT_WAIT_MS + 1);
    expect(noAnswer).not.toHaveBeenCalled(); // it was answered
  });

  it("downloads nothing for a failed export or another message, and says when no kernel answers", () => {
    const model = fakeModel();
    expect(receiveExport(model, { kind: "thumbs" }, [], "x")).toBe(false);
    const noAnswer = vi.fn();
    requestExport(model, { format: "png" }, noAnswer);
    vi.advanceTimersByTime(EXPORT_WAIT_MS + 1);
    expect(noAnswer).toHaveBeenCalledWith("No answer from the Python kernel");
    expect(receiveExport(model, { kind: "export", ok: false, format: "png" }, [], "x")).toBe(true);
    expect(clicked).toEqual([]);
  });

  it("sends nothing from a saved page and says why at once", () => {
    const model = fakeModel(true);
    const noAnswer = vi.fn();
    requestExport(model, { format: "svg" }, noAnswer);
    vi.advanceTimersByTime(0);
    expect(model.sent).toEqual([]);
    expect(noAnswer).toHaveBeenCalledWith("This saved page has no Python kernel");
  });
});
