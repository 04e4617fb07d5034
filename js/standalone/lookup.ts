// Answers a view's click in a saved page from a table Python embedded (a view's
// `_standalone_extras` with kind "lookup"): when trait `watch` changes, the entry keyed by its
// `fields` goes to trait `target`; a missing entry puts `missing` there instead (the view says it).
import type { Responder } from "./model";

export type LookupExtras = {
  kind: "lookup";
  /** The trait the view sets (e.g. the clicked cell). */
  watch: string;
  /** Its fields that make the key, joined by "|". */
  fields: string[];
  /** The trait the answer goes to. */
  target: string;
  entries: Record<string, Record<string, unknown>>;
  /** What to say when the file does not hold the answer. */
  missing: string;
};

export function lookupKey(value: Record<string, unknown>, fields: string[]): string | null {
  if (!value || fields.some((f) => value[f] === undefined || value[f] === null)) return null;
  return fields.map((f) => String(value[f])).join("|");
}

export function lookupResponder(extras: LookupExtras): Responder {
  return (model, changed) => {
    if (!changed.has(extras.watch)) return;
    const asked = (model.get(extras.watch) ?? {}) as Record<string, unknown>;
    const key = lookupKey(asked, extras.fields);
    if (key === null) {
      model.receive({ [extras.target]: {} });
      return;
    }
    const found = Object.prototype.hasOwnProperty.call(extras.entries, key) ? extras.entries[key] : undefined;
    const where = Object.fromEntries(extras.fields.map((f) => [f, asked[f]]));
    model.receive({ [extras.target]: found ?? { ...where, missing: extras.missing } });
  };
}
