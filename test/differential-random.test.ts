/**
 * Randomized differential test (issue 5, SQLancer spirit): thousands of
 * generated SELECTs over the corpus schema (test/corpus/generator.ts), each
 * run on the real Postgres and through the in-process Router. The rule: a
 * local answer is identical to Postgres's, otherwise the statement is
 * forwarded; where Postgres raises an error the local path must not answer.
 * The seed is printed; OUTPOST_FUZZ_SEED replays it, OUTPOST_FUZZ_COUNT
 * changes the number of statements.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generator, prng } from './corpus/generator.js';
import { type Corpus, differ, startCorpus } from './corpus/harness.js';

const SEED = process.env.OUTPOST_FUZZ_SEED
  ? Number(process.env.OUTPOST_FUZZ_SEED)
  : Math.floor(Math.random() * 2 ** 31);
const COUNT = Number(process.env.OUTPOST_FUZZ_COUNT ?? 2500);

let c: Corpus;

before(async () => {
  c = await startCorpus();
});

after(async () => {
  await c?.close();
});

test(`random SELECTs: identical or forwarded (seed ${SEED})`, async () => {
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
