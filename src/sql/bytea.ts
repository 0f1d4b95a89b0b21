/**
 * bytea: its input function (byteain: hex and escape formats) and the
 * SQLite functions behind the bytea operators and functions the compiler
 * serves (src/sql/compile/bytea.ts).
 *
 * A bytea value is stored, and passed between compiled expressions, as
 * byteaout's hex text under `bytea_output = hex`: `\x` and two lower-case
 * digits per byte (what COPY and pgoutput deliver, src/replica/type-storage.ts).
 * That text orders under SQLite's BINARY exactly like byteacmp (memcmp,
 * then the shorter first: '0'-'9' sort before 'a'-'f', and a proper prefix
 * first), so comparisons, ORDER BY, DISTINCT and GROUP BY use it as is.
 *
 * Errors Postgres raises while evaluating (an index out of range, a bad
 * encoding name, invalid base64) abort the local run with NotLocal, so the
 * statement is forwarded and Postgres raises its own error.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { InputError, NotLocal } from '../errors.js';
import { like } from './functions.js';

export const ByteaFn = {
  /** `(text)`: text → bytea (byteain). */
  input: 'outpost_bytea_in',
  /** `(bytea, start, length | NULL)`: substring/substr. */
  substr: 'outpost_bytea_substr',
  /** `(bytea, placing, start, length | NULL)`: overlay. */
  overlay: 'outpost_bytea_overlay',
  /** `(needle, haystack)`: position(needle IN haystack). */
  position: 'outpost_bytea_position',
  /** `(side, bytea, set)`: btrim ('b'), ltrim ('l'), rtrim ('r'). */
  trim: 'outpost_bytea_trim',
  /** `(bytea, format)`: encode(). */
  encode: 'outpost_bytea_encode',
  /** `(text, format)`: decode(). */
  decode: 'outpost_bytea_decode',
  /** `(algorithm, bytea)`: sha224/256/384/512 (bytea) and md5 ('md5': text). */
  digest: 'outpost_bytea_digest',
  /** `(text)`: md5(text). */
  md5Text: 'outpost_md5_text',
  /** `(kind, bytea, index)`: get_byte ('byte') / get_bit ('bit'). */
  get: 'outpost_bytea_get',
  /** `(kind, bytea, index, value)`: set_byte / set_bit. */
  set: 'outpost_bytea_set',
  /** `(bytea)`: bit_count. */
  bitCount: 'outpost_bytea_bit_count',
  /** `(bytea, pattern, escape)`: bytea LIKE (byte-wise). */
  like: 'outpost_bytea_like',
} as const;

const isHexSpace = (c: string | undefined): boolean => c === ' ' || c === '\n' || c === '\t' || c === '\r';

function hexValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

type Fail = (code: string, message: string) => never;

const inputFail: Fail = (code, message) => {
  throw new InputError(`bytea: ${message}`, { code, message });
};

const runtimeFail: Fail = (_code, message) => {
  throw new NotLocal(message);
};

/** hex_decode: pairs of hex digits, blanks between pairs skipped. */
function hexDecode(text: string, fail: Fail): Buffer {
  const out: number[] = [];
  const chars = [...text];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i] as string;
    if (isHexSpace(c)) {
      i++;
      continue;
    }
    const hi = hexValue(c);
    if (hi < 0) fail('22023', `invalid hexadecimal digit: "${c}"`);
    i++;
    if (i >= chars.length) fail('22023', 'invalid hexadecimal data: odd number of digits');
    const c2 = chars[i] as string;
    const lo = hexValue(c2);
    if (lo < 0) fail('22023', `invalid hexadecimal digit: "${c2}"`);
    i++;
    out.push(hi * 16 + lo);
  }
  return Buffer.from(out);
}

const isOct = (b: number | undefined, max = 0x37): boolean => b !== undefined && b >= 0x30 && b <= max;

/** The escape format of byteain and decode(.., 'escape'): `\\` and `\ooo` (first digit 0-3). */
function escapeDecode(bytes: Buffer, fail: Fail): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b !== 0x5c) {
      out.push(b);
      i++;
    } else if (isOct(bytes[i + 1], 0x33) && isOct(bytes[i + 2]) && isOct(bytes[i + 3])) {
      const d = (k: number) => (bytes[i + k] as number) - 0x30;
      out.push(d(1) * 64 + d(2) * 8 + d(3));
      i += 4;
    } else if (bytes[i + 1] === 0x5c) {
      out.push(0x5c);
      i += 2;
    } else {
      fail('22P02', 'invalid input syntax for type bytea');
    }
  }
  return Buffer.from(out);
}

