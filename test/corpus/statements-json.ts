/**
 * json and jsonb (src/sql/json.ts, compile/json-ops.ts): constants in the
 * input forms Postgres accepts and rejects, and the operators and functions
 * served locally, over test/corpus/schema.sql's jsonb columns (users.prefs,
 * events.payload) and json column (products.meta). Markers as in
 * statements.ts (`!` Postgres rejects it).
 */
export const JSON_CORPUS: string[] = [
  // Input: canonical output of jsonb, validation of json.
  `SELECT '{"b": 1, "a": [1, 2.50, -0, 1e3, 1.5E-3], "aa": null, "a": true}'::jsonb AS j`,
  `SELECT '  {"b" : "x\\ny\\u00e9\\u0007\\"\\\\\\/", "": {}}  '::jsonb AS j`,
  `SELECT '"\\ud83d\\ude00"'::jsonb AS emoji, '[]'::jsonb AS a, '{}'::jsonb AS o, 'null'::jsonb AS n`,
  `SELECT '{"b": 1, "a": [1,  2], "a": 3}'::json AS j, ' 0.10 '::json AS n`,
  `SELECT jsonb '{"long key": 1, "k": 2, "kk": 3, "é": 4}' AS j`,
  `!SELECT '{"a": 1,}'::jsonb`,
  `!SELECT '01'::json`,
  `!SELECT '1.3ex100'::jsonb`,
  `!SELECT '"\\u0000"'::jsonb`,
  `!SELECT '[1, 2'::json`,
  `!SELECT '{"a" 1}'::jsonb`,
  `!SELECT 'truex'::json`,
  // Operators.
  `SELECT id, prefs -> 'theme' AS t, prefs ->> 'n' AS n, prefs -> 'a' -> 2 AS a2 FROM users ORDER BY id`,
  `SELECT id, prefs #> '{a,2,b}' AS p, prefs #>> '{a,-1}' AS q, prefs #> '{a,x}' AS r FROM users WHERE jsonb_typeof(prefs) IN ('object', 'array') ORDER BY id`,
  `SELECT id FROM users WHERE prefs @> '{"theme": "dark"}' ORDER BY id`,
  `SELECT id, prefs <@ '{"theme": "dark", "n": 1.0, "x": 2}' AS c FROM users ORDER BY id`,
  `SELECT id, prefs ? 'a' AS a, prefs ?| '{n,zz}' AS any_, prefs ?& '{n,theme}' AS all_ FROM users ORDER BY id`,
  `SELECT id, prefs || '{"n": 2, "z": [true]}' AS merged, prefs - 'theme' AS dropped FROM users WHERE jsonb_typeof(prefs) = 'object' ORDER BY id`,
  `SELECT '[1, "a", [2]]'::jsonb @> '[[2], "a"]' AS y, '[1, 2]'::jsonb @> '1' AS s, '1'::jsonb @> '[1]' AS n`,
  `SELECT '{"a": {"b": [1, 2]}}'::jsonb @> '{"a": {"b": [2]}}' AS y, '{"a": 1}'::jsonb @> '[]' AS n`,
  `SELECT '["a", "b", "a"]'::jsonb - 'a' AS k, '[1, 2, 3]'::jsonb - -1 AS i, '[1, 2, 3]'::jsonb - 5 AS out_of_range`,
  `SELECT '"x"'::jsonb || '[1]' AS a, '{"a": 1}'::jsonb || '[2]' AS b, '[]'::jsonb || '{}' AS c, '1'::jsonb || '2' AS d`,
  `SELECT '"foo"'::jsonb ? 'foo' AS raw, '{"a": {"b": 1}}'::jsonb ? 'b' AS nested`,
  `!SELECT '"x"'::jsonb - 'x'`,
  `!SELECT '{"a": 1}'::jsonb - 0`,
  `!SELECT jsonb_array_length('{"a": 1}')`,
  `!SELECT '{"a": 1}'::json @> '{}'`,
  `SELECT id, meta -> 'color' AS c, meta ->> 'color' AS t, meta -> 0 AS first FROM products ORDER BY id`,
  `SELECT '{"a": [1,  {"b":  2}], "c": "x\\ty"}'::json -> 'a' AS a, '{"c": "x\\ty"}'::json ->> 'c' AS c`,
  `SELECT '{"a": {"b": [1, {"c": "x"}]}}'::jsonb #> array['a', 'b', '1'] AS p, '42'::jsonb #> array['f'] AS s, '{"a": 1}'::jsonb #> '{}' AS whole, '"s"'::jsonb #>> '{}' AS t`,
  `SELECT '{"a": {"b":  [1, {"c": "x\\ny"}]}}'::json #> '{a,b,1}' AS p, '{"a": {"b": [1, {"c": "x\\ny"}]}}'::json #>> array['a', 'b', '1', 'c'] AS t, '[1]'::json #> '{x}' AS n`,
  `SELECT id, prefs ?& array['n', 'theme'] AS all_ FROM users WHERE prefs IS NOT NULL ORDER BY id`,
  // Operator aliases and builders.
  `SELECT jsonb_contains('{"a": 1, "b": 2}', '{"a": 1}') AS c, jsonb_contained('{"a": 1}', '{"a": 1, "b": 2}') AS d, jsonb_exists('["x"]', 'x') AS e`,
  `SELECT jsonb_exists_any('{"a": 1}', array['b', 'a']) AS y, jsonb_exists_all('{"a": 1}', '{a,b}') AS n, jsonb_extract_path('{"a": [1, 2]}', 'a', '1') AS p, json_extract_path_text('{"a": {"b": "c"}}', 'a', 'b') AS t`,
  `SELECT id, jsonb_build_object('id', id, 'name', name, 'active', active, 'prefs', prefs) AS o, jsonb_build_array(id, name, NULL) AS a FROM users ORDER BY id`,
  `SELECT id, json_build_object('id', id, 'name', name, 'meta', meta) AS o, json_build_array(name, stock, discontinued) AS a FROM products ORDER BY id`,
  `SELECT jsonb_build_object('b', 1, 'a', 2, 'b', 'x') AS dup, jsonb_build_object() AS e, json_build_object() AS je, json_build_array() AS ja`,
  `!SELECT jsonb_build_object('a', 1, 'b')`,
  `!SELECT jsonb_build_object(NULL, 1)`,
  `SELECT id, prefs['a'][2]['b'], prefs['theme'], prefs[0], prefs[NULL] AS n FROM users ORDER BY id`,
  // Functions and casts.
  `SELECT id, jsonb_typeof(payload -> 'n') AS t, jsonb_typeof(payload) AS top FROM events WHERE id < 12 ORDER BY id`,
  `SELECT jsonb_typeof('1.5') AS n, json_typeof('"s"') AS s, jsonb_array_length('[1, [2, 3]]') AS l, json_array_length('[]') AS e`,
  `SELECT jsonb_strip_nulls('{"a": null, "b": [null, {"c": null, "d": 1}]}') AS s`,
  `SELECT id, payload::text AS t, (payload ->> 'n')::int4 + 1 AS n1 FROM events WHERE payload IS NOT NULL AND id < 10 ORDER BY id`,
  `SELECT id, prefs::json AS j, meta::jsonb AS b FROM users JOIN products USING (id) ORDER BY id`,
  `SELECT ('{"z": 1, "a": ' || id || '}')::jsonb AS j FROM users ORDER BY id`,
  `SELECT id FROM events WHERE payload ->> 'page' = '/p/3' OR payload -> 'ok' = 'true' ORDER BY id`,
  // json_strip_nulls: tokens re-emitted without whitespace, strings re-escaped, duplicate keys kept.
  `SELECT json_strip_nulls(null) AS a, json_strip_nulls('1') AS b, json_strip_nulls('"a string"') AS c, json_strip_nulls('null') AS d, json_strip_nulls('[1,2,null,3,4]') AS e`,
  `SELECT json_strip_nulls('{"a":1,"b":null,"c":[2,null,3],"d":{"e":4,"f":null}}') AS a, json_strip_nulls('[1,{"a":1,"b":null,"c":2},3]') AS b, json_strip_nulls('{"a": {"b": null, "c": null}, "d": {} }') AS c`,
  `SELECT json_strip_nulls('{ "k" : "\\u00e9\\/\\n\\"" , "k" : 1.50e3, "n": null, "t": [ true , false , null ] }') AS a, json_strip_nulls(' [ ] ') AS b, json_strip_nulls('{}') AS c`,
  `SELECT id, meta, json_strip_nulls(meta) AS s FROM products ORDER BY id`,
  `SELECT id, json_strip_nulls(prefs::json) AS s FROM users ORDER BY id`,
  `!SELECT json_strip_nulls('{"a":')`,
];
