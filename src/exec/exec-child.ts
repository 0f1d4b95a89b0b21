/**
 * An executor process: runs the local statements the proxy hands it on its
 * own read-only connection to the replica (WAL mode: it reads the last
 * committed state while the applier writes) and sends back the rows rendered
 * as Postgres text, in chunks.
 *
 * A process and not a worker thread, because a statement must be stoppable:
 * better-sqlite3 exposes no sqlite3_interrupt, and terminating a worker
 * thread waits until the native step returns (measured: a 10 s cross join
 * kept its thread, and the terminate, for the full 10 s). A process is
 * killed at once, wherever it is.
 */
import Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { parseCaseMap } from '../sql/case-map.js';
import { registerSqlFunctions } from '../sql/functions.js';
import { type Renderer, rendererFor } from '../sql/render.js';
import type { FromChild, PlanJob, ToChild } from './protocol.js';

/** Rows are sent in chunks of about this many bytes of text, so neither side holds a whole big result in one message. */
const CHUNK_BYTES = 256 * 1024;
/**
 * Largest local result (rendered text, all statements of a job). A bigger
 * one is forwarded instead: upstream's reply is relayed as it arrives, with
 * backpressure, while a local one is complete before its first byte is sent
 * (so that a failure half-way can still be forwarded). Bounds the memory a
 * local answer takes in the proxy.
 */
export const MAX_RESULT_BYTES = 8 * 1024 * 1024;

/** Idle snapshot connections kept for the next READ ONLY transaction. */
const IDLE_SNAPSHOT_CONNECTIONS = 4;

interface Connection {
  db: Database.Database;
  statements: Map<string, Database.Statement>;
}

const path = process.argv[2];
if (!path) {
  process.stderr.write('exec-child: replica path missing\n');
  process.exit(2);
}
// The proxy's learned case map, if any: the same table the router compiled against.
const caseMap = process.argv[3] ? parseCaseMap(process.argv[3]) : undefined;

function open(): Connection {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  registerSqlFunctions(db, caseMap);
  return { db, statements: new Map() };
}

const main = open();
const snapshots = new Map<number, Connection>();
const idle: Connection[] = [];

function statement(conn: Connection, sql: string): Database.Statement {
  let st = conn.statements.get(sql);
  if (!st) {
    st = conn.db.prepare(sql);
    st.raw(true);
    st.safeIntegers(true);
    if (conn.statements.size >= 1000) conn.statements.clear();
    conn.statements.set(sql, st);
  }
  return st;
}

function send(msg: FromChild): void {
  process.send?.(msg);
}

class TooBig extends Error {}

/** Rendered bytes of the running job so far. */
let jobBytes = 0;

function runPlan(
  conn: Connection,
  id: number,
  index: number,
  plan: PlanJob,
  params: Map<string, string>,
): void {
  const renderers: Renderer[] = plan.outputs.map((o) => rendererFor(o, params));
  if (plan.precheck !== undefined) {
    const pre = statement(conn, plan.precheck);
    if (plan.values) pre.all(plan.values);
    else pre.all();
  }
  const stmt = statement(conn, plan.sql);
  const iter = (plan.values ? stmt.iterate(plan.values) : stmt.iterate()) as IterableIterator<unknown[]>;
  let chunk: (string | null)[][] = [];
  let bytes = 0;
  for (const raw of iter) {
    const row = new Array<string | null>(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const v = (renderers[i] as Renderer)(raw[i]);
      row[i] = v;
      bytes += v === null ? 4 : v.length + 4;
    }
    chunk.push(row);
    if (bytes >= CHUNK_BYTES) {
      jobBytes += bytes;
      // Leaving the loop resets the statement.
      if (jobBytes > MAX_RESULT_BYTES) throw new TooBig();
      send({ t: 'rows', id, plan: index, rows: chunk });
      chunk = [];
      bytes = 0;
    }
  }
  if (chunk.length > 0) send({ t: 'rows', id, plan: index, rows: chunk });
}

function run(msg: Extract<ToChild, { t: 'run' }>): void {
  const params = new Map(msg.params);
  const conn = msg.snapshot === undefined ? main : snapshots.get(msg.snapshot);
  if (!conn) {
    send({ t: 'not-local', id: msg.id, reason: 'READ ONLY transaction snapshot lost' });
    return;
  }
  // Several statements of one query string run in one implicit transaction
  // upstream: read them from one SQLite snapshot too (a READ ONLY
  // transaction's connection already is one).
  const wrap = msg.plans.length > 1 && msg.snapshot === undefined;
  jobBytes = 0;
  try {
    if (wrap) conn.db.exec('BEGIN');
    for (const [i, plan] of msg.plans.entries()) runPlan(conn, msg.id, i, plan, params);
    if (wrap) conn.db.exec('COMMIT');
    send({ t: 'done', id: msg.id });
  } catch (err) {
    if (wrap && conn.db.inTransaction) conn.db.exec('ROLLBACK');
    const reason =
      err instanceof TooBig
        ? `result larger than ${MAX_RESULT_BYTES >> 20} MiB`
        : err instanceof NotLocal
          ? err.reason
          : `sqlite: ${err instanceof Error ? err.message : String(err)}`;
    send({ t: 'not-local', id: msg.id, reason });
  }
}

function begin(snapshot: number): void {
  let conn: Connection | undefined;
  try {
    conn = idle.pop() ?? open();
    conn.db.exec('BEGIN');
    snapshots.set(snapshot, conn);
  } catch {
    conn?.db.close();
    send({ t: 'snapshot-failed', snapshot });
  }
}

function end(snapshot: number): void {
  const conn = snapshots.get(snapshot);
  if (!conn) return;
  snapshots.delete(snapshot);
  try {
    if (conn.db.inTransaction) conn.db.exec('ROLLBACK');
    if (idle.length < IDLE_SNAPSHOT_CONNECTIONS) idle.push(conn);
    else conn.db.close();
  } catch {
    conn.db.close();
  }
}

process.on('message', (msg: ToChild) => {
  switch (msg.t) {
    case 'run':
      run(msg);
      return;
    case 'begin':
      begin(msg.snapshot);
      return;
    case 'end':
      end(msg.snapshot);
      return;
  }
});
// The proxy went away: so does this process.
process.on('disconnect', () => process.exit(0));
// A terminal's Ctrl-C signals the whole foreground process group, executors
// included: the proxy stops them in order when it stops (and one whose proxy
// is gone exits on 'disconnect' above), so SIGINT is not for them.
process.on('SIGINT', () => {});
send({ t: 'ready' });
