/**
 * Window frame clauses SQLite evaluates exactly as Postgres does: ROWS and
 * GROUPS with UNBOUNDED / CURRENT ROW / constant offsets, RANGE with
 * UNBOUNDED / CURRENT ROW bounds, RANGE offsets over a single integer ORDER
 * BY key (the caller's `rangeOffset`: other key types compare in their own
 * type, forwarded), and EXCLUDE. Frame bounds are the
 * FRAMEOPTION_* bits of Postgres's parsenodes.h.
 */
import type { Node } from 'libpg-query';
import { NotLocal } from '../errors.js';

const NONDEFAULT = 0x1;
const RANGE = 0x2;
const ROWS = 0x4;
const GROUPS = 0x8;
const START_UNBOUNDED_PRECEDING = 0x20;
const END_UNBOUNDED_FOLLOWING = 0x100;
const START_CURRENT_ROW = 0x200;
const END_CURRENT_ROW = 0x400;
const START_OFFSET_PRECEDING = 0x800;
const END_OFFSET_PRECEDING = 0x1000;
const START_OFFSET_FOLLOWING = 0x2000;
const END_OFFSET_FOLLOWING = 0x4000;
const EXCLUDE_CURRENT_ROW = 0x8000;
const EXCLUDE_GROUP = 0x10000;
const EXCLUDE_TIES = 0x20000;
/** FRAMEOPTION_DEFAULTS: RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW. */
export const DEFAULT_FRAME = 1058;

export interface Frame {
  /** The SQLite frame clause ('' for the default frame). */
  sql: string;
  /**
   * A ROWS frame that is not the whole partition: which rows it holds
   * depends on the order among ORDER BY peers, which Postgres leaves
   * arbitrary (the caller aborts the run on ties). 'current': its bounds
   * are UNBOUNDED or CURRENT ROW, so only the current row's place matters;
   * 'offset': a bound n rows away reaches another row's place.
   */
  orderSensitive: false | 'current' | 'offset';
}

/** A frame offset: a plain non-negative integer constant (anything else forwards). */
function offset(node: Node | undefined, what: string): string {
  if (!node || !('A_Const' in node)) throw new NotLocal(`unsupported: window frame ${what} offset`);
  const c = node.A_Const as { ival?: { ival?: number }; isnull?: boolean };
  if (c.isnull || c.ival === undefined) throw new NotLocal(`unsupported: window frame ${what} offset`);
  const v = c.ival.ival ?? 0;
  if (!Number.isSafeInteger(v) || v < 0)
    throw new NotLocal(`window frame ${what} offset must not be negative`);
  return String(v);
}

/**
 * A RANGE offset over one integer ORDER BY key (int2, int4, int8): an
 * integer constant, or one cast to an integer type, >= 0. Postgres's
 * in_range_int*_int* compare exactly in int64 and treat an overflowing bound
 * as beyond every value; SQLite adds in int64 and turns an overflow into a
 * REAL beyond every int64, and compares integers with reals exactly: the
 * frames are the same. NULL keys are each other's peers in both. Negative
 * offsets are Postgres's error 22013 (forwarded), other offsets its 42883
 * or 0A000 (forwarded).
 */
export function integerRangeOffset(node: Node | undefined, what: string): string {
  let n = node;
  let limit: bigint | undefined;
  if (n && 'TypeCast' in n) {
    const tc = n.TypeCast as {
      arg?: Node;
      typeName?: { names?: Node[]; typmods?: Node[]; arrayBounds?: Node[] };
    };
    const names = (tc.typeName?.names ?? []).map((x) => ('String' in x ? x.String.sval : ''));
    const t = names[names.length - 1];
    if (
      (names.length === 2 && names[0] !== 'pg_catalog') ||
      names.length > 2 ||
      tc.typeName?.typmods ||
      tc.typeName?.arrayBounds
    )
      throw new NotLocal('unsupported: RANGE frame offset cast');
    limit =
      t === 'int2' ? 32767n : t === 'int4' ? 2147483647n : t === 'int8' ? 9223372036854775807n : undefined;
    if (limit === undefined) throw new NotLocal(`unsupported: RANGE frame offset of type ${t}`);
    n = tc.arg;
  }
  if (!n || !('A_Const' in n)) throw new NotLocal(`unsupported: RANGE frame ${what} offset`);
  const c = n.A_Const as { ival?: { ival?: number }; fval?: { fval?: string }; isnull?: boolean };
  let v: bigint;
  if (c.ival !== undefined) v = BigInt(c.ival.ival ?? 0);
  else if (c.fval?.fval !== undefined && /^-?\d+$/.test(c.fval.fval)) v = BigInt(c.fval.fval);
  else throw new NotLocal(`unsupported: RANGE frame ${what} offset`);
  if (v > 9223372036854775807n || (limit !== undefined && v > limit)) {
    throw new NotLocal(`RANGE frame ${what} offset out of range`);
  }
  if (v < 0n) throw new NotLocal('invalid preceding or following size in window function');
  return String(v);
}

