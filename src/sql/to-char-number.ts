/**
 * to_char(int4 | int8 | numeric, text): Postgres's number templates
 * (formatting.c: parse_format, NUMDesc_prepare, NUM_processor,
 * NUM_numpart_to_char) re-done on the decimal text of the value.
 *
 * Served locally only for templates whose output cannot depend on the
 * session: the patterns reading lc_numeric (D, G, L, S) are forwarded, as are
 * EEEE (numeric_out_sci) and V (its multiplication overflows differently per
 * major); a template Postgres rejects (42601) throws NotLocal so upstream
 * raises its own error. The processor mirrors the C code step by step,
 * including its quirks: a NUL written into the output buffer ends the result
 * there (SG of a Roman numeral, a digit position past the number's text).
 */
import { NotLocal } from '../errors.js';
import { numericRound } from './pgtypes.js';

export type Key =
  | ','
  | '.'
  | '0'
  | '9'
  | 'B'
  | 'C'
  | 'D'
  | 'E'
  | 'FM'
  | 'G'
  | 'L'
  | 'MI'
  | 'PL'
  | 'PR'
  | 'RN'
  | 'rn'
  | 'SG'
  | 'SP'
  | 'S'
  | 'TH'
  | 'th'
  | 'V';

/** NUM_keywords in table order: for one first letter, the longer spellings come first. */
const KEYWORDS: readonly (readonly [string, Key])[] = [
  [',', ','],
  ['.', '.'],
  ['0', '0'],
  ['9', '9'],
  ['B', 'B'],
  ['C', 'C'],
  ['D', 'D'],
  ['EEEE', 'E'],
  ['FM', 'FM'],
  ['G', 'G'],
  ['L', 'L'],
  ['MI', 'MI'],
  ['PL', 'PL'],
  ['PR', 'PR'],
  ['RN', 'RN'],
  ['SG', 'SG'],
  ['SP', 'SP'],
  ['S', 'S'],
  ['TH', 'TH'],
  ['V', 'V'],
  ['b', 'B'],
  ['c', 'C'],
  ['d', 'D'],
  ['eeee', 'E'],
  ['fm', 'FM'],
  ['g', 'G'],
  ['l', 'L'],
  ['mi', 'MI'],
  ['pl', 'PL'],
  ['pr', 'PR'],
  ['rn', 'rn'],
  ['sg', 'SG'],
  ['sp', 'SP'],
  ['s', 'S'],
  ['th', 'th'],
  ['v', 'V'],
];

export type Node = { key: Key } | { ch: string };

export const F_DECIMAL = 1 << 1;
export const F_LDECIMAL = 1 << 2;
export const F_ZERO = 1 << 3;
export const F_BLANK = 1 << 4;
export const F_FILLMODE = 1 << 5;
export const F_LSIGN = 1 << 6;
export const F_BRACKET = 1 << 7;
export const F_MINUS = 1 << 8;
export const F_PLUS = 1 << 9;
export const F_ROMAN = 1 << 10;
export const F_MULTI = 1 << 11;
export const F_EEEE = 1 << 14;

export const LSIGN_PRE = -1;
const LSIGN_POST = 1;

export interface NumDesc {
  pre: number;
  post: number;
  lsign: number;
  flag: number;
  preLsignNum: number;
  multi: number;
  zeroStart: number;
  zeroEnd: number;
  needLocale: boolean;
}

export interface NumTemplate {
  nodes: readonly Node[];
  desc: Readonly<NumDesc>;
}

// The same template errors (42601) for to_char and to_number: forwarded, so upstream words them.
const syntax = (why: string): never => {
  throw new NotLocal(`number template: ${why}`);
};