function byteaIn(text: string, fail: Fail): Buffer {
  if (text.startsWith('\\x')) return hexDecode(text.slice(2), fail);
  return escapeDecode(Buffer.from(text, 'utf8'), fail);
}

/** The stored form (byteaout, hex) of some bytes. */
export function storeBytea(bytes: Buffer): string {
  return `\\x${bytes.toString('hex')}`;
}

/** byteain for a constant: its stored form, or an InputError worded as Postgres words it. */
export function byteaInput(text: string): string {
  if (text.includes('\0')) throw new NotLocal('bytea constant with a NUL character');
  return storeBytea(byteaIn(text, inputFail));
}

/** A stored bytea (`\x` hex) as bytes. */
export function byteaBytes(v: unknown): Buffer {
  if (typeof v !== 'string' || !v.startsWith('\\x')) throw new NotLocal('bytea value not stored as hex text');
  return Buffer.from(v.slice(2), 'hex');
}

/** bytea_substring: start clamped to 1, a length past the int4 range reads to the end. */
function substring(b: Buffer, start: number, len: number | null): Buffer {
  const s1 = Math.max(start, 1);
  if (len === null) return b.subarray(s1 - 1);
  if (len < 0) throw new NotLocal('negative substring length not allowed');
  const end = start + len;
  if (end > 2147483647) return b.subarray(s1 - 1);
  if (end < 1) return Buffer.alloc(0);
  return b.subarray(s1 - 1, Math.max(s1 - 1, end - 1));
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** pg_base64_encode: a newline after every 76 characters of output. */
function base64Encode(b: Buffer): string {
  const s = b.toString('base64');
  let out = '';
  for (let i = 0; i < s.length; i += 76) {
    out += s.slice(i, i + 76);
    if (i + 76 <= s.length && (i + 76 < s.length || b.length % 3 === 0)) out += '\n';
  }
  return out;
}

/** pg_base64_decode, step by step (blanks skipped; `=` ends the data). */
function base64Decode(text: string): Buffer {
  const out: number[] = [];
  let buf = 0;
  let pos = 0;
  let end = 0;
  for (const c of text) {
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    let v: number;
    if (c === '=') {
      if (end === 0) {
        if (pos === 2) end = 1;
        else if (pos === 3) end = 2;
        else throw new NotLocal('unexpected "=" while decoding base64 sequence');
      }
      v = 0;
    } else {
      v = BASE64.indexOf(c);
      if (v < 0 || c.length !== 1) throw new NotLocal('invalid symbol found while decoding base64 sequence');
    }
    buf = buf * 64 + v;
    pos++;
    if (pos === 4) {
      out.push((buf >> 16) & 255);
      if (end === 0 || end > 1) out.push((buf >> 8) & 255);
      if (end === 0 || end > 2) out.push(buf & 255);
      buf = 0;
      pos = 0;
    }
  }
  if (pos !== 0) throw new NotLocal('invalid base64 end sequence');
  return Buffer.from(out);
}

/** esc_enc: NUL and bytes with the high bit set as `\ooo`, a backslash doubled. */
function escapeEncode(b: Buffer): string {
  let out = '';
  for (const x of b) {
    if (x === 0 || x >= 0x80) out += `\\${x.toString(8).padStart(3, '0')}`;
    else if (x === 0x5c) out += '\\\\';
    else out += String.fromCharCode(x);
  }
  return out;
}

/** pg_find_encoding: the format name compared case-insensitively (base64url is Postgres 18's). */
function formatOf(name: unknown): 'hex' | 'base64' | 'escape' {
  const f = String(name).toLowerCase();
  if (f === 'hex' || f === 'base64' || f === 'escape') return f;
  throw new NotLocal(`unrecognized encoding: "${String(name).slice(0, 40)}"`);
}

function intArg(v: unknown, what: string): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new NotLocal(`${what}: not an integer`);
}

/** bytealike: LIKE over bytes (each byte one character of a Latin-1 string, so `_` is one byte). */
function byteaLike(t: unknown, p: unknown, e: unknown): bigint | null {
  if (t === null || p === null || e === null) return null;
  const esc = byteaBytes(e);
  if (esc.length > 1) throw new NotLocal('invalid escape string');
  return like(
    byteaBytes(t).toString('latin1'),
    byteaBytes(p).toString('latin1'),
    esc.toString('latin1'),
    'none',
  );
}