export function windowFrame(
  w: { frameOptions?: number; startOffset?: Node; endOffset?: Node },
  hasOrder: boolean,
  rangeOffset?: (node: Node | undefined, what: string) => string,
): Frame {
  const o = w.frameOptions ?? DEFAULT_FRAME;
  if (o === DEFAULT_FRAME || !(o & NONDEFAULT)) {
    if (w.startOffset || w.endOffset) throw new NotLocal('unsupported: window frame clause');
    return { sql: '', orderSensitive: false };
  }
  const mode = o & ROWS ? 'ROWS' : o & GROUPS ? 'GROUPS' : o & RANGE ? 'RANGE' : undefined;
  if (mode === undefined) throw new NotLocal('unsupported: window frame clause');
  // Postgres: "GROUPS mode requires an ORDER BY clause".
  if (mode === 'GROUPS' && !hasOrder) throw new NotLocal('GROUPS mode requires an ORDER BY clause');
  const offsets =
    START_OFFSET_PRECEDING | END_OFFSET_PRECEDING | START_OFFSET_FOLLOWING | END_OFFSET_FOLLOWING;
  if (mode === 'RANGE' && o & offsets && !rangeOffset)
    throw new NotLocal('unsupported: RANGE frame with an offset');
  const off = mode === 'RANGE' && rangeOffset ? rangeOffset : offset;
  let start: string;
  if (o & START_UNBOUNDED_PRECEDING) start = 'UNBOUNDED PRECEDING';
  else if (o & START_CURRENT_ROW) start = 'CURRENT ROW';
  else if (o & START_OFFSET_PRECEDING) start = `${off(w.startOffset, 'starting')} PRECEDING`;
  else if (o & START_OFFSET_FOLLOWING) start = `${off(w.startOffset, 'starting')} FOLLOWING`;
  else throw new NotLocal('unsupported: window frame start');
  let end: string;
  if (o & END_UNBOUNDED_FOLLOWING) end = 'UNBOUNDED FOLLOWING';
  else if (o & END_CURRENT_ROW) end = 'CURRENT ROW';
  else if (o & END_OFFSET_PRECEDING) end = `${off(w.endOffset, 'ending')} PRECEDING`;
  else if (o & END_OFFSET_FOLLOWING) end = `${off(w.endOffset, 'ending')} FOLLOWING`;
  else throw new NotLocal('unsupported: window frame end');
  const exclude =
    o & EXCLUDE_CURRENT_ROW
      ? ' EXCLUDE CURRENT ROW'
      : o & EXCLUDE_GROUP
        ? ' EXCLUDE GROUP'
        : o & EXCLUDE_TIES
          ? ' EXCLUDE TIES'
          : '';
  const whole = start === 'UNBOUNDED PRECEDING' && end === 'UNBOUNDED FOLLOWING';
  return {
    sql: `${mode} BETWEEN ${start} AND ${end}${exclude}`,
    // A ROWS frame short of the whole partition picks rows out of a peer
    // group by position. Exclusions remove the current row or peers by
    // value: each row's result depends on its own value only.
    orderSensitive: mode !== 'ROWS' || whole ? false : o & offsets ? 'offset' : 'current',
  };
}
