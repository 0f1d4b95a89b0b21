/**
 * Transactions that start locally: a plain READ COMMITTED `BEGIN` is
 * answered by Outpost without a round trip, the transaction's reads are
 * served from the replica (each with the replica's latest state, which READ
 * COMMITTED allows: every statement may see a newer snapshot), and upstream
 * only hears of the transaction when a statement must go there. That
 * statement is sent with a hidden `BEGIN` in front of it, in the same write,
 * whose replies are kept from the client; from then on the transaction is
 * upstream's. A COMMIT or ROLLBACK of a transaction that never went upstream
 * is answered here.
 *
 * Why this is exact:
 * - Local reads in a transaction follow the same rules as outside one (the
 *   session's read-your-writes fence, `--max-lag`); anything the compiler
 *   does not prove local (writes, FOR UPDATE/SHARE, SET, SAVEPOINT, user
 *   functions, transaction-time functions such as now(), which are never
 *   compiled locally) opens the upstream transaction.
 * - A local statement never reports an error itself (it is forwarded when
 *   it could fail), so the transaction cannot fail locally; a local
 *   statement cancelled or timed out opens the upstream transaction and
 *   makes it fail there (see `localStopped`), so the failed state is upstream's.
 * - Once a local read ran, the hidden prefix is `BEGIN; SELECT 1`, so upstream
 *   knows a query ran: `SET TRANSACTION ISOLATION LEVEL` / `SET TRANSACTION
 *   SNAPSHOT` then fail with 25001 as they would have.
 * - Only READ COMMITTED transactions start locally: BEGIN with no modes or
 *   with ISOLATION LEVEL READ COMMITTED. A server, role or
 *   database default_transaction_isolation other than read committed turns
 *   local answers off for the session (src/router/settings.ts, access.ts).
 * - A session with idle_in_transaction_session_timeout or (Postgres 17)
 *   transaction_timeout keeps its BEGIN upstream (upstream's clock enforces
 *   them on transactions it sees whole; src/router/timeouts.ts).
 * What differs, unobservably: transaction_timestamp() (now()) is upstream's
 * transaction start, i.e. when the transaction went upstream, not when the
 * client sent BEGIN; no local read observed the time before that.
 */

import { type Node, nodeKind, parseSql } from '../sql/parse.js';

/** The keywords a transaction-control statement this module recognises can start with. */
const TX_KEYWORDS = new Set(['begin', 'start', 'commit', 'end', 'rollback', 'abort']);

/**
 * False only when `sql` certainly is not one of those statements, without
 * parsing it (every statement of a local transaction comes here): its first
 * token, after blanks and empty statements, is a plain ASCII word that is
 * none of the keywords. Anything else (a comment first, a non-ASCII
 * character, a keyword) is left to the parser.
 */
export function mayBeTransactionStmt(sql: string): boolean {
  let i = 0;
  const n = sql.length;
  for (; i < n; i++) {
    const c = sql.charCodeAt(i);
    // Postgres's blanks (space, \t, \n, \v, \f, \r) and empty statements.
    if (c !== 0x20 && (c < 0x09 || c > 0x0d) && c !== 0x3b) break;
  }
  const start = i;
  for (; i < n; i++) {
    const c = sql.charCodeAt(i) | 0x20;
    if (c < 0x61 || c > 0x7a) break;
  }
  if (i === start) return true;
  const next = i < n ? sql.charCodeAt(i) : 0x20;
  // The word may go on (digits, _, $, non-ASCII letters): the parser decides.
  if (next >= 0x80 || next === 0x5f || next === 0x24 || (next >= 0x30 && next <= 0x39)) return true;
  return TX_KEYWORDS.has(sql.slice(start, i).toLowerCase());
}

/** What a lone simple-protocol statement does to a transaction that started locally. */
export type LocalTxControl =
  | { kind: 'begin'; tag: 'BEGIN' | 'START TRANSACTION' }
  | { kind: 'end'; tag: 'COMMIT' | 'ROLLBACK' };

/** The hidden statements that open upstream's transaction in front of the first forwarded one. */
export function upstreamBegin(localReads: number): string {
  return localReads > 0 ? 'BEGIN; SELECT 1' : 'BEGIN';
}

/**
 * A query string that is exactly one transaction-control statement a local
 * transaction may answer: a READ COMMITTED `BEGIN`/`START TRANSACTION`, or
 * `COMMIT`/`END`/`ROLLBACK`/`ABORT` without AND CHAIN. Anything else
 * (several statements, savepoints, PREPARE TRANSACTION, other modes) is undefined.
 */
export function localTxControl(sql: string): LocalTxControl | undefined {
  if (!mayBeTransactionStmt(sql)) return undefined;
  const parsed = parseSql(sql);
  if (!parsed.ok || parsed.stmts.length !== 1) return undefined;
  const stmt = parsed.stmts[0]?.stmt as Node | undefined;
  if (!stmt) return undefined;
  const [kind, body] = nodeKind(stmt);
  if (kind !== 'TransactionStmt') return undefined;
  const t = body as { kind?: string; options?: Node[]; chain?: boolean };
  switch (t.kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START':
      if (!readCommittedModes(t.options)) return undefined;
      return { kind: 'begin', tag: t.kind === 'TRANS_STMT_BEGIN' ? 'BEGIN' : 'START TRANSACTION' };
    case 'TRANS_STMT_COMMIT':
      return t.chain ? undefined : { kind: 'end', tag: 'COMMIT' };
    case 'TRANS_STMT_ROLLBACK':
      return t.chain ? undefined : { kind: 'end', tag: 'ROLLBACK' };
    default:
      return undefined;
  }
}

/**
 * No modes, or only ISOLATION LEVEL READ COMMITTED: what the hidden plain
 * `BEGIN` sent upstream later starts too (the session's default is read
 * committed). Not READ UNCOMMITTED: Postgres runs it as READ COMMITTED but
 * `SHOW transaction_isolation` would tell. READ ONLY has its own local path
 * (a pinned replica snapshot, src/router/router.ts); READ WRITE, DEFERRABLE
 * and the other levels go upstream.
 */
function readCommittedModes(options: Node[] | undefined): boolean {
  for (const option of options ?? []) {
    const [kind, body] = nodeKind(option);
    if (kind !== 'DefElem') return false;
    const d = body as { defname?: string; arg?: Node };
    if (d.defname !== 'transaction_isolation' || !d.arg) return false;
    const [, arg] = nodeKind(d.arg);
    const level = (arg as { sval?: { sval?: string } } | undefined)?.sval?.sval;
    if (level !== 'read committed') return false;
  }
  return true;
}

/**
 * `sql` is one COMMIT/END/ROLLBACK/ABORT (with or without AND CHAIN, not
 * ROLLBACK TO): once it has run, the transaction's protocol portals are gone.
 */
export function endsTransaction(sql: string): boolean {
  if (!mayBeTransactionStmt(sql)) return false;
  const parsed = parseSql(sql);
  if (!parsed.ok || parsed.stmts.length !== 1) return false;
  const stmt = parsed.stmts[0]?.stmt as Node | undefined;
  if (!stmt) return false;
  const [kind, body] = nodeKind(stmt);
  if (kind !== 'TransactionStmt') return false;
  const k = (body as { kind?: string }).kind;
  return k === 'TRANS_STMT_COMMIT' || k === 'TRANS_STMT_ROLLBACK';
}
