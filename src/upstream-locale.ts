/**
 * How upstream orders and case-maps text, read at start (and re-read by
 * `localeFingerprint` to notice a change): which collations order text like
 * SQLite's BINARY (UTF-8 bytes, which is code point order for valid UTF-8,
 * supplementary planes included), and the exact lower()/upper() of the
 * database's default collation.
 *
 * Code point order holds by definition for C and POSIX, for the builtin
 * provider (Postgres 17+: C, C.UTF-8, and PG_UNICODE_FAST), and for libc's
 * C.UTF-8 where glibc (2.35 and later) compares it by code point with no
 * collation rules. Postgres reports no collation version for libc C.*
 * locales (datcollversion is NULL), so the glibc behaviour is checked
 * directly: upstream sorts a probe set built to break any linguistic order
 * (case and accent ties, ignorable characters, combining marks, unassigned
 * and supplementary code points), and the collation is trusted only when the
 * result is exactly byte order. Everything else (ICU, other libc locales) stays
 * forwarded.
 */
import { type CaseMap, type CaseMapRow, caseMapFrom } from './sql/case-map.js';

export type Query = <R>(sql: string, params?: unknown[]) => Promise<R[]>;

export interface TextLocale {
  /** Collation names (pg_catalog's, and `default`) whose order and equality are UTF-8 byte order. */
  codePointCollations: string[];
  /** Collation names whose lower()/upper()/ILIKE fold ASCII letters only. */
  asciiCtypeCollations: string[];
  /** The default collation's lower()/upper(), when its ctype is not C and was learned exactly. */
  caseMap: CaseMap | undefined;
  /** upstream's server_version_num. */
  versionNum: number;
  /** The server's lc_numeric and lc_monetary are C or POSIX (to_number's locale patterns and money read C's symbols). */
  numericLocaleC?: boolean;
  /** The database's server encoding (pg_encoding_to_char). */
  encoding?: string;
  /** Changes when anything above may have changed (see `localeFingerprint`). */
  fingerprint: string;
  /** Why a collation or the case map is not used locally (logged once at start). */
  notes: string[];
}

/** Code points chosen so that any order other than code point order shows. */
const PROBE_CODE_POINTS = [
  0x09, 0x20, 0x21, 0x2d, 0x30, 0x39, 0x41, 0x42, 0x5a, 0x5f, 0x61, 0x62, 0x7a, 0x7e, 0x7f, 0x80, 0xa0, 0xad,
  0xc0, 0xc9, 0xdf, 0xe0, 0xe9, 0xff, 0x130, 0x131, 0x149, 0x17f, 0x1c5, 0x300, 0x301, 0x327, 0x378, 0x391,
  0x3a3, 0x3c2, 0x3c3, 0x401, 0x451, 0x5d0, 0x627, 0x900, 0xe01, 0x1e9e, 0x200b, 0x200d, 0x2126, 0x212a,
  0x2160, 0x3042, 0x30a2, 0x4e00, 0xac00, 0xd7ff, 0xe000, 0xf8ff, 0xfb01, 0xfe0f, 0xff21, 0xff41, 0xfffd,
  0xffff, 0x10000, 0x10400, 0x10428, 0x1d400, 0x1f600, 0x1f44d, 0x1f3fb, 0x2fffe, 0xe0001, 0xe0061, 0x10fffd,
  0x10ffff,
];

/** Single characters, pairs that tie or reorder under a linguistic collation, and prefixes. */
function probeStrings(): string[] {
  const chars = PROBE_CODE_POINTS.map((cp) => String.fromCodePoint(cp));
  const out = new Set<string>(['', 'a', 'A', 'aa', 'aA', 'Aa', 'a a', 'a-a', 'aa-', 'ab', 'a\u00adb']);
  for (const c of chars) {
    out.add(c);
    out.add(`a${c}`);
    out.add(`${c}a`);
    out.add(`e${c}`);
  }
  for (const s of ['e\u0301', '\u00e9', 'ss', '\u00df', 'fi', '\ufb01', 'I', '\u0130', 'k', '\u212a'])
    out.add(`${s}z`);
  return [...out];
}

