/**
 * Collations exactly (issue 16): in databases created with libc's
 * LOCALE 'C.UTF-8' (Postgres 17 and Debian's 15) and with the builtin
 * provider's C.UTF-8 (17), text ORDER BY, comparisons, DISTINCT, GROUP BY,
 * min/max, window order, lower()/upper()/ILIKE and COLLATE clauses over
 * non-ASCII letters, combining marks, emoji, supplementary-plane and
 * ignorable characters are answered locally and equal Postgres's answers
 * (in-process Router over a replica copy), and the same reads through a real
 * Outpost process run by its executor processes, which get the learned case
 * map at spawn.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type Corpus, differ, startCorpus } from './corpus/harness.js';
import { eventually, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { PG15_BIN, type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { sameThrough } from './helpers/through.js';

const WORDS = [
  'abc',
  'ABC',
  'Abc',
  'ábc',
  'Ábc',
  'a\u0301bc',
  'zebra',
  'Zebra',
  'Émile',
  'émile',
  'e\u0301mile',
  'straße',
  'STRASSE',
  'Straße',
  'ẞ',
  'ǅ',
  'ǆ',
  'Ǆ',
  'İ',
  'i',
  'ı',
  'I',
  'Σ',
  'σ',
  'ς',
  'ΣΑΣ',
  '😀',
  '😀a',
  'a😀',
  '👍🏽',
  '𐐀',
  '𐐨',
  '𝐀',
  '\u{10ffff}',
  '\u{e0061}',
  '\uffff',
  '\ufffd',
  '日本',
  '本日',
  '',
  ' ',
  'a b',
  'a-b',
  'ab',
  'a_b',
  'ﬁ',
  'K',
  'k',
  '\u212a',
  'Ω',
  'ω',
  '\u2126',
  'x\u00ady',
  'x\u200by',
  'xy',
  'Ⅻ',
  'ⅻ',
  'Ａ',
  'ａ',
  'ŉ',
  'ſ',
];

const DATA_SQL = [
  'CREATE TABLE words (id int PRIMARY KEY, w text, v varchar(40), c text COLLATE "C")',
  'INSERT INTO words SELECT n, w, left(w, 3), w FROM unnest($1::text[]) WITH ORDINALITY AS t(w, n)',
  "INSERT INTO words VALUES (1000, NULL, NULL, NULL), (1001, 'abc', 'abc', 'abc')",
];

/** Each must be local and identical. `~`: row order unspecified (compared as a multiset). */
function statements(version: number): string[] {
  return [
    'SELECT id, w FROM words ORDER BY w, id',
    'SELECT id, w FROM words ORDER BY w DESC NULLS LAST, id',
    'SELECT id, v FROM words ORDER BY v, id',
    'SELECT DISTINCT w FROM words ORDER BY w',
    '~SELECT DISTINCT w FROM words',
    'SELECT min(w), max(w), min(v), max(v), count(DISTINCT w) FROM words',
    'SELECT w, count(*) FROM words GROUP BY w ORDER BY w',
    "SELECT id FROM words WHERE w < 'b' ORDER BY id",
    "SELECT id FROM words WHERE w > 'é' ORDER BY id",
    "SELECT id FROM words WHERE w BETWEEN 'a' AND 'z' ORDER BY id",
    "SELECT id FROM words WHERE w >= '😀' ORDER BY id",
    "SELECT id FROM words WHERE w < '\uffff' AND w > '\u0300' ORDER BY id",
    "SELECT id FROM words WHERE w = 'straße' OR w = 'e\u0301mile' ORDER BY id",
    "SELECT id, greatest(w, 'm'), least(w, 'm') FROM words ORDER BY id",
    'SELECT id, row_number() OVER (ORDER BY w, id) FROM words ORDER BY id',
    "SELECT string_agg(w, ',' ORDER BY w, id) FROM words",
    'SELECT id, lower(w), upper(w), lower(v), upper(v) FROM words ORDER BY id',
    "SELECT id FROM words WHERE w ILIKE '%É%' ORDER BY id",
    "SELECT id FROM words WHERE w ILIKE 'strasse' OR w ILIKE 'STRAßE' ORDER BY id",
    "SELECT id FROM words WHERE w ILIKE 'σ' ORDER BY id",
    "SELECT id FROM words WHERE w ILIKE '_' ORDER BY id",
    "SELECT id FROM words WHERE w ILIKE '%😀%' ORDER BY id",
    "SELECT id FROM words WHERE w NOT ILIKE '%i%' ORDER BY id",
    "SELECT id FROM words WHERE w ILIKE 'A\\_B' ORDER BY id",
    "SELECT id FROM words WHERE lower(w) = lower('ÉMILE') ORDER BY id",
    "SELECT id FROM words WHERE upper(w) LIKE upper('%é%') ORDER BY id",
    'SELECT lower(w), count(*) FROM words GROUP BY lower(w) ORDER BY lower(w)',
    'SELECT id, upper(w COLLATE "C"), lower(w COLLATE "C") FROM words ORDER BY id',
    'SELECT id FROM words WHERE w COLLATE "C" ILIKE \'%é%\' ORDER BY id',
    'SELECT id, w FROM words ORDER BY w COLLATE "C", id',
    'SELECT id, w FROM words ORDER BY w COLLATE "POSIX" DESC, id',
    'SELECT id, w FROM words ORDER BY w COLLATE ucs_basic, id',
    'SELECT id, w FROM words ORDER BY w COLLATE "C.utf8", id',
    ...(version >= 17 ? ['SELECT id, w FROM words ORDER BY w COLLATE pg_c_utf8, id'] : []),
    'SELECT id, c, lower(c), upper(c) FROM words ORDER BY c, id',
    "SELECT id FROM words WHERE c ILIKE '%É%' ORDER BY id",
    'SELECT max(c), min(c) FROM words',
    'SELECT a.id, b.id FROM words a JOIN words b ON a.w < b.w WHERE a.id < 6 AND b.id < 6 ORDER BY a.id, b.id',
  ];
}

