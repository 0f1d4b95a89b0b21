/**
 * The ORM corpus, differentially (issue 16): every statement captured from
 * the real clients (captured.json, see capture.ts) or written in the
 * documented shapes of the others (documented.ts) runs on the real Postgres
 * (a database created with LOCALE 'C.UTF-8') and through the in-process
 * Router over a replica copied from it. A local answer must equal
 * Postgres's exactly; the local share is reported for the tuned part and for
 * the held-out part, which compiler work must not be tuned on (the split is a
 * hash of the statement, so new statements land on either side), with the
 * held-out part's forwarded reasons by count. Driver bootstrap reads of the
 * system catalogs (pg_type, version()) are counted apart: no replica has them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Corpus, differ, differPrepared, startCorpus } from '../harness.js';
import { createAppDatabase, ORM_DATABASE } from './capture.js';
import { DOCUMENTED } from './documented.js';
import type { Captured } from './tap.js';

export const APP_TABLES = ['accounts', 'users', 'tags', 'posts', 'post_tags', 'comments', 'orders'];

export interface OrmStatement extends Captured {
  source: 'captured' | 'documented';
  part: 'tuned' | 'held-out' | 'driver';
}

/** FNV-1a over the statement and its values: a stable split that needs no list. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const DRIVER = /\bpg_catalog\b|\bpg_type\b|\bpg_range\b|\bversion\(\)|\bcurrent_schema\(\)/i;

export function ormCorpus(): OrmStatement[] {
  const captured = JSON.parse(
    readFileSync(new URL('./captured.json', import.meta.url), 'utf8'),
  ) as Captured[];
  const all = [
    ...captured.map((c) => ({ ...c, source: 'captured' as const })),
    ...DOCUMENTED.map((c) => ({ ...c, source: 'documented' as const })),
  ];
  return all.map((c) => {
    const key = `${c.client}\u0000${c.sql}\u0000${JSON.stringify(c.params ?? null)}`;
    const part = DRIVER.test(c.sql) ? 'driver' : hash(key) % 5 < 2 ? 'held-out' : 'tuned';
    return { ...c, part };
  });
}

/** Row order is only compared where the statement asks for one. */
const unorderedOf = (sql: string): boolean => !/\border\s+by\b/i.test(sql);

export function ormSuite(bin?: string, label = ''): void {
  let c: Corpus;

  before(async () => {
    c = await startCorpus(bin, { setup: createAppDatabase, database: ORM_DATABASE, tables: APP_TABLES });
  });

  after(async () => {
    await c?.close();
  });

  describe(`ORM corpus${label}`, () => {
    test('every local answer equals Postgres; local share of the tuned and held-out parts', async () => {
      const corpus = ormCorpus();
      const failures: string[] = [];
      const tally = new Map<string, { local: number; total: number; reasons: Map<string, number> }>();
      for (const s of corpus) {
        const t = tally.get(s.part) ?? { local: 0, total: 0, reasons: new Map() };
        tally.set(s.part, t);
        const unordered = unorderedOf(s.sql);
        try {
          const out = s.params
            ? await differPrepared(c, s.sql, [s.params], s.types ?? [], unordered)
            : await differ(c, s.sql, unordered);
          if (out.kind === 'pg-error') {
            failures.push(`Postgres error "${out.message}" (${s.client}): ${s.sql}`);
            continue;
          }
          t.total++;
          if (out.kind === 'local') t.local++;
          else {
            const r = out.reason.replace(/\d+/g, 'N').slice(0, 90);
            t.reasons.set(r, (t.reasons.get(r) ?? 0) + 1);
            if (process.env.OUTPOST_CORPUS_VERBOSE)
              console.log(`  forwarded (${s.part}, ${s.client}): ${out.reason}  <=  ${s.sql}`);
          }
        } catch (err) {
          failures.push(`(${s.client}) ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      for (const part of ['tuned', 'held-out', 'driver']) {
        const t = tally.get(part);
        if (!t) continue;
        console.log(
          `orm corpus${label} ${part}: ${t.local}/${t.total} local (${((t.local / t.total) * 100).toFixed(1)}%)`,
        );
        const top = [...t.reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
        for (const [r, n] of top) console.log(`  forwarded ${n}: ${r}`);
      }
      assert.deepEqual(
        failures,
        [],
        'statements whose local answer differs from Postgres (or corpus errors)',
      );
      // The target for statements the compiler was not tuned on.
      const held = tally.get('held-out');
      assert.ok(held && held.local / held.total >= 0.95, 'held-out part below 95% local');
    });

    test('corpus shape: every client family, both sources, a held-out part', () => {
      const corpus = ormCorpus();
      const clients = new Set(corpus.map((s) => s.client));
      for (const name of [
        'django',
        'sqlalchemy',
        'activerecord',
        'pgx',
        'prisma',
        'drizzle',
        'kysely',
        'typeorm',
        'sequelize',
        'knex',
        'postgres.js',
      ])
        assert.ok(clients.has(name), name);
      const held = corpus.filter((s) => s.part === 'held-out').length;
      assert.ok(held >= 50, `held-out part has ${held} statements`);
    });
  });
}
