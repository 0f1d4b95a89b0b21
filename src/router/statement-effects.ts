/**
 * What a parsed statement does to the session beyond its result: settings
 * and state the local path follows or gives up on, transaction control, and
 * whether it certainly ends outside a transaction block.
 */
import { type Node, nodeKind } from '../sql/parse.js';
import type { TxEffect } from './plan.js';
import { WATCHED_SETTINGS } from './settings.js';

/** Reasons for statement kinds that are never local. */
export const STATEMENT_REASONS: Record<string, string> = {
  TransactionStmt: 'transaction control',
  VariableSetStmt: 'SET',
  VariableShowStmt: 'SHOW',
  InsertStmt: 'write (INSERT)',
  UpdateStmt: 'write (UPDATE)',
  DeleteStmt: 'write (DELETE)',
  MergeStmt: 'write (MERGE)',
  ExplainStmt: 'EXPLAIN',
  CopyStmt: 'COPY',
  DeclareCursorStmt: 'cursor',
  FetchStmt: 'cursor',
  PrepareStmt: 'PREPARE',
  ExecuteStmt: 'EXECUTE',
  CallStmt: 'CALL',
  DoStmt: 'DO',
};

/**
 * Whether a statement changes session state the local path depends on but
 * cannot observe (unreported settings, shadowing relations): returns the
 * reason to disable local answers for the rest of the session. Conservative:
 * the statement may still fail or be rolled back upstream.
 */
export function sessionEffect(stmt: Node): string | undefined {
  const [kind, body] = nodeKind(stmt);
  switch (kind) {
    case 'VariableSetStmt': {
      const s = body as { kind?: string; name?: string; args?: Node[] };
      // SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL ...: see default_transaction_isolation.
      if ((s.name ?? '').toLowerCase() === 'session characteristics')
        return 'session changed transaction characteristics';
      if (s.kind !== 'VAR_SET_VALUE' && s.kind !== 'VAR_SET_DEFAULT' && s.kind !== 'VAR_SET_CURRENT') break;
      const name = (s.name ?? '').toLowerCase();
      if (!WATCHED_SETTINGS.has(name)) break;
      // Its value is read back by the session state check instead (side-effects.ts), so a
      // RESET or the end of a SET LOCAL makes local answers exact again.
      if (name === 'search_path') break;
      if (name === 'extra_float_digits' && s.kind === 'VAR_SET_VALUE' && positiveIntArg(s.args)) break;
      return `session changed ${name}`;
    }
    case 'CreateStmt':
    case 'CreateForeignTableStmt': {
      if (isTempRelation((body as { relation?: RelationLike }).relation)) return 'temporary table may shadow';
      break;
    }
    case 'ViewStmt':
      if (isTempRelation((body as { view?: RelationLike }).view)) return 'temporary view may shadow';
      break;
    case 'CreateSeqStmt':
      if (isTempRelation((body as { sequence?: RelationLike }).sequence))
        return 'temporary sequence may shadow';
      break;
    case 'CreateTableAsStmt':
      if (isTempRelation((body as { into?: { rel?: RelationLike } }).into?.rel))
        return 'temporary table may shadow';
      break;
    case 'SelectStmt':
      if (isTempRelation((body as { intoClause?: { rel?: RelationLike } }).intoClause?.rel)) {
        return 'temporary table may shadow';
      }
      break;
    case 'CreateSchemaStmt':
      return 'schema created (may shadow unqualified names)';
  }
  // DO, CALL, set_config() and any other user code are followed by a check
  // of the session's state upstream instead (see `statementFacts`).
  return undefined;
}

/**
 * `always`: the query string ends outside any transaction block whatever
 * came before (a lone COMMIT or ROLLBACK without AND CHAIN); `from-idle`: it
 * does when sent outside one (no transaction control in it). Never with a
 * COPY (see below): Outpost's own query then waits until the session is idle.
 */
