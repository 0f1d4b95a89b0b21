/**
 * One real Postgres with the given schema and one Outpost following it, for
 * test files that share them across their tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { type OutpostProcess, startOutpost } from './outpost.js';
import { type PostgresInstance, startPostgres } from './postgres.js';

export interface Stack {
  upstream: PostgresInstance;
  outpost: OutpostProcess;
  /** Stops Outpost, then Postgres, and removes the replica's directory. */
  stop(): Promise<void>;
}

export async function startStack(opts: { name: string; setup: string; args?: string[] }): Promise<Stack> {
  const upstream = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), `outpost-${opts.name}-`));
  await upstream.query(opts.setup);
  const outpost = await startOutpost({
    upstream: upstream.url(),
    replica: join(dir, 'r.db'),
    ...(opts.args ? { args: opts.args } : {}),
  });
  await outpost.ready();
  return {
    upstream,
    outpost,
    async stop() {
      await outpost.stop();
      await upstream.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A query's result, or the error it failed with (for asserting SQLSTATEs). */
export const settle = <T>(p: Promise<T>): Promise<T | pg.DatabaseError> =>
  p.catch((e: pg.DatabaseError) => e);
