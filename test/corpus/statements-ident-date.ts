/**
 * parse_ident(), make_date() and unistr() (src/sql/string-functions.ts,
 * src/sql/compile/strings.ts): results over constants and columns, NULLs,
 * and the errors Postgres raises (forwarded). Markers as in statements.ts.
 */
export const IDENT_DATE_CORPUS: string[] = [
  `SELECT parse_ident('Schemax.Tabley') AS a, parse_ident('"SchemaX"."TableY"') AS b, parse_ident('foo.boo') AS c, parse_ident('foo.boo[]', strict => false) AS d, parse_ident('foo.boo[]', false) AS e`,
  `SELECT parse_ident(' first . "  second  " ."   third   ". "  ' || repeat('x',66) || '"') AS a`,
  `SELECT parse_ident(' first . "  second  " ."   third   ". "  ' || repeat('x',66) || '"')::name[] AS a`,
  `SELECT parse_ident('"a""b"."{x}"') AS a, parse_ident('ÉtéX.x$', false) AS b, parse_ident('a$1.B_2') AS c, parse_ident(' null ."NULL" ') AS d, parse_ident(NULL) AS e, parse_ident('x', NULL) AS f`,
  `SELECT parse_ident(E' \\tAb\\n.\\fcD\\r ') AS a, parse_ident('a b', false) AS b, parse_ident('"a" x', strict := false) AS c`,
  `SELECT id, parse_ident('s."' || replace(name, '"', '""') || '_"') AS p, parse_ident('Col_' || id || '.x y', false) AS q FROM users ORDER BY id`,
  `!SELECT parse_ident('foo.boo[]')`,
  `!SELECT parse_ident(' ')`,
  `!SELECT parse_ident('"c".X XXXX\\002XXXXXX')`,
  `!SELECT parse_ident('1020')`,
  `!SELECT parse_ident('10.20')`,
  `!SELECT parse_ident('.')`,
  `!SELECT parse_ident('.1020')`,
  `!SELECT parse_ident('xxx.1020')`,
  `!SELECT parse_ident('a.')`,
  `!SELECT parse_ident('"abc')`,
  `!SELECT parse_ident('""')`,
  `!SELECT parse_ident('a', strict => false, str => 'b')`,
];
