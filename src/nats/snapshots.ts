/**
 * Replica snapshots in the JetStream object store (issue 18, docs/architecture.md
 * "Fan-out through NATS").
 *
 * The hub publishes a compacted copy of its replica, labelled with the LSN it
 * reflects and the stream sequence it covers; a new edge (or one whose position
 * left the stream's retention) starts from it instead of copying every table from
 * upstream through a slot of its own, then consumes the stream from the label's
 * sequence + 1, skipping by LSN what the copy already holds.
 *
 * Object: bucket `<stream>-snapshots`, name `replica`, replaced on each publish.
 * Its metadata (and, for tools that only show headers, the same as headers):
 * Outpost-Lsn, Outpost-Seq, Outpost-Format, Outpost-System-Id, Outpost-Database.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { type JetStreamManager, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { type ObjectInfo, type ObjectStore, Objm, setSha256Backend } from '@nats-io/obj';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { REPLICA_FORMAT } from '../replica/schema.js';
import { STAGING_PREFIX } from '../replica/store.js';
import { formatLsn, type Lsn, parseLsn } from '../replication/lsn.js';
import { decodeHeader, WireFormatError } from './wire-format.js';

export const SNAPSHOT_OBJECT = 'replica';
export const HDR_SNAP_LSN = 'Outpost-Lsn';
export const HDR_SNAP_SEQ = 'Outpost-Seq';
export const HDR_SNAP_FORMAT = 'Outpost-Format';
export const HDR_SNAP_SYSTEM_ID = 'Outpost-System-Id';
export const HDR_SNAP_DATABASE = 'Outpost-Database';
export const DEFAULT_SNAPSHOT_INTERVAL_S = 300;

// The object store checks every object's SHA-256 on get and computes it on put;
// its default is a pure-JS hash, which made hashing most of a download's time
// (a 37 MB replica: 2.8 s to download with it, 0.8 s with node:crypto).
setSha256Backend('native');

/**
 * Meta of the hub alone: an edge holds no slot, and `outpost drop-slot` on an
 * edge must not find one to drop. Everything else (publication name, stale
 * tables, resync skip rules, matview baselines, timeline) describes the data and
 * travels with it.
 */
const HUB_ONLY_META = ['slot', 'next_slot', 'publication_owned'];

/** One MiB chunks (clamped to the server's max_payload): fewer acks than the client's 128 KiB default. */
const CHUNK_BYTES = 1024 * 1024;
/** A download that receives nothing for this long, its object still the newest, is abandoned. */
const DOWNLOAD_IDLE_MS = 30_000;
/**
 * While no chunk arrives for this long the object is looked up again: a hub
 * publishing meanwhile purges the chunks being read, and the object store's
 * reader then waits for them forever. Replaced, the download starts over on
 * the new object.
 */
const REPLACED_CHECK_MS = 1_000;
/** Downloads started over because the object was replaced under each, before giving up. */
const DOWNLOAD_ATTEMPTS = 5;

export function snapshotBucket(stream: string): string {
  return `${stream}-snapshots`;
}

/** What a snapshot object says about itself. */
export interface SnapshotLabel {
  /** The replica's applied_lsn: every transaction committed before it is in the copy. */
  lsn: Lsn;
  /** Every stream message with seq <= this is contained in the copy; consume from seq + 1. */
  seq: number;
  format: number;
  systemId: string;
  database: string;
}

export interface SnapshotInfo extends SnapshotLabel {
  size: number;
  /** Object store revision (the meta message's stream sequence) and publish time. */
  revision: number;
  mtime: string;
}

/** The snapshot is unusable here (another upstream, another layout, corrupt). */
export class SnapshotError extends Error {}

// ---- hub side ---------------------------------------------------------------

/** Opens (creating if missing) the stream's snapshot bucket. */
export async function snapshotStore(
  nc: NatsConnection,
  stream: string,
  create: boolean,
): Promise<ObjectStore> {
  const objm = new Objm(nc);
  const bucket = snapshotBucket(stream);
  if (create) {
    return objm.create(bucket, {
      storage: StorageType.File,
      description: `Outpost replica snapshots of ${stream}`,
    });
  }
  return objm.open(bucket);
}

