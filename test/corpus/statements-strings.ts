/**
 * format() and split_part() (src/sql/string-functions.ts): conversions,
 * positions, widths and flags over constants and table columns; markers as
 * in statements.ts (`!` Postgres rejects it). VARIADIC arrays and arguments
 * whose output depends on the session (timestamptz) are forwarded and
 * appear here to check that they are.
 */
export const STRINGS_CORPUS: string[] = [
  `SELECT format(NULL) AS n, format('Hello') AS h, format('Hello %s', 'World') AS w, format('%% and %%%%') AS p`,
  `SELECT format('INSERT INTO %I VALUES(%L,%L)', 'mytab', 10, 'Hello') AS i, format('%s%s%s', 'Hello', NULL, 'World') AS n`,
  `SELECT format('%I.%I', 'public', 'My Table') AS a, format('%I', 'a"b') AS b, format('%I', 'abort') AS c, format('%I', '_x1') AS d, format('%I', 'Épicerie') AS e`,
  `SELECT format('%L', E'a\\\\b''c') AS a, format('%L', 'plain') AS b, format('%L', NULL) AS c, format('%L', 12.50) AS d`,
  `SELECT format('%1$s %3$s', 1, 2, 3) AS a, format('Hello %s %1$s %s', 'World', 'Hello again') AS b, format('%3$s %1$s %s', 'x', 'y', 'z') AS c`,
  `SELECT format('>>%10s<<', 'Hello') AS a, format('>>%-10s<<', NULL) AS b, format('>>%1$-10I<<', 'Hello') AS c, format('>>%2$*1$L<<', -10, NULL) AS d`,
  `SELECT format('%*s|%-*s|%*s', 5, 'a', 4, 'b', -3, 'c') AS a, format('>>%*1$s<<', 10, 'Hello') AS b, format('>>%2$*1$L<<', NULL, 'Hello') AS c, format('%3s|', 'héllo') AS d`,
  `SELECT format('%s %s %s %s %s %s', true, 1.50, '2.5'::float8, '{"a": 1}'::jsonb, 9223372036854775807, 'NaN'::numeric) AS a`,
  `SELECT id, format('%s|%-8s|%8s|%L|%I', id, name, email, balance, coalesce(name, 'x')) AS f FROM users ORDER BY id`,
  `SELECT id, format('%s: %s (%s)', status, total, gift) AS f FROM orders ORDER BY id LIMIT 20`,
  `SELECT format(name || ' %s', id) AS f FROM categories ORDER BY id`,
  `!SELECT format('Hello %s %s', 'World')`,
  `!SELECT format('Hello %x', 20)`,
  `!SELECT format('INSERT INTO %I VALUES(%L,%L)', NULL, 10, 'Hello')`,
  `!SELECT format('%0$s', 'Hello')`,
  `!SELECT format('%*0$s', 'Hello')`,
  `!SELECT format('%1$', 1)`,
  `!SELECT format('%1$1', 1)`,
  `!SELECT format('%*2$s|', 'ab', 6)`,
  `!SELECT format('%99999999999s', 'a')`,
  `!SELECT format('%I', name) FROM users`,
  // Forwarded: keywords as identifiers (their lists differ between majors), VARIADIC, timestamptz.
  `SELECT format('%I', 'select') AS k`,
  `SELECT format('%s, %s', VARIADIC ARRAY['Hello', 'World']) AS v`,
  `SELECT format('%s', created_at) FROM users ORDER BY id`,
  `SELECT split_part('', '@', 1) AS a, split_part('', '@', -1) AS b, split_part('joeuser@mydatabase', '', 1) AS c, split_part('joeuser@mydatabase', '', -2) AS d`,
  `SELECT split_part('joeuser@mydatabase', '@@', 2) AS a, split_part('@joeuser@mydatabase@', '@', 2) AS b, split_part('joeuser@mydatabase', '@', -3) AS c, split_part('@joeuser@mydatabase@', '@', -2) AS d`,
  `SELECT id, split_part(email, '@', 2) AS d, split_part(email, '.', -1) AS tld, split_part(name, ' ', 1) AS first FROM users ORDER BY id`,
  `SELECT split_part(country, 'x', 1) AS c, split_part(coupon, '-', 2::int2) AS p FROM users, orders WHERE orders.user_id = users.id ORDER BY orders.id`,
  `!SELECT split_part('joeuser@mydatabase', '@', 0)`,
  `!SELECT split_part('a', 'b', 3000000000)`,
];
