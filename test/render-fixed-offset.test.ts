/**
 * timestamptz under a fixed-offset TimeZone (the POSIX spec Postgres reports
 * for `SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE`, Sequelize's default,
 * or `SET TIME ZONE -5`): the local rendering compared with Postgres's output
 * for random and edge instants in every ISO DateStyle, and whole statements
 * of the differential corpus answered under such sessions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NotLocal } from '../src/errors.js';
import { fixedOffsetSeconds, isUtcZone, rendererFor } from '../src/sql/render.js';
import { prng } from './corpus/generator.js';
import { type Corpus, differ, startCorpus } from './corpus/harness.js';
import { rawTypes } from './helpers/replica-fixture.js';

let c: Corpus;

before(async () => {
  c = await startCorpus();
});

after(async () => {
  await c?.close();
});

/** SET TIME ZONE forms; Postgres reports each as a `<name>posix` spec. */
const ZONES: [string, string][] = [
  ["INTERVAL '+00:00' HOUR TO MINUTE", '<+00>-00'],
  ["INTERVAL '-05:00' HOUR TO MINUTE", '<-05>+05'],
  ["INTERVAL '+05:30' HOUR TO MINUTE", '<+05:30>-05:30'],
  ["INTERVAL '-12:45' HOUR TO MINUTE", '<-12:45>+12:45'],
  ["INTERVAL '+14' HOUR", '<+14>-14'],
  ['-3', '<-03>+03'],
  ['9.5', '<+09:30>-09:30'],
  ["'<+01>-01'", '<+01>-01'],
];

const DATESTYLES = ['ISO', 'ISO, DMY', 'ISO, MDY', 'ISO, YMD'];

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Stored forms (UTC, ISO, fraction without trailing zeros) of random and edge instants. */
function storedValues(): string[] {
  const rnd = prng(20261121);
  const out = [
    'infinity',
    '-infinity',
    '0001-01-01 00:00:00+00',
    '0001-01-01 15:00:00+00',
    '9999-12-31 09:00:00+00',
    '9999-12-31 23:59:59.999999+00',
    '2024-02-29 23:30:00.5+00',
    '1999-12-31 23:59:59.000001+00',
    '1970-01-01 00:00:00+00',
  ];
  for (let i = 0; i < 300; i++) {
    const year = i % 3 === 0 ? 1 + Math.floor(rnd() * 9999) : 1900 + Math.floor(rnd() * 200);
    const d = new Date(0);
    d.setUTCFullYear(year, 0, 1);
    d.setUTCHours(0, 0, 0, 0);
    const ms = d.getTime() + Math.floor(rnd() * 365 * 86400) * 1000;
    const t = new Date(ms);
    if (t.getUTCFullYear() > 9999) continue;
    const micros = rnd() < 0.5 ? 0 : Math.floor(rnd() * 1_000_000);
    const frac = micros === 0 ? '' : `.${pad(micros, 6).replace(/0+$/, '')}`;
    out.push(
      `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ` +
        `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}${frac}+00`,
    );
  }
  return out;
}

async function pgOutputs(values: string[]): Promise<string[]> {
  const r = await c.client.query<[string]>({
    text: 'SELECT v::timestamptz::text FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i',
    values: [values],
    rowMode: 'array',
    types: rawTypes,
  });
  return r.rows.map((row) => row[0]);
}

describe('fixed-offset TimeZone', () => {
  test('the stored values are in the stored form (output at UTC)', async () => {
    await c.client.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'");
    const values = storedValues();
    assert.deepEqual(await pgOutputs(values), values);
  });

  for (const [set, reported] of ZONES) {
    test(`SET TIME ZONE ${set}: every ISO DateStyle renders like Postgres`, async () => {
      await c.client.query(`SET TIME ZONE ${set}`);
      const zone = (await c.client.query<{ TimeZone: string }>('SHOW TimeZone')).rows[0]?.TimeZone;
      assert.equal(zone, reported);
      assert.equal(c.session.params.get('TimeZone'), reported, 'reported in ParameterStatus');
      assert.notEqual(fixedOffsetSeconds(reported), undefined);
      const values = storedValues();
      let converted = 0;
      for (const style of DATESTYLES) {
        await c.client.query(`SET DateStyle = '${style}'`);
        const expected = await pgOutputs(values);
        const render = rendererFor({ typeOid: 1184, typeName: 'timestamptz' }, c.session.params);
        for (const [i, v] of values.entries()) {
          let got: string | null;
          try {
            got = render(v);
          } catch (err) {
            // Only results outside years 1-9999 AD (a BC suffix, a 5-digit year) are forwarded.
            assert.ok(err instanceof NotLocal, String(err));
            assert.match(expected[i] ?? '', / BC$|^\d{5}-/, `${v} forwarded at ${reported}: ${err.reason}`);
            continue;
          }
          assert.equal(got, expected[i], `${v} at ${reported}, DateStyle ${style}`);
          converted++;
        }
      }
      assert.ok(converted > DATESTYLES.length * 250, `${converted} values rendered locally`);
      await c.client.query('RESET DateStyle');
    });
  }

  test('other DateStyles and zone specs stay forwarded', async () => {
    const params = new Map([
      ['DateStyle', 'SQL, DMY'],
      ['TimeZone', '<-05>+05'],
    ]);
    assert.throws(() => rendererFor({ typeOid: 1184, typeName: 'timestamptz' }, params), NotLocal);
    for (const zone of [
      'UTC+3',
      '<-05>+05<-04>,M3.2.0,M11.1.0',
      '<-05>+04',
      '<+05>+05',
      '<-00>+00',
      'EST5EDT',
    ]) {
      assert.equal(fixedOffsetSeconds(zone), undefined, zone);
      params.set('DateStyle', 'ISO, MDY');
      params.set('TimeZone', zone);
      assert.throws(() => rendererFor({ typeOid: 1184, typeName: 'timestamptz' }, params), NotLocal, zone);
    }
    assert.ok(isUtcZone('<+00>-00'));
    assert.ok(!isUtcZone('<+01>-01'));
  });

  test('corpus statements over timestamptz are local under fixed-offset sessions', async () => {
    const statements = [
      'SELECT id, created_at FROM users ORDER BY id',
      'SELECT id, placed_at FROM orders ORDER BY placed_at NULLS FIRST, id',
      'SELECT * FROM events ORDER BY id',
      'SELECT min(at), max(at) FROM events',
      "SELECT id, at FROM events WHERE at > '2024-03-05 00:00:00+00' ORDER BY at, id LIMIT 5",
      'SELECT user_id, max(placed_at) FROM orders GROUP BY user_id ORDER BY user_id NULLS LAST',
    ];
    for (const [set] of [ZONES[0], ZONES[1], ZONES[2], ZONES[3]] as [string, string][]) {
      await c.client.query(`SET TIME ZONE ${set}`);
      for (const style of ['ISO', 'ISO, DMY']) {
        await c.client.query(`SET DateStyle = '${style}'`);
        for (const sql of statements) {
          const out = await differ(c, sql, false);
          assert.equal(out.kind, 'local', `${sql} at ${set}: ${JSON.stringify(out)}`);
        }
      }
    }
    await c.client.query('RESET ALL');
  });
});
