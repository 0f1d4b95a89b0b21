/**
 * src/upstream-locale.ts against real Postgres 17 (embedded) and Debian's 15:
 * which collations order text by code point (like SQLite's BINARY), and the
 * learned lower()/upper() of a database whose ctype is not C, checked on
 * strings with non-ASCII letters, combining marks, emoji and supplementary
 * planes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { probeTextLocale, type Query, sortsByCodePoint } from '../src/upstream-locale.js';
import { PG15_BIN, type PostgresInstance, startPostgres } from './helpers/postgres.js';

const SAMPLES = [
  'Straße ÉCOLE ǅungla İi ıI',
  'ΣΊΣΥΦΟΣ σίσυφος ς',
  'e\u0301 E\u0301 a\u0308 Ä',
  '😀 👍🏻 𐐀𐐨 𝐀 \u{10ffff} \u{e0061}',
  'Ⅻ ⅻ ① Ａｚ ｚ Ωω K k',
  'ǈ ǉ Ǉ ﬁ ŉ ſ',
];

const q =
  (c: pg.Client): Query =>
  async <R>(sql: string, params?: unknown[]) =>
    (await c.query(sql, params)).rows as R[];

for (const [label, bin] of [
  ['Postgres 17', undefined],
  ['Postgres 15', PG15_BIN],
] as const) {
  describe(`upstream text locale (${label})`, () => {
    let pgi: PostgresInstance;
    const clients: pg.Client[] = [];
    const open = async (database: string): Promise<pg.Client> => {
      const c = await pgi.connect({ database });
      clients.push(c);
      return c;
    };

    before(async () => {
      pgi = await startPostgres(bin ? { bin } : {});
      await pgi.query("CREATE DATABASE libc_utf8 TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'");
      if (pgi.version >= 17) {
        await pgi.query(
          "CREATE DATABASE builtin_utf8 TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8' LOCALE 'C'",
        );
      }
      await pgi.query(
        "CREATE DATABASE icu_und TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C'",
      );
    });

    after(async () => {
      for (const c of clients) await c.end().catch(() => {});
      await pgi?.stop();
    });

    test('a C database: C, POSIX, ucs_basic and the default order by code point, fold ASCII', async () => {
      const l = await probeTextLocale(q(await open('postgres')));
      for (const name of ['C', 'POSIX', 'ucs_basic', 'default'])
        assert.ok(l.codePointCollations.includes(name), name);
      if (pgi.version >= 17) assert.ok(l.codePointCollations.includes('pg_c_utf8'));
      assert.deepEqual([...l.asciiCtypeCollations].sort(), ['C', 'POSIX', 'default', 'ucs_basic']);
      assert.equal(l.caseMap, undefined);
      assert.equal(l.versionNum >= pgi.version * 10000, true);
    });

    test("libc C.UTF-8: glibc's code point order is confirmed, the case map is exact", async () => {
      const c = await open('libc_utf8');
      const l = await probeTextLocale(q(c));
      assert.ok(l.codePointCollations.includes('default'), JSON.stringify(l.notes));
      assert.ok(!l.asciiCtypeCollations.includes('default'));
      assert.ok(l.caseMap && l.caseMap.size > 2000, 'case map learned');
      for (const s of SAMPLES) {
        const r = await c.query<{ l: string; u: string }>('select lower($1) l, upper($1) u', [s]);
        assert.equal(l.caseMap.lower(s), r.rows[0]?.l, `lower(${s})`);
        assert.equal(l.caseMap.upper(s), r.rows[0]?.u, `upper(${s})`);
      }
    });

    test('builtin C.UTF-8 (17+): code point order and its simple case mapping', async (t) => {
      if (pgi.version < 17) return t.diagnostic('no builtin provider before Postgres 17');
      const c = await open('builtin_utf8');
      const l = await probeTextLocale(q(c));
      assert.ok(l.codePointCollations.includes('default'));
      assert.ok(l.caseMap, 'case map learned');
      for (const s of SAMPLES) {
        const r = await c.query<{ l: string; u: string }>('select lower($1) l, upper($1) u', [s]);
        assert.equal(l.caseMap.lower(s), r.rows[0]?.l);
        assert.equal(l.caseMap.upper(s), r.rows[0]?.u);
      }
    });

    test('ICU: neither order nor case mapping is claimed; the probe rejects a linguistic order', async () => {
      const c = await open('icu_und');
      const l = await probeTextLocale(q(c));
      assert.ok(!l.codePointCollations.includes('default'));
      assert.equal(l.caseMap, undefined);
      assert.equal(await sortsByCodePoint(q(c), 'und-x-icu'), false);
      assert.equal(await sortsByCodePoint(q(c), 'C'), true);
    });
  });
}
