/**
 * array_in's structure and array_out's text for arrays of any dimensions and
 * bounds (docs/architecture.md "Storage of values": an array is stored as
 * array_out prints it). Only input every supported major reads alike is
 * accepted: anything array_in rejects, or reads differently between majors
 * (nested empty sub-arrays, which Postgres 17 accepts and 15 rejects; quotes
 * inside an unquoted element; blanks inside the bounds decoration; more than
 * six dimensions), throws NotLocal so upstream answers or raises its own error.
 */
import { InputError, NotLocal } from '../errors.js';

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

/**
 * array_in rejected the text, in words both supported majors use for it:
 * `items` are the elements read before the error, which Postgres 17 has
 * already passed to the element type's input (compile/arrays.ts checks them).
 */
export class ArrayInputError extends InputError {
  constructor(
    what: string,
    text: string,
    detail: string | undefined,
    readonly items: (string | null)[],
    code = '22P02',
    message = `malformed array literal: "${text}"`,
  ) {
    super(
      `${what}: malformed array literal`,
      detail === undefined ? { code, message } : { code, message, detail },
    );
    this.name = 'ArrayInputError';
  }
}

/**
 * array_in's parse of `text` (ASCII delimiter ','), without the element
 * type's input. Errors the majors word alike (checked against 15 and 17: the
 * first malformed point read left to right, the bounds decoration first) are
 * ArrayInputErrors; the rest, and what the majors read differently, NotLocal.
 */
export function parseArray(text: string, what: string): ArrayValue {
  const fail = (): never => {
    throw new NotLocal(`${what}: array literal not plain`);
  };
  const items: (string | null)[] = [];
  let declared: { lb: number; ub: number }[] | undefined;
  /** The bounds decoration's errors, and the contents' that are the same on both majors. */
  const malformedDims = (detail: string): never => {
    throw new ArrayInputError(what, text, detail, items);
  };
  // After a bounds decoration Postgres 15 quotes only the contents' text in the message.
  const malformed = (detail: string): never => (declared === undefined ? malformedDims(detail) : fail());
  const isDigitOrSign = (c: string | undefined): boolean => c !== undefined && /[0-9+-]/.test(c);
  let i = 0;
  while (isSpace(text[i])) i++;
  if (text[i] === '[') {
    declared = [];
    while (text[i] === '[') {
      const m = /^\[(?:(-?\d{1,10}):)?(-?\d{1,10})\]/.exec(text.slice(i, i + 25));
      if (!m) {
        const next = text[i + 1];
        if (next !== undefined && !isDigitOrSign(next) && !isSpace(next))
          malformedDims('"[" must introduce explicitly-specified array dimensions.');
        const bound = /^\[-?\d{1,10}:(.)/.exec(text.slice(i, i + 14));
        const after = bound?.[1];
        if (after !== undefined && !isDigitOrSign(after) && !isSpace(after))
          malformedDims('Missing array dimension value.');
        fail();
      }
      const match = m as RegExpExecArray;
      const lb = match[1] === undefined ? 1 : Number(match[1]);
      const ub = Number(match[2]);
      // Bounds outside int4 and one past the last int4 are worded differently by the majors (54000, 2202E).
      if (lb < INT4_MIN || lb > INT4_MAX || ub < INT4_MIN || ub >= INT4_MAX) fail();
      if (ub < lb)
        throw new ArrayInputError(
          what,
          text,
          undefined,
          items,
          '2202E',
          'upper bound cannot be less than lower bound',
        );
      declared.push({ lb, ub });
      i += match[0].length;
    }
    while (isSpace(text[i])) i++;
    if (text[i] !== '=') malformedDims('Missing "=" after array dimensions.');
    i++;
    while (isSpace(text[i])) i++;
    if (text[i] !== '{') malformedDims('Array contents must start with "{".');
  }
  if (text[i] !== '{') malformed('Array value must start with "{" or dimension information.');
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
      if (text[i] === undefined) malformed('Unexpected end of input.');
      if (text[i] === '{') {
        // Elements and sub-arrays mixed at one level.
        if (leafDepth === depth + 1) fail();
        level(depth + 1);
        while (isSpace(text[i])) i++;
        const next = text[i];
        if (next === undefined) malformed('Unexpected end of input.');
        if (next !== ',' && next !== '}' && next !== '{') malformed('Unexpected array element.');
      } else {
        if (leafDepth === -1) leafDepth = depth + 1;
        else if (leafDepth !== depth + 1) fail();
        items.push(element());
      }
      count++;
      while (isSpace(text[i])) i++;
      if (text[i] === undefined) malformed('Unexpected end of input.');
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
    else if (known !== count)
      malformed('Multidimensional arrays must have sub-arrays with matching dimensions.');
  };
  /** One element, quoted or not; `i` is at its first character. */
  const element = (): string | null => {
    if (text[i] === '"') {
      i++;
      let s = '';
      for (;;) {
        const c = text[i];
        if (c === undefined) malformed('Unexpected end of input.');
        if (c === '\\') {
          const next = text[i + 1];
          if (next === undefined) malformed('Unexpected end of input.');
          s += next;
          i += 2;
        } else if (c === '"') {
          i++;
          // A sub-array right after a quoted element (Postgres 17 has read the element); other text after it is worded differently by the majors.
          if (text[i] === '{') {
            items.push(s);
            malformed('Unexpected "{" character.');
          }
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
      if (c === undefined) malformed('Unexpected end of input.');
      if (c === '{') malformed('Unexpected "{" character.');
      if (c === '"') fail();
      if (c === ',' || c === '}') {
        // Nothing before the delimiter: `{,`, `,,`, `,}`.
        if (s === '' && !escaped) malformed(`Unexpected "${c}" character.`);
        break;
      }
      if (c === '\\') {
        const next = text[i + 1];
        if (next === undefined) malformed('Unexpected end of input.');
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
  if (i !== text.length) malformed('Junk after closing right brace.');
  const mismatch = 'Specified array dimensions do not match array contents.';
  // Empty: '{}' (a decoration on it is an error).
  if (items.length === 0) {
    if (declared !== undefined) malformedDims(mismatch);
    return { dims: [], lbs: [], items: [] };
  }
  const dims = lengths.slice(0, leafDepth);
  if (dims.length !== leafDepth || dims.some((d) => d === undefined)) fail();
  let lbs = dims.map(() => 1);
  if (declared !== undefined) {
    if (declared.length !== dims.length) malformedDims(mismatch);
    for (const [k, d] of declared.entries()) if (d.ub - d.lb + 1 !== dims[k]) malformedDims(mismatch);
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

/** array_out quoting of one element's text (as functions.ts prints arrays). */
export function quoteElement(v: string): string {
  if (v === '' || /^null$/i.test(v) || /[{}",\\ \t\n\r\v\f]/.test(v)) {
    return `"${v.replace(/["\\]/g, (m) => `\\${m}`)}"`;
  }
  return v;
}
