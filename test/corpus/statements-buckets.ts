/**
 * width_bucket(operand, low, high, count) over numeric and float8
 * (src/sql/width-bucket.ts): bounds in either order, operands outside them
 * and infinite; markers as in statements.ts (`!` Postgres rejects it).
 * Buckets the majors compute differently, the array form and numeric beside
 * float8 are forwarded and appear here to check that they are.
 */
export const BUCKETS_CORPUS: string[] = [
  `SELECT x, width_bucket(x::float8, 10, 100, 9) AS flt, width_bucket(x::numeric, 10, 100, 9) AS num FROM generate_series(0, 110, 10) x`,
  `SELECT x, width_bucket(x::float8, 100, 10, 9) AS flt, width_bucket(x::numeric, 100, 10, 9) AS num FROM generate_series(0, 110, 10) x`,
  `SELECT width_bucket('Infinity'::numeric, 1, 10, 10) AS a, width_bucket('-Infinity'::numeric, 1, 10, 10) AS b, width_bucket('Infinity'::float8, 1, 10, 10) AS c, width_bucket('-Infinity'::float8, 1, 10, 10) AS d`,
  `SELECT width_bucket(5.35, 0.024, 10.06, 5) AS a, width_bucket(-0.5, 5.0, -5.0, 3) AS b, width_bucket(5, 0, 10, 3) AS c, width_bucket('3.3'::float8, 0.0, 10.0, 7) AS d, width_bucket(NULL, 0, 1, 2) AS e`,
  `SELECT id, width_bucket(balance, 0, 1000, 4) AS b, width_bucket(age, 18, 80, 6) AS a, width_bucket(score, -1, 1, 8) AS s FROM users WHERE balance <> 'NaN' AND score <> 'NaN' ORDER BY id`,
  `SELECT id, width_bucket(total, 0, 500, 10::int2) AS t FROM orders WHERE total <> 'NaN' ORDER BY id LIMIT 30`,
  `!SELECT width_bucket(5.0, 3.0, 4.0, 0)`,
  `!SELECT width_bucket(3.5::float8, 3.0::float8, 3.0::float8, 888)`,
  `!SELECT width_bucket('NaN', 3.0, 4.0, 888)`,
  `!SELECT width_bucket(0::float8, '-inf', 4.0::float8, 888)`,
  `!SELECT width_bucket(0.0::numeric, 'Infinity'::numeric, 5, 10)`,
  `!SELECT width_bucket(1::float8, 0, 1, 2147483647)`,
  `!SELECT width_bucket(5, 0, 10, 3000000000)`,
  // Forwarded: a bucket within 10^-6 of its edge (the majors round differently), numeric beside float8, the array form.
  `SELECT width_bucket(0, -1e100::numeric, 1, 10) AS edge`,
  `SELECT id, width_bucket(score, 0, balance, 3) FROM users WHERE balance > 0 ORDER BY id`,
  `SELECT width_bucket(5, ARRAY[3, 4])`,
];