/** NUMDesc_prepare for one keyword. */
function prepare(num: NumDesc, key: Key): void {
  const has = (f: number): boolean => (num.flag & f) !== 0;
  if (has(F_EEEE) && key !== 'E') syntax('"EEEE" must be the last pattern used');
  switch (key) {
    case '9':
      if (has(F_BRACKET)) syntax('"9" must be ahead of "PR"');
      if (has(F_MULTI)) num.multi++;
      else if (has(F_DECIMAL)) num.post++;
      else num.pre++;
      break;
    case '0':
      if (has(F_BRACKET)) syntax('"0" must be ahead of "PR"');
      if (!has(F_ZERO) && !has(F_DECIMAL)) {
        num.flag |= F_ZERO;
        num.zeroStart = num.pre + 1;
      }
      if (!has(F_DECIMAL)) num.pre++;
      else num.post++;
      num.zeroEnd = num.pre + num.post;
      break;
    case 'B':
      if (num.pre === 0 && num.post === 0 && !has(F_ZERO)) num.flag |= F_BLANK;
      break;
    case 'D':
    case '.':
      if (key === 'D') {
        num.flag |= F_LDECIMAL;
        num.needLocale = true;
      }
      if (has(F_DECIMAL)) syntax('multiple decimal points');
      if (has(F_MULTI)) syntax('cannot use "V" and decimal point together');
      num.flag |= F_DECIMAL;
      break;
    case 'FM':
      num.flag |= F_FILLMODE;
      break;
    case 'S':
      if (has(F_LSIGN)) syntax('cannot use "S" twice');
      if (has(F_PLUS) || has(F_MINUS) || has(F_BRACKET))
        syntax('cannot use "S" and "PL"/"MI"/"SG"/"PR" together');
      if (!has(F_DECIMAL)) {
        num.lsign = LSIGN_PRE;
        num.preLsignNum = num.pre;
        num.needLocale = true;
        num.flag |= F_LSIGN;
      } else if (num.lsign === 0) {
        num.lsign = LSIGN_POST;
        num.needLocale = true;
        num.flag |= F_LSIGN;
      }
      break;
    case 'MI':
      if (has(F_LSIGN)) syntax('cannot use "S" and "MI" together');
      num.flag |= F_MINUS;
      break;
    case 'PL':
      if (has(F_LSIGN)) syntax('cannot use "S" and "PL" together');
      num.flag |= F_PLUS;
      break;
    case 'SG':
      if (has(F_LSIGN)) syntax('cannot use "S" and "SG" together');
      num.flag |= F_MINUS | F_PLUS;
      break;
    case 'PR':
      if (has(F_LSIGN) || has(F_PLUS) || has(F_MINUS))
        syntax('cannot use "PR" and "S"/"PL"/"MI"/"SG" together');
      num.flag |= F_BRACKET;
      break;
    case 'RN':
    case 'rn':
      num.flag |= F_ROMAN;
      break;
    case 'L':
    case 'G':
      num.needLocale = true;
      break;
    case 'V':
      if (has(F_DECIMAL)) syntax('cannot use "V" and decimal point together');
      num.flag |= F_MULTI;
      break;
    case 'E':
      if (has(F_EEEE)) syntax('cannot use "EEEE" twice');
      if (
        has(F_BLANK) ||
        has(F_FILLMODE) ||
        has(F_LSIGN) ||
        has(F_BRACKET) ||
        has(F_MINUS) ||
        has(F_PLUS) ||
        has(F_ROMAN) ||
        has(F_MULTI)
      )
        syntax('"EEEE" is incompatible with other formats');
      num.flag |= F_EEEE;
      break;
    case 'C':
    case 'SP':
    case 'TH':
    case 'th':
    case ',':
      break;
  }
}

function keywordAt(s: string, i: number): readonly [string, Key] | undefined {
  const c = s.charCodeAt(i);
  // KeyWord_INDEX_FILTER: nothing at or below ' ', nor from '~' on.
  if (c <= 0x20 || c >= 0x7e) return undefined;
  return KEYWORDS.find(([name]) => s.startsWith(name, i));
}

const charAt = (s: string, i: number): string => String.fromCodePoint(s.codePointAt(i) as number);

