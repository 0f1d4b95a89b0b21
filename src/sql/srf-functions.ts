/**
 * Table-valued SQLite functions for Postgres's set-returning functions in
 * FROM (compile/srfs.ts): each yields the rows the Postgres function returns,
 * in its order, with a 1-based `o` column for WITH ORDINALITY, or throws
 * `NotLocal` where Postgres raises an error. Arguments may be columns of
 * earlier FROM items (SQLite joins a table-valued function laterally, as
 * Postgres does a function in FROM).
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { splitText } from './array-functions.js';
import { jsonChildren } from './functions.js';
import { formatNumeric, inputValue, parseArrayText, parseNumeric } from './pgtypes.js';

export const SrfFn = {
  /** `(kind, array text)`: unnest(anyarray); kind int, bool or text (the element's stored form). */
  unnest: 'outpost_srf_unnest',
  /** `(jsonb, asText)`: jsonb_array_elements(_text). */
  jsonbElements: 'outpost_srf_jsonb_elements',
  /** `(jsonb, asText)`: jsonb_each(_text), columns k, v. */
  jsonbEach: 'outpost_srf_jsonb_each',
  /** `(jsonb)`: jsonb_object_keys. */
  jsonbKeys: 'outpost_srf_jsonb_keys',
  /** `(text, delimiter, null string)`: string_to_table. */
  stringToTable: 'outpost_srf_string_to_table',
  /** `(tagged jsonb, spec, set)`: jsonb_to_record(set); spec a JSON list of [key, type OID]; columns c0… */
  jsonbRecord: 'outpost_srf_jsonb_record',
  /** `(start, stop, step)`: generate_series over integers. */
  series: 'outpost_srf_series',
  /** `(start, stop, step)`: generate_series over numeric (numeric_out texts). */
  seriesNumeric: 'outpost_srf_series_numeric',
} as const;

/** Columns a jsonb_to_record column definition list may have locally. */
export const RECORD_COLUMNS = 16;

/**
 * populate_record_field for a scalar target type from a jsonb value (its
 * output text): a string's contents or the value's text through the type's
 * input function; jsonb keeps the value. Input Postgres would reject (or
 * that is not plainly spelled) aborts the run.
 */
function recordField(raw: string | undefined, type: number): unknown {
  if (raw === undefined || raw === 'null') return null;
  if (type === 3802) return raw;
  const text = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  // text/varchar: the string, or an object's or array's text.
  return inputValue(type, text, 'jsonb_to_record() field');
}

/** More rows than this from one call forwards the statement (a local run that long is not worth it). */
const MAX_ROWS = 1_000_000;

/** jsonb ->> of a raw value: strings unescaped, null as NULL. */
function asText(raw: string): string | null {
  if (raw === 'null') return null;
  if (raw.startsWith('"')) return JSON.parse(raw) as string;
  return raw;
}

function jsonbText(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new NotLocal(`${what} of jsonb stored as non-text`);
  return v;
}

