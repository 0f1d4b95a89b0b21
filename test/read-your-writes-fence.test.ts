/**
 * SessionFence.changed() against a source that tells only the listeners it
 * knows of (an engine thread posts `applied` only while the main thread
 * listens: engine-thread.ts): a position applied between the session's check
 * and its subscription must not leave the read waiting out --ryw-timeout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionFence } from '../src/router/read-your-writes.js';

function source(applied: { lsn: bigint }) {
  return {
    currentLsn: async () => 100n,
    appliedLsn: () => applied.lsn,
    // Never calls the listener: the position moved before it was added.
    onApplied: () => () => {},
    timeoutMs: 10_000,
  };
}

test('a position applied before the listener was added resolves changed() at once', async () => {
  const applied = { lsn: 50n };
  const fence = new SessionFence(source(applied));
  fence.markForwarded();
  fence.knownPosition(100n);
  fence.onReadyForQuery('I');
  assert.equal(fence.check(), 'wait');
  applied.lsn = 100n;
  const t0 = Date.now();
  await fence.changed();
  assert.ok(Date.now() - t0 < 1_000, 'changed() waited for the timeout');
  assert.equal(fence.check(), 'ok');
});

test('a position still behind keeps changed() waiting for the listener or the deadline', async () => {
  const applied = { lsn: 50n };
  const src = { ...source(applied), timeoutMs: 300 };
  const fence = new SessionFence(src);
  fence.markForwarded();
  fence.knownPosition(100n);
  fence.onReadyForQuery('I');
  const t0 = Date.now();
  await fence.changed();
  assert.ok(Date.now() - t0 >= 250, 'changed() resolved before anything changed');
  assert.equal(fence.check(), 'expired');
});
