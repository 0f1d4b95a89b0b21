/**
 * Compatibility matrix, Node ORMs and query builders: Drizzle (node-postgres
 * driver), Kysely, Knex, TypeORM and Sequelize. Each runs typed reads (one
 * with a join, WHERE, ORDER BY and LIMIT), an insert and an update, a read
 * after them, and a delete, on a single pooled connection; directly against
 * Postgres and then through Outpost, with equal results. The route of the
 * typed reads is asked with SHOW outpost.last_route on the same connection
 * (a query without parameters: node-postgres sends it as a simple Query,
 * the only protocol in which Outpost answers it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, desc, sql as dsql, eq, gte } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import {
  bigint,
  boolean,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  timestamp,
  varchar,
} from 'drizzle-orm/pg-core';
import knexFactory from 'knex';
import { Kysely, sql as ksql, PostgresDialect } from 'kysely';
import pg from 'pg';
import { DataTypes, Op, QueryTypes, Sequelize } from 'sequelize';
import { DataSource, EntitySchema, MoreThanOrEqual } from 'typeorm';
import { type CompatEnv, startCompat } from './compat/fixture.js';

let c: CompatEnv;

before(async () => {
  c = await startCompat();
});

after(async () => {
  await c?.stop();
});

/** What one ORM scenario returns: comparable results, and the routes it saw through Outpost. */
interface Outcome {
  results: Record<string, unknown>;
  routes: Record<string, string>;
}

/**
 * Results and routes: a scenario stores `route:<step>` entries only when run
 * through Outpost; they are split off before comparing.
 */
async function runMatrix(
  name: string,
  run: (url: string, through: boolean) => Promise<Record<string, unknown>>,
): Promise<Outcome> {
  const split = (r: Record<string, unknown>) => {
    const results: Record<string, unknown> = {};
    const routes: Record<string, string> = {};
    for (const [k, v] of Object.entries(r)) {
      if (k.startsWith('route:')) routes[k.slice(6)] = String(v);
      else results[k] = v;
    }
    return { results, routes };
  };
  const want = split(await run(c.url(c.directPort), false));
  await c.sync();
  const local0 = await c.statements('local');
  const got = split(await run(c.url(c.outpostPort), true));
  assert.deepEqual(got.results, want.results, name);
  assert.ok(
    (await c.statements('local')) > local0,
    `${name}: something was served locally ${JSON.stringify(got.routes)}`,
  );
  return got;
}

/**
 * Every scenario starts with this read, without parameters (a simple Query).
 * ORMs send their own statements first (server version, settings), which go
 * upstream; an extended-protocol read right after something went upstream is
 * forwarded while Outpost learns the session's write position, where a
 * simple Query waits for it. This read settles that, so the typed reads'
 * routes below do not depend on timing.
 */
const WARM_UP = 'select count(*) as n from customers';

/** Typed reads that must be local, by step name. */
function assertLocal(o: Outcome, steps: string[]) {
  for (const s of steps) assert.equal(o.routes[s], 'local', `${s}: ${JSON.stringify(o.routes)}`);
}

// ---- Drizzle -------------------------------------------------------------------------

const dCustomers = pgTable('customers', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
  email: varchar('email', { length: 100 }),
  vip: boolean('vip').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
});
const dProducts = pgTable('products', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
  price: numeric('price').notNull(),
  stock: bigint('stock', { mode: 'bigint' }).notNull(),
  active: boolean('active').notNull(),
  tags: text('tags').array(),
  attrs: jsonb('attrs'),
});
const dOrders = pgTable('orders', {
  id: integer('id').primaryKey(),
  customerId: integer('customer_id').notNull(),
  productId: integer('product_id').notNull(),
  qty: integer('qty').notNull(),
  placedAt: timestamp('placed_at', { withTimezone: true }).notNull(),
  note: text('note'),
});

