/**
 * Anonymous records (ROW(a, b) as a value, type `record`): the SQLite
 * function that prints one exactly as Postgres's record_out does. The
 * compiler passes each element's stored value with its type OID; only types
 * whose text output does not depend on any session setting are passed (the
 * renderer is picked once, without the session's parameters), so a record's
 * text is the same on every session.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { Oid } from './pgtypes.js';
import { type Renderer, rendererFor } from './render.js';

export const RecordFn = {
  /** `(spec, value...)`: record_out of the values; spec is their type OIDs, comma-separated. */
  out: 'outpost_record_out',
} as const;

/** pg_type.oid of the pseudo-type `record`. */
export const RECORD_OID = 2249;

const NO_SETTINGS = new Map<string, string>();

/**
 * Types whose text output does not depend on any session setting (given
 * UTF8 and extra_float_digits > 0, which the router enforces): the elements
 * of records and the arguments of format() served locally.
 */
export const SESSION_INDEPENDENT_TYPES: ReadonlySet<number> = new Set<number>([
  Oid.bool,
  Oid.int2,
  Oid.int4,
  Oid.int8,
  Oid.float4,
  Oid.float8,
  Oid.numeric,
  Oid.text,
  Oid.varchar,
  Oid.bpchar,
  Oid.name,
  Oid.json,
  Oid.jsonb,
  Oid.uuid,
]);

/**
 * record_out's quoting of one element (rowtypes.c): double quotes around an
 * empty string or one holding `"`, `\`, `(`, `)`, `,` or C-locale white
 * space; inside them `"` and `\` are doubled. A NULL element is nothing.
 */
export function recordOut(texts: readonly (string | null)[]): string {
  let out = '(';
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) out += ',';
    const t = texts[i];
    if (t === null || t === undefined) continue;
    const quote = t === '' || /["\\(),\t\n\v\f\r ]/.test(t);
    const body = t.replace(/["\\]/g, (ch) => ch + ch);
    out += quote ? `"${body}"` : body;
  }
  return `${out})`;
}

const renderers = new Map<string, Renderer[]>();

function renderersOf(spec: string): Renderer[] {
  let list = renderers.get(spec);
  if (list === undefined) {
    list =
      spec === '' ? [] : spec.split(',').map((oid) => rendererFor(elementColumn(Number(oid)), NO_SETTINGS));
    renderers.set(spec, list);
  }
  return list;
}

/** Enum labels and nested records come as text (OID 25): their stored form is their output. */
function elementColumn(oid: number): { typeOid: number; typeName: string } {
  return { typeOid: oid, typeName: String(oid) };
}

export function registerRecordFunctions(db: Database.Database): void {
  db.function(
    RecordFn.out,
    { deterministic: true, safeIntegers: true, varargs: true },
    (...args: unknown[]) => {
      const spec = args[0];
      if (typeof spec !== 'string') throw new NotLocal('record spec');
      const list = renderersOf(spec);
      if (list.length !== args.length - 1) throw new NotLocal('record spec does not match its values');
      return recordOut(list.map((render, i) => render(args[i + 1])));
    },
  );
}
