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
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Corpus, differ, differPrepared, startCorpus } from './corpus/harness.js';
import { CORPUS, PREPARED } from './corpus/statements.js';

let c: Corpus;

before(async () => {
  c = await startCorpus();
});

after(async () => {
  await c?.close();
});

describe('differential corpus', () => {
  test('corpus size and shape', () => {
    assert.ok(
      CORPUS.filter((q) => !q.startsWith('!')).length >= 300,
      `corpus has ${CORPUS.length} statements`,
    );
    assert.equal(new Set(CORPUS).size, CORPUS.length, 'corpus statements are distinct');
  });

  test('simple protocol: every local answer equals Postgres, at least 90% local', async () => {
    const forwarded: string[] = [];
    const failures: string[] = [];
    let local = 0;
    let errors = 0;
    for (const q of CORPUS) {
      const failing = q.startsWith('!');
      const unordered = q.startsWith('~');
      const sql = unordered || failing ? q.slice(1) : q;
      try {
        // differ() fails when the local path answers where Postgres raised an error.
        const out = await differ(c, sql, unordered);
        if (failing) {
          if (out.kind === 'pg-error') errors++;
          else failures.push(`expected a Postgres error: ${sql}`);
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
      `corpus: ${CORPUS.length} statements; of the ${answerable} Postgres answers, ${local} local (${(share * 100).toFixed(1)}%), ${forwarded.length} forwarded; ${errors} Postgres errors never answered locally`,
    );
    if (process.env.OUTPOST_CORPUS_VERBOSE) for (const f of forwarded) console.log(`  forwarded: ${f}`);
    assert.deepEqual(failures, [], 'statements whose local answer differs from Postgres (or corpus errors)');
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