test('Drizzle (node-postgres driver)', async () => {
  const o = await runMatrix('drizzle', async (url, through) => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    const db = drizzle(client);
    const route = async () =>
      through ? ((await client.query('show outpost.last_route')).rows[0]?.last_route as string) : '';
    try {
      const out: Record<string, unknown> = {};
      out.warmUp = (await client.query(WARM_UP)).rows;
      out.vips = await db.select().from(dCustomers).where(eq(dCustomers.vip, true)).orderBy(dCustomers.id);
      out['route:vips'] = await route();
      out.join = await db
        .select({ customer: dCustomers.name, order: dOrders.id, qty: dOrders.qty, price: dProducts.price })
        .from(dOrders)
        .innerJoin(dCustomers, eq(dCustomers.id, dOrders.customerId))
        .innerJoin(dProducts, eq(dProducts.id, dOrders.productId))
        .where(and(gte(dOrders.qty, 2), eq(dProducts.active, true)))
        .orderBy(desc(dOrders.placedAt))
        .limit(3);
      out['route:join'] = await route();
      out.products = await db.select().from(dProducts).orderBy(dProducts.id);
      out['route:products'] = await route();
      out.insert = await db
        .insert(dOrders)
        .values({ id: 950, customerId: 2, productId: 1, qty: 1, placedAt: new Date('2024-10-10T10:10:10Z') })
        .returning();
      out.update = await db
        .update(dOrders)
        .set({ qty: dsql`${dOrders.qty} + 4`, note: 'drizzle' })
        .where(eq(dOrders.id, 950))
        .returning({ qty: dOrders.qty, note: dOrders.note });
      out.readBack = await db.select().from(dOrders).where(eq(dOrders.id, 950));
      out.delete = (await db.delete(dOrders).where(eq(dOrders.id, 950))).rowCount;
      return out;
    } finally {
      await client.end();
    }
  });
  assertLocal(o, ['vips', 'join', 'products']);
  assert.equal((o.results.update as { qty: number }[])[0]?.qty, 5);
});

// ---- Kysely --------------------------------------------------------------------------

interface KDB {
  customers: { id: number; name: string; email: string | null; vip: boolean; created_at: Date };
  products: { id: number; name: string; price: string; stock: string; active: boolean };
  orders: {
    id: number;
    customer_id: number;
    product_id: number;
    qty: number;
    placed_at: Date;
    note: string | null;
  };
}

test('Kysely (PostgresDialect)', async () => {
  const o = await runMatrix('kysely', async (url, through) => {
    const db = new Kysely<KDB>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    });
    const route = async () =>
      through
        ? String(
            (await ksql<{ last_route: string }>`show outpost.last_route`.execute(db)).rows[0]?.last_route,
          )
        : '';
    try {
      const out: Record<string, unknown> = {};
      out.warmUp = (await ksql.raw(WARM_UP).execute(db)).rows;
      out.vips = await db.selectFrom('customers').selectAll().where('vip', '=', true).orderBy('id').execute();
      out['route:vips'] = await route();
      out.join = await db
        .selectFrom('orders as o')
        .innerJoin('customers as c', 'c.id', 'o.customer_id')
        .innerJoin('products as p', 'p.id', 'o.product_id')
        .select(['c.name', 'o.id', 'o.qty', 'p.price', 'o.placed_at'])
        .where('o.qty', '>=', 2)
        .where('c.name', 'like', '%a%')
        .orderBy('o.id', 'desc')
        .limit(3)
        .execute();
      out['route:join'] = await route();
      out.insert = await db
        .insertInto('orders')
        .values({
          id: 951,
          customer_id: 3,
          product_id: 4,
          qty: 2,
          placed_at: new Date('2024-11-11T11:11:11.111Z'),
          note: 'kysely',
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      out.update = Number(
        (await db.updateTable('orders').set({ note: 'kysely!' }).where('id', '=', 951).executeTakeFirst())
          .numUpdatedRows,
      );
      out.readBack = await db
        .selectFrom('orders')
        .select(['id', 'note', 'qty'])
        .where('id', '=', 951)
        .execute();
      out.delete = Number(
        (await db.deleteFrom('orders').where('id', '=', 951).executeTakeFirst()).numDeletedRows,
      );
      return out;
    } finally {
      await db.destroy();
    }
  });
  assertLocal(o, ['vips', 'join']);
  assert.equal(o.results.update, 1);
});

// ---- Knex ----------------------------------------------------------------------------

