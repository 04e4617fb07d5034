// Whether the Python kernel behind a view is still there. A view only learns what Python sends;
// when the kernel restarts (it forgets every widget) or is shut down, nothing more comes, and the
// view would wait forever: a progress bar that never moves, a Cancel that answers nothing. In
// JupyterLab and Notebook 7 the widget manager holds the kernel's connection
// (``model.widget_manager.kernel``, reached through anywidget's model); its status turns
// "restarting" (or "autorestarting") on a restart and "dead" on a shutdown, and it is disposed
// when the notebook lets it go. Front ends without one (Voila, marimo, a saved page) are not watched.

/** What happened to the kernel: it restarted (a new one, without this view), or it is gone. */
export type KernelLoss = "restarted" | "gone";

type Slot = (sender: unknown, value: unknown) => void;
/** A Lumino signal, as far as this file uses it. */
type SignalLike = { connect(fn: Slot): unknown; disconnect(fn: Slot): unknown };

/** The part of @jupyterlab/services' kernel connection read here. */
export type KernelLike = {
  status?: string;
  connectionStatus?: string;
  isDisposed?: boolean;
  statusChanged?: SignalLike;
  connectionStatusChanged?: SignalLike;
  disposed?: SignalLike;
};

/** The kernel connection behind ``model`` (null where the front end gives none). */
export function kernelOf(model: unknown): KernelLike | null {
  try {
    const kernel = (model as { widget_manager?: { kernel?: unknown } } | null)?.widget_manager?.kernel;
    return kernel && typeof kernel === "object" ? (kernel as KernelLike) : null;
  } catch {
    return null;
  }
}

/** What a kernel's state means for a view: lost how, or null (still there, or starting). */
export function lossOf(kernel: KernelLike): KernelLoss | null {
  if (kernel.status === "restarting" || kernel.status === "autorestarting") return "restarted";
  if (kernel.isDisposed || kernel.status === "dead" || kernel.connectionStatus === "disconnected") return "gone";
  return null;
}

/** The sentence a view shows when its kernel is lost; ``computing``: it was still computing. */
export function kernelMessage(loss: KernelLoss, computing: boolean): string {
  const what = loss === "restarted"
    ? "The Python kernel restarted: the new kernel does not have this view, so nothing more will arrive"
    : "The Python kernel is gone (shut down or disconnected): nothing more will arrive";
  const stopped = computing ? " and its computation stopped" : "";
  const next = loss === "restarted" ? "run the cell that made this view again" : "start a kernel and run the cell again";
  return `${what}${stopped}. What is drawn stays as it was received; to compute it anew, ${next}.`;
}

/** Call ``onLoss`` once when ``model``'s kernel restarts or goes (at once if it already has);
 * returns the cleanup. Never throws: a front end without a kernel connection is not watched. */
export function watchKernel(model: unknown, onLoss: (loss: KernelLoss) => void): () => void {
  const kernel = kernelOf(model);
  if (!kernel) return () => {};
  let done = false;
  const signals = [kernel.statusChanged, kernel.connectionStatusChanged, kernel.disposed]
    .filter((s): s is SignalLike => !!s && typeof s.connect === "function");
  const stop = () => {
    for (const signal of signals) {
      try {
        signal.disconnect(check);
      } catch {
        // a disposed signal has no slots left
      }
    }
  };
  function check(): void {
    if (done) return;
    const loss = lossOf(kernel!);
    if (!loss) return;
    done = true;
    stop();
    onLoss(loss);
  }
  for (const signal of signals) signal.connect(check);
  check();
  return () => {
    done = true;
    stop();
  };
}

/** ``model.send(content)``, false instead of an exception when the comm is dead (the kernel
 * restarted or is gone). */
export function trySend(model: { send(content: unknown): void }, content: unknown): boolean {
  try {
    model.send(content);
    return true;
  } catch {
    return false;
  }
}