/** parse_format with NUM_FLAG. */
function parse(fmt: string): NumTemplate {
  const desc: NumDesc = {
    pre: 0,
    post: 0,
    lsign: 0,
    flag: 0,
    preLsignNum: 0,
    multi: 0,
    zeroStart: 0,
    zeroEnd: 0,
    needLocale: false,
  };
  const nodes: Node[] = [];
  let i = 0;
  while (i < fmt.length) {
    const kw = keywordAt(fmt, i);
    if (kw) {
      nodes.push({ key: kw[1] });
      i += kw[0].length;
      prepare(desc, kw[1]);
      continue;
    }
    if (fmt[i] === '"') {
      i++;
      while (i < fmt.length) {
        if (fmt[i] === '"') {
          i++;
          break;
        }
        // Backslash quotes the next character, if any.
        if (fmt[i] === '\\' && i + 1 < fmt.length) i++;
        const ch = charAt(fmt, i);
        nodes.push({ ch });
        i += ch.length;
      }
      continue;
    }
    // Outside quotes a backslash is special only before a double quote.
    if (fmt[i] === '\\' && fmt[i + 1] === '"') i++;
    const ch = charAt(fmt, i);
    nodes.push({ ch });
    i += ch.length;
  }
  return { nodes, desc };
}

const templates = new Map<string, NumTemplate>();

/** parse_format's template (cached), shared by to_char and to_number (src/sql/to-number.ts); NotLocal where Postgres rejects it. */
export function parsedTemplate(fmt: string): NumTemplate {
  let t = templates.get(fmt);
  if (t === undefined) {
    t = parse(fmt);
    if (templates.size >= 500) templates.clear();
    templates.set(fmt, t);
  }
  return t;
}

/** The parsed template for to_char, or NotLocal for templates not served locally. */
export function numTemplate(fmt: string): NumTemplate {
  const t = parsedTemplate(fmt);
  if (t.desc.needLocale) throw new NotLocal('to_char() template with locale patterns (D, G, L, S)');
  if (t.desc.flag & F_EEEE) throw new NotLocal('to_char() template with EEEE');
  if (t.desc.flag & F_MULTI) throw new NotLocal('to_char() template with V');
  if (t.desc.flag & F_ROMAN && t.nodes.some((n) => 'key' in n && n.key === 'SG'))
    throw new NotLocal('to_char() template with RN and SG');
  return t;
}

