import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseLsn } from '../src/replication/lsn.js';
import {
  type DeleteMessage,
  decodePgOutput,
  type InsertMessage,
  type PgOutputMessage,
  type RelationMessage,
  type TruncateMessage,
  UNCHANGED_TOAST,
  type UpdateMessage,
} from '../src/replication/pgoutput.js';
import { parseStreamMessage, standbyStatusUpdate } from '../src/replication/stream.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let pg: PostgresInstance;
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg?.stop();
});

/** Real pgoutput bytes: each change of a slot, as the walsender would send it. */
async function capture(setup: string, changes: string[]): Promise<{ lsn: bigint; data: Buffer }[]> {
  const c = await pg.connect();
  try {
    // The test server runs with synchronous_commit=off; peek only decodes flushed WAL.
    await c.query('SET synchronous_commit = on');
    await c.query(setup);
    await c.query(`SELECT pg_create_logical_replication_slot('cap', 'pgoutput')`);
    for (const sql of changes) await c.query(sql);
    const r = await c.query<{ lsn: string; data: Buffer }>(
      `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes('cap', NULL, NULL,
         'proto_version', '1', 'publication_names', 'p', 'messages', 'true')`,
    );
    return r.rows.map((row) => ({ lsn: parseLsn(row.lsn), data: row.data }));
  } finally {
    await c.query(`SELECT pg_drop_replication_slot('cap')`).catch(() => {});
    await c.end();
  }
}

test('decodes every pgoutput v1 message type from a real slot', async () => {
  const big = 'x'.repeat(20_000);
  const raw = await capture(
    `CREATE SCHEMA s;
     CREATE TABLE s."T" (id int PRIMARY KEY, "Name" varchar(10), note text, f float8);
     ALTER TABLE s."T" ALTER COLUMN note SET STORAGE EXTERNAL;
     CREATE TABLE full_t (a int, b text);
     ALTER TABLE full_t REPLICA IDENTITY FULL;
     CREATE PUBLICATION p FOR ALL TABLES;`,
    [
      `BEGIN; INSERT INTO s."T" VALUES (1, 'ä"b', '${big}', 'NaN'), (2, NULL, 'tab\there', '-0'); COMMIT`,
      `UPDATE s."T" SET f = 1.5 WHERE id = 1`,
      `UPDATE s."T" SET id = 3 WHERE id = 2`,
      `DELETE FROM s."T" WHERE id = 3`,
      `INSERT INTO full_t VALUES (1, NULL)`,
      `UPDATE full_t SET b = 'b'`,
      `DELETE FROM full_t`,
      `TRUNCATE s."T", full_t RESTART IDENTITY`,
      `SELECT pg_logical_emit_message(false, 'pfx', 'hello')`,
      // Transactional: inside Begin/Commit; its commit also flushes the WAL above.
      `SELECT pg_logical_emit_message(true, 'pfx2', 'bye')`,
    ],
  );
  const msgs: PgOutputMessage[] = raw.map((r) => decodePgOutput(r.data));
  const tags = msgs.map((m) => m.tag);
  assert.deepEqual(tags, [
    'begin',
    'relation',
    'insert',
    'insert',
    'commit',
    'begin',
    'update',
    'commit',
    'begin',
    'update',
    'commit',
    'begin',
    'delete',
    'commit',
    'begin',
    'relation',
    'insert',
    'commit',
    'begin',
    'update',
    'commit',
    'begin',
    'delete',
    'commit',
    // TRUNCATE invalidates both relations: pgoutput sends them again first.
    'begin',
    'relation',
    'relation',
    'truncate',
    'commit',
    'message',
    'begin',
    'message',
    'commit',
  ]);

  const rel = msgs[1] as RelationMessage;
  assert.equal(rel.schema, 's');
  assert.equal(rel.name, 'T');
  assert.equal(rel.replicaIdentity, 'd');
  assert.deepEqual(rel.columns, [
    { isKey: true, name: 'id', typeOid: 23, typmod: -1 },
    { isKey: false, name: 'Name', typeOid: 1043, typmod: 14 },
    { isKey: false, name: 'note', typeOid: 25, typmod: -1 },
    { isKey: false, name: 'f', typeOid: 701, typmod: -1 },
  ]);
  const relOid = (await pg.query(`SELECT 's."T"'::regclass::oid::int8 AS o`)).rows[0]?.o;
  assert.equal(rel.oid, Number(relOid));

  const begin = msgs[0];
  const commit = msgs[4];
  assert.ok(begin?.tag === 'begin' && commit?.tag === 'commit');
  assert.equal(begin.finalLsn, commit.commitLsn);
  assert.ok(commit.endLsn > commit.commitLsn);
  assert.ok(begin.xid > 0);
  assert.equal(begin.commitTime, commit.commitTime);
  // Commit timestamps are microseconds since 2000-01-01: within a minute of now.
  const nowUs = BigInt(Date.now() - Date.UTC(2000, 0, 1)) * 1000n;
  assert.ok(nowUs - commit.commitTime < 60_000_000n);

  const ins = msgs[2] as InsertMessage;
  assert.equal(ins.relationOid, rel.oid);
  assert.deepEqual(ins.newTuple, ['1', 'ä"b', big, 'NaN']);
  assert.deepEqual((msgs[3] as InsertMessage).newTuple, ['2', null, 'tab\there', '-0']);

  // The TOASTed note was not touched: sent as 'u'. No old tuple: the key did not change.
  const upd = msgs[6] as UpdateMessage;
  assert.equal(upd.oldKind, null);
  assert.equal(upd.oldTuple, null);
  assert.deepEqual(upd.newTuple, ['1', 'ä"b', UNCHANGED_TOAST, '1.5']);

  // Key change: the old key comes as 'K' with only key columns set.
  const keyUpd = msgs[9] as UpdateMessage;
  assert.equal(keyUpd.oldKind, 'K');
  assert.deepEqual(keyUpd.oldTuple, ['2', null, null, null]);
  assert.deepEqual(keyUpd.newTuple, ['3', null, 'tab\there', '-0']);

  const del = msgs[12] as DeleteMessage;
  assert.equal(del.oldKind, 'K');
  assert.deepEqual(del.oldTuple, ['3', null, null, null]);

  const fullRel = msgs[15] as RelationMessage;
  assert.equal(fullRel.replicaIdentity, 'f');
  assert.ok(fullRel.columns.every((c) => c.isKey));
  const fullUpd = msgs[19] as UpdateMessage;
  assert.equal(fullUpd.oldKind, 'O');
  assert.deepEqual(fullUpd.oldTuple, ['1', null]);
  assert.deepEqual(fullUpd.newTuple, ['1', 'b']);
  const fullDel = msgs[22] as DeleteMessage;
  assert.equal(fullDel.oldKind, 'O');
  assert.deepEqual(fullDel.oldTuple, ['1', 'b']);

  const trunc = msgs[27] as TruncateMessage;
  assert.equal(trunc.restartIdentity, true);
  assert.equal(trunc.cascade, false);
  assert.deepEqual([...trunc.relationOids].sort(), [rel.oid, fullRel.oid].sort());

  const m = msgs[29];
  assert.ok(m?.tag === 'message');
  assert.equal(m.transactional, false);
  assert.equal(m.prefix, 'pfx');
  assert.equal(m.content.toString(), 'hello');
  assert.equal(m.lsn, raw[29]?.lsn);
  const tm = msgs[31];
  assert.ok(tm?.tag === 'message');
  assert.equal(tm.transactional, true);
  assert.equal(tm.prefix, 'pfx2');
  assert.equal(tm.content.toString(), 'bye');
});

