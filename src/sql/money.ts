/**
 * money (cash.c) under lc_monetary C or POSIX, the only locale whose
 * formatting is reproduced: localeconv() there has no symbols, so Postgres
 * falls back to `$`, `,` between groups of 3, `.` and 2 fraction digits, a
 * leading `-` (`-$1,234.50`). A value is stored and computed as that output
 * text (docs/architecture.md "Storage of values"); the SQLite functions
 * read it back to the int64 cents. The compiler allows money only when
 * upstream's lc_monetary is C/POSIX (src/upstream-locale.ts) and a session
 * that sets lc_monetary is forwarded (src/router/settings.ts).
 *
 * Overflow, division by zero and NaN raise errors upstream: here they throw
 * NotLocal, so upstream raises them. Values within 2^62 of the int64 range
 * edges are forwarded too (the majors' cash_in checks overflow differently).
 */
import type Database from 'better-sqlite3';
import { InputError, NotLocal } from '../errors.js';
import { readFloat, readFloat4 } from './float-ops.js';

export const MoneyFn = {
  /** `(money)`: the cents as an integer, the comparison key. */
  cents: 'outpost_money_cents',
  /** `(op, a, b)`: money + - money. */
  arith: 'outpost_money_arith',
  /** `(op, money, int)`: money * / int, int * money (op `*`). */
  intArith: 'outpost_money_int',
  /** `(op, money, float, bits)`: money * / float8 or float4. */
  floatArith: 'outpost_money_float',
  /** `(a, b)`: money / money → float8. */
  ratio: 'outpost_money_ratio',
  /** `(numeric)` and `(int)`: numeric_cash / int8_cash. */
  fromNumeric: 'outpost_money_from_numeric',
  fromInt: 'outpost_money_from_int',
  /** `(money)`: cash_numeric. */
  toNumeric: 'outpost_money_to_numeric',
  /** Aggregate `(money)`: cash_pl over the rows. */
  sum: 'outpost_money_sum',
} as const;

/** The magnitude of int64's minimum: cash_in's bound. */
const INT64_MAGNITUDE = 1n << 63n;

/** Cents whose magnitude is at most this are local (2^62). */
const LIMIT = 1n << 62n;

function checked(v: bigint): bigint {
  if (v > LIMIT || v < -LIMIT) throw new NotLocal('money out of range');
  return v;
}

const isSpace = (ch: string | undefined): boolean =>
  ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r';
const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '9';

/** cash_in under lc_monetary C: `$`, a sign or `(`, digits with `,` ignored, `.`, trailing `)`/sign/`$`. */
export function cashIn(str: string, what: string): bigint {
  // isspace() of bytes beyond ASCII follows the server's ctype.
  if (/[^\x20-\x7e\t\n\v\f\r]/.test(str)) throw new NotLocal(`${what}: non-ASCII money text`);
  let i = 0;
  let value = 0n;
  let dec = 0;
  let sgn = 1n;
  let seenDot = false;
  const skipSpace = (): void => {
    while (isSpace(str[i])) i++;
  };
  skipSpace();
  if (str[i] === '$') i++;
  skipSpace();
  if (str[i] === '-') {
    sgn = -1n;
    i++;
  } else if (str[i] === '(') {
    sgn = -1n;
    i++;
  } else if (str[i] === '+') i++;
  skipSpace();
  if (str[i] === '$') i++;
  skipSpace();
  // cash_in accumulates the magnitude as a negative int64: beyond 2^63 it
  // raises 22003 at once, before any later syntax error.
  const overflow = (): never => {
    throw new InputError(`${what}: out of range`, {
      code: '22003',
      message: `value "${str}" is out of range for type money`,
    });
  };
  for (; i < str.length; i++) {
    const ch = str[i];
    if (isDigit(ch) && (!seenDot || dec < 2)) {
      value = value * 10n + BigInt(Number(ch));
      if (value > INT64_MAGNITUDE) overflow();
      if (seenDot) dec++;
    } else if (ch === '.' && !seenDot) seenDot = true;
    else if (ch === ',') {
      // the thousands separator is ignored wherever it appears
    } else break;
  }
  if (isDigit(str[i]) && (str[i] as string) >= '5') value += 1n;
  if (value > INT64_MAGNITUDE) overflow();
  for (; dec < 2; dec++) {
    value *= 10n;
    if (value > INT64_MAGNITUDE) overflow();
  }
  while (isDigit(str[i])) i++;
  while (i < str.length) {
    const ch = str[i];
    if (isSpace(ch) || ch === ')' || ch === '+' || ch === '$') i++;
    else if (ch === '-') {
      sgn = -1n;
      i++;
    } else {
      throw new InputError(`${what}: invalid money`, {
        code: '22P02',
        message: `invalid input syntax for type money: "${str}"`,
      });
    }
  }
  // A positive 2^63 does not fit (the negative one does).
  if (sgn > 0n && value === INT64_MAGNITUDE) overflow();
  return checked(sgn * value);
}