test('Knex (pg client)', async () => {
  const o = await runMatrix('knex', async (url, through) => {
    const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 1, max: 1 } });
    const route = async () =>
      through ? String((await knex.raw('show outpost.last_route')).rows[0]?.last_route) : '';
    try {
      const out: Record<string, unknown> = {};
      out.warmUp = (await knex.raw(WARM_UP)).rows;
      out.vips = await knex('customers').where({ vip: true }).orderBy('id');
      out['route:vips'] = await route();
      out.join = await knex('orders as o')
        .join('customers as c', 'c.id', 'o.customer_id')
        .join('products as p', 'p.id', 'o.product_id')
        .select('c.name', 'o.id', 'o.qty', 'p.price', 'p.stock')
        .where('o.qty', '>=', 1)
        .whereIn('c.id', [1, 2, 3])
        .orderBy([{ column: 'o.qty', order: 'desc' }, 'o.id'])
        .limit(4)
        .offset(1);
      out['route:join'] = await route();
      out.insert = await knex('orders')
        .insert({
          id: 952,
          customer_id: 1,
          product_id: 2,
          qty: 3,
          placed_at: '2024-12-12 12:12:12+00',
          note: 'knex',
        })
        .returning('*');
      out.update = await knex('orders').where({ id: 952 }).increment('qty', 2);
      out.readBack = await knex('orders').where({ id: 952 }).first();
      out.delete = await knex('orders').where({ id: 952 }).del();
      return out;
    } finally {
      await knex.destroy();
    }
  });
  assertLocal(o, ['vips', 'join']);
  assert.equal((o.results.readBack as { qty: number }).qty, 5);
});

// ---- TypeORM -------------------------------------------------------------------------

interface TCustomer {
  id: number;
  name: string;
  email: string | null;
  vip: boolean;
  createdAt: Date;
}
interface TOrder {
  id: number;
  customerId: number;
  productId: number;
  qty: number;
  placedAt: Date;
  note: string | null;
  customer?: TCustomer;
}

const CustomerEntity = new EntitySchema<TCustomer>({
  name: 'Customer',
  tableName: 'customers',
  columns: {
    id: { type: 'int', primary: true },
    name: { type: 'text' },
    email: { type: 'varchar', length: 100, nullable: true },
    vip: { type: 'boolean' },
    createdAt: { type: 'timestamptz', name: 'created_at' },
  },
});
const OrderEntity = new EntitySchema<TOrder>({
  name: 'Order',
  tableName: 'orders',
  columns: {
    id: { type: 'int', primary: true },
    customerId: { type: 'int', name: 'customer_id' },
    productId: { type: 'int', name: 'product_id' },
    qty: { type: 'int' },
    placedAt: { type: 'timestamptz', name: 'placed_at' },
    note: { type: 'text', nullable: true },
  },
  relations: {
    customer: { type: 'many-to-one', target: 'Customer', joinColumn: { name: 'customer_id' } },
  },
});

test('TypeORM (postgres driver, EntitySchema)', async () => {
  const o = await runMatrix('typeorm', async (url, through) => {
    const ds = new DataSource({
      type: 'postgres',
      url,
      entities: [CustomerEntity, OrderEntity],
      synchronize: false,
      logging: false,
      extra: { max: 1 },
    });
    await ds.initialize();
    const route = async () =>
      through ? String((await ds.query('show outpost.last_route'))[0]?.last_route) : '';
    try {
      const customers = ds.getRepository(CustomerEntity);
      const orders = ds.getRepository(OrderEntity);
      const out: Record<string, unknown> = {};
      out.warmUp = await ds.query(WARM_UP);
      out.vips = await customers.find({ where: { vip: true }, order: { id: 'ASC' } });
      out['route:vips'] = await route();
      out.join = await orders
        .createQueryBuilder('o')
        .innerJoinAndSelect('o.customer', 'c')
        .where('o.qty >= :min', { min: 2 })
        .andWhere('c.vip = :vip', { vip: true })
        .orderBy('o.placed_at', 'DESC')
        .limit(2)
        .getMany();
      out['route:join'] = await route();
      out.count = await orders.count({ where: { qty: MoreThanOrEqual(3) } });
      out.insert = await orders.insert({
        id: 953,
        customerId: 4,
        productId: 3,
        qty: 9,
        placedAt: new Date('2025-01-01T00:00:00Z'),
        note: 'typeorm',
      });
      out.update = (await orders.update({ id: 953 }, { qty: 10 })).affected;
      out.readBack = await orders.findOne({ where: { id: 953 }, relations: { customer: true } });
      out.delete = (await orders.delete({ id: 953 })).affected;
      return out;
    } finally {
      await ds.destroy();
    }
  });
  assertLocal(o, ['vips', 'join']);
  assert.equal((o.results.readBack as TOrder).qty, 10);
});

