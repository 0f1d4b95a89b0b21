/**
 * The extended protocol's records (statements, portals, batches), its host
 * interface to the client session, and the SQL-text helpers it follows
 * prepared statements with (see extended.ts).
 */

import type { JobOutcome } from '../exec/pool.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { LocalOffload, LocalResult, QueryRouter } from '../router/types.js';
import type { SessionState } from '../session.js';
import type { ReplyWriter } from '../wire/backend.js';
import type { BinarySettings } from '../wire/binary.js';
import type { LocalTxControl } from './local-transaction.js';
import type { Expectation, ReplyTracker } from './upstream-replies.js';

/** A prepared statement as the client created it. */
export interface Statement {
  readonly name: string;
  readonly query: string;
  /** Declared parameter types from Parse (0 = unspecified). */
  readonly paramTypes: readonly number[];
  /** A copy of the client's Parse message, to prepare it upstream later. */
  readonly parse: Buffer;
  /** Created by SQL `PREPARE`: exists upstream only, never answered here. */
  readonly opaque?: true;
  /** BEGIN/COMMIT/ROLLBACK that a transaction started locally may answer here. */
  readonly control?: LocalTxControl;
}

/** Statement text that starts like a read (what the router may answer locally). */
export const READ_START = /^[\s(]*(?:select|with|values|table)\b/i;

/** The statement name of a Bind message (after the portal name). */
export function bindStatementName(body: Buffer): string {
  const portalEnd = body.indexOf(0);
  const nameEnd = portalEnd < 0 ? -1 : body.indexOf(0, portalEnd + 1);
  return nameEnd < 0 ? '' : body.toString('utf8', portalEnd + 1, nameEnd);
}

/** Stands for "upstream may or may not hold something under this name". */
export const UNKNOWN: Statement = { name: '', query: '', paramTypes: [], parse: Buffer.alloc(0) };

export interface LocalPortal {
  result: LocalResult;
  /** Result format per column (0 text, 1 binary), as Bind asked. */
  formats: (0 | 1)[];
  binary: boolean[];
  anyBinary: boolean;
  settings: BinarySettings | undefined;
  /** Rows already sent. */
  cursor: number;
  /** CommandComplete was sent. */
  done: boolean;
  /** The statement was stopped (CancelRequest, statement_timeout): Execute reports 57014. */
  stopped?: 'user' | 'timeout';
  /** Transaction control answered here: applied at Execute. */
  control?: LocalTxControl;
}

export interface Portal {
  readonly name: string;
  readonly statementName: string;
  readonly statement: Statement | undefined;
  /** A copy of the client's Bind message. */
  readonly bind: Buffer | undefined;
  /** Z-epoch it was created in: it dies at the end of that transaction. */
  readonly epoch: number;
  /** Exists upstream. */
  upstream: boolean;
  /** The complete local result, while the portal is answered here. */
  local: LocalPortal | undefined;
}

/**
 * `skip`: a local Execute failed (a stopped statement); like Postgres,
 * every message up to the Sync is ignored.
 */
export type Batch = { mode: 'local' } | { mode: 'skip' } | { mode: 'upstream'; reason: string };

export interface ExtendedHost {
  readonly state: SessionState;
  readonly router: QueryRouter;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly tracker: ReplyTracker;
  /** Local replies of the current round, written before anything it sends upstream. */
  readonly reply: ReplyWriter;
  /** Upstream owes nothing and nothing is half-relayed: a local reply now is in order. */
  quiet(): boolean;
  /** Nothing is owed upstream but Outpost's own state checks and position queries. */
  quietButHidden(): boolean;
  /** Queue bytes for upstream (in order), with what upstream will answer to them. */
  /**
   * Queues one message for upstream. `readsOnly`: an Execute of a statement
   * that cannot change replicated data (Parse, Bind, Describe, Close, Flush
   * and Sync never do by themselves): the session's read-your-writes fence
   * is not armed by it.
   */
  send(bytes: Buffer, expect: Expectation | undefined, readsOnly?: boolean): void;
  /**
   * Runs a local statement in an executor process; the session holds the
   * client's next messages until `done` has run (then flushes the round).
   */
  runLocal(offload: LocalOffload, done: (outcome: JobOutcome, stoppedBy: 'user' | 'timeout') => void): void;
  /**
   * A forwarded batch's Sync was queued, and the batch certainly ends
   * outside a transaction block: Outpost's own query may follow it.
   */
  afterSync?(mayHaveWritten: boolean): void;
  /**
   * A transaction that starts locally (src/server/local-transaction.ts):
   * whether this BEGIN/COMMIT/ROLLBACK may be answered here now, and with
   * `apply`, the session's state as after it.
   */
  txControl?(control: LocalTxControl, apply: boolean): boolean;
}

export const PIPELINED = 'pipelined behind upstream work';

/** SQL that may create or drop prepared statements (checked once its CommandComplete confirms it). */
export const PREPARED_SQL = /\b(prepare|deallocate|discard)\b/i;
/** SQL that may name the session's prepared statements: upstream must hold them all. */
export const PREPARED_REF = /\b(execute|deallocate|pg_prepared_statements)\b/i;
export const IDENT = '("(?:[^"]|"")+"|[A-Za-z_\\u0080-\\uffff][A-Za-z0-9_$\\u0080-\\uffff]*)';

/** A SQL identifier as Postgres reads it: quoted kept as is, unquoted folded to lower case. */
export function identifier(token: string): string {
  return token.startsWith('"') ? token.slice(1, -1).replace(/""/g, '"') : token.toLowerCase();
}

/** Statement names after `DEALLOCATE [PREPARE]` in `sql` (`ALL` excluded). */
export function deallocated(sql: string): string[] {
  const re = new RegExp(`\\bdeallocate\\s+(?:prepare\\s+)?${IDENT}`, 'gi');
  const out: string[] = [];
  for (const m of sql.matchAll(re)) {
    const token = m[1] ?? '';
    if (!/^all$/i.test(token)) out.push(identifier(token));
  }
  return out;
}

/** Statement names after `PREPARE` (not `DEALLOCATE PREPARE`, not `PREPARE TRANSACTION`). */
export function prepared(sql: string): string[] {
  const re = new RegExp(`(?<!deallocate\\s+)\\bprepare\\s+(?!transaction\\b)${IDENT}`, 'gi');
  return [...sql.matchAll(re)].map((m) => identifier(m[1] ?? ''));
}

/** The count of a CommandComplete tag replaced, e.g. `SELECT 10` → `SELECT 2` for one Execute. */
export function tagWithCount(tag: string, count: number): string {
  const m = /^(.*?)(\d+)$/.exec(tag);
  return m ? `${m[1]}${count}` : tag;
}

/** Bind's format codes for `n` values: none = all text, one = for all, else one each. */
export function formatsFor(codes: readonly number[], n: number): (0 | 1)[] | undefined {
  if (codes.length !== 0 && codes.length !== 1 && codes.length !== n) return undefined;
  const out: (0 | 1)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const c = codes.length === 0 ? 0 : codes.length === 1 ? codes[0] : codes[i];
    if (c !== 0 && c !== 1) return undefined;
    out[i] = c;
  }
  return out;
}
