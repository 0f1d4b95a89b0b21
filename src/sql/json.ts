/**
 * JSON values as Postgres's json and jsonb types see them: the input parser
 * (json_in/jsonb_in, src/common/jsonapi.c's grammar exactly), jsonb's
 * canonical text (jsonb_out: keys by length then bytes, the last of
 * duplicate keys kept, `", "` and `": "` separators, numbers as numeric_out
 * prints them), and the jsonb operations the compiler serves locally.
 *
 * Anything Postgres would reject (bad syntax, `\u0000` in jsonb, a lone
 * surrogate, nesting deep enough to hit max_stack_depth) or whose result we
 * are not certain of throws `NotLocal`: the statement goes upstream, which
 * raises the exact error.
 */
import { NotLocal } from '../errors.js';
import { jsonInputError } from './json-errors.js';
import { numericInput } from './pgtypes.js';

export type JsonValue =
  | { k: 'null' }
  | { k: 'bool'; v: boolean }
  /** The number as numeric_out prints it (jsonb), the token (json) in `raw`. */
  | { k: 'num'; v: string }
  | { k: 'str'; v: string }
  | { k: 'arr'; v: JsonNode[] }
  | { k: 'obj'; v: [string, JsonNode][] };

/** A value with its span in the parsed text (json's operators return the input text of an element). */
export type JsonNode = JsonValue & { s: number; e: number };

/** Deeper nesting is forwarded: Postgres's limit is max_stack_depth, not a fixed depth. */
const MAX_DEPTH = 200;

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
/** JSON_ALPHANUMERIC_CHAR: a number or keyword token runs on over these (then is invalid). */
const isAlnum = (c: string | undefined): boolean =>
  c !== undefined && (/[A-Za-z0-9_]/.test(c) || c.charCodeAt(0) >= 0x80);

class Parser {
  i = 0;
  constructor(
    readonly t: string,
    readonly jsonb: boolean,
    readonly what: string,
  ) {}

  fail(why = 'invalid input syntax'): never {
    throw new NotLocal(`${this.what}: ${why}`);
  }

  ws(): void {
    while (isSpace(this.t[this.i])) this.i++;
  }

