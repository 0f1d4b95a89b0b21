/**
 * Query shapes (issue 16): aggregates with ORDER BY whose result does not
 * depend on it, GROUPING SETS / ROLLUP / CUBE with GROUPING(), window RANGE
 * frames with offsets, FULL JOIN. Markers as in statements.ts.
 */
export const SHAPES_CORPUS: string[] = [
  // Order-insensitive aggregates with ORDER BY: the keys are validated, the result is the aggregate's.
  'SELECT min(id ORDER BY name), max(age ORDER BY id DESC), count(email ORDER BY email) FROM users',
  'SELECT user_id, sum(total ORDER BY id), avg(total ORDER BY placed_at NULLS FIRST), count(id ORDER BY note) FROM orders GROUP BY user_id ORDER BY user_id NULLS FIRST',
  'SELECT sum(qty ORDER BY unit_price DESC) FILTER (WHERE qty > 2), max(unit_price ORDER BY order_id) FROM order_items',
  'SELECT min(x ORDER BY y) FROM (VALUES (1, NULL)) AS d(x, y)',
  '!SELECT count(DISTINCT id ORDER BY name) FROM users',
  '!SELECT min(id ORDER BY meta) FROM products',
  '!SELECT max(id ORDER BY sum(age)) FROM users',
  '!SELECT count(id ORDER BY 1 / (age - age)) FROM users',
  // GROUPING SETS / ROLLUP / CUBE: unordered results as multisets (`~`), ordered ones to a total order.
  '~SELECT country, active, count(*) FROM users GROUP BY ROLLUP (country, active)',
  'SELECT country, active, count(*), GROUPING(country, active) AS g FROM users GROUP BY ROLLUP (country, active) ORDER BY g, country, active',
  'SELECT country, active, count(*), GROUPING(active), GROUPING(country) FROM users GROUP BY CUBE (country, active) ORDER BY 4, 5, 1, 2',
  '~SELECT status, user_id, sum(total), max(priority) FROM orders WHERE user_id < 6 GROUP BY GROUPING SETS ((status, user_id), (status), ())',
  '~SELECT user_id, count(*) FROM orders GROUP BY GROUPING SETS ((), (), user_id)',
  '~SELECT a.country, count(o.id) FROM users a JOIN orders o ON o.user_id = a.id GROUP BY a.country, ROLLUP (o.status)',
  '~SELECT country, active, count(*) FROM users GROUP BY GROUPING SETS (country, ROLLUP (active), GROUPING SETS ((country, active)))',
  'SELECT count(*), sum(age) FROM users WHERE id < 0 GROUP BY GROUPING SETS ((), (country))',
  '!SELECT country FROM users WHERE id < 0 GROUP BY ()',
  'SELECT count(*) FROM users GROUP BY ()',
  '~SELECT country, count(*) FROM users GROUP BY ROLLUP (country) HAVING count(*) > 2 OR country IS NULL',
  '~SELECT country, lower(country) AS lc, count(*) FROM users GROUP BY ROLLUP (1)',
  '~SELECT u.*, count(*) FROM categories u GROUP BY ROLLUP (id, parent_id, name, slug)',
  '~SELECT balance, count(*) FROM users GROUP BY ROLLUP (balance)',
  'SELECT country, sum(karma) FROM users GROUP BY ROLLUP (country) ORDER BY sum(karma) DESC NULLS LAST, country NULLS FIRST LIMIT 3',
  '~SELECT category_id, discontinued, count(*) FROM products GROUP BY CUBE ((category_id, discontinued))',
  'SELECT country, sum(age) FROM users GROUP BY ROLLUP (country) ORDER BY GROUPING(country), country NULLS FIRST',
  '!SELECT country, GROUPING(active) FROM users GROUP BY ROLLUP (country)',
  '!SELECT country, name, count(*) FROM users GROUP BY ROLLUP (country)',
  '!SELECT country FROM users WHERE GROUPING(country) = 0 GROUP BY ROLLUP (country)',
  '!SELECT count(*) FROM users GROUP BY ROLLUP (count(*))',
  '!SELECT country, sum(GROUPING(country)) FROM users GROUP BY ROLLUP (country)',
  '!SELECT id, email FROM users GROUP BY ROLLUP (id)',
];
