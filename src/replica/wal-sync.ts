/**
 * Durability of a replica written with synchronous=NORMAL (store.relaxSync),
 * off the event loop: commits return without an fsync, and this fsyncs the
 * WAL file in libuv's thread pool, one sync at a time, covering every commit
 * made before it started. `confirmable(lsn)` says how much of a committed
 * position is on disk, and asks for a sync when it is not all there yet.
 *
 * Why this is as durable as synchronous=FULL for what is confirmed: a commit
 * writes its WAL frames (ending with a commit frame) before COMMIT returns;
 * fdatasync of the WAL file after that puts those frames on disk, and SQLite's
 * recovery replays every frame up to the last valid commit frame. NORMAL
 * still syncs the WAL before each checkpoint, the database file after it, and
 * the WAL header when the file starts over, so the file is consistent at any
 * crash; what a power cut can lose is only commits no sync has covered yet,
 * which nothing confirmed.
 */
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Logger } from '../log.js';
import type { Lsn } from '../replication/lsn.js';
import type { ReplicaStore } from './store.js';

const RETRY_MS = 200;

export class WalSync {
  /** Every commit up to this position is on disk. */
  private durable: Lsn = 0n;
  /** Committed, asked to be made durable. */
  private wanted: Lsn = 0n;
  private running = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  /** Syncs done (status, tests). */
  syncs = 0;
  /** Failed syncs in a row (the first is logged, then every 100th). */
  private failures = 0;

  constructor(
    private readonly dbPath: string,
    private readonly opts: { logger: Logger; onDurable?: () => void },
  ) {}

  /**
   * At start, before anything is confirmed: the file as an earlier process
   * left it may be in the page cache only (it was killed between a commit
   * and its sync). Synchronous: once, before streaming.
   */
  syncNow(committed: Lsn): void {
    for (const p of [this.dbPath, `${this.dbPath}-wal`]) {
      let fd: number;
      try {
        fd = openSync(p, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      try {
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    if (committed > this.durable) this.durable = committed;
  }

  /** The part of `committed` (a position SQLite has committed) that is on disk; asks for the rest. */
  confirmable(committed: Lsn): Lsn {
    if (committed > this.durable) this.request(committed);
    return committed < this.durable ? committed : this.durable;
  }

  /** Everything up to here is on disk. */
  durableLsn(): Lsn {
    return this.durable;
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  private request(lsn: Lsn): void {
    if (lsn > this.wanted) this.wanted = lsn;
    if (!this.running && !this.retry && !this.closed) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (!this.closed && this.wanted > this.durable) {
        // Read before the sync starts: every commit up to it is in the file by now.
        const target = this.wanted;
        await this.syncFile();
        this.syncs++;
        this.failures = 0;
        if (this.closed) return;
        if (target > this.durable) {
          this.durable = target;
          this.opts.onDurable?.();
        }
      }
    } catch (err) {
      // Nothing becomes durable meanwhile: confirming upstream waits (the slot keeps the WAL).
      if (this.failures++ % 100 === 0)
        this.opts.logger.warn(
          { err: (err as Error).message, file: `${this.dbPath}-wal` },
          'replica: fsync failed; retrying (nothing more is confirmed upstream until it succeeds)',
        );
      if (!this.closed) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          void this.run();
        }, RETRY_MS);
        this.retry.unref();
      }
    } finally {
      this.running = false;
    }
  }

  private async syncFile(): Promise<void> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(`${this.dbPath}-wal`, 'r');
    } catch (err) {
      // No WAL file (never written, or the last connection checkpointed it away): all is in the database file.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fh = await open(this.dbPath, 'r');
    }
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
}

/**
 * A replica writer that commits without an fsync each (synchronous=NORMAL)
 * and syncs off the event loop: what it may confirm upstream is then
 * `confirmable()` of the returned WalSync (the engine's `durability`).
 * Whatever an earlier process committed is synced first, before anything is
 * confirmed on the strength of it.
 */
export function syncOffLoop(store: ReplicaStore, logger: Logger, onDurable: () => void): WalSync {
  store.relaxSync();
  const sync = new WalSync(store.path, { logger, onDurable });
  sync.syncNow(store.snapshotComplete() ? store.appliedLsn() : 0n);
  return sync;
}
