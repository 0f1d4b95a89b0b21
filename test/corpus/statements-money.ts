/**
 * money under lc_monetary C (src/sql/money.ts, src/sql/compile/money.ts):
 * replicated values, cash_in's forms (signs, parentheses, separators,
 * rounding of the third fraction digit), arithmetic with Postgres's
 * rounding (rint for floats, truncation for integer division), casts,
 * comparisons and aggregates; markers as in statements.ts (`!` Postgres
 * rejects it). Overflow and division by zero are forwarded.
 */
export const MONEY_CORPUS: string[] = [
  `SELECT * FROM wallets ORDER BY id`,
  `SELECT id, m FROM wallets ORDER BY m NULLS FIRST, id`,
  `SELECT id FROM wallets WHERE m > '$1.00' OR n < '-2' ORDER BY id`,
  `SELECT id, m + n AS s, m - n AS d, m * 2 AS x2, 3::int8 * m AS x3, m / 3 AS q3, m / 7::int2 AS q7 FROM wallets ORDER BY id`,
  `SELECT id, m * 0.5::float8 AS h, m * 1.5::float4 AS f4, m / 3::float8 AS t, 2.5::float8 * n AS g FROM wallets ORDER BY id`,
  `SELECT id, m / n AS ratio FROM wallets WHERE n <> '0' ORDER BY id`,
  `SELECT id, m::numeric AS num, m::text AS t, n::varchar AS v FROM wallets ORDER BY id`,
  `SELECT sum(m) AS s, min(m) AS lo, max(n) AS hi, count(DISTINCT n) AS c FROM wallets`,
  `SELECT m, count(*) FROM wallets GROUP BY m ORDER BY m`,
  `SELECT '1234.5'::money AS a, '-1234.5'::money AS b, '(1)'::money AS c, '$1,234.50'::money AS d, '1.005'::money AS e, '1.004'::money AS f, '  $ - 1,2,3.456 - $ '::money AS g, '+7'::money AS h, '.5'::money AS i, '$-3'::money AS j`,
  `SELECT 12.345::money AS a, 5::money AS b, (-12345)::money AS c, 12345678901234567::money AS d, (-2.5)::numeric::money AS e, 0.001::money AS f`,
  `SELECT '878.08'::money / 11::bigint AS a, '-878.08'::money / 11 AS b, '878.08'::money / 11::float8 AS c, '1'::money * 0.125::float8 AS d, '$0.03'::money * 0.5::float8 AS e, '878.08'::money / 11::float4 AS f`,
  `SELECT cashlarger('$1.00'::money, '$2.00') AS l, cashsmaller('$1.00'::money, '-$2.00') AS s, cashlarger(m, '$1') AS c FROM wallets ORDER BY id`,
  `SELECT '$1'::money = '1.00' AS a, '$1'::money < '$1.01' AS b, '$2'::money / '$0.5'::money AS c`,
  `!SELECT '1x'::money`,
  `!SELECT 'abc'::money`,
  `!SELECT '$1.00 USD'::money`,
  `!SELECT '92233720368547758.08'::money`,
  `!SELECT '92233720368547758.07'::money + '0.01'::money`,
  `!SELECT '1'::money / 0`,
  `!SELECT '1'::money / 0::float8`,
  `!SELECT '1'::money / '0'::money`,
  `!SELECT '42'::money * 'nan'::float8`,
  `!SELECT avg(m) FROM wallets`,
  `!SELECT m * n FROM wallets`,
];
