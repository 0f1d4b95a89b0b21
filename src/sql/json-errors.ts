/**
 * json_in/jsonb_in's error for a text they reject, worded as Postgres words
 * it (src/common/jsonapi.c's lexer and recursive-descent parser, and
 * jsonfuncs.c's report_json_context): 22P02 "invalid input syntax for type
 * json", the DETAIL naming the token met, and the CONTEXT line quoting the
 * input up to it (at most 50 bytes, "..." before a cut start and after an
 * unfinished line). The parser is one token ahead: a token's own error (an
 * invalid word, number or string) comes before the grammar's complaint
 * about the token before it.
 *
 * Undefined (the statement stays forwarded) where this is less than
 * certain: \u escapes jsonb must convert (code point zero, surrogates),
 * deep nesting (Postgres's stack depth), and in jsonb any number before
 * the error that numeric_in might reject first (its value is converted as
 * the parser meets it).
 */
import { InputError } from '../errors.js';

type Tok =
  | 'invalid'
  | '{'
  | '}'
  | '['
  | ']'
  | ','
  | ':'
  | 'string'
  | 'number'
  | 'true'
  | 'false'
  | 'null'
  | 'end';

type Kind =
  | 'token'
  | 'escaping-required'
  | 'escaping-invalid'
  | 'unicode-format'
  | 'more'
  | 'end'
  | 'value'
  | 'string'
  | 'array-next'
  | 'object-first'
  | 'colon'
  | 'object-next';

class Failed {
  constructor(readonly kind: Kind) {}
}

/** Not reproduced here: the caller keeps forwarding. */
class Unsure {}

const MAX_DEPTH = 200;

const isAlnum = (c: number | undefined): boolean =>
  c !== undefined &&
  ((c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c >= 0x80);
const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
const isHex = (c: number | undefined): boolean =>
  c !== undefined && (isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46));

/** Length of the UTF-8 character starting with byte `c` (pg_utf_mblen). */
function mbLen(c: number | undefined): number {
  if (c === undefined || c < 0x80) return 1;
  if ((c & 0xe0) === 0xc0) return 2;
  if ((c & 0xf0) === 0xe0) return 3;
  if ((c & 0xf8) === 0xf0) return 4;
  return 1;
}

class Lexer {
  tokenStart: number | null = 0;
  tokenTerminator = 0;
  tokenType: Tok = 'invalid';
  lineNumber = 1;
  lineStart = 0;
  /** A number before the error that jsonb's numeric_in might reject. */
  bigNumber = false;

  constructor(
    readonly b: Buffer,
    readonly jsonb: boolean,
  ) {}

  lex(): void {
    const b = this.b;
    let s = this.tokenTerminator;
    while (s < b.length && (b[s] === 0x20 || b[s] === 0x09 || b[s] === 0x0a || b[s] === 0x0d)) {
      if (b[s++] === 0x0a) {
        this.lineNumber++;
        this.lineStart = s;
      }
    }
    this.tokenStart = s;
    if (s >= b.length) {
      this.tokenStart = null;
      this.tokenTerminator = s;
      this.tokenType = 'end';
      return;
    }
    const c = b[s] as number;
    const single = '{}[],:'.indexOf(String.fromCharCode(c));
    if (single >= 0) {
      this.tokenTerminator = s + 1;
      this.tokenType = '{}[],:'[single] as Tok;
      return;
    }
    if (c === 0x22) {
      this.string(s);
      this.tokenType = 'string';
      return;
    }
    if (c === 0x2d || isDigit(c)) {
      this.number(c === 0x2d ? s + 1 : s);
      this.tokenType = 'number';
      return;
    }
    let p = s;
    while (p < b.length && isAlnum(b[p])) p++;
    if (p === s) {
      this.tokenTerminator = s + 1;
      throw new Failed('token');
    }
    this.tokenTerminator = p;
    const word = b.subarray(s, p).toString('latin1');
    if (word === 'true' || word === 'false' || word === 'null') this.tokenType = word;
    else throw new Failed('token');
  }

  string(start: number): void {
    const b = this.b;
    let s = start;
    const failAtStart = (kind: Kind): never => {
      this.tokenTerminator = s;
      throw new Failed(kind);
    };
    const failAtEnd = (kind: Kind): never => {
      this.tokenTerminator = s + mbLen(b[s]);
      throw new Failed(kind);
    };
    for (;;) {
      s++;
      if (s >= b.length) failAtStart('token');
      const c = b[s] as number;
      if (c === 0x22) break;
      if (c < 0x20) failAtStart('escaping-required');
      if (c !== 0x5c) continue;
      s++;
      if (s >= b.length) failAtStart('token');
      const e = b[s] as number;
      if (e === 0x75) {
        let ch = 0;
        for (let i = 1; i <= 4; i++) {
          s++;
          if (s >= b.length) failAtStart('token');
          const h = b[s];
          if (!isHex(h)) failAtEnd('unicode-format');
          ch = ch * 16 + Number.parseInt(String.fromCharCode(h as number), 16);
        }
        // jsonb converts it: zero and surrogates raise errors not reproduced here.
        if (this.jsonb && (ch === 0 || (ch >= 0xd800 && ch <= 0xdfff))) throw new Unsure();
      } else if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) {
        this.tokenStart = s;
        failAtEnd('escaping-invalid');
      }
    }
    this.tokenTerminator = s + 1;
  }

  number(from: number): void {
    const b = this.b;
    let s = from;
    let error = false;
    if (s < b.length && b[s] === 0x30) s++;
    else if (s < b.length && isDigit(b[s]) && b[s] !== 0x30) {
      do s++;
      while (s < b.length && isDigit(b[s]));
    } else error = true;
    if (s < b.length && b[s] === 0x2e) {
      s++;
      if (s >= b.length || !isDigit(b[s])) error = true;
      else {
        do s++;
        while (s < b.length && isDigit(b[s]));
      }
    }
    let exponent = false;
    if (s < b.length && (b[s] === 0x65 || b[s] === 0x45)) {
      exponent = true;
      s++;
      if (s < b.length && (b[s] === 0x2b || b[s] === 0x2d)) s++;
      if (s >= b.length || !isDigit(b[s])) error = true;
      else {
        do s++;
        while (s < b.length && isDigit(b[s]));
      }
    }
    for (; s < b.length && isAlnum(b[s]); s++) error = true;
    this.tokenTerminator = s;
    if (error) throw new Failed('token');
    if (exponent || s - from > 100) this.bigNumber = true;
  }
}

