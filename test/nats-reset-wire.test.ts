import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeHeader, encodeHeader, HDR_MSG_ID, headerLsn } from '../src/nats/wire-format.js';
import { parseLsn } from '../src/replication/lsn.js';

function reader(pairs: Array<[string, string]>) {
  const m = new Map(pairs);
  return { get: (k: string) => m.get(k) ?? '' };
}

test('reset headers round-trip with msg id reset:<L>, and say whether the hub publishes a snapshot', () => {
  const lsn = parseLsn('2/1F00');
  for (const snapshot of [true, false]) {
    const pairs = encodeHeader({ kind: 'reset', lsn, time: 77, snapshot });
    const m = new Map(pairs);
    assert.equal(m.get(HDR_MSG_ID), 'reset:2/1F00');
    assert.equal(m.get('Outpost-Kind'), 'reset');
    assert.equal(m.get('Outpost-Lsn'), '2/1F00');
    assert.equal(m.get('Outpost-Snapshot'), snapshot ? '1' : '0');
    const h = decodeHeader(reader(pairs));
    assert.deepEqual(h, { kind: 'reset', lsn, time: 77, snapshot });
    assert.equal(headerLsn(h), lsn);
  }
  // A reset without the snapshot header (absent = '') promises no object-store snapshot.
  const bare = reader([
    ['Outpost-Kind', 'reset'],
    ['Outpost-Lsn', '0/10'],
  ]);
  assert.deepEqual(decodeHeader(bare), { kind: 'reset', lsn: parseLsn('0/10'), time: 0, snapshot: false });
});
