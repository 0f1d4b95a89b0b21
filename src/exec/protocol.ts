/**
 * Messages between the proxy and its executor processes (`exec-child.ts`),
 * sent over the child's IPC channel with Node's "advanced" serialization
 * (structured clone: bigints and Buffers survive, unlike JSON).
 *
 * A job's rows come back in one of two ways. Up to `BUFFERED_RESULT_BYTES`
 * of rendered text, as `rows` messages that the proxy keeps until `done`:
 * nothing reaches the client before the whole result is known, so any
 * failure can still be forwarded. A bigger result, when the session can
 * stream it, is first read to its end without being kept (every error
 * Postgres would raise, or anything not answerable exactly, is found then
 * and the statement forwarded, as before anything was sent), then read again
 * in the same SQLite snapshot and sent as encoded DataRow messages, in
 * `data` chunks under credit-based flow control: the child sends a chunk
 * only while it holds a credit, and the proxy gives one back each time the
 * client's socket has taken a chunk. Memory stays bounded by the credits in
 * flight, however big the result and however slow the client.
 */
import type { RenderColumn } from '../sql/render.js';

/** Largest result (rendered text, all statements of a job) a job keeps whole before it is sent. */
export const BUFFERED_RESULT_BYTES = 8 * 1024 * 1024;
/** Bytes of encoded DataRows per `data` chunk (one row may make a chunk bigger). */
export const STREAM_CHUNK_BYTES = 32 * 1024;
/** Chunks a streaming job may have sent and not had credited back. */
export const STREAM_CREDITS = 8;

/** One statement of a job: what the router compiled, with this run's bound values. */
export interface PlanJob {
  /** Identifies `sql`, `precheck` and `outputs` (one compiled plan): an executor keeps them by it. */
  key: number;
  /** SQLite text of the statement. */
  sql: string;
  /** SQLite text of the prechecks (constant expressions Postgres folds while planning), if any. */
  precheck: string | undefined;
  /** Named parameter values; undefined when the statement has none. */
  values: Record<string, unknown> | undefined;
  /** Output columns, to render each value as Postgres text. */
  outputs: RenderColumn[];
}

/** What a compiled plan is, sent the first time an executor is given its key. */
export type PlanDef = Pick<PlanJob, 'sql' | 'precheck' | 'outputs'>;

/** A statement of a `run`: its plan's definition only when the executor does not have it yet. */
export interface WirePlan {
  key: number;
  values: Record<string, unknown> | undefined;
  def?: PlanDef;
}

/** Plan definitions an executor keeps; past this the proxy has it forget them all (`forget`) and sends them again. */
export const EXECUTOR_PLANS = 2000;

export type ToChild =
  | {
      t: 'run';
      id: number;
      plans: WirePlan[];
      /** Drop every kept plan definition before this run. */
      forget?: true;
      /**
       * The session's reported settings (DateStyle, TimeZone, ...) the
       * renderers read; undefined: the same as this executor's previous run.
       */
      params: [string, string][] | undefined;
      /** The READ ONLY transaction's snapshot to read from (opened by `begin`). */
      snapshot: number | undefined;
      /** The session can stream a result bigger than `BUFFERED_RESULT_BYTES` (else it is not answered here). */
      stream: boolean;
    }
  /** The proxy has written `n` more chunks of streaming job `id` to its client. */
  | { t: 'credit'; id: number; n: number }
  /** Open a deferred SQLite transaction for snapshot `snapshot` (taken by its first read). */
  | { t: 'begin'; snapshot: number }
  | { t: 'end'; snapshot: number };

export type FromChild =
  | { t: 'ready' }
  /** Rendered rows of statement `plan` of job `id`, in order; more may follow. */
  | { t: 'rows'; id: number; plan: number; rows: (string | null)[][] }
  /**
   * Job `id`'s result is too big to keep and was read to its end without an
   * error: forget its `rows`, it is sent again from the start as `data`.
   */
  | { t: 'stream'; id: number }
  /** `rows` DataRow messages (text format) of statement `plan` of streaming job `id`; costs one credit. */
  | { t: 'data'; id: number; plan: number; rows: number; data: Buffer }
  /**
   * Job `id` finished; every row was sent before this, or is in `rows`: a
   * small result rides on `done` itself, one message and one wake-up of the
   * proxy instead of two.
   */
  | { t: 'done'; id: number; rows?: { plan: number; rows: (string | null)[][] }[] }
  /** Job `id` cannot be answered exactly here: the session forwards it (nothing was sent). */
  | { t: 'not-local'; id: number; reason: string }
  /** Streaming job `id` failed after rows were sent (not expected: the first reading found no error). */
  | { t: 'failed'; id: number; reason: string }
  /** `begin` failed: the snapshot is unusable. */
  | { t: 'snapshot-failed'; snapshot: number };
