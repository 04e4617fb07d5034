// The slice of anywidget's model API the views use.
export type Listener = (...args: any[]) => void;

export interface WidgetModel<S> {
  get<K extends keyof S>(key: K): S[K];
  set<K extends keyof S>(key: K, value: S[K]): void;
  save_changes(): void;
  on(event: string, callback: Listener): void;
  off(event: string, callback?: Listener): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
}

/** Base traits of every view: llmxai_widgets/widgets/base.py (ExplainerWidget). */
export type BaseState = {
  status: "idle" | "computing" | "ready" | "cancelled" | "error";
  progress: number;
  progress_label: string;
  error: string;
};
