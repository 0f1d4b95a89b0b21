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
import { ReplyWriter } from '../wire/backend.js';
import {
  BUFFERED_RESULT_BYTES,
  type FromChild,
  type PlanDef,
  type PlanJob,
  STREAM_CHUNK_BYTES,
  STREAM_CREDITS,
  type ToChild,
} from './protocol.js';

/** Rows are sent in chunks of about this many bytes of text, so neither side holds a whole big result in one message. */
const CHUNK_BYTES = 256 * 1024;

/** Chunks of a result small enough to ride on `done` (one per statement of a typical job). */
const DONE_CHUNKS = 4;

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

/** A plan definition the proxy sent (by key), with its renderers for the settings of `version`. */
interface KnownPlan {
  def: PlanDef;
  renderers: Renderer[] | undefined;
  version: number;
}
const plans = new Map<number, KnownPlan>();
/** The settings of the latest run that sent them (a run without them has the same). */
let params = new Map<string, string>();
let paramsVersion = 0;

/** The run's statements, from what it sent and what this executor kept; undefined if one is unknown (not expected). */
function resolve(
  msg: Extract<ToChild, { t: 'run' }>,
): { plans: PlanJob[]; renderers: Renderer[][] } | undefined {
  if (msg.forget) plans.clear();
  if (msg.params) {
    params = new Map(msg.params);
    paramsVersion++;
  }
  // Every definition is kept before anything may fail: the proxy counts them as sent.
  for (const w of msg.plans) if (w.def) plans.set(w.key, { def: w.def, renderers: undefined, version: 0 });
  const jobs: PlanJob[] = [];
  const renderers: Renderer[][] = [];
  for (const w of msg.plans) {
    const known = plans.get(w.key);
    if (!known) return undefined;
    if (known.renderers === undefined || known.version !== paramsVersion) {
      known.renderers = known.def.outputs.map((o) => rendererFor(o, params));
      known.version = paramsVersion;
    }
    jobs.push({ key: w.key, ...known.def, values: w.values });
    renderers.push(known.renderers);
  }
  return { plans: jobs, renderers };
}

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
/**
 * The running job's result outgrew `BUFFERED_RESULT_BYTES` and will be
 * streamed: the first reading goes on to the end, rendering every value (a
 * renderer or a function may find an error) but keeping and sending none.
 */
let verifying = false;

function rows(conn: Connection, plan: PlanJob): IterableIterator<unknown[]> {
  const stmt = statement(conn, plan.sql);
  return (plan.values ? stmt.iterate(plan.values) : stmt.iterate()) as IterableIterator<unknown[]>;
}

function render(renderers: Renderer[], raw: unknown[]): (string | null)[] {
  const row = new Array<string | null>(raw.length);
  for (let i = 0; i < raw.length; i++) row[i] = (renderers[i] as Renderer)(raw[i]);
  return row;
}

/** The first reading of one statement: its rows as `rows` messages, or only rendered once `verifying`. */
function runPlan(
  conn: Connection,
  id: number,
  index: number,
  plan: PlanJob,
  renderers: Renderer[],
  stream: boolean,
): void {
  if (plan.precheck !== undefined) {
    const pre = statement(conn, plan.precheck);
    if (plan.values) pre.all(plan.values);
    else pre.all();
  }
  let chunk: (string | null)[][] = [];
  let bytes = 0;
  for (const raw of rows(conn, plan)) {
    const row = render(renderers, raw);
    if (verifying) continue;
    for (const v of row) bytes += v === null ? 4 : v.length + 4;
    chunk.push(row);
    if (bytes >= CHUNK_BYTES) {
      jobBytes += bytes;
      bytes = 0;
      if (jobBytes > BUFFERED_RESULT_BYTES) {
        // Leaving the loop resets the statement.
        if (!stream) throw new TooBig();
        verifying = true;
        chunk = [];
        held.length = 0;
        continue;
      }
      held.push({ t: 'rows', id, plan: index, rows: chunk });
      chunk = [];
    }
  }
  if (chunk.length > 0 && !verifying) held.push({ t: 'rows', id, plan: index, rows: chunk });
}

/**
 * Rows of the running job, sent once it is known to fit: a result that
 * turns out to be streamed never reaches the proxy's heap as rows.
 */
const held: FromChild[] = [];

