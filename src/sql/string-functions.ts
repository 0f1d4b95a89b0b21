/**
 * SQLite functions for Postgres's string functions served locally: format()
 * (varlena.c text_format), quote_ident/quote_literal rules and split_part.
 * Arguments arrive as stored values with their type OIDs; only types whose
 * output does not depend on session settings are passed (the renderer is
 * picked without them). Where Postgres raises an error they throw NotLocal,
 * so the statement is forwarded and Postgres reports it.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { arrayElement } from './functions.js';
import { keywordKind } from './parse.js';
import { parseArrayText } from './pgtypes.js';
import { type Renderer, rendererFor } from './render.js';

export const StrFn = {
  /** `(spec, format, arg...)`: format(); spec is the arguments' type OIDs, comma-separated (0: NULL). */
  format: 'outpost_format',
  /** `(text, delimiter, field, negativeAllowed)`: split_part. */
  splitPart: 'outpost_split_part',
  /** `(text, count)`: repeat(). */
  repeat: 'outpost_repeat',
  /** `(spec, separator, ws, arg...)`: concat (ws 0) / concat_ws (ws 1); spec as format()'s. */
  concat: 'outpost_concat',
  /**
   * `(name, element type, first, array)`: concat / concat_ws / format with
   * VARIADIC (compile/variadic.ts); `first` is concat_ws's separator or
   * format()'s format string, the array's elements the arguments.
   */
  variadic: 'outpost_variadic_text',
  /** `(text, strict)`: parse_ident(), its result text[] as array_out prints it. */
  parseIdent: 'outpost_parse_ident',
  /** `(text)`: unistr() (Postgres 14+). */
  unistr: 'outpost_unistr',
} as const;

/** Longest repeat() result computed here; longer ones forward (Postgres's limit is 1 GB). */
const MAX_REPEAT = 1 << 24;

const NO_SETTINGS = new Map<string, string>();
const INT2 = 21;
const INT4 = 23;

export interface FormatArg {
  /** The value's text output, null for NULL. */
  text: string | null;
  oid: number;
}

/**
 * quote_identifier (ruleutils.c): unquoted only when it starts with a lower
 * case letter or `_`, holds only those and digits, and is not a keyword
 * other than an unreserved one. Keyword lists differ between majors (and
 * the parser's is newer than upstream's): a word that is a column-name,
 * type/function-name or reserved keyword for the parser, or any word while
 * the parser is not loaded, is forwarded.
 */
export function quoteIdent(s: string): string {
  if (/^[a-z_][a-z0-9_]*$/.test(s)) {
    const kind = keywordKind(s);
    if (kind === undefined || kind > 1) throw new NotLocal(`quote_ident of the keyword-like word ${s}`);
    return s;
  }
  return `"${s.replace(/"/g, '""')}"`;
}

