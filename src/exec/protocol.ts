/**
 * Messages between the proxy and its executor processes (`exec-child.ts`),
 * sent over the child's IPC channel with Node's "advanced" serialization
 * (structured clone: bigints and Buffers survive, unlike JSON).
 */
import type { RenderColumn } from '../sql/render.js';

/** One statement of a job: what the router compiled, with this run's bound values. */
export interface PlanJob {
  /** SQLite text of the statement. */
  sql: string;
  /** SQLite text of the prechecks (constant expressions Postgres folds while planning), if any. */
  precheck: string | undefined;
  /** Named parameter values; undefined when the statement has none. */
  values: Record<string, unknown> | undefined;
  /** Output columns, to render each value as Postgres text. */
  outputs: RenderColumn[];
}

export type ToChild =
  | {
      t: 'run';
      id: number;
      plans: PlanJob[];
      /** The session's reported settings (DateStyle, TimeZone, ...) the renderers read. */
      params: [string, string][];
      /** The READ ONLY transaction's snapshot to read from (opened by `begin`). */
      snapshot: number | undefined;
    }
  /** Open a deferred SQLite transaction for snapshot `snapshot` (taken by its first read). */
  | { t: 'begin'; snapshot: number }
  | { t: 'end'; snapshot: number };

export type FromChild =
  | { t: 'ready' }
  /** Rendered rows of statement `plan` of job `id`, in order; more may follow. */
  | { t: 'rows'; id: number; plan: number; rows: (string | null)[][] }
  /** Job `id` finished; every row was sent before this. */
  | { t: 'done'; id: number }
  /** Job `id` cannot be answered exactly here: the session forwards it (nothing was sent). */
  | { t: 'not-local'; id: number; reason: string }
  /** `begin` failed: the snapshot is unusable. */
  | { t: 'snapshot-failed'; snapshot: number };
