/**
 * Errors Postgres raises before reading a row: a constant's input error
 * while analysing (an infinite interval before Postgres 17), and an
 * immutable operation over constants that fails while planning
 * (eval_const_expressions: integer overflow, division by zero, out-of-range
 * casts), so even over zero rows (src/router/plan-errors.ts). Local with
 * Postgres's exact error where every failing folded constant fails alike
 * and one of them is surely folded; the rest forwarded: errors that differ
 * (which one Postgres folds first is its order), constants CASE, COALESCE,
 * AND/OR, IN or a subquery may prune, a missing table or column (analysis
 * fails first), an input error beside a planning error (the input error
 * wins). `!` marks statements Postgres rejects; `!<17` those it rejects
 * before 17 only.
 */
export const PLAN_ERRORS_CORPUS: string[] = [
  // Planning errors of the outermost query.
  `!SELECT 1/0`,
  `!SELECT id, 1/0 FROM users WHERE id < 0`,
  `!SELECT id FROM users WHERE id = 2147483647 + 1`,
  `!SELECT id FROM users WHERE id < 0 AND id = 2147483647 + 1`,
  `!SELECT (-2147483648)::int4 * (-1)::int4`,
  `!SELECT (-2147483648)::int4 / (-1)::int2`,
  `!SELECT -('-9223372036854775808'::int8)`,
  `!SELECT '32767'::int2 + '1'::int2`,
  `!SELECT '9223372036854775800'::int8 * '100'::int4`,
  `!SELECT 100::int8 / 0`,
  `!SELECT 5 % 0`,
  `!SELECT gcd((-2147483648)::int4, 0)`,
  `!SELECT lcm(9223372036854775807::int8, 9223372036854775806::int8)`,
  `!SELECT abs((-32768)::int2)`,
  `!SELECT 2147483648::int4`,
  `!SELECT 40000::int2`,
  `!SELECT (-2147483648.5)::int4`,
  `!SELECT 32767.5::int2`,
  `!SELECT 'infinity'::numeric::int8`,
  `!SELECT '-infinity'::numeric::int2`,
  `!SELECT '9223372036854775807'::float4::int8`,
  `!SELECT '-32768.6'::float8::int2`,
  `!SELECT 'NaN'::float4::int8`,
  `!SELECT mod(7::int8, 0)`,
  `!SELECT 'NaN'::numeric::int8`,
  `!SELECT '1'::float8 / 0`,
  `!SELECT '1'::float4 / '0'::float4`,
  `!SELECT '0'::numeric % '0'`,
  `!SELECT 'inf'::numeric % 0`,
  `!SELECT div('-inf'::numeric, 0)`,
  `!SELECT div(1.5, 0)`,
  `!SELECT sum(2147483647 + 1) FROM users WHERE id < 0`,
  `!SELECT count(*) FROM users GROUP BY 1/0`,
  `!SELECT id FROM users ORDER BY 1/0, id`,
  `!SELECT id FROM users WHERE id < 0 ORDER BY id LIMIT 1/0`,
  `!SELECT (2147483647 + 1) IS NULL`,
  `!SELECT abs(2147483647 + 1)`,
  `!SELECT 0::int8 - '-9223372036854775808'::int8`,
  `!SELECT (-9223372036854775808)::int8 / (-1)::int8`,
  `!SELECT gcd((-9223372036854775808)::int8, 0::int8)`,
  `!SELECT make_interval(years := 'inf'::float8::int4)`,
  `!SELECT make_interval(months := 'NaN'::float8::int4, days := 2147483647 + 1)`,
  // The same error twice: whichever Postgres folds first, it is this one.
  `!SELECT 1/0, 2/0`,
  `!SELECT id FROM users WHERE id < 1/0 ORDER BY 2147483647 * 2`,
  // Different errors: which comes first is Postgres's folding order (forwarded).
  `!SELECT 1/0, 2147483647 + 1`,
  `!SELECT 2147483647 + 1, 1/0`,
  // A failing constant not reproduced exactly (float overflow) may come first: forwarded.
  `!SELECT 1e300::float8 * 1e300::float8, 1/0`,
  `!SELECT '1e300'::float8 * '1e300'::float8, 1/0`,
  // Constants Postgres may prune, or fold later (forwarded unless Postgres answers).
  `!SELECT CASE WHEN id > 100 THEN 1/0 ELSE 0 END FROM users`,
  `SELECT CASE WHEN 1 = 0 THEN 1/0 ELSE 1 END`,
  `SELECT COALESCE(1, 1/0)`,
  `SELECT false AND 1/0 = 1`,
  `!SELECT id FROM users WHERE id IN (1, 1/0)`,
  `!SELECT (SELECT 1/0)`,
  // EXISTS drops its subquery's select list (simplify_EXISTS_query): no error.
  `SELECT id FROM users WHERE EXISTS (SELECT 1/0) ORDER BY id`,
  `!WITH w AS (SELECT 1/0 AS x) SELECT x FROM w`,
  `!SELECT x FROM (SELECT 2147483647 + 1 AS x) s`,
  // Analysis fails first.
  `!SELECT 1/0, 'x'::int4`,
  `!SELECT 2147483647 + 1 FROM no_such_table`,
  `!SELECT 1/0, no_such_column FROM users`,
  // Runtime errors (per row) stay upstream's.
  `!SELECT id, 2147483647 + id FROM users`,
  `SELECT id, 2147483647 + id FROM users WHERE id < 0`,
  // No error: the folded constants succeed.
  `SELECT 2147483646 + 1, (-2147483648)::int4 % (-1)::int4, 'NaN'::numeric % 0`,
  // interval_in rejects the infinities before Postgres 17 (at the literal).
  `!<17 SELECT interval 'infinity'`,
  `!<17 SELECT '-infinity'::interval, 1`,
  `!<17 SELECT id FROM users WHERE interval 'infinity' IS NULL`,
  // cash_in's range (the magnitude beyond 2^63 as soon as it is read, before a syntax error).
  `!SELECT '9223372036854775807'::money`,
  `!SELECT '-92233720368547758.09'::money`,
  `!SELECT '92233720368547758.075'::money`,
  `!SELECT '999999999999999999999x'::money`,
  `SELECT '-92233720368547758.08'::money`,
  `!SELECT '92233720368547758.08'::money, 1/0`,
  // The input error is met while analysing, before planning folds 1/0.
  `!SELECT 1/0, interval '1 day x'`,
  // Before 17 the input error, from 17 the division by zero.
  `!SELECT 1/0, interval 'infinity'`,
];