class Parser {
  constructor(readonly lex: Lexer) {}

  /** report_parse_error: the end of the input, else the context's complaint. */
  fail(kind: Kind): never {
    if (this.lex.tokenStart === null || this.lex.tokenType === 'end') throw new Failed('more');
    throw new Failed(kind);
  }

  expect(kind: Kind, tok: Tok): void {
    if (this.lex.tokenType !== tok) this.fail(kind);
    this.lex.lex();
  }

  scalar(): void {
    const t = this.lex.tokenType;
    if (t !== 'string' && t !== 'number' && t !== 'true' && t !== 'false' && t !== 'null') this.fail('value');
    this.lex.lex();
  }

  value(depth: number): void {
    if (this.lex.tokenType === '{') this.object(depth + 1);
    else if (this.lex.tokenType === '[') this.array(depth + 1);
    else this.scalar();
  }

  field(depth: number): void {
    if (this.lex.tokenType !== 'string') this.fail('string');
    this.lex.lex();
    this.expect('colon', ':');
    this.value(depth);
  }

  object(depth: number): void {
    if (depth > MAX_DEPTH) throw new Unsure();
    this.lex.lex();
    const t = this.lex.tokenType;
    if (t === 'string') {
      this.field(depth);
      while (this.lex.tokenType === ',') {
        this.lex.lex();
        this.field(depth);
      }
    } else if (t !== '}') this.fail('object-first');
    this.expect('object-next', '}');
  }

  array(depth: number): void {
    if (depth > MAX_DEPTH) throw new Unsure();
    this.lex.lex();
    if (this.lex.tokenType !== ']') {
      this.value(depth);
      while (this.lex.tokenType === ',') {
        this.lex.lex();
        this.value(depth);
      }
    }
    this.expect('array-next', ']');
  }

  parse(): void {
    this.lex.lex();
    this.value(0);
    this.expect('end', 'end');
  }
}

function detail(kind: Kind, lex: Lexer): string {
  const b = lex.b;
  const token = (): string => b.subarray(lex.tokenStart ?? 0, lex.tokenTerminator).toString('utf8');
  switch (kind) {
    case 'token':
      return `Token "${token()}" is invalid.`;
    case 'escaping-required':
      return `Character with value 0x${(b[lex.tokenTerminator] as number).toString(16).padStart(2, '0')} must be escaped.`;
    case 'escaping-invalid':
      return `Escape sequence "\\${token()}" is invalid.`;
    case 'unicode-format':
      return '"\\u" must be followed by four hexadecimal digits.';
    case 'more':
      return 'The input string ended unexpectedly.';
    case 'end':
      return `Expected end of input, but found "${token()}".`;
    case 'value':
      return `Expected JSON value, but found "${token()}".`;
    case 'string':
      return `Expected string, but found "${token()}".`;
    case 'array-next':
      return `Expected "," or "]", but found "${token()}".`;
    case 'object-first':
      return `Expected string or "}", but found "${token()}".`;
    case 'colon':
      return `Expected ":", but found "${token()}".`;
    case 'object-next':
      return `Expected "," or "}", but found "${token()}".`;
  }
}

/** report_json_context. */
function context(lex: Lexer): string {
  const b = lex.b;
  const end = lex.tokenTerminator;
  let start = lex.lineStart;
  while (end - start >= 50) start += mbLen(b[start]);
  if (start - lex.lineStart <= 3) start = lex.lineStart;
  const prefix = start > lex.lineStart ? '...' : '';
  const next = b[end];
  const suffix = lex.tokenType !== 'end' && end < b.length && next !== 0x0a && next !== 0x0d ? '...' : '';
  return `JSON data, line ${lex.lineNumber}: ${prefix}${b.subarray(start, end).toString('utf8')}${suffix}`;
}

/** The InputError json_in (jsonb: jsonb_in) raises for `text`, or undefined when it accepts it or this is not certain. */
export function jsonInputError(text: string, jsonb: boolean, what: string): InputError | undefined {
  const lex = new Lexer(Buffer.from(text, 'utf8'), jsonb);
  try {
    new Parser(lex).parse();
    return undefined;
  } catch (err) {
    if (!(err instanceof Failed)) return undefined;
    if (jsonb && lex.bigNumber) return undefined;
    return new InputError(`${what}: invalid input syntax`, {
      code: '22P02',
      message: 'invalid input syntax for type json',
      detail: detail(err.kind, lex),
      where: context(lex),
    });
  }
}
