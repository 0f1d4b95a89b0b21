/**
 * GROUP BY a table's primary key selecting its other columns (Postgres's
 * functional dependency, compile/statement.ts), the shape Django and Rails
 * send for annotated lists, and the forms Postgres rejects (part of a
 * composite key, another reference of the table, a subquery's column).
 * Markers as in statements.ts.
 */
export const GROUPING_CORPUS: string[] = [
  'SELECT u.id, u.email, u.name, count(o.id) AS n FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY u.id',
  'SELECT "users"."id", "users"."email", COUNT("orders"."id") AS "n" FROM "users" LEFT OUTER JOIN "orders" ON ("users"."id" = "orders"."user_id") GROUP BY "users"."id" ORDER BY "users"."id"',
  '!SELECT u.id, o.total, count(*) FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.id',
  'SELECT oi.order_id, oi.product_id, oi.qty FROM order_items oi GROUP BY oi.order_id, oi.product_id ORDER BY 1, 2',
  '!SELECT oi.order_id, oi.qty FROM order_items oi GROUP BY oi.order_id',
  '!SELECT a.id, b.email FROM users a JOIN users b ON a.id = b.id GROUP BY a.id',
  'SELECT a.id, a.email, b.email FROM users a JOIN users b ON a.id = b.id GROUP BY a.id, b.id ORDER BY 1',
  'SELECT id, email FROM users GROUP BY id HAVING count(*) > 0 ORDER BY email, id',
  '!SELECT s.id, s.email FROM (SELECT * FROM users) s GROUP BY s.id',
  'SELECT p.id, p.name, c.name, count(*) FROM products p JOIN categories c ON c.id = p.category_id GROUP BY p.id, c.id ORDER BY p.id',
  'SELECT users.*, count(events.id) FROM users LEFT JOIN events ON events.user_id = users.id GROUP BY users.id ORDER BY users.id',
  '!SELECT u.email, count(*) FROM users u GROUP BY u.name',
  'SELECT o.id, o.total, u.email FROM orders o JOIN users u ON u.id = o.user_id GROUP BY o.id, u.id ORDER BY o.id',
  '!SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id GROUP BY o.id, o.user_id',
];
