/**
 * The differential corpus: read statements of the kinds an ORM, an admin
 * panel and a reporting page send, over test/corpus/schema.sql. A leading
 * `~` marks a statement whose row order Postgres leaves unspecified (compared
 * as a multiset). Statements with ORDER BY end in a total order (a key) so
 * the order is comparable. `!` marks one Postgres rejects, `!<17 ` one
 * Postgres before 17 rejects (the suites also run on Postgres 15).
 */

import { ARRAY_ERRORS_CORPUS } from './statements-array-errors.js';
import { ARRAY_FILL_CORPUS } from './statements-array-fill.js';
import { ARRAY_SEARCH_CORPUS } from './statements-array-search.js';
import { ARRAY_CORPUS } from './statements-arrays.js';
import { BITS_CORPUS } from './statements-bits.js';
import { BUCKETS_CORPUS } from './statements-buckets.js';
import { BYTEA_CORPUS } from './statements-bytea.js';
import { DATE_BIN_CORPUS } from './statements-date-bin.js';
import { DATE_PART_CORPUS } from './statements-date-part.js';
import { DATETIME_CORPUS } from './statements-datetime.js';
import { FLOAT_CORPUS } from './statements-floats.js';
import { FORMATTING_CORPUS } from './statements-formatting.js';
import { GROUPING_CORPUS } from './statements-grouping.js';
import { IDENT_DATE_CORPUS } from './statements-ident-date.js';
import { INTERVAL_CORPUS } from './statements-interval.js';
import { INTERVAL_CASTS_CORPUS } from './statements-interval-casts.js';
import { JSON_CORPUS } from './statements-json.js';
import { JSON_ERRORS_CORPUS } from './statements-json-errors.js';
import { JSON_MUTATORS_CORPUS } from './statements-json-mutators.js';
import { LATERAL_CORPUS } from './statements-lateral.js';
import { MONEY_CORPUS } from './statements-money.js';
import { MULTIDIM_CORPUS } from './statements-multidim.js';
import { NAMED_ARGS_CORPUS } from './statements-named-args.js';
import { NAMES_CORPUS } from './statements-names.js';
import { NUMERIC_FNS_CORPUS } from './statements-numeric-fns.js';
import { NUMERIC_MATH_CORPUS } from './statements-numeric-math.js';
import { ORDERED_AGGS_CORPUS } from './statements-ordered-aggs.js';
import { PLAN_ERRORS_CORPUS } from './statements-plan-errors.js';
import { RECURSIVE_CORPUS } from './statements-recursive.js';
import { ROW_SUBLINKS_CORPUS } from './statements-row-sublinks.js';
import { ROWS_CORPUS } from './statements-rows.js';
import { SEARCH_CYCLE_CORPUS } from './statements-search-cycle.js';
import { SHAPES_CORPUS } from './statements-shapes.js';
import { SLICES_CORPUS } from './statements-slices.js';
import { SRF_CORPUS } from './statements-srf.js';
import { STRINGS_CORPUS } from './statements-strings.js';
import { TEXT_CASTS_CORPUS } from './statements-text-casts.js';
import { TEXT_FNS_CORPUS } from './statements-text-fns.js';
import { TO_NUMBER_CORPUS } from './statements-to-number.js';
import { VARIADIC_CORPUS } from './statements-variadic.js';
import { WINDOWS_CORPUS } from './statements-windows.js';

const ORM: string[] = [
  // Prisma-style: schema-qualified, fully qualified columns, parameters inlined by the corpus
  'SELECT "public"."users"."id", "public"."users"."email", "public"."users"."name" FROM "public"."users" WHERE "public"."users"."id" = 1 LIMIT 1 OFFSET 0',
  'SELECT "public"."users"."id", "public"."users"."email" FROM "public"."users" WHERE 1=1 ORDER BY "public"."users"."id" ASC LIMIT 10 OFFSET 0',
  'SELECT "public"."products"."id", "public"."products"."name", "public"."products"."price" FROM "public"."products" WHERE ("public"."products"."category_id" = 3 AND "public"."products"."discontinued" = false) ORDER BY "public"."products"."id" ASC',
  'SELECT COUNT(*) AS "_count" FROM (SELECT "public"."orders"."id" FROM "public"."orders" WHERE "public"."orders"."user_id" = 4 OFFSET 0) AS "sub"',
  'SELECT "public"."order_items"."order_id", "public"."order_items"."product_id", "public"."order_items"."qty" FROM "public"."order_items" WHERE "public"."order_items"."order_id" IN (1, 2, 3, 8) ORDER BY "public"."order_items"."order_id", "public"."order_items"."product_id"',
  'SELECT "public"."categories"."id", "public"."categories"."name" FROM "public"."categories" WHERE "public"."categories"."parent_id" IS NULL ORDER BY "public"."categories"."name" ASC, "public"."categories"."id" ASC',
  // Rails / ActiveRecord
  'SELECT "users".* FROM "users" WHERE "users"."id" = 2 LIMIT 1',
  'SELECT "users".* FROM "users" WHERE "users"."email" = \'ada@example.com\' LIMIT 1',
  'SELECT "products".* FROM "products" WHERE "products"."category_id" IN (3, 4) ORDER BY "products"."id" ASC',
  'SELECT COUNT(*) FROM "orders" WHERE "orders"."user_id" = 5',
  'SELECT 1 AS one FROM "users" WHERE "users"."email" = \'bob@example.com\' LIMIT 1',
  'SELECT "order_items".* FROM "order_items" WHERE "order_items"."order_id" = 8 ORDER BY "order_items"."product_id"',
  'SELECT "categories".* FROM "categories" ORDER BY "categories"."id" DESC LIMIT 3',
  'SELECT "events".* FROM "events" WHERE "events"."user_id" = 3 ORDER BY "events"."id" ASC LIMIT 5',
  'SELECT "users"."id" FROM "users" WHERE "users"."active" = TRUE ORDER BY "users"."id"',
  'SELECT "products"."id", "products"."name" FROM "products" WHERE "products"."price" BETWEEN 5 AND 50 ORDER BY "products"."price" ASC, "products"."id" ASC',
  // Django
  'SELECT "users"."id", "users"."email", "users"."name", "users"."active" FROM "users" WHERE "users"."id" = 4 LIMIT 21',
  'SELECT "users"."id", "users"."name" FROM "users" WHERE UPPER("users"."name"::text) = UPPER(\'ada\') LIMIT 21',
  'SELECT "users"."id" FROM "users" WHERE "users"."name"::text LIKE \'%a%\' ORDER BY "users"."id" ASC',
  'SELECT "users"."id" FROM "users" WHERE UPPER("users"."email"::text) LIKE UPPER(\'%EXAMPLE.COM\') ORDER BY "users"."id" ASC',
  'SELECT COUNT(*) AS "__count" FROM "products" WHERE NOT "products"."discontinued"',
  'SELECT "products"."id", "products"."name", "products"."price" FROM "products" WHERE ("products"."price" > 10 AND NOT ("products"."category_id" IS NULL)) ORDER BY "products"."price" DESC, "products"."id" ASC LIMIT 5',
  'SELECT (1) AS "a" FROM "users" WHERE "users"."id" = 3 LIMIT 1',
  'SELECT "orders"."id", "orders"."total" FROM "orders" WHERE "orders"."total" IS NOT NULL ORDER BY "orders"."total" DESC, "orders"."id" DESC LIMIT 10',
  'SELECT "users"."id", "users"."email" FROM "users" WHERE "users"."email"::text ILIKE \'%EXAMPLE%\' ORDER BY "users"."email" ASC LIMIT 21',
  // Drizzle / Knex / Sequelize
  'select "id", "email", "name" from "users" where "users"."id" = 7',
  'select "id", "name", "price" from "products" where ("products"."stock" > 0 and "products"."discontinued" = false) order by "products"."id" limit 20',
  'select count(*) from "users"',
  'SELECT "id", "user_id", "total" FROM "orders" AS "Order" WHERE "Order"."user_id" = 8 ORDER BY "Order"."id" DESC;',
  'SELECT "User"."id", "User"."name" FROM "users" AS "User" WHERE "User"."age" >= 30 ORDER BY "User"."age" DESC, "User"."id"',
  'select * from "categories" where "slug" = \'phones\' limit 1',
  'select "products".* from "products" inner join "categories" on "categories"."id" = "products"."category_id" where "categories"."slug" = \'books\' order by "products"."id"',
  // TypeORM-style aliases
  'SELECT "u"."id" AS "u_id", "u"."email" AS "u_email" FROM "users" "u" WHERE "u"."id" IN (1, 2, 3) ORDER BY "u"."id"',
  'SELECT "p"."id" AS "p_id", "c"."name" AS "c_name" FROM "products" "p" LEFT JOIN "categories" "c" ON "c"."id" = "p"."category_id" ORDER BY "p"."id"',
  'SELECT DISTINCT "o"."user_id" AS "uid" FROM "orders" "o" WHERE "o"."status" = \'paid\' ORDER BY "uid"',
];

