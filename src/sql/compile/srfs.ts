/**
 * Set-returning functions in FROM other than generate_series of int4
 * constants (from-items.ts): unnest of one array, jsonb_array_elements(_text),
 * jsonb_each(_text), jsonb_object_keys and generate_series of integers, as
 * the table-valued functions of srf-functions.ts, WITH ORDINALITY and
 * column aliases included. Column names follow addRangeTableEntryForFunction:
 * a function with one named OUT parameter (jsonb_array_elements: `value`)
 * names its column so, another scalar function takes the alias or its own
 * name; composite results (jsonb_each: key, value) name theirs.
 */
import type { ColumnDef, Node } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { isIntType, Oid, TYPES } from '../pgtypes.js';
import { RECORD_COLUMNS, SrfFn } from '../srf-functions.js';
import { resolveTypeName } from './common-type.js';
import type { StatementCompiler } from './compiler.js';
import { checkIdent, DETERMINISTIC_COLLATIONS, typeLen, typeName, unsupported } from './support.js';
import type { Expr, FromItem, RelColumn } from './types.js';
import { columnOf } from './values.js';

interface SrfColumn {
  name: string;
  type: number;
  /** SQLite column of the table-valued function. */
  col: string;
}

/** The stored form kind of unnest's elements (srf-functions.ts). */
export function unnestKind(elem: number): string | undefined {
  if (isIntType(elem)) return 'int';
  if (elem === Oid.bool) return 'bool';
  if ([Oid.text, Oid.varchar, Oid.bpchar, Oid.numeric, Oid.date, Oid.uuid].includes(elem as 25))
    return 'text';
  return undefined;
}

