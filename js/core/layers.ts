// What every interactive canvas of the views shares: the canvas, a highlight overlay over it and
// a tooltip of [label, value] lines (text only), positioned together; and, for the heatmaps that
// zoom, dragging the zoomed window with the mouse and Ctrl + wheel zoom.
import { el } from "./dom";

export type TooltipLines = Array<[string, string]>;

export class CanvasLayers {
  readonly node: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  protected readonly overlay = el("canvas");
  protected readonly tooltip = el("div", "lxw-tooltip");

  constructor(nodeClass = "lxw-canvas-wrap", canvasClass = "") {
    this.node = el("div", nodeClass);
    this.canvas = el("canvas", canvasClass);
    this.overlay.style.cssText = "position:absolute;left:0;top:0;pointer-events:none";
    this.node.append(this.canvas, this.overlay, this.tooltip);
  }

  /** Size the canvas and its overlay to ``width`` x ``height`` CSS pixels at the screen's pixel ratio. */
  protected size(width: number, height: number): number {
    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.canvas, this.overlay]) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
      c.style.width = `${width}px`;
      c.style.height = `${height}px`;
    }
    return dpr;
  }

  /** The overlay, cleared and scaled to CSS pixels (null before the first drawing). */
  protected clearOverlay(): CanvasRenderingContext2D | null {
    const ctx = this.overlay.getContext("2d");
    if (!ctx) return null;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width / dpr, this.overlay.height / dpr);
    return ctx;
  }

  /** Show ``lines`` at (``left``, ``top``) CSS pixels; ``data`` is published on the tooltip for tests. */
  protected showTooltip(lines: TooltipLines, data: Record<string, string>, left: number, top: number): void {
    this.tooltip.replaceChildren();
    for (const [label, value] of lines) this.tooltip.append(el("b", "", label), el("span", "", value));
    Object.assign(this.tooltip.dataset, data);
    this.tooltip.style.display = "grid";
    this.tooltip.style.left = `${left}px`;
    this.tooltip.style.top = `${top}px`;
  }

  protected hideTooltip(): void {
    this.tooltip.style.display = "none";
  }
}

/** A canvas whose zoomed window (``W``, null when whole) follows the mouse: drag to pan, Ctrl +
 * wheel to zoom; a click that ends a drag is not a click. */
export abstract class PanZoomCanvas<W> extends CanvasLayers {
  protected window: W | null = null;
  protected mouse: { x: number; y: number } | null = null;
  private drag: { x: number; y: number; start: W; moved: boolean } | null = null;
  private dragged = false;

  constructor(protected redraw: () => void) {
    super();
    this.canvas.addEventListener("mousemove", (e) => {
      this.mouse = { x: e.offsetX, y: e.offsetY };
      if (!this.panTo(e.offsetX, e.offsetY)) this.hoverAt(e.offsetX, e.offsetY);
    });
    this.canvas.addEventListener("mouseleave", () => {
      this.mouse = null;
      this.hoverAt(-1, -1);
    });
    this.canvas.addEventListener("mousedown", (e) => {
      if (this.window) this.drag = { x: e.offsetX, y: e.offsetY, start: this.window, moved: false };
    });
    window.addEventListener("mouseup", this.endDrag);
    this.canvas.addEventListener("wheel", (e) => {
      if (!(e.ctrlKey || e.metaKey)) return; // a plain wheel scrolls the notebook
      if (this.wheelZoom(e.deltaY < 0 ? 1 / 1.25 : 1.25, e.offsetX, e.offsetY)) e.preventDefault();
    }, { passive: false });
    this.canvas.addEventListener("click", (e) => {
      if (this.dragged) { this.dragged = false; return; } // the end of a pan, not a pick
      this.clickAt(e.offsetX, e.offsetY);
    });
  }

  /** The mouse is at (x, y), or left the canvas (-1, -1). */
  protected abstract hoverAt(x: number, y: number): void;
  protected abstract clickAt(x: number, y: number): void;
  /** Zoom by ``factor`` around the point; false when nothing is drawn (the page scrolls). */
  protected abstract wheelZoom(factor: number, x: number, y: number): boolean;
  /** The window dragged from ``start`` by (dx, dy) CSS pixels. */
  protected abstract panned(start: W, dx: number, dy: number): W;

  dispose(): void {
    window.removeEventListener("mouseup", this.endDrag);
  }

  private endDrag = (): void => {
    if (this.drag?.moved) this.dragged = true;
    this.drag = null;
  };

  /** Move the zoomed window with the mouse; true while dragging. */
  private panTo(x: number, y: number): boolean {
    const d = this.drag;
    if (!d || !this.window) return false;
    if (!d.moved && Math.abs(x - d.x) + Math.abs(y - d.y) < 4) return false;
    d.moved = true;
    this.window = this.panned(d.start, x - d.x, y - d.y);
    this.hideTooltip();
    this.redraw();
    return true;
  }
}