const ADMIN: string[] = [
  // list pages, search, filters, pagination
  'SELECT * FROM users ORDER BY id',
  'SELECT * FROM users ORDER BY id LIMIT 10 OFFSET 10',
  'SELECT * FROM products ORDER BY id',
  'SELECT * FROM categories ORDER BY id',
  'SELECT * FROM order_items ORDER BY order_id, product_id',
  'SELECT * FROM orders ORDER BY id',
  'SELECT * FROM events ORDER BY id',
  'SELECT id, email, name, active, created_at FROM users ORDER BY created_at DESC, id DESC LIMIT 20',
  "SELECT id, email, name FROM users WHERE name ILIKE '%a%' ORDER BY name, id",
  "SELECT id, email FROM users WHERE email LIKE '%@example.com' AND active ORDER BY email",
  "SELECT id, name FROM users WHERE name IS NULL OR name = '' ORDER BY id",
  "SELECT id, name FROM users WHERE country = 'GB' ORDER BY id",
  "SELECT id, name, country FROM users WHERE country IN ('US', 'FR') ORDER BY country, id",
  "SELECT id, country FROM users WHERE country <> 'US' ORDER BY id",
  'SELECT id, age FROM users WHERE age BETWEEN 18 AND 30 ORDER BY age, id',
  'SELECT id, age FROM users WHERE age NOT BETWEEN 18 AND 65 ORDER BY id',
  'SELECT id, karma FROM users WHERE karma > 100 ORDER BY karma DESC, id',
  'SELECT id, karma FROM users WHERE karma < 0 ORDER BY karma, id',
  'SELECT id, balance FROM users WHERE balance >= 100 ORDER BY balance DESC, id',
  'SELECT id, balance FROM users WHERE balance < 0 ORDER BY balance, id',
  'SELECT id, score FROM users WHERE score > 1 ORDER BY score DESC, id',
  'SELECT id, score FROM users ORDER BY score NULLS FIRST, id',
  'SELECT id, rating FROM users ORDER BY rating DESC NULLS LAST, id',
  "SELECT id, created_at FROM users WHERE created_at >= '2024-03-01' ORDER BY created_at, id",
  "SELECT id, created_at FROM users WHERE created_at < '2024-01-01 00:00:00+00' ORDER BY id",
  "SELECT id, birth FROM users WHERE birth < '2000-01-01' ORDER BY birth, id",
  "SELECT id, birth FROM users WHERE birth >= '2000-01-01' ORDER BY birth DESC, id",
  'SELECT id, ext_id FROM users WHERE ext_id IS NOT NULL ORDER BY ext_id',
  "SELECT id FROM users WHERE ext_id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
  'SELECT id, active FROM users WHERE active IS NOT TRUE ORDER BY id',
  'SELECT id, active FROM users WHERE active IS FALSE ORDER BY id',
  'SELECT id, active FROM users WHERE active IS UNKNOWN ORDER BY id',
  'SELECT id, active FROM users WHERE NOT active ORDER BY id',
  'SELECT id, last_seen, tags, prefs, avatar FROM users ORDER BY id',
  "SELECT id, name FROM products WHERE name LIKE 'Phone%' ORDER BY name",
  "SELECT id, name FROM products WHERE name ILIKE '%LAPTOP%' ORDER BY id",
  "SELECT id, name FROM products WHERE name LIKE '100\\% %' ORDER BY id",
  "SELECT id, sku FROM products WHERE sku LIKE 'BK\\_%' ORDER BY id",
  "SELECT id, sku FROM products WHERE sku = 'PH-03' ORDER BY id",
  "SELECT id, sku FROM products WHERE sku = 'PH-03   '",
  'SELECT id, sku FROM products WHERE sku IS NULL',
  'SELECT id, price FROM products WHERE price > 100 ORDER BY price DESC, id',
  'SELECT id, price FROM products WHERE price = 9.99 ORDER BY id',
  "SELECT id, cost FROM products WHERE cost = 'NaN'",
  'SELECT id, cost FROM products WHERE cost > 1000 ORDER BY id',
  'SELECT id, cost FROM products ORDER BY cost, id',
  'SELECT id, cost FROM products ORDER BY cost DESC NULLS LAST, id',
  'SELECT id, weight FROM products ORDER BY weight, id',
  'SELECT id, weight FROM products WHERE weight > 1 ORDER BY id',
  'SELECT id, weight FROM products WHERE weight <> 0 ORDER BY id',
  'SELECT id, stock FROM products WHERE stock = 0 OR stock IS NULL ORDER BY id',
  'SELECT id, stock FROM products ORDER BY stock DESC NULLS LAST, id',
  'SELECT id, views FROM products ORDER BY views, id',
  'SELECT id, released FROM products ORDER BY released NULLS FIRST, id',
  "SELECT id, released FROM products WHERE released > '2020-01-01' ORDER BY released, id",
  "SELECT id, released FROM products WHERE released = 'infinity' OR released = '-infinity' ORDER BY id",
  'SELECT id, meta, sizes FROM products ORDER BY id',
  'SELECT id, discontinued FROM products WHERE discontinued ORDER BY id',
  'SELECT id, name, category_id FROM products WHERE category_id IS NULL',
  'SELECT id, status, total FROM orders ORDER BY id LIMIT 15',
  'SELECT id, total FROM orders WHERE total > 100 ORDER BY total DESC, id',
  "SELECT id, total FROM orders WHERE total = 'NaN' OR total = 0 ORDER BY id",
  'SELECT id, total FROM orders ORDER BY total NULLS FIRST, id LIMIT 20',
  'SELECT id, placed_at FROM orders WHERE placed_at IS NULL ORDER BY id',
  "SELECT id, placed_at FROM orders WHERE placed_at >= '2024-01-10' AND placed_at < '2024-01-20' ORDER BY placed_at, id",
  'SELECT id, placed_at FROM orders ORDER BY placed_at DESC NULLS LAST, id LIMIT 10',
  'SELECT id, ship_date FROM orders WHERE ship_date IS NOT NULL ORDER BY ship_date, id',
  "SELECT id, note FROM orders WHERE note LIKE 'note%' ORDER BY id",
  "SELECT id, note FROM orders WHERE note = '' ORDER BY id",
  "SELECT id, note FROM orders WHERE note IS DISTINCT FROM 'leave at door' ORDER BY id",
  'SELECT id, priority FROM orders WHERE priority IS NOT DISTINCT FROM NULL ORDER BY id',
  'SELECT id, coupon FROM orders WHERE coupon IS NOT NULL ORDER BY coupon, id',
  "SELECT id, gift FROM orders WHERE gift = 'true' ORDER BY id",
  "SELECT id FROM orders WHERE status = 'paid' ORDER BY id",
  'SELECT id, status FROM orders ORDER BY status, id',
  'SELECT order_id, product_id, qty, unit_price, discount FROM order_items WHERE order_id = 1000 ORDER BY product_id',
  'SELECT order_id, product_id, discount FROM order_items WHERE discount > 0.2 ORDER BY order_id, product_id',
  'SELECT order_id, product_id FROM order_items WHERE discount = 0.1 ORDER BY order_id, product_id',
  'SELECT order_id, product_id, unit_price FROM order_items WHERE unit_price IS NULL ORDER BY 1, 2',
  "SELECT id, kind, at FROM events WHERE kind = 'login' ORDER BY at, id",
  'SELECT id, kind FROM events WHERE kind IS NULL ORDER BY id',
  'SELECT id, local_ts, tod, took FROM events ORDER BY id LIMIT 10',
  'SELECT id, ratio FROM events WHERE ratio > 5 ORDER BY ratio, id',
  'SELECT id, payload, flags FROM events ORDER BY id DESC LIMIT 10',
  'SELECT id, trace, raw FROM events WHERE trace IS NOT NULL ORDER BY trace',
  // detail pages
  'SELECT * FROM users WHERE id = 4',
  'SELECT * FROM products WHERE id = 7',
  'SELECT * FROM orders WHERE id = 9223372036854775807',
  'SELECT * FROM orders WHERE id = -9223372036854775808',
  'SELECT * FROM events WHERE id = 1000',
  'SELECT * FROM users WHERE id = 999',
  'SELECT email FROM users WHERE id = 1',
  // counts for badges
  'SELECT count(*) FROM users',
  'SELECT count(*) FROM users WHERE active',
  'SELECT count(*) FROM orders WHERE placed_at IS NULL',
  'SELECT count(*) FROM products WHERE discontinued = false AND stock > 0',
  "SELECT count(*) FROM events WHERE kind IN ('login', 'logout')",
  'SELECT count(name), count(age), count(tags), count(prefs) FROM users',
  'SELECT count(DISTINCT country) FROM users',
  'SELECT count(DISTINCT user_id) FROM orders',
  // existence checks
  "SELECT EXISTS (SELECT 1 FROM users WHERE email = 'ada@example.com')",
  'SELECT 1 FROM users WHERE id = 3',
  'SELECT id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id) ORDER BY id',
  'SELECT id FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id) ORDER BY id',
  'SELECT id FROM products WHERE id IN (SELECT product_id FROM order_items WHERE qty >= 5) ORDER BY id',
  'SELECT id FROM products WHERE id NOT IN (SELECT product_id FROM order_items) ORDER BY id',
  'SELECT id, name FROM categories WHERE id IN (SELECT category_id FROM products WHERE price > 100) ORDER BY id',
  'SELECT id FROM users WHERE id = ANY(ARRAY[1, 3, 5, 7]) ORDER BY id',
  "SELECT id FROM users WHERE country = ANY('{GB,JP}') ORDER BY id",
  "SELECT id FROM users WHERE id <> ALL('{1,2,3}') AND id < 8 ORDER BY id",
];

