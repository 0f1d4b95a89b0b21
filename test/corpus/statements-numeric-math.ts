/**
 * numeric sqrt, exp, ln, log/log10, log(b, x) and power() / ^
 * (src/sql/numeric-math.ts), and float8 exp/ln/log10/cbrt of their special
 * arguments (src/sql/float-ops.ts): result scales (which differ between
 * Postgres 15 and 16+ for integer exponents), NaN and infinities, values
 * near 1, tiny and huge results, table columns (products.cost holds NaN,
 * ±Infinity, 0 and -0). Markers as in statements.ts (`!` Postgres rejects
 * it: logarithm of zero or a negative number, 2201F power errors, overflow;
 * those are forwarded).
 */
export const NUMERIC_MATH_CORPUS: string[] = [
  `SELECT sqrt(2::numeric) AS a, sqrt(0::numeric) AS b, sqrt(0.0000000001) AS c, sqrt(1e100) AS d, sqrt(6.25) AS e, sqrt(4.0000) AS f, sqrt(NULL::numeric) AS g`,
  `SELECT sqrt(1.000000000000003::numeric) AS a, sqrt(96627521408608.56340355805) AS b, sqrt(8015491789940783531003294973900306::numeric) AS c, sqrt(0.00000000000000000000000000001) AS d`,
  `SELECT sqrt('inf'::numeric) AS a, sqrt('nan'::numeric) AS b, sqrt(123456789.123456789123456789) AS c, sqrt(99.999999999999999999) AS d`,
  `!SELECT sqrt(-1::numeric)`,
  `!SELECT sqrt('-inf'::numeric)`,
  `SELECT exp(0.0) AS a, exp(1.0) AS b, exp(-1.0) AS c, exp(1.0::numeric(71,70)) AS d, exp(32.999) AS e, exp(-32.999) AS f, exp(123.456) AS g, exp(-123.456) AS h`,
  `SELECT exp('nan'::numeric) AS a, exp('inf'::numeric) AS b, exp('-inf'::numeric) AS c, exp(-5000::numeric) = 0 AS d, exp(0.000001) AS e, exp(2.302585092994045684) AS f`,
  `SELECT exp(1234.5678) AS a, exp(-1234.5678) AS b`,
  `!SELECT exp(6000::numeric)`,
  `SELECT ln(2::numeric) AS a, ln(10.0) AS b, ln(1.2345678e-28) AS c, ln(0.0456789) AS d, ln(0.99949452) AS e, ln(1.00049687395) AS f, ln(1::numeric) AS g`,
  `SELECT ln(1234.567890123456789) AS a, ln(5.80397490724e5) AS b, ln(9.342536355e34) AS c, ln(0.349873948359354029493948309745709580730482050975) AS d`,
  `SELECT ln('inf'::numeric) AS a, ln('nan'::numeric) AS b, ln(1.1) AS c, ln(0.9) AS d, ln(1.0000000000000000000001) AS e, ln(2.718281828459045) AS f`,
  `!SELECT ln(0::numeric)`,
  `!SELECT ln(-12.34)`,
  `!SELECT ln('-inf'::numeric)`,
  `SELECT log(100.0) AS a, log10(1000::numeric) AS b, log(1.234567e-89) AS c, log(3.4634998359873254962349856073435545) AS d, log(9.999999999999999999) AS e, log(10.00000000000000001) AS f`,
  `SELECT log(2.0, 8) AS a, log(2, 1024) AS b, log(10, 0.001) AS c, log(1.23e-89, 6.4689e45) AS d, log(0.99923, 4.58934e34) AS e, log(1.000016, 8.452010e18) AS f, log(3.1954752e47, 9.4792021e-73) AS g`,
  `SELECT log('inf'::numeric, 2) AS a, log(2, 'inf'::numeric) AS b, log('inf'::numeric, 'inf'::numeric) AS c, log('nan'::numeric, 2) AS d, log(4, 1) AS e, log('2', '8') AS f`,
  `!SELECT log(1.0, 12.34)`,
  `!SELECT log(0.0, 12.34)`,
  `!SELECT log(12.34, -56.78)`,
  `!SELECT log(-12.34)`,
  `SELECT 2.0 ^ 3 AS a, power(2::numeric, 10) AS b, 1.2 ^ 345 AS c, 0.12 ^ (-20) AS d, 3.789 ^ 21.0000000000000000 AS e, (-2.0) ^ 3 AS f, (-2.0) ^ -3 AS g, 1.5 ^ 2 AS h`,
  `SELECT n, 10.0 ^ n AS p FROM generate_series(-20, 20) n ORDER BY n`,
  `SELECT 32.1 ^ 9.8 AS a, 32.1 ^ (-9.8) AS b, 12.3 ^ 45.6 AS c, 12.3 ^ (-45.6) AS d, 0.5678 ^ (-85) AS e, 4.0 ^ 0.5 AS f, 2 ^ 0.5 AS g, 0.0 ^ 12.34 AS h`,
  `SELECT 0.0 ^ 0.0 AS a, (-12.34) ^ 0.0 AS b, 12.34 ^ 0.0 AS c, 1.000000000123 ^ (-2147483648) AS d, coalesce(nullif(0.9999999999 ^ 23300000000000, 0), 0) AS e, (-1.0) ^ 2147483646 AS f, (-1.0) ^ 2147483647 AS g`,
  `SELECT 'NaN'::numeric ^ 'NaN'::numeric AS a, 'NaN'::numeric ^ 0 AS b, 'NaN'::numeric ^ 1 AS c, 0 ^ 'NaN'::numeric AS d, 1 ^ 'NaN'::numeric AS e, power('inf'::numeric, -2) AS f, power('-inf'::numeric, 3) AS g, power('-inf'::numeric, 4) AS h`,
  `!SELECT power('-inf'::numeric, 4.5)`,
  `SELECT power(-1::numeric, 'inf') AS a, power(0.5, '-inf'::numeric) AS b, power(2::numeric, '-inf') AS c, power('-inf'::numeric, 2) AS d, power('-inf'::numeric, -3) AS e, power('inf'::numeric, 0) AS f, power(0::numeric, 'inf') AS g`,
  `SELECT power(1.5, int8 '3') AS a, power(int2 '3', 1.5) AS b, 2 ^ 3.0 AS c, 1.1 ^ '2' AS d, pow(2.5, 2) AS e`,
  `!SELECT power(0::numeric, -1)`,
  `!SELECT 0.0 ^ (-12.34)`,
  `!SELECT (-12.34) ^ 1.2`,
  `!SELECT power(-2::numeric, 3.3)`,
  `!SELECT 10.0 ^ 2147483647`,
  `!SELECT power('0'::numeric, '-inf')`,
  `SELECT id, cost, sqrt(abs(cost)) AS s, exp(cost) AS e FROM products WHERE cost IS NOT NULL AND id NOT IN (7) ORDER BY id`,
  `SELECT id, price, ln(price) AS l, log(price) AS g, log(2, price) AS b, price ^ 2 AS p2, price ^ 0.5 AS ph FROM products WHERE price > 0 ORDER BY id`,
  `SELECT id, cost, cost ^ 2 AS p FROM products WHERE cost <> 'NaN' AND abs(cost) < 1e6 ORDER BY id`,
  `!SELECT ln(cost) FROM products ORDER BY id`,
  `SELECT exp('inf'::float8) AS a, exp('-inf'::float8) AS b, exp('nan'::float8) AS c, exp(0::float8) AS d, ln(1::float8) AS e, log(1::float8) AS f, ln('inf'::float8) AS g, log10('nan'::float8) AS h`,
  `SELECT cbrt('inf'::float8) AS a, cbrt('-inf'::float8) AS b, cbrt(0::float8) AS c, ||/ float8 '-0' AS d, cbrt('nan'::float8) AS e`,
  `SELECT exp(1::float8) AS a, ln(2::float8) AS b, ||/ float8 '27' AS c, log(2) AS d`,
  `!SELECT ln(0::float8)`,
  `!SELECT log10(-1::float8)`,
  `!SELECT exp(1000::float8)`,
  // Many values per statement, both majors: scales chosen by weight, libm-based estimates and version.
  `SELECT n, sqrt(n * 1.37) AS s, sqrt(n * 0.0000731) AS t, ln(n * 0.173) AS l, exp(n * 0.25 - 5) AS e FROM generate_series(1, 40) n ORDER BY n`,
  `SELECT n, log(n * 2.5) AS g, log(n + 1.5, n * 3.25) AS b, log10(1 + n * 0.00001) AS c, ln(1 - n * 0.0001) AS d FROM generate_series(1, 40) n ORDER BY n`,
  `SELECT n, (n * 0.31) ^ (n % 7 - 3) AS p, (1 + n * 0.001) ^ (n * 37) AS q, (-1.5) ^ (n - 20) AS r, 2.0 ^ (n * -3) AS t FROM generate_series(1, 40) n ORDER BY n`,
  `SELECT n, (n * 0.7) ^ (n * 0.13) AS p, (n * 0.7) ^ (-n * 0.13) AS q, 0.9 ^ (n * 10.5) AS r, power(n * 11.1, 1.5) AS t FROM generate_series(1, 40) n ORDER BY n`,
  `SELECT n, exp(n * 17.3) AS e, exp(-n * 17.3) AS f, ln(n * 1e30) AS l, ln(n * 1e-30) AS m FROM generate_series(1, 40) n ORDER BY n`,
];
