/**
 * jsonb_set, jsonb_insert and jsonb_delete_path (src/sql/json-mutate.ts):
 * object keys (new ones re-sorted), array positions (negative, past either
 * end, empty arrays), create_missing and insert_after, over constants and
 * the prefs column; markers as in statements.ts (`!` Postgres rejects it).
 */
const DOC = `'{"n":null, "a":1, "b":[1,2], "c":{"1":2}, "d":{"1":[2,3]}}'::jsonb`;

export const JSON_MUTATORS_CORPUS: string[] = [
  `SELECT jsonb_set(${DOC}, '{n}', '[1,2,3]') AS a, jsonb_set(${DOC}, '{b,-1}', '[1,2,3]') AS b, jsonb_set(${DOC}, '{d,1,0}', '{"1": 2}') AS c`,
  `SELECT jsonb_set(${DOC}, '{b,-1}', '"test"') AS a, jsonb_set(${DOC}, '{zz}', '0') AS b, jsonb_set(${DOC}, '{zz,y}', '0') AS c, jsonb_set(${DOC}, '{a,x}', '0') AS d`,
  `SELECT jsonb_set('{}', '{a}', '"b"', false) AS a, jsonb_set('[]', '{1}', '"b"', false) AS b, jsonb_set('[{"f1":1,"f2":null},2,null,3]', '{0}', '[2,3,4]', false) AS c`,
  `SELECT jsonb_set('{"a":1,"b":[0,1,2],"c":{"d":4}}', '{b,-33}', '{"foo":123}') AS a, jsonb_set('{"a":1,"b":[0,1,2],"c":{"d":4}}', '{b,33}', '{"foo":123}') AS b, jsonb_set('{"a":1,"b":[4,5,[0,1,2],6,7]}', '{b,2,33}', '{"foo":123}') AS c`,
  `SELECT jsonb_set('{}', '{x}', '{"foo":123}') AS a, jsonb_set('[]', '{0}', '1') AS b, jsonb_set('[]', '{99}', '1') AS c, jsonb_set('[]', '{-99}', '1') AS d, jsonb_set('[1]', '{}', '2') AS e`,
  `SELECT jsonb_set('{"a":1}', '{a}', NULL) AS a, jsonb_set('{"a":1}', NULL, '2') AS b, jsonb_set('{"a":1}', '{a}', '2', NULL) AS c, jsonb_set('{"b":[1,2]}', '{b,1}', '9', false) AS d`,
  `SELECT jsonb_set('{"aaa":1, "b":2}', '{cc}', '3') AS a, jsonb_set('{"a":{"b":1}}', '{a,c}', '"x y"') AS b, jsonb_set('[1,[2,3]]', '{1,0}', 'null') AS c`,
  `SELECT jsonb_insert('{"a": [0,1,2]}', '{a, 1}', '"new_value"') AS a, jsonb_insert('{"a": [0,1,2]}', '{a, 1}', '"new_value"', true) AS b, jsonb_insert('{"a": [0,1,2]}', '{a, -1}', '"n"', true) AS c`,
  `SELECT jsonb_insert('[]', '{1}', '"n"') AS a, jsonb_insert('{"a": []}', '{a, 1}', '"n"', true) AS b, jsonb_insert('{"a": [0,1,2]}', '{a, 10}', '"n"') AS c, jsonb_insert('{"a": [0,1,2]}', '{a, -10}', '"n"') AS d`,
  `SELECT jsonb_insert('{"a": {"b": "value"}}', '{a, c}', '"n"') AS a, jsonb_insert('{"a": {"b": {"c": [0, 1, "t1", "t2"]}}}', '{a, b, c, 2}', '"n"', true) AS b`,
  `SELECT jsonb_delete_path(${DOC}, '{n}') AS a, jsonb_delete_path(${DOC}, '{b,-1}') AS b, jsonb_delete_path(${DOC}, '{d,1,0}') AS c, jsonb_delete_path('{"a":[]}', '{"a",-2147483648}') AS d, jsonb_delete_path('[]', '{1}') AS e`,
  `SELECT id, jsonb_set(prefs, '{theme}', '"dark"') AS s, jsonb_set(prefs, '{x,y}', '1') AS n FROM users WHERE jsonb_typeof(prefs) = 'object' ORDER BY id`,
  `SELECT id, jsonb_insert(prefs, '{0}', '0') AS i, jsonb_insert(prefs, '{-1}', '"z"', true) AS j FROM users WHERE jsonb_typeof(prefs) = 'array' ORDER BY id`,
  `SELECT id, jsonb_set(prefs, '{zz}', jsonb_build_array(name, id), active) AS s FROM users WHERE jsonb_typeof(prefs) = 'object' ORDER BY id`,
  `SELECT id, jsonb_delete_path(prefs, '{theme}') AS d FROM users WHERE jsonb_typeof(prefs) = 'object' ORDER BY id`,
  `SELECT jsonb_set_lax('{"a":1,"b":2}', '{b}', '5') AS a, jsonb_set_lax('{"a":1,"b":2}', '{d}', '6', false) AS b, jsonb_set_lax('{"a":1,"b":2}', '{b}', NULL) AS c, jsonb_set_lax('{"a":1}', '{d}', NULL, true) AS d`,
  `SELECT jsonb_set_lax('{"a":1,"b":2}', '{b}', NULL, null_value_treatment => 'return_target') AS r, jsonb_set_lax('{"a":1,"b":2}', '{b}', NULL, null_value_treatment => 'delete_key') AS d, jsonb_set_lax('{"a":1,"b":2}', '{b}', NULL, true, 'use_json_null') AS u, jsonb_set_lax(NULL, '{b}', '1') AS n`,
  `!SELECT jsonb_set_lax('{"a":1,"b":2}', '{b}', NULL, true, NULL)`,
  `!SELECT jsonb_set_lax('{"a":1,"b":2}', '{b}', NULL, true, 'Delete_key')`,
  `!SELECT jsonb_set_lax('{"a":1,"b":2}', '{b}', NULL, null_value_treatment => 'raise_exception')`,
  `!SELECT jsonb_set('"a"', '{a}', '"b"')`,
  `!SELECT jsonb_set(${DOC}, '{d,NULL,0}', '[1,2,3]')`,
  `!SELECT jsonb_set('{"a": [1, 2, 3]}', '{a, non_integer}', '"new_value"')`,
  `!SELECT jsonb_set('{"a": {"b": [1, 2, 3]}}', '{a, b, NULL}', '"new_value"')`,
  `!SELECT jsonb_set('{"a": [1]}', '{a, 99999999999}', '1')`,
  `!SELECT jsonb_insert('{"a": {"b": "value"}}', '{a, b}', '"new_value"', true)`,
  `!SELECT jsonb_delete_path('1', '{a}')`,
  `!SELECT id, jsonb_set(prefs, '{theme}', '1') FROM users ORDER BY id`,
];
