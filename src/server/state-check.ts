/**
 * Re-learning a session's state from its own upstream session. User code (a
 * function, trigger, DO block, procedure) can change settings, the role or
 * temporary tables without the statement saying so; after such a statement
 * Outpost sends this query on the client's upstream connection, hidden from
 * the client, and answers locally again only if the state is still one the
 * local path reproduces exactly.
 *
 * The query runs with the client's settings, search_path included, so every
 * name in it is qualified with pg_catalog (a schema placed before pg_catalog
 * could otherwise supply its own `current_setting` or `=`).
 */
import { settingProblem, WATCHED_SETTINGS } from '../router/settings.js';
import { adoptResetTimeouts, idleInTransactionMs, parseTimeout } from '../router/timeouts.js';
import type { SessionState } from '../session.js';
import { serializeQuery } from '../wire/frontend.js';

/**
 * The unreported settings the local path depends on, each with the values
 * under which local answers are exact (absolute, so no baseline is needed:
 * reading reset values from pg_settings costs about 2 ms upstream, 30 times
 * this query). A server default outside them just keeps such a session
 * upstream after user code ran.
 */
const CHECKS: readonly [string, (value: string) => boolean][] = [
  ['search_path', (v) => settingProblem('search_path', v) === undefined],
  ['extra_float_digits', (v) => settingProblem('extra_float_digits', v) === undefined],
  ['bytea_output', (v) => v === 'hex'],
  ['transform_null_equals', (v) => v === 'off'],
  ['row_security', (v) => v === 'on'],
  ['array_nulls', (v) => v === 'on'],
  ['quote_all_identifiers', (v) => v === 'off'],
  ['default_transaction_isolation', (v) => v === 'read committed'],
  // to_number's locale patterns and money's input and output read C's symbols where the
  // server's are C (`numericC` below).
  ['lc_numeric', (v) => v === 'C' || v === 'POSIX'],
  ['lc_monetary', (v) => v === 'C' || v === 'POSIX'],
];

/** Checked only when local answers depend on them (the server's own values are C). */
const NUMERIC_LOCALE = new Set(['lc_numeric', 'lc_monetary']);

/**
 * Watched settings the check leaves out: the role is compared as
 * current_user and session_user; no local answer depends on lc_messages or
 * lc_time (messages are never produced locally, nor to_char's locale
 * patterns; a SET of one still forwards the session, conservatively).
 */
const NOT_CHECKED = new Set(['role', 'session_authorization', 'lc_messages', 'lc_time']);

for (const name of WATCHED_SETTINGS) {
  // A setting added to WATCHED_SETTINGS must be checked here too, or be excluded with a reason.
  if (!NOT_CHECKED.has(name) && !CHECKS.some(([n]) => n === name)) {
    throw new Error(`state check does not cover watched setting ${name}`);
  }
}

/**
 * One row: current_user, session_user, whether the session has a temporary
 * schema (it gets one with its first temporary relation and keeps it: a
 * session that ever made one stays upstream, as after CREATE TEMP), then
 * the value of each checked setting. About 0.1 ms of upstream time.
 */
/**
 * Timeouts the session follows itself (src/router/timeouts.ts): user code
 * may have changed them too, so they must still be what Outpost applies.
 */
const FOLLOWED: readonly [string, (session: SessionState) => number][] = [
  ['statement_timeout', (session) => session.statementTimeoutMs ?? 0],
  ['idle_in_transaction_session_timeout', idleInTransactionMs],
  // Postgres 17: read with missing_ok, NULL (none in force) before.
  ['transaction_timeout', (session) => session.transactionTimeoutMs ?? 0],
];

export const STATE_CHECK_SQL = `select current_user, session_user,
 pg_catalog.pg_my_temp_schema() operator(pg_catalog.<>) 0::pg_catalog.oid,
 ${[...CHECKS.map(([name]) => `pg_catalog.current_setting('${name}')`), ...FOLLOWED.map(([name]) => `pg_catalog.current_setting('${name}', true)`)].join(', ')}`;

export const STATE_CHECK_QUERY: Buffer = serializeQuery(STATE_CHECK_SQL);

const SETTING_CHANGED = 'setting changed upstream: ';

/**
 * A problem that lasts only while the setting keeps its value (a later check
 * may find it back where local answers are exact: `RESET search_path`, the
 * end of a `SET LOCAL`), unlike a changed role or a temporary schema.
 */
export function settingDrift(problem: string): boolean {
  return problem.startsWith(SETTING_CHANGED);
}

