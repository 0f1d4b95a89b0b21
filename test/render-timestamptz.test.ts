/**
 * timestamptz conversion from the stored UTC text to each verified zone,
 * compared with Postgres's own output (its tz database) at random instants
 * and around every UTC-offset transition in 1970–2037.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { NotLocal } from '../src/errors.js';
import { convertTimestamptz, formatOffset, rendererFor, VERIFIED_ZONES } from '../src/sql/render.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { rawTypes } from './helpers/replica-fixture.js';

let pgi: PostgresInstance;
let client: pg.Client;

before(async () => {
  pgi = await startPostgres();
  client = await pgi.connect();
  await client.query("SET DateStyle = 'ISO'");
});

after(async () => {
  await client?.end();
  await pgi?.stop();
});

const START = Date.UTC(1970, 0, 1, 0, 0, 0) / 1000;
const END = Date.UTC(2037, 11, 31, 12, 0, 0) / 1000;

/** Epoch seconds (with microseconds) → [stored UTC text, text in zone], from Postgres. */
async function outputs(epochs: number[]): Promise<[string, string][]> {
  const res = await client.query<[string, string]>({
    text: `SELECT (to_timestamp(e) AT TIME ZONE 'UTC')::text || '+00', to_timestamp(e)::text
             FROM unnest($1::float8[]) WITH ORDINALITY AS u(e, i) ORDER BY i`,
    values: [epochs],
    rowMode: 'array',
    types: rawTypes,
  });
  return res.rows;
}

describe('timestamptz in verified zones equals Postgres', () => {
  for (const zone of VERIFIED_ZONES) {
    test(zone, async () => {
      await client.query(`SET TimeZone = '${zone}'`);
      // Every instant where the zone's UTC offset changes, found by Postgres.
      const transitions = await client.query<[string]>({
        text: `SELECT x FROM generate_series($1::int8, $2::int8, 3600) x
                WHERE extract(timezone FROM to_timestamp(x)) <> extract(timezone FROM to_timestamp(x - 3600))`,
        values: [START + 3600, END],
        rowMode: 'array',
        types: rawTypes,
      });
      const epochs: number[] = [];
      for (const [t] of transitions.rows) {
        const x = Number(t);
        // Offsets change on the hour or half hour; probe both sides.
        for (const d of [-7200, -3601, -3600, -1800, -1, 0, 1, 1799, 1800, 3599, 3600, 7200])
          epochs.push(x + d);
      }
      let seed = zone.length * 7919;
      for (let i = 0; i < 1500; i++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const micros = seed % 1000000;
        epochs.push(
          START + Math.floor((seed / 2147483648) * (END - START)) + (i % 3 === 0 ? micros / 1e6 : 0),
        );
      }
      const rows = await outputs(epochs);
      let mismatches = 0;
      const examples: string[] = [];
      for (const [stored, expected] of rows) {
        let got: string;
        try {
          got = convertTimestamptz(stored, zone, 2037);
        } catch (err) {
          got = `NotLocal ${(err as NotLocal).reason}`;
        }
        if (got !== expected) {
          mismatches++;
          if (examples.length < 10) examples.push(`${stored}: pg ${expected} ours ${got}`);
        }
      }
      assert.equal(mismatches, 0, examples.join('\n'));
      assert.ok(
        transitions.rows.length > 0 ||
          zone === 'Asia/Kolkata' ||
          zone === 'Asia/Tokyo' ||
          zone === 'Asia/Shanghai' ||
          zone === 'Asia/Hong_Kong' ||
          zone === 'America/Phoenix',
      );
    });
  }
});

describe('timestamptz renderer rules', () => {
  test('UTC-equivalent zones render the stored text as is (BC, infinity, 5-digit years too)', () => {
    for (const zone of ['UTC', 'utc', 'Etc/UTC', 'GMT', 'Zulu', 'UCT', 'Universal', 'Etc/GMT']) {
      const render = rendererFor(
        { typeOid: 1184, typeName: 'timestamptz' },
        new Map([
          ['TimeZone', zone],
          ['DateStyle', 'ISO, MDY'],
        ]),
      );
      for (const v of [
        '2024-01-31 12:34:56.789+00',
        'infinity',
        '-infinity',
        '0044-03-15 12:00:00+00 BC',
        '12345-01-01 00:00:00+00',
      ]) {
        assert.equal(render(v), v);
      }
    }
  });

  test('Postgres agrees those zones print +00', async () => {
    for (const zone of [
      'UTC',
      'utc',
      'Etc/UTC',
      'GMT',
      'Zulu',
      'UCT',
      'Universal',
      'Etc/GMT',
      'Greenwich',
      'GMT0',
    ]) {
      await client.query(`SET TimeZone = '${zone}'`);
      const r = await client.query<[string]>({
        text: "SELECT '2024-01-31 12:34:56.789+00'::timestamptz::text, '0044-03-15 12:00:00+00 BC'::timestamptz::text, '1901-05-06 01:02:03+00'::timestamptz::text",
        rowMode: 'array',
        types: rawTypes,
      });
      assert.deepEqual(
        r.rows[0],
        ['2024-01-31 12:34:56.789+00', '0044-03-15 12:00:00+00 BC', '1901-05-06 01:02:03+00'],
        zone,
      );
    }
  });

  test('non-ISO DateStyle, unknown or unverified zone, out-of-range years', () => {
    const col = { typeOid: 1184, typeName: 'timestamptz' };
    assert.throws(
      () =>
        rendererFor(
          col,
          new Map([
            ['TimeZone', 'UTC'],
            ['DateStyle', 'Postgres, MDY'],
          ]),
        ),
      NotLocal,
    );
    assert.throws(
      () =>
        rendererFor(
          col,
          new Map([
            ['TimeZone', 'America/Sao_Paulo'],
            ['DateStyle', 'ISO'],
          ]),
        ),
      NotLocal,
    );
    assert.throws(
      () =>
        rendererFor(
          col,
          new Map([
            // A POSIX spec with daylight-saving rules (fixed offsets are rendered).
            ['TimeZone', '<+05>-05<+06>,M3.5.0,M10.5.0'],
            ['DateStyle', 'ISO'],
          ]),
        ),
      NotLocal,
    );
    assert.throws(() => rendererFor(col, new Map([['DateStyle', 'ISO']])), NotLocal);
    const berlin = rendererFor(
      col,
      new Map([
        ['TimeZone', 'Europe/Berlin'],
        ['DateStyle', 'ISO'],
      ]),
    );
    assert.equal(berlin('infinity'), 'infinity');
    assert.throws(() => berlin('1969-12-31 23:59:59+00'), NotLocal);
    assert.throws(() => berlin('2038-01-01 00:00:00+00'), NotLocal);
    assert.throws(() => berlin(`${new Date().getUTCFullYear() + 2}-01-01 00:00:00+00`), NotLocal);
    assert.throws(() => berlin('0044-03-15 12:00:00+00 BC'), NotLocal);
  });

  test('offset formats', () => {
    assert.equal(formatOffset(0), '+00');
    assert.equal(formatOffset(19800), '+05:30');
    assert.equal(formatOffset(-12600), '-03:30');
    assert.equal(formatOffset(1172), '+00:19:32');
    assert.equal(formatOffset(-36000), '-10');
  });
});
