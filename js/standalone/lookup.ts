// Answers a view's click in a saved page from a table Python embedded (a view's
// `_standalone_extras` with kind "lookup"): when trait `watch` changes, the entry keyed by its
// `fields` goes to trait `target`; a missing entry puts `missing` there instead (the view says it).
// A trait holding one number or string (a slider's value, a clicked node) is keyed by its value
// and named by the single field. Kind "lookups" holds several tables, each answering its trait.
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

export type LookupsExtras = { kind: "lookups"; tables: LookupExtras[] };

/** The asked value as fields: a scalar trait becomes ``{[fields[0]]: value}``. */
function asFields(value: unknown, fields: string[]): Record<string, unknown> {
  if ((typeof value === "number" || typeof value === "string") && fields.length === 1) return { [fields[0]]: value };
  return (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
}

export function lookupKey(value: Record<string, unknown>, fields: string[]): string | null {
  if (!value || fields.some((f) => value[f] === undefined || value[f] === null)) return null;
  return fields.map((f) => String(value[f])).join("|");
}

export function lookupResponder(extras: LookupExtras): Responder {
  return (model, changed) => {
    if (!changed.has(extras.watch)) return;
    const asked = asFields(model.get(extras.watch), extras.fields);
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

/** Several tables, each answering changes of its own trait. */
export function lookupsResponder(extras: LookupsExtras): Responder {
  const each = extras.tables.map(lookupResponder);
  return (model, changed) => each.forEach((respond) => respond(model, changed));
}
