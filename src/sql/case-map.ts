/**
 * Postgres's lower()/upper() for a database whose character classification is
 * not C, learned from upstream. With a libc ctype in a UTF-8 database
 * Postgres maps each code point on its own (towlower_l/towupper_l on wide
 * characters), and the builtin provider's C.UTF-8 uses Unicode's simple case
 * mapping, also one code point to one: so the complete behaviour is a table
 * of the code points that change, read once with a query over every code
 * point (src/upstream-locale.ts). ILIKE in a UTF-8 database is LIKE over the
 * lower() of both sides, so it folds with the same table.
 */

export interface CaseMap {
  lower(s: string): string;
  upper(s: string): string;
  /** Compact text form, to hand the table to the executor processes. */
  serialized: string;
  /** Code points whose lower or upper differs from themselves. */
  size: number;
}

/** One learned row: the code point, and its lower and upper code points. */
export type CaseMapRow = [cp: number, lower: number, upper: number];

function mapper(table: Map<number, number>): (s: string) => string {
  return (s) => {
    let out = '';
    let changed = false;
    for (const ch of s) {
      const to = table.get(ch.codePointAt(0) as number);
      if (to === undefined) out += ch;
      else {
        out += String.fromCodePoint(to);
        changed = true;
      }
    }
    return changed ? out : s;
  };
}

export function caseMapFrom(rows: CaseMapRow[]): CaseMap {
  const lower = new Map<number, number>();
  const upper = new Map<number, number>();
  for (const [cp, l, u] of rows) {
    if (l !== cp) lower.set(cp, l);
    if (u !== cp) upper.set(cp, u);
  }
  return {
    lower: mapper(lower),
    upper: mapper(upper),
    serialized: rows.map((r) => r.map((n) => n.toString(36)).join(':')).join(','),
    size: rows.length,
  };
}

export function parseCaseMap(serialized: string): CaseMap {
  const rows: CaseMapRow[] = [];
  if (serialized !== '') {
    for (const entry of serialized.split(',')) {
      const [a, b, c] = entry.split(':').map((x) => Number.parseInt(x, 36));
      if (a === undefined || b === undefined || c === undefined || [a, b, c].some(Number.isNaN)) {
        throw new Error('malformed case map');
      }
      rows.push([a, b, c]);
    }
  }
  return caseMapFrom(rows);
}

/** lower()/upper() under a C ctype: ASCII letters only (pg_ascii_tolower). */
export const ASCII_CASE_MAP: CaseMap = caseMapFrom(
  Array.from({ length: 26 }, (_, i): CaseMapRow[] => [
    [65 + i, 97 + i, 65 + i],
    [97 + i, 97 + i, 65 + i],
  ]).flat(),
);