const REPORTS: string[] = [
  // grouping and aggregates
  'SELECT country, count(*) FROM users GROUP BY country ORDER BY country NULLS FIRST',
  'SELECT country, count(*) AS n FROM users GROUP BY country HAVING count(*) > 2 ORDER BY n DESC, country',
  'SELECT active, count(*) FROM users GROUP BY active ORDER BY active NULLS LAST',
  'SELECT country, min(age), max(age), avg(age), sum(age) FROM users GROUP BY country ORDER BY country',
  'SELECT country, sum(karma), avg(karma) FROM users WHERE karma BETWEEN -100 AND 1000 GROUP BY country ORDER BY country',
  'SELECT sum(balance), avg(balance), min(balance), max(balance) FROM users',
  'SELECT min(score), max(score) FROM users WHERE score > -1e300 AND score < 1e300',
  'SELECT min(created_at), max(created_at) FROM users',
  "SELECT min(birth), max(birth) FROM users WHERE birth > '-infinity' AND birth < 'infinity'",
  'SELECT min(email), max(email) FROM users',
  'SELECT category_id, count(*), min(price), max(price), sum(price), avg(price) FROM products GROUP BY category_id ORDER BY category_id NULLS LAST',
  'SELECT category_id, sum(stock) FROM products WHERE stock > 0 GROUP BY category_id ORDER BY 2 DESC, 1',
  'SELECT discontinued, count(*), sum(views) FROM products GROUP BY discontinued ORDER BY discontinued',
  'SELECT status, count(*), sum(total), avg(total) FROM orders WHERE total < 1000 GROUP BY status ORDER BY count(*) DESC, status',
  'SELECT user_id, count(*), sum(total) FROM orders WHERE total < 1000 GROUP BY user_id ORDER BY user_id NULLS FIRST',
  'SELECT user_id, count(*) FROM orders GROUP BY user_id HAVING count(*) >= 3 ORDER BY user_id',
  'SELECT priority, count(*) FROM orders GROUP BY priority ORDER BY priority NULLS FIRST',
  'SELECT gift, count(*) FROM orders GROUP BY gift ORDER BY gift',
  'SELECT coupon, count(*) FROM orders GROUP BY coupon ORDER BY coupon NULLS FIRST',
  "SELECT ship_date, count(*) FROM orders WHERE ship_date < '2024-01-20' GROUP BY ship_date ORDER BY ship_date",
  'SELECT order_id, count(*), sum(qty), sum(unit_price), avg(unit_price) FROM order_items WHERE order_id < 100 GROUP BY order_id ORDER BY order_id',
  'SELECT product_id, sum(qty) AS units FROM order_items WHERE order_id < 100 GROUP BY product_id ORDER BY units DESC, product_id LIMIT 5',
  'SELECT product_id, count(DISTINCT order_id) FROM order_items GROUP BY product_id ORDER BY product_id',
  'SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind NULLS LAST',
  'SELECT user_id, count(*), min(at), max(at) FROM events WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY user_id',
  'SELECT count(*), count(ratio), min(ratio), max(ratio) FROM events WHERE ratio < 100',
  'SELECT age / 10 * 10 AS decade, count(*) FROM users WHERE age BETWEEN 0 AND 200 GROUP BY age / 10 * 10 ORDER BY decade',
  'SELECT id % 3 AS bucket, count(*) FROM orders WHERE id BETWEEN 1 AND 60 GROUP BY id % 3 ORDER BY 1',
  'SELECT lower(name) AS n, count(*) FROM products GROUP BY lower(name) ORDER BY n',
  'SELECT upper(country), count(*) FROM users WHERE country IS NOT NULL GROUP BY upper(country) ORDER BY 1',
  'SELECT length(name), count(*) FROM users GROUP BY length(name) ORDER BY 1 NULLS FIRST',
  'SELECT count(*) FILTER (WHERE active) AS active, count(*) FILTER (WHERE NOT active) AS inactive FROM users',
  "SELECT CASE WHEN age < 30 THEN 'young' WHEN age < 60 THEN 'middle' ELSE 'senior' END AS bracket, count(*) FROM users GROUP BY 1 ORDER BY 1",
  "SELECT coalesce(country, '??') AS c, count(*) FROM users GROUP BY coalesce(country, '??') ORDER BY c",
  // joins for reports
  'SELECT u.id, u.name, count(o.id) AS orders FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.id, u.name ORDER BY u.id',
  'SELECT u.country, count(o.id) FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.country ORDER BY u.country NULLS FIRST',
  'SELECT c.name, count(p.id), sum(p.price) FROM categories c LEFT JOIN products p ON p.category_id = c.id GROUP BY c.id, c.name ORDER BY c.id',
  'SELECT p.name, sum(oi.qty) AS units FROM products p JOIN order_items oi ON oi.product_id = p.id WHERE oi.order_id < 100 GROUP BY p.id, p.name ORDER BY units DESC, p.id',
  'SELECT o.id, o.status, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id < 15 ORDER BY o.id',
  'SELECT o.id, u.email FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL ORDER BY o.id',
  'SELECT oi.order_id, p.name, oi.qty, oi.unit_price FROM order_items oi JOIN products p ON p.id = oi.product_id WHERE oi.order_id IN (2, 5, 8) ORDER BY oi.order_id, p.id',
  'SELECT oi.order_id, p.name, c.name AS category FROM order_items oi JOIN products p ON p.id = oi.product_id LEFT JOIN categories c ON c.id = p.category_id WHERE oi.order_id <= 6 ORDER BY oi.order_id, p.id',
  'SELECT c.name AS child, parent.name AS parent FROM categories c LEFT JOIN categories parent ON parent.id = c.parent_id ORDER BY c.id',
  'SELECT c.id, p.id FROM categories c RIGHT JOIN products p ON p.category_id = c.id ORDER BY p.id',
  "~SELECT u.id, e.id FROM users u JOIN events e ON e.user_id = u.id WHERE e.kind = 'purchase'",
  'SELECT u.id, e.kind, e.at FROM users u JOIN events e USING (id) ORDER BY u.id',
  '~SELECT c1.id, c2.id FROM categories c1 CROSS JOIN categories c2 WHERE c1.parent_id = c2.id',
  'SELECT u.name, o.total FROM users u, orders o WHERE o.user_id = u.id AND o.total > 130 ORDER BY o.total DESC, o.id',
  "SELECT u.id, u.email, o.id AS order_id, o.total FROM users u INNER JOIN orders o ON o.user_id = u.id AND o.status = 'shipped' ORDER BY u.id, o.id",
  'SELECT p.id, p.name FROM products p LEFT JOIN order_items oi ON oi.product_id = p.id WHERE oi.order_id IS NULL ORDER BY p.id',
  'SELECT u.id, coalesce(sum(o.total), 0) AS spent FROM users u LEFT JOIN orders o ON o.user_id = u.id AND o.total < 1000 GROUP BY u.id ORDER BY spent DESC, u.id',
  // CTEs and subqueries in FROM
  'WITH big AS (SELECT id, total FROM orders WHERE total > 120) SELECT count(*) FROM big',
  'WITH spend AS (SELECT user_id, sum(total) AS s FROM orders WHERE total < 1000 GROUP BY user_id) SELECT u.name, s.s FROM users u JOIN spend s ON s.user_id = u.id ORDER BY s.s DESC, u.id',
  'SELECT t.country, t.n FROM (SELECT country, count(*) AS n FROM users GROUP BY country) t WHERE t.n > 1 ORDER BY t.country',
  'SELECT x.id FROM (SELECT id FROM products WHERE price > 10) AS x ORDER BY x.id DESC',
  'WITH a AS (SELECT id FROM users WHERE active), b AS (SELECT user_id FROM orders) SELECT a.id FROM a WHERE a.id IN (SELECT user_id FROM b) ORDER BY a.id',
  // set operations
  "~SELECT country FROM users UNION SELECT 'XX'",
  'SELECT id FROM users WHERE age > 50 UNION SELECT id FROM users WHERE karma < 0 ORDER BY id',
  "SELECT id, 'user' AS kind FROM users WHERE id < 4 UNION ALL SELECT id, 'product' FROM products WHERE id < 4 ORDER BY kind, id",
  'SELECT user_id FROM orders INTERSECT SELECT user_id FROM events ORDER BY user_id NULLS FIRST',
  'SELECT id FROM users EXCEPT SELECT user_id FROM orders ORDER BY 1',
  '~SELECT name FROM categories UNION SELECT name FROM products',
  // VALUES lists: columns typed over all rows, rows in list order.
  "VALUES (3, 'c'), (1, 'a'), (2, NULL)",
  '~SELECT * FROM (VALUES (1, 2.5), (2, NULL), (3, 7)) AS v(a, b)',
  'SELECT v.x, u.email FROM (VALUES (2), (1)) v(x) JOIN users u ON u.id = v.x ORDER BY v.x',
  "~SELECT x, count(*) FROM (VALUES ('a'), ('b'), ('a')) v(x) GROUP BY x",
  '~SELECT id FROM users WHERE id < 3 UNION VALUES (7), (1)',
  "!VALUES (1), ('a')",
  // generate_series(int4, int4 [, int4]) in FROM
  'SELECT * FROM generate_series(1, 5)',
  'SELECT x FROM generate_series(10, 1, -3) AS g(x)',
  'SELECT g, g * 2 AS d FROM generate_series(1, 4) g ORDER BY g DESC',
  '~SELECT u.id, g FROM users u, generate_series(1, 2) g WHERE u.id < 3',
  'SELECT sum(g) FROM generate_series(2147483640, 2147483647) g',
  'SELECT count(*) FROM generate_series(5, 1)',
  '!SELECT * FROM generate_series(1, 3, 0)',
  '!SELECT * FROM generate_series(1::int2, 3::int2)',
  // Postgres 16 literal forms: local on 16+, upstream's syntax error before.
  '!<16 SELECT id, 0x1F AS hex, 0o17 AS oct, 0b101 AS bin FROM users WHERE id = 0x2',
  '!<16 SELECT id FROM users WHERE karma > -1_000 ORDER BY id',
  // ORDER BY ... USING < / > is ASC / DESC with the same NULL placement.
  'SELECT id, name FROM users ORDER BY id USING >',
  'SELECT age, id FROM users ORDER BY age USING >, id USING <',
  'SELECT name, id FROM users ORDER BY name USING < NULLS FIRST, id',
  'SELECT id FROM users UNION SELECT 100 ORDER BY 1 USING >',
  '!SELECT id FROM users ORDER BY id USING <>',
  // Window frames: ROWS and GROUPS offsets, RANGE to the partition's ends, EXCLUDE.
  'SELECT id, sum(id) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM users ORDER BY id',
  'SELECT id, count(*) OVER (ORDER BY id ROWS 2 PRECEDING), sum(age) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM users ORDER BY id',
  '~SELECT country, sum(age) OVER (ORDER BY country RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM users',
  '~SELECT country, sum(age) OVER (ORDER BY country GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW) FROM users',
  '~SELECT country, avg(age) OVER (ORDER BY country GROUPS BETWEEN CURRENT ROW AND 2 FOLLOWING EXCLUDE TIES) FROM users',
  '~SELECT age, sum(age) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE CURRENT ROW) FROM users',
  '~SELECT id, sum(balance) OVER (PARTITION BY country ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING) FROM users',
  '!SELECT sum(age) OVER (GROUPS CURRENT ROW) FROM users',
  '!SELECT sum(age) OVER (ORDER BY id ROWS BETWEEN -1 PRECEDING AND CURRENT ROW) FROM users',
  // Named windows: WINDOW w AS (...), OVER w, OVER (w ORDER BY ...).
  'SELECT id, sum(age) OVER w, rank() OVER w FROM users WINDOW w AS (ORDER BY id) ORDER BY id',
  '~SELECT country, count(*) OVER (w ORDER BY id) FROM users WINDOW w AS (PARTITION BY country)',
  '~SELECT country, count(*) OVER w2 FROM users WINDOW w1 AS (PARTITION BY country), w2 AS (w1 ORDER BY id ROWS 1 PRECEDING)',
  '!SELECT count(*) OVER w FROM users WINDOW w AS (ORDER BY id), v AS (ORDER BY nope)',
  '!SELECT count(*) OVER (w ORDER BY age) FROM users WINDOW w AS (ORDER BY id)',
  '!SELECT count(*) OVER (w ORDER BY age) FROM users WINDOW w AS (PARTITION BY id ROWS 1 PRECEDING)',
  // Nested set operations follow the parse tree (SQLite's compound selects are left to right).
  'SELECT id FROM users INTERSECT (SELECT user_id FROM orders UNION ALL SELECT user_id FROM orders) ORDER BY 1 NULLS FIRST',
  'SELECT id FROM users EXCEPT (SELECT user_id FROM orders EXCEPT SELECT id FROM users WHERE id < 3) ORDER BY 1',
  'SELECT id FROM users WHERE id < 4 UNION ALL SELECT id FROM users WHERE id < 3 INTERSECT SELECT id FROM users WHERE id > 1 ORDER BY 1',
  'SELECT id FROM users WHERE id < 4 UNION ALL (SELECT id FROM users ORDER BY id DESC LIMIT 2) ORDER BY 1',
  // constants and expressions
  'SELECT 1',
  "SELECT 'hello' AS greeting, 42 AS answer, 1.50 AS price, true AS ok, NULL AS nothing",
  'SELECT 2147483647 + 0, -32768, 9223372036854775807',
  "SELECT id, name || ' <' || email || '>' AS display FROM users ORDER BY id",
  "SELECT id, 'Order #' || id AS label FROM orders WHERE id < 5 ORDER BY id",
  'SELECT id, age + 1, age - 1, age * 2, karma / 2, karma % 7 FROM users WHERE id IN (1, 2, 7, 8) ORDER BY id',
  'SELECT id, -age AS neg FROM users WHERE age > -32768 ORDER BY id',
  'SELECT id, stock * 2 FROM products WHERE stock BETWEEN 0 AND 1000 ORDER BY id',
  'SELECT id, coalesce(name, email) FROM users ORDER BY id',
  "SELECT id, coalesce(note, '(none)') FROM orders WHERE id <= 10 ORDER BY id",
  "SELECT id, nullif(name, '') FROM users ORDER BY id",
  "SELECT id, CASE WHEN stock > 100 THEN 'plenty' WHEN stock > 0 THEN 'low' ELSE 'out' END FROM products ORDER BY id",
  "SELECT id, CASE status WHEN 'paid' THEN 1 ELSE 0 END FROM orders WHERE id < 9 ORDER BY id",
  "SELECT id, CASE WHEN active THEN 'yes' END AS flag FROM users ORDER BY id",
  'SELECT id, lower(email), upper(name), length(email) FROM users ORDER BY id',
  'SELECT id, char_length(name) FROM products ORDER BY id',
  'SELECT id, age::int8, age::int4, karma::text, id::varchar AS vid FROM users ORDER BY id',
  'SELECT id, balance::text, active::text, ext_id::text FROM users ORDER BY id',
  "SELECT '42'::int4 + id FROM users WHERE id = 1",
  'SELECT CAST(id AS numeric), CAST(age AS float8) FROM users WHERE id < 5 ORDER BY id',
  'SELECT id FROM users WHERE name COLLATE "C" < \'M\' ORDER BY id',
  'SELECT id, name FROM users ORDER BY name COLLATE "C" NULLS FIRST, id',
  // things reporting pages want that are not the simplest SQL
  'SELECT id, name, row_number() OVER (ORDER BY id) FROM users ORDER BY id',
  'SELECT id, country, rank() OVER (PARTITION BY country ORDER BY age) FROM users ORDER BY id',
  'SELECT id, user_id, total, sum(total) OVER (PARTITION BY user_id ORDER BY id) FROM orders WHERE total < 1000 ORDER BY id',
  'SELECT DISTINCT ON (user_id) user_id, id, total FROM orders ORDER BY user_id, id DESC',
  "SELECT string_agg(name, ', ' ORDER BY id) FROM categories",
  'SELECT user_id, array_agg(id ORDER BY id) FROM orders WHERE user_id < 4 GROUP BY user_id ORDER BY user_id',
  "SELECT id, prefs->>'theme' FROM users ORDER BY id",
  'SELECT id FROM users WHERE prefs @> \'{"theme":"dark"}\' ORDER BY id',
  "SELECT date_trunc('day', placed_at) AS day, count(*) FROM orders GROUP BY 1 ORDER BY 1",
  "SELECT id FROM orders WHERE placed_at > now() - interval '1000 days' ORDER BY id",
  'SELECT round(avg(total), 2) FROM orders',
  'SELECT id, price * 1.2 AS gross FROM products ORDER BY id',
  'SELECT id, extract(year FROM birth) FROM users ORDER BY id',
  'SELECT c.name, (SELECT count(*) FROM products p WHERE p.category_id = c.id) FROM categories c ORDER BY c.id',
  'SELECT id, greatest(age, 30), least(age, 30) FROM users ORDER BY id',
  "SELECT id FROM events WHERE took > interval '1 hour' ORDER BY id",
  "SELECT id, tod FROM events WHERE tod < '01:00' ORDER BY id",
];

