/**
 * array_in's structure and array_out's text for arrays of any dimensions and
 * bounds (docs/architecture.md "Storage of values": an array is stored as
 * array_out prints it). Only input every supported major reads alike is
 * accepted: anything array_in rejects, or reads differently between majors
 * (nested empty sub-arrays, which Postgres 17 accepts and 15 rejects; quotes
 * inside an unquoted element; blanks inside the bounds decoration; more than
 * six dimensions), throws NotLocal so upstream answers or raises its own error.
 */
import { NotLocal } from '../errors.js';

export interface ArrayValue {
  /** Length of each dimension (none: the empty array). */
  dims: number[];
  /** Lower bound of each dimension. */
  lbs: number[];
  /** The elements' texts in row-major order (NULL as null). */
  items: (string | null)[];
}

/** array_isspace: exactly these six. */
const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';

const MAXDIM = 6;
const INT4_MIN = -2147483648;
const INT4_MAX = 2147483647;

/** array_in's parse of `text` (ASCII delimiter ','), without the element type's input. */
export function parseArray(text: string, what: string): ArrayValue {
  const fail = (): never => {
    throw new NotLocal(`${what}: array literal not plain`);
  };
  let i = 0;
  while (isSpace(text[i])) i++;
  let declared: { lb: number; ub: number }[] | undefined;
  if (text[i] === '[') {
    declared = [];
    while (text[i] === '[') {
      const m = /^\[(?:(-?\d{1,10}):)?(-?\d{1,10})\]/.exec(text.slice(i, i + 25));
      if (!m) fail();
      const match = m as RegExpExecArray;
      const lb = match[1] === undefined ? 1 : Number(match[1]);
      const ub = Number(match[2]);
      // Bounds outside int4, an upper bound below the lower one, one past the last int4: errors (22P02, 2202E, 54000).
      if (lb < INT4_MIN || ub >= INT4_MAX || ub < lb) fail();
      declared.push({ lb, ub });
      i += match[0].length;
    }
    while (isSpace(text[i])) i++;
    if (text[i] !== '=') fail();
    i++;
    while (isSpace(text[i])) i++;
  }
  if (text[i] !== '{') fail();
  const items: (string | null)[] = [];
  /** Length of each level, fixed by its first sub-array; depth of the elements. */
  const lengths: number[] = [];
  let leafDepth = -1;
  const level = (depth: number): void => {
    if (depth >= MAXDIM) fail();
    i++; // '{'
    while (isSpace(text[i])) i++;
    let count = 0;
    if (text[i] === '}') {
      // Only the whole array may be empty ('{}'): nested empty ones differ between majors.
      if (depth > 0) fail();
      i++;
      return;
    }
    for (;;) {
      while (isSpace(text[i])) i++;
      if (text[i] === '{') {
        // Elements and sub-arrays mixed at one level.
        if (leafDepth === depth + 1) fail();
        level(depth + 1);
      } else {
        if (leafDepth === -1) leafDepth = depth + 1;
        else if (leafDepth !== depth + 1) fail();
        items.push(element());
      }
      count++;
      while (isSpace(text[i])) i++;
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        break;
      }
      fail();
    }
    const known = lengths[depth];
    if (known === undefined) lengths[depth] = count;
    else if (known !== count) fail();
  };
  /** One element, quoted or not; `i` is at its first character. */
  const element = (): string | null => {
    if (text[i] === '"') {
      i++;
      let s = '';
      for (;;) {
        const c = text[i];
        if (c === undefined) fail();
        if (c === '\\') {
          const next = text[i + 1];
          if (next === undefined) fail();
          s += next;
          i += 2;
        } else if (c === '"') {
          i++;
          return s;
        } else {
          s += c;
          i++;
        }
      }
    }
    let s = '';
    // Length of `s` up to its last character that is not an unescaped blank.
    let keep = 0;
    let escaped = false;
    for (;;) {
      const c = text[i];
      if (c === undefined || c === '{' || c === '"') fail();
      if (c === ',' || c === '}') break;
      if (c === '\\') {
        const next = text[i + 1];
        if (next === undefined) fail();
        s += next;
        keep = s.length;
        escaped = true;
        i += 2;
        continue;
      }
      s += c;
      if (!isSpace(c)) keep = s.length;
      i++;
    }
    s = s.slice(0, keep);
    if (s === '' && !escaped) fail();
    return !escaped && s.toUpperCase() === 'NULL' ? null : s;
  };
  level(0);
  while (isSpace(text[i])) i++;
  if (i !== text.length) fail();
  // Empty: '{}' (a decoration on it is an error).
  if (items.length === 0) {
    if (declared !== undefined) fail();
    return { dims: [], lbs: [], items: [] };
  }
  const dims = lengths.slice(0, leafDepth);
  if (dims.length !== leafDepth || dims.some((d) => d === undefined)) fail();
  let lbs = dims.map(() => 1);
  if (declared !== undefined) {
    if (declared.length !== dims.length) fail();
    for (const [k, d] of declared.entries()) if (d.ub - d.lb + 1 !== dims[k]) fail();
    lbs = declared.map((d) => d.lb);
  }
  return { dims, lbs, items };
}

/** array_out: the bounds decoration when a lower bound is not 1, then the nested elements (`quote` prints one). */
export function formatArray(v: ArrayValue, quote: (item: string) => string): string {
  if (v.dims.length === 0) return '{}';
  const texts = v.items.map((e) => (e === null ? 'NULL' : quote(e)));
  let k = 0;
  const nest = (d: number): string => {
    const n = v.dims[d] as number;
    const parts: string[] = [];
    for (let j = 0; j < n; j++) parts.push(d + 1 === v.dims.length ? (texts[k++] as string) : nest(d + 1));
    return `{${parts.join(',')}}`;
  };
  const decoration = v.lbs.some((lb) => lb !== 1)
    ? `${v.dims.map((n, d) => `[${v.lbs[d]}:${(v.lbs[d] as number) + n - 1}]`).join('')}=`
    : '';
  return decoration + nest(0);
}