/**
 * VACUUM INTO `dest` from a read-only connection in a worker thread: the copy is
 * one consistent read transaction (WAL mode: the applier keeps committing meanwhile)
 * and the seconds it takes on a large replica never hold up this thread's event
 * loop (the hub's publishing and acknowledgements run there).
 */
export function compactCopy(src: string, dest: string): Promise<void> {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const Database = require(workerData.module);
    let db;
    try {
      db = new Database(workerData.src, { readonly: true, fileMustExist: true });
      db.prepare('VACUUM INTO ?').run(workerData.dest);
      parentPort.postMessage({ ok: true });
    } catch (err) {
      parentPort.postMessage({ ok: false, message: String(err && err.message || err) });
    } finally {
      if (db) db.close();
    }`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { module, src, dest } });
    let settled = false;
    w.once('message', (m: { ok: boolean; message?: string }) => {
      settled = true;
      if (m.ok) resolve();
      else reject(new Error(`VACUUM INTO failed: ${m.message ?? 'unknown error'}`));
    });
    w.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    w.once('exit', (code) => {
      if (!settled) reject(new Error(`VACUUM INTO worker exited with code ${code}`));
      settled = true;
    });
  });
}

/**
 * Turns a VACUUM INTO copy into a publishable snapshot: hub-only meta and
 * resync leftovers removed, one self-contained file (rollback journal, no -wal).
 * Undefined when the copy is not a complete replica (the hub is taking a fresh
 * snapshot): nothing to publish then.
 */
export function prepareCopy(path: string): Omit<SnapshotLabel, 'seq'> | undefined {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    const meta = new Map(
      (db.prepare('SELECT key, value FROM _outpost_meta').all() as Array<{ key: string; value: string }>).map(
        (r) => [r.key, r.value],
      ),
    );
    const lsnText = meta.get('applied_lsn');
    const systemId = meta.get('system_identifier');
    const database = meta.get('database');
    if (meta.get('snapshot_state') !== 'complete' || !lsnText || !systemId || !database) return undefined;
    db.transaction(() => {
      const del = db.prepare('DELETE FROM _outpost_meta WHERE key = ?');
      for (const k of HUB_ONLY_META) del.run(k);
      const staging = db
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?`)
        .pluck()
        .all(STAGING_PREFIX.length, STAGING_PREFIX) as string[];
      for (const n of staging) db.exec(`DROP TABLE "${n.replace(/"/g, '""')}"`);
    })();
    return { lsn: parseLsn(lsnText), format: Number(meta.get('format') ?? '1'), systemId, database };
  } finally {
    db.close();
  }
}

/**
 * The stream sequence a replica at `lsn` covers: the last message every message
 * up to which is contained in it. A transaction is contained when its final
 * (commit record) LSN is below the replica's applied LSN, which the engine sets
 * to the commit's end (a later transaction's commit record can start exactly
 * there); a heartbeat when its LSN is at or below it. Stream positions grow with
 * the seq, so a binary search over [first_seq, last_seq] finds it in a few dozen
 * direct reads; a hit in the middle of a multi-part transaction steps back to
 * before its part 0. Undefined when it cannot be known (the stream's first
 * message is already past `lsn` and earlier ones aged out, or everything aged out).
 */