// ---- Sequelize -----------------------------------------------------------------------

/**
 * Sequelize runs `SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE` on every
 * connection by default (TimeZone becomes `<+00>-00`); with `timezone: 'UTC'`
 * it sets a named zone instead.
 */
async function sequelizeScenario(options: { timezone?: string }): Promise<Outcome> {
  return runMatrix(`sequelize ${JSON.stringify(options)}`, async (url, through) => {
    const sequelize = new Sequelize(url, {
      dialect: 'postgres',
      logging: false,
      pool: { min: 1, max: 1 },
      ...options,
    });
    const Customer = sequelize.define(
      'Customer',
      {
        id: { type: DataTypes.INTEGER, primaryKey: true },
        name: DataTypes.TEXT,
        email: DataTypes.STRING(100),
        vip: DataTypes.BOOLEAN,
        createdAt: { type: DataTypes.DATE, field: 'created_at' },
      },
      { tableName: 'customers', timestamps: false },
    );
    const Order = sequelize.define(
      'Order',
      {
        id: { type: DataTypes.INTEGER, primaryKey: true },
        customerId: { type: DataTypes.INTEGER, field: 'customer_id' },
        productId: { type: DataTypes.INTEGER, field: 'product_id' },
        qty: DataTypes.INTEGER,
        placedAt: { type: DataTypes.DATE, field: 'placed_at' },
        note: DataTypes.TEXT,
      },
      { tableName: 'orders', timestamps: false },
    );
    Order.belongsTo(Customer, { foreignKey: 'customerId', as: 'customer' });
    const route = async () => {
      if (!through) return '';
      const rows = await sequelize.query<{ last_route: string }>('show outpost.last_route', {
        type: QueryTypes.SELECT,
      });
      return String(rows[0]?.last_route);
    };
    try {
      const plain = (m: { get(o: { plain: true }): unknown }[]) => m.map((x) => x.get({ plain: true }));
      const out: Record<string, unknown> = {};
      out.warmUp = await sequelize.query(WARM_UP, { type: QueryTypes.SELECT });
      out.vips = plain(await Customer.findAll({ where: { vip: true }, order: [['id', 'ASC']] }));
      out['route:vips'] = await route();
      out.join = plain(
        await Order.findAll({
          include: [{ model: Customer, as: 'customer', where: { name: { [Op.ne]: 'nobody' } } }],
          where: { qty: { [Op.gte]: 2 } },
          order: [['placedAt', 'DESC']],
          limit: 3,
        }),
      );
      out['route:join'] = await route();
      out.insert = (
        await Order.create({
          id: 954,
          customerId: 2,
          productId: 2,
          qty: 1,
          placedAt: new Date('2025-02-02T02:02:02.002Z'),
          note: 'sequelize',
        })
      ).get({ plain: true });
      out.update = await Order.update({ qty: 11 }, { where: { id: 954 } });
      out.readBack = (await Order.findByPk(954, { include: [{ model: Customer, as: 'customer' }] }))?.get({
        plain: true,
      });
      out.delete = await Order.destroy({ where: { id: 954 } });
      return out;
    } finally {
      await sequelize.close();
    }
  });
}

test('Sequelize (postgres dialect), timezone UTC', async () => {
  const o = await sequelizeScenario({ timezone: 'UTC' });
  assertLocal(o, ['vips']);
  assert.deepEqual(o.results.update, [1]);
});

test('Sequelize (postgres dialect), default timezone setting', async () => {
  // Same results; the routes are whatever Outpost decides for that TimeZone.
  const o = await sequelizeScenario({});
  assert.deepEqual(o.results.update, [1]);
  assert.equal((o.results.readBack as { qty: number }).qty, 11);
});
