// The token in focus, shared by linked views (llmxai_widgets/widgets/link.py). A pane that is
// told of a click sets its own ``focus`` trait and announces it on the document with its
// ``link_group``; the other panes of that group (other widget modules, loaded separately, so a
// DOM event and not a module variable) take the position over. Works with no kernel (a saved
// page holds every pane of an explorer).

export const FOCUS_EVENT = "lxw-focus";

export type FocusDetail = { group: string; position: number; source: unknown };

/** Tell the panes of ``group`` that ``position`` is in focus (``source``: who said it). */
export function announceFocus(group: string, position: number, source: unknown): void {
  if (!group) return;
  document.dispatchEvent(new CustomEvent<FocusDetail>(FOCUS_EVENT, { detail: { group, position, source } }));
}

/** Call ``fn(position)`` when another pane of ``group()`` announces a position; returns the cleanup. */
export function listenFocus(group: () => string, source: unknown, fn: (position: number) => void): () => void {
  const handler = (event: Event) => {
    const detail = (event as CustomEvent<FocusDetail>).detail;
    if (!detail || detail.source === source || !detail.group || detail.group !== group()) return;
    fn(detail.position);
  };
  document.addEventListener(FOCUS_EVENT, handler);
  return () => document.removeEventListener(FOCUS_EVENT, handler);
}

/** The next position for a navigation key (ArrowLeft/Right, Home, End), or null for other keys. */
export function stepFocus(key: string, position: number, count: number): number | null {
  if (count <= 0) return null;
  const at = position < 0 ? -1 : Math.min(position, count - 1);
  switch (key) {
    case "ArrowLeft": return at < 0 ? count - 1 : Math.max(0, at - 1);
    case "ArrowRight": return at < 0 ? 0 : Math.min(count - 1, at + 1);
    case "Home": return 0;
    case "End": return count - 1;
    default: return null;
  }
}
