/**
 * Arrays of several dimensions and explicit bounds (src/sql/array-text.ts):
 * literals as array_in reads them and array_out prints them, the dimension
 * functions, subscripts a[i][j], equality; markers as in statements.ts (`!`
 * Postgres rejects it). Malformed literals, nested empty sub-arrays (17
 * accepts them, 15 does not) forward (slices: statements-slices.ts).
 */
export const MULTIDIM_CORPUS: string[] = [
  `SELECT '{{1,2,3},{4,5,6},{7,8,9}}'::int[] AS a, '[0:2][0:2]={{1,2,3},{4,5,6},{7,8,9}}'::int[] AS b`,
  `SELECT '[2]={1,7}'::int[] AS a, '[2147483646:2147483646]={1}'::int[] AS b, '[-2147483648:-2147483647]={1,2}'::int[] AS c`,
  `SELECT '{{{1,2,3,4},{2,3,4,5}},{{3,4,5,6},{4,5,6,7}}}'::text[] AS a, '{null,n\\ull,"null"}'::text[] AS b`,
  `SELECT '{ ab\\c , "ab\\"c" }'::text[] AS a, '{ { "," } , { 3 } }'::text[] AS b, '{a\\ ,b}'::text[] AS c`,
  `SELECT '  {   {  "  0 second  "   ,  0 second  }   }'::text[] AS a, ' [1:1] = {1}'::int[] AS b, '{{t,f},{NULL,true}}'::bool[] AS c`,
  `SELECT cardinality('[2:4]={5,6,7}'::int[]) AS a, cardinality('{{1,2}}'::int[]) AS b, cardinality('{{1,2},{3,4},{5,6}}'::int[]) AS c, cardinality('{}'::int[]) AS d`,
  `SELECT array_length(ARRAY[[1,2,3], [4,5,6]], 0) AS a, array_length(ARRAY[[1,2,3], [4,5,6]], 1) AS b, array_length(ARRAY[[1,2,3], [4,5,6]], 2) AS c, array_length(ARRAY[[1,2,3], [4,5,6]], 3) AS d`,
  `SELECT array_lower('[0:1][3:5]={{1,2,3},{4,5,6}}'::int[], 1) AS a, array_upper('[0:1][3:5]={{1,2,3},{4,5,6}}'::int[], 2) AS b, array_lower('{}'::int[], 1) AS c`,
  `SELECT array_ndims('{{1},{2}}'::int[]) AS a, array_ndims('{}'::int[]) AS b, array_dims('[0:1][3:5]={{1,2,3},{4,5,6}}'::int[]) AS c, array_dims('{}'::text[]) AS d, array_dims(ARRAY[[1,2],[3,4]]) AS e`,
  `SELECT ('{{1,2,3},{4,5,6}}'::int[])[2][3] AS a, ('{{1,2,3},{4,5,6}}'::int[])[1] AS b, ('[0:1][0:1]={{1,2},{3,4}}'::int[])[0][1] AS c, ('{{1,2},{3,4}}'::int[])[3][1] AS d`,
  `SELECT ('{{a,b},{c,NULL}}'::text[])[2][1] AS a, ('{{a,b},{c,NULL}}'::text[])[2][2] AS b, (ARRAY[[1,2],[3,4]])[1][2] AS c, ('{{1}}'::int[])[1][NULL] AS d`,
  `SELECT '{{1,2},{3,4}}'::int[] = '[1:2][1:2]={{1,2},{3,4}}'::int[] AS a, '{{1,2},{3,4}}'::int[] = '{1,2,3,4}'::int[] AS b, '[0:1]={1,2}'::int[] = '{1,2}'::int[] AS c`,
  `SELECT id, array_length(tags, 1) AS n, array_ndims(tags) AS d, array_dims(tags) AS x, tags[1] AS t FROM users ORDER BY id LIMIT 20`,
  // Forwarded: malformed literals, bounds Postgres rejects, nested empty sub-arrays.
  `!SELECT '{{1,{2}},{2,3}}'::text[]`,
  `!SELECT '{{1},{}}'::text[]`,
  `!SELECT '{"a"b}'::text[]`,
  `!SELECT '{1,}'::text[]`,
  `!SELECT '[1:0]={}'::int[]`,
  `!SELECT '[2147483646:2147483647]={1,2}'::int[]`,
  `!SELECT '[2]={1}'::int[]`,
  `!SELECT '{{1,2},{3}}'::int[]`,
  `!<17 SELECT '{{},{}}'::text[] IS NULL AS n`,
  `SELECT ('{{1,2,3},{4,5,6},{7,8,9}}'::int[])[1:2][2] AS s`,
];