test('decoder rejects truncated and unknown messages', () => {
  assert.throws(() => decodePgOutput(Buffer.from('B\x00\x00', 'latin1')), /truncated/);
  assert.throws(() => decodePgOutput(Buffer.from('Z', 'latin1')), /unknown message type/);
  // Insert with a 'b' (binary) column, which Outpost never asks for.
  const b = Buffer.from([0x49, 0, 0, 0, 1, 0x4e, 0, 1, 0x62, 0, 0, 0, 0]);
  assert.throws(() => decodePgOutput(b), /binary/);
});

test('stream framing: XLogData, keepalive, standby status update', () => {
  const w = Buffer.alloc(25 + 3);
  w.write('w', 0, 'latin1');
  w.writeBigUInt64BE(0x1_0000_0010n, 1);
  w.writeBigUInt64BE(0x1_0000_0020n, 9);
  w.writeBigInt64BE(5n, 17);
  w.write('abc', 25, 'latin1');
  const x = parseStreamMessage(w);
  assert.ok(x?.kind === 'xlog');
  assert.equal(x.dataStart, 0x1_0000_0010n);
  assert.equal(x.walEnd, 0x1_0000_0020n);
  assert.equal(x.data.toString(), 'abc');

  const k = Buffer.alloc(18);
  k.write('k', 0, 'latin1');
  k.writeBigUInt64BE(42n, 1);
  k.writeUInt8(1, 17);
  assert.deepEqual(parseStreamMessage(k), {
    kind: 'keepalive',
    walEnd: 42n,
    sendTime: 0n,
    replyRequested: true,
  });

  const r = standbyStatusUpdate(0xabcdn);
  assert.equal(r.length, 34);
  assert.equal(String.fromCharCode(r[0]!), 'r');
  assert.equal(r.readBigUInt64BE(1), 0xabcdn);
  assert.equal(r.readBigUInt64BE(9), 0xabcdn);
  assert.equal(r.readBigUInt64BE(17), 0xabcdn);
  assert.equal(r[33], 0);
});