export async function coveredSeq(
  jsm: JetStreamManager,
  stream: string,
  lsn: Lsn,
): Promise<number | undefined> {
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return state.last_seq === 0 ? 0 : undefined;
  const contained = async (
    seq: number,
  ): Promise<{ ok: boolean; part: number; last: boolean } | undefined> => {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (!m) return undefined;
    let h: ReturnType<typeof decodeHeader>;
    try {
      h = decodeHeader(m.header);
    } catch (err) {
      if (err instanceof WireFormatError)
        throw new SnapshotError(`stream ${stream} seq ${seq}: ${err.message}`);
      throw err;
    }
    if (h.kind !== 'tx') return { ok: h.lsn <= lsn, part: 0, last: true };
    return { ok: h.finalLsn < lsn, part: h.part, last: h.last };
  };
  let lo = state.first_seq;
  let hi = state.last_seq;
  const first = await contained(lo);
  if (!first?.ok) return state.first_seq === 1 ? 0 : undefined;
  let best = lo;
  let bestInfo = first;
  lo++;
  while (lo <= hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const c = await contained(mid);
    if (c === undefined) {
      // Removed meanwhile (deleted or aged out): search above it.
      lo = mid + 1;
      continue;
    }
    if (c.ok) {
      best = mid;
      bestInfo = c;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (bestInfo.last) return best;
  const before = best - bestInfo.part - 1;
  return before >= state.first_seq - 1 ? before : undefined;
}

/**
 * Copies left by a hub killed while publishing (`<replica>.snapshot-<pid>-<hex>`,
 * their process gone): each is as big as the replica, so they must not pile up.
 */
function removeStaleCopies(replicaPath: string): void {
  const dir = dirname(replicaPath);
  const prefix = `${basename(replicaPath)}.snapshot-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || alive(pid)) continue;
    rmSync(join(dir, name), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface PublishedSnapshot extends SnapshotInfo {
  durationMs: number;
}

export interface PublishSnapshotOptions {
  nc: NatsConnection;
  stream: string;
  replicaPath: string;
  logger: Logger;
  /**
   * The stream sequence the replica at `lsn` covers. Default `coveredSeq`, from
   * the stream itself; the hub's publisher can answer from its acknowledgements.
   */
  seqFor?: (lsn: Lsn) => Promise<number | undefined> | number | undefined;
}

/**
 * Publishes one snapshot of the replica at `replicaPath`, replacing the previous
 * object. Undefined (nothing published, logged) when the replica is not complete
 * or its sequence cannot be labelled yet.
 */
export async function publishSnapshot(opts: PublishSnapshotOptions): Promise<PublishedSnapshot | undefined> {
  const started = performance.now();
  removeStaleCopies(opts.replicaPath);
  const tmp = `${opts.replicaPath}.snapshot-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await compactCopy(opts.replicaPath, tmp);
    const label = prepareCopy(tmp);
    if (!label) {
      opts.logger.info(
        'nats: replica not complete (a snapshot is being taken); no object-store snapshot published',
      );
      return undefined;
    }
    const seq = await (opts.seqFor
      ? opts.seqFor(label.lsn)
      : coveredSeq(await jetstreamManager(opts.nc), opts.stream, label.lsn));
    if (seq === undefined) {
      opts.logger.warn(
        { lsn: formatLsn(label.lsn) },
        'nats: cannot tell which stream sequence the replica covers; snapshot not published',
      );
      return undefined;
    }
    const full: SnapshotLabel = { ...label, seq };
    const fields = labelFields(full);
    const h = natsHeaders();
    for (const [k, v] of Object.entries(fields)) h.set(k, v);
    const os = await snapshotStore(opts.nc, opts.stream, true);
    const body = Readable.toWeb(
      createReadStream(tmp, { highWaterMark: CHUNK_BYTES }),
    ) as ReadableStream<Uint8Array>;
    const info = await os.put(
      { name: SNAPSHOT_OBJECT, metadata: fields, headers: h, options: { max_chunk_size: CHUNK_BYTES } },
      body,
    );
    const durationMs = Math.round(performance.now() - started);
    opts.logger.info(
      { lsn: formatLsn(full.lsn), seq, bytes: info.size, durationMs },
      'nats: replica snapshot published to the object store',
    );
    return { ...full, size: info.size, revision: info.revision, mtime: info.mtime, durationMs };
  } finally {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}-journal`, { force: true });
  }
}

function labelFields(l: SnapshotLabel): Record<string, string> {
  return {
    [HDR_SNAP_LSN]: formatLsn(l.lsn),
    [HDR_SNAP_SEQ]: String(l.seq),
    [HDR_SNAP_FORMAT]: String(l.format),
    [HDR_SNAP_SYSTEM_ID]: l.systemId,
    [HDR_SNAP_DATABASE]: l.database,
  };
}

export interface SnapshotScheduleStatus {
  lastLsn?: string;
  lastSeq?: number;
  lastAt?: string;
  lastBytes?: number;
  lastDurationMs?: number;
  lastError?: string;
  published: number;
}

/**
 * The hub's schedule: one snapshot as soon as started (the hub starts it after
 * its initial snapshot), then every `intervalS` seconds; never two at once. A
 * failed or skipped round is retried after `retryS` (NATS down, stream empty).
 */
export class SnapshotSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private readonly state: SnapshotScheduleStatus = { published: 0 };

  constructor(private readonly opts: PublishSnapshotOptions & { intervalS?: number; retryS?: number }) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Publishes now (after any round in progress); resolves with what was published. */
  async publishNow(): Promise<PublishedSnapshot | undefined> {
    while (this.running) await this.running.catch(() => {});
    const p = this.round();
    this.running = p;
    try {
      return await p;
    } finally {
      this.running = undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  status(): SnapshotScheduleStatus {
    return { ...this.state };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.publishNow().then(
        (r) =>
          this.schedule(
            1000 * (r ? (this.opts.intervalS ?? DEFAULT_SNAPSHOT_INTERVAL_S) : (this.opts.retryS ?? 10)),
          ),
        () => this.schedule(1000 * (this.opts.retryS ?? 10)),
      );
    }, ms);
    this.timer.unref();
  }

  private async round(): Promise<PublishedSnapshot | undefined> {
    try {
      const r = await publishSnapshot(this.opts);
      if (r) {
        this.state.published++;
        this.state.lastLsn = formatLsn(r.lsn);
        this.state.lastSeq = r.seq;
        this.state.lastAt = new Date().toISOString();
        this.state.lastBytes = r.size;
        this.state.lastDurationMs = r.durationMs;
        delete this.state.lastError;
      }
      return r;
    } catch (err) {
      this.state.lastError = errorMessage(err);
      this.opts.logger.warn(
        { err: errorMessage(err) },
        'nats: publishing the replica snapshot failed; retrying',
      );
      throw err;
    }
  }
}

// ---- edge side --------------------------------------------------------------

function parseLabel(info: ObjectInfo): SnapshotInfo {
  const get = (k: string): string => info.metadata?.[k] ?? info.headers?.get(k) ?? '';
  const lsnText = get(HDR_SNAP_LSN);
  const seqText = get(HDR_SNAP_SEQ);
  const formatText = get(HDR_SNAP_FORMAT);
  let lsn: Lsn;
  try {
    lsn = parseLsn(lsnText);
  } catch {
    throw new SnapshotError(`snapshot object has an invalid ${HDR_SNAP_LSN}: ${JSON.stringify(lsnText)}`);
  }
  if (!/^[0-9]{1,15}$/.test(seqText))
    throw new SnapshotError(`snapshot object has an invalid ${HDR_SNAP_SEQ}: ${JSON.stringify(seqText)}`);
  if (!/^[0-9]{1,4}$/.test(formatText))
    throw new SnapshotError(
      `snapshot object has an invalid ${HDR_SNAP_FORMAT}: ${JSON.stringify(formatText)}`,
    );
  return {
    lsn,
    seq: Number(seqText),
    format: Number(formatText),
    systemId: get(HDR_SNAP_SYSTEM_ID),
    database: get(HDR_SNAP_DATABASE),
    size: info.size,
    revision: info.revision,
    mtime: info.mtime,
  };
}

/** What an edge requires of a snapshot: this upstream (when known) and this replica layout. */
export interface SnapshotExpect {
  systemId?: string;
  database?: string;
}

function checkLabel(l: SnapshotInfo, expect: SnapshotExpect): void {
  if (l.format !== REPLICA_FORMAT) {
    throw new SnapshotError(
      `snapshot has replica layout ${l.format}; this Outpost reads layout ${REPLICA_FORMAT}`,
    );
  }
  if (expect.systemId !== undefined && l.systemId !== expect.systemId) {
    throw new SnapshotError(
      `snapshot was taken from upstream system ${l.systemId || '?'}, not this upstream (${expect.systemId})`,
    );
  }
  if (expect.database !== undefined && l.database !== expect.database) {
    throw new SnapshotError(
      `snapshot was taken from upstream database "${l.database}", not "${expect.database}"`,
    );
  }
}

/** The newest snapshot's label, or null when there is none (no bucket, no object). */
export async function latestSnapshotInfo(nc: NatsConnection, stream: string): Promise<SnapshotInfo | null> {
  let os: ObjectStore;
  try {
    os = await snapshotStore(nc, stream, false);
  } catch (err) {
    if (/not found/i.test(errorMessage(err))) return null;
    throw err;
  }
  const info = await os.info(SNAPSHOT_OBJECT);
  if (!info || info.deleted) return null;
  return parseLabel(info);
}

/**
 * Downloads the newest snapshot to `path` (created 0600, replaced if present),
 * checks its label and its content (the client verifies the SHA-256 digest;
 * the file's own meta must agree with the label), marks it as following the
 * stream (`source`, `nats_stream`, `nats_seq`, and `meta`) and fsyncs it. Null when there is
 * no snapshot. The caller renames it into place or installs it. An object
 * replaced while it downloads (the hub publishing on its schedule) is not
 * waited out: the newer one is downloaded instead.
 */
export async function downloadSnapshot(
  nc: NatsConnection,
  stream: string,
  path: string,
  expect: SnapshotExpect = {},
  meta: Record<string, string> = {},
): Promise<SnapshotInfo | null> {
  let os: ObjectStore;
  try {
    os = await snapshotStore(nc, stream, false);
  } catch (err) {
    if (/not found/i.test(errorMessage(err))) return null;
    throw err;
  }
  for (let attempt = 1; ; attempt++) {
    const label = await downloadOnce(os, path, expect);
    if (label === null) return null;
    if (label === 'replaced') {
      if (attempt < DOWNLOAD_ATTEMPTS) continue;
      throw new SnapshotError(`the snapshot was replaced during each of ${DOWNLOAD_ATTEMPTS} downloads`);
    }
    try {
      markFollowing(path, label, stream, meta);
    } catch (err) {
      rmSync(path, { force: true });
      rmSync(`${path}-journal`, { force: true });
      throw err;
    }
    return label;
  }
}

/**
 * One download of the newest object to `path`, its size checked. `replaced`
 * (`path` removed) when another object took its place before it was read
 * whole: its remaining chunks are gone.
 */
async function downloadOnce(
  os: ObjectStore,
  path: string,
  expect: SnapshotExpect,
): Promise<SnapshotInfo | 'replaced' | null> {
  const res = await os.get(SNAPSHOT_OBJECT);
  if (!res) return null;
  const label = parseLabel(res.info);
  // Read below only for a download read to its end; one abandoned may still reject it.
  Promise.resolve(res.error).catch(() => {});
  try {
    checkLabel(label, expect);
  } catch (err) {
    await res.data.cancel().catch(() => {});
    throw err;
  }
  rmSync(path, { force: true });
  rmSync(`${path}-journal`, { force: true });
  const fh = await openFile(path, 'wx', 0o600);
  const reader = res.data.getReader();
  const tick = Symbol('tick');
  let timer: NodeJS.Timeout | undefined;
  try {
    let next = reader.read();
    let lastChunkAt = Date.now();
    for (;;) {
      const chunk = await Promise.race([
        next,
        new Promise<typeof tick>((resolve) => {
          timer = setTimeout(() => resolve(tick), REPLACED_CHECK_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk === tick) {
        const now = await os.info(SNAPSHOT_OBJECT);
        if (!now || now.deleted || now.nuid !== res.info.nuid) {
          await reader.cancel().catch(() => {});
          await fh.close();
          rmSync(path, { force: true });
          return 'replaced';
        }
        if (Date.now() - lastChunkAt >= DOWNLOAD_IDLE_MS)
          throw new SnapshotError(`snapshot download received nothing for ${DOWNLOAD_IDLE_MS / 1000} s`);
        continue;
      }
      if (chunk.done) break;
      await fh.write(chunk.value);
      lastChunkAt = Date.now();
      next = reader.read();
    }
    const err = await res.error;
    if (err) throw err;
    await fh.sync();
  } catch (err) {
    await reader.cancel().catch(() => {});
    await fh.close();
    rmSync(path, { force: true });
    throw err;
  }
  await fh.close();
  if (statSync(path).size !== label.size) {
    rmSync(path, { force: true });
    throw new SnapshotError(
      `snapshot download is ${statSync(path).size} bytes; the object has ${label.size}`,
    );
  }
  return label;
}

/** Checks a downloaded file against its label and records the stream position in it. */
function markFollowing(
  path: string,
  label: SnapshotLabel,
  stream: string,
  extra: Record<string, string>,
): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma('synchronous = FULL');
    const get = db.prepare('SELECT value FROM _outpost_meta WHERE key = ?').pluck();
    const meta = (k: string) => get.get(k) as string | undefined;
    if (meta('snapshot_state') !== 'complete')
      throw new SnapshotError('snapshot file is not a complete replica');
    if (meta('format') !== String(label.format))
      throw new SnapshotError(
        `snapshot file has layout ${meta('format') ?? '1'}, its label says ${label.format}`,
      );
    if (meta('applied_lsn') !== formatLsn(label.lsn))
      throw new SnapshotError(
        `snapshot file is at ${meta('applied_lsn') ?? '?'}, its label says ${formatLsn(label.lsn)}`,
      );
    if (meta('system_identifier') !== label.systemId || meta('database') !== label.database)
      throw new SnapshotError('snapshot file comes from another upstream than its label says');
    if (meta('slot') !== undefined) throw new SnapshotError('snapshot file still names a replication slot');
    const set = db.prepare(
      'INSERT INTO _outpost_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    db.transaction(() => {
      set.run('source', 'nats');
      set.run('nats_stream', stream);
      set.run('nats_seq', String(label.seq));
      for (const [k, v] of Object.entries(extra)) set.run(k, v);
    })();
  } finally {
    db.close();
  }
}

/**
 * First bootstrap of an edge from the object store: the newest snapshot is
 * downloaded to `<dest>.download`, verified, fsynced and renamed over `dest`,
 * then the directory is fsynced. `dest` must not be open. The file is the old
 * one or the new one, never a mix: an old file's WAL is checkpointed into it
 * first (SQLite would replay a leftover WAL into the new file, and deleting it
 * unfolded would leave the old file half written if we crashed before the
 * rename). Null (and `dest` untouched) when the bucket holds no snapshot or
 * `accept` refuses its label.
 */
export async function fetchLatestSnapshot(
  nc: NatsConnection,
  stream: string,
  destPath: string,
  expect: SnapshotExpect = {},
  opts: {
    /** Meta written into the file with the stream position (`downloadSnapshot`). */
    meta?: Record<string, string>;
    /** Last check of the label before the swap (e.g. the stream still holds its seq + 1). */
    accept?: (label: SnapshotInfo) => Promise<boolean> | boolean;
  } = {},
): Promise<SnapshotInfo | null> {
  const tmp = `${destPath}.download`;
  try {
    const label = await downloadSnapshot(nc, stream, tmp, expect, opts.meta ?? {});
    if (!label) return null;
    if (opts.accept && !(await opts.accept(label))) return null;
    foldWal(destPath);
    for (const suffix of ['-shm', '-journal']) rmSync(`${destPath}${suffix}`, { force: true });
    renameSync(tmp, destPath);
    fsyncDir(dirname(destPath));
    return label;
  } finally {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}-journal`, { force: true });
  }
}

/** Leaves `path` without a -wal: checkpointed in and removed by the last connection's close. */
function foldWal(path: string): void {
  if (!existsSync(`${path}-wal`)) return;
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  if (existsSync(`${path}-wal`))
    throw new SnapshotError(`replica file ${path} is open in another process: not replaced`);
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface RetentionCheck {
  /** The edge's next message is gone from the stream: re-bootstrap. */
  lost: boolean;
  firstSeq: number;
  lastSeq: number;
}

/** Whether an edge that applied everything up to `storedSeq` can still continue from the stream. */
export async function retentionCheck(
  jsm: JetStreamManager,
  stream: string,
  storedSeq: number,
): Promise<RetentionCheck> {
  const { state } = await jsm.streams.info(stream);
  return { lost: storedSeq + 1 < state.first_seq, firstSeq: state.first_seq, lastSeq: state.last_seq };
}