const RM1 = ['I', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX'];
const RM10 = ['X', 'XX', 'XXX', 'XL', 'L', 'LX', 'LXX', 'LXXX', 'XC'];
const RM100 = ['C', 'CC', 'CCC', 'CD', 'D', 'DC', 'DCC', 'DCCC', 'CM'];

/** int_to_roman: 1..3999, else 15 '#'. */
function intToRoman(n: number): string {
  if (n > 3999 || n < 1) return '#'.repeat(15);
  const digits = String(n);
  let out = '';
  for (let k = 0; k < digits.length; k++) {
    const d = Number(digits[k]) - 1;
    if (d < 0) continue;
    const col = digits.length - k;
    if (col === 4) out += 'M'.repeat(d + 1);
    else if (col === 3) out += RM100[d];
    else if (col === 2) out += RM10[d];
    else out += RM1[d];
  }
  return out;
}

/** get_th on the number's text. */
function th(num: string, upper: boolean): string {
  const last = num[num.length - 1] ?? '';
  if (!/[0-9]/.test(last)) throw new NotLocal('to_char() TH of a non-number');
  let suffix = 'th';
  if (!(num.length > 1 && num[num.length - 2] === '1')) {
    if (last === '1') suffix = 'st';
    else if (last === '2') suffix = 'nd';
    else if (last === '3') suffix = 'rd';
  }
  return upper ? suffix.toUpperCase() : suffix;
}

/** NUM_processor (to_char direction) over the prepared number text. */
function processor(t: NumTemplate, number: string, outPreSpaces0: number, sign0: string): string {
  const num: NumDesc = { ...t.desc };
  const has = (f: number): boolean => (num.flag & f) !== 0;
  if (num.zeroStart) num.zeroStart--;
  if (has(F_ROMAN)) {
    num.lsign = 0;
    num.preLsignNum = 0;
    num.post = 0;
    num.pre = 0;
    num.flag = (has(F_FILLMODE) ? F_FILLMODE : 0) | F_ROMAN;
  }
  const sign = sign0;
  let signWrote: boolean;
  if (has(F_PLUS) || has(F_MINUS)) signWrote = !(has(F_PLUS) && !has(F_MINUS));
  else {
    if (sign !== '-' && has(F_FILLMODE)) num.flag &= ~F_BRACKET;
    signWrote = sign === '+' && has(F_FILLMODE) && !has(F_LSIGN);
    if (num.lsign === LSIGN_PRE && num.pre === num.preLsignNum) num.lsign = LSIGN_POST;
  }
  let numCount = num.post + num.pre - 1;
  const outPreSpaces = outPreSpaces0;
  /** Index into number of the last relevant decimal digit (or its point); -1: none. */
  let lastRelevant = -1;
  if (has(F_FILLMODE) && has(F_DECIMAL)) {
    const dot = number.indexOf('.');
    if (dot >= 0) {
      lastRelevant = dot;
      for (let k = dot + 1; k < number.length; k++) if (number[k] !== '0') lastRelevant = k;
      if (num.zeroEnd > outPreSpaces) {
        const lastZero = Math.min(number.length - 1, num.zeroEnd - outPreSpaces);
        if (lastRelevant < lastZero) lastRelevant = lastZero;
      }
    }
  }
  if (!signWrote && outPreSpaces === 0) numCount++;

  let out = '';
  let numIn = false;
  let numCurr = 0;
  let p = 0;
  const relevantIsDot = (): boolean => lastRelevant >= 0 && number[lastRelevant] === '.';
  const predecSpace = (): boolean => !has(F_ZERO) && p === 0 && number[0] === '0' && num.post !== 0;

  const numpart = (key: Key): void => {
    if (has(F_ROMAN)) return;
    numIn = false;
    if (
      !signWrote &&
      (numCurr >= outPreSpaces || (has(F_ZERO) && num.zeroStart === numCurr)) &&
      (!predecSpace() || relevantIsDot())
    ) {
      if (has(F_LSIGN)) {
        if (num.lsign === LSIGN_PRE) {
          out += sign === '-' ? '-' : '+';
          signWrote = true;
        }
      } else if (has(F_BRACKET)) {
        out += sign === '+' ? ' ' : '<';
        signWrote = true;
      } else if (sign === '+') {
        if (!has(F_FILLMODE)) out += ' ';
        signWrote = true;
      } else if (sign === '-') {
        out += '-';
        signWrote = true;
      }
    }
    if (numCurr < outPreSpaces && (num.zeroStart > numCurr || !has(F_ZERO))) {
      if (!has(F_FILLMODE)) out += ' ';
    } else if (has(F_ZERO) && numCurr < outPreSpaces && num.zeroStart <= numCurr) {
      out += '0';
      numIn = true;
    } else {
      // '' stands for the C string's terminating NUL.
      const c = number[p] ?? '';
      if (c === '.') {
        if (!relevantIsDot() || has(F_FILLMODE)) out += '.';
      } else if (lastRelevant >= 0 && p > lastRelevant && key !== '0') {
        // a trailing zero dropped by FM
      } else if (predecSpace()) {
        if (!has(F_FILLMODE)) out += ' ';
        else if (relevantIsDot()) out += '0';
      } else {
        out += c === '' ? '\0' : c;
        numIn = true;
      }
      if (p < number.length) p++;
    }
    let end = numCount + (outPreSpaces ? 1 : 0) + (has(F_DECIMAL) ? 1 : 0);
    if (lastRelevant >= 0 && lastRelevant === p) end = numCurr;
    if (numCurr + 1 === end) {
      if (signWrote && has(F_BRACKET)) out += sign === '+' ? ' ' : '>';
      else if (has(F_LSIGN) && num.lsign === LSIGN_POST) out += sign === '-' ? '-' : '+';
    }
    numCurr++;
  };

  for (const n of t.nodes) {
    if ('ch' in n) {
      out += n.ch;
      continue;
    }
    switch (n.key) {
      case '9':
      case '0':
      case '.':
      case 'D':
        numpart(n.key);
        break;
      case ',':
        if (!numIn) {
          if (!has(F_FILLMODE)) out += ' ';
        } else out += ',';
        break;
      case 'G':
        if (!numIn) {
          if (!has(F_FILLMODE)) out += ' ';
        } else out += ',';
        break;
      case 'L':
        out += ' ';
        break;
      case 'RN':
      case 'rn': {
        const r = n.key === 'rn' ? number.slice(p).toLowerCase() : number.slice(p);
        out += has(F_FILLMODE) ? r : r.padStart(15, ' ');
        break;
      }
      case 'th':
      case 'TH':
        if (has(F_ROMAN) || number[0] === '#' || sign === '-' || has(F_DECIMAL)) break;
        out += th(number, n.key === 'TH');
        break;
      case 'MI':
        if (sign === '-') out += '-';
        else if (!has(F_FILLMODE)) out += ' ';
        break;
      case 'PL':
        if (sign === '+') out += '+';
        else if (!has(F_FILLMODE)) out += ' ';
        break;
      case 'SG':
        out += sign === '' ? '\0' : sign;
        break;
      default:
        break;
    }
  }
  const nul = out.indexOf('\0');
  return nul >= 0 ? out.slice(0, nul) : out;
}

/** The '#' overflow text: pre + post + 1 characters, '.' at position pre. */
function overflow(pre: number, post: number): string {
  const s = '#'.repeat(pre + post + 1).split('');
  s[pre] = '.';
  return s.join('');
}

/** int4_to_char / int8_to_char of an integer. */
export function intToChar(value: bigint, fmt: string): string {
  if (fmt === '') return '';
  const t = numTemplate(fmt);
  if (t.desc.flag & F_ROMAN) {
    // int8 beyond int4 fails (22003) before Postgres 18, which prints '#'s.
    if (value > 2147483647n || value < -2147483648n) throw new NotLocal('to_char(RN) beyond int4');
    return processor(t, intToRoman(Number(value)), 0, '');
  }
  const neg = value < 0n;
  const digits = (neg ? -value : value).toString();
  const { pre, post } = t.desc;
  let numstr = post ? `${digits}.${'0'.repeat(post)}` : digits;
  let outPreSpaces = 0;
  if (digits.length < pre) outPreSpaces = pre - digits.length;
  else if (digits.length > pre) numstr = overflow(pre, post);
  return processor(t, numstr, outPreSpaces, neg ? '-' : '+');
}

/** numeric_to_char of numeric_out text. */
export function numericToChar(value: string, fmt: string): string {
  if (fmt === '') return '';
  const t = numTemplate(fmt);
  if (t.desc.flag & F_ROMAN) {
    // numeric_int4: rounds, and fails beyond int4 (or for NaN/infinity) on some majors.
    if (!/^-?\d+(\.\d+)?$/.test(value)) throw new NotLocal('to_char(RN) of a non-finite numeric');
    const r = BigInt(numericRound(value, 0));
    if (r > 2147483647n || r < -2147483648n) throw new NotLocal('to_char(RN) beyond int4');
    return processor(t, intToRoman(Number(r)), 0, '');
  }
  const { pre, post } = t.desc;
  const rounded = numericRound(value, post);
  const neg = rounded.startsWith('-');
  let numstr = neg ? rounded.slice(1) : rounded;
  const dot = numstr.indexOf('.');
  const preLen = dot >= 0 ? dot : numstr.length;
  let outPreSpaces = 0;
  if (preLen < pre) outPreSpaces = pre - preLen;
  else if (preLen > pre) numstr = overflow(pre, post);
  return processor(t, numstr, outPreSpaces, neg ? '-' : '+');
}
