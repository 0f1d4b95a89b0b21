/**
 * DecodeISO8601Interval (datetime.c, 15 and later): `P1Y2M3DT4H5M6S`, the
 * basic alternative form `P00021015T103020` and the extended one
 * `P0002-10-15T10:30:20`, each field read like strtod (fractions and
 * exponents included, at most 1e15 in magnitude) and added through the
 * same overflow-checked steps as DecodeInterval (src/sql/interval.ts).
 * Hexadecimal numbers (which strtod also reads) are forwarded.
 */
import type { Acc, IntervalValue, Unit } from './interval.js';

const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;

/** ParseISO8601Number: the integer part (toward zero), the fraction, and the text consumed. */
function isoNumber(s: string, at: number, acc: Acc): { val: bigint; fval: number; end: number } {
  const c = s[at] ?? '';
  if (!/[0-9.-]/.test(c)) acc.fail('ISO 8601 interval: bad format');
  const rest = s.slice(at);
  if (/^-?0[xX]/.test(rest)) acc.fail('ISO 8601 interval: hexadecimal number');
  const m = NUMBER.exec(rest);
  if (!m) acc.fail('ISO 8601 interval: bad format');
  const v = Number((m as RegExpExecArray)[0]);
  // strtod's ERANGE (overflow, and underflow to zero or a subnormal) is a bad format there.
  const mantissa = (m as RegExpExecArray)[0].replace(/[eE].*$/, '');
  if (
    !Number.isFinite(v) ||
    (v !== 0 && Math.abs(v) < 2.2250738585072014e-308) ||
    (v === 0 && /[1-9]/.test(mantissa))
  )
    acc.fail('ISO 8601 interval: number beyond a double');
  if (v < -1e15 || v > 1e15) acc.overflow();
  const ipart = v >= 0 ? Math.floor(v) : -Math.floor(-v);
  return { val: BigInt(ipart), fval: v - ipart, end: at + (m as RegExpExecArray)[0].length };
}

/** ISO8601IntegerWidth: the integral digits of the field (after one '-'). */
function integerWidth(s: string, at: number): number {
  const from = s[at] === '-' ? at + 1 : at;
  return /^\d*/.exec(s.slice(from))?.[0].length ?? 0;
}

export function iso8601Interval(str: string, acc: Acc): IntervalValue {
  if (str.length < 2 || str[0] !== 'P') acc.fail('ISO 8601 interval: bad format');
  const add = (unit: Unit, val: bigint, fval: number): void => acc.add(unit, val, fval);
  let datepart = true;
  let havefield = false;
  let i = 1;
  while (i < str.length) {
    if (str[i] === 'T') {
      datepart = false;
      havefield = false;
      i++;
      continue;
    }
    const fieldstart = i;
    let { val, fval, end } = isoNumber(str, i, acc);
    i = end;
    const unit = str[i] ?? '';
    i++;
    if (datepart) {
      if (unit === 'Y') add('year', val, fval);
      else if (unit === 'M') add('month', val, fval);
      else if (unit === 'W') add('week', val, fval);
      else if (unit === 'D') add('day', val, fval);
      else if (unit === 'T' || unit === '' || unit === '-') {
        if ((unit === 'T' || unit === '') && integerWidth(str, fieldstart) === 8 && !havefield) {
          // C's truncating division and remainder.
          add('year', val / 10000n, 0);
          add('month', (val / 100n) % 100n, 0);
          add('day', val % 100n, fval);
          if (unit === '') return acc.result();
          datepart = false;
          havefield = false;
          continue;
        }
        if (havefield) acc.fail('ISO 8601 interval: bad format');
        add('year', val, fval);
        if (unit === '') return acc.result();
        if (unit === 'T') {
          datepart = false;
          havefield = false;
          continue;
        }
        ({ val, fval, end } = isoNumber(str, i, acc));
        i = end;
        add('month', val, fval);
        if (i >= str.length) return acc.result();
        if (str[i] === 'T') {
          datepart = false;
          havefield = false;
          i++;
          continue;
        }
        if (str[i] !== '-') acc.fail('ISO 8601 interval: bad format');
        i++;
        ({ val, fval, end } = isoNumber(str, i, acc));
        i = end;
        add('day', val, fval);
        if (i >= str.length) return acc.result();
        if (str[i] === 'T') {
          datepart = false;
          havefield = false;
          i++;
          continue;
        }
        acc.fail('ISO 8601 interval: bad format');
      } else acc.fail('ISO 8601 interval: bad format');
    } else {
      if (unit === 'H') add('hour', val, fval);
      else if (unit === 'M') add('minute', val, fval);
      else if (unit === 'S') add('second', val, fval);
      else if (unit === '' || unit === ':') {
        if (unit === '' && integerWidth(str, fieldstart) === 6 && !havefield) {
          add('hour', val / 10000n, 0);
          add('minute', (val / 100n) % 100n, 0);
          add('second', val % 100n, 0);
          add('microsecond', 0n, fval);
          return acc.result();
        }
        if (havefield) acc.fail('ISO 8601 interval: bad format');
        add('hour', val, fval);
        if (unit === '') return acc.result();
        ({ val, fval, end } = isoNumber(str, i, acc));
        i = end;
        add('minute', val, fval);
        if (i >= str.length) return acc.result();
        if (str[i] !== ':') acc.fail('ISO 8601 interval: bad format');
        i++;
        ({ val, fval, end } = isoNumber(str, i, acc));
        i = end;
        add('second', val, fval);
        if (i >= str.length) return acc.result();
        acc.fail('ISO 8601 interval: bad format');
      } else acc.fail('ISO 8601 interval: bad format');
    }
    havefield = true;
  }
  return acc.result();
}