export function setReturningCall(
  this: StatementCompiler,
  name: string,
  rawArgs: Expr[],
  aliasName: string | undefined,
  colnames: string[],
  ordinality: boolean,
): FromItem {
  for (const a of rawArgs) if (a.errorProne || a.agg) throw unsupported(`${name}() of these arguments`);
  let call: string;
  let cols: SrfColumn[];
  let scalar = true;
  let coll: string | undefined;
  switch (name) {
    case 'unnest': {
      const [arr] = rawArgs;
      if (rawArgs.length !== 1 || !arr || arr.unknown) throw unsupported('unnest() of these arguments');
      const elem = TYPES.get(arr.type)?.elem;
      const kind = elem === undefined ? undefined : unnestKind(elem);
      if (elem === undefined || kind === undefined) throw unsupported(`unnest() of ${arr.typeName}`);
      call = `${SrfFn.unnest}('${kind}', ${arr.sql})`;
      cols = [{ name: 'unnest', type: elem, col: 'v' }];
      if (elem === Oid.text || elem === Oid.varchar || elem === Oid.bpchar) coll = arr.coll ?? 'default';
      break;
    }
    case 'jsonb_array_elements':
    case 'jsonb_array_elements_text':
    case 'jsonb_each':
    case 'jsonb_each_text':
    case 'jsonb_object_keys': {
      let [j] = rawArgs;
      if (rawArgs.length !== 1 || !j) throw unsupported(`${name}() with these arguments`);
      if (j.unknown) j = this.resolveUnknown(j, Oid.jsonb);
      if (j.type !== Oid.jsonb) throw unsupported(`${name}() of ${j.typeName}`);
      const text = name.endsWith('_text') ? 1 : 0;
      const valueType = text ? Oid.text : Oid.jsonb;
      if (name.startsWith('jsonb_array_elements')) {
        call = `${SrfFn.jsonbElements}(${j.sql}, ${text})`;
        // OUT value: the column's name whatever the alias.
        cols = [{ name: 'value', type: valueType, col: 'v' }];
        scalar = false;
      } else if (name === 'jsonb_object_keys') {
        call = `${SrfFn.jsonbKeys}(${j.sql})`;
        cols = [{ name, type: Oid.text, col: 'v' }];
      } else {
        call = `${SrfFn.jsonbEach}(${j.sql}, ${text})`;
        cols = [
          { name: 'key', type: Oid.text, col: 'k' },
          { name: 'value', type: valueType, col: 'v' },
        ];
        scalar = false;
      }
      coll = 'default';
      break;
    }
    case 'string_to_table': {
      const [t, d, n] = this.splitArgs(name, rawArgs);
      // A NULL argument of a table-valued function would filter every row out
      // (SQLite compares its hidden column to it): NULL-able ones are tagged.
      call = `${SrfFn.stringToTable}(${t.sql}, coalesce('s' || ${d.sql}, 'n'), coalesce('s' || ${n ? n.sql : 'NULL'}, 'n'))`;
      cols = [{ name, type: Oid.text, col: 'v' }];
      coll = t.coll ?? 'default';
      break;
    }
    case 'generate_series': {
      if (rawArgs.length < 2 || rawArgs.length > 3)
        throw unsupported('generate_series() with these arguments');
      if (rawArgs.some((a) => a.type === Oid.numeric && !a.unknown)) {
        // generate_series(numeric, numeric [, numeric]): integers and untyped
        // constants are coerced to numeric, as Postgres resolves the call.
        const args = rawArgs.map((a) => {
          if (a.unknown) return this.resolveUnknown(a, Oid.numeric);
          if (isIntType(a.type)) return this.coerce(a, Oid.numeric);
          if (a.type !== Oid.numeric) throw unsupported('generate_series() of these arguments');
          return a;
        });
        const [start, stop, step] = args as [Expr, Expr, Expr | undefined];
        call = `${SrfFn.seriesNumeric}(${start.sql}, ${stop.sql}, ${step ? step.sql : "'1'"})`;
        cols = [{ name, type: Oid.numeric, col: 'v' }];
        break;
      }
      // int4 or int8 (int2 alone is ambiguous upstream, 42725; timestamps are not served).
      if (rawArgs.some((a) => a.unknown || (a.type !== Oid.int4 && a.type !== Oid.int8))) {
        throw unsupported('generate_series() of these arguments');
      }
      const type = rawArgs.some((a) => a.type === Oid.int8) ? Oid.int8 : Oid.int4;
      const [start, stop, step] = rawArgs as [Expr, Expr, Expr | undefined];
      call = `${SrfFn.series}(${start.sql}, ${stop.sql}, ${step ? step.sql : '1'})`;
      cols = [{ name, type, col: 'v' }];
      break;
    }
    case 'pg_input_error_info': {
      // One row: the error the input function would raise softly (all NULL when the text is valid).
      const e = this.inputErrorOf(rawArgs, name);
      const text = (v: string | undefined): string => this.bindValue(v ?? null);
      call = `(SELECT ${text(e?.message)} AS m, ${text(e?.detail)} AS d, ${text(e?.hint)} AS h, ${text(e?.code)} AS c, 1 AS o)`;
      cols = [
        { name: 'message', type: Oid.text, col: 'm' },
        { name: 'detail', type: Oid.text, col: 'd' },
        { name: 'hint', type: Oid.text, col: 'h' },
        { name: 'sql_error_code', type: Oid.text, col: 'c' },
      ];
      scalar = false;
      coll = 'default';
      break;
    }
    default:
      throw unsupported(`function call ${name}() in FROM`);
  }
  if (scalar && aliasName !== undefined) cols = cols.map((c) => ({ ...c, name: aliasName }));
  if (ordinality) cols = [...cols, { name: 'ordinality', type: Oid.int8, col: 'o' }];
  if (colnames.length > cols.length) throw new NotLocal('too many column aliases');
  // Postgres folds nothing here, but it may run a function of constants
  // while SQLite never does (an empty join partner): its errors are checked first.
  if (rawArgs.every((a) => a.constant)) this.prechecks.push(`(SELECT count(*) FROM ${call})`);
  const a = this.alias();
  const columns: RelColumn[] = cols.map((c, i) => {
    const out: Expr = {
      sql: `${a}.${c.col}`,
      type: c.type,
      typmod: -1,
      typlen: typeLen(c.type),
      typeName: typeName(c.type),
      constant: false,
      errorProne: false,
      agg: false,
      kids: [],
      ...(coll !== undefined && (c.type === Oid.text || c.type === Oid.varchar || c.type === Oid.bpchar)
        ? { coll }
        : {}),
    };
    return { name: checkIdent(colnames[i] ?? c.name), expr: columnOf(out, `${a}.${c.col}`) };
  });
  return srfFromItem(call, a, columns, aliasName ?? name);
}

