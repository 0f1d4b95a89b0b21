/**
 * Session settings the local path depends on but Postgres does not report in
 * ParameterStatus. A session that changes one of them (SET, startup packet,
 * role or database default) is answered upstream from then on.
 */

/** Unreported settings that change how values render or how names resolve. */
export const WATCHED_SETTINGS: ReadonlySet<string> = new Set([
  'search_path',
  'extra_float_digits',
  'bytea_output',
  'lc_messages',
  'lc_monetary',
  'lc_numeric',
  'lc_time',
  'role',
  'session_authorization',
  'transform_null_equals',
  'row_security',
  // Unquoted NULL in an array literal or parameter ('{1,NULL}') is a string when off.
  'array_nulls',
  // format('%I') and quote_ident() quote every identifier when on.
  'quote_all_identifiers',
  // BEGIN READ ONLY is served from one replica snapshot only at READ COMMITTED.
  'default_transaction_isolation',
]);

export const DEFAULT_SEARCH_PATH = '"$user",public';

/**
 * Why a `name=value` setting (a role/database default or a startup parameter)
 * stops local answers from being exact, or undefined when it does not.
 * Settings reported in ParameterStatus (DateStyle, TimeZone, ...) are honoured
 * by the renderer from the reported value, so they never matter here.
 */
export function settingProblem(name: string, value: string): string | undefined {
  const n = name.toLowerCase();
  // The timeouts are followed by the session (src/router/timeouts.ts): from the startup packet
  // and SET, and read upstream when a role, database or server default may set one
  // (`timeoutDefault`).
  if (TIMEOUTS.test(n)) return undefined;
  if (!WATCHED_SETTINGS.has(n)) return undefined;
  if (n === 'extra_float_digits' && /^\s*[123]\s*$/.test(value)) return undefined;
  if (n === 'search_path' && value.replace(/\s+/g, '') === DEFAULT_SEARCH_PATH) return undefined;
  if (n === 'default_transaction_isolation' && /^\s*'?read committed'?\s*$/i.test(value)) return undefined;
  return `setting ${n}=${value}`;
}

const TIMEOUTS = /^(?:statement_timeout|idle_in_transaction_session_timeout|transaction_timeout)$/;

/** Whether a `name=value` default (role, database, server) may give the session a timeout. */
export function timeoutDefault(name: string, value: string): boolean {
  return TIMEOUTS.test(name.toLowerCase()) && !/^\s*0\s*$/.test(value);
}

/** Startup parameters that are not settings. */
const STARTUP_NON_SETTINGS = new Set([
  'user',
  'database',
  'replication',
  'application_name',
  'fallback_application_name',
]);

/** Startup settings the session follows itself (src/router/timeouts.ts). */
const FOLLOWED_AT_STARTUP =
  /^(?:statement_timeout|idle_in_transaction_session_timeout|transaction_timeout)$/i;

/** Why the startup parameters stop local answers from being exact, if they do. */
export function startupProblem(params: ReadonlyMap<string, string>): string | undefined {
  for (const [name, value] of params) {
    if (STARTUP_NON_SETTINGS.has(name) || FOLLOWED_AT_STARTUP.test(name)) continue;
    if (name === 'options') {
      for (const [opt, v] of parseOptions(value)) {
        if (opt === '') return 'startup options';
        if (FOLLOWED_AT_STARTUP.test(opt)) continue;
        const p = settingProblem(opt, v);
        if (p) return `startup ${p}`;
      }
      continue;
    }
    const p = settingProblem(name, value);
    if (p) return `startup ${p}`;
  }
  return undefined;
}

/**
 * `-c name=value` and `--name=value` items of a startup `options` string
 * (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-OPTIONS).
 * Anything else is returned with an empty name, which callers treat as unknown.
 */
export function parseOptions(options: string): [string, string][] {
  // Postgres splits on unescaped white space; a backslash escapes the next character.
  const words: string[] = [];
  let cur = '';
  let escaped = false;
  for (const ch of options) {
    if (escaped) {
      cur += ch;
      escaped = false;
    } else if (ch === '\\') escaped = true;
    else if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (cur) words.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) words.push(cur);
  const out: [string, string][] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    let item: string | undefined;
    if (w === '-c') item = words[++i];
    else if (w.startsWith('-c')) item = w.slice(2);
    else if (w.startsWith('--')) item = w.slice(2);
    else {
      out.push(['', w]);
      continue;
    }
    if (item === undefined) continue;
    const eq = item.indexOf('=');
    const name = (eq < 0 ? item : item.slice(0, eq)).replace(/-/g, '_');
    out.push([name, eq < 0 ? '' : item.slice(eq + 1)]);
  }
  return out;
}
