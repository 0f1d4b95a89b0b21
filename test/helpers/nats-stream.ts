/**
 * Reads a whole change stream (issue 18) back and checks its shape, for the
 * hub, restart and chaos tests: each transaction once, whole, in LSN order.
 */
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeHeader, decodeRecords, type StreamHeader } from '../../src/nats/wire-format.js';
import { formatLsn } from '../../src/replication/lsn.js';
import { decodePgOutput, type PgOutputMessage } from '../../src/replication/pgoutput.js';

export interface StreamMsg {
  seq: number;
  header: StreamHeader;
  size: number;
  records: PgOutputMessage[];
}

/** Every message of a stream up to its last sequence now, decoded (headers and pgoutput records). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StreamMsg[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const out: StreamMsg[] = [];
  if (state.messages === 0) return out;
  // An ordered consumer: one subscription for the whole stream, not one request per message.
  const consumer = await jetstream(nc).consumers.get(stream);
  try {
    for (let seq = 0; seq < state.last_seq; ) {
      const m = await consumer.next({ expires: 5000 });
      assert.ok(m, `stream ${stream} ended before seq ${state.last_seq} (at ${seq})`);
      seq = m.seq;
      out.push({
        seq,
        header: decodeHeader(m.headers),
        size: m.data.length,
        records: decodeRecords(m.data).map((r) => decodePgOutput(Buffer.from(r))),
      });
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
  return out;
}

export interface Tx {
  finalLsn: bigint;
  parts: StreamMsg[];
  records: PgOutputMessage[];
}

/**
 * Groups tx parts and asserts the stream's shape: parts consecutive, numbered
 * from 0, one last part; Begin first and Commit last; a Relation before the
 * first change of every table (self-contained); no Type messages; no
 * transaction twice and LSN order; no reset (the hub's replica is never remade
 * where this is used: a reset would mean the stream misses changes).
 */
export function transactions(msgs: StreamMsg[]): Tx[] {
  const txs: Tx[] = [];
  let open: Tx | undefined;
  for (const m of msgs) {
    const h = m.header;
    if (h.kind === 'reset') assert.fail(`reset at seq ${m.seq}: the stream misses changes`);
    if (h.kind !== 'tx') {
      assert.equal(open, undefined, `heartbeat seq ${m.seq} inside a transaction's parts`);
      continue;
    }
    if (!open) {
      assert.equal(h.part, 0, `seq ${m.seq}: a transaction starts at part ${h.part}`);
      open = { finalLsn: h.finalLsn, parts: [], records: [] };
    }
    assert.equal(h.finalLsn, open.finalLsn, `seq ${m.seq}: parts of two transactions interleave`);
    assert.equal(h.part, open.parts.length, `seq ${m.seq}: part ${h.part} out of order`);
    open.parts.push(m);
    open.records.push(...m.records);
    if (h.last) {
      txs.push(open);
      open = undefined;
    }
  }
  assert.equal(open, undefined, 'the stream ends inside a transaction');
  for (const tx of txs) {
    const first = tx.records[0];
    const last = tx.records[tx.records.length - 1];
    assert.equal(first?.tag, 'begin');
    assert.equal(first.tag === 'begin' && first.finalLsn, tx.finalLsn, 'Outpost-Lsn is the Begin final LSN');
    assert.equal(last?.tag, 'commit');
    assert.equal(tx.records.filter((r) => r.tag === 'begin' || r.tag === 'commit').length, 2);
    const known = new Set<number>();
    for (const r of tx.records) {
      if (r.tag === 'relation') known.add(r.oid);
      if (r.tag === 'insert' || r.tag === 'update' || r.tag === 'delete') {
        assert.ok(known.has(r.relationOid), `tx ${formatLsn(tx.finalLsn)}: change before its Relation`);
      }
      assert.notEqual(r.tag, 'type', 'Type messages are not published');
    }
  }
  for (let i = 1; i < txs.length; i++) {
    assert.ok(
      (txs[i] as Tx).finalLsn > (txs[i - 1] as Tx).finalLsn,
      `transactions out of LSN order or repeated at ${formatLsn((txs[i] as Tx).finalLsn)}`,
    );
  }
  return txs;
}

/** True when the transaction changes a row (Postgres decodes no transaction that changed none). */
export function changesRows(tx: Tx): boolean {
  return tx.records.some((r) => r.tag === 'insert' || r.tag === 'update' || r.tag === 'delete');
}

export function describeTx(tx: Tx): string {
  const counts = new Map<string, number>();
  for (const r of tx.records) {
    const k =
      r.tag === 'relation' ? `relation ${r.name}` : r.tag === 'message' ? `message ${r.prefix}` : r.tag;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return `${formatLsn(tx.finalLsn)}: ${[...counts].map(([k, n]) => `${k}×${n}`).join(', ')}`;
}

/** `id` values inserted into `table`, in stream order (column 0). */
export function insertedIds(txs: Tx[], table: string): number[] {
  const ids: number[] = [];
  for (const tx of txs) {
    const names = new Map<number, string>();
    for (const r of tx.records) {
      if (r.tag === 'relation') names.set(r.oid, r.name);
      if (r.tag === 'insert' && names.get(r.relationOid) === table) ids.push(Number(r.newTuple[0]));
    }
  }
  return ids;
}
