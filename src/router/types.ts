import type { SessionState } from '../session.js';

/** One column of a RowDescription (https://www.postgresql.org/docs/current/protocol-message-formats.html). */
export interface FieldDescription {
  name: string;
  /** pg_class OID when the column is a direct reference to a table column, else 0. */
  tableOid: number;
  /** attnum for direct column references, else 0. */
  columnAttr: number;
  typeOid: number;
  /** pg_type.typlen. */
  typeSize: number;
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: 0 | 1;
}

/** The complete answer to one statement, computed before anything is sent. */
export interface LocalResult {
  fields: FieldDescription[];
  /** Values already rendered as Postgres text; null is SQL NULL. */
  rows: (string | null)[][];
  /** CommandComplete tag, e.g. `SELECT 3`. */
  commandTag: string;
}

export type Route =
  /**
   * Every statement of the query string can be answered locally. `run()`
   * returns one result per statement, or throws `NotLocal` (nothing has been
   * sent yet), in which case the session forwards the whole string upstream.
   */
  | { kind: 'local'; run(): LocalResult[] }
  | { kind: 'upstream'; reason: string }
  /** `SHOW outpost.last_route`: the session answers from its own state. */
  | { kind: 'show-last-route' };

export interface QueryRouter {
  /** Classify a simple-protocol query string for this session. Never throws. */
  route(sql: string, session: SessionState): Route;
  /** A statement forwarded through the extended protocol (Parse): note its side effects on the session. */
  observe?(sql: string, session: SessionState): void;
  /**
   * The client's upstream session is authenticated. The session relays
   * upstream's first ReadyForQuery only after the returned promise settles
   * (bounded), so per-role facts are warm for the first statement.
   */
  sessionStarting?(
    session: SessionState,
    startupParams: ReadonlyMap<string, string>,
  ): Promise<void> | undefined;
}
