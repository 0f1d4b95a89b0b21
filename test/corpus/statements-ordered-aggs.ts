/**
 * DISTINCT in string_agg/array_agg (compile/aggregates.ts distinctCheck):
 * the values sorted (by the ORDER BY, which must be the value, or
 * ascending with NULLs last) and kept once; ORDER BY keys other than the
 * value are Postgres's 42P10 (or not local). Markers as in statements.ts.
 */
export const ORDERED_AGGS_CORPUS: string[] = [
  `SELECT array_agg(DISTINCT a) AS x FROM (VALUES (1), (2), (1), (3), (NULL), (2)) v(a)`,
  `SELECT array_agg(DISTINCT a ORDER BY a) AS x, array_agg(DISTINCT a ORDER BY a DESC) AS y, array_agg(DISTINCT a ORDER BY a DESC NULLS LAST) AS z FROM (VALUES (1), (2), (1), (3), (NULL), (2)) v(a)`,
  `SELECT string_agg(DISTINCT name, ',' ORDER BY name) AS s, string_agg(DISTINCT name, '|') AS t FROM users`,
  `SELECT country, array_agg(DISTINCT age) AS ages, string_agg(DISTINCT email::text, ',' ORDER BY email::text) AS c FROM users GROUP BY country ORDER BY country`,
  `SELECT string_agg(DISTINCT 'a', ',') AS a, array_agg(DISTINCT id % 3 ORDER BY id % 3 DESC) AS m FROM idents`,
  `SELECT array_agg(DISTINCT x ORDER BY x) AS x FROM (VALUES (NULL::int), (NULL)) v(x)`,
  `SELECT string_agg(DISTINCT name::text, ',' ORDER BY name) AS s FROM users`,
  `!SELECT array_agg(DISTINCT id ORDER BY age) FROM users`,
  `SELECT string_agg(DISTINCT name, delim) AS s FROM users, (VALUES (','), (';')) d(delim)`,
];