/** quote_literal_cstr: quotes and backslashes doubled, `E` in front when a backslash is present. */
export function quoteLiteral(s: string): string {
  const body = s.replace(/['\\]/g, (ch) => ch + ch);
  return `${s.includes('\\') ? 'E' : ''}'${body}'`;
}

/** text_format_parse_digits: a run of digits, int32 overflow an error (22003). */
function digits(fmt: string, at: number): { n: number; end: number } | undefined {
  let i = at;
  let n = 0;
  while (i < fmt.length && fmt[i] !== undefined && /[0-9]/.test(fmt[i] as string)) {
    n = n * 10 + Number(fmt[i]);
    if (n > 2147483647) throw new NotLocal('format(): number is out of range');
    i++;
  }
  return i > at ? { n, end: i } : undefined;
}

const UNTERMINATED = 'format(): unterminated format() type specifier';

/** The width an argument gives (`%*s`): int2/int4 as is, NULL as 0, others read by pg_strtoint32. */
function widthOf(arg: FormatArg): number {
  if (arg.text === null) return 0;
  if (arg.oid === INT2 || arg.oid === INT4) return Number(arg.text);
  // pg_strtoint32's plain decimal form only (its other forms differ between majors).
  const m = /^[ \t\n\r\v\f]*([+-]?[0-9]+)[ \t\n\r\v\f]*$/.exec(arg.text);
  if (!m) throw new NotLocal('format(): width is not a plain integer');
  const n = Number(m[1]);
  if (n > 2147483647 || n < -2147483648) throw new NotLocal('format(): width out of range for integer');
  return n;
}

/** Code points, as pg_mbstrlen counts them (UTF8). */
function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, width: number, minus: boolean): string {
  if (width === 0) return s;
  let left = minus;
  let w = width;
  if (w < 0) {
    if (w <= -2147483648) throw new NotLocal('format(): number is out of range');
    left = true;
    w = -w;
  }
  const fill = ' '.repeat(Math.max(0, w - charLength(s)));
  return left ? s + fill : fill + s;
}

/** text_format: `%[argpos$][-][width|*[argpos$]](s|I|L)` and `%%`; every malformed specifier an error. */
export function textFormat(fmt: string, args: readonly FormatArg[]): string {
  let out = '';
  let arg = 0;
  for (let i = 0; i < fmt.length; i++) {
    const ch = fmt[i] as string;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    i++;
    if (i >= fmt.length) throw new NotLocal(UNTERMINATED);
    if (fmt[i] === '%') {
      out += '%';
      continue;
    }
    // text_format_parse_format
    let argpos = -1;
    let widthpos = -1;
    let minus = false;
    let width = 0;
    const advance = (): void => {
      i++;
      if (i >= fmt.length) throw new NotLocal(UNTERMINATED);
    };
    let parsed = false;
    const first = digits(fmt, i);
    if (first) {
      i = first.end;
      if (i >= fmt.length) throw new NotLocal(UNTERMINATED);
      if (fmt[i] !== '$') {
        width = first.n;
        parsed = true;
      } else {
        argpos = first.n;
        if (argpos === 0)
          throw new NotLocal('format specifies argument 0, but arguments are numbered from 1');
        advance();
      }
    }
    if (!parsed) {
      while (fmt[i] === '-') {
        minus = true;
        advance();
      }
      if (fmt[i] === '*') {
        advance();
        const w = digits(fmt, i);
        if (w) {
          i = w.end;
          if (i >= fmt.length) throw new NotLocal(UNTERMINATED);
          if (fmt[i] !== '$') throw new NotLocal('width argument position must be ended by "$"');
          widthpos = w.n;
          if (widthpos === 0)
            throw new NotLocal('format specifies argument 0, but arguments are numbered from 1');
          advance();
        } else widthpos = 0;
      } else {
        const w = digits(fmt, i);
        if (w) {
          i = w.end;
          if (i >= fmt.length) throw new NotLocal(UNTERMINATED);
          width = w.n;
        }
      }
    }
    const conv = fmt[i] as string;
    if (conv !== 's' && conv !== 'I' && conv !== 'L')
      throw new NotLocal('unrecognized format() type specifier');
    if (widthpos >= 0) {
      arg = widthpos > 0 ? widthpos : arg + 1;
      const w = args[arg - 1];
      if (w === undefined) throw new NotLocal('too few arguments for format()');
      width = widthOf(w);
    }
    arg = argpos > 0 ? argpos : arg + 1;
    const a = args[arg - 1];
    if (a === undefined) throw new NotLocal('too few arguments for format()');
    if (a.text === null) {
      if (conv === 'I') throw new NotLocal('null values cannot be formatted as an SQL identifier');
      out += pad(conv === 'L' ? 'NULL' : '', width, minus);
    } else {
      const s = conv === 'I' ? quoteIdent(a.text) : conv === 'L' ? quoteLiteral(a.text) : a.text;
      out += pad(s, width, minus);
    }
  }
  return out;
}

/**
 * split_part (varlena.c): the n-th field (from the end when negative, Postgres
 * 14+); an empty delimiter makes the whole string the only field; field 0 is
 * an error (22023).
 */
export function splitPart(s: string, delim: string, n: number): string {
  if (n === 0) throw new NotLocal('field position must not be zero');
  if (s === '') return '';
  const fields = delim === '' ? [s] : s.split(delim);
  const idx = n > 0 ? n - 1 : fields.length + n;
  return fields[idx] ?? '';
}

/** concat/concat_ws (varlena.c concat_internal): NULL arguments are skipped. */
function concatTexts(texts: (string | null)[], sep: string): string {
  return texts.filter((t): t is string => t !== null).join(sep);
}

/** A VARIADIC array's elements as their output texts (array_out's elements, one-dimensional only). */
function variadicItems(arr: unknown): (string | null)[] {
  if (typeof arr !== 'string') throw new NotLocal('VARIADIC array stored as non-text');
  return parseArrayText(arr, 'VARIADIC array');
}

const renderers = new Map<string, Renderer[]>();

function renderersOf(spec: string): Renderer[] {
  let list = renderers.get(spec);
  if (list === undefined) {
    list =
      spec === ''
        ? []
        : spec
            .split(',')
            .map((oid) =>
              oid === '0' ? () => null : rendererFor({ typeOid: Number(oid), typeName: oid }, NO_SETTINGS),
            );
    renderers.set(spec, list);
  }
  return list;
}

export function registerStringFunctions(db: Database.Database): void {
  // %I needs the grammar's keywords: an exec child loads the parser now.
  keywordKind('select');
  const opts = { deterministic: true, safeIntegers: true } as const;
  db.function(StrFn.format, { ...opts, varargs: true }, (...all: unknown[]) => {
    const [spec, fmt, ...values] = all;
    if (fmt === null) return null;
    if (typeof spec !== 'string' || typeof fmt !== 'string') throw new NotLocal('format() arguments');
    const list = renderersOf(spec);
    if (list.length !== values.length) throw new NotLocal('format() spec does not match its arguments');
    const oids = spec === '' ? [] : spec.split(',').map(Number);
    const args = list.map((render, i) => ({ text: render(values[i]), oid: oids[i] as number }));
    return textFormat(fmt, args);
  });
  db.function(StrFn.concat, { ...opts, varargs: true }, (...all: unknown[]) => {
    const [spec, sep, ws, ...values] = all;
    if (typeof spec !== 'string') throw new NotLocal('concat() arguments');
    const list = renderersOf(spec);
    if (list.length !== values.length) throw new NotLocal('concat() spec does not match its arguments');
    if (ws === 0n || ws === 0)
      return concatTexts(
        list.map((render, i) => render(values[i])),
        '',
      );
    if (sep === null) return null;
    if (typeof sep !== 'string') throw new NotLocal('concat_ws() separator of non-text');
    return concatTexts(
      list.map((render, i) => render(values[i])),
      sep,
    );
  });
  db.function(StrFn.variadic, opts, (name: unknown, elem: unknown, first: unknown, arr: unknown) => {
    if (name === 'format') {
      if (first === null) return null;
      if (typeof first !== 'string') throw new NotLocal('format() of non-text');
      // A NULL array: no arguments (text_format).
      const items = arr === null ? [] : variadicItems(arr);
      return textFormat(
        first,
        items.map((text) => ({ text, oid: Number(elem) })),
      );
    }
    if (name === 'concat_ws' && first === null) return null;
    if (arr === null) return null;
    const sep = name === 'concat_ws' ? first : '';
    if (typeof sep !== 'string') throw new NotLocal('concat_ws() separator of non-text');
    return concatTexts(variadicItems(arr), sep);
  });
  db.function(StrFn.repeat, opts, (s: unknown, n: unknown) => {
    if (s === null || n === null) return null;
    if (typeof s !== 'string') throw new NotLocal('repeat() of non-text');
    const count = Math.max(Number(n), 0);
    if (s.length * count > MAX_REPEAT) throw new NotLocal('repeat() result too long to compute here');
    return s.repeat(count);
  });
  db.function(StrFn.unistr, opts, (s: unknown) => {
    if (s === null) return null;
    if (typeof s !== 'string') throw new NotLocal('unistr() of non-text');
    return unistr(s);
  });
  db.function(StrFn.parseIdent, opts, (s: unknown, strict: unknown) => {
    if (s === null || strict === null) return null;
    if (typeof s !== 'string') throw new NotLocal('parse_ident() of non-text');
    const parts = parseIdent(s, strict === 1n || strict === 1);
    return `{${parts.map(arrayElement).join(',')}}`;
  });
  db.function(StrFn.splitPart, opts, (s: unknown, d: unknown, n: unknown) => {
    if (s === null || d === null || n === null) return null;
    if (typeof s !== 'string' || typeof d !== 'string') throw new NotLocal('split_part() of non-text');
    return splitPart(s, d, Number(n));
  });
}

/** scanner_isspace: the lexer's whitespace (no vertical tab). */
const isScannerSpace = (ch: string | undefined): boolean =>
  ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f';
/** is_ident_start: ASCII letters, `_`, and any non-ASCII character (every byte of it has the high bit). */
const isIdentStart = (ch: string | undefined): boolean =>
  ch !== undefined && (/[A-Za-z_]/.test(ch) || ch.charCodeAt(0) >= 0x80);
const isIdentCont = (ch: string | undefined): boolean =>
  ch !== undefined && (isIdentStart(ch) || /[0-9$]/.test(ch));

/**
 * parse_ident (misc.c): the dot-separated names, quoted ones unescaped,
 * unquoted ones with ASCII letters lowered (downcase_identifier in a
 * multibyte encoding) and not truncated. Every error Postgres raises
 * (22023, "string is not a valid identifier") forwards instead.
 */
export function parseIdent(s: string, strict: boolean): string[] {
  const invalid = (): never => {
    throw new NotLocal('parse_ident() of an invalid identifier');
  };
  const parts: string[] = [];
  let i = 0;
  while (isScannerSpace(s[i])) i++;
  for (;;) {
    if (s[i] === '"') {
      let name = '';
      let j = i + 1;
      for (;;) {
        const end = s.indexOf('"', j);
        if (end < 0) invalid();
        name += s.slice(j, end);
        if (s[end + 1] !== '"') {
          i = end + 1;
          break;
        }
        name += '"';
        j = end + 2;
      }
      if (name === '') invalid();
      parts.push(name);
    } else if (isIdentStart(s[i])) {
      const start = i++;
      while (isIdentCont(s[i])) i++;
      parts.push(s.slice(start, i).replace(/[A-Z]+/g, (m) => m.toLowerCase()));
    } else {
      invalid();
    }
    while (isScannerSpace(s[i])) i++;
    if (s[i] === '.') {
      i++;
      while (isScannerSpace(s[i])) i++;
    } else if (i >= s.length) {
      break;
    } else {
      if (strict) invalid();
      break;
    }
  }
  return parts;
}

/** unistr's escapes: `\\`, `\XXXX`, `\+XXXXXX`, `\uXXXX`, `\UXXXXXXXX` (hex digits). */
const UNISTR_ESCAPE = /\\(?:(\\)|\+([0-9A-Fa-f]{6})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([0-9A-Fa-f]{4}))/y;

/**
 * unistr (varlena.c) in a UTF-8 database: the escapes decoded. Surrogate
 * halves (which Postgres pairs or rejects), code points outside
 * 1..10FFFF and malformed escapes forward, so Postgres words the error.
 */
export function unistr(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const slash = s.indexOf('\\', i);
    if (slash < 0) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, slash);
    UNISTR_ESCAPE.lastIndex = slash;
    const m = UNISTR_ESCAPE.exec(s);
    if (!m) throw new NotLocal('unistr() of an invalid escape');
    i = UNISTR_ESCAPE.lastIndex;
    if (m[1] !== undefined) {
      out += '\\';
      continue;
    }
    const cp = Number.parseInt((m[2] ?? m[3] ?? m[4] ?? m[5]) as string, 16);
    if (cp < 1 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      throw new NotLocal('unistr() of a surrogate or invalid code point');
    out += String.fromCodePoint(cp);
  }
  return out;
}