/** cash_out under lc_monetary C. */
export function cashOut(cents: bigint): string {
  const neg = cents < 0n;
  const digits = (neg ? -cents : cents).toString().padStart(3, '0');
  const int = digits.slice(0, -2).replace(/\B(?=(\d{3})+$)/g, ',');
  return `${neg ? '-' : ''}$${int}.${digits.slice(-2)}`;
}

const C_MONEY = /^(-?)\$(\d{1,3}(?:,\d{3})*)\.(\d\d)$/;

/** The cents of a stored or computed money text (cash_out's C form only). */
export function moneyCents(v: unknown): bigint {
  const m = typeof v === 'string' ? C_MONEY.exec(v) : null;
  if (!m) throw new NotLocal('money stored in another lc_monetary format');
  const abs = BigInt(`${(m[2] as string).replace(/,/g, '')}${m[3]}`);
  return m[1] === '-' ? -abs : abs;
}

/** rint(): round half to even, as the C library does under the default rounding mode. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

function fromFloat(x: number): bigint {
  if (!Number.isFinite(x)) throw new NotLocal('money out of range');
  return checked(BigInt(rint(x)));
}

/** numeric_cash: amount * 100 rounded half away from zero (numeric_int8). */
export function numericToCents(text: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new NotLocal('numeric to money of a non-finite value');
  const frac = `${m[3] ?? ''}000`;
  let abs = BigInt(`${m[2]}${frac.slice(0, 2)}`);
  if ((frac[2] as string) >= '5') abs += 1n;
  return checked(m[1] === '-' ? -abs : abs);
}

/** cash_numeric: the cents with scale 2. */
export function centsToNumeric(cents: bigint): string {
  const neg = cents < 0n;
  const digits = (neg ? -cents : cents).toString().padStart(3, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

function int(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new NotLocal('integer stored as non-integer');
}

export function registerMoneyFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true } as const;
  db.function(MoneyFn.cents, opts, (v: unknown) => (v === null ? null : moneyCents(v)));
  db.function(MoneyFn.arith, opts, (op: unknown, a: unknown, b: unknown) => {
    if (a === null || b === null) return null;
    const x = moneyCents(a);
    const y = moneyCents(b);
    return cashOut(checked(op === '-' ? x - y : x + y));
  });
  db.function(MoneyFn.intArith, opts, (op: unknown, m: unknown, i: unknown) => {
    if (m === null || i === null) return null;
    const c = moneyCents(m);
    const n = int(i);
    if (op === '*') return cashOut(checked(c * n));
    if (n === 0n) throw new NotLocal('division by zero');
    // cash_div_int8: C division, truncating toward zero (as BigInt's).
    return cashOut(c / n);
  });
  db.function(MoneyFn.floatArith, opts, (op: unknown, m: unknown, f: unknown, bits: unknown) => {
    if (m === null || f === null) return null;
    const c = Number(moneyCents(m));
    const x = Number(bits) === 4 ? readFloat4(f) : readFloat(f);
    if (op === '*') return cashOut(fromFloat(c * x));
    if (x === 0) throw new NotLocal('division by zero');
    return cashOut(fromFloat(c / x));
  });
  db.function(MoneyFn.ratio, opts, (a: unknown, b: unknown) => {
    if (a === null || b === null) return null;
    const y = moneyCents(b);
    if (y === 0n) throw new NotLocal('division by zero');
    const q = Number(moneyCents(a)) / Number(y);
    // float8 as stored (src/replica/type-storage.ts): -0 kept as text.
    return Object.is(q, -0) ? '-0' : q;
  });
  db.function(MoneyFn.fromNumeric, opts, (v: unknown) => {
    if (v === null) return null;
    if (typeof v !== 'string') throw new NotLocal('numeric stored as non-text');
    return cashOut(numericToCents(v));
  });
  db.function(MoneyFn.fromInt, opts, (v: unknown) => (v === null ? null : cashOut(checked(int(v) * 100n))));
  db.function(MoneyFn.toNumeric, opts, (v: unknown) => (v === null ? null : centsToNumeric(moneyCents(v))));
  db.aggregate(MoneyFn.sum, {
    start: () => null as bigint | null,
    step: (acc: bigint | null, v: unknown) => (v === null ? acc : checked((acc ?? 0n) + moneyCents(v))),
    result: (acc: bigint | null) => (acc === null ? null : cashOut(acc)),
    safeIntegers: true,
  } as Parameters<Database.Database['aggregate']>[1]);
}
