/**
 * ReplyTracker: matching upstream's replies to the messages sent, as the
 * protocol defines, without sockets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Expectation, type Outcome, ReplyTracker } from '../src/server/upstream-replies.js';
import { SCAN_DROP, SCAN_OBSERVE } from '../src/wire/frames.js';

const code = (c: string) => c.charCodeAt(0);

/** Feeds upstream messages (type letters; Z carries its status) through visit + message. */
function feed(t: ReplyTracker, types: string): number[] {
  const flags: number[] = [];
  for (const c of types) {
    flags.push(t.visit(code(c)));
    t.message(
      code(c),
      c === 'Z' ? Buffer.from('I') : c === 'C' ? Buffer.from('SELECT 1\0') : Buffer.alloc(0),
    );
  }
  return flags;
}

function expecting(kind: Expectation['kind'], log: string[], extra: Partial<Expectation> = {}): Expectation {
  return { kind, hidden: false, settle: (o: Outcome) => log.push(`${kind}:${o}`), ...extra };
}

describe('ReplyTracker', () => {
  test('a pipelined batch: each reply settles its message; ReadyForQuery ends it', () => {
    const t = new ReplyTracker();
    const log: string[] = [];
    for (const k of ['parse', 'bind', 'describe-portal', 'execute', 'close', 'sync'] as const) {
      t.push(expecting(k, log));
    }
    assert.equal(t.owedReady(), 1);
    feed(t, '12TDDC3Z');
    assert.deepEqual(log, ['parse:ok', 'bind:ok', 'describe-portal:ok', 'execute:ok', 'close:ok', 'sync:ok']);
    assert.ok(t.isEmpty());
    assert.equal(t.unmatched, 0);
  });

  test('an error discards the rest until Sync, including messages sent after the error arrived', () => {
    const t = new ReplyTracker();
    const log: string[] = [];
    t.push(expecting('parse', log));
    t.push(expecting('bind', log));
    feed(t, 'E');
    assert.deepEqual(log, ['parse:error', 'bind:skipped']);
    // Sent after upstream's error: upstream discards them too.
    t.push(expecting('execute', log));
    t.push(expecting('query', log));
    t.push(expecting('sync', log));
    assert.deepEqual(log.slice(2), ['execute:skipped', 'query:skipped']);
    feed(t, 'Z');
    assert.equal(log.at(-1), 'sync:ok');
    assert.ok(t.isEmpty());
    assert.equal(t.unmatched, 0);
    // Back to normal after the Sync.
    t.push(expecting('parse', log));
    feed(t, '1');
    assert.equal(log.at(-1), 'parse:ok');
  });

  test('an error in a simple Query does not skip; Describe statement takes ParameterDescription then NoData', () => {
    const t = new ReplyTracker();
    const log: string[] = [];
    t.push(expecting('query', log));
    t.push(expecting('describe-statement', log));
    t.push(expecting('sync', log));
    feed(t, 'EZtnZ');
    assert.deepEqual(log, ['query:ok', 'describe-statement:ok', 'sync:ok']);
  });

  test('hidden messages: their replies are dropped, errors are not (unless hidden too)', () => {
    const t = new ReplyTracker();
    const log: string[] = [];
    t.push(expecting('parse', log, { hidden: true }));
    t.push(expecting('execute', log, { hidden: true }));
    t.push(expecting('bind', log));
    const flags = feed(t, '1DDs2');
    assert.deepEqual(
      flags.map((f) => (f & SCAN_DROP) !== 0),
      [true, true, true, true, false],
    );
    t.push(expecting('parse', log, { hidden: true }));
    assert.equal(t.visit(code('E')), SCAN_OBSERVE, 'an error of a hidden message reaches the client');
    const silent = new ReplyTracker();
    silent.push(expecting('parse', log, { hidden: true, hideErrors: true }));
    assert.equal(silent.visit(code('E')), SCAN_OBSERVE | SCAN_DROP);
    assert.equal(t.visit(code('N')), 0, 'notices always pass');
  });

  test('CommandComplete tags reach `complete`; Syncs right after a COPY FROM STDIN get no reply', () => {
    const t = new ReplyTracker();
    const log: string[] = [];
    const tags: string[] = [];
    t.push(expecting('execute', log, { complete: (tag) => tags.push(tag) }));
    t.push(expecting('sync', log));
    feed(t, 'G');
    assert.equal(t.owedReady(), 0, 'the Sync sent during copy-in is ignored upstream');
    t.push(expecting('sync', log));
    feed(t, 'CZ');
    assert.deepEqual(tags, ['SELECT 1']);
    assert.deepEqual(log, ['sync:skipped', 'execute:ok', 'sync:ok']);
    assert.equal(t.unmatched, 0);
  });
});