export function registerByteaFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true } as const;
  // Strict functions (NULL in, NULL out) of any arity: varargs, as the
  // wrapper's own arity is 0.
  const varargs = { ...opts, varargs: true } as const;
  const strict =
    (fn: (...a: unknown[]) => unknown) =>
    (...a: unknown[]): unknown =>
      a.some((x) => x === null) ? null : fn(...a);
  db.function(
    ByteaFn.input,
    varargs,
    strict((t) => storeBytea(byteaIn(String(t), runtimeFail))),
  );
  db.function(ByteaFn.substr, opts, (b: unknown, s: unknown, l: unknown) => {
    if (b === null || s === null) return null;
    return storeBytea(
      substring(byteaBytes(b), intArg(s, 'substring'), l === null ? null : intArg(l, 'substring')),
    );
  });
  db.function(ByteaFn.overlay, opts, (b: unknown, p: unknown, s: unknown, l: unknown) => {
    if (b === null || p === null || s === null) return null;
    const bytes = byteaBytes(b);
    const placing = byteaBytes(p);
    const start = intArg(s, 'overlay');
    const len = l === null ? placing.length : intArg(l, 'overlay');
    if (start + len > 2147483647 || start + len < -2147483648) throw new NotLocal('integer out of range');
    const head = substring(bytes, 1, start - 1);
    const tail = substring(bytes, start + len, null);
    return storeBytea(Buffer.concat([head, placing, tail]));
  });
  db.function(
    ByteaFn.position,
    varargs,
    strict((n, h) => BigInt(byteaBytes(h).indexOf(byteaBytes(n)) + 1)),
  );
  db.function(
    ByteaFn.trim,
    varargs,
    strict((side, b, set) => {
      const bytes = byteaBytes(b);
      const chars = new Set(byteaBytes(set));
      let from = 0;
      let to = bytes.length;
      if (side !== 'r') while (from < to && chars.has(bytes[from] as number)) from++;
      if (side !== 'l') while (to > from && chars.has(bytes[to - 1] as number)) to--;
      return storeBytea(bytes.subarray(from, to));
    }),
  );
  db.function(
    ByteaFn.encode,
    varargs,
    strict((b, f) => {
      const bytes = byteaBytes(b);
      const format = formatOf(f);
      if (format === 'hex') return bytes.toString('hex');
      if (format === 'base64') return base64Encode(bytes);
      return escapeEncode(bytes);
    }),
  );
  db.function(
    ByteaFn.decode,
    varargs,
    strict((t, f) => {
      const text = String(t);
      const format = formatOf(f);
      if (format === 'hex') return storeBytea(hexDecode(text, runtimeFail));
      if (format === 'base64') return storeBytea(base64Decode(text));
      return storeBytea(escapeDecode(Buffer.from(text, 'utf8'), runtimeFail));
    }),
  );
  db.function(
    ByteaFn.digest,
    varargs,
    strict((alg, b) => {
      const digest = createHash(String(alg)).update(byteaBytes(b));
      return alg === 'md5' ? digest.digest('hex') : storeBytea(digest.digest());
    }),
  );
  db.function(
    ByteaFn.md5Text,
    varargs,
    strict((t) => createHash('md5').update(String(t), 'utf8').digest('hex')),
  );
  db.function(
    ByteaFn.get,
    varargs,
    strict((kind, b, n) => {
      const bytes = byteaBytes(b);
      const i = intArg(n, String(kind));
      const size = kind === 'bit' ? bytes.length * 8 : bytes.length;
      if (i < 0 || i >= size) throw new NotLocal(`index ${i} out of valid range`);
      if (kind === 'byte') return BigInt(bytes[i] as number);
      return BigInt(((bytes[Math.floor(i / 8)] as number) >> (i % 8)) & 1);
    }),
  );
  db.function(
    ByteaFn.set,
    varargs,
    strict((kind, b, n, v) => {
      const bytes = Buffer.from(byteaBytes(b));
      const i = intArg(n, String(kind));
      const value = intArg(v, String(kind));
      const size = kind === 'bit' ? bytes.length * 8 : bytes.length;
      if (i < 0 || i >= size) throw new NotLocal(`index ${i} out of valid range`);
      if (kind === 'byte') {
        bytes[i] = value & 0xff;
      } else {
        if (value !== 0 && value !== 1) throw new NotLocal('new bit must be 0 or 1');
        const at = Math.floor(i / 8);
        const mask = 1 << (i % 8);
        bytes[at] = value === 1 ? (bytes[at] as number) | mask : (bytes[at] as number) & ~mask;
      }
      return storeBytea(bytes);
    }),
  );
  db.function(
    ByteaFn.bitCount,
    varargs,
    strict((b) => {
      let n = 0;
      for (let x of byteaBytes(b)) {
        while (x) {
          n += x & 1;
          x >>= 1;
        }
      }
      return BigInt(n);
    }),
  );
  db.function(ByteaFn.like, opts, byteaLike);
}
