/**
 * Statement parsing with the real Postgres grammar (libpg-query, compiled to
 * WASM). Anything the parser rejects is forwarded upstream so that Postgres
 * produces its own error; the local path never guesses at malformed SQL.
 */
import { loadModule, type Node, parseSync, type RawStmt, scanSync } from 'libpg-query';

export type { Node, RawStmt };

export type ParseOutcome = { ok: true; stmts: RawStmt[] } | { ok: false; error: string };

let loaded: Promise<void> | undefined;
let ready = false;

/** Load the WASM module once; `parseSql` works only after this resolved. */
export async function loadParser(): Promise<void> {
  loaded ??= loadModule().then(() => {
    ready = true;
  });
  await loaded;
}

/**
 * A small LRU keyed by statement text. Clients repeat the same statements
 * (ORMs, dashboards), and parsing is the most expensive part of routing.
 * Cached trees are shared: callers must treat them as read-only.
 */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }

  clear(): void {
    this.map.clear();
  }
}

export { Lru };

/** Statements longer than this are parsed but not cached (they are rarely repeated). */
const MAX_CACHED_SQL_LENGTH = 16_384;
const cache = new Lru<ParseOutcome>(1000);

/** Parse a query string; never throws. */
export function parseSql(sql: string): ParseOutcome {
  const cached = cache.get(sql);
  if (cached) return cached;
  let outcome: ParseOutcome;
  if (!ready) {
    outcome = { ok: false, error: 'parser not loaded' };
    return outcome;
  }
  try {
    const result = parseSync(sql);
    outcome = { ok: true, stmts: result.stmts ?? [] };
  } catch (err) {
    outcome = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  if (sql.length <= MAX_CACHED_SQL_LENGTH) cache.set(sql, outcome);
  return outcome;
}

/** The node kind (`SelectStmt`, `A_Expr`, ...) and its body. */
export function nodeKind(node: Node): [string, unknown] {
  const entry = Object.entries(node)[0];
  if (!entry) return ['<empty>', undefined];
  return entry as [string, unknown];
}

/** Postgres truncates longer identifiers to NAMEDATALEN − 1 bytes. */
const MAX_IDENT_BYTES = 63;

/**
 * Whether the query has an identifier Postgres would truncate, sending a
 * NOTICE the local path would not (libpg-query truncates silently, so the
 * tree cannot tell). Uses the scanner's raw token text.
 */
export function hasOverlongIdentifier(sql: string): boolean {
  // Cheap prefilter: a 64-byte identifier is at least 16 characters long.
  if (!/[^\s,;()]{16,}/.test(sql)) return false;
  let tokens: { text: string; tokenName: string }[];
  try {
    tokens = scanSync(sql).tokens;
  } catch {
    return true;
  }
  for (const { text, tokenName } of tokens) {
    let ident: string | undefined;
    if (tokenName === 'IDENT') {
      ident = text.startsWith('"') ? text.slice(1, -1).replace(/""/g, '"') : text;
    } else if (/^[uU]&"/.test(text)) {
      // Unicode-escaped identifier: escapes only shorten it, so this overestimates.
      ident = text.slice(3, -1);
    }
    if (ident !== undefined && Buffer.byteLength(ident, 'utf8') > MAX_IDENT_BYTES) return true;
  }
  return false;
}

const keywordKinds = new Map<string, number>();

/**
 * The grammar's keyword category of a lower-case word (0: not a keyword,
 * 1: unreserved, 2: column name, 3: type or function name, 4: reserved), or
 * undefined while the parser is not loaded (an exec child starts loading it
 * when it registers the SQL functions).
 */
export function keywordKind(word: string): number | undefined {
  if (!ready) {
    void loadParser();
    return undefined;
  }
  let kind = keywordKinds.get(word);
  if (kind === undefined) {
    const tokens = scanSync(word).tokens;
    kind = tokens.length === 1 ? (tokens[0]?.keywordKind ?? 0) : 0;
    if (keywordKinds.size < 10_000) keywordKinds.set(word, kind);
  }
  return kind;
}
