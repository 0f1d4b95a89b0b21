/**
 * Which query strings a transaction that started locally may answer
 * (src/server/local-transaction.ts), and the cheap check that spares the
 * parser every other statement of such a transaction: it may only ever say
 * "certainly not" for strings the parser also rejects.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { endsTransaction, localTxControl, mayBeTransactionStmt } from '../src/server/local-transaction.js';
import { loadParser, nodeKind, parseSql } from '../src/sql/parse.js';

before(async () => {
  await loadParser();
});

const CONTROL = [
  ['BEGIN', 'BEGIN'],
  ['begin;', 'BEGIN'],
  ['  \n\tBegin Transaction', 'BEGIN'],
  [';;BEGIN', 'BEGIN'],
  ['START TRANSACTION ISOLATION LEVEL READ COMMITTED', 'START TRANSACTION'],
  ['COMMIT', 'COMMIT'],
  ['end', 'COMMIT'],
  ['ROLLBACK', 'ROLLBACK'],
  ['abort work', 'ROLLBACK'],
  ['/* why */ COMMIT', 'COMMIT'],
  ['-- note\nROLLBACK', 'ROLLBACK'],
  ['/* a /* nested */ UPDATE t */ BEGIN', 'BEGIN'],
] as const;

const NOT_CONTROL = [
  'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 2',
  'SELECT abalance FROM pgbench_accounts WHERE aid = 3',
  'INSERT INTO t VALUES (1)',
  'BEGIN READ ONLY',
  'BEGIN ISOLATION LEVEL SERIALIZABLE',
  'COMMIT AND CHAIN',
  'ROLLBACK TO SAVEPOINT a',
  'SAVEPOINT a',
  'BEGIN; SELECT 1',
  'beginx',
  'begin_work',
  'begin1',
  'endé',
  '"BEGIN"',
  '(SELECT 1)',
  '',
  '   ',
  'select 1 /* BEGIN */',
  '/* BEGIN */ select 1',
];

test('transaction control a local transaction answers, with or without blanks and comments', () => {
  for (const [sql, tag] of CONTROL) {
    assert.ok(mayBeTransactionStmt(sql), sql);
    assert.equal(localTxControl(sql)?.tag, tag, sql);
  }
});

test('everything else is not, and the check never says "not" to a statement the parser accepts', () => {
  for (const sql of NOT_CONTROL) assert.equal(localTxControl(sql), undefined, sql);
  for (const sql of [...NOT_CONTROL, ...CONTROL.map(([s]) => s)]) {
    // The check may only skip what the parser does not read as one BEGIN/START/COMMIT/ROLLBACK
    // (SAVEPOINT, RELEASE and PREPARE TRANSACTION are TransactionStmts neither function answers).
    if (!mayBeTransactionStmt(sql)) {
      const parsed = parseSql(sql);
      const first = parsed.ok && parsed.stmts.length === 1 ? parsed.stmts[0]?.stmt : undefined;
      const [kind, body] = first ? nodeKind(first) : ['none', undefined];
      const txKind = kind === 'TransactionStmt' ? (body as { kind?: string }).kind : undefined;
      assert.ok(
        !['TRANS_STMT_BEGIN', 'TRANS_STMT_START', 'TRANS_STMT_COMMIT', 'TRANS_STMT_ROLLBACK'].includes(
          txKind ?? '',
        ),
        sql,
      );
      assert.equal(endsTransaction(sql), false, sql);
    }
  }
  // Plain words that are not the keywords are skipped without parsing.
  for (const sql of ['UPDATE t SET a = 1', 'select 1', 'insert into t values (1)', 'beginx', 'ends']) {
    assert.equal(mayBeTransactionStmt(sql), false, sql);
  }
  assert.ok(endsTransaction('COMMIT AND CHAIN'));
  assert.ok(endsTransaction('  rollback'));
  assert.equal(endsTransaction('UPDATE t SET a = 1'), false);
});
