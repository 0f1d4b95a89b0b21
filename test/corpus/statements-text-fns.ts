/**
 * Text functions counted in characters (src/sql/text-functions.ts):
 * substring/substr, overlay, strpos/position, lpad/rpad, reverse, chr,
 * to_hex/to_oct/to_bin, concat/concat_ws; over constants and the users and
 * products columns (accents, NULLs, bpchar). Markers as in statements.ts
 * (`!` Postgres rejects it; `!<17` before 17 only: to_oct/to_bin are 17's).
 */
export const TEXT_FNS_CORPUS: string[] = [
  `SELECT SUBSTRING('1234567890' FROM 3) AS a, SUBSTRING('1234567890' FROM 4 FOR 3) AS b, SUBSTRING('1234567890' FOR 3) AS c, substring('string', 2, 2147483646) AS d, substring('string', -10, 2147483646) AS e`,
  `SELECT substr('Thé vert', 3) AS a, substr('Thé vert', 3, 2) AS b, substr('abc', 0, 2) AS c, substr('abc', -5, 3) AS d, substr('abc', 5) AS e, substr('abc', 2, NULL) AS f, substr(NULL, 1) AS g`,
  `SELECT id, name, substring(name FROM 2 FOR 3) AS s, substr(name, 3) AS t, substr(sku, 2, 3) AS u FROM products ORDER BY id`,
  `SELECT id, substr(email, 1, position('@' IN email) - 1) AS local_part FROM users ORDER BY id`,
  `!SELECT substring('string' FROM -10 FOR -2147483646)`,
  `!SELECT substr(name, 1, -1) FROM products`,
  `SELECT OVERLAY('abcdef' PLACING '45' FROM 4) AS a, OVERLAY('yabadoo' PLACING 'daba' FROM 5 FOR 0) AS b, OVERLAY('babosa' PLACING 'ubb' FROM 2 FOR 4) AS c, overlay('Thé' PLACING 'é' FROM 1 FOR 1) AS d, overlay('abc' PLACING 'x' FROM 9) AS e`,
  `SELECT id, overlay(name PLACING '**' FROM 2 FOR 2) AS o FROM products ORDER BY id`,
  `!SELECT overlay('abc' PLACING 'x' FROM 0)`,
  `SELECT strpos('abcdef', 'cd') AS a, strpos('abcdef', 'xy') AS b, strpos('abcdef', '') AS c, strpos('', 'xy') AS d, strpos('', '') AS e, strpos('Thé vert', 'vert') AS f, position('é' IN 'Café') AS g`,
  `SELECT id, name, strpos(name, 'a') AS a, position('e' IN name) AS e FROM products ORDER BY id`,
  `SELECT id FROM products WHERE strpos(lower(name), 'phone') > 0 ORDER BY id`,
  `SELECT lpad('hi', 5, 'xy') AS a, lpad('hi', 5) AS b, lpad('hi', -5, 'xy') AS c, lpad('hello', 2) AS d, lpad('hi', 5, '') AS e, lpad('é', 3, 'àb') AS f`,
  `SELECT rpad('hi', 5, 'xy') AS a, rpad('hi', 5) AS b, rpad('hi', -5, 'xy') AS c, rpad('hello', 2) AS d, rpad('hi', 5, '') AS e, rpad(NULL, 3) AS f, rpad('x', NULL) AS g`,
  `SELECT id, lpad(id::text, 4, '0') AS code, rpad(coalesce(name, '?'), 8, '.') AS padded FROM users ORDER BY id`,
  `SELECT reverse('abcde') AS a, reverse('') AS b, reverse('Thé vert') AS c, reverse(NULL::text) AS d`,
  `SELECT id, reverse(name) AS r FROM products ORDER BY id`,
  `!<18 SELECT reverse('\\xabcd'::bytea)`,
  `SELECT chr(65) AS a, chr(97) AS b, chr(126) AS c, 'a' || chr(10) || 'b' AS d, chr(NULL) AS e`,
  `!SELECT chr(0)`,
  `SELECT to_hex(-1234) AS a, to_hex(-1234::bigint) AS b, to_hex(256*256*256 - 1) AS c, to_hex(256::bigint*256::bigint*256::bigint*256::bigint - 1) AS d, to_hex(0) AS f`,
  `!SELECT to_hex(int2 '-1')`,
  `SELECT id, stock, to_hex(stock) AS h, to_hex(views) AS v FROM products ORDER BY id`,
  `!<17 SELECT to_bin(-1234) AS a, to_bin(-1234::bigint) AS b, to_oct(-1234) AS c, to_oct(-1234::bigint) AS d, to_oct(8) AS e, to_bin(0) AS f`,
  `!SELECT to_hex('12')`,
  `SELECT concat('one') AS a, concat(1, NULL, 'x', 2.50, true) AS b, concat_ws('#', 'one') AS c, concat_ws(',', 10, 20, NULL, 30) AS d, concat_ws('', 10, 20, NULL, 30) AS e, concat_ws(NULL, 10, 20) IS NULL AS f`,
  `SELECT id, concat(name, ' <', email, '>') AS who, concat_ws(' / ', name, age, country) AS parts FROM users ORDER BY id`,
  `SELECT concat(variadic array[1,2,3]) AS a`,
  // Casts to char(n) are explicit: literals and values alike are cut or padded to n characters.
  `SELECT CAST('ab' AS char(5)) AS a, 'abc  '::char(3) AS b, char(20) 'characters' || ' and text' AS c, text 'text' || char(20) ' and characters' AS d, char 'c' = char 'c' AS e, NULL::char(2) AS f`,
  `SELECT id, CAST(name AS char(4)) AS n4, CAST(email AS char(30)) AS e30, country::char(4) AS c4, country::char(1) AS c1 FROM users ORDER BY id`,
  `SELECT id, CAST(name AS char(3)) = 'Wat' AS w, length(CAST(name AS char(12))) AS l, octet_length(name::char(2)) AS o FROM products ORDER BY id`,
  `SELECT CAST(name AS char(3)) AS k, count(*) FROM products GROUP BY 1 ORDER BY 1`,
  `SELECT 'Thé'::char(5) AS a, CAST('é'::varchar AS char(3)) AS c, CAST(name AS char(3)) || '|' AS d FROM products ORDER BY id`,
  `SELECT 'abcd'::char(3) AS a, char(2) 'xyz' AS b, CAST('Thé vert' AS char(4)) AS c`,
  `SELECT SUBSTRING('abcdefg' FROM 'a#"(b_d)#"%' FOR '#') AS a, substring('foobar' FROM 'o+') AS b`,
];
