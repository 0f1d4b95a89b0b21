/**
 * The differential suites as functions of the Postgres binaries, so each
 * runs against every major CI tests (embedded 17 by default, Debian's 15
 * from the `-pg15` test files) without doubling one file's wall time: the
 * test runner runs the files in parallel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generator, prng } from './generator.js';
import { type Corpus, differ, differPrepared, startCorpus } from './harness.js';
import { CORPUS, PREPARED } from './statements.js';

/**
 * Differential corpus (issue 5): several hundred read statements an ORM, an
 * admin panel and a reporting page send, over a schema with every common type
 * and its edge values (test/corpus/). Each runs on the real Postgres and
 * through the in-process Router over a replica copied from it: a local answer
 * must equal Postgres's exactly (fields, names, type OIDs, typmods, rows,
 * command tag); forwarding is allowed but counted, and at least 90% must be
 * local. Statements marked `!` are ones Postgres rejects: the local path must
 * never answer them. A subset runs through the extended protocol with parameters.
 */
export function corpusSuite(bin?: string, label = ''): void {
  let c: Corpus;

  before(async () => {
    c = await startCorpus(bin);
  });

  after(async () => {
    await c?.close();
  });

  describe(`differential corpus${label}`, () => {
    test('corpus size and shape', () => {
      assert.ok(
        CORPUS.filter((q) => !q.startsWith('!') || q.startsWith('!<')).length >= 300,
        `corpus has ${CORPUS.length} statements`,
      );
      assert.equal(new Set(CORPUS).size, CORPUS.length, 'corpus statements are distinct');
    });

    test('simple protocol: every local answer equals Postgres, at least 90% local', async () => {
      const forwarded: string[] = [];
      const failures: string[] = [];
      let local = 0;
      let errors = 0;
      let localErrors = 0;
      for (const q of CORPUS) {
        // `!<17 ...`: rejected by Postgres before 17 only (e.g. infinite intervals).
        const before = /^!<(\d+) /.exec(q);
        const failing = before ? c.pgi.version < Number(before[1]) : q.startsWith('!');
        const unordered = q.startsWith('~');
        const sql = before ? q.slice(before[0].length) : unordered || q.startsWith('!') ? q.slice(1) : q;
        try {
          // differ() fails when the local path answers where Postgres raised an error.
          const out = await differ(c, sql, unordered);
          if (failing) {
            if (out.kind === 'pg-error') {
              errors++;
              if (out.local) localErrors++;
            } else failures.push(`expected a Postgres error: ${sql}`);
          } else if (out.kind === 'local') local++;
          else if (out.kind === 'forwarded') forwarded.push(`${out.reason}  <=  ${sql}`);
          else failures.push(`Postgres error "${out.message}": ${sql}`);
        } catch (err) {
          failures.push(err instanceof Error ? err.message : String(err));
        }
      }
      const answerable = CORPUS.length - errors;
      const share = local / answerable;
      console.log(
        `corpus: ${CORPUS.length} statements; of the ${answerable} Postgres answers, ${local} local (${(share * 100).toFixed(1)}%), ${forwarded.length} forwarded; ${errors} Postgres errors (${localErrors} raised locally with Postgres's exact error, the others forwarded)`,
      );
      if (process.env.OUTPOST_CORPUS_VERBOSE) for (const f of forwarded) console.log(`  forwarded: ${f}`);
      assert.deepEqual(
        failures,
        [],
        'statements whose local answer differs from Postgres (or corpus errors)',
      );
      assert.ok(share >= 0.9, `only ${(share * 100).toFixed(1)}% local; forwarded:\n${forwarded.join('\n')}`);
    });

    test('extended protocol with parameters: every local execution equals Postgres', async () => {
      const forwarded: string[] = [];
      const failures: string[] = [];
      let local = 0;
      for (const { sql, executions } of PREPARED) {
        try {
          const out = await differPrepared(c, sql, executions);
          if (out.kind === 'local') local++;
          else if (out.kind === 'forwarded') forwarded.push(`${out.reason}  <=  ${sql}`);
          else failures.push(`Postgres error "${out.message}": ${sql}`);
        } catch (err) {
          failures.push(err instanceof Error ? err.message : String(err));
        }
      }
      console.log(`prepared: ${local}/${PREPARED.length} local, ${forwarded.length} forwarded`);
      if (process.env.OUTPOST_CORPUS_VERBOSE) for (const f of forwarded) console.log(`  forwarded: ${f}`);
      assert.deepEqual(failures, []);
      assert.ok(local / PREPARED.length >= 0.9, `forwarded:\n${forwarded.join('\n')}`);
    });
  });
}

const SEED = process.env.OUTPOST_FUZZ_SEED
  ? Number(process.env.OUTPOST_FUZZ_SEED)
  : Math.floor(Math.random() * 2 ** 31);
const COUNT = Number(process.env.OUTPOST_FUZZ_COUNT ?? 2500);

/**
 * Randomized differential test (issue 5, SQLancer spirit): thousands of
 * generated SELECTs over the corpus schema (test/corpus/generator.ts), each
 * run on the real Postgres and through the in-process Router. The rule: a
 * local answer is identical to Postgres's, otherwise the statement is
 * forwarded; where Postgres raises an error the local path must not answer.
 * The seed is printed; OUTPOST_FUZZ_SEED replays it, OUTPOST_FUZZ_COUNT
 * changes the number of statements.
 */
export function randomSuite(bin?: string, label = ''): void {
  let c: Corpus;

  before(async () => {
    c = await startCorpus(bin);
  });

  after(async () => {
    await c?.close();
  });

  test(`random SELECTs${label}: identical or forwarded (seed ${SEED})`, async () => {
    console.log(`differential-random: seed ${SEED} (replay with OUTPOST_FUZZ_SEED=${SEED})`);
    const next = generator(prng(SEED));
    const failures: string[] = [];
    const reasons = new Map<string, number>();
    let local = 0;
    let forwarded = 0;
    let pgErrors = 0;
    for (let i = 0; i < COUNT; i++) {
      const { sql, unordered } = next();
      try {
        const out = await differ(c, sql, unordered);
        if (out.kind === 'local') local++;
        else if (out.kind === 'pg-error') pgErrors++;
        else {
          forwarded++;
          const r = out.reason.replace(/\d+/g, 'N').slice(0, 80);
          reasons.set(r, (reasons.get(r) ?? 0) + 1);
        }
      } catch (err) {
        failures.push(`#${i}: ${err instanceof Error ? err.message : String(err)}`);
        if (failures.length >= 20) break;
      }
    }
    console.log(
      `differential-random: ${COUNT} statements, ${local} local, ${forwarded} forwarded, ${pgErrors} Postgres errors (not answered locally)`,
    );
    const top = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
    for (const [r, n] of top) console.log(`  forwarded ${n}: ${r}`);
    assert.deepEqual(failures, [], `seed ${SEED}`);
    // The generator mostly produces supported shapes: a collapse of the local
    // share means the compiler regressed.
    assert.ok(local > COUNT * 0.3, `only ${local} of ${COUNT} local`);
  });
}
