/**
 * to_number(text, template) (src/sql/to-number.ts): the input direction of
 * the number templates, over constants and columns; markers as in
 * statements.ts (`!` Postgres rejects it). The locale patterns (D, G, L, S)
 * read the C locale's symbols (the test servers' lc_numeric and lc_monetary);
 * V's scale differs between 15 and 17. RN (an error before 18), EEEE,
 * templates Postgres rejects and inputs it fails on are forwarded.
 */
export const TO_NUMBER_CORPUS: string[] = [
  `SELECT to_number('-34,338,492', '99G999G999') AS a, to_number('-34,338,492.654,878', '99G999G999D999G999') AS b`,
  `SELECT to_number('<564646.654564>', '999999.999999PR') AS a, to_number('0.00001-', '9.999999S') AS b`,
  `SELECT to_number('5.01-', 'FM9.999999S') AS a, to_number('5.01-', 'FM9.999999MI') AS b, to_number('5.01+', 'FM9.999999PL') AS c`,
  `SELECT to_number('5 4 4 4 4 8 . 7 8', '9 9 9 9 9 9 . 9 9') AS a, to_number('.01', 'FM9.99') AS b, to_number('.0', '99999999.99999999') AS c`,
  `SELECT to_number('0', '99.99') AS a, to_number('.-01', 'S99.99') AS b, to_number('.01-', '99.99S') AS c, to_number(' . 0 1-', ' 9 9 . 9 9 S') AS d`,
  `SELECT to_number('34,50','999,99') AS a, to_number('123,000','999G') AS b, to_number('123456','999G999') AS c`,
  `SELECT to_number('$1234.56','L9,999.99') AS a, to_number('$1234.56','L99,999.99') AS b, to_number('$1,234.56','L99,999.99') AS c`,
  `SELECT to_number('1234.56','L99,999.99') AS a, to_number('1,234.56','L99,999.99') AS b, to_number('42nd', '99th') AS c`,
  `SELECT to_number('123456', '99999V99') AS a, to_number('1', '9V9') AS b, to_number('-12', '99V999') AS c, to_number('12.5', '99V9') AS d`,
  `SELECT to_number('1234567', '9V999999999999999999') AS a, to_number('-0.00', '9.99') AS b, to_number('007', '999') AS c`,
  `SELECT to_number('12', '9') AS a, to_number('1 2', '9 9') AS b, to_number('+12', 'S99') AS c, to_number('12-', '99SG') AS d`,
  `SELECT to_number('1,234', 'FM9,999') AS a, to_number('1,234', 'FM9G999') AS b, to_number('x1y2', '"x"9"y"9') AS c`,
  `SELECT to_number('12.345', '99.9') AS a, to_number('0012.3400', '0000.0000') AS b, to_number('1.', '9.') AS c`,
  `SELECT to_number('€5', 'L9') AS b, to_number('12th', '99TH') AS c, to_number('1.5th', '9.9th') AS d`,
  // Literal template characters skip one input character each (b and c are patterns: B, C).
  `!SELECT to_number('abc12', 'abc99')`,
  `SELECT to_number('xyz12', 'xyz99') AS a, to_number('a12', 'a99') AS b`,
  `SELECT to_number(NULL, '99') AS a, to_number('12', NULL) AS b, to_number('12', '') AS c`,
  `SELECT to_number('1 234', '9 999') AS a, to_number('  12', '9999') AS b`,
  `!SELECT to_number('-', '9-9')`,
  `SELECT n, to_number(n::text, '999999') AS x FROM generate_series(-3, 3) n ORDER BY n`,
  `SELECT id, to_number(id::text || '.5', '9999.9') AS x FROM users ORDER BY id LIMIT 10`,
  `!SELECT to_number(name, '9999') IS NULL AS n FROM categories ORDER BY 1 LIMIT 1`,
  `SELECT pg_typeof(to_number('1', '9')) AS t, to_number('12'::varchar, '99'::varchar) AS v`,
  // Forwarded: Postgres fails on these (no digits, a field overflow, RN before 18, EEEE, a bad template).
  `!SELECT to_number('', '999')`,
  `!SELECT to_number('-', '999')`,
  `!SELECT to_number('123', '9.9')`,
  `!<18 SELECT to_number('CM', 'RN')`,
  `!SELECT to_number('1e5', '9EEEE')`,
  `!SELECT to_number('12', '9.9.9')`,
  `!SELECT to_number('12', '99PRS')`,
  `SELECT to_number('12'::char(4), '9999') AS c`,
  `SELECT to_number(name, '9999') FROM categories WHERE false`,
];
