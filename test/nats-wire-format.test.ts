import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  changesSubject,
  decodeHeader,
  decodeRecords,
  encodeHeader,
  encodeRecords,
  HDR_LAST,
  HDR_MSG_ID,
  PartCutter,
  validStreamName,
  WireFormatError,
} from '../src/nats/wire-format.js';
import { parseLsn } from '../src/replication/lsn.js';

/** A MsgHdrs-like reader over encodeHeader's pairs: missing names read as '' like NATS' own. */
function reader(pairs: Array<[string, string]>) {
  const m = new Map(pairs);
  return { get: (k: string) => m.get(k) ?? '' };
}

test('tx part headers round-trip, with the contract msg ids', () => {
  const lsn = parseLsn('1/A0B0');
  const pairs = encodeHeader({ kind: 'tx', finalLsn: lsn, part: 3, last: true, time: 1700000000123 });
  const m = new Map(pairs);
  assert.equal(m.get(HDR_MSG_ID), '1/A0B0#3');
  assert.equal(m.get('Outpost-Kind'), 'tx');
  assert.equal(m.get('Outpost-Lsn'), '1/A0B0');
  assert.equal(m.get('Outpost-Part'), '3');
  assert.equal(m.get(HDR_LAST), '1');
  assert.equal(m.get('Outpost-Time'), '1700000000123');
  assert.deepEqual(decodeHeader(reader(pairs)), {
    kind: 'tx',
    finalLsn: lsn,
    part: 3,
    last: true,
    time: 1700000000123,
  });
  const notLast = encodeHeader({ kind: 'tx', finalLsn: lsn, part: 0, last: false, time: 5 });
  assert.equal(new Map(notLast).has(HDR_LAST), false);
  assert.equal((decodeHeader(reader(notLast)) as { last: boolean }).last, false);
});

test('heartbeat headers round-trip', () => {
  const pairs = encodeHeader({ kind: 'hb', lsn: parseLsn('0/16B3748'), time: 42 });
  assert.equal(new Map(pairs).get(HDR_MSG_ID), 'hb:0/16B3748');
  assert.deepEqual(decodeHeader(reader(pairs)), { kind: 'hb', lsn: parseLsn('0/16B3748'), time: 42 });
  const again = encodeHeader({ kind: 'hb', lsn: parseLsn('0/16B3748'), time: 43, repeat: true });
  assert.equal(new Map(again).get(HDR_MSG_ID), 'hb:0/16B3748@43');
  assert.deepEqual(decodeHeader(reader(again)), { kind: 'hb', lsn: parseLsn('0/16B3748'), time: 43 });
});

test('foreign or broken headers are WireFormatError, not a crash further down', () => {
  assert.throws(() => decodeHeader(undefined), WireFormatError);
  assert.throws(() => decodeHeader(reader([['Outpost-Kind', 'tx']])), WireFormatError);
  assert.throws(
    () =>
      decodeHeader(
        reader([
          ['Outpost-Kind', 'what'],
          ['Outpost-Lsn', '0/1'],
        ]),
      ),
    WireFormatError,
  );
  assert.throws(
    () =>
      decodeHeader(
        reader([
          ['Outpost-Kind', 'tx'],
          ['Outpost-Lsn', '0/1'],
          ['Outpost-Part', '-1'],
        ]),
      ),
    WireFormatError,
  );
});

test('records round-trip, including empty records, and truncation is detected', () => {
  const recs = [
    Uint8Array.of(66, 1, 2),
    new Uint8Array(0),
    Uint8Array.from({ length: 70000 }, (_, i) => i & 255),
  ];
  const body = encodeRecords(recs);
  assert.equal(body.length, 4 * 3 + 3 + 0 + 70000);
  const back = decodeRecords(body);
  assert.deepEqual(
    back.map((r) => Buffer.from(r).toString('hex')),
    recs.map((r) => Buffer.from(r).toString('hex')),
  );
  // A Buffer slice with a non-zero byteOffset (how NATS hands out message data) decodes the same.
  const padded = Buffer.concat([Buffer.alloc(7), Buffer.from(body)]).subarray(7);
  assert.equal(decodeRecords(padded).length, 3);
  assert.throws(() => decodeRecords(body.subarray(0, body.length - 1)), WireFormatError);
  assert.throws(() => decodeRecords(Uint8Array.of(0, 0)), WireFormatError);
  assert.deepEqual(decodeRecords(new Uint8Array(0)), []);
});

test('PartCutter cuts at the target and keeps every record once, in order', () => {
  const cutter = new PartCutter(100);
  const parts: Uint8Array[] = [];
  const sent: number[] = [];
  const scratch = new Uint8Array(64);
  for (let i = 0; i < 50; i++) {
    // One reused buffer, as the replication socket's: the cutter copies.
    scratch.fill(i);
    const rec = scratch.subarray(0, 1 + (i % 13));
    sent.push(i);
    const full = cutter.push(rec);
    if (full) parts.push(full);
  }
  if (!cutter.empty) parts.push(cutter.flush());
  assert.ok(parts.length > 3);
  const seen: number[] = [];
  for (const p of parts) {
    // A part is cut as soon as it reaches the target: never more than one record past it.
    assert.ok(p.length < 100 + 4 + 13, `part of ${p.length} bytes`);
    for (const r of decodeRecords(p)) seen.push(r[0] ?? -1);
  }
  assert.deepEqual(seen, sent);
  assert.equal(cutter.empty, true);
  assert.equal(cutter.pendingBytes, 0);
  // A record larger than the buffer is one part of its own.
  const big = new Uint8Array(300_000).fill(7);
  const part = new PartCutter(100).push(big);
  assert.ok(part);
  assert.equal(decodeRecords(part)[0]?.length, 300_000);
});

test('stream names and subjects', () => {
  assert.equal(changesSubject('OUTPOST'), 'OUTPOST.changes');
  assert.equal(validStreamName('OUTPOST'), true);
  assert.equal(validStreamName('eu-west_1'), true);
  assert.equal(validStreamName('a.b'), false);
  assert.equal(validStreamName('a b'), false);
  assert.equal(validStreamName(''), false);
  assert.equal(validStreamName('*'), false);
});
