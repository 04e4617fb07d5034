// Parts every view shares: the error panel and the progress line with its cancel button.
import { el } from "./dom";
import { trySend } from "./kernel";
import { BaseState, WidgetModel } from "./model";

export class ErrorPanel {
  readonly node = el("div", "lxw-error");
  private text = el("div", "lxw-error-text");

  constructor(private model: WidgetModel<BaseState>) {
    const close = el("button", "", "Dismiss");
    close.addEventListener("click", () => {
      trySend(this.model, { kind: "dismiss_error" }); // a dead kernel has nothing to clear
      this.show("");
    });
    this.node.append(this.text, close);
    this.node.setAttribute("role", "alert");
    this.show(model.get("error"));
  }

  show(message: string): void {
    this.text.textContent = message;
    this.node.style.display = message ? "flex" : "none";
  }
}

export class ProgressLine {
  readonly node = el("span", "lxw-progress");
  private bar = el("progress");
  private label = el("span", "lxw-muted");
  private cancel = el("button", "", "Cancel");
  private stopped: string | null = null;

  constructor(private model: WidgetModel<BaseState>) {
    this.bar.max = 1;
    this.cancel.addEventListener("click", () => {
      if (!trySend(this.model, { kind: "cancel" })) {
        this.stop("stopped: the Python kernel is gone");
        return;
      }
      this.cancel.disabled = true;
      this.cancel.textContent = "Cancelling\u2026";
    });
    this.node.append(this.bar, this.label, this.cancel);
    this.update();
  }

  /** Python will not answer any more (its kernel restarted or is gone): no bar, no Cancel, ``why``
   * in place of the progress label if it was computing. */
  stop(why: string): void {
    this.stopped = why;
    this.update();
  }

  update(): void {
    const status = this.model.get("status");
    const computing = status === "computing" && this.stopped === null;
    this.bar.style.display = computing ? "" : "none";
    this.cancel.style.display = computing ? "" : "none";
    if (!computing) {
      this.cancel.disabled = false;
      this.cancel.textContent = "Cancel";
    }
    this.bar.value = this.model.get("progress");
    const label = this.model.get("progress_label");
    this.label.textContent = computing ? label || "computing\u2026"
      : this.stopped !== null && status === "computing" ? this.stopped : label;
  }
}
