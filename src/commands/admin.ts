/**
 * Operator subcommands that work on a replica file and its upstream, with or
 * without a running Outpost: `outpost status` and `outpost drop-slot`.
 */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { StartupError } from '../errors.js';

export interface AdminTarget {
  upstream: string;
  replica: string;
  /** Slot to act on when the replica file is gone (`--slot`). */
  slot?: string | undefined;
  /** `--http` of a running Outpost, to include its live view. */
  http?: { host: string; port: number } | undefined;
}

interface ReplicaMeta {
  slot?: string;
  publication?: string;
  applied_lsn?: string;
  snapshot_state?: string;
  publication_owned?: string;
  /** JSON: [{table, reason}] of the tables not replicated (publication.ts). */
  forwarded_tables?: string;
  database?: string;
  next_slot?: string;
  /** `nats` on an edge (--nats): it follows a hub's stream, with no slot of its own. */
  source?: string;
  nats_stream?: string;
  nats_seq?: string;
}

/** Reads the replica's bookkeeping without creating or changing anything. */
export function readReplicaMeta(path: string): ReplicaMeta | undefined {
  if (!existsSync(path)) return undefined;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('select key, value from _outpost_meta').all() as { key: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value])) as ReplicaMeta;
  } catch {
    return undefined; // not an Outpost replica (yet)
  } finally {
    db.close();
  }
}

async function withUpstream<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 30_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new StartupError(`cannot connect to upstream: ${(err as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export interface StatusReport {
  replica: {
    path: string;
    exists: boolean;
    slot?: string;
    /** An edge's stream and the last sequence the file reflects. */
    nats?: { stream: string; seq: number };
    publication?: string;
    appliedLsn?: string;
    snapshot?: string;
    /** Tables not replicated (their queries are forwarded), and why. */
    forwardedTables?: Array<{ table: string; reason: string }>;
    /** The file is not here, but a running Outpost's replica is: where. */
    runningReplica?: string;
  };
  upstream?: {
    currentLsn: string;
    lagBytes?: number;
    slot?: {
      active: boolean;
      confirmedFlushLsn: string | null;
      walStatus: string | null;
      retainedBytes: number | null;
    } | null;
  };
  live?: Record<string, unknown> | { error: string };
}

export async function statusCommand(target: AdminTarget): Promise<StatusReport> {
  // The running instance first: without --replica its file may be elsewhere.
  let live: StatusReport['live'];
  if (target.http) {
    try {
      const res = await fetch(`http://${hostForUrl(target.http.host)}:${target.http.port}/status`, {
        signal: AbortSignal.timeout(2000),
      });
      live = (await res.json()) as Record<string, unknown>;
    } catch (err) {
      live = {
        error: `no running outpost at ${target.http.host}:${target.http.port} (${(err as Error).message})`,
      };
    }
  }
  let path = target.replica;
  let meta = readReplicaMeta(path);
  const liveInfo = live as { replica?: { path?: unknown }; replication?: { slot?: unknown } } | undefined;
  const livePath = typeof liveInfo?.replica?.path === 'string' ? liveInfo.replica.path : undefined;
  let runningReplica: string | undefined;
  if (!meta && livePath !== undefined && livePath !== path) {
    if (isAbsolute(livePath) && existsSync(livePath)) {
      path = livePath;
      meta = readReplicaMeta(path);
    } else runningReplica = livePath;
  }
  const liveSlot = typeof liveInfo?.replication?.slot === 'string' ? liveInfo.replication.slot : undefined;
  const slot = meta?.slot ?? target.slot ?? (liveSlot || undefined);
  let forwarded: Array<{ table: string; reason: string }> | undefined;
  try {
    forwarded = meta?.forwarded_tables ? JSON.parse(meta.forwarded_tables) : undefined;
  } catch {
    forwarded = undefined;
  }
  const report: StatusReport = {
    replica: {
      path,
      exists: meta !== undefined,
      ...(meta?.slot ? { slot: meta.slot } : {}),
      ...(meta?.source === 'nats'
        ? { nats: { stream: meta.nats_stream ?? '', seq: Number(meta.nats_seq ?? 0) } }
        : {}),
      ...(meta?.publication ? { publication: meta.publication } : {}),
      ...(meta?.applied_lsn ? { appliedLsn: meta.applied_lsn } : {}),
      ...(meta?.snapshot_state ? { snapshot: meta.snapshot_state } : {}),
      ...(forwarded ? { forwardedTables: forwarded } : {}),
      ...(runningReplica !== undefined ? { runningReplica } : {}),
    },
  };
  report.upstream = await withUpstream(target.upstream, async (c) => {
    const cur = await c.query<{ lsn: string; lag: string | null }>(
      'select pg_current_wal_lsn()::text as lsn, (pg_current_wal_lsn() - $1::pg_lsn)::text as lag',
      [meta?.applied_lsn ?? '0/0'],
    );
    const row = cur.rows[0];
    let slotInfo: NonNullable<StatusReport['upstream']>['slot'] = null;
    if (slot) {
      const s = await c.query<{
        active: boolean;
        confirmed: string | null;
        wal_status: string | null;
        retained: string | null;
      }>(
        `select active, confirmed_flush_lsn::text as confirmed, wal_status,
                (pg_current_wal_lsn() - restart_lsn)::text as retained
         from pg_replication_slots where slot_name = $1`,
        [slot],
      );
      const r = s.rows[0];
      slotInfo = r
        ? {
            active: r.active,
            confirmedFlushLsn: r.confirmed,
            walStatus: r.wal_status,
            retainedBytes: r.retained === null ? null : Number(r.retained),
          }
        : null;
    }
    return {
      currentLsn: row?.lsn ?? '',
      ...(meta?.applied_lsn && row?.lag != null ? { lagBytes: Math.max(0, Number(row.lag)) } : {}),
      // An edge has no slot to be missing.
      ...(slot || meta?.source !== 'nats' ? { slot: slotInfo } : {}),
    };
  });
  if (live) report.live = live;
  return report;
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export function formatStatus(r: StatusReport): string {
  const running = r.live !== undefined && !('error' in r.live);
  const missing =
    r.replica.runningReplica !== undefined
      ? ` (no such file here; the running Outpost's replica is ${r.replica.runningReplica}: pass --replica)`
      : running
        ? " (no such file here; pass the running Outpost's --replica)"
        : ' (not created yet)';
  const lines = [
    `replica:     ${r.replica.path}${r.replica.exists ? '' : missing}`,
    r.replica.nats
      ? `source:      NATS stream ${r.replica.nats.stream}, seq ${r.replica.nats.seq} (an edge: no slot of its own)`
      : `slot:        ${r.replica.slot ?? '-'}`,
    `publication: ${r.replica.publication ?? '-'}`,
    `snapshot:    ${r.replica.snapshot ?? '-'}`,
    `applied LSN: ${r.replica.appliedLsn ?? '-'}`,
  ];
  const fw = r.replica.forwardedTables ?? [];
  if (fw.length > 0) {
    lines.push(`not replicated (queries forwarded): ${fw.length} table(s)`);
    for (const f of fw) lines.push(`  ${f.table}: ${f.reason}`);
  }
  if (r.upstream) {
    lines.push(`upstream LSN: ${r.upstream.currentLsn}`);
    if (r.upstream.lagBytes !== undefined)
      lines.push(`lag:         ${r.upstream.lagBytes} bytes (from the replica file)`);
    const s = r.upstream.slot;
    if (s === null) lines.push('slot upstream: missing');
    else if (s) {
      lines.push(
        `slot upstream: ${s.active ? 'active' : 'inactive'}, wal_status ${s.walStatus ?? '-'}, confirmed ${s.confirmedFlushLsn ?? '-'}, retaining ${s.retainedBytes ?? '-'} bytes of WAL`,
      );
    }
  }
  if (r.live) {
    const live = r.live as { error?: string; replication?: { state?: string; lagBytes?: number } };
    if (live.error) lines.push(`running:     ${live.error}`);
    else
      lines.push(
        `running:     ${live.replication?.state ?? '?'}, lag ${live.replication?.lagBytes ?? '?'} bytes`,
      );
  }
  return lines.join('\n');
}

