/**
 * extract(field FROM x) and date_part(text, x) (Postgres 14+: extract
 * returns numeric, date_part float8) of date, time, timestamp, timestamptz
 * and interval values, the work in src/sql/date-part.ts. The field must be a
 * constant; it is read as Postgres does (downcased, then deltatktbl's unit
 * words or datetktbl's dow/doy/isodow/isoyear/julian/epoch). A field Postgres
 * does not know for the type (22023, 0A000) is forwarded, as are untyped
 * values (Postgres picks among the overloads). A timestamptz is broken down
 * in the session's TimeZone, which must be a fixed offset (read per run).
 */
import type { FuncCall } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { DATE_PART_FIELDS, SPECIAL_UNITS, TIMESTAMP_FIELDS } from '../date-part.js';
import { DtFn } from '../datetime-functions.js';
import { INTERVAL_UNITS } from '../interval.js';
import { INTERVAL_FIELDS } from '../interval-ops.js';
import { Oid } from '../pgtypes.js';
import { TIME_FIELDS } from '../timestamp-ops.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr } from './types.js';
import { derived } from './values.js';

const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [Oid.date, 'date'],
  [Oid.time, 'time'],
  [Oid.timestamp, 'timestamp'],
  [Oid.timestamptz, 'timestamptz'],
  [Oid.interval, 'interval'],
]);

/** The units each type reads; Postgres raises an error for the others. */
function fieldsOf(type: number, numeric: boolean): ReadonlySet<string> {
  switch (type) {
    case Oid.date:
      // date_part(text, date) is date_part(text, date::timestamp).
      return numeric ? DATE_PART_FIELDS : TIMESTAMP_FIELDS;
    case Oid.time:
      return TIME_FIELDS;
    case Oid.interval:
      return new Set(INTERVAL_FIELDS.keys());
    default:
      return TIMESTAMP_FIELDS;
  }
}

export function datePartCall(this: StatementCompiler, name: string, f: FuncCall, args: Expr[]): Expr {
  const numeric = name === 'extract';
  if ((this.ctx.serverVersionNum ?? 0) < 140000) throw new NotLocal(`${name}() before Postgres 14`);
  const [fieldNode] = f.args ?? [];
  const raw = fieldNode && 'A_Const' in fieldNode ? fieldNode.A_Const.sval?.sval : undefined;
  const x = args[1];
  if (raw === undefined || !x || args.length !== 2) throw new NotLocal(`${name}() with a non-constant field`);
  // downcase_truncate_identifier folds ASCII letters only.
  if (!/^[\x21-\x7e]{1,20}$/.test(raw)) throw new NotLocal(`${name}() field not a plain word`);
  const field = raw.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
  if (x.unknown) throw new NotLocal(`${name}() of an untyped value`);
  const typeName = TYPE_NAMES.get(x.type);
  if (typeName === undefined) throw new NotLocal(`${name}() of ${x.typeName}`);
  const unit = field === 'epoch' ? 'epoch' : (INTERVAL_UNITS.get(field) ?? SPECIAL_UNITS.get(field));
  if (unit === undefined || !fieldsOf(x.type, numeric).has(unit))
    throw new NotLocal(`${name}(${field} FROM ${typeName})`);
  if (x.type === Oid.timestamp && unit.startsWith('timezone'))
    throw new NotLocal(`${name}(${field} FROM ${typeName})`);
  if (numeric && unit === 'julian' && x.type !== Oid.date)
    throw new NotLocal(`${name}(julian FROM ${typeName}) as numeric`);
  let offset = '0';
  if (x.type === Oid.timestamptz && unit !== 'epoch') {
    this.bindCount++;
    const bind = `o${this.bindCount}`;
    this.binds[bind] = { kind: 'tzoffset' };
    offset = `@${bind}`;
  }
  return derived(
    `${DtFn.datePart}('${typeName}', '${unit}', ${x.sql}, ${numeric ? 1 : 0}, ${offset})`,
    numeric ? Oid.numeric : Oid.float8,
    -1,
    [x],
  );
}
