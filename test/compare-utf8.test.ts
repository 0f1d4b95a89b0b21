/** compareUtf8 (src/sql/functions.ts) orders strings exactly like their UTF-8 bytes (C collation, min/max, sorts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareUtf8 } from '../src/sql/functions.js';

test('compareUtf8 agrees with Buffer.compare of the UTF-8 bytes, surrogate pairs and U+E000-U+FFFF included', () => {
  const pieces = [
    '',
    'a',
    'b',
    'Z',
    'é',
    '\uD7FF',
    '\uE000',
    '\uFFFF',
    '\u{10000}',
    '\u{1F600}',
    '\u{1F601}',
  ];
  const strings = new Set<string>();
  for (const x of pieces) for (const y of pieces) for (const z of pieces) strings.add(x + y + z);
  const list = [...strings];
  let compared = 0;
  for (const a of list) {
    for (const b of list) {
      const want = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
      assert.equal(compareUtf8(a, b), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      compared++;
    }
  }
  assert.ok(compared > 1_000_000);
});
