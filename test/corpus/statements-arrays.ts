/**
 * ARRAY[...] constructors (compile/arrays.ts): element type resolution,
 * array_out's quoting, NULLs, nested arrays, casts of the constructor, and
 * the forms Postgres rejects. Markers as in statements.ts.
 */
export const ARRAY_CORPUS: string[] = [
  'SELECT ARRAY[1, 2, 3] AS a, ARRAY[1, 2.5, NULL] AS n, ARRAY[true, false, NULL] AS b',
  `SELECT ARRAY['a', NULL, 'b c', '', 'null', 'NULL', 'x"y', 'back\\slash', '{}', ','] AS a`,
  'SELECT ARRAY[ARRAY[1, 2], ARRAY[3, 4]] AS a, ARRAY[[1, 2], [3, 4]] AS b',
  "SELECT ARRAY[ARRAY['a b', NULL], ARRAY['c', 'd']]",
  'SELECT id, ARRAY[id, age] FROM users ORDER BY id',
  'SELECT ARRAY[name, email] AS contact FROM users ORDER BY id',
  'SELECT ARRAY[slug] FROM categories ORDER BY id',
  'SELECT ARRAY[price] FROM products ORDER BY id',
  "SELECT ARRAY['2024-01-02'::date, NULL]",
  'SELECT ARRAY[1::int2, 2::int2], ARRAY[1, 2::int8], ARRAY[NULL], ARRAY[NULL, 1]',
  'SELECT ARRAY[]::int[] AS e, ARRAY[]::text[] AS t',
  "SELECT ARRAY[1, 2]::int8[], ARRAY['1', '2']::int4[], ARRAY[1, 2]::text[]",
  "SELECT ARRAY['a', 'b c']::text, ARRAY[id, age]::text FROM users ORDER BY id",
  'SELECT coalesce(ARRAY[1], ARRAY[2]), CASE WHEN id > 2 THEN ARRAY[id] ELSE ARRAY[0, id] END FROM users ORDER BY id',
  '~SELECT ARRAY[1, 2] AS a UNION ALL SELECT ARRAY[3]',
  'SELECT ARRAY[id] FROM users GROUP BY id ORDER BY id',
  // Array literals: array_in of each element, printed by array_out.
  `SELECT '{1,2,3}'::int[] AS a, '{}'::text[] AS e, '{a,"b c",NULL,"NULL"," x ","a\\\\b"}'::text[] AS t`,
  "SELECT '{ 1 , -2 ,+3}'::int4[], '{1.50,2e2,NaN}'::numeric[], '{t,false,yes,NULL}'::bool[]",
  "SELECT '{2024-01-02,infinity}'::date[], '{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}'::uuid[]",
  "SELECT coalesce(NULL, '{}'::int[]), CAST('{a}' AS varchar[]), NULL::int[]",
  "SELECT '{{1,2},{3,4}}'::int[] AS nested, '[0:1]={1,2}'::int[] AS bounds",
  "!SELECT '{1,x}'::int[]",
  "!SELECT '{1,2'::int[]",
  "!SELECT '{99999999999}'::int[]",
  '!SELECT ARRAY[ARRAY[1, 2], ARRAY[3]]',
  '!SELECT ARRAY[]',
  "!SELECT ARRAY['x']::int[]",
  "!SELECT ARRAY[1, 'x']",
  "!SELECT 'x' || ARRAY['a']",
];
