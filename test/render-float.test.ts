/**
 * Float rendering against Postgres's own float8out/float4out (shortest
 * round-trip digits, extra_float_digits ≥ 1) over thousands of values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { NotLocal } from '../src/errors.js';
import { formatFloat4, formatFloat8, rendererFor } from '../src/sql/render.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { rawTypes } from './helpers/replica-fixture.js';

let pgi: PostgresInstance;
let client: pg.Client;

before(async () => {
  pgi = await startPostgres();
  client = await pgi.connect();
});

after(async () => {
  await client?.end();
  await pgi?.stop();
});

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function float8Values(): number[] {
  const rand = rng(42);
  const view = new DataView(new ArrayBuffer(8));
  const out: number[] = [
    0.1 + 0.2,
    -0,
    0,
    1,
    -1,
    100,
    0.1,
    1e20,
    1.5e-5,
    123456789012345680,
    1e15,
    1e14,
    999999999999999.9,
  ];
  out.push(
    0.0001,
    0.00001,
    0.00012345,
    0.000099999,
    1e-4 * (1 - Number.EPSILON),
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
  );
  out.push(
    Number.MIN_VALUE,
    2.2250738585072014e-308,
    2.225073858507201e-308,
    5e-324 * 12345,
    2 ** 53,
    2 ** 53 + 2,
  );
  out.push(
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.NaN,
    2 ** 53 + 4,
    5e-324,
    1.7976931348623157e308,
  );
  for (let e = -323; e <= 308; e++) {
    out.push(Number(`1e${e}`), Number(`-7.3e${e}`), Number(`9.999999999999999e${e}`));
  }
  for (let k = -1074; k <= 1023; k += 3) out.push(2 ** k);
  for (let i = 0; i < 3000; i++) {
    // Random bit patterns: every exponent, subnormals included.
    view.setUint32(0, Math.floor(rand() * 2 ** 32));
    view.setUint32(4, Math.floor(rand() * 2 ** 32));
    const v = view.getFloat64(0);
    if (!Number.isNaN(v)) out.push(v);
  }
  for (let i = 0; i < 2000; i++) {
    // Short decimals, like real data.
    const digits = 1 + Math.floor(rand() * 8);
    const scale = Math.floor(rand() * 24) - 12;
    out.push(Number(`${Math.floor(rand() * 10 ** digits)}e${scale}`) * (rand() < 0.5 ? -1 : 1));
  }
  return out;
}

function float4Values(): number[] {
  const rand = rng(7);
  const view = new DataView(new ArrayBuffer(4));
  const out: number[] = [
    0.1,
    1 / 3,
    16777216,
    16777217,
    3.4028235e38,
    1.4e-45,
    1.17549435e-38,
    1e-5,
    123456,
    1234567,
  ];
  out.push(999999.94, 100000, 1e6, 0.0001, 0.00001, 2 ** -126, 2 ** -127, 2 ** 24 + 2, 7e-45, 3.3e-44);
  for (let e = -45; e <= 38; e++) out.push(Number(`1e${e}`), Number(`3.3e${e}`));
  for (let k = -149; k <= 127; k++) out.push(2 ** k);
  for (let i = 0; i < 4000; i++) {
    view.setUint32(0, Math.floor(rand() * 2 ** 32));
    const v = view.getFloat32(0);
    if (Number.isFinite(v) && v !== 0) out.push(v);
  }
  for (let i = 0; i < 1500; i++) {
    const digits = 1 + Math.floor(rand() * 7);
    const scale = Math.floor(rand() * 16) - 8;
    out.push(Number(`${1 + Math.floor(rand() * 10 ** digits)}e${scale}`));
  }
  return out.map((v) => Math.fround(v)).filter((v) => Number.isFinite(v) && v !== 0);
}

/** JS number → text Postgres parses back to exactly this value. */
function exact8(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return 'Infinity';
  if (v === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Object.is(v, -0)) return '-0';
  return v.toPrecision(17);
}

describe('float8', () => {
  for (const edf of [1, 3]) {
    test(`formatFloat8 equals float8out with extra_float_digits ${edf}`, async () => {
      const values = float8Values();
      await client.query(`SET extra_float_digits = ${edf}`);
      const res = await client.query<[string]>({
        text: 'SELECT v::float8::text FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i',
        values: [values.map(exact8)],
        rowMode: 'array',
        types: rawTypes,
      });
      assert.equal(res.rows.length, values.length);
      let mismatches = 0;
      const examples: string[] = [];
      for (const [i, v] of values.entries()) {
        const expected = res.rows[i]?.[0];
        const got = formatFloat8(v);
        if (got !== expected) {
          mismatches++;
          if (examples.length < 10) examples.push(`${exact8(v)}: pg ${expected} ours ${got}`);
        }
      }
      assert.equal(mismatches, 0, examples.join('\n'));
    });
  }

  test('renderer: stored REAL → float8 text; NaN and -0 text; REAL zero is +0', () => {
    const render = rendererFor({ typeOid: 701, typeName: 'float8' }, new Map());
    assert.equal(render(1e20), '1e+20');
    assert.equal(render(1.5e-5), '1.5e-05');
    assert.equal(render(0.1 + 0.2), '0.30000000000000004');
    assert.equal(render(100), '100');
    assert.equal(render(Number.NEGATIVE_INFINITY), '-Infinity');
    assert.equal(render('NaN'), 'NaN');
    assert.equal(render(null), null);
    assert.equal(render(0), '0');
    assert.equal(render(0n), '0');
    assert.equal(render('-0'), '-0');
    assert.throws(() => render('0'), NotLocal);
    assert.throws(() => render('1.5'), NotLocal);
    assert.equal(formatFloat8(-0), '-0');
    const render4 = rendererFor({ typeOid: 700, typeName: 'float4' }, new Map());
    assert.equal(render4(0), '0');
    assert.equal(render4('-0'), '-0');
    assert.equal(render4('NaN'), 'NaN');
  });
});

describe('float4', () => {
  test('formatFloat4 equals float4out, and the stored double renders back', async () => {
    const values = float4Values();
    const res = await client.query<[string]>({
      text: 'SELECT v::float4::text FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i',
      values: [values.map((v) => v.toPrecision(9))],
      rowMode: 'array',
      types: rawTypes,
    });
    const render = rendererFor({ typeOid: 700, typeName: 'float4' }, new Map());
    let mismatches = 0;
    const examples: string[] = [];
    for (const [i, v] of values.entries()) {
      const expected = res.rows[i]?.[0] ?? '';
      const got = formatFloat4(v);
      // The replica stores Number(<Postgres text>), not the float32 itself.
      const rendered = render(Number(expected));
      if (got !== expected || rendered !== expected) {
        mismatches++;
        if (examples.length < 10)
          examples.push(`${v.toPrecision(9)}: pg ${expected} ours ${got} rendered ${rendered}`);
      }
    }
    assert.equal(mismatches, 0, examples.join('\n'));
    assert.ok(values.length > 4000);
  });
});
