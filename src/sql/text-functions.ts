/**
 * Text functions counted in characters (code points, as Postgres counts them
 * in a UTF8 database): substring/substr, overlay, strpos, lpad/rpad,
 * reverse, chr (ASCII only: above 127 the result depends on the server
 * encoding), and to_hex/to_oct/to_bin of integers (varlena.c, oracle_compat.c).
 * Where Postgres raises an error (a negative length, an int4 overflow, chr(0))
 * NotLocal lets upstream raise its own.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';

export const TextFn = {
  /** `(text, start, length or NULL)`: text_substring (NULL: to the end). */
  substr: 'outpost_text_substr',
  /** `(text, placing, start, length or NULL)`: text_overlay (NULL: the placing's length). */
  overlay: 'outpost_text_overlay',
  /** `(text, search)`: text_position, 1-based, 0 when absent. */
  strpos: 'outpost_text_strpos',
  /** `(side, text, length, fill)`: lpad ('l') / rpad ('r'). */
  pad: 'outpost_text_pad',
  /** `(text)`: text_reverse. */
  reverse: 'outpost_text_reverse',
  /** `(int4)`: chr of 1..127. */
  chr: 'outpost_text_chr',
  /** `(text, n)`: bpchar(text, n + 4, true), an explicit cast to char(n): padded or cut to n characters. */
  bpchar: 'outpost_bpchar_explicit',
  /** `(base, bits, int)`: to_hex / to_oct / to_bin of the two's complement at `bits`. */
  radix: 'outpost_int_radix',
} as const;

/** Longest lpad/rpad result computed here (Postgres's limit is about 1 GB). */
const MAX_PAD = 1 << 20;

const INT32_MAX = 2147483647;

/** text_substring's arithmetic on code points: `start` 1-based, `len` null for "to the end". */
export function substringChars(chars: string[], start: number, len: number | null): string[] {
  const s1 = Math.max(start, 1);
  if (len === null) return chars.slice(s1 - 1);
  if (len < 0) throw new NotLocal('negative substring length not allowed');
  const end = start + len;
  // S + L beyond int4: to the end of the string.
  if (end > INT32_MAX) return chars.slice(s1 - 1);
  if (end < 1) return [];
  return chars.slice(s1 - 1, Math.max(s1 - 1, end - 1));
}

function overlay(s: string, placing: string, start: number, len: number | null): string {
  const chars = Array.from(s);
  const l = len ?? Array.from(placing).length;
  const after = start + l;
  if (after > INT32_MAX || after < -INT32_MAX - 1) throw new NotLocal('integer out of range');
  // text_overlay: substring(s, 1, start - 1) || placing || substring(s, start + len).
  const head = substringChars(chars, 1, start - 1);
  const tail = substringChars(chars, after, null);
  return head.join('') + placing + tail.join('');
}

function strpos(s: string, search: string): number {
  const at = s.indexOf(search);
  if (at < 0) return 0;
  return Array.from(s.slice(0, at)).length + 1;
}

function pad(side: string, s: string, len: number, fill: string): string {
  const n = Math.max(len, 0);
  if (n > MAX_PAD) throw new NotLocal('lpad/rpad result too long to compute here');
  const chars = Array.from(s);
  if (chars.length >= n || fill === '') return chars.slice(0, n).join('');
  const f = Array.from(fill);
  const padding: string[] = [];
  for (let i = 0; padding.length < n - chars.length; i++) padding.push(f[i % f.length] as string);
  return side === 'l' ? padding.join('') + chars.join('') : chars.join('') + padding.join('');
}

/** An explicit cast to char(n): padded with spaces, or cut, to n characters. */
export function bpcharExplicit(s: string, n: number): string {
  const chars = Array.from(s);
  if (chars.length >= n) return chars.slice(0, n).join('');
  return s + ' '.repeat(n - chars.length);
}

function radix(base: number, bits: number, v: bigint): string {
  const u = BigInt.asUintN(bits, v);
  return u.toString(base);
}

const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string') throw new NotLocal(`${what} of non-text`);
  return v;
};

const int = (v: unknown, what: string): number => {
  if (typeof v !== 'bigint') throw new NotLocal(`${what} argument not an integer`);
  return Number(v);
};

export function registerTextFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true } as const;
  db.function(TextFn.substr, opts, (s: unknown, start: unknown, len: unknown) => {
    if (s === null || start === null) return null;
    const chars = Array.from(str(s, 'substring()'));
    return substringChars(
      chars,
      int(start, 'substring()'),
      len === null ? null : int(len, 'substring()'),
    ).join('');
  });
  db.function(TextFn.overlay, opts, (s: unknown, p: unknown, start: unknown, len: unknown) => {
    if (s === null || p === null || start === null) return null;
    return overlay(
      str(s, 'overlay()'),
      str(p, 'overlay()'),
      int(start, 'overlay()'),
      len === null ? null : int(len, 'overlay()'),
    );
  });
  db.function(TextFn.strpos, opts, (s: unknown, search: unknown) => {
    if (s === null || search === null) return null;
    return BigInt(strpos(str(s, 'strpos()'), str(search, 'strpos()')));
  });
  db.function(TextFn.pad, opts, (side: unknown, s: unknown, len: unknown, fill: unknown) => {
    if (s === null || len === null || fill === null) return null;
    return pad(String(side), str(s, 'lpad()'), int(len, 'lpad()'), str(fill, 'lpad()'));
  });
  db.function(TextFn.reverse, opts, (s: unknown) =>
    s === null ? null : Array.from(str(s, 'reverse()')).reverse().join(''),
  );
  db.function(TextFn.chr, opts, (n: unknown) => {
    if (n === null) return null;
    const code = int(n, 'chr()');
    if (code === 0) throw new NotLocal('null character not permitted');
    if (code < 0 || code > 127) throw new NotLocal('chr() beyond ASCII (depends on the server encoding)');
    return String.fromCharCode(code);
  });
  db.function(TextFn.bpchar, opts, (s: unknown, n: unknown) =>
    s === null ? null : bpcharExplicit(str(s, 'char(n)'), int(n, 'char(n)')),
  );
  db.function(TextFn.radix, opts, (base: unknown, bits: unknown, v: unknown) => {
    if (v === null) return null;
    if (typeof v !== 'bigint') throw new NotLocal('integer stored as non-integer');
    return radix(Number(base), Number(bits), v);
  });
}