/** Credits of the streaming job (see protocol.ts), and the send waiting for one. */
let streaming: { id: number; credits: number; waiter: (() => void) | undefined } | undefined;

function credit(): Promise<void> | undefined {
  const s = streaming as NonNullable<typeof streaming>;
  if (s.credits > 0) {
    s.credits--;
    return undefined;
  }
  return new Promise<void>((resolve) => {
    s.waiter = () => {
      s.waiter = undefined;
      s.credits--;
      resolve();
    };
  });
}

/** The second reading, in the same snapshot: every row again, as DataRow messages, as fast as the client takes them. */
async function streamPlans(
  conn: Connection,
  id: number,
  plans: PlanJob[],
  renderers: Renderer[][],
): Promise<void> {
  streaming = { id, credits: STREAM_CREDITS, waiter: undefined };
  const w = new ReplyWriter(STREAM_CHUNK_BYTES + 64 * 1024);
  for (const [index, plan] of plans.entries()) {
    const r = renderers[index] as Renderer[];
    let n = 0;
    const flush = async (): Promise<void> => {
      const wait = credit();
      if (wait) await wait;
      // process.send serializes (copies) at once: the writer's buffer is reused, so
      // gigabytes of rows do not churn through fresh buffers, which V8 frees late.
      send({ t: 'data', id, plan: index, rows: n, data: w.view() });
      w.truncate(0);
      n = 0;
    };
    for (const raw of rows(conn, plan)) {
      w.dataRow(render(r, raw));
      n++;
      if (w.length >= STREAM_CHUNK_BYTES) await flush();
    }
    if (n > 0) await flush();
  }
}

async function run(msg: Extract<ToChild, { t: 'run' }>): Promise<void> {
  // First, so that the kept plans and settings follow every run, even one that cannot run.
  let job: ReturnType<typeof resolve>;
  try {
    job = resolve(msg);
  } catch (err) {
    send({ t: 'not-local', id: msg.id, reason: err instanceof NotLocal ? err.reason : 'internal: renderer' });
    return;
  }
  const conn = msg.snapshot === undefined ? main : snapshots.get(msg.snapshot);
  if (!conn) {
    send({ t: 'not-local', id: msg.id, reason: 'READ ONLY transaction snapshot lost' });
    return;
  }
  if (!job) {
    send({ t: 'not-local', id: msg.id, reason: 'internal: executor lacks a plan' });
    return;
  }
  const { renderers } = job;
  // Several statements of one query string run in one implicit transaction
  // upstream: read them from one SQLite snapshot too (a READ ONLY
  // transaction's connection already is one). A result that may be
  // streamed is read twice, from one snapshot too.
  const wrap = msg.snapshot === undefined && (job.plans.length > 1 || msg.stream);
  jobBytes = 0;
  verifying = false;
  let sent = false;
  try {
    if (wrap) conn.db.exec('BEGIN');
    for (const [i, plan] of job.plans.entries())
      runPlan(conn, msg.id, i, plan, renderers[i] as Renderer[], msg.stream);
    if (verifying) {
      send({ t: 'stream', id: msg.id });
      sent = true;
      await streamPlans(conn, msg.id, job.plans, renderers);
    }
    if (wrap) conn.db.exec('COMMIT');
    if (!verifying && held.length <= DONE_CHUNKS) {
      const rows = held.splice(0).map((m) => m as Extract<FromChild, { t: 'rows' }>);
      send({ t: 'done', id: msg.id, rows: rows.map((m) => ({ plan: m.plan, rows: m.rows })) });
    } else {
      for (const m of held.splice(0)) send(m);
      send({ t: 'done', id: msg.id });
    }
  } catch (err) {
    if (wrap && conn.db.inTransaction) conn.db.exec('ROLLBACK');
    const reason =
      err instanceof TooBig
        ? `result larger than ${BUFFERED_RESULT_BYTES >> 20} MiB`
        : err instanceof NotLocal
          ? err.reason
          : `sqlite: ${err instanceof Error ? err.message : String(err)}`;
    send(sent ? { t: 'failed', id: msg.id, reason } : { t: 'not-local', id: msg.id, reason });
  } finally {
    held.length = 0;
    streaming = undefined;
    verifying = false;
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
      void run(msg);
      return;
    case 'credit':
      if (streaming?.id === msg.id) {
        streaming.credits += msg.n;
        streaming.waiter?.();
      }
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
