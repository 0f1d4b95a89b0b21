/** SQLite functions for to_char() and to_number() (src/sql/to-char-number.ts, to-number.ts); NotLocal aborts the local run. */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { intToChar, numericToChar } from './to-char-number.js';
import { toNumber } from './to-number.js';

export const FmtFn = {
  /** `(kind, value, template)`: to_char of an int4, int8 or numeric (kind) value. */
  toChar: 'outpost_to_char',
  /** `(text, template, localeC, server_version_num)`: to_number (localeC 1: upstream's lc_numeric/lc_monetary are C). */
  toNumber: 'outpost_to_number',
} as const;

export function registerFormattingFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true };
  db.function(FmtFn.toChar, opts, (kind: unknown, v: unknown, fmt: unknown) => {
    if (v === null || fmt === null) return null;
    if (typeof fmt !== 'string') throw new NotLocal('to_char() template stored as non-text');
    if (kind === 'numeric') {
      const text = typeof v === 'string' ? v : typeof v === 'bigint' ? v.toString() : undefined;
      if (text === undefined) throw new NotLocal('numeric stored as non-text');
      return numericToChar(text, fmt);
    }
    if (typeof v !== 'bigint') throw new NotLocal('integer stored as non-integer');
    return intToChar(v, fmt);
  });
  db.function(FmtFn.toNumber, opts, (v: unknown, fmt: unknown, localeC: unknown, version: unknown) => {
    if (v === null || fmt === null) return null;
    if (typeof v !== 'string' || typeof fmt !== 'string')
      throw new NotLocal('to_number() of text stored as non-text');
    return toNumber(v, fmt, localeC === 1n, Number(version));
  });
}
