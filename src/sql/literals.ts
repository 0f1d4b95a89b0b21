/**
 * Literal-normalised statement keys, for the router's plan templates.
 *
 * Applications (and pgbench `-M simple`) send the same statement over and
 * over with different constants inlined: `... WHERE aid = 60235`. Parsing and
 * compiling each distinct text costs ~100 µs, while running the compiled
 * SQLite statement costs a few. This scanner finds the constants that are
 * plain operands — an integer or a simple string right after a comparison
 * operator, in an `IN (...)` list, or after LIMIT/OFFSET — and replaces them
 * with a placeholder, so that statements differing only in those constants
 * share one key. It is deliberately conservative: anything it does not
 * understand (escape strings, dollar quotes, `$n`, odd operators) is either
 * kept verbatim in the key or makes the whole statement ineligible.
 *
 * The key alone proves nothing about semantics: the router only trusts a
 * template after compiling the statement with two different sets of
 * sentinel constants and checking that the constants flow, unchanged, into
 * bound parameters and nowhere else (see `Router.learnTemplate`).
 */

export interface Literal {
  /** `i`: unsigned decimal integer within int4; `s`: a simple standard string. */
  kind: 'i' | 's';
  /** Offsets of the whole token in the statement text (quotes included). */
  start: number;
  end: number;
  /** The constant as the compiler binds it: bigint for `i`, the string's content for `s`. */
  value: bigint | string;
}

export interface Normalized {
  key: string;
  literals: Literal[];
}

/** Longest statement worth normalising (longer ones are rarely repeated). */
const MAX_LENGTH = 8192;
const MAX_LITERALS = 64;
const INT4_MAX = 2147483647n;

/** Tokens after which a constant is a whole comparison operand or a LIMIT/OFFSET count. */
const BEFORE = new Set(['=', '<>', '!=', '<', '<=', '>', '>=', 'limit', 'offset']);
/** Tokens that may follow a lifted constant (nothing that could bind tighter to it). */
const AFTER = new Set([
  ')',
  ',',
  ';',
  '',
  'and',
  'or',
  'order',
  'group',
  'having',
  'limit',
  'offset',
  'union',
  'intersect',
  'except',
  'window',
]);
/** Content of a string constant that is eligible: no spaces, quotes or backslashes. */
const SIMPLE_STRING = /^[A-Za-z0-9_.@:+-]{1,64}$/;

const isIdentStart = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
const isIdentChar = (c: number): boolean => isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const OPERATOR_CHARS = '+-*/<>=~!@#%^&|`?';
const isOperatorChar = (c: number): boolean => OPERATOR_CHARS.includes(String.fromCharCode(c));
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;

interface Token {
  /** Lowercased keyword/identifier, operator text, punctuation, or '' at the end. */
  text: string;
  start: number;
  end: number;
  literal?: { kind: 'i' | 's'; value: bigint | string };
}

/**
 * Scan `sql` into tokens; undefined when the statement uses something the
 * scanner does not model exactly (parameters `$n`, unterminated quotes).
 */
