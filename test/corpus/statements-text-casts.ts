/**
 * Casts of text values (not constants) to bool, float4, float8 and numeric
 * (SqlFn.textIn: the types' input functions at run time). Inputs the input
 * functions reject are Postgres errors (22P02, 22003); forms read
 * differently by the majors (underscores and non-decimal from 16 on) are
 * forwarded. Markers as in statements.ts (`!` Postgres rejects it).
 */
export const TEXT_CASTS_CORPUS: string[] = [
  `SELECT x, x::float8 AS f8, x::float4 AS f4, x::numeric AS n FROM (VALUES ('1'), ('infinity'), ('-Infinity'), ('NaN'), ('2.50'), ('-0'), ('1e3'), ('.5'), (NULL)) v(x) ORDER BY 1`,
  `SELECT x, x::float8 AS f8, x::float4 AS f4 FROM (VALUES (' 2.5 '), ('inf'), ('-inf'), ('+inf'), ('3.4028235e38')) v(x) ORDER BY 1`,
  `SELECT x, x::float8 AS f8 FROM (VALUES ('1.7976931348623157e308'), ('4.9e-324'), ('-1e-300')) v(x) ORDER BY 1`,
  `SELECT x, x::numeric AS n FROM (VALUES ('0.000'), ('-0.0'), ('+12.340'), ('1e-5'), ('123456789012345678901234567890.5')) v(x) ORDER BY 1`,
  `SELECT x, x::bool AS b FROM (VALUES ('t'), ('TrUe'), ('yes'), ('off'), ('0'), ('1'), (' true '), ('FALSE'), ('n'), (NULL)) v(x) ORDER BY 1`,
  `SELECT 'TrUe'::text::boolean AS t, ' FALSE'::text::boolean AS f, '12.5'::text::numeric AS n, '1e2'::varchar::float8 AS d`,
  `SELECT id, name, (CASE WHEN id < 3 THEN id::text ELSE '0.5' END)::float8 AS f, (id::text || '.25')::numeric AS n, (id % 2 = 0)::text::bool AS b FROM users ORDER BY id`,
  `SELECT sum(x::numeric) AS s, count(*) FILTER (WHERE x::bool) AS c FROM (VALUES ('1'), ('0'), ('1')) v(x)`,
  `!SELECT ' tru e '::text::boolean`,
  `!SELECT ''::text::boolean`,
  `!SELECT x::float8 FROM (VALUES ('abc')) v(x)`,
  `!SELECT x::float8 FROM (VALUES ('1e400')) v(x)`,
  `!SELECT x::float4 FROM (VALUES ('1e40')) v(x)`,
  `!SELECT x::numeric FROM (VALUES ('1.2.3')) v(x)`,
  `!<16 SELECT x::numeric FROM (VALUES ('1_000')) v(x)`,
  `!SELECT x::float8 FROM (VALUES ('1_000')) v(x)`,
  // strtod reads hexadecimal: forwarded.
  `SELECT x::float8 FROM (VALUES ('0x10')) v(x)`,
  `!SELECT x::bool FROM (VALUES ('maybe')) v(x)`,
];
