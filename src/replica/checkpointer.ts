/**
 * Checkpoints of a replica file, off the applying thread.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses its
 * threshold: that COMMIT copies every page changed since the last one into
 * the database file and fsyncs it. On the apply path this was the longest
 * stall of replication (measured at 500 tps tpcb-like on a loaded 2-core
 * machine, one COMMIT of 330-650 ms every ~9 s in every replica, and on the
 * NATS hub that held up publishing for every edge). So the writer turns it
 * off (`wal_autocheckpoint = 0`) and a thread of its own with its own
 * connection runs PASSIVE checkpoints (once 4000 frames wait, or any for 5 s),
 * which never wait for the writer or the readers and never make them wait: commits append to the WAL meanwhile, and
 * the writer starts the WAL over at its next transaction once everything is
 * copied and no reader still uses it, as with automatic checkpoints.
 *
 * Durability is SQLite's own (a checkpoint syncs the WAL before copying and
 * the database file after); nothing here decides what is confirmed upstream.
 * A WAL file grown large (a backlog, a long reader holding old frames) is
 * truncated once everything in it is copied and nobody is using it.
 *
 * Protocol: `flags` Int32Array [0] stop requested, [1] the worker closed its
 * connection (close() waits for it, so the writer's close stays the last one
 * and removes the WAL, as without this thread). Messages: CheckpointReport.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { startWorker } from '../worker-start.js';

/** Given to the worker (`workerData`). */
export interface CheckpointInit {
  path: string;
  /** How often the WAL is looked at. */
  intervalMs: number;
  /** Checkpoint once this many frames are not yet copied... */
  frames: number;
  /** ...or once any have waited this long. */
  maxDelayMs: number;
  truncateBytes: number;
  flags: SharedArrayBuffer;
}

export type ToCheckpointer = { type: 'stop' } | { type: 'now'; id: number };

export type CheckpointReport =
  | { type: 'checkpoint'; log: number; checkpointed: number; busy: number; truncated: boolean; ms: number }
  | { type: 'error'; message: string }
  | { type: 'done'; id: number };

export interface CheckpointerStatus {
  /** Checkpoints that found something to do. */
  checkpoints: number;
  truncations: number;
  /** Frames in the WAL and how many of them are in the database file, at the last checkpoint. */
  walFrames: number;
  checkpointedFrames: number;
  lastError?: string;
}

/** The WAL's length is looked at this often (a 100-byte read of the -shm file). */
const INTERVAL_MS = 100;
/**
 * A PASSIVE checkpoint once this many frames (pages) wait, 16 MiB of 4 KiB
 * pages: a page changed by many transactions in between is copied once, and
 * readers' WAL lookups stay short. SQLite's own default is 1000.
 */
const CHECKPOINT_FRAMES = 4000;
/** Or once any frame has waited this long (a quiet replica's file catches up). */
const MAX_DELAY_MS = 5_000;
/** A WAL file longer than this is truncated once all of it is copied. */
const TRUNCATE_BYTES = 64 * 1024 * 1024;
const RESTART_DELAY_MS = 1_000;
const CLOSE_WAIT_MS = 10_000;

export class Checkpointer {
  private worker: Worker | undefined;
  private readonly flags = new Int32Array(new SharedArrayBuffer(8));
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, () => void>();
  private failures = 0;
  private readonly st: CheckpointerStatus = {
    checkpoints: 0,
    truncations: 0,
    walFrames: 0,
    checkpointedFrames: 0,
  };

  constructor(
    private readonly path: string,
    private readonly opts: {
      logger: Logger;
      intervalMs?: number;
      frames?: number;
      maxDelayMs?: number;
      truncateBytes?: number;
    },
  ) {}

  start(): void {
    if (this.worker || this.stopped) return;
    Atomics.store(this.flags, 0, 0);
    Atomics.store(this.flags, 1, 0);
    const init: CheckpointInit = {
      path: this.path,
      intervalMs: this.opts.intervalMs ?? INTERVAL_MS,
      frames: this.opts.frames ?? CHECKPOINT_FRAMES,
      maxDelayMs: this.opts.maxDelayMs ?? MAX_DELAY_MS,
      truncateBytes: this.opts.truncateBytes ?? TRUNCATE_BYTES,
      flags: this.flags.buffer as SharedArrayBuffer,
    };
    const worker = startWorker(import.meta.url, 'checkpoint-worker', init);
    this.worker = worker;
    // Never what keeps the process alive.
    worker.unref();
    worker.on('message', (m: CheckpointReport) => this.onReport(m));
    worker.on('error', (err) => {
      this.st.lastError = err.message;
      this.opts.logger.warn(
        { err: err.message, replica: this.path },
        'replica: the checkpoint thread failed',
      );
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      for (const w of this.waiting.values()) w();
      this.waiting.clear();
      if (this.stopped) return;
      // Without it the WAL would only grow: start another.
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.start();
      }, RESTART_DELAY_MS);
      this.restartTimer.unref();
    });
  }

  status(): CheckpointerStatus {
    return { ...this.st };
  }

  /** Runs a checkpoint now and resolves once it is done (tests, and after a bulk write). */
  checkpointNow(): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    const id = ++this.nextId;
    return new Promise<void>((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ type: 'now', id } satisfies ToCheckpointer);
    });
  }

  /**
   * Stops the thread and waits (blocking, bounded) until its connection is
   * closed: the caller closes the writer right after, which then is the last
   * connection and folds the WAL into the file.
   */
  close(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    Atomics.store(this.flags, 0, 1);
    worker.postMessage({ type: 'stop' } satisfies ToCheckpointer);
    // The worker sees the flag between checkpoints (one in progress finishes first).
    if (Atomics.wait(this.flags, 1, 0, CLOSE_WAIT_MS) === 'timed-out') {
      this.opts.logger.warn({ replica: this.path }, 'replica: the checkpoint thread did not stop in time');
      void worker.terminate();
    }
  }

  private onReport(m: CheckpointReport): void {
    switch (m.type) {
      case 'checkpoint':
        this.st.checkpoints++;
        if (m.truncated) this.st.truncations++;
        this.st.walFrames = m.log;
        this.st.checkpointedFrames = m.checkpointed;
        this.failures = 0;
        return;
      case 'error':
        this.st.lastError = m.message;
        // A checkpoint that fails (disk full, I/O error) is retried at the next interval.
        if (this.failures++ % 100 === 0)
          this.opts.logger.warn(
            { err: m.message, replica: this.path },
            'replica: checkpoint failed; retrying',
          );
        return;
      case 'done': {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.();
        return;
      }
    }
  }
}
