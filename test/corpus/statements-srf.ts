/**
 * Set-returning functions in FROM (compile/srfs.ts, src/sql/srf-functions.ts):
 * unnest, the jsonb expanders, generate_series over integers, WITH
 * ORDINALITY, column aliases and arguments from earlier FROM items, over
 * test/corpus/schema.sql (users.tags, products.sizes, users.prefs,
 * events.payload). Markers as in statements.ts.
 */
export const SRF_CORPUS: string[] = [
  '~SELECT * FROM unnest(ARRAY[1, 2, 3])',
  "~SELECT * FROM unnest(ARRAY['a', NULL, 'b c']) AS u",
  '~SELECT * FROM unnest(ARRAY[1, 2]) WITH ORDINALITY',
  '~SELECT * FROM unnest(ARRAY[1, 2]) WITH ORDINALITY AS t(x, n)',
  '~SELECT u.id, t FROM users u, unnest(u.tags) t',
  '~SELECT u.id, t, o FROM users u CROSS JOIN LATERAL unnest(u.tags) WITH ORDINALITY AS x(t, o)',
  '~SELECT u.id, t FROM users u LEFT JOIN unnest(u.tags) t ON true',
  'SELECT p.id, s FROM products p, unnest(p.sizes) s ORDER BY p.id, s',
  "~SELECT * FROM unnest('{1,2,NULL}'::int[])",
  "!SELECT * FROM unnest('{1,2}')",
  '~SELECT * FROM jsonb_array_elements(\'[1, "a", {"b": [2]}, null]\')',
  '~SELECT * FROM jsonb_array_elements_text(\'[1, "a\\nb", {"b": [2]}, null]\') AS x',
  '~SELECT * FROM jsonb_each(\'{"a": 1, "bb": "x", "c": null}\')',
  '~SELECT * FROM jsonb_each_text(\'{"a": 1, "bb": "x", "c": null}\') WITH ORDINALITY',
  '~SELECT * FROM jsonb_object_keys(\'{"a": 1, "bb": "x", "c": null}\')',
  '!SELECT key, value FROM users, jsonb_each(prefs)',
  '!SELECT e.id, k FROM events e, jsonb_object_keys(e.payload) k',
  "!SELECT * FROM jsonb_each('[1]')",
  '!SELECT * FROM jsonb_array_elements(\'{"a": 1}\')',
  '~SELECT * FROM generate_series(1::int8, 5)',
  '~SELECT * FROM generate_series(1, 10, 3) WITH ORDINALITY',
  '~SELECT u.id, g FROM users u, generate_series(1, u.id) g WHERE u.id < 4',
  '!SELECT * FROM generate_series(1::int8, 5, 0)',
  '~SELECT * FROM generate_series(9223372036854775800, 9223372036854775807)',
  "~SELECT count(*) FROM users u, unnest(u.tags) t WHERE t = 'vip'",
  '~SELECT t, count(*) FROM users u, unnest(u.tags) t GROUP BY t',
  '!SELECT * FROM users u, jsonb_array_elements(u.prefs) x',
  "~SELECT e.id, k FROM events e, jsonb_object_keys(e.payload) k WHERE jsonb_typeof(e.payload) = 'object'",
  "~SELECT e.id, x.key, x.value FROM events e CROSS JOIN LATERAL jsonb_each_text(e.payload) AS x WHERE e.id < 20 AND jsonb_typeof(e.payload) = 'object'",
  'SELECT g.x, s.n FROM generate_series(1, 3) g(x) JOIN generate_series(1, 3) s(n) ON s.n <= g.x ORDER BY 1, 2',
  '~SELECT t.id, v FROM tickets t, unnest(ARRAY[t.id, t.id * 10]) v WHERE t.id < 4',
];