/**
 * The timeouts whose reset values the `resets` variant reads (in
 * pg_settings' unit, ms); transaction_timeout has no row before Postgres 17
 * (NULL: none in force).
 */
const RESETS = ['statement_timeout', 'idle_in_transaction_session_timeout', 'transaction_timeout'] as const;

/**
 * The check, plus the session's reset values of the followed timeouts: what
 * the startup packet, role, database and server defaults made of them
 * (pg_settings costs about 2 ms upstream, so only when a default may set one).
 */
export const STATE_CHECK_RESETS_SQL = `${STATE_CHECK_SQL},
 ${RESETS.map((name) => `(select s.reset_val from pg_catalog.pg_settings s where s.name operator(pg_catalog.=) '${name}')`).join(', ')}`;

export const STATE_CHECK_RESETS_QUERY: Buffer = serializeQuery(STATE_CHECK_RESETS_SQL);

/**
 * Upstream's WAL insert position (read-your-writes), read right behind a
 * session's statements on its own connection: alone, or as the last column
 * of the state check when both are due, so a write is followed by one
 * hidden query, not two (each costs upstream a parse, a plan and a reply).
 */
export const POSITION_SQL = 'SELECT pg_catalog.pg_current_wal_insert_lsn()';
export const POSITION_QUERY: Buffer = serializeQuery(POSITION_SQL);
const POSITION_COLUMN = ',\n pg_catalog.pg_current_wal_insert_lsn()';
export const STATE_CHECK_POSITION_QUERY: Buffer = serializeQuery(`${STATE_CHECK_SQL}${POSITION_COLUMN}`);
export const STATE_CHECK_RESETS_POSITION_QUERY: Buffer = serializeQuery(
  `${STATE_CHECK_RESETS_SQL}${POSITION_COLUMN}`,
);

/** The state check to send: with the reset values of the timeouts, with the position as its last column. */
export function stateCheckQuery(resets: boolean, position: boolean): Buffer {
  if (resets) return position ? STATE_CHECK_RESETS_POSITION_QUERY : STATE_CHECK_RESETS_QUERY;
  return position ? STATE_CHECK_POSITION_QUERY : STATE_CHECK_QUERY;
}

/** The text values of a DataRow body (null for SQL NULL). */
export function dataRowValues(body: Buffer): (string | null)[] {
  const n = body.readInt16BE(0);
  const out: (string | null)[] = [];
  let off = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(off);
    off += 4;
    if (len < 0) out.push(null);
    else {
      out.push(body.toString('utf8', off, off + len));
      off += len;
    }
  }
  return out;
}

/** Why the state in `row` (the check's one row) stops local answers, or undefined when it does not. */
export function stateProblem(
  session: SessionState,
  row: readonly (string | null)[] | undefined,
  resets = false,
  numericC = true,
): string | undefined {
  const columns = 3 + CHECKS.length + FOLLOWED.length;
  if (row?.length !== columns + (resets ? RESETS.length : 0)) return 'session state check returned no row';
  if (resets) {
    const [statement, idle, transaction] = RESETS.map((name, i) =>
      parseTimeout(row[columns + i] ?? (name === 'transaction_timeout' ? '0' : '')),
    );
    if (statement === undefined || idle === undefined || transaction === undefined) {
      return 'timeout reset value not understood';
    }
    // Before the comparison below: a followed RESET (or no SET) means these values.
    adoptResetTimeouts(session, {
      statement_timeout: statement,
      idle_in_transaction_session_timeout: idle,
      transaction_timeout: transaction,
    });
  }
  const [currentUser, sessionUser, temp] = row;
  if (sessionUser !== session.user) return `session user changed upstream to ${sessionUser}`;
  if (currentUser !== session.user) return `current user changed upstream to ${currentUser}`;
  if (temp !== 'f') return 'temporary schema in use (a temporary relation may shadow)';
  for (const [i, [name, fine]] of CHECKS.entries()) {
    const value = row[3 + i] ?? '';
    if (!numericC && NUMERIC_LOCALE.has(name)) continue;
    if (!fine(value)) return `${SETTING_CHANGED}${name}=${value}`;
  }
  for (const [i, [name, followed]] of FOLLOWED.entries()) {
    // NULL: a setting this server does not have is not in force.
    const value = row[3 + CHECKS.length + i] ?? '0';
    if (parseTimeout(value) !== followed(session)) return `${SETTING_CHANGED}${name}=${value}`;
  }
  return undefined;
}