type Flavour = { label: string; bin?: string; create: string };

const FLAVOURS: Flavour[] = [
  {
    label: 'Postgres 17, libc C.UTF-8',
    create: "CREATE DATABASE words TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'",
  },
  {
    label: 'Postgres 17, builtin C.UTF-8',
    create:
      "CREATE DATABASE words TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8' LOCALE 'C'",
  },
  {
    label: 'Postgres 15, libc C.UTF-8',
    bin: PG15_BIN,
    create: "CREATE DATABASE words TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'",
  },
];

async function createWords(pgi: PostgresInstance, create: string): Promise<void> {
  await pgi.query(create);
  for (const sql of DATA_SQL) await pgi.query(sql, sql.includes('$1') ? [WORDS] : [], 'words');
}

for (const f of FLAVOURS) {
  describe(`collations: ${f.label}`, () => {
    let c: Corpus;

    before(async () => {
      c = await startCorpus(f.bin, {
        setup: (pgi) => createWords(pgi, f.create),
        database: 'words',
        tables: ['words'],
      });
    });

    after(async () => {
      await c?.close();
    });

    test('text order, comparisons, DISTINCT, min/max and case mapping: local and identical', async () => {
      const problems: string[] = [];
      for (const q of statements(c.pgi.version)) {
        const unordered = q.startsWith('~');
        const sql = unordered ? q.slice(1) : q;
        try {
          const out = await differ(c, sql, unordered);
          if (out.kind !== 'local') problems.push(`${out.kind} (${JSON.stringify(out)}): ${sql}`);
        } catch (err) {
          problems.push(err instanceof Error ? err.message : String(err));
        }
      }
      assert.deepEqual(problems, []);
    });
  });
}

describe('collations through Outpost: executors use the learned case map', () => {
  let upstream: PostgresInstance;
  let outpost: OutpostProcess;
  let direct: pg.Client;
  let through: pg.Client;

  before(async () => {
    upstream = await startPostgres();
    await createWords(upstream, FLAVOURS[0]?.create as string);
    // A user's collation named like a built-in one, in another schema: ICU's root order, not C.
    await upstream.query(
      `CREATE COLLATION public."C" (provider = icu, locale = 'und');
       CREATE TABLE lookalike (id int PRIMARY KEY, x text COLLATE public."C");
       INSERT INTO lookalike VALUES (1, 'b'), (2, 'B'), (3, 'a'), (4, 'A'), (5, 'é')`,
      [],
      'words',
    );
    outpost = await startOutpost({
      upstream: upstream.url({ database: 'words' }),
      replica: join(mkdtempSync(join(tmpdir(), 'outpost-collation-')), 'replica.db'),
      args: ['--workers', '1'],
    });
    await outpost.ready();
    direct = await upstream.connect({ database: 'words' });
    through = new pg.Client({
      connectionString: `postgres://${upstream.user}:${upstream.password}@127.0.0.1:${outpost.port}/words`,
    });
    through.on('error', () => {});
    await through.connect();
    await eventually(
      async () => {
        await through.query('SELECT count(*) FROM words');
        const r = await through.query<{ last_route: string }>('SHOW outpost.last_route');
        return r.rows[0]?.last_route === 'local';
      },
      20_000,
      'a local read',
    );
  });

  after(async () => {
    await through?.end().catch(() => {});
    await direct?.end().catch(() => {});
    await outpost?.stop();
    await upstream?.stop();
  });

  test('ORDER BY, lower/upper and ILIKE through the proxy', async () => {
    for (const sql of [
      'SELECT id, w FROM words ORDER BY w, id',
      'SELECT id, lower(w), upper(w) FROM words ORDER BY id',
      "SELECT id FROM words WHERE w ILIKE '%É%' OR w ILIKE 'σ' ORDER BY id",
      "SELECT id FROM words WHERE lower(w) = lower('STRASSE') ORDER BY id",
    ]) {
      assert.equal(await sameThrough(through, direct, sql), 'local', sql);
    }
  });

  test('a column of a look-alike collation in another schema is forwarded', async () => {
    await sameThrough(through, direct, 'SELECT count(*) FROM lookalike');
    const route = await sameThrough(through, direct, 'SELECT id, x FROM lookalike ORDER BY x, id');
    assert.match(route, /upstream: .*collation public\.C/);
  });
});