/** string_to_array/string_to_table's (text, text [, text]) arguments, untyped ones as text; deterministic collations only. */
export function splitArgs(
  this: StatementCompiler,
  name: string,
  args: Expr[],
): [Expr, Expr, Expr | undefined] {
  if (args.length < 2 || args.length > 3) throw unsupported(`${name}() with these arguments`);
  const typed = args.map((a) => (a.unknown ? this.resolveUnknown(a, Oid.text) : a));
  for (const a of typed) {
    if (a.type !== Oid.text && a.type !== Oid.varchar) throw new NotLocal(`${name}() of ${a.typeName}`);
    if (a.coll !== undefined && !DETERMINISTIC_COLLATIONS.has(a.coll) && a.coll !== 'default') {
      throw new NotLocal(`${name}() under collation ${a.coll}`);
    }
  }
  return typed as [Expr, Expr, Expr | undefined];
}

/** Target types of jsonb_to_record's columns served locally (their input functions are pgtypes.ts's). */
const RECORD_TYPES = new Set<number>([
  Oid.int2,
  Oid.int4,
  Oid.int8,
  Oid.text,
  Oid.varchar,
  Oid.bool,
  Oid.numeric,
  Oid.jsonb,
]);

/**
 * `jsonb_to_record(jsonb) AS x(a int, b text, ...)` and jsonb_to_recordset:
 * each column the object's field of that name (missing or JSON null: NULL)
 * through its type's input (srf-functions.ts `recordField`). Array, composite
 * and typmod'd column types, and json input, are forwarded.
 */
export function jsonbToRecord(
  this: StatementCompiler,
  name: string,
  rawArgs: Expr[],
  aliasName: string | undefined,
  colnames: string[],
  coldefs: Node[],
): FromItem {
  if (name !== 'jsonb_to_record' && name !== 'jsonb_to_recordset')
    throw unsupported('function in FROM with coldeflist');
  let [j] = rawArgs;
  if (rawArgs.length !== 1 || !j || j.errorProne || j.agg)
    throw unsupported(`${name}() with these arguments`);
  if (j.unknown) j = this.resolveUnknown(j, Oid.jsonb);
  if (j.type !== Oid.jsonb) throw unsupported(`${name}() of ${j.typeName}`);
  if (colnames.length > 0) throw unsupported('column aliases with a column definition list');
  if (coldefs.length === 0 || coldefs.length > RECORD_COLUMNS)
    throw unsupported(`${name}() with ${coldefs.length} columns`);
  const defs = coldefs.map((node) => {
    if (!('ColumnDef' in node)) throw unsupported('column definition');
    const d = node.ColumnDef as ColumnDef;
    if (!d.colname || !d.typeName || d.constraints || d.collClause) throw unsupported('column definition');
    const t = resolveTypeName(d.typeName);
    if (!RECORD_TYPES.has(t.oid) || t.typmod !== -1)
      throw unsupported(`${name}() column of ${typeName(t.oid)}`);
    return { name: checkIdent(d.colname), type: t.oid };
  });
  const spec = JSON.stringify(defs.map((d) => [d.name, d.type]));
  const call = `${SrfFn.jsonbRecord}(coalesce('s' || ${j.sql}, 'n'), ${this.bindValue(spec)}, ${name.endsWith('set') ? 1 : 0})`;
  if (j.constant) this.prechecks.push(`(SELECT count(*) FROM ${call})`);
  const a = this.alias();
  const columns: RelColumn[] = defs.map((d, i) => {
    const out: Expr = {
      sql: `${a}.c${i}`,
      type: d.type,
      typmod: -1,
      typlen: typeLen(d.type),
      typeName: typeName(d.type),
      constant: false,
      errorProne: false,
      agg: false,
      kids: [],
      ...(d.type === Oid.text || d.type === Oid.varchar ? { coll: 'default' } : {}),
    };
    return { name: d.name, expr: columnOf(out, `${a}.c${i}`) };
  });
  return srfFromItem(call, a, columns, aliasName ?? name);
}

/** A function in FROM as a FROM item: its columns under one reference name, no base table rows. */
function srfFromItem(call: string, alias: string, columns: RelColumn[], refname: string): FromItem {
  return {
    sql: `${call} AS ${alias}`,
    columns,
    rels: new Map([[refname, { columns, display: refname }]]),
    rowids: [],
    baseTables: 0,
    complex: true,
  };
}
