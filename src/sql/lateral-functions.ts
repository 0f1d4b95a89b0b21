/**
 * LATERAL subqueries (compile/lateral.ts) in SQLite, which has no LATERAL:
 * the subquery runs as a correlated scalar subquery (evaluated once per row
 * of the FROM items before it, as Postgres evaluates a LATERAL item) whose
 * rows one aggregate packs into a text, and a table-valued function unpacks
 * them again into rows of that FROM item. SQLite lets a table-valued
 * function's arguments refer to the tables on its left, so the correlation
 * is exactly LATERAL's.
 *
 * The packing keeps every value exactly as SQLite held it: storage class
 * (INTEGER as a bigint, REAL as the shortest text that reads back as the
 * same double, -0 included, TEXT, BLOB) and contents. SQLite's own JSON
 * functions would not: json_array() embeds a JSON-subtyped text as JSON
 * rather than as a string, and prints REALs with 15 significant digits.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';

export const LateralFn = {
  /** Aggregate `(c0, c1, ...)`: the rows of a LATERAL subquery, packed (a JSON text). */
  pack: 'outpost_lateral_pack',
  /** `(packed)`: the rows again, columns c0 … c{LATERAL_COLUMNS-1}. */
  rows: 'outpost_lateral_rows',
  /** A precheck: restarts the statement's budget of packed rows. */
  reset: 'outpost_lateral_reset',
} as const;

/** Output columns a LATERAL subquery may have locally (the table function's fixed width). */
export const LATERAL_COLUMNS = 32;

/**
 * More rows than this packed by one statement (all evaluations together)
 * forwards it: evaluated per outer row, a LATERAL subquery Postgres would
 * have pulled up into a join can cost SQLite rows times rows (10,000 rows
 * of tenk1 each packing all of tenk1 took 23 s), and upstream answers that
 * faster. The waste is bounded by the budget (about a tenth of a second).
 */
const ROW_BUDGET = 20_000;

/** Rows packed since the running statement's prechecks (one statement at a time per connection). */
let packedRows = 0;

type Packed = string | null;

function encode(v: unknown): Packed {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'number') return Object.is(v, -0) ? 'r-0' : `r${v}`;
  if (Buffer.isBuffer(v)) return `b${v.toString('hex')}`;
  throw new NotLocal('LATERAL subquery value of an unknown storage class');
}

function decode(p: Packed): unknown {
  if (p === null) return null;
  const body = p.slice(1);
  switch (p[0]) {
    case 'i':
      return BigInt(body);
    case 's':
      return body;
    case 'r':
      return body === '-0' ? -0 : Number(body);
    case 'b':
      return Buffer.from(body, 'hex');
    default:
      throw new NotLocal('LATERAL rows packed wrongly');
  }
}

export function registerLateralFunctions(db: Database.Database): void {
  db.function(LateralFn.reset, { deterministic: false }, () => {
    packedRows = 0;
    return 1;
  });
  db.aggregate(LateralFn.pack, {
    safeIntegers: true,
    varargs: true,
    start: (): Packed[][] => [],
    step: ((rows: Packed[][], ...values: unknown[]) => {
      if (++packedRows > ROW_BUDGET) throw new NotLocal(`LATERAL subqueries of more than ${ROW_BUDGET} rows`);
      rows.push(values.map(encode));
      return rows;
    }) as unknown as (total: Packed[][], next: unknown) => Packed[][],
    result: (rows: Packed[][]) => JSON.stringify(rows),
  });
  const columns = Array.from({ length: LATERAL_COLUMNS }, (_, i) => `c${i}`);
  db.table(LateralFn.rows, {
    columns,
    parameters: ['packed'],
    safeIntegers: true,
    rows: function* (packed: unknown) {
      // Without its argument (a plan that did not put the correlated items first) nothing is known.
      if (packed === undefined) throw new NotLocal('LATERAL rows without their subquery');
      if (packed === null) return;
      if (typeof packed !== 'string') throw new NotLocal('LATERAL rows packed wrongly');
      for (const row of JSON.parse(packed) as Packed[][]) {
        const out: unknown[] = row.map(decode);
        while (out.length < LATERAL_COLUMNS) out.push(null);
        yield out;
      }
    },
  });
}
