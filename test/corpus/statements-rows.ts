/**
 * Row constructors (src/sql/compile/rows.ts): ROW(...) / (a, b) as values of
 * the select list, printed by record_out (quoting of empty strings, blanks,
 * quotes, backslashes, parentheses and commas; NULL as nothing), and row
 * comparisons. Markers as in statements.ts (`!` Postgres rejects it).
 * Records in subqueries, DISTINCT, ORDER BY and GROUP BY are forwarded and
 * appear here to check that they are.
 */
export const ROWS_CORPUS: string[] = [
  `SELECT ROW(1, 2)`,
  `SELECT (1, 'a b', NULL, '', 'x"y', 'back\\slash', '(p)', 'c,d', true, 1.50, '2.5'::float8) AS r`,
  `SELECT ROW(1, ' lead', 'trail ', E'tab\\there', E'nl\\nx', 'a''b', 'ü', E'\\x01')`,
  `SELECT ROW(id, ext_id, prefs) FROM users ORDER BY id`,
  `SELECT ROW(1, ROW(2, 'x y', ROW('"')), ROW()) AS nested, ROW(NULL), ROW(NULL, NULL)`,
  `SELECT ROW(id, name, email) FROM users ORDER BY id`,
  `SELECT ROW(id, balance, name, active, age, karma) AS r, (id, country), ROW(score, rating) AS f FROM users ORDER BY id`,
  `SELECT ROW(id, total, status, note, coupon, gift, prev_status) FROM orders ORDER BY id LIMIT 15`,
  `SELECT ROW(c.*) AS r FROM categories c ORDER BY id`,
  `SELECT ROW(v.a, v.b) FROM (VALUES (1, 'x'), (NULL, ''), (3, NULL)) v(a, b) ORDER BY v.a`,
  `SELECT ROW(1, '{"a": [1, "x y"]}'::jsonb, '{"b" : 1}'::json, 'NaN'::numeric, '-0'::float8, '1e300'::float8)`,
  `SELECT ROW(1,2) < ROW(1,3) AS t, ROW(1,2) < ROW(1,1) AS f, ROW(1,2) < ROW(1,NULL) AS n`,
  `SELECT ROW(1,2,3) < ROW(1,3,NULL) AS t, ROW(11,'ABC') < ROW(11,'DEF') AS a, ROW(11,'ABC') > ROW(11,'DEF') AS b, ROW(12,'ABC') > ROW(11,'DEF') AS c`,
  `SELECT ROW(1,2,3) < ROW(1,NULL,4) AS n, ROW(1,2,3) = ROW(1,NULL,4) AS f, ROW(1,2,3) <> ROW(1,NULL,4) AS t`,
  `SELECT ROW(1,2) <= ROW(1,2) AS a, ROW(1,2) >= ROW(1,3) AS b, (1,2) IS DISTINCT FROM (1,NULL) AS c, (1,NULL) IS NOT DISTINCT FROM (1,NULL) AS d`,
  `SELECT a, b, ROW(a, b) < ROW(b, a) AS lt, (a, b) = (b, a) AS eq, (a, b) <> (1, 1) AS ne FROM (VALUES (1, 2), (2, 1), (1, 1), (NULL, 1), (NULL, NULL)) v(a, b) ORDER BY 1, 2`,
  `SELECT ROW(1, 'a') = ROW(1, 'a'::varchar) AS x, ROW(1.0, 2) = ROW(1, 2.00) AS y`,
  `SELECT id, name FROM users WHERE (id, name) > (3, 'a') ORDER BY id`,
  `SELECT id FROM users WHERE (active, id) IS NOT DISTINCT FROM (true, 2) OR (age, karma) <= (30, 0) ORDER BY id`,
  `SELECT ROW(1,2) IN (ROW(3,4), ROW(1,2)) AS a, ROW(1,2) IN (ROW(3,4), ROW(1,2::int8)) AS b, ROW(1,NULL) IN (ROW(3,4), ROW(1,2)) AS n, ROW(1,2) NOT IN (ROW(3,4), ROW(1,NULL)) AS m`,
  `SELECT id FROM users WHERE (id, age) IN ((1, 30), (2, 25), (3, NULL)) OR (id, country) NOT IN ((4, 'US'), (5, 'DE')) ORDER BY id`,
  `SELECT CAST(ROW('Jim', 'Beam') AS text) AS a, (ROW('Jim', 'Beam'))::text, (1, 'a b', NULL)::text AS c`,
  `SELECT id, (id, name)::text AS t, length(ROW(name, email)::text) AS l FROM users WHERE ROW(id, name)::text LIKE '%a%' ORDER BY id`,
  `SELECT * FROM (SELECT ROW(1, 'a b')::text AS r) s`,
  `!SELECT ROW(1, 2) IN (ROW(3, 4), ROW(1))`,
  `!SELECT ROW(1, 2) = ROW(1)`,
  `!SELECT ROW(1, 'a') < ROW('b', 1)`,
  `!SELECT ROW('{"a":1}'::json) = ROW('{"a":1}'::json)`,
  // Forwarded: a record compared, sorted, grouped, deduplicated or read from a subquery.
  `SELECT DISTINCT ROW(1, 2)`,
  `SELECT ROW(id) FROM users ORDER BY 1`,
  `SELECT ROW(id) FROM users GROUP BY 1`,
  `SELECT ROW(1) UNION SELECT ROW(2)`,
  `SELECT * FROM (SELECT ROW(1, 2) AS r) s`,
  `SELECT ROW(created_at, birth) FROM users ORDER BY id`,
  `SELECT ROW(tags) FROM users ORDER BY id`,
];
