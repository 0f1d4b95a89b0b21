/**
 * The small shop schema of the app-reads scenario, generated deterministically
 * in SQL (no random(): every run reads the same data), and the ORM-style read
 * statements run against it.
 */
import type { PostgresInstance } from '../../test/helpers/postgres.js';

export const SHOP = { customers: 5000, products: 2000, orders: 20_000, itemsPerOrder: 3, categories: 20 };

export async function createShop(pg: PostgresInstance): Promise<void> {
  const s = SHOP;
  await pg.query(`
    CREATE TABLE categories (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO categories SELECT g, 'category ' || g FROM generate_series(1, ${s.categories}) g;
    CREATE TABLE products (
      id int PRIMARY KEY, category_id int NOT NULL REFERENCES categories, name text NOT NULL,
      price numeric(10,2) NOT NULL, stock int NOT NULL);
    INSERT INTO products
      SELECT g, 1 + g % ${s.categories}, 'product ' || g, 1 + ((g * 37) % 10000) / 100.0, (g * 13) % 500
      FROM generate_series(1, ${s.products}) g;
    CREATE TABLE customers (
      id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, city text NOT NULL,
      created_at timestamptz NOT NULL);
    INSERT INTO customers
      SELECT g, 'customer ' || g, 'c' || g || '@example.com',
             (ARRAY['Paris','Berlin','Lisbon','Oslo','Rome'])[1 + g % 5],
             timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes'
      FROM generate_series(1, ${s.customers}) g;
    CREATE TABLE orders (
      id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, status text NOT NULL,
      created_at timestamptz NOT NULL);
    INSERT INTO orders
      SELECT g, 1 + (g * 7919) % ${s.customers}, (ARRAY['pending','paid','shipped','delivered'])[1 + g % 4],
             timestamptz '2024-01-01 00:00:00+00' + g * interval '11 minutes'
      FROM generate_series(1, ${s.orders}) g;
    CREATE INDEX ON orders (customer_id, created_at);
    CREATE TABLE order_items (
      order_id int NOT NULL REFERENCES orders, line int NOT NULL, product_id int NOT NULL REFERENCES products,
      quantity int NOT NULL, unit_price numeric(10,2) NOT NULL, PRIMARY KEY (order_id, line));
    INSERT INTO order_items
      SELECT o, l, 1 + (o * 31 + l * 17) % ${s.products}, 1 + (o + l) % 5, 1 + ((o * 7 + l) % 5000) / 100.0
      FROM generate_series(1, ${s.orders}) o, generate_series(1, ${s.itemsPerOrder}) l;
    CREATE INDEX ON order_items (product_id);
  `);
  await pg.query('VACUUM ANALYZE categories, products, customers, orders, order_items');
}

export interface AppStatement {
  name: string;
  /** Relative frequency in the mix (pgbench `-f file@weight`). */
  weight: number;
  /** pgbench `\set` lines for the parameters. */
  sets: string[];
  /** The statement, with pgbench `:variables`. */
  sql: string;
  /** Sample values, to ask Outpost how it routes the statement. */
  sample: Record<string, number>;
}

const cid = `\\set cid random(1, ${SHOP.customers})`;
const oid = `\\set oid random(1, ${SHOP.orders})`;
const pid = `\\set pid random(1, ${SHOP.products})`;
const cat = `\\set cat random(1, ${SHOP.categories})`;

export const APP_STATEMENTS: AppStatement[] = [
  {
    name: 'customer by id',
    weight: 20,
    sets: [cid],
    sql: 'SELECT id, name, email, city, created_at FROM customers WHERE id = :cid',
    sample: { cid: 42 },
  },
  {
    name: 'product by id',
    weight: 20,
    sets: [pid],
    sql: 'SELECT p.id, p.name, p.price, p.stock, c.name AS category FROM products p JOIN categories c ON c.id = p.category_id WHERE p.id = :pid',
    sample: { pid: 42 },
  },
  {
    name: 'order with its lines',
    weight: 15,
    sets: [oid],
    sql: 'SELECT o.id, o.status, o.created_at, oi.line, oi.quantity, oi.unit_price, p.name FROM orders o JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id WHERE o.id = :oid ORDER BY oi.line',
    sample: { oid: 42 },
  },
  {
    name: 'order totals',
    weight: 10,
    sets: [oid],
    sql: 'SELECT o.id, count(*) AS lines, sum(oi.quantity) AS items, sum(oi.unit_price) AS total FROM orders o JOIN order_items oi ON oi.order_id = o.id WHERE o.id BETWEEN :oid AND :oid + 9 GROUP BY o.id ORDER BY o.id',
    sample: { oid: 42 },
  },
  {
    name: 'products page',
    weight: 15,
    // The offset is computed by pgbench, as an ORM computes it from the page number.
    sets: [cat, '\\set off 20 * random(0, 4)'],
    sql: 'SELECT id, name, price FROM products WHERE category_id = :cat ORDER BY price DESC, id LIMIT 20 OFFSET :off',
    sample: { cat: 3, off: 20 },
  },
  {
    name: 'orders page',
    weight: 10,
    sets: [oid],
    sql: "SELECT id, customer_id, status, created_at FROM orders WHERE id > :oid AND status IN ('paid', 'shipped') ORDER BY id LIMIT 25",
    sample: { oid: 42 },
  },
  {
    name: 'category counts',
    weight: 5,
    sets: [],
    sql: 'SELECT c.id, c.name, count(p.id) AS products, min(p.price) AS cheapest, max(p.price) AS dearest FROM categories c LEFT JOIN products p ON p.category_id = c.id GROUP BY c.id, c.name ORDER BY c.id',
    sample: {},
  },
  {
    name: 'customer orders',
    weight: 5,
    sets: [cid],
    sql: 'SELECT o.id, o.status, o.created_at FROM orders o WHERE o.customer_id = :cid ORDER BY o.created_at DESC LIMIT 10',
    sample: { cid: 42 },
  },
];

/** The statement with its sample values substituted, for psql. */
export function withSample(s: AppStatement): string {
  return s.sql.replace(/:(\w+)/g, (m, name: string) =>
    s.sample[name] === undefined ? m : String(s.sample[name]),
  );
}
