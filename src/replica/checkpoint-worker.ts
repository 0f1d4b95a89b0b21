/**
 * Entry point of the checkpoint thread (started by checkpointer.ts): its own
 * connection to the replica file, copying committed WAL frames into the
 * database file with PASSIVE checkpoints, which never wait for (nor hold up)
 * the writer or the readers. The protocol is in checkpointer.ts.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointInit, CheckpointReport, ToCheckpointer } from './checkpointer.js';

if (!parentPort) throw new Error('checkpoint-worker.ts runs as a worker thread');
const port = parentPort;
const init = workerData as CheckpointInit;
const flags = new Int32Array(init.flags);

let db: Database.Database;
try {
  db = new Database(init.path, { fileMustExist: true });
} catch (err) {
  // close() must not wait for a connection that never opened.
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  throw err;
}
// A checkpoint syncs the WAL before copying and the database file after (both
// NORMAL and FULL do), so a frame is dropped from the WAL's reach only once
// it is on disk in the database file.
db.pragma('synchronous = FULL');
// Never wait for a lock: a TRUNCATE that would have to wait is just tried later.
db.pragma('busy_timeout = 0');

interface Row {
  busy: number;
  log: number;
  checkpointed: number;
}

let timer: NodeJS.Timeout | undefined;
let closed = false;
let lastCheckpointed = -1;
let lastLog = -1;

const shm = Buffer.alloc(100);
let shmFd: number | undefined;

/**
 * Frames committed to the WAL and not yet copied into the database file, read
 * from the wal-index (the -shm file; https://www.sqlite.org/walformat.html:
 * the header's mxFrame at byte 16, the checkpoint info's nBackfill at byte 96,
 * native byte order). A torn read only makes a checkpoint a little early or
 * late. Undefined when the file cannot be read: checkpoint on the interval then.
 */
function pendingFrames(): number | undefined {
  try {
    shmFd ??= openSync(`${init.path}-shm`, 'r');
    if (readSync(shmFd, shm, 0, 100, 0) < 100) return 0;
  } catch {
    return undefined;
  }
  const mx = shm.readUInt32LE(16);
  const backfill = shm.readUInt32LE(96);
  return mx > backfill ? mx - backfill : 0;
}

function walBytes(): number {
  try {
    return statSync(`${init.path}-wal`).size;
  } catch {
    return 0;
  }
}

function checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): Row {
  return (db.pragma(`wal_checkpoint(${mode})`) as Row[])[0] as Row;
}

/** One PASSIVE checkpoint; a long WAL whose frames are all copied is truncated when no one uses it. */
function once(): Extract<CheckpointReport, { type: 'checkpoint' }> {
  const started = performance.now();
  const r = checkpoint('PASSIVE');
  let truncated = false;
  // Every frame copied but the file stays at its longest (it is reused from the
  // start, never shrunk): give the space back when it is large and nobody
  // reads or writes the WAL at this moment.
  if (r.log > 0 && r.checkpointed === r.log && walBytes() > init.truncateBytes) {
    const t = checkpoint('TRUNCATE');
    truncated = t.busy === 0;
  }
  return {
    type: 'checkpoint',
    log: r.log,
    checkpointed: r.checkpointed,
    busy: r.busy,
    truncated,
    ms: performance.now() - started,
  };
}

function close(): void {
  if (closed) return;
  closed = true;
  if (timer) clearTimeout(timer);
  if (shmFd !== undefined) closeSync(shmFd);
  db.close();
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  port.close();
}

/** Since when frames have been waiting (undefined: none are). */
let pendingSince: number | undefined;

/** Whether to checkpoint now: enough frames pending, or some pending for a while. */
function due(force: boolean): boolean {
  if (force) return true;
  const pending = pendingFrames();
  if (pending === undefined) return true;
  if (pending === 0) {
    pendingSince = undefined;
    return false;
  }
  pendingSince ??= performance.now();
  return pending >= init.frames || performance.now() - pendingSince >= init.maxDelayMs;
}

function tick(force = false): void {
  timer = undefined;
  if (Atomics.load(flags, 0) !== 0) {
    close();
    return;
  }
  if (!due(force)) {
    timer = setTimeout(tick, init.intervalMs);
    return;
  }
  pendingSince = undefined;
  try {
    const rep = once();
    // Reported when it did something (the main thread counts and logs).
    if (rep.checkpointed !== lastCheckpointed || rep.log !== lastLog || rep.truncated) port.postMessage(rep);
    lastCheckpointed = rep.checkpointed;
    lastLog = rep.log;
  } catch (err) {
    port.postMessage({ type: 'error', message: (err as Error).message } satisfies CheckpointReport);
  }
  if (Atomics.load(flags, 0) !== 0) {
    close();
    return;
  }
  timer = setTimeout(tick, init.intervalMs);
}

port.on('message', (m: ToCheckpointer) => {
  if (m.type === 'stop') close();
  else if (m.type === 'now' && !closed) {
    if (timer) clearTimeout(timer);
    tick(true);
    if (!closed) port.postMessage({ type: 'done', id: m.id } satisfies CheckpointReport);
  }
});

tick();
