/**
 * LATERAL subqueries in FROM (compile/lateral.ts, src/sql/lateral-functions.ts):
 * comma, CROSS JOIN, JOIN ... ON and LEFT JOIN ... ON over the items before
 * them, with aggregates, LIMIT, ORDER BY, VALUES, UNION ALL, nesting and
 * column aliases, values of every storage class (floats with -0, NaN and
 * ±Infinity, numeric, text, bytea, dates, jsonb), and the errors Postgres
 * raises for references LATERAL does not allow. Markers as in statements.ts.
 */
export const LATERAL_CORPUS: string[] = [
  '~SELECT u.id, o.id AS oid FROM users u, LATERAL (SELECT id FROM orders WHERE user_id = u.id) o',
  'SELECT u.id, o.n, o.total FROM users u CROSS JOIN LATERAL (SELECT count(*) AS n, sum(total) AS total FROM orders WHERE user_id = u.id) o ORDER BY u.id',
  'SELECT u.id, o.id AS last_order FROM users u LEFT JOIN LATERAL (SELECT id FROM orders WHERE user_id = u.id ORDER BY id DESC LIMIT 1) o ON true ORDER BY u.id',
  'SELECT u.id, o.id AS oid, o.status FROM users u JOIN LATERAL (SELECT id, status FROM orders WHERE user_id = u.id ORDER BY id LIMIT 2) o ON o.id > 10 ORDER BY u.id, o.id',
  'SELECT u.id, s.x FROM users u LEFT JOIN LATERAL (SELECT u.id * 2 AS x) s ON u.id % 3 = 0 ORDER BY u.id',
  "SELECT u.id, v.a, v.b FROM users u, LATERAL (VALUES (u.id, 'one'), (u.id + 100, 'two')) v(a, b) WHERE u.id < 5 ORDER BY 1, 2",
  'SELECT u.id, x.v FROM users u, LATERAL (SELECT u.age AS v UNION ALL SELECT u.id) x ORDER BY 1, 2 NULLS FIRST',
  'SELECT u.id, u.score, s.f, s.r FROM users u, LATERAL (SELECT u.score AS f, u.rating AS r) s ORDER BY u.id',
  'SELECT u.id, s.bal, s.email, s.birth, s.seen FROM users u, LATERAL (SELECT u.balance AS bal, u.email, u.birth, u.last_seen AS seen) s ORDER BY u.id',
  'SELECT u.id, s.avatar, s.prefs, s.tags FROM users u, LATERAL (SELECT u.avatar, u.prefs, u.tags) s ORDER BY u.id',
  'SELECT u.id, s.ext_id, s.created_at FROM users u, LATERAL (SELECT u.ext_id, u.created_at) s ORDER BY u.id',
  'SELECT e.id, s.took, s.tod, s.ratio, s.raw FROM events e, LATERAL (SELECT e.took, e.tod, e.ratio, e.raw) s ORDER BY e.id',
  'SELECT p.id, i.n, i.q FROM products p LEFT JOIN LATERAL (SELECT count(*) AS n, max(qty) AS q FROM order_items WHERE product_id = p.id) i ON true ORDER BY p.id',
  'SELECT o.id, x.pid, y.name FROM orders o, LATERAL (SELECT product_id AS pid FROM order_items WHERE order_id = o.id ORDER BY product_id LIMIT 1) x, LATERAL (SELECT name FROM products WHERE id = x.pid) y ORDER BY o.id',
  'SELECT c.id, s.* FROM categories c, LATERAL (SELECT count(*) AS products, min(p.price) AS cheapest FROM products p WHERE p.category_id = c.id) s ORDER BY c.id',
  'SELECT c.id, s.k FROM categories c LEFT JOIN categories d ON d.id = c.parent_id, LATERAL (SELECT d.name AS k) s ORDER BY c.id',
  'SELECT u.id, t.n FROM users u LEFT JOIN LATERAL (SELECT count(*) AS n FROM unnest(u.tags) x) t ON true ORDER BY u.id',
  'SELECT g, s.sq FROM generate_series(1, 5) g, LATERAL (SELECT g * g AS sq) s ORDER BY g',
  'SELECT g, s.a FROM generate_series(1, 4) g, LATERAL (SELECT x AS a FROM generate_series(1, g) x) s ORDER BY 1, 2',
  'SELECT u.id, s.a, s.b FROM users u, LATERAL (SELECT o.id AS a, (SELECT count(*) FROM order_items i WHERE i.order_id = o.id) AS b FROM orders o WHERE o.user_id = u.id) s ORDER BY 1, 2',
  'SELECT x.v, y.w FROM (SELECT 1 AS v) x, LATERAL (SELECT x.v + 1 AS w) y',
  'SELECT u.id, z.c FROM users u, LATERAL (SELECT s.c FROM LATERAL (SELECT u.id AS c) s) z ORDER BY u.id',
  'SELECT u.id FROM users u, LATERAL (SELECT 1 FROM orders WHERE user_id = u.id LIMIT 0) s',
  'SELECT u.id, s.name FROM users u, LATERAL (SELECT u.name) s WHERE s.name IS NOT NULL ORDER BY s.name, u.id',
  'SELECT count(*), sum(s.n) FROM users u, LATERAL (SELECT count(*) AS n FROM orders o WHERE o.user_id = u.id) s',
  'SELECT s.status, count(*) FROM users u, LATERAL (SELECT status FROM orders WHERE user_id = u.id) s GROUP BY s.status ORDER BY s.status',
  'SELECT u.id, s.t FROM users u, LATERAL (SELECT u.id AS t WHERE u.active) s ORDER BY u.id',
  'SELECT * FROM (VALUES (1), (2)) x(lb), LATERAL (VALUES (lb), (-1)) y(c) ORDER BY 1, 2',
  'SELECT u.id, (SELECT max(v) FROM (VALUES (u.id), (u.age)) AS t(v)) FROM users u ORDER BY u.id',
  "SELECT u.id, v.n FROM users u LEFT JOIN LATERAL (VALUES (u.name), ('x')) v(n) ON v.n IS NOT NULL ORDER BY 1, 2",
  // Errors: Postgres's, never answered locally.
  '!SELECT u.id, o.id FROM users u, (SELECT id FROM orders WHERE user_id = u.id) o',
  '!SELECT * FROM LATERAL (SELECT u.id) s, users u',
  '!SELECT * FROM users u RIGHT JOIN LATERAL (SELECT u.id AS x) s ON true',
  '!SELECT * FROM users u, LATERAL (SELECT max(u.id)) s',
  '!SELECT * FROM users u, LATERAL (SELECT u.id, u.id) s(a, b, c)',
  '!SELECT * FROM users u, LATERAL (SELECT 1 / (u.id - u.id)) s',
  '!SELECT * FROM users u, LATERAL (SELECT id FROM orders) u',
  '!SELECT * FROM users u, LATERAL (SELECT (SELECT id FROM orders WHERE user_id = u.id)) s',
];
