/**
 * Rows against subqueries and row null tests (src/sql/compile/rows.ts
 * `rowSubLink`, `rowNullTest`): `(a, b) IN (SELECT ...)`, `= ANY`, `NOT IN`,
 * `<> ALL` with NULLs on either side and empty subqueries; `ROW(a, b) op
 * (SELECT x, y)` with zero, one and several rows; `ROW(...) IS [NOT] NULL`.
 * Markers as in statements.ts (`!` Postgres rejects it).
 */
export const ROW_SUBLINKS_CORPUS: string[] = [
  `SELECT id, age FROM users WHERE (id, age) IN (SELECT id, age FROM users WHERE id < 5 OR age > 40) ORDER BY id`,
  `SELECT id FROM users WHERE (id, country) NOT IN (SELECT id, country FROM users WHERE country = 'US') ORDER BY id`,
  `SELECT a, b, (a, b) IN (SELECT x, y FROM (VALUES (1, 2), (NULL, 3), (4, NULL)) s(x, y)) AS i, (a, b) NOT IN (SELECT x, y FROM (VALUES (1, 2), (NULL, 3), (4, NULL)) s(x, y)) AS n FROM (VALUES (1, 2), (1, 3), (NULL, 3), (4, 5), (4, NULL), (7, 8), (NULL, NULL)) v(a, b) ORDER BY 1, 2`,
  `SELECT a, (a, 1) = ANY (SELECT x, 1 FROM (VALUES (1), (NULL)) s(x)) AS y, (a, 1) <> ALL (SELECT x, 1 FROM (VALUES (1), (NULL)) s(x)) AS z FROM (VALUES (1), (2), (NULL)) v(a) ORDER BY 1`,
  `SELECT (1, 2) IN (SELECT 1, 2 WHERE false) AS a, (1, 2) NOT IN (SELECT 1, 2 WHERE false) AS b, (NULL::int, 2) IN (SELECT 1, 2 WHERE false) AS c`,
  `SELECT u.id FROM users u WHERE (u.id, true) IN (SELECT o.user_id, o.gift FROM orders o WHERE o.user_id = u.id) ORDER BY 1`,
  `SELECT (1, 'a') IN (SELECT 1::int8, 'a'::varchar) AS a, (1.0, 2) IN (SELECT 1, 2.00) AS b, ('x', 1) IN (SELECT 'x', 1) AS c`,
  `SELECT ROW(1, 2) = (SELECT 1, 2) AS a, ROW(1, 2) = (SELECT 1, 3) AS b, ROW(1, 2) < (SELECT 1, 3) AS c, ROW(1, 2) <> (SELECT 1, NULL::int) AS d, ROW(1, 2) >= (SELECT 2, 0) AS e`,
  `SELECT ROW(1, 2) = (SELECT 1, 2 WHERE false) AS a, ROW(1, 2) < (SELECT 3, 4 WHERE false) AS b`,
  `SELECT id, ROW(id, age) = (SELECT u2.id, u2.age FROM users u2 WHERE u2.id = u.id) AS same FROM users u ORDER BY id`,
  `SELECT ROW(NULL, NULL) IS NULL AS a, ROW(1, NULL) IS NULL AS b, ROW(1, NULL) IS NOT NULL AS c, ROW(1, 2) IS NOT NULL AS d, ROW() IS NULL AS e, ROW() IS NOT NULL AS f, (NULL, NULL) IS NOT NULL AS g`,
  `SELECT id, (name, age) IS NULL AS n, (name, age) IS NOT NULL AS nn FROM users ORDER BY id`,
  `SELECT id FROM users WHERE (name, age, karma) IS NOT NULL ORDER BY id`,
  `SELECT c.id, ROW(c.*) IS NULL AS n FROM categories c ORDER BY id`,
  `SELECT (ROW(1, 2.0)).f1 AS a, (ROW(1, 2.0)).f2, (ROW('x'::text, NULL::int, true)).f3 AS c, (ROW(id, name)).f2 FROM users ORDER BY id LIMIT 5`,
  `!SELECT (ROW(1, 2.0)).nosuch`,
  `!SELECT (ROW(1, 2)).f3`,
  `SELECT (ROW(1, 2.0)).*`,
  `!SELECT (ROW('a', 2)).f1 AS a`,
  // Forwarded or rejected: column count mismatches, more than one row, nested rows.
  `!SELECT (1, 2) IN (SELECT 1)`,
  `!SELECT (1, 2) IN (SELECT 1, 2, 3)`,
  `!SELECT ROW(1, 2) = (SELECT id, age FROM users)`,
  `SELECT ROW(1, ROW(NULL)) IS NULL AS a`,
  `SELECT ROW(ROW(1)) = ANY (SELECT ROW(1))`,
];
