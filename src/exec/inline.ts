/**
 * Which local statements run on the proxy's own thread. Handing a statement
 * to an executor process costs a round trip (measured about 40-50 µs of the
 * proxy's CPU and 100 µs of latency on an IPC channel), while an indexed
 * point read in SQLite takes about 3 µs: those stay inline. Only plans SQLite
 * itself describes as key lookups qualify, and even they run under a row
 * budget: past it the inline run stops (`Offload`) and the statement starts
 * over in an executor, so nothing inline holds the event loop for long.
 * Other plans may run inline under a worst-case bound: src/router/inline-bounds.ts.
 */
import type Database from 'better-sqlite3';

/** Rows an inline run may produce before it is moved to an executor. */
export const INLINE_ROW_BUDGET = 256;

/** Thrown by an inline run that exceeded its budget: run it in an executor instead (nothing was sent). */
export class Offload extends Error {
  constructor() {
    super('offload');
    this.name = 'Offload';
  }
}

/** The one Offload thrown: every offloaded statement throws it, and capturing a stack each time showed in profiles. */
export const OFFLOAD = new Offload();

/**
 * One line of EXPLAIN QUERY PLAN that is a lookup by equality on a key or an
 * index: `SEARCH t USING INTEGER PRIMARY KEY (rowid=?)`, `SEARCH t USING
 * [COVERING] INDEX i (a=? AND b=?)`. Anything else (SCAN, a range, a temp
 * B-tree for ORDER BY or DISTINCT, a subquery, a compound) may take long.
 */
const KEY_LOOKUP =
  /^SEARCH \S+(?: AS \S+)? USING (?:INTEGER PRIMARY KEY \(rowid=\?\)|(?:COVERING )?INDEX (\S+) \((\S+=\?(?: AND \S+=\?)*)\))$/;

/** The replica's index on a table's key (src/replica/store.ts `createKeyIndex`): upstream keeps it unique. */
const KEY_INDEX = /__outpost_key$/;

/** Lookups per statement: a join of a few key lookups is still cheap, a longer one may not be. */
const MAX_LOOKUPS = 3;

/**
 * How SQLite plans `sql`: `unique` when every step finds at most one row
 * (the rowid, or equality on every column of a table's key index), so the
 * statement can run inline without a budget; `lookup` for a few equality
 * lookups on any index (inline under `INLINE_ROW_BUDGET`); false otherwise.
 */
export function keyLookupKind(db: Database.Database, sql: string): 'unique' | 'lookup' | false {
  let lines: { detail: string }[];
  try {
    // Named parameters must all be bound; the plan does not depend on their values.
    const names = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1] as string, null]));
    lines = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(names) as { detail: string }[];
  } catch {
    return false;
  }
  // No step at all: a constant row (SELECT 1, a precheck).
  if (lines.length === 0) return 'unique';
  if (lines.length > MAX_LOOKUPS) return false;
  let unique = true;
  for (const { detail } of lines) {
    if (detail === 'SCAN CONSTANT ROW') continue;
    const m = KEY_LOOKUP.exec(detail);
    if (!m) return false;
    const [, index, terms] = m;
    if (index === undefined) continue;
    if (!KEY_INDEX.test(index)) unique = false;
    else {
      const columns = db.pragma(`index_info(${JSON.stringify(index)})`) as unknown[];
      if ((terms ?? '').split(' AND ').length !== columns.length) unique = false;
    }
  }
  return unique ? 'unique' : 'lookup';
}

/** Whether SQLite plans `sql` as at most a few key lookups (so it is cheap enough to run inline). */
export function isKeyLookup(db: Database.Database, sql: string): boolean {
  return keyLookupKind(db, sql) !== false;
}