/** Window functions, FILTER, scalar subqueries, numeric arithmetic: reporting-page shapes. */
const ANALYTICS: string[] = [
  'SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM users ORDER BY id',
  'SELECT id, country, row_number() OVER (PARTITION BY country ORDER BY id DESC) FROM users ORDER BY id',
  'SELECT id, age, rank() OVER (ORDER BY age DESC NULLS LAST) FROM users ORDER BY id',
  'SELECT id, age, dense_rank() OVER (ORDER BY age / 10) FROM users WHERE age BETWEEN 0 AND 100 ORDER BY id',
  'SELECT id, country, dense_rank() OVER (PARTITION BY country ORDER BY balance) FROM users ORDER BY id',
  'SELECT id, percent_rank() OVER (ORDER BY score), cume_dist() OVER (ORDER BY score) FROM users ORDER BY id',
  'SELECT id, ntile(4) OVER (ORDER BY id) FROM orders WHERE id BETWEEN 1 AND 60 ORDER BY id',
  'SELECT id, total, lag(total) OVER (ORDER BY id), lead(total) OVER (ORDER BY id) FROM orders WHERE id < 20 ORDER BY id',
  'SELECT id, user_id, lag(id, 2) OVER (PARTITION BY user_id ORDER BY id) AS prev2 FROM orders ORDER BY id',
  // Postgres 15 and 16 cannot subtract infinite timestamps (17 has infinite intervals).
  "!<17 SELECT id, lead(placed_at) OVER (ORDER BY id) - placed_at > interval '0' FROM orders WHERE id < 5 ORDER BY id",
  'SELECT id, count(*) OVER (), count(*) OVER (PARTITION BY status) FROM orders ORDER BY id',
  'SELECT id, user_id, count(id) OVER (PARTITION BY user_id ORDER BY id) AS running FROM orders ORDER BY id',
  'SELECT id, qty_sum FROM (SELECT order_id AS id, sum(qty) OVER (PARTITION BY order_id) AS qty_sum FROM order_items) s ORDER BY id LIMIT 10',
  'SELECT order_id, product_id, qty, sum(qty) OVER (PARTITION BY order_id ORDER BY product_id) FROM order_items WHERE order_id < 10 ORDER BY order_id, product_id',
  'SELECT order_id, product_id, avg(qty) OVER (PARTITION BY order_id) FROM order_items WHERE order_id < 10 ORDER BY order_id, product_id',
  'SELECT id, max(age) OVER (PARTITION BY country), min(karma) OVER (PARTITION BY country) FROM users ORDER BY id',
  'SELECT id, age, row_number() OVER (ORDER BY age) FROM users ORDER BY id',
  'SELECT id, status, row_number() OVER (PARTITION BY status) FROM orders ORDER BY id',
  'SELECT count(*) FILTER (WHERE total > 100) AS big, count(*) FILTER (WHERE total <= 100) AS small, count(*) FROM orders',
  'SELECT user_id, count(*) FILTER (WHERE gift) AS gifts, sum(priority) FILTER (WHERE priority > 0) FROM orders GROUP BY user_id ORDER BY user_id NULLS LAST',
  'SELECT country, avg(age) FILTER (WHERE active), max(email) FILTER (WHERE active IS NOT TRUE) FROM users GROUP BY country ORDER BY country NULLS FIRST',
  "SELECT count(DISTINCT user_id) FILTER (WHERE kind = 'login') FROM events",
  'SELECT u.id, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS n FROM users u ORDER BY u.id',
  'SELECT u.id, (SELECT max(o.total) FROM orders o WHERE o.user_id = u.id AND o.total < 1000) FROM users u ORDER BY u.id',
  'SELECT p.id, (SELECT c.name FROM categories c WHERE c.id = p.category_id) AS category FROM products p ORDER BY p.id',
  'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM orders) AS orders',
  'SELECT id, price + 1, price - 0.005, price * 2, price * qty_guess FROM (SELECT id, price, stock AS qty_guess FROM products WHERE stock BETWEEN 0 AND 1000) s ORDER BY id',
  'SELECT id, cost + price, cost * cost, -cost FROM products ORDER BY id',
  'SELECT id, round(price), round(price, 1), round(cost, 2), round(cost, -1) FROM products ORDER BY id',
  'SELECT order_id, sum(qty * unit_price) AS revenue FROM order_items WHERE order_id < 100 GROUP BY order_id ORDER BY revenue DESC NULLS LAST, order_id',
  'SELECT round(sum(unit_price * qty), 2), round(avg(unit_price), 3) FROM order_items WHERE order_id < 1000',
  'SELECT id, weight FROM products WHERE weight > 0.5 ORDER BY weight, id',
  'SELECT id, rating FROM users WHERE rating > score OR rating < 2 ORDER BY id',
  "SELECT id, upper(sku), lower(country), length(sku) FROM products, (SELECT 'GB'::char(2) AS country) c ORDER BY id",
  'SELECT country, count(DISTINCT id) FROM users GROUP BY country ORDER BY country NULLS LAST',
  'SELECT DISTINCT country FROM users ORDER BY country NULLS FIRST',
  "SELECT string_agg(name, ' | ' ORDER BY name) FROM users",
  "SELECT country, string_agg(email, ',' ORDER BY id DESC) FROM users GROUP BY country ORDER BY country NULLS FIRST",
  "SELECT parent_id, string_agg(slug, '/' ORDER BY slug NULLS FIRST, id) FROM categories GROUP BY parent_id ORDER BY parent_id NULLS FIRST",
  'SELECT array_agg(name ORDER BY id) FROM categories',
  'SELECT array_agg(name ORDER BY id) FROM users',
  'SELECT user_id, array_agg(priority ORDER BY id DESC) FROM orders WHERE user_id < 6 GROUP BY user_id ORDER BY user_id',
  'SELECT array_agg(coupon ORDER BY id) FROM orders WHERE id < 20',
  'SELECT order_id, array_agg(product_id ORDER BY product_id) FROM order_items GROUP BY order_id ORDER BY order_id LIMIT 10',
  "SELECT string_agg(name, ', ' ORDER BY price) FROM products",
  'SELECT id, greatest(age, 30), least(age, 30) AS capped FROM users ORDER BY id',
  'SELECT id, greatest(price, cost), least(price, 10) FROM products ORDER BY id',
  'SELECT id, greatest(score, 0), least(score, rating) FROM users ORDER BY id',
  "SELECT id, greatest(name, email), least(name, 'M') FROM users ORDER BY id",
  "SELECT id, greatest(created_at, '2024-03-10 00:00:00+00'), least(birth, '2000-01-01') FROM users ORDER BY id",
  "SELECT id, sku FROM products WHERE sku LIKE 'BK%' ORDER BY id",
  "SELECT id, sku FROM products WHERE sku LIKE '%3' OR sku LIKE 'PH-03 %' ORDER BY id",
  "SELECT id, country FROM users WHERE country ILIKE 'g_' ORDER BY id",
  'SELECT DISTINCT ON (country) country, id, name FROM users ORDER BY country, id',
  'SELECT DISTINCT ON (country) country, id, age FROM users ORDER BY country NULLS FIRST, age DESC, id',
  'SELECT DISTINCT ON (user_id) user_id, id, total, placed_at FROM orders WHERE user_id IS NOT NULL ORDER BY user_id, placed_at DESC NULLS LAST, id',
  'SELECT DISTINCT ON (o.user_id) o.user_id, u.email, o.id FROM orders o JOIN users u ON u.id = o.user_id ORDER BY o.user_id, o.id DESC LIMIT 5',
  'SELECT DISTINCT ON (category_id) category_id, name, price FROM products ORDER BY category_id, price DESC',
  'SELECT DISTINCT ON (kind) kind, id FROM events ORDER BY kind, user_id',
  'SELECT id, user_id, total, sum(total) OVER (PARTITION BY user_id ORDER BY id) AS running FROM orders WHERE user_id < 5 ORDER BY id',
  'SELECT id, avg(total) OVER (PARTITION BY user_id) FROM orders WHERE user_id < 5 ORDER BY id',
  "SELECT id, prefs -> 'theme', prefs -> 'n', prefs -> 'a' FROM users ORDER BY id",
  "SELECT id, prefs -> 'a' -> 2 ->> 'b', prefs -> 'a' ->> -1, prefs -> 0, prefs ->> 1 FROM users ORDER BY id",
  "SELECT id, payload ->> 'page' AS page, payload -> 'ok' AS ok FROM events ORDER BY id",
  "SELECT id, payload -> 'deep' -> 'a' -> 1 ->> 'b' FROM events WHERE id >= 1000 ORDER BY id",
  "SELECT id FROM events WHERE payload ->> 'page' = '/p/7'",
  "SELECT payload ->> 'page', count(*) FROM events WHERE payload ->> 'page' LIKE '/p/1%' GROUP BY payload ->> 'page' ORDER BY 1",
  "SELECT id, coalesce(prefs ->> 'theme', 'default') FROM users ORDER BY id",
  'SELECT id, ship_date + 7 AS due, ship_date - 1, 30 + ship_date FROM orders WHERE id < 20 ORDER BY id',
  "SELECT id, ship_date - date '2024-01-01' AS days FROM orders WHERE ship_date IS NOT NULL AND id BETWEEN 1 AND 100 ORDER BY id",
  "SELECT id FROM orders WHERE ship_date - 3 > '2024-01-30' ORDER BY id",
  'SELECT id, birth + 365 FROM users ORDER BY id',
  'SELECT id, extract(month FROM birth), extract(day FROM birth), extract(dow FROM birth), extract(doy FROM birth) FROM users ORDER BY id',
  "SELECT extract(year FROM ship_date) AS y, extract(quarter FROM ship_date) AS q, count(*) FROM orders WHERE ship_date < 'infinity' GROUP BY 1, 2 ORDER BY 1, 2",
  'SELECT id, extract(epoch FROM released), extract(century FROM released), extract(isodow FROM released) FROM products ORDER BY id',
  'SELECT country, min(country), max(sku) FROM users, products WHERE users.id = products.id GROUP BY country ORDER BY country',
  'SELECT min(sku), max(sku), min(country) FROM products, users WHERE products.id = users.id',
  'SELECT price, count(*) FROM products GROUP BY price ORDER BY price NULLS FIRST',
  'SELECT cost, count(*) FROM products GROUP BY cost ORDER BY cost',
  'SELECT unit_price, sum(qty) FROM order_items WHERE order_id < 20 GROUP BY unit_price ORDER BY unit_price',
  'SELECT discount, count(*) FROM order_items GROUP BY discount ORDER BY discount NULLS LAST',
  'SELECT score, count(*) FROM users GROUP BY score ORDER BY score',
  'SELECT DISTINCT price FROM products ORDER BY price',
  'SELECT country, count(*) FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id) GROUP BY country ORDER BY country NULLS FIRST',
  'SELECT category_id, count(*) FROM products WHERE id IN (SELECT product_id FROM order_items WHERE qty > 3) GROUP BY category_id ORDER BY category_id NULLS FIRST',
  'SELECT count(DISTINCT cost), count(DISTINCT weight), count(DISTINCT discount) FROM products, order_items WHERE products.id = order_items.product_id',
  'SELECT DISTINCT discount FROM order_items ORDER BY discount',
  '~SELECT DISTINCT weight, discontinued FROM products',
  'SELECT round(total, 0) AS r, count(*) FROM orders WHERE total < 100 GROUP BY round(total, 0) ORDER BY r',
];

