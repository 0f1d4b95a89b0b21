/**
 * array_position, array_positions, array_remove, array_replace and
 * array_to_string (src/sql/compile/array-search.ts): NULL arrays, NULL
 * elements found and replaced, nothing found, everything removed, text under
 * the default (C) collation; markers as in statements.ts. Multidimensional
 * arrays (errors), explicit bounds, numeric elements, mixed types and the
 * start position are forwarded.
 */
export const ARRAY_SEARCH_CORPUS: string[] = [
  `SELECT array_position(ARRAY[1,2,3,4,5], 4) AS a, array_position(ARRAY[5,3,4,2,1], 9) AS b, array_position(NULL::int[], 1) AS c, array_position(ARRAY[1,NULL,3], NULL) AS d, array_position(ARRAY[1,2], NULL) AS e`,
  `SELECT array_position(ARRAY['sun','mon','tue'], 'mon') AS a, array_position(ARRAY['a','b','a'], 'a') AS b, array_position('{}'::text[], 'x') AS c, array_position(ARRAY[true,false], false) AS d`,
  `SELECT array_positions(ARRAY[1,2,3,1,2,3], 2) AS a, array_positions(ARRAY[1,2,3], 9) AS b, array_positions(NULL::int[], 1) AS c, array_positions(ARRAY[1,NULL,3,NULL], NULL) AS d, array_positions(ARRAY[1,2], NULL) AS e`,
  `SELECT array_remove(ARRAY[1,2,2,3], 2) AS a, array_remove(ARRAY[1,2,3], 5) AS b, array_remove(ARRAY[1,NULL,NULL,3], NULL) AS c, array_remove(ARRAY['X','X'], 'X') AS d, array_remove(NULL::int[], 1) AS e, array_remove('{"a b",c}'::text[], 'c') AS f`,
  `SELECT array_replace(ARRAY[1,2,5,4], 5, 3) AS a, array_replace(ARRAY[1,2,5,4], 5, NULL) AS b, array_replace(ARRAY[1,2,NULL,4,NULL], NULL, 5) AS c, array_replace(ARRAY['A','B','DD','B'], 'B', 'C C') AS d, array_replace(NULL::int[], 1, 2) AS e`,
  `SELECT array_to_string(ARRAY[1,2,3,NULL,6], ',') AS a, array_to_string(ARRAY[1,2,3,NULL,6], ',', '*') AS b, array_to_string(ARRAY[1,NULL], NULL) AS c, array_to_string(ARRAY[1,NULL,3], '-', NULL) AS d, array_to_string('{}'::int[], ',') AS e, array_to_string(NULL::int[], ',') AS f`,
  `SELECT array_to_string(ARRAY['a b','"q"',NULL,''], '|') AS a, array_to_string(ARRAY[true,false], '') AS b, array_to_string(string_to_array('1|2|3', '|'), '+') AS c`,
  `SELECT id, array_position(tags, 'admin') AS p, array_remove(tags, 'admin') AS r, array_to_string(tags, ';', '~') AS s FROM users ORDER BY id LIMIT 20`,
  `SELECT id FROM users WHERE array_position(tags, 'vip') IS NOT NULL ORDER BY id`,
  // Forwarded: multidimensional arrays (errors), explicit bounds, numeric, other element types, start position.
  `!SELECT array_position(ARRAY[[1,2],[3,4]], 3)`,
  `!SELECT array_remove('{{1,2,2},{1,4,3}}'::int[], 2)`,
  `SELECT array_position('[2:4]={1,2,3}'::int[], 1) AS a`,
  `SELECT array_to_string('{{1,2},{3,4}}'::int[], ',') AS d`,
  `SELECT array_remove(ARRAY[1.0, 2.1, 3.3], 1) AS a`,
  `SELECT array_position(ARRAY[1,2,3]::int8[], 2::int4) AS a`,
  `SELECT array_position(ARRAY[1,2,3,2], 2, 3) AS a`,
];
