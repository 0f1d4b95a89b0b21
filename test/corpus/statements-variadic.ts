/**
 * VARIADIC calls of concat, concat_ws and format (compile/variadic.ts): the
 * array's elements are the arguments, a NULL array makes concat/concat_ws
 * NULL and gives format() none; over constants and the users.tags /
 * products.sizes columns. Markers as in statements.ts (`!` Postgres rejects it).
 */
export const VARIADIC_CORPUS: string[] = [
  `SELECT concat_ws(',', variadic array[1,2,3]) AS a, concat(variadic NULL::int[]) IS NULL AS b, concat(variadic '{}'::int[]) = '' AS c, concat_ws(',', variadic NULL::int[]) AS d`,
  `SELECT concat_ws(NULL, variadic array['a']) AS a, concat_ws('-', variadic array['a', NULL, 'b']) AS b, concat(variadic array[true, false]) AS c, concat(variadic array[1.50, 2]) AS d`,
  `SELECT format('%s, %s', variadic array['Hello','World']) AS a, format('%s, %s', variadic array[1, 2]) AS b, format('%s, %s', variadic array[true, false]) AS c, format('%s, %s', variadic array[true, false]::text[]) AS d`,
  `SELECT format('%2$s, %1$s', variadic array['first', 'second']) AS a, format('Hello', variadic NULL::int[]) AS b, format('%*s|', variadic array[5, 3]) AS c, format('%I %L', variadic array['a b', NULL]) AS d, format(NULL, variadic array[1]) AS e`,
  `SELECT id, concat(variadic tags) AS a, concat_ws('/', variadic tags) AS b FROM users ORDER BY id`,
  `SELECT id, format('%s-%s', variadic tags) AS c, format('%2$s', variadic tags) AS d FROM users WHERE cardinality(tags) >= 2 ORDER BY id`,
  `SELECT id, concat_ws(' ', variadic sizes) AS s, concat(variadic sizes) AS t FROM products ORDER BY id`,
  `!SELECT concat_ws(',', variadic 10)`,
  `!SELECT format('%s', variadic NULL::int[])`,
  `!SELECT format('%s %s', variadic '{}'::int[])`,
  `!SELECT format('%s %s %s', variadic array[1, 2])`,
  `SELECT concat(variadic array[[1,2],[3,4]]) AS a`,
  `SELECT concat(variadic array['2020-01-01'::date]) AS a`,
];