/**
 * Enums: stored as labels, compared and sorted in declaration order
 * (enumsortorder), which for both types differs from the labels' text order.
 */
const ENUMS: string[] = [
  'SELECT id, urgency, fallback FROM tickets ORDER BY id',
  'SELECT * FROM tickets ORDER BY urgency, id',
  'SELECT id, urgency FROM tickets ORDER BY urgency DESC, id',
  'SELECT id, urgency FROM tickets ORDER BY urgency NULLS FIRST, id',
  'SELECT id, urgency FROM tickets ORDER BY urgency DESC NULLS LAST, id',
  "SELECT id FROM tickets WHERE urgency = 'it''s' ORDER BY id",
  "SELECT id FROM tickets WHERE urgency <> 'zeta' ORDER BY id",
  "SELECT id, urgency FROM tickets WHERE urgency < 'b c' ORDER BY id",
  "SELECT id, urgency FROM tickets WHERE urgency >= 'Alpha' ORDER BY id",
  "SELECT id, urgency FROM tickets WHERE 'Alpha' > urgency ORDER BY id",
  "SELECT id FROM tickets WHERE urgency BETWEEN 'Alpha' AND 'b c' ORDER BY id",
  "SELECT id FROM tickets WHERE urgency NOT BETWEEN 'Alpha' AND 'b c' ORDER BY id",
  "SELECT id FROM tickets WHERE urgency IN ('zeta', 'é') ORDER BY id",
  "SELECT id FROM tickets WHERE urgency NOT IN ('zeta', 'é') ORDER BY id",
  "SELECT id FROM tickets WHERE urgency IS DISTINCT FROM 'zeta' ORDER BY id",
  'SELECT id FROM tickets WHERE urgency IS NOT DISTINCT FROM NULL ORDER BY id',
  'SELECT id, urgency, fallback FROM tickets WHERE urgency < fallback ORDER BY id',
  'SELECT id FROM tickets WHERE urgency = fallback ORDER BY id',
  'SELECT id, urgency > fallback, urgency <= fallback FROM tickets ORDER BY id',
  'SELECT min(urgency), max(urgency), min(fallback), max(fallback) FROM tickets',
  'SELECT min(urgency), max(urgency) FROM tickets WHERE id > 100',
  'SELECT urgency, count(*) FROM tickets GROUP BY urgency ORDER BY urgency',
  'SELECT urgency, count(*) FROM tickets GROUP BY urgency ORDER BY urgency DESC NULLS LAST',
  'SELECT DISTINCT urgency FROM tickets ORDER BY urgency',
  'SELECT DISTINCT fallback FROM tickets ORDER BY 1 DESC',
  '~SELECT DISTINCT urgency FROM tickets',
  'SELECT count(DISTINCT urgency), count(urgency) FROM tickets',
  'SELECT id, urgency::text, fallback::varchar FROM tickets ORDER BY id',
  "SELECT id, urgency::text || '!' FROM tickets ORDER BY id",
  'SELECT id FROM tickets ORDER BY urgency::text, id',
  "SELECT id, coalesce(urgency, 'b c') FROM tickets ORDER BY 2, id",
  "SELECT id, CASE WHEN id > 4 THEN urgency ELSE 'zeta' END AS u FROM tickets ORDER BY u, id",
  "SELECT id, CASE urgency WHEN 'Alpha' THEN 'a' WHEN 'é' THEN 'e' ELSE '?' END FROM tickets ORDER BY id",
  'SELECT id, greatest(urgency, fallback), least(urgency, fallback) FROM tickets ORDER BY id',
  "SELECT id, nullif(urgency, 'zeta') FROM tickets ORDER BY id",
  "SELECT fallback, min(urgency), max(urgency) FROM tickets GROUP BY fallback HAVING max(urgency) > 'zeta' ORDER BY fallback",
  'SELECT urgency FROM tickets UNION SELECT fallback FROM tickets ORDER BY 1',
  "SELECT urgency FROM tickets UNION ALL SELECT 'é' ORDER BY 1 NULLS FIRST",
  'SELECT fallback FROM tickets INTERSECT SELECT urgency FROM tickets ORDER BY 1 DESC',
  'SELECT id, rank() OVER (ORDER BY urgency), dense_rank() OVER (PARTITION BY fallback ORDER BY urgency DESC) FROM tickets ORDER BY id',
  'SELECT id, lag(urgency) OVER (ORDER BY id), lead(fallback) OVER (ORDER BY id) FROM tickets ORDER BY id',
  'SELECT id, count(*) OVER (PARTITION BY fallback) FROM tickets ORDER BY id',
  'SELECT id FROM tickets t WHERE EXISTS (SELECT 1 FROM tickets u WHERE u.fallback = t.urgency AND u.id <> t.id) ORDER BY id',
  'SELECT t.id, (SELECT max(u.urgency) FROM tickets u WHERE u.fallback = t.fallback) FROM tickets t ORDER BY t.id',
  'SELECT x.u FROM (SELECT urgency AS u FROM tickets WHERE id < 6) x ORDER BY x.u',
  "WITH f AS (SELECT fallback FROM tickets WHERE fallback > 'zeta') SELECT fallback, count(*) FROM f GROUP BY fallback ORDER BY fallback",
  'SELECT id, status, prev_status FROM orders WHERE status > prev_status ORDER BY id',
  'SELECT id FROM orders WHERE status = prev_status ORDER BY id',
  "SELECT id FROM orders WHERE status IN ('paid', 'shipped') AND id < 30 ORDER BY id",
  'SELECT status, min(prev_status), max(prev_status), count(*) FROM orders GROUP BY status ORDER BY status DESC',
  'SELECT DISTINCT status, prev_status FROM orders ORDER BY status, prev_status NULLS FIRST',
  "SELECT id, status FROM orders WHERE status < 'shipped' ORDER BY status DESC, id LIMIT 10",
  "SELECT id, status FROM orders WHERE status >= 'cancelled' ORDER BY id",
  'SELECT o.id, o.status, t.id FROM orders o JOIN tickets t ON t.id = o.priority WHERE o.id < 12 ORDER BY o.id, t.id',
  'SELECT id, history FROM tickets ORDER BY id',
  // A set operation over a type without compiler facts reports the branches' size (timestamp: 8).
  '~SELECT last_seen FROM users UNION ALL SELECT local_ts FROM events WHERE id < 5',
  "!SELECT id FROM orders WHERE status = 'nope'",
  "!SELECT id FROM orders WHERE status = 'Paid'",
  "!SELECT id FROM orders WHERE status < ' paid'",
  "!SELECT id FROM tickets WHERE urgency IN ('zeta', 'nope')",
  '!SELECT id FROM tickets WHERE urgency = title',
  "!SELECT id FROM tickets WHERE urgency = 'zeta'::text",
  '!SELECT lower(urgency) FROM tickets',
  "!SELECT id FROM tickets WHERE urgency LIKE 'z%'",
  '!SELECT o.id FROM orders o JOIN tickets t ON t.urgency = o.status',
  '!SELECT sum(urgency) FROM tickets',
  "!SELECT coalesce(urgency, 'nope') FROM tickets",
];

