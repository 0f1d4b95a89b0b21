/**
 * Array slices (array_get_slice, compile/arrays.ts `arraySubscript`):
 * `a[l:u]`, omitted bounds `a[:u]`, `a[l:]`, `a[:]`, several dimensions (a
 * plain `[n]` among slices means `[1:n]`), bounds cut to the array's, empty
 * and NULL arrays, NULL bounds, more subscripts than dimensions; markers as
 * in statements.ts.
 */
export const SLICES_CORPUS: string[] = [
  `SELECT (ARRAY[1,2,3,4,5])[2:4] AS a, (ARRAY[1,2,3,4,5])[:2] AS b, (ARRAY[1,2,3,4,5])[4:] AS c, (ARRAY[1,2,3,4,5])[:] AS d`,
  `SELECT (ARRAY[1,2,3])[0:1] AS a, (ARRAY[1,2,3])[-5:10] AS b, (ARRAY[1,2,3])[3:2] AS c, (ARRAY[1,2,3])[4:9] AS d, (ARRAY[1,2,3])[2:2] AS e`,
  `SELECT ('[0:4]={a,b,c,d,e}'::text[])[1:2] AS a, ('[0:4]={a,b,c,d,e}'::text[])[:1] AS b, ('[-3:-1]={x,y,z}'::text[])[-2:] AS c, array_dims(('[5:9]={1,2,3,4,5}'::int[])[6:7]) AS d`,
  `SELECT ('{{1,2,3},{4,5,6},{7,8,9}}'::int[])[1:2][2:3] AS a, ('{{1,2,3},{4,5,6},{7,8,9}}'::int[])[2:] AS b, ('{{1,2,3},{4,5,6},{7,8,9}}'::int[])[:][3:] AS c, ('{{1,2,3},{4,5,6},{7,8,9}}'::int[])[1:2][2] AS d`,
  `SELECT ('{{1,2,3},{4,5,6},{7,8,9}}'::int[])[3][2:3] AS a, ('{{1,2,3},{4,5,6},{7,8,9}}'::int[])[2:3][1:1] AS b, ('{{1,2},{3,4}}'::int[])[1:1][1:1][1:1] AS c, ('{{1,2},{3,4}}'::int[])[2:2][5:] AS d`,
  `SELECT ('{{{1,2},{3,4}},{{5,6},{7,8}}}'::int[])[2:2][1:2][2:2] AS a, array_dims(('{{{1,2},{3,4}},{{5,6},{7,8}}}'::int[])[1:2][2:2]) AS b, ('[0:1][0:1]={{1,2},{3,4}}'::int[])[1:1][0:0] AS c`,
  `SELECT ('{}'::int[])[1:2] AS a, ('{}'::int[])[:] AS b, (NULL::int[])[1:2] AS c, (ARRAY[1,2,3])[NULL:2] AS d, (ARRAY[1,2,3])[1:NULL] AS e, (ARRAY[1,2,3])[NULL::int:] AS f`,
  `SELECT ('{a,NULL,"b c",""}'::text[])[2:4] AS a, ('{t,f,NULL}'::bool[])[2:] AS b, ('{1.50,NULL,-0}'::numeric[])[:2] AS c, (ARRAY['x','y','z'])[2:3] = '{y,z}' AS d`,
  `SELECT (ARRAY[1,2,3])[1:2] IS NULL AS a, cardinality((ARRAY[1,2,3,4])[2:3]) AS b, array_length(('{{1,2,3},{4,5,6}}'::int[])[:][2:], 2) AS c, ((ARRAY[4,5,6])[2:3])[1] AS d`,
  `SELECT id, tags[1:2] AS t, tags[2:] AS u, tags[:1] AS v FROM users ORDER BY id LIMIT 20`,
  `SELECT id FROM users WHERE tags[1:1] = ARRAY['admin'] ORDER BY id`,
  `SELECT (ARRAY[10,20,30])[1::smallint:2::smallint] AS a, ('{"a,b",c}'::varchar[])[1:1] AS b`,
  // Forwarded: subscripts Postgres casts to int4 (may fail), more than six subscripts.
  `SELECT (ARRAY[1,2,3])[1::bigint:2] AS a`,
  `!SELECT (ARRAY[1,2,3])[1:2][1:2][1:2][1:2][1:2][1:2][1:2]`,
  `!SELECT (ARRAY[1,2,3])['x':2]`,
];
