/**
 * WITH RECURSIVE (compile/ctes.ts): the UNION [ALL] form with one plain
 * recursive reference, over test/corpus/schema.sql's category tree, the
 * forms that stay forwarded, and Postgres's errors. Markers as in
 * statements.ts (`~` unordered, `!` Postgres rejects it).
 */
export const RECURSIVE_CORPUS: string[] = [
  '~WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 100) SELECT sum(n) FROM t',
  'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t ORDER BY n',
  // UNION discards rows equal to any produced before: this one ends.
  '~WITH RECURSIVE t(n) AS (SELECT 1 UNION SELECT 10 - n FROM t) SELECT * FROM t',
  "~WITH RECURSIVE t(n) AS (SELECT 'foo' UNION ALL SELECT n || ' bar' FROM t WHERE length(n) < 20) SELECT n FROM t",
  'WITH RECURSIVE sub AS (SELECT id, parent_id, name FROM categories WHERE id = 2 UNION ALL SELECT c.id, c.parent_id, c.name FROM categories c JOIN sub s ON c.parent_id = s.id) SELECT * FROM sub ORDER BY id',
  'WITH RECURSIVE sub(level, id, name) AS (SELECT 1, id, name FROM categories WHERE parent_id IS NULL UNION ALL SELECT s.level + 1, c.id, c.name FROM categories AS c, sub AS s WHERE c.parent_id = s.id) SELECT * FROM sub ORDER BY id',
  '~WITH RECURSIVE t(a, b) AS (SELECT id, name FROM categories WHERE parent_id IS NULL UNION SELECT c.id, s.b FROM t s LEFT JOIN categories c ON c.parent_id = s.a WHERE c.id IS NOT NULL) SELECT * FROM t',
  '~WITH RECURSIVE y (id) AS (VALUES (1)), x (id) AS (SELECT * FROM y UNION ALL SELECT id + 1 FROM x WHERE id < 5) SELECT * FROM x',
  '~WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT NULL FROM t WHERE n IS NOT NULL) SELECT * FROM t',
  '~WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT s.n + 1 FROM t s WHERE s.n < 100000) SELECT count(*), max(n) FROM t',
  // Forwarded: a later WITH query, a partial read of terms that may raise, a second reference.
  '~WITH RECURSIVE x(id) AS (SELECT * FROM y UNION ALL SELECT id + 1 FROM x WHERE id < 5), y(id) AS (VALUES (1)) SELECT * FROM x',
  '~WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT * FROM t LIMIT 10',
  '!WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT a.n + 1 FROM t a, t b WHERE a.n < 3) SELECT count(*) FROM t',
  // Postgres's errors: overflow, a type change, aggregates and ORDER BY in the recursive term.
  '!WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n * 2 FROM t) SELECT count(*) FROM t',
  '!WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n::int8 + 1 FROM t WHERE n < 5) SELECT * FROM t',
  '!WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT count(*) FROM t) SELECT * FROM t',
  '!WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t ORDER BY 1) SELECT * FROM t',
  '!WITH RECURSIVE t(n) AS (SELECT n FROM t UNION ALL SELECT 1) SELECT * FROM t',
  // 42P21: the recursive term changes the collation.
  `!WITH RECURSIVE foo(x) AS (SELECT x FROM (VALUES ('a' COLLATE "C"), ('b')) t(x) UNION ALL SELECT (x || 'c') COLLATE "POSIX" FROM foo WHERE length(x) < 10) SELECT * FROM foo`,
  `~WITH RECURSIVE foo(x) AS (SELECT x FROM (VALUES ('a' COLLATE "C"), ('b')) t(x) UNION ALL SELECT (x || 'c') COLLATE "C" FROM foo WHERE length(x) < 4) SELECT * FROM foo`,
];