/**
 * Statements Postgres rejects (prefix `!`): the local path must never answer
 * them (it forwards, and upstream raises the error).
 */
/** Integer input forms: blanks and signs everywhere, 0x/0o/0b and underscores from 16 on. */
const INT_INPUT: string[] = [
  "SELECT '  12  '::int4 AS a, '+7'::int2 AS b, E'\\t-9223372036854775808\\n'::int8 AS c, int4 ' -0 ' AS d",
  "SELECT id FROM users WHERE age = ' 30' ORDER BY id",
  "!<16 SELECT '0x1F'::int4 AS a, '0o17'::int2 AS b, '-0b101'::int8 AS c, '1_000_000'::int4 AS d, '0x_1A'::int8 AS e",
  "!<16 SELECT '-0x80000000'::int4 AS a, '0X7FFF'::int2 AS b",
  "!<16 SELECT pg_input_is_valid('34', 'int2') AS a, pg_input_is_valid('50000', 'smallint') AS b, pg_input_is_valid('asdf', 'integer') AS c, pg_input_is_valid(' -9223372036854775808 ', 'int8') AS d",
  // boolin and float8in: blanks and prefixes, and their errors (raised locally).
  "SELECT ' TRU '::bool AS a, 'of'::bool AS b, 'Y'::bool AS c, bool ' 0' AS d, ' -1.5e3 '::float8 AS e, float8 ' .5' AS f",
  "!SELECT 'o'::bool",
  "!SELECT 'truex'::bool",
  "!SELECT '1e400x'::float8",
  "!SELECT ' 1e-400'::float8",
  "!SELECT '1.5 x'::float8",
  "!SELECT ''::float8",
  "!<16 SELECT * FROM pg_input_error_info('50000', 'int2')",
  "!<16 SELECT message, sql_error_code FROM pg_input_error_info('0x', 'int8') e",
  "!<16 SELECT * FROM pg_input_error_info('12', 'integer')",
  "!<16 SELECT e.* FROM pg_input_error_info('2147483648 years', 'interval') AS e, pg_input_error_info('1 day 1 day', 'interval') AS f",
  "!<16 SELECT pg_input_is_valid('1.5 weeks', 'interval') AS a, pg_input_is_valid('1 day 1 day', 'interval') AS b, pg_input_is_valid('178956971 years', 'interval') AS c",
];