export function registerSrfFunctions(db: Database.Database): void {
  db.table(SrfFn.unnest, {
    columns: ['v', 'o'],
    parameters: ['kind', 'arr'],
    safeIntegers: true,
    rows: function* (kind: unknown, arr: unknown) {
      if (arr === null) return;
      if (typeof arr !== 'string') throw new NotLocal('unnest() of an array stored as non-text');
      const items = parseArrayText(arr, 'unnest()');
      let o = 0n;
      for (const item of items) {
        o++;
        let v: bigint | string | null = item;
        if (item !== null && kind === 'int') v = BigInt(item);
        else if (item !== null && kind === 'bool') v = item === 't' ? 1n : 0n;
        yield [v, o];
      }
    },
  });
  db.table(SrfFn.jsonbElements, {
    columns: ['v', 'o'],
    parameters: ['j', 'astext'],
    safeIntegers: true,
    rows: function* (j: unknown, text: unknown) {
      if (j === null) return;
      const children = jsonChildren(jsonbText(j, 'jsonb_array_elements()'));
      if (!children || !('array' in children)) throw new NotLocal('cannot extract elements from a non-array');
      let o = 0n;
      for (const raw of children.array) yield [text === 1n ? asText(raw) : raw, ++o];
    },
  });
  db.table(SrfFn.jsonbEach, {
    columns: ['k', 'v', 'o'],
    parameters: ['j', 'astext'],
    safeIntegers: true,
    rows: function* (j: unknown, text: unknown) {
      if (j === null) return;
      const children = jsonChildren(jsonbText(j, 'jsonb_each()'));
      if (!children || !('object' in children)) throw new NotLocal('cannot call jsonb_each on a non-object');
      let o = 0n;
      for (const [k, raw] of children.object) yield [k, text === 1n ? asText(raw) : raw, ++o];
    },
  });
  db.table(SrfFn.jsonbKeys, {
    columns: ['v', 'o'],
    parameters: ['j'],
    safeIntegers: true,
    rows: function* (j: unknown) {
      if (j === null) return;
      const children = jsonChildren(jsonbText(j, 'jsonb_object_keys()'));
      if (!children || !('object' in children)) {
        throw new NotLocal('cannot call jsonb_object_keys on a non-object');
      }
      let o = 0n;
      for (const [k] of children.object) yield [k, ++o];
    },
  });
  db.table(SrfFn.stringToTable, {
    columns: ['v', 'o'],
    parameters: ['text', 'delim', 'nullstr'],
    rows: function* (text: unknown, delim: unknown, nullStr: unknown) {
      if (text === null) return;
      if (typeof text !== 'string') throw new NotLocal('string_to_table() of a non-text value');
      // Tagged by the compiler: 'n' for NULL, 's' + the text otherwise.
      const untag = (v: unknown): string | null => {
        if (typeof v !== 'string' || (v !== 'n' && !v.startsWith('s'))) {
          throw new NotLocal('string_to_table() of a non-text value');
        }
        return v === 'n' ? null : v.slice(1);
      };
      let o = 0;
      for (const p of splitText(text, untag(delim), untag(nullStr))) yield [p, ++o];
    },
  });
  db.table(SrfFn.jsonbRecord, {
    columns: Array.from({ length: RECORD_COLUMNS }, (_, i) => `c${i}`),
    parameters: ['j', 'spec', 'isset'],
    safeIntegers: true,
    rows: function* (j: unknown, spec: unknown, isSet: unknown) {
      // Tagged by the compiler ('n': NULL): a NULL hidden argument would return no rows.
      if (j === 'n') throw new NotLocal('jsonb_to_record() of NULL');
      if (typeof j !== 'string' || !j.startsWith('s')) throw new NotLocal('jsonb_to_record() of non-text');
      const fields = JSON.parse(String(spec)) as [string, number][];
      const objects: string[] = [];
      const text = j.slice(1);
      if (isSet === 1n) {
        const children = jsonChildren(text);
        if (!children || !('array' in children))
          throw new NotLocal('cannot call jsonb_to_recordset on a non-array');
        objects.push(...children.array);
      } else objects.push(text);
      for (const o of objects) {
        const children = jsonChildren(o);
        if (!children || !('object' in children)) throw new NotLocal('jsonb_to_record() of a non-object');
        const byKey = new Map(children.object);
        const row: unknown[] = fields.map(([key, type]) => recordField(byKey.get(key), type));
        while (row.length < RECORD_COLUMNS) row.push(null);
        yield row;
      }
    },
  });
  db.table(SrfFn.series, {
    columns: ['v', 'o'],
    parameters: ['start', 'stop', 'step'],
    safeIntegers: true,
    rows: function* (start: unknown, stop: unknown, step: unknown) {
      if (start === null || stop === null || step === null) return;
      const [a, b, s] = [start, stop, step].map((x) => {
        if (typeof x !== 'bigint') throw new NotLocal('generate_series() of a non-integer');
        return x;
      }) as [bigint, bigint, bigint];
      // Postgres: "step size cannot equal zero".
      if (s === 0n) throw new NotLocal('generate_series step size zero');
      const count = (b - a) / s + 1n;
      if (count > BigInt(MAX_ROWS)) throw new NotLocal(`generate_series longer than ${MAX_ROWS} rows`);
      let o = 0n;
      for (let v = a; s > 0n ? v <= b : v >= b; v += s) yield [v, ++o];
    },
  });
  db.table(SrfFn.seriesNumeric, {
    columns: ['v', 'o'],
    parameters: ['start', 'stop', 'step'],
    safeIntegers: true,
    rows: function* (start: unknown, stop: unknown, step: unknown) {
      if (start === null || stop === null || step === null) return;
      yield* numericSeries(String(start), String(stop), String(step));
    },
  });
}

/**
 * generate_series_step_numeric: NaN and infinite bounds or steps and a zero
 * step are Postgres's errors (the run aborts); the first value is `start`
 * as given, the others start + k·step at the larger of the two scales
 * (add_var), while they do not pass `stop`.
 */
function* numericSeries(start: string, stop: string, step: string): Generator<unknown[]> {
  for (const [v, what] of [
    [start, 'start value'],
    [stop, 'stop value'],
    [step, 'step size'],
  ] as const) {
    if (v === 'NaN') throw new NotLocal(`${what} cannot be NaN`);
    if (v === 'Infinity' || v === '-Infinity') throw new NotLocal(`${what} cannot be infinity`);
  }
  const [a, b, s] = [start, stop, step].map((t) => {
    const n = parseNumeric(t);
    if (!n) throw new NotLocal('generate_series() of numeric not in numeric_out form');
    return n;
  }) as [
    { unscaled: bigint; scale: number },
    { unscaled: bigint; scale: number },
    { unscaled: bigint; scale: number },
  ];
  if (s.unscaled === 0n) throw new NotLocal('step size cannot equal zero');
  const scale = Math.max(a.scale, b.scale, s.scale);
  const at = (n: { unscaled: bigint; scale: number }) => n.unscaled * 10n ** BigInt(scale - n.scale);
  const [a0, b0, s0] = [at(a), at(b), at(s)];
  const count = (b0 - a0) / s0 + 1n;
  if (count > BigInt(MAX_ROWS)) throw new NotLocal(`generate_series longer than ${MAX_ROWS} rows`);
  const outScale = Math.max(a.scale, s.scale);
  let o = 0n;
  for (let v = a0; s0 > 0n ? v <= b0 : v >= b0; v += s0) {
    o++;
    yield [o === 1n ? start : formatNumeric(v / 10n ** BigInt(scale - outScale), outScale), o];
  }
}
