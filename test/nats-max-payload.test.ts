/**
 * The hub reads the NATS server's real max_payload from the connection's server
 * INFO (not NATS' 1 MiB default): a row too big for *this* server is named as an
 * error even below 1 MiB, and a server whose max_payload cannot take the
 * stream's ~512 KiB parts is reported at start. Real Postgres, real nats-server
 * started with a config file setting a small max_payload, the real hub in process.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '../src/log.js';
import { startHubInProcess } from './helpers/hub-in-process.js';
import { type NatsInstance, startNats } from './helpers/nats.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let dir: string;
const servers: NatsInstance[] = [];

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-nats-max-payload-'));
});

after(async () => {
  for (const n of servers) await n.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function natsWithMaxPayload(bytes: number): Promise<NatsInstance> {
  const conf = join(dir, `nats-${bytes}.conf`);
  writeFileSync(conf, `max_payload: ${bytes}\n`);
  const n = await startNats({ args: ['-c', conf] });
  servers.push(n);
  return n;
}

interface Line {
  level: number;
  msg: string;
  table?: string;
  maxPayload?: number;
}

test("a row above the server's own max_payload (768 KiB, below NATS' default) is named with that limit", async () => {
  const nats = await natsWithMaxPayload(768 * 1024);
  const db = 'maxpayload';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query('CREATE TABLE docs (id int PRIMARY KEY, body text)', [], db);
  const lines: string[] = [];
  const { hub } = await startHubInProcess({
    upstream: pg.url({ database: db }),
    nats: nats.url,
    stream: 'MAXPAYLOAD',
    replica: join(dir, 'hub.db'),
    logger: createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }),
  });
  try {
    await hub.replicationStarted;
    // 600 KiB fits this server; 900 KiB does not (it would under the 1 MiB default).
    await pg.query(`INSERT INTO docs VALUES (1, repeat('a', 600 * 1024))`, [], db);
    await pg.query(`INSERT INTO docs VALUES (2, repeat('b', 900 * 1024))`, [], db);
    const err = await waitFor('the error', () =>
      lines
        .map((l) => JSON.parse(l) as Line)
        .find((l) => l.table === 'public.docs' && /max_payload/.test(l.msg)),
    );
    assert.equal(err.level, 50, 'an error');
    assert.equal(err.maxPayload, 768 * 1024);
    assert.match(err.msg, /larger than the NATS server's max_payload \(786432\)/);
    assert.equal(
      lines.filter((l) => l.includes('"table":"public.docs"') && l.includes('max_payload')).length,
      1,
      'said once (the 600 KiB row fits)',
    );
    assert.ok(
      !lines.some((l) => l.includes('below the change stream')),
      '768 KiB takes the 512 KiB parts: no start error',
    );
  } finally {
    await hub.stop();
  }
});

test("a server whose max_payload is below the stream's part size is reported at start", async () => {
  const nats = await natsWithMaxPayload(256 * 1024);
  const db = 'maxpayload_small';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query('CREATE TABLE t (id int PRIMARY KEY)', [], db);
  const lines: string[] = [];
  const { hub } = await startHubInProcess({
    upstream: pg.url({ database: db }),
    nats: nats.url,
    stream: 'SMALLPAYLOAD',
    replica: join(dir, 'hub-small.db'),
    logger: createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }),
  });
  try {
    const err = await waitFor('the start error', () =>
      lines.map((l) => JSON.parse(l) as Line).find((l) => /below the change stream's part size/.test(l.msg)),
    );
    assert.equal(err.level, 50);
    assert.equal(err.maxPayload, 256 * 1024);
    assert.match(err.msg, /raise max_payload/);
  } finally {
    await hub.stop();
  }
});
