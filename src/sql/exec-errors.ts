/**
 * Errors the SQLite functions raise worded exactly as Postgres's functions
 * raise them (ExecError): only where the SQLSTATE and message are certain
 * for every input reaching the throw. See src/router/plan-errors.ts for
 * where they become a local answer.
 */
import { ExecError } from '../errors.js';

const intName = (bits: number): string => (bits === 16 ? 'smallint' : bits === 64 ? 'bigint' : 'integer');

/** int2/int4/int8 arithmetic, negation, abs/gcd/lcm and casts to a narrower integer (int.c, int8.c, float.c, numeric.c). */
export function intRangeError(bits: number): ExecError {
  return new ExecError({ code: '22003', message: `${intName(bits)} out of range` });
}

/** numeric_int2/4/8 of NaN or an infinity. */
export function intSpecialError(bits: number, nan: boolean): ExecError {
  return new ExecError({
    code: '0A000',
    message: `cannot convert ${nan ? 'NaN' : 'infinity'} to ${intName(bits)}`,
  });
}

/** Integer, numeric and float8 division or modulo by zero. */
export function divisionByZero(): ExecError {
  return new ExecError({ code: '22012', message: 'division by zero' });
}
