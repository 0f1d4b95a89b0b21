/**
 * The name type (src/sql/compile/names.ts): constants and casts cut at 63
 * bytes on a character boundary, comparisons under collation C (name's own)
 * against name, text, varchar and untyped literals, LIKE/ILIKE, sorting,
 * set operations and CASE typed name, name → text/varchar/char(n). Markers
 * as in statements.ts (`!` Postgres rejects it).
 */
export const NAMES_CORPUS: string[] = [
  `SELECT name 'name string' = name 'name string' AS t, name 'name string' = name 'name string ' AS f`,
  `SELECT 'abc'::name AS a, repeat('x', 70)::name AS b, repeat('é', 40)::name AS c, ''::name AS d, NULL::name AS e`,
  `SELECT '1234567890ABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890ABCDEFGHIJKLMNOPQR'::name AS n, 12345::name AS i, true::name AS b, 1.50::numeric::name AS m`,
  `SELECT CAST(name 'namefield' AS text) AS t, CAST(name 'namefield' AS char(10)) AS c, CAST(name 'namefield' AS varchar) AS v, CAST(repeat('é', 40)::name AS char(3)) AS c3`,
  `SELECT 'abc'::name LIKE '_b_' AS a, 'abc'::name NOT LIKE '_b_' AS b, 'ABC'::name ILIKE '_b_' AS c, 'ABC'::name NOT ILIKE '_b_' AS d`,
  `SELECT 'foo'::text IN (SELECT 'bar'::name UNION ALL SELECT 'bar'::name) AS a, '1'::text IN (SELECT '1'::name UNION ALL SELECT '1'::name) AS b`,
  `SELECT id, n FROM idents ORDER BY n, id`,
  `SELECT id, n FROM idents ORDER BY n DESC NULLS LAST, id`,
  `SELECT id, n FROM idents ORDER BY n USING <, id`,
  `SELECT id FROM idents WHERE n = 'alpha' ORDER BY id`,
  `SELECT id FROM idents WHERE n = repeat('x', 70) ORDER BY id`,
  `SELECT id FROM idents WHERE n = '${'x'.repeat(64)}' ORDER BY id`,
  `SELECT id FROM idents WHERE n < 'alpha' ORDER BY id`,
  `SELECT id FROM idents WHERE n >= 'Alpha' ORDER BY id`,
  `SELECT id FROM idents WHERE n <> 'zeta' ORDER BY id`,
  `SELECT id, n = t AS nt, n < t AS lt, t > n AS gt, n = v AS nv, n < v AS lv FROM idents ORDER BY id`,
  `SELECT id, n || '!' AS x, length(n) AS l, upper(n) AS u, lower(n) AS lo, n::text AS t FROM idents ORDER BY id`,
  `SELECT id, t::name AS tn, v::name AS vn, (t::name = n) AS eq FROM idents ORDER BY id`,
  `SELECT id FROM idents WHERE n LIKE 'a%' OR n ILIKE 'Z%' ORDER BY id`,
  `SELECT id FROM idents WHERE n IN ('alpha', 'zeta ', 'é') ORDER BY id`,
  `SELECT DISTINCT n FROM idents ORDER BY 1`,
  `SELECT n, count(*) AS c FROM idents GROUP BY n ORDER BY n`,
  `SELECT x FROM (SELECT n FROM idents UNION SELECT t FROM idents) s(x) ORDER BY x`,
  `SELECT x FROM (SELECT t FROM idents UNION ALL SELECT n FROM idents) s(x) ORDER BY x`,
  `SELECT x FROM (SELECT 'a'::name UNION ALL SELECT repeat('y', 80)::text) s(x) ORDER BY x`,
  `SELECT id, CASE WHEN id > 3 THEN n ELSE t END AS c, coalesce(n, t) AS co FROM idents ORDER BY id`,
  `SELECT id, n FROM idents WHERE n > t ORDER BY n`,
  `SELECT id, a, a[1] AS first, a[1] = 'alpha' AS is_alpha, array_ndims(a) AS nd, array_dims(a) AS d, array_length(a, 1) AS l FROM idents ORDER BY id`,
  `SELECT id FROM idents WHERE a = '{"alpha","beta"}'::_name ORDER BY id`,
  `SELECT id FROM idents WHERE a = '{alpha,beta}'::name[] OR a IS NULL ORDER BY id`,
  `SELECT '{"a b",NULL,${'y'.repeat(70)}}'::name[] AS a, ARRAY['x'::name, repeat('z', 64)::name] AS b`,
  `SELECT string_to_array('a.' || repeat('q', 66), '.')::name[] AS a, ARRAY[t, v]::name[] AS b FROM idents ORDER BY id`,
  `SELECT parse_ident(' first . "  second  " ."   third   ". "  ' || repeat('x',66) || '"')::name[] AS p`,
  `!SELECT '{a,b}'::_int4 AS bad`,
  // Forwarded: regular expressions, name against bpchar, IN lists mixing name and typed text.
  `SELECT id FROM idents WHERE n ~ '^a' ORDER BY id`,
  `SELECT 'a'::name = 'a '::char(3) AS b`,
  `SELECT repeat('x', 70)::name IN (repeat('x', 70)::text, 'a'::text) AS b`,
  `!SELECT 'a'::name::int4`,
  `!SELECT n + 1 FROM idents`,
];
