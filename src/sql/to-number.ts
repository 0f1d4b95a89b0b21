/**
 * to_number(text, text): Postgres's number templates read in the input
 * direction (formatting.c: NUM_processor with is_to_char false,
 * NUM_numpart_from_char, NUM_eat_non_data_chars, numeric_to_number), on the
 * template parser shared with to_char (src/sql/to-char-number.ts).
 *
 * The locale patterns (D, G, L, S) are read with the C locale's symbols
 * ('.', ',', ' ', '-', '+'), so they are served only where upstream's
 * lc_numeric and lc_monetary are C (the compiler checks). RN (an error
 * before Postgres 18) and EEEE (an error) forward, as does any input that
 * makes Postgres fail at run time (no digits, a field overflow): upstream
 * raises its own error.
 */
import { NotLocal } from '../errors.js';
import { formatNumeric } from './pgtypes.js';
import {
  F_BRACKET,
  F_DECIMAL,
  F_EEEE,
  F_FILLMODE,
  F_LSIGN,
  F_MINUS,
  F_MULTI,
  F_PLUS,
  F_ROMAN,
  LSIGN_PRE,
  type NumTemplate,
  parsedTemplate,
} from './to-char-number.js';

/** The template for to_number, or NotLocal when it is not served (`localeC`: upstream's lc_numeric and lc_monetary are C). */
export function toNumberTemplate(fmt: string, localeC: boolean): NumTemplate {
  const t = parsedTemplate(fmt);
  if (t.desc.flag & F_ROMAN) throw new NotLocal('to_number() template with RN');
  if (t.desc.flag & F_EEEE) throw new NotLocal('to_number() template with EEEE');
  if (t.desc.needLocale && !localeC)
    throw new NotLocal('to_number() template with locale patterns (D, G, L, S) under a non-C locale');
  return t;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** NUM_processor reading `input` (as code points): the sign and the digits read, and how many decimals. */
function read(t: NumTemplate, input: readonly string[]): { sign: string; digits: string; readPost: number } {
  const num = t.desc;
  const has = (f: number): boolean => (num.flag & f) !== 0;
  const len = input.length;
  let p = 0;
  let sign = ' ';
  let digits = '';
  let readPre = 0;
  let readPost = 0;
  let readDec = false;
  const over = (): boolean => p >= len;
  /** NUM_eat_non_data_chars: skip up to n characters, stopping at data. */
  const eat = (n: number): void => {
    for (let k = 0; k < n && !over(); k++) {
      if ('0123456789.,+-'.includes(input[p] as string)) break;
      p++;
    }
  };
  const numpart = (key: string): void => {
    let isread = false;
    if (over()) return;
    if (input[p] === ' ') p++;
    if (over()) return;
    // A sign before the first digit.
    if (sign === ' ' && (key === '0' || key === '9') && readPre + readPost === 0) {
      const c = input[p];
      if (has(F_LSIGN) && num.lsign === LSIGN_PRE) {
        if (c === '-' || c === '+') {
          p++;
          sign = c;
        }
      } else if (c === '-' || (has(F_BRACKET) && c === '<')) {
        sign = '-';
        p++;
      } else if (c === '+') {
        sign = '+';
        p++;
      }
    }
    if (over()) return;
    const c = input[p];
    if (isDigit(c)) {
      if (readDec && readPost === num.post) return;
      digits += c;
      if (readDec) readPost++;
      else readPre++;
      isread = true;
    } else if (has(F_DECIMAL) && !readDec && c === '.') {
      digits += '.';
      readDec = true;
      isread = true;
    }
    if (over()) return;
    // A sign behind the last digit read.
    if (sign === ' ' && readPre + readPost > 0) {
      if (has(F_LSIGN) && isread && p + 1 < len && !isDigit(input[p + 1])) {
        const next = input[p + 1];
        if (next === '-' || next === '+') {
          p++;
          sign = next;
        }
      } else if (!isread && !has(F_LSIGN) && (has(F_PLUS) || has(F_MINUS))) {
        if (c === '-' || c === '+') sign = c;
      }
    }
  };
  for (const n of t.nodes) {
    if (over()) break;
    if ('ch' in n) {
      // One input character skipped per literal template character, matching or not.
      p++;
      continue;
    }
    // Cases that end in `continue` do not take the loop's final step over one input character.
    switch (n.key) {
      case '9':
      case '0':
      case '.':
      case 'D':
        numpart(n.key);
        break;
      case ',':
        if (has(F_FILLMODE) || input[p] !== ',') continue;
        break;
      case 'G':
        // The C locale's thousands separator.
        if (has(F_FILLMODE) || input[p] !== ',') continue;
        break;
      case 'L':
        // The C locale's currency symbol is one blank: one character, if not data.
        eat(1);
        continue;
      case 'th':
      case 'TH':
        if (!has(F_DECIMAL)) eat(2);
        continue;
      case 'MI':
        if (input[p] === '-') sign = '-';
        else {
          eat(1);
          continue;
        }
        break;
      case 'PL':
        if (input[p] === '+') sign = '+';
        else {
          eat(1);
          continue;
        }
        break;
      case 'SG':
        if (input[p] === '-' || input[p] === '+') sign = input[p] as string;
        else {
          eat(1);
          continue;
        }
        break;
      default:
        continue;
    }
    p++;
  }
  // A trailing decimal point is dropped (then no decimals were read).
  if (digits.endsWith('.')) digits = digits.slice(0, -1);
  return { sign, digits, readPost };
}

/**
 * numeric_to_number of `value` under template `fmt` (validated by
 * toNumberTemplate): the numeric_out text, or null for an empty template.
 * `versionNum` decides V's scale (power(10, -n) has 16 decimals before
 * Postgres 16, 16 + n from 17; 16 itself is not modelled).
 */
export function toNumber(value: string, fmt: string, localeC: boolean, versionNum: number): string | null {
  if (fmt === '') return null;
  const t = toNumberTemplate(fmt, localeC);
  const { sign, digits, readPost } = read(t, [...value]);
  // numeric_in of the sign and digits: no digit at all is its syntax error.
  if (!/\d/.test(digits)) throw new NotLocal('to_number(): no digits read');
  const [whole = '', frac = ''] = digits.split('.');
  const intDigits = whole.replace(/^0+/, '');
  // numeric_in's typmod (precision pre + multi + decimals read, scale the decimals read): overflow fails.
  if (intDigits.length > t.desc.pre + t.desc.multi) throw new NotLocal('to_number(): numeric field overflow');
  let unscaled = BigInt(`${intDigits}${frac}` || '0');
  if (sign === '-') unscaled = -unscaled;
  let scale = readPost;
  if (t.desc.flag & F_MULTI) {
    // result * power(10, -multi), at the product's scale (the sum of both scales).
    const multi = t.desc.multi;
    if (versionNum >= 170000 && multi <= 20) {
      const pscale = 16 + multi;
      unscaled *= 10n ** BigInt(pscale - multi);
      scale += pscale;
    } else if (versionNum >= 150000 && versionNum < 160000) {
      // power(10, -multi) rounded to 16 decimals: 0 beyond 16.
      unscaled = multi <= 16 ? unscaled * 10n ** BigInt(16 - multi) : 0n;
      scale += 16;
    } else throw new NotLocal('to_number() with V on this Postgres version');
  }
  return formatNumeric(unscaled, scale);
}