function byteOrder(strings: string[]): string[] {
  return [...strings].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Whether upstream sorts the probe set under `collation` exactly in byte order (and equality is identity). */
export async function sortsByCodePoint(query: Query, collation: string | undefined): Promise<boolean> {
  const strings = probeStrings();
  const coll = collation === undefined ? '' : ` COLLATE pg_catalog.${quoteIdent(collation)}`;
  const rows = await query<{ sorted: string[]; distinct: string }>(
    `select array_agg(s order by s${coll}) as sorted, count(distinct s${coll})::text as distinct from unnest($1::text[]) s`,
    [strings],
  );
  const got = rows[0]?.sorted ?? [];
  const want = byteOrder(strings);
  return (
    rows[0]?.distinct === String(strings.length) &&
    got.length === want.length &&
    got.every((s, i) => s === want[i])
  );
}

/** The database's locale facts that decide the default collation; none of the volatile columns. */
const DATABASE_SQL = `select d.datcollate, d.datctype, to_jsonb(d) ->> 'datlocprovider' as provider,
    coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale') as locale,
    d.datcollversion_text, pg_encoding_to_char(d.encoding) as encoding,
    current_setting('server_version_num') as version,
    (select string_agg(name || '=' || setting || '/' || source, ',' order by name) from pg_settings
      where name in ('lc_monetary', 'lc_numeric')) as numeric_locale
  from (select *, to_jsonb(x) ->> 'datcollversion' as datcollversion_text from pg_database x) d
  where d.datname = current_database()`;

interface DatabaseRow {
  /** `lc_monetary=<value>/<source>,lc_numeric=<value>/<source>` as this connection has them. */
  numeric_locale: string | null;
  datcollate: string;
  datctype: string;
  provider: string | null;
  locale: string | null;
  datcollversion_text: string | null;
  encoding: string;
  version: string;
}

/** pg_catalog collations that may order by code point, as (name, provider, collate, ctype, locale). */
const COLLATIONS_SQL = `select collname as name, collprovider as provider, collcollate, collctype,
    coalesce(to_jsonb(c) ->> 'colllocale', to_jsonb(c) ->> 'colliculocale') as locale,
    to_jsonb(c) ->> 'collversion' as version
  from pg_collation c
  where collnamespace = 'pg_catalog'::regnamespace and collencoding in (-1, 6)
  order by collname`;

interface CollationRow {
  name: string;
  provider: string;
  collcollate: string | null;
  collctype: string | null;
  locale: string | null;
  version: string | null;
}

const isC = (v: string | null | undefined): boolean => v === 'C' || v === 'POSIX';
const isCUtf8 = (v: string | null | undefined): boolean => v != null && /^C\.utf-?8$/i.test(v);

/** Candidates for code point order, before the probe confirms them. */
function orderCandidate(provider: string, collate: string | null, locale: string | null): boolean {
  if (provider === 'c') return isC(collate) || isCUtf8(collate);
  if (provider === 'b') return locale === 'C' || locale === 'C.UTF-8' || locale === 'PG_UNICODE_FAST';
  return false;
}

function asciiCtype(provider: string, ctype: string | null, locale: string | null): boolean {
  if (provider === 'c') return isC(ctype);
  if (provider === 'b') return locale === 'C';
  return false;
}

/**
 * Every code point whose lower() or upper() under the default collation
 * differs from itself (surrogates are not characters; chr(0) is an error).
 */
const CASE_MAP_SQL = `select i as cp, ascii(l) as lo, ascii(u) as up, length(l) = 1 and length(u) = 1 as single
  from (select i, lower(chr(i)) l, upper(chr(i)) u from generate_series(1, 1114111) i
        where i < 55296 or i > 57343) s
  where l <> chr(i) or u <> chr(i)`;

/** Whether the default collation's case mapping is one code point to one, independent of context. */
function caseMapLearnable(db: DatabaseRow, versionNum: number): boolean {
  if (db.encoding !== 'UTF8') return false;
  const provider = db.provider ?? 'c';
  // libc maps wide characters one by one (towlower_l/towupper_l).
  if (provider === 'c') return true;
  // builtin C.UTF-8: Unicode simple case mapping. PG_UNICODE_FAST maps fully (ß → SS) and by context.
  if (provider === 'b') return db.locale === 'C.UTF-8' && versionNum >= 170000;
  return false;
}

async function learnCaseMap(query: Query): Promise<CaseMap | undefined> {
  const rows = await query<{ cp: number; lo: number; up: number; single: boolean }>(CASE_MAP_SQL);
  if (rows.some((r) => !r.single)) return undefined;
  const map = caseMapFrom(rows.map((r): CaseMapRow => [r.cp, r.lo, r.up]));
  // Context independence: the mapped characters and the probe set, in one string each way.
  const all = rows.map((r) => String.fromCodePoint(r.cp)).join('');
  const samples = [all, ...probeStrings(), 'ΣΑΣ ΣΑΣ.', 'İstanbul', 'ǅemal ǈ', 'straße'];
  const check = await query<{ l: string; u: string }>(
    'select lower(s) as l, upper(s) as u from unnest($1::text[]) with ordinality t(s, n) order by n',
    [samples],
  );
  const ok =
    check.length === samples.length &&
    check.every((r, i) => r.l === map.lower(samples[i] as string) && r.u === map.upper(samples[i] as string));
  return ok ? map : undefined;
}

/**
 * What changes the facts above: the database's locale columns, the server
 * version, and upstream's answers to the order probe (a glibc upgrade or a
 * failover to another machine changes them without touching the catalog).
 */
export async function localeFingerprint(query: Query): Promise<string> {
  const [db] = await query<DatabaseRow>(DATABASE_SQL);
  const colls = await query<CollationRow>(COLLATIONS_SQL);
  // The probe strings have characters no single-byte encoding holds (an
  // error there); such a database is served nothing locally anyway.
  const [probe] =
    db?.encoding === 'UTF8'
      ? await query<{ sorted: string[]; l: string; u: string }>(
          "select array_agg(s order by s) as sorted, lower(string_agg(s, '')) as l, upper(string_agg(s, '')) as u from unnest($1::text[]) s",
          [probeStrings()],
        )
      : [];
  return JSON.stringify([
    db,
    colls.filter((c) => orderCandidate(c.provider, c.collcollate, c.locale)),
    probe,
  ]);
}

/**
 * Both settings C/POSIX from the server's own configuration: a value this
 * connection got from a role or database default (or a SET) says nothing
 * about other sessions, which are forwarded when theirs set one
 * (src/router/settings.ts).
 */
function numericLocaleC(row: string | null): boolean {
  const parts = (row ?? '').split(',');
  return (
    parts.length === 2 &&
    parts.every((p) => {
      const m = /^lc_(?:monetary|numeric)=(C|POSIX)\/(.*)$/.exec(p);
      return m !== null && !['user', 'database', 'database user', 'session', 'client'].includes(m[2] ?? '');
    })
  );
}

export async function probeTextLocale(query: Query): Promise<TextLocale> {
  const notes: string[] = [];
  const [db] = await query<DatabaseRow>(DATABASE_SQL);
  if (!db) throw new Error('current database not found in pg_database');
  const versionNum = Number(db.version);
  const provider = db.provider ?? 'c';
  const utf8 = db.encoding === 'UTF8';
  const codePoint: string[] = [];
  const ascii: string[] = [];
  if (!utf8) notes.push(`database encoding ${db.encoding}: every statement is forwarded`);
  else {
    const colls = await query<CollationRow>(COLLATIONS_SQL);
    for (const c of colls) {
      if (!orderCandidate(c.provider, c.collcollate, c.locale)) continue;
      if (await sortsByCodePoint(query, c.name)) codePoint.push(c.name);
      else notes.push(`collation ${c.name} does not sort by code point here: forwarded`);
      if (asciiCtype(c.provider, c.collctype, c.locale)) ascii.push(c.name);
    }
    if (orderCandidate(provider, db.datcollate, db.locale)) {
      if (await sortsByCodePoint(query, undefined)) codePoint.push('default');
      else notes.push(`the database collation ${db.datcollate} does not sort by code point here: forwarded`);
    }
  }
  let caseMap: CaseMap | undefined;
  if (utf8 && asciiCtype(provider, db.datctype, db.locale)) ascii.push('default');
  else if (caseMapLearnable(db, versionNum)) {
    caseMap = await learnCaseMap(query);
    if (!caseMap) notes.push('the database ctype maps case by context: lower/upper/ILIKE are forwarded');
  } else if (utf8) notes.push(`ctype of provider ${provider}: lower/upper/ILIKE are forwarded`);
  return {
    encoding: db.encoding,
    numericLocaleC: numericLocaleC(db.numeric_locale),
    codePointCollations: codePoint,
    asciiCtypeCollations: ascii,
    caseMap,
    versionNum,
    fingerprint: await localeFingerprint(query),
    notes,
  };
}
