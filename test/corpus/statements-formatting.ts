/**
 * to_char(number, template) (src/sql/to-char-number.ts): the number
 * templates served locally, over table columns and edge values; markers as
 * in statements.ts (`!` Postgres rejects it). Templates with D, G, L, S,
 * EEEE or V are forwarded and appear here only to check that they are.
 */
const NUMS = `(VALUES (0::numeric), (-0.5), (0.5), (1234.5678), (-98765.4321), (0.001), (99999999.99), (-1), (5e-7), ('NaN'), ('Infinity'), ('-Infinity')) AS v(n)`;
const INTS = `(VALUES (0::int8), (1), (-1), (11), (12), (13), (21), (112), (3999), (4000), (-4567890123456789), (9223372036854775807), (-9223372036854775808)) AS v(n)`;

const TEMPLATES = [
  '9999',
  '999.99',
  'FM999.99',
  '0000.00',
  'FM0000.00',
  '99999999999999999999.999',
  'MI9999.99',
  'FMMI9999.99',
  '9999.99MI',
  'PL9999.99',
  'FMPL9999',
  'SG9999.9',
  '9999SG',
  'FMSG9999.999',
  '9999PR',
  'FM9999.99PR',
  '9,999.99',
  'FM9,999,999.99',
  '9 9 9 . 9 9',
  '9.9',
  '.99',
  'FM.99',
  'FM9.',
  'FM9999.099',
  'FM0999.990',
  '9999th',
  'FM9999TH',
  '"n=" 9999 "end"',
  'f\\"oo 99',
  'B9999',
  'C999SP9',
  '',
];

export const FORMATTING_CORPUS: string[] = [
  ...TEMPLATES.filter((t) => !/th/i.test(t)).map(
    (t) => `SELECT n, to_char(n, '${t}') AS c FROM ${NUMS} ORDER BY 1`,
  ),
  `SELECT n, to_char(n, '9999th') AS a, to_char(n, 'FM9999TH') AS b FROM ${NUMS} WHERE n BETWEEN -1e9 AND 1e9 ORDER BY 1`,
  `!SELECT to_char('NaN'::numeric, '9999th')`,
  ...TEMPLATES.map((t) => `SELECT n, to_char(n, '${t}') AS c FROM ${INTS} ORDER BY 1`),
  `SELECT n, to_char(n, 'RN') AS r, to_char(n, 'FMrn') AS l, to_char(n, 'FMRNth') AS t FROM (VALUES (1), (4), (9), (14), (40), (90), (400), (1994), (3999), (4000), (0), (-5)) AS v(n) ORDER BY 1`,
  `SELECT to_char(n, 'RN') AS r FROM (VALUES (2.5::numeric), (3.49), (3999.4), (-0.4)) AS v(n) ORDER BY 1`,
  `SELECT id, to_char(karma, 'FM999,999MI') AS k, to_char(balance, '99999.9') AS b, to_char(age, '000') AS a FROM users ORDER BY id`,
  `SELECT id, to_char(total, 'FM9999999.00') AS t, to_char(id, 'FM0000000') AS i FROM orders ORDER BY id LIMIT 20`,
  `SELECT to_char(1234::int2, '99,999') AS a, to_char(-7, 'FM9PR') AS s, to_char(5, NULL) AS n`,
  `SELECT to_char(NULL::numeric, '999') AS n, to_char(12, '9999999999999999999999999999999999999999') AS wide`,
  `SELECT to_char(1234.5, '9G999D9') AS locale_forwarded`,
  `SELECT to_char(1234, '9.99EEEE') AS sci_forwarded, to_char(12, '99V9') AS v_forwarded`,
  `SELECT to_char(1.5::float8, '9.9') AS float_forwarded`,
  `!SELECT to_char(12, '99.9.9')`,
  `!SELECT to_char(12, '99PR9')`,
  `!SELECT to_char(12, 'MIS99')`,
  `!SELECT to_char(12, '9EEEE9')`,
  `!SELECT to_char(9223372036854775807::int8, 'RN')`,
];
