/**
 * array_fill (src/sql/compile/array-fill.ts): NULL and non-NULL values of
 * integer, text and bool, one and several dimensions, explicit lower bounds,
 * empty dimensions; markers as in statements.ts. NULL or malformed bound
 * arrays (errors) and untyped values are forwarded.
 */
export const ARRAY_FILL_CORPUS: string[] = [
  `SELECT array_fill(7, ARRAY[3,3], ARRAY[2,2]) AS a, array_fill(7, ARRAY[3,3]) AS b, array_fill(NULL::integer, ARRAY[3,3], ARRAY[2,2]) AS c, array_fill(NULL::int, ARRAY[2]) AS d`,
  `SELECT array_fill('juhu'::text, ARRAY[2,2], ARRAY[-1,0]) AS a, array_fill('a b'::text, ARRAY[2]) AS b, array_fill(NULL::text, ARRAY[1,1]) AS c, array_fill(true, ARRAY[2]) AS d, array_fill(''::text, ARRAY[1]) AS e`,
  `SELECT a, a = '{}' AS is_eq, array_dims(a) FROM (SELECT array_fill(42, ARRAY[0]) AS a) ss`,
  `SELECT array_fill(42, '{}') AS a, array_fill(42, '{}', '{}') AS b, array_fill(1::int8, ARRAY[2,0]) AS c, array_length(array_fill(5::smallint, ARRAY[4]), 1) AS d`,
  `SELECT id, array_fill(id, ARRAY[2]) AS f, array_fill(name, ARRAY[1], ARRAY[0]) AS g FROM users ORDER BY id LIMIT 10`,
  // Errors upstream words (forwarded) and untyped values.
  `!SELECT array_fill(1, NULL, ARRAY[2,2])`,
  `!SELECT array_fill(1, ARRAY[2,2], NULL)`,
  `!SELECT array_fill(1, ARRAY[2,2], '{}')`,
  `!SELECT array_fill(1, ARRAY[1,2,NULL])`,
  `!SELECT array_fill(1, ARRAY[[1,2],[3,4]])`,
  `!SELECT array_fill('x', ARRAY[2])`,
];
