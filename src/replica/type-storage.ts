/**
 * How a Postgres value (in its text output form) is stored in SQLite. This is
 * the "Storage of values" table of docs/architecture.md; the read path
 * (src/sql/render.ts) relies on it to render the exact Postgres text back.
 *
 * What SQLite (3.x via better-sqlite3 12) does with the awkward doubles, checked
 * by hand and in test/replication-type-storage.test.ts:
 * - `Infinity` and `-Infinity` bound as JS numbers are stored as REAL and read
 *   back as ±Infinity; they sort below/above every finite number, as in Postgres.
 * - `-0.0` does NOT survive a column with REAL affinity: SQLite stores integral
 *   REAL values as integers (an on-disk optimisation that also applies in
 *   memory), so -0.0 comes back as 0 (`typeof` still says 'real'). Postgres
 *   prints float -0 as `-0`, hence the TEXT `'-0'` (the compiler maps it back
 *   to 0.0 wherever it compares or sorts), in a column without affinity (a
 *   REAL column would convert that text to 0 too).
 * - NaN cannot be stored as a REAL at all (SQLite turns it into NULL), hence
 *   the TEXT `'NaN'`, which sorts after every number, as NaN does in Postgres.
 * - better-sqlite3 binds every JS number as a REAL (even 3 → 3.0); an INTEGER
 *   affinity column converts it back to an integer. int8 must be bound as a
 *   BigInt to stay exact beyond 2^53.
 */

import { TypeOid } from '../type-oids.js';

export { TypeOid };

export type Affinity = 'INTEGER' | 'BLOB' | 'TEXT';

/**
 * SQLite column affinity (the declared type of the data table column).
 * float4/float8 columns are declared BLOB (no affinity), not REAL: a REAL
 * column converts the TEXT `'-0'` back into the number 0 (affinity applies to
 * numeric-looking text), so the sign could not be kept. Without affinity each
 * value keeps the storage class it was bound with: REAL for numbers, TEXT for
 * `'-0'` and `'NaN'`.
 */
export function affinityFor(typeOid: number): Affinity {
  switch (typeOid) {
    case TypeOid.int2:
    case TypeOid.int4:
    case TypeOid.int8:
    case TypeOid.bool:
      return 'INTEGER';
    case TypeOid.float4:
    case TypeOid.float8:
      return 'BLOB';
    default:
      return 'TEXT';
  }
}

export type StoredValue = null | number | bigint | string;

/**
 * Postgres text output → the value bound into SQLite. Throws on text that is
 * not valid for the type (it came from Postgres, so that is a bug worth
 * stopping for rather than storing something wrong).
 */
export function toStored(text: string | null, typeOid: number): StoredValue {
  if (text === null) return null;
  switch (typeOid) {
    case TypeOid.int2:
    case TypeOid.int4: {
      const n = Number(text);
      if (!Number.isInteger(n)) throw new Error(`invalid integer text ${JSON.stringify(text)}`);
      return n;
    }
    case TypeOid.int8:
      // BigInt() accepts '', '0x..', whitespace; Postgres never emits those for int8.
      if (!/^-?\d+$/.test(text)) throw new Error(`invalid int8 text ${JSON.stringify(text)}`);
      return BigInt(text);
    case TypeOid.bool:
      if (text === 't') return 1;
      if (text === 'f') return 0;
      throw new Error(`invalid bool text ${JSON.stringify(text)}`);
    case TypeOid.float4:
    case TypeOid.float8: {
      if (text === 'NaN') return 'NaN';
      if (text === 'Infinity') return Number.POSITIVE_INFINITY;
      if (text === '-Infinity') return Number.NEGATIVE_INFINITY;
      const n = Number(text);
      if (Number.isNaN(n)) throw new Error(`invalid float text ${JSON.stringify(text)}`);
      // Any spelling of negative zero: a REAL column would turn it into 0.
      if (n === 0 && 1 / n < 0) return '-0';
      return n;
    }
    default:
      return text;
  }
}