function scan(sql: string): Token[] | undefined {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    // -- comment
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    // /* nested comment */
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      let depth = 0;
      while (i < n) {
        if (sql.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (sql.startsWith('*/', i)) {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else i++;
      }
      if (depth !== 0) return undefined;
      continue;
    }
    if (c === 39) {
      // 'string': only standard strings (the router forwards when
      // standard_conforming_strings is off) without a prefix (E'', B'', X'',
      // U&'', N'' are separate tokens in Postgres, so a preceding identifier
      // char marks them).
      let j = i + 1;
      let content = '';
      for (;;) {
        const q = sql.indexOf("'", j);
        if (q < 0) return undefined;
        content += sql.slice(j, q);
        if (sql.charCodeAt(q + 1) === 39) {
          content += "'";
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      i = j;
      const prefixed = start > 0 && isIdentChar(sql.charCodeAt(start - 1));
      // Adjacent string constants separated by a newline are concatenated by Postgres.
      const continued = /^[ \t\r\f]*\n\s*'/.test(sql.slice(i, i + 64));
      const literal =
        !prefixed && !continued && SIMPLE_STRING.test(content)
          ? { kind: 's' as const, value: content }
          : undefined;
      tokens.push({ text: "'", start, end: i, ...(literal ? { literal } : {}) });
      continue;
    }
    if (c === 34) {
      // "quoted identifier"
      let j = i + 1;
      for (;;) {
        const q = sql.indexOf('"', j);
        if (q < 0) return undefined;
        if (sql.charCodeAt(q + 1) === 34) {
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      tokens.push({ text: '"', start, end: j });
      i = j;
      continue;
    }
    if (c === 36) {
      // $n parameter: not a simple-protocol statement we template.
      if (isDigit(sql.charCodeAt(i + 1))) return undefined;
      // $tag$ ... $tag$
      const m = /^\$([A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$/.exec(sql.slice(i, i + 128));
      if (!m) return undefined;
      const close = sql.indexOf(m[0], i + m[0].length);
      if (close < 0) return undefined;
      i = close + m[0].length;
      tokens.push({ text: '$', start, end: i });
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      let integer = j > i;
      if (sql.charCodeAt(j) === 46 && sql.charCodeAt(j + 1) !== 46) {
        integer = false;
        j++;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
      }
      if (sql.charCodeAt(j) === 101 || sql.charCodeAt(j) === 69) {
        integer = false;
        j++;
        if (sql.charCodeAt(j) === 43 || sql.charCodeAt(j) === 45) j++;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
      }
      // 0x1F, 1_000, 123abc: not a plain decimal; keep everything verbatim.
      while (j < n && isIdentChar(sql.charCodeAt(j))) {
        integer = false;
        j++;
      }
      i = j;
      let literal: Token['literal'];
      if (integer && j - start <= 10) {
        const value = BigInt(sql.slice(start, j));
        if (value <= INT4_MAX) literal = { kind: 'i', value };
      }
      tokens.push({ text: '0', start, end: i, ...(literal ? { literal } : {}) });
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j))) j++;
      tokens.push({ text: sql.slice(i, j).toLowerCase(), start, end: j });
      i = j;
      continue;
    }
    if (isOperatorChar(c)) {
      let j = i + 1;
      while (
        j < n &&
        isOperatorChar(sql.charCodeAt(j)) &&
        !sql.startsWith('--', j) &&
        !sql.startsWith('/*', j)
      ) {
        j++;
      }
      tokens.push({ text: sql.slice(i, j), start, end: j });
      i = j;
      continue;
    }
    // Punctuation: ( ) , ; [ ] . : and anything else, one character each.
    tokens.push({ text: sql[i] as string, start, end: i + 1 });
    i++;
  }
  return tokens;
}

/**
 * The statement's template key and its liftable constants, or undefined when
 * there is nothing to lift (or the text is outside what the scanner models).
 */
export function normalizeLiterals(sql: string): Normalized | undefined {
  if (sql.length > MAX_LENGTH) return undefined;
  // Fast exit: no digit and no quote, nothing to lift.
  if (!/[0-9']/.test(sql)) return undefined;
  const tokens = scan(sql);
  if (!tokens) return undefined;
  const literals: Literal[] = [];
  // Paren depth at which an `IN (` list is open, innermost last.
  const inLists: number[] = [];
  let depth = 0;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k] as Token;
    if (t.text === '(') {
      depth++;
      if (tokens[k - 1]?.text === 'in') inLists.push(depth);
      continue;
    }
    if (t.text === ')') {
      if (inLists[inLists.length - 1] === depth) inLists.pop();
      depth--;
      continue;
    }
    if (!t.literal) continue;
    const before = tokens[k - 1]?.text ?? '';
    const after = tokens[k + 1]?.text ?? '';
    const inList = inLists[inLists.length - 1] === depth && (before === '(' || before === ',');
    if (!(BEFORE.has(before) || inList)) continue;
    if (!AFTER.has(after)) continue;
    // LIMIT/OFFSET take integers only (a string there is another shape).
    if ((before === 'limit' || before === 'offset') && t.literal.kind !== 'i') continue;
    literals.push({ kind: t.literal.kind, start: t.start, end: t.end, value: t.literal.value });
    if (literals.length > MAX_LITERALS) return undefined;
  }
  if (literals.length === 0) return undefined;
  let key = '';
  let at = 0;
  for (const l of literals) {
    key += `${sql.slice(at, l.start)}\u0000${l.kind}`;
    at = l.end;
  }
  key += sql.slice(at);
  return { key, literals };
}

/** `sql` with each lifted constant replaced by `render(index, literal)`. */
export function replaceLiterals(
  sql: string,
  literals: readonly Literal[],
  render: (index: number, literal: Literal) => string,
): string {
  let out = '';
  let at = 0;
  literals.forEach((l, i) => {
    out += sql.slice(at, l.start) + render(i, l);
    at = l.end;
  });
  return out + sql.slice(at);
}

/** Statements whose classification cannot depend on their constants' values (see `writeShapeKey`). */
const WRITE_PREFIX = /^\s*(?:insert|update|delete)\s/i;

/**
 * A key for an INSERT, UPDATE or DELETE with every plain constant (decimal
 * numbers and standard strings, wherever they are) replaced: such a
 * statement is always forwarded, and what the router notes about it (its
 * kind, the functions it calls) does not depend on constant values. Lets
 * the router skip parsing the same write shape with new values (pgbench's
 * tpcb-like sends every UPDATE with new numbers). Undefined for anything
 * else.
 */
export function writeShapeKey(sql: string): string | undefined {
  if (sql.length > MAX_LENGTH || !WRITE_PREFIX.test(sql)) return undefined;
  const tokens = scan(sql);
  if (!tokens) return undefined;
  let key = '';
  let at = 0;
  let lifted = 0;
  // One statement only: a second one (a SET after the write) may depend on its constants.
  const semi = tokens.findIndex((t) => t.text === ';');
  if (semi >= 0 && semi < tokens.length - 1) return undefined;
  for (const t of tokens) {
    const text = sql.slice(t.start, t.end);
    const plainNumber = t.text === '0' && /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text);
    const plainString = t.text === "'" && !(t.start > 0 && isIdentChar(sql.charCodeAt(t.start - 1)));
    if (!plainNumber && !plainString) continue;
    key += `${sql.slice(at, t.start)}\u0000${plainNumber ? 'n' : 's'}`;
    at = t.end;
    lifted++;
  }
  if (lifted === 0) return undefined;
  return `${key}${sql.slice(at)}`;
}
