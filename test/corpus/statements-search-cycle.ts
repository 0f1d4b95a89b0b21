/**
 * WITH RECURSIVE's SEARCH and CYCLE clauses (compile/search-cycle.ts,
 * Postgres 14+) over test/corpus/schema.sql's category tree and generated
 * sequences: the added record and record[] columns as outputs and ORDER BY
 * keys (NULL fields, negative and int8 values, one-field records), UNION's
 * duplicates, text marks, the shapes that stay forwarded and Postgres's
 * errors. Markers as in statements.ts (`~` unordered, `!` Postgres rejects it).
 */
const TREE =
  'WITH RECURSIVE t(id, parent_id, name) AS (SELECT id, parent_id, name FROM categories WHERE parent_id IS NULL UNION ALL SELECT c.id, c.parent_id, c.name FROM categories c JOIN t ON c.parent_id = t.id)';

export const SEARCH_CYCLE_CORPUS: string[] = [
  `${TREE} SEARCH DEPTH FIRST BY id SET seq SELECT * FROM t ORDER BY seq`,
  `${TREE} SEARCH DEPTH FIRST BY parent_id, id SET seq SELECT id, seq FROM t ORDER BY seq DESC`,
  `${TREE} SEARCH BREADTH FIRST BY parent_id, id SET ord SELECT t.ord, t.name FROM t ORDER BY ord`,
  `${TREE} SEARCH BREADTH FIRST BY id SET seq CYCLE parent_id, id SET loop USING path SELECT * FROM t ORDER BY seq`,
  `~${TREE} CYCLE id SET is_cycle TO 'yes' DEFAULT 'no' USING path SELECT * FROM t`,
  '~WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT (n * 3) % 7 FROM t) CYCLE n SET c USING p SELECT * FROM t',
  '~WITH RECURSIVE t(n) AS (SELECT 1 UNION SELECT (n * 3) % 7 FROM t) CYCLE n SET c TO false DEFAULT true USING p SELECT p, c FROM t',
  '~WITH RECURSIVE t(n, m) AS (SELECT -3, NULL::int2 UNION ALL SELECT n + 1, m FROM t WHERE n < 3 AND NOT c) CYCLE m, n SET c USING p SELECT * FROM t',
  'WITH RECURSIVE t(n) AS (SELECT 9223372036854775807::int8 UNION ALL SELECT n - 4611686018427387904 FROM t WHERE n > 0) SEARCH DEPTH FIRST BY n SET s SELECT * FROM t ORDER BY s',
  'WITH RECURSIVE t(n) AS (SELECT 5 UNION ALL SELECT n - 1 FROM t WHERE n > -2) SEARCH BREADTH FIRST BY n SET s SELECT * FROM t ORDER BY s DESC LIMIT 4',
  // Forwarded shapes, answered by Postgres.
  `${TREE} SEARCH DEPTH FIRST BY id SET seq SELECT count(*) FROM t`,
  `~${TREE} CYCLE id SET is_cycle USING path SELECT id FROM t WHERE NOT is_cycle`,
  `~${TREE} SEARCH DEPTH FIRST BY id SET seq SELECT seq::text FROM t`,
  `${TREE} SEARCH DEPTH FIRST BY name SET seq SELECT * FROM t ORDER BY seq`,
  // Postgres's errors.
  `!${TREE} SEARCH DEPTH FIRST BY nope SET seq SELECT * FROM t`,
  `!${TREE} SEARCH DEPTH FIRST BY id SET name SELECT * FROM t`,
  `!${TREE} CYCLE id SET m TO 1 DEFAULT 'x' USING p SELECT * FROM t`,
  `!${TREE} CYCLE id, id SET m USING p SELECT * FROM t`,
  `!${TREE} CYCLE id SET m USING m SELECT * FROM t`,
  '!WITH t(n) AS (SELECT 1) SEARCH DEPTH FIRST BY n SET s SELECT * FROM t',
];
