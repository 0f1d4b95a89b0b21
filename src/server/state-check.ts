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
import type { SessionState } from '../session.js';
import { serializeQuery } from '../wire/frontend.js';

/** Unreported settings the local path depends on; the role is compared directly. */
const CHECKED_SETTINGS = [...WATCHED_SETTINGS].filter((n) => n !== 'role' && n !== 'session_authorization');

/**
 * One row: current_user, session_user, whether a temporary relation exists,
 * and `name=value` lines of the watched settings that differ from the
 * session's startup values (those were vetted at startup).
 */
export const STATE_CHECK_SQL = `select current_user, session_user,
 case when pg_catalog.pg_my_temp_schema() operator(pg_catalog.=) 0::pg_catalog.oid then false
      else exists (select from pg_catalog.pg_class c
                   where c.relnamespace operator(pg_catalog.=) pg_catalog.pg_my_temp_schema()) end,
 (select pg_catalog.string_agg(s.name operator(pg_catalog.||) '=' operator(pg_catalog.||) s.setting, E'\\n')
    from pg_catalog.pg_settings s
   where s.name operator(pg_catalog.=) any ('{${CHECKED_SETTINGS.join(',')}}'::pg_catalog.text[])
     and s.setting operator(pg_catalog.<>) s.reset_val)`;

export const STATE_CHECK_QUERY: Buffer = serializeQuery(STATE_CHECK_SQL);

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
): string | undefined {
  if (row?.length !== 4) return 'session state check returned no row';
  const [currentUser, sessionUser, temp, changed] = row;
  if (sessionUser !== session.user) return `session user changed upstream to ${sessionUser}`;
  if (currentUser !== session.user) return `current user changed upstream to ${currentUser}`;
  if (temp !== 'f') return 'temporary relation may shadow (created upstream)';
  for (const line of (changed ?? '').split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    const problem = settingProblem(line.slice(0, eq), line.slice(eq + 1));
    if (problem !== undefined) return `${problem.replace(/^setting /, 'setting changed upstream: ')}`;
  }
  return undefined;
}