const ERRORS: string[] = [
  '!SELECT c.id, (SELECT p.name FROM products p WHERE p.category_id = c.id) FROM categories c ORDER BY c.id',
  '!SELECT id, 100 / (age - age) FROM users ORDER BY id',
  '!SELECT id, age * age FROM users ORDER BY id',
  '!SELECT id, -age FROM users ORDER BY id',
  '!SELECT id, -age FROM users ORDER BY name LIMIT 1',
  '!SELECT id, karma + 1 FROM users ORDER BY id',
  "!SELECT id FROM users WHERE age = 'abc'",
  '!SELECT id FROM users WHERE age + 1::int2 > 0',
  '!SELECT id, stock::int2 FROM products ORDER BY id',
  '!SELECT id FROM users WHERE email::int4 > 0',
  '!SELECT id, 1 / 0 FROM users',
  "!SELECT id FROM users WHERE name LIKE 'a\\'",
  '!SELECT nosuch FROM users',
  '!SELECT id FROM users ORDER BY 5',
  '!SELECT id, count(*) FROM users',
  '!SELECT id FROM users LIMIT -1',
  // int2in/int4in/int8in errors, raised locally as Postgres words them (15 and 16+ differ).
  "!SELECT id FROM users WHERE age = '12x'",
  "!SELECT id FROM users WHERE age = ' 99999999999 '",
  "!SELECT '2147483649x'::int4 AS v",
  "!SELECT '32768'::int2 AS v",
  "!SELECT int8 '9223372036854775808' AS v",
  "!SELECT '- 1'::int4 AS v",
  "!SELECT '1__0'::int4 AS v",
  "!SELECT '_1'::int8 AS v",
  "!SELECT '0x'::int4 AS v",
  "!SELECT '0x80000000'::int4 AS v",
  "!SELECT id, ship_date - date '2024-01-01' AS days FROM orders WHERE ship_date IS NOT NULL AND id < 100 ORDER BY id",
  '!SELECT id, birth + 2147483647 FROM users ORDER BY id',
  "!SELECT string_agg(name, ',' ORDER BY id), sum(age * age) FROM users",
  '!SELECT id, (SELECT id FROM orders o WHERE o.user_id = u.id) FROM users u ORDER BY id LIMIT 2',
];

/** Statements over one table repeated for every table: the shapes list/detail/count pages send. */
function perTable(): string[] {
  const tables: [string, string][] = [
    ['users', 'id'],
    ['products', 'id'],
    ['categories', 'id'],
    ['orders', 'id'],
    ['order_items', 'order_id, product_id'],
    ['events', 'id'],
  ];
  const out: string[] = [];
  for (const [t, key] of tables) {
    out.push(`SELECT count(*) AS n FROM ${t}`);
    out.push(`SELECT * FROM public.${t} ORDER BY ${key} LIMIT 5`);
    out.push(`SELECT * FROM ${t} ORDER BY ${key} DESC LIMIT 5 OFFSET 2`);
    out.push(`SELECT ${key} FROM ${t} ORDER BY ${key}`);
    out.push(`SELECT count(*) AS total FROM (SELECT * FROM ${t}) AS sub`);
  }
  return out;
}

/** Filters per column type, as an admin panel's filter sidebar produces them. */
function filters(): string[] {
  const out: string[] = [];
  const ints: [string, string, string[]][] = [
    ['users', 'age', ['0', '18', '32767', '-32768']],
    ['users', 'karma', ['0', '9223372036854775807', '-5']],
    ['products', 'stock', ['0', '2147483647', '-2147483648']],
    ['orders', 'priority', ['0', '1', '2']],
  ];
  for (const [t, c, vals] of ints) {
    for (const v of vals) out.push(`SELECT id, ${c} FROM ${t} WHERE ${c} = ${v} ORDER BY id`);
    out.push(`SELECT id FROM ${t} WHERE ${c} >= ${vals[0]} AND ${c} <= ${vals[1]} ORDER BY id`);
  }
  const texts: [string, string, string[]][] = [
    ['users', 'name', ['Ada', 'eve', 'straße', 'ÉCOLE', '', 'a%b_c']],
    ['products', 'name', ['Café', 'cable', 'Cable']],
    ['categories', 'slug', ['books', '', 'zz-top']],
  ];
  for (const [t, c, vals] of texts) {
    for (const v of vals) {
      out.push(`SELECT id FROM ${t} WHERE ${c} = '${v}' ORDER BY id`);
      out.push(`SELECT id FROM ${t} WHERE ${c} > '${v}' ORDER BY ${c}, id`);
    }
  }
  const floats: [string, string, string[]][] = [
    ['users', 'score', ["'NaN'", "'Infinity'", '0', '-0.0', '1.5', '0.1']],
    ['products', 'weight', ["'NaN'", '0', '0.1']],
    ['events', 'ratio', ['1', "'-0'"]],
  ];
  for (const [t, c, vals] of floats) {
    for (const v of vals) out.push(`SELECT id, ${c} FROM ${t} WHERE ${c} = ${v} ORDER BY id`);
    out.push(`SELECT id, ${c} FROM ${t} WHERE ${c} < ${vals[1]} ORDER BY ${c}, id`);
  }
  const nums: [string, string, string[]][] = [
    ['users', 'balance', ['0', '10.5', '-0.01']],
    ['products', 'cost', ["'NaN'", "'Infinity'", '1.005', '0']],
    ['orders', 'total', ['0', "'NaN'"]],
  ];
  for (const [t, c, vals] of nums) {
    for (const v of vals) out.push(`SELECT id, ${c} FROM ${t} WHERE ${c} = ${v} ORDER BY id`);
    out.push(`SELECT id, ${c} FROM ${t} WHERE ${c} <= ${vals[1]} ORDER BY ${c}, id`);
  }
  const times: [string, string, string[]][] = [
    ['users', 'created_at', ["'2024-03-15 09:00:00+00'", "'infinity'", "'2024-03-15 10:00:00+01'"]],
    ['orders', 'placed_at', ["'2024-01-05 00:00:00+00'", "'-infinity'"]],
    ['users', 'birth', ["'2000-02-29'", "'infinity'", "'1970-01-01'"]],
    ['orders', 'ship_date', ["'2024-01-10'", "'2024-01-06'"]],
  ];
  for (const [t, c, vals] of times) {
    for (const v of vals) out.push(`SELECT id FROM ${t} WHERE ${c} = ${v} ORDER BY id`);
    out.push(`SELECT id, ${c} FROM ${t} WHERE ${c} > ${vals[0]} ORDER BY ${c}, id`);
  }
  return out;
}