export function idleEnding(stmts: Node[]): 'always' | 'from-idle' | undefined {
  // A COPY may put upstream in copy-in mode, where any other message is an
  // error that ends the copy: nothing may follow it until it is done.
  if (stmts.some((s) => nodeKind(s)[0] === 'CopyStmt')) return undefined;
  if (stmts.length === 1) {
    const [kind, body] = nodeKind(stmts[0] as Node);
    if (kind === 'TransactionStmt') {
      const t = body as { kind?: string; chain?: boolean };
      return (t.kind === 'TRANS_STMT_COMMIT' || t.kind === 'TRANS_STMT_ROLLBACK') && !t.chain
        ? 'always'
        : undefined;
    }
  }
  return stmts.some((s) => transactionEffect(s) !== undefined || nodeKind(s)[0] === 'TransactionStmt')
    ? undefined
    : 'from-idle';
}

/** The reason a local read waits for (or, inside a transaction, forwards because of) a pending check. */
export function stateCheckReason(reason: string): string {
  return `session state being verified upstream (after ${reason})`;
}

/** See `TxEffect`. */
export function transactionEffect(stmt: Node): TxEffect | undefined {
  const [kind, body] = nodeKind(stmt);
  if (kind === 'TransactionStmt') {
    const t = body as { kind?: string; options?: Node[] };
    if (t.kind !== 'TRANS_STMT_BEGIN' && t.kind !== 'TRANS_STMT_START') return 'other';
    return transactionModes(t.options) === 'read-only' ? 'begin-ro' : 'begin';
  }
  if (kind === 'VariableSetStmt') {
    const v = body as { name?: string; args?: Node[] };
    const name = (v.name ?? '').toLowerCase();
    if (name === 'transaction') return transactionModes(v.args) === 'read-only' ? 'set-ro' : 'other';
    if (name.startsWith('transaction_') || name === 'session characteristics') return 'other';
  }
  return undefined;
}

/**
 * Transaction modes of BEGIN / SET TRANSACTION: `read-only` when READ ONLY
 * is given and the isolation level (if any) is READ COMMITTED or READ
 * UNCOMMITTED (which Postgres runs as READ COMMITTED). REPEATABLE READ and
 * SERIALIZABLE go upstream: their snapshot is upstream's, not the replica's.
 */
export function transactionModes(options: Node[] | undefined): 'read-only' | 'other' {
  let readOnly = false;
  for (const option of options ?? []) {
    const [kind, body] = nodeKind(option);
    if (kind !== 'DefElem') return 'other';
    const d = body as { defname?: string; arg?: Node };
    const [, arg] = d.arg ? nodeKind(d.arg) : ['', undefined];
    const c = arg as { ival?: { ival?: number }; sval?: { sval?: string } } | undefined;
    if (d.defname === 'transaction_read_only') readOnly = (c?.ival?.ival ?? 0) === 1;
    else if (d.defname === 'transaction_isolation') {
      const level = c?.sval?.sval;
      if (level !== 'read committed' && level !== 'read uncommitted') return 'other';
    } else if (d.defname !== 'transaction_deferrable') return 'other';
  }
  return readOnly ? 'read-only' : 'other';
}

export interface RelationLike {
  schemaname?: string;
  relpersistence?: string;
}

export function isTempRelation(rel: RelationLike | undefined): boolean {
  if (!rel) return false;
  return rel.relpersistence === 't' || (rel.schemaname ?? '').toLowerCase().startsWith('pg_temp');
}

export function positiveIntArg(args: Node[] | undefined): boolean {
  const only = args?.length === 1 ? args[0] : undefined;
  if (!only) return false;
  const [kind, body] = nodeKind(only);
  if (kind !== 'A_Const') return false;
  const c = body as { ival?: { ival?: number }; sval?: { sval?: string } };
  const v = c.ival ? (c.ival.ival ?? 0) : c.sval ? Number(c.sval.sval) : Number.NaN;
  return Number.isInteger(v) && v > 0 && v <= 3;
}