  value(depth: number): JsonNode {
    if (depth > MAX_DEPTH) this.fail('nesting too deep to check');
    this.ws();
    const s = this.i;
    const c = this.t[this.i];
    if (c === '{') {
      this.i++;
      const v: [string, JsonNode][] = [];
      this.ws();
      if (this.t[this.i] === '}') {
        this.i++;
        return { k: 'obj', v, s, e: this.i };
      }
      for (;;) {
        this.ws();
        if (this.t[this.i] !== '"') this.fail();
        const key = this.string();
        this.ws();
        if (this.t[this.i] !== ':') this.fail();
        this.i++;
        v.push([key, this.value(depth + 1)]);
        this.ws();
        const d = this.t[this.i];
        this.i++;
        if (d === '}') return { k: 'obj', v, s, e: this.i };
        if (d !== ',') this.fail();
      }
    }
    if (c === '[') {
      this.i++;
      const v: JsonNode[] = [];
      this.ws();
      if (this.t[this.i] === ']') {
        this.i++;
        return { k: 'arr', v, s, e: this.i };
      }
      for (;;) {
        v.push(this.value(depth + 1));
        this.ws();
        const d = this.t[this.i];
        this.i++;
        if (d === ']') return { k: 'arr', v, s, e: this.i };
        if (d !== ',') this.fail();
      }
    }
    if (c === '"') {
      const v = this.string();
      return { k: 'str', v, s, e: this.i };
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number(s);
    // A keyword: the whole alphanumeric run must be one.
    let j = this.i;
    while (isAlnum(this.t[j])) j++;
    const word = this.t.slice(this.i, j);
    this.i = j;
    if (word === 'true' || word === 'false') return { k: 'bool', v: word === 'true', s, e: j };
    if (word === 'null') return { k: 'null', s, e: j };
    return this.fail();
  }

  number(s: number): JsonNode {
    const t = this.t;
    const digit = (): boolean => {
      const c = t[this.i];
      return c !== undefined && c >= '0' && c <= '9';
    };
    if (t[this.i] === '-') this.i++;
    if (t[this.i] === '0') this.i++;
    else if (digit()) while (digit()) this.i++;
    else this.fail();
    if (t[this.i] === '.') {
      this.i++;
      if (!digit()) this.fail();
      while (digit()) this.i++;
    }
    if (t[this.i] === 'e' || t[this.i] === 'E') {
      this.i++;
      if (t[this.i] === '+' || t[this.i] === '-') this.i++;
      if (!digit()) this.fail();
      while (digit()) this.i++;
    }
    if (isAlnum(t[this.i])) this.fail();
    const token = t.slice(s, this.i);
    return { k: 'num', v: this.jsonb ? numericInput(token, this.what) : token, s, e: this.i };
  }

  /** A string token (at its opening quote), de-escaped. */
  string(): string {
    const t = this.t;
    this.i++;
    let out = '';
    let from = this.i;
    for (;;) {
      const c = t[this.i];
      if (c === undefined) this.fail();
      if (c === '"') break;
      if (c.charCodeAt(0) < 0x20) this.fail('control character in a string');
      if (c !== '\\') {
        this.i++;
        continue;
      }
      out += t.slice(from, this.i);
      const esc = t[this.i + 1];
      this.i += 2;
      switch (esc) {
        case '"':
        case '\\':
        case '/':
          out += esc;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = t.slice(this.i, this.i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail();
          this.i += 4;
          const cp = Number.parseInt(hex, 16);
          if (cp === 0) this.fail('\\u0000');
          if (cp >= 0xd800 && cp <= 0xdfff) {
            // Postgres's checks of surrogates differ between json and jsonb
            // and between versions: only a well-formed pair in jsonb is local.
            const low = /^\\u([dD][c-fC-F][0-9a-fA-F]{2})/.exec(t.slice(this.i, this.i + 6));
            if (!this.jsonb || cp >= 0xdc00 || !low) this.fail('surrogate \\u escape');
            out += String.fromCharCode(cp, Number.parseInt(low[1] as string, 16));
            this.i += 6;
          } else out += String.fromCharCode(cp);
          break;
        }
        default:
          this.fail();
      }
      from = this.i;
    }
    out += t.slice(from, this.i);
    this.i++;
    return out;
  }
}

/** json_in (jsonb: false: only validated, the text is the value) or jsonb_in's parse of `text`. */
export function parseJson(text: string, jsonb: boolean, what: string): JsonNode {
  const p = new Parser(text, jsonb, what);
  const v = p.value(0);
  p.ws();
  if (p.i !== text.length) p.fail();
  return v;
}

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** jsonb's key order (lengthCompareJsonbStringValue): shorter first, then bytewise. */
export function compareKeys(a: string, b: string): number {
  const la = utf8Length(a);
  const lb = utf8Length(b);
  if (la !== lb) return la - lb;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** An object's pairs as jsonb keeps them: sorted, the last of equal keys kept. */
export function uniqueKeys(pairs: [string, JsonValue][]): [string, JsonValue][] {
  const last = new Map<string, JsonValue>();
  for (const [k, v] of pairs) last.set(k, v);
  return [...last.entries()].sort((a, b) => compareKeys(a[0], b[0]));
}

/** jsonb's canonical form of a parsed value (objects at every level sorted and deduplicated). */
export function canonical(v: JsonValue): JsonValue {
  if (v.k === 'arr') return { k: 'arr', v: v.v.map((x) => canonical(x) as JsonNode) };
  if (v.k === 'obj') {
    return {
      k: 'obj',
      v: uniqueKeys(v.v.map(([k, x]) => [k, canonical(x)])) as [string, JsonNode][],
    };
  }
  return v;
}

/** escape_json. */
export function quoteJson(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c < 0x20) {
      if (ch === '\b') out += '\\b';
      else if (ch === '\f') out += '\\f';
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** jsonb_out of a canonical value. */
export function jsonbText(v: JsonValue): string {
  switch (v.k) {
    case 'null':
      return 'null';
    case 'bool':
      return v.v ? 'true' : 'false';
    case 'num':
      return v.v;
    case 'str':
      return quoteJson(v.v);
    case 'arr':
      return `[${v.v.map(jsonbText).join(', ')}]`;
    case 'obj':
      return `{${v.v.map(([k, x]) => `${quoteJson(k)}: ${jsonbText(x)}`).join(', ')}}`;
  }
}

/**
 * The parse of a constant's text; where Postgres rejects it, its own
 * InputError when json-errors.ts words it surely (only for a plain literal
 * of the type: inside an array or another function Postgres adds context).
 */
function parseInput(text: string, jsonb: boolean, what: string): JsonNode {
  try {
    return parseJson(text, jsonb, what);
  } catch (err) {
    if (what === (jsonb ? 'jsonb constant' : 'json constant')) {
      const exact = jsonInputError(text, jsonb, what);
      if (exact) throw exact;
    }
    throw err;
  }
}

/** jsonb_in: text → the stored (canonical output) form. */
export function jsonbInput(text: string, what: string): string {
  return jsonbText(canonical(parseInput(text, true, what)));
}

/** json_in: the text itself, once valid. */
export function jsonInput(text: string, what: string): string {
  parseInput(text, false, what);
  return text;
}

/** A stored jsonb value (its canonical text) parsed back. */
export function storedJsonb(text: string): JsonValue {
  return parseJson(text, true, 'stored jsonb');
}

// ---- operations on jsonb values ------------------------------------------------------

/**
 * jsonb's containers: a top-level scalar is stored as a one-element "raw
 * scalar" array, which is how Postgres's operators see it.
 */
interface Root {
  v: JsonValue;
  rawScalar: boolean;
}

function root(v: JsonValue): Root {
  return v.k === 'arr' || v.k === 'obj'
    ? { v, rawScalar: false }
    : { v: { k: 'arr', v: [v as JsonNode] }, rawScalar: true };
}

const fail = (why: string): never => {
  throw new NotLocal(why);
};

/** Normalised numeric text (numeric_out's trailing zeros dropped), so 1.0 equals 1. */
function numberKey(n: string): string {
  return n.includes('.') ? n.replace(/0+$/, '').replace(/\.$/, '') : n;
}

/** equalsJsonbScalarValue (same kind, equal value; numbers numerically). */
function scalarEqual(a: JsonValue, b: JsonValue): boolean {
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'null':
      return true;
    case 'bool':
      return a.v === (b as { v: boolean }).v;
    case 'str':
      return a.v === (b as { v: string }).v;
    case 'num':
      return numberKey(a.v) === numberKey((b as { v: string }).v);
    default:
      return false;
  }
}

const isContainer = (v: JsonValue): boolean => v.k === 'arr' || v.k === 'obj';

/** JsonbDeepContains on two containers. */
function deepContains(a: JsonValue, b: JsonValue): boolean {
  if (a.k !== b.k) return false;
  if (a.k === 'obj' && b.k === 'obj') {
    const have = new Map(a.v);
    for (const [k, want] of b.v) {
      const got = have.get(k);
      if (got === undefined) return false;
      if (!isContainer(want)) {
        if (isContainer(got) || !scalarEqual(got, want)) return false;
      } else if (!isContainer(got) || !deepContains(got, want)) return false;
    }
    return true;
  }
  if (a.k === 'arr' && b.k === 'arr') {
    for (const want of b.v) {
      if (!isContainer(want)) {
        if (!a.v.some((got) => !isContainer(got) && scalarEqual(got, want))) return false;
      } else if (!a.v.some((got) => isContainer(got) && deepContains(got, want))) return false;
    }
    return true;
  }
  return false;
}

/** jsonb @> jsonb. */
export function jsonbContains(a: JsonValue, b: JsonValue): boolean {
  const ra = root(a);
  const rb = root(b);
  if ((ra.v.k === 'obj') !== (rb.v.k === 'obj')) return false;
  // A raw scalar contains only a raw scalar; an array may contain one.
  if (ra.rawScalar && !rb.rawScalar) return false;
  return deepContains(ra.v, rb.v);
}

/** jsonb ? text (keys of an object, string elements of an array or raw scalar). */
export function jsonbExists(a: JsonValue, key: string): boolean {
  const r = root(a).v;
  if (r.k === 'obj') return r.v.some(([k]) => k === key);
  if (r.k === 'arr') return r.v.some((x) => x.k === 'str' && x.v === key);
  return false;
}

/** jsonb || jsonb (IteratorConcat). */
export function jsonbConcat(a: JsonValue, b: JsonValue): JsonValue {
  const ra = root(a).v;
  const rb = root(b).v;
  if (ra.k === 'obj' && rb.k === 'obj') {
    return { k: 'obj', v: uniqueKeys([...ra.v, ...rb.v]) as [string, JsonNode][] };
  }
  const items = (r: JsonValue): JsonNode[] => (r.k === 'arr' ? r.v : [r as JsonNode]);
  return { k: 'arr', v: [...items(ra), ...items(rb)] };
}

/** jsonb - text / jsonb - text[]: keys of an object, equal string elements of an array. */
export function jsonbDeleteKeys(a: JsonValue, keys: string[]): JsonValue {
  const r = root(a);
  if (r.rawScalar) fail('cannot delete from scalar');
  const drop = new Set(keys);
  if (r.v.k === 'obj') return { k: 'obj', v: r.v.v.filter(([k]) => !drop.has(k)) };
  if (r.v.k === 'arr') return { k: 'arr', v: r.v.v.filter((x) => !(x.k === 'str' && drop.has(x.v))) };
  return fail('cannot delete from scalar');
}

/** jsonb - int4: an array element (negative from the end). */
export function jsonbDeleteIndex(a: JsonValue, index: number): JsonValue {
  const r = root(a);
  if (r.rawScalar) fail('cannot delete from scalar');
  if (r.v.k !== 'arr') return fail('cannot delete from object using integer index');
  const n = r.v.v.length;
  const i = index < 0 ? index + n : index;
  if (i < 0 || i >= n) return r.v;
  return { k: 'arr', v: r.v.v.filter((_, j) => j !== i) };
}

/**
 * jsonb #> text[] (jsonb_get_element): object fields by key, array elements
 * by an integer (negative from the end); anything else yields NULL. An empty
 * path and a path into a raw scalar are not reproduced here.
 */
export function jsonbPath(a: JsonValue, path: string[]): JsonValue | null {
  // An empty path gives the value itself; any other path into a raw scalar, NULL.
  if (path.length === 0) return a;
  if (a.k !== 'obj' && a.k !== 'arr') return null;
  let cur: JsonValue = a;
  for (const step of path) {
    if (cur.k === 'obj') {
      const hit: JsonValue | undefined = cur.v.find(([k]) => k === step)?.[1];
      if (hit === undefined) return null;
      cur = hit;
    } else if (cur.k === 'arr') {
      // strtoint: optional blanks and sign are accepted there; forwarded here.
      if (/^\s|^\+/.test(step)) fail('#> with an unusual array index');
      if (!/^-?\d+$/.test(step)) return null;
      const n = Number(step);
      if (!Number.isSafeInteger(n) || n > 2147483647 || n < -2147483648) fail('#> index out of range');
      const len: number = cur.v.length;
      const i: number = n < 0 ? n + len : n;
      const hit: JsonValue | undefined = i >= 0 ? cur.v[i] : undefined;
      if (hit === undefined) return null;
      cur = hit;
    } else return null;
  }
  return cur;
}

/**
 * json #> text[] (json_extract_path) on json's text: the element's input
 * text. Duplicate keys, negative indexes and an empty path are forwarded.
 */
export function jsonPath(a: JsonNode, path: string[]): JsonNode | null {
  if (path.length === 0) fail('json #> with an empty path');
  let cur: JsonNode = a;
  for (const step of path) {
    if (cur.k === 'obj') {
      const hits = cur.v.filter(([k]) => k === step);
      if (hits.length > 1) fail('json #> through a duplicate key');
      const hit = hits[0]?.[1];
      if (hit === undefined) return null;
      cur = hit;
    } else if (cur.k === 'arr') {
      if (!/^\d+$/.test(step) || step.length > 9) fail('json #> with an unusual array index');
      const hit = cur.v[Number(step)];
      if (hit === undefined) return null;
      cur = hit;
    } else return null;
  }
  return cur;
}

/** The text a jsonb value gives as text (->> and #>>): strings unquoted, JSON null as SQL NULL. */
export function jsonbAsText(v: JsonValue | null): string | null {
  if (v === null || v.k === 'null') return null;
  if (v.k === 'str') return v.v;
  return jsonbText(v);
}

/** jsonb_typeof / json_typeof. */
export function jsonTypeof(v: JsonValue): string {
  switch (v.k) {
    case 'obj':
      return 'object';
    case 'arr':
      return 'array';
    case 'str':
      return 'string';
    case 'num':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'null':
      return 'null';
  }
}

/**
 * json_strip_nulls (one argument) of a parsed json value: Postgres re-emits
 * the parser's tokens without whitespace (strings de-escaped, then
 * escape_json'd; numbers as written; duplicate keys kept), dropping object
 * fields whose value is null at every level.
 */
export function jsonStripNullsText(v: JsonValue): string {
  switch (v.k) {
    case 'arr':
      return `[${v.v.map(jsonStripNullsText).join(',')}]`;
    case 'obj':
      return `{${v.v
        .filter(([, x]) => x.k !== 'null')
        .map(([k, x]) => `${quoteJson(k)}:${jsonStripNullsText(x)}`)
        .join(',')}}`;
    case 'null':
      return 'null';
    case 'bool':
      return v.v ? 'true' : 'false';
    case 'num':
      return v.v;
    case 'str':
      return quoteJson(v.v);
  }
}

/** jsonb_strip_nulls (one argument): object fields whose value is null, at every level; array elements stay. */
export function jsonbStripNulls(v: JsonValue): JsonValue {
  if (v.k === 'arr') return { k: 'arr', v: v.v.map((x) => jsonbStripNulls(x) as JsonNode) };
  if (v.k === 'obj') {
    return {
      k: 'obj',
      v: v.v.filter(([, x]) => x.k !== 'null').map(([k, x]) => [k, jsonbStripNulls(x) as JsonNode]),
    };
  }
  return v;
}