export interface DropReport {
  slot: string;
  slotDropped: boolean;
  publication?: string;
  publicationDropped: boolean;
  publicationKeptBecause?: string;
}

/**
 * Drops the replica's slot upstream (so the upstream stops keeping WAL for
 * it) and Outpost's own publication (not one given with --publication) if no other Outpost slot
 * still exists. The replica file is left alone: it can no longer resume, and
 * the next start takes a fresh snapshot only after it is deleted.
 */
export async function dropSlotCommand(target: AdminTarget): Promise<DropReport> {
  const meta = readReplicaMeta(target.replica);
  const slot = target.slot ?? meta?.slot;
  if (!slot) {
    throw new StartupError(`no slot to drop: ${target.replica} records none; pass --slot NAME`);
  }
  return withUpstream(target.upstream, async (c) => {
    const s = await c.query<{ active_pid: number | null }>(
      'select active_pid from pg_replication_slots where slot_name = $1',
      [slot],
    );
    const report: DropReport = { slot, slotDropped: false, publicationDropped: false };
    if (s.rows.length > 0) {
      if (s.rows[0]?.active_pid) {
        throw new StartupError(
          `slot ${slot} is in use by a running Outpost (pid ${s.rows[0].active_pid}): stop it first`,
        );
      }
      try {
        await c.query('select pg_drop_replication_slot($1)', [slot]);
      } catch (err) {
        throw new StartupError(`cannot drop slot ${slot}: ${(err as Error).message}`);
      }
      report.slotDropped = true;
    }
    const publication = meta?.publication;
    if (publication && meta?.publication_owned === 'true') {
      report.publication = publication;
      const others = await c.query<{ n: string }>(
        `select count(*)::text as n from pg_replication_slots where plugin = 'pgoutput' and slot_name like 'outpost%' and slot_name <> $1`,
        [slot],
      );
      if (Number(others.rows[0]?.n ?? '0') > 0) {
        report.publicationKeptBecause = `${others.rows[0]?.n} other Outpost slot(s) still use it`;
      } else {
        await c.query(`drop publication if exists ${pg.escapeIdentifier(publication)}`);
        report.publicationDropped = true;
      }
    }
    return report;
  });
}