export const CORPUS: string[] = [
  ...JSON_CORPUS,
  ...INTERVAL_CORPUS,
  ...FLOAT_CORPUS,
  ...FORMATTING_CORPUS,
  ...DATETIME_CORPUS,
  ...RECURSIVE_CORPUS,
  ...SEARCH_CYCLE_CORPUS,
  ...ARRAY_CORPUS,
  ...SRF_CORPUS,
  ...SHAPES_CORPUS,
  ...LATERAL_CORPUS,
  ...GROUPING_CORPUS,
  ...ROWS_CORPUS,
  ...STRINGS_CORPUS,
  ...JSON_MUTATORS_CORPUS,
  ...BUCKETS_CORPUS,
  ...TO_NUMBER_CORPUS,
  ...VARIADIC_CORPUS,
  ...DATE_PART_CORPUS,
  ...TEXT_CASTS_CORPUS,
  ...BYTEA_CORPUS,
  ...BITS_CORPUS,
  ...MONEY_CORPUS,
  ...MULTIDIM_CORPUS,
  ...SLICES_CORPUS,
  ...ROW_SUBLINKS_CORPUS,
  ...NUMERIC_FNS_CORPUS,
  ...NUMERIC_MATH_CORPUS,
  ...TEXT_FNS_CORPUS,
  ...IDENT_DATE_CORPUS,
  ...ARRAY_ERRORS_CORPUS,
  ...PLAN_ERRORS_CORPUS,
  ...JSON_ERRORS_CORPUS,
  ...NAMES_CORPUS,
  ...DATE_BIN_CORPUS,
  ...INTERVAL_CASTS_CORPUS,
  ...ORDERED_AGGS_CORPUS,
  ...ARRAY_SEARCH_CORPUS,
  ...ARRAY_FILL_CORPUS,
  ...NAMED_ARGS_CORPUS,
  ...WINDOWS_CORPUS,
  ...ORM,
  ...ADMIN,
  ...REPORTS,
  ...ANALYTICS,
  ...INT_INPUT,
  ...ERRORS,
  ...ENUMS,
  ...perTable(),
  ...filters(),
];

/** Parameterised statements for the extended protocol, with executions (text parameters). */
export const PREPARED: { sql: string; executions: (string | null)[][] }[] = [
  {
    // SQLAlchemy over psycopg 3: a cast parameter in LIMIT; -1 and int4 overflow are Postgres errors.
    sql: 'SELECT id FROM users ORDER BY id LIMIT $1::INTEGER OFFSET $2::BIGINT',
    executions: [
      ['2', '1'],
      ['0', '0'],
      [null, '3'],
    ],
  },
  {
    // Errors at run time upstream (never answered here): counted as forwarded.
    sql: 'SELECT id FROM users ORDER BY id LIMIT $1::int4 OFFSET $2::int8',
    executions: [
      ['-1', '0'],
      ['99999999999', '0'],
      ['2', '-1'],
    ],
  },
  { sql: 'SELECT * FROM users WHERE id = $1', executions: [['1'], ['4'], ['999']] },
  { sql: 'SELECT id, email FROM users WHERE email = $1', executions: [['ada@example.com'], ['nobody']] },
  {
    sql: 'SELECT "public"."users"."id", "public"."users"."email" FROM "public"."users" WHERE "public"."users"."id" = $1 LIMIT $2 OFFSET $3',
    executions: [
      ['1', '1', '0'],
      ['2', '10', '1'],
    ],
  },
  {
    sql: 'SELECT "users".* FROM "users" WHERE "users"."id" = $1 LIMIT $2',
    executions: [
      ['3', '1'],
      ['5', '1'],
    ],
  },
  {
    sql: 'SELECT id, name FROM users ORDER BY id LIMIT $1 OFFSET $2',
    executions: [
      ['5', '0'],
      ['5', '20'],
      [null, '3'],
    ],
  },
  {
    sql: 'SELECT id FROM users WHERE age > $1 AND country = $2 ORDER BY id',
    executions: [
      ['20', 'US'],
      ['0', 'GB'],
    ],
  },
  { sql: 'SELECT id FROM users WHERE name ILIKE $1 ORDER BY id', executions: [['%a%'], ['A%']] },
  {
    sql: 'SELECT id, balance FROM users WHERE balance > $1 ORDER BY id',
    executions: [['10'], ['-1.5'], ['NaN']],
  },
  {
    sql: 'SELECT id, score FROM users WHERE score < $1 ORDER BY id',
    executions: [['2'], ['Infinity'], ['-0']],
  },
  {
    sql: 'SELECT id FROM users WHERE created_at >= $1 ORDER BY id',
    executions: [['2024-03-15 00:00:00+00'], ['infinity']],
  },
  { sql: 'SELECT id FROM users WHERE birth < $1 ORDER BY id', executions: [['1990-01-01'], ['-infinity']] },
  { sql: 'SELECT id FROM users WHERE active = $1 ORDER BY id', executions: [['t'], ['false']] },
  {
    sql: 'SELECT id FROM users WHERE ext_id = $1',
    executions: [['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'], [null]],
  },
  {
    sql: 'SELECT id FROM users WHERE id = ANY($1) ORDER BY id',
    executions: [['{1,2,3}'], ['{}'], ['{4,NULL}']],
  },
  {
    sql: 'SELECT id, price FROM products WHERE category_id = $1 AND price <= $2 ORDER BY price, id',
    executions: [
      ['3', '800'],
      ['2', '10'],
    ],
  },
  { sql: 'SELECT id FROM products WHERE name LIKE $1 ORDER BY id', executions: [['Phone%'], ['%é%']] },
  { sql: 'SELECT count(*) FROM orders WHERE user_id = $1', executions: [['4'], ['999']] },
  {
    sql: 'SELECT status, count(*) FROM orders WHERE user_id = $1 GROUP BY status ORDER BY status',
    executions: [['1'], ['2']],
  },
  { sql: 'SELECT id, total FROM orders WHERE id = $1', executions: [['9223372036854775807'], ['1']] },
  {
    sql: 'SELECT order_id, product_id, qty FROM order_items WHERE order_id = $1 ORDER BY product_id',
    executions: [['8'], ['1000']],
  },
  {
    sql: 'SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id < $1 ORDER BY o.id',
    executions: [['5']],
  },
  {
    sql: 'SELECT id FROM events WHERE kind = $1 ORDER BY id LIMIT $2',
    executions: [
      ['login', '3'],
      ['view', '100'],
    ],
  },
  {
    sql: 'SELECT id FROM categories WHERE parent_id IS NOT DISTINCT FROM $1::int4 ORDER BY id',
    executions: [['2'], [null]],
  },
  { sql: 'SELECT $1::text || name FROM categories ORDER BY id', executions: [['> '], ['']] },
  {
    sql: 'SELECT id, row_number() OVER (ORDER BY id) FROM orders WHERE user_id = $1 ORDER BY id',
    executions: [['4'], ['7']],
  },
  {
    sql: 'SELECT user_id, string_agg(note, $1 ORDER BY id) FROM orders WHERE user_id < $2 GROUP BY user_id ORDER BY user_id',
    executions: [
      [', ', '5'],
      ['', '3'],
    ],
  },
  {
    sql: "SELECT id FROM events WHERE payload ->> 'page' = $1 ORDER BY id",
    executions: [['/p/7'], ['/none']],
  },
  {
    sql: 'SELECT id, ship_date + $1::int4 FROM orders WHERE id BETWEEN 1 AND 10 ORDER BY id',
    executions: [['1'], ['-31']],
  },
  {
    sql: 'SELECT u.id, (SELECT count(*) FROM orders o WHERE o.user_id = u.id AND o.total > $1) FROM users u ORDER BY u.id',
    executions: [['100'], ['0']],
  },
  {
    sql: 'SELECT DISTINCT ON (user_id) user_id, id FROM orders WHERE total > $1 ORDER BY user_id, id DESC',
    executions: [['50'], ['NaN']],
  },
  { sql: 'SELECT id, price * $1 FROM products ORDER BY id', executions: [['1.5'], ['-0.01']] },
  {
    sql: 'SELECT count(*) FILTER (WHERE age > $1), count(*) FILTER (WHERE country = $2) FROM users',
    executions: [
      ['30', 'GB'],
      ['0', 'US'],
    ],
  },
  {
    sql: "SELECT id, status, prev_status FROM orders WHERE user_id = $1 AND status <> 'cancelled' ORDER BY status DESC, prev_status, id",
    executions: [['4'], ['7'], [null]],
  },
  {
    sql: 'SELECT urgency, count(*), max(fallback) FROM tickets WHERE id > $1 GROUP BY urgency ORDER BY urgency NULLS FIRST',
    executions: [['0'], ['4']],
  },
  {
    sql: 'SELECT id FROM users WHERE karma BETWEEN $1 AND $2 ORDER BY id',
    executions: [
      ['0', '20'],
      ['-9223372036854775808', '0'],
    ],
  },
];
