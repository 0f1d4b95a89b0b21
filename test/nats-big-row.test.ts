/**
 * Issue 18: a row whose single pgoutput message is larger than NATS' max_payload
 * (1 MiB by default) cannot be split into the stream's ~512 KiB parts, so the hub
 * cannot publish it and stops confirming upstream. It must say so clearly: an
 * error naming the table and the fix (raise max_payload). Real Postgres, real
 * nats-server (default max_payload), the real hub in process.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '../src/log.js';
import { startHubInProcess } from './helpers/hub-in-process.js';
import { type NatsInstance, startPostgresAndNats } from './helpers/nats.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let dir: string;

before(async () => {
  [pg, nats] = await startPostgresAndNats();
  dir = mkdtempSync(join(tmpdir(), 'outpost-nats-big-row-'));
});

after(async () => {
  await nats?.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a row larger than max_payload: the hub logs an error naming the table and the fix', async () => {
  const db = 'bigrow';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query('CREATE TABLE docs (id int PRIMARY KEY, body text)', [], db);
  const lines: string[] = [];
  const { hub } = await startHubInProcess({
    upstream: pg.url({ database: db }),
    nats: nats.url,
    stream: 'BIGROW',
    replica: join(dir, 'hub.db'),
    logger: createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }),
  });
  try {
    await hub.replicationStarted;
    // A row of 512 KiB goes through as a part of its own: no error for it.
    await pg.query(`INSERT INTO docs VALUES (1, repeat('a', 600 * 1024))`, [], db);
    // 1.5 MB of text in one row: one pgoutput Insert message of about that size.
    await pg.query(`INSERT INTO docs VALUES (2, repeat('b', 1536 * 1024))`, [], db);
    const err = await waitFor('the error', () =>
      lines
        .map((l) => JSON.parse(l) as { level: number; msg: string; table?: string })
        .find((l) => l.table === 'public.docs' && /max_payload/.test(l.msg)),
    );
    assert.equal(err.level, 50, 'an error');
    assert.match(err.msg, /public\.docs/);
    assert.match(err.msg, /raise max_payload in nats-server's configuration/);
    assert.equal(
      lines.filter((l) => l.includes('"table":"public.docs"') && l.includes('max_payload')).length,
      1,
      'said once (the 600 KiB row fits)',
    );
  } finally {
    await hub.stop();
  }
});
