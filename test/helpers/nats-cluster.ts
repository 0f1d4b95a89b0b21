/**
 * A fan-out cluster for the process-level NATS tests (issue 18): one real
 * Postgres with a database of its own, one real nats-server, a directory for
 * the replicas, and starters for the hub (`outpost publish`) and edges
 * (`outpost --nats`) as real child processes that can be SIGKILLed. Every
 * process started here is watched for log lines meaning the stream did not
 * carry everything (`incidents`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { type Lsn, parseLsn } from '../../src/replication/lsn.js';
import { type NatsInstance, startNats } from './nats.js';
import { type HubProcess, type OutpostProcess, startHub, startOutpost } from './outpost.js';
import { type PostgresInstance, startPostgres } from './postgres.js';

/**
 * Log lines that mean the stream did not carry everything (an edge fell back
 * to a fresh copy, a hub skipped changes, a republished transaction was cut
 * differently): the rows could still end right, but the stream path would not
 * have been what got them there.
 */
const INCIDENT =
  /the replica left the stream|no longer holds the message|remade from a snapshot past|fewer parts than the stream holds|must re-bootstrap/;

export interface NatsCluster {
  pg: PostgresInstance;
  nats: NatsInstance;
  dir: string;
  db: string;
  stream: string;
  /** `<label>: <line>` for every incident line any process logged. */
  incidents: string[];
  /**
   * The hub, on `<dir>/hub.db` and the cluster's stream unless told; `args`
   * come last (e.g. `--snapshot-interval 2`).
   */
  startHub(opts?: { args?: string[]; replica?: string; stream?: string }): Promise<HubProcess>;
  /** An edge on `<dir>/edge-<name>.db` with durable consumer `name`. */
  startEdge(name: string, args?: string[]): Promise<OutpostProcess>;
  /** A query on the cluster's database. */
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Upstream's insert position (past every commit made so far, even under synchronous_commit=off). */
  currentLsn(): Promise<Lsn>;
  /** The database's replication slots. */
  slots(): Promise<Array<{ slot_name: string; temporary: boolean; confirmed: string }>>;
  connectNats(): Promise<NatsConnection>;
  /** Stops NATS and Postgres and removes the directory (processes are the test's to stop). */
  stop(): Promise<void>;
}

export async function startCluster(opts: {
  /** Names the database, the stream and the temp directory. */
  db: string;
  stream: string;
  /** Schema and rows, run in the new database. */
  setup: string;
}): Promise<NatsCluster> {
  const [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  const dir = mkdtempSync(join(tmpdir(), `outpost-${opts.db}-`));
  const { db, stream } = opts;
  const url = pg.url({ database: db });
  const incidents: string[] = [];
  const watch = (label: string) => (line: string) => {
    if (INCIDENT.test(line)) incidents.push(`${label}: ${line}`);
  };
  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
    (await pg.query<R>(sql, params, db)).rows;
  try {
    await pg.query(`CREATE DATABASE ${db}`);
    await pg.query(opts.setup, [], db);
  } catch (err) {
    await Promise.all([pg.stop(), nats.cleanup()]);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    pg,
    nats,
    dir,
    db,
    stream,
    incidents,
    startHub: (o = {}) =>
      startHub({
        upstream: url,
        nats: nats.url,
        stream: o.stream ?? stream,
        replica: o.replica ?? join(dir, 'hub.db'),
        args: o.args ?? [],
        onLine: watch('hub'),
      }),
    startEdge: (name, args = []) =>
      startOutpost({
        upstream: url,
        replica: join(dir, `edge-${name}.db`),
        args: ['--nats', nats.url, '--stream', stream, '--nats-consumer', name, '--workers', '0', ...args],
        onLine: watch(`edge ${name}`),
      }),
    query,
    async currentLsn() {
      const [r] = await query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l');
      return parseLsn(r?.l ?? '0/0');
    },
    slots: () =>
      query<{ slot_name: string; temporary: boolean; confirmed: string }>(
        `SELECT slot_name, temporary, confirmed_flush_lsn::text AS confirmed
           FROM pg_replication_slots WHERE database = current_database() ORDER BY slot_name`,
      ),
    connectNats: () => connect({ servers: nats.url }),
    async stop() {
      await Promise.all([pg.stop(), nats.cleanup()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
