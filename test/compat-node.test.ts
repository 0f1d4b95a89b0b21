/**
 * Compatibility matrix, Node drivers: node-postgres (simple queries, unnamed
 * and named extended-protocol statements, text and binary results) and
 * postgres.js (named prepared statements by default, its own type parsing,
 * the simple protocol on request). Each scenario runs directly against
 * Postgres and then through Outpost; the results must be equal.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import postgres from 'postgres';
import { type CompatEnv, startCompat } from './compat/fixture.js';

let c: CompatEnv;

before(async () => {
  c = await startCompat();
});

after(async () => {
  await c?.stop();
});

/** Values exactly as Postgres sent them: text as is, binary as hex. */
const rawTypes = {
  getTypeParser: (_oid: number, format?: string) =>
    format === 'binary' ? (v: Buffer | string) => `\\bin${Buffer.from(v).toString('hex')}` : (v: string) => v,
};

function fields(r: pg.QueryResult) {
  return r.fields.map((f) => ({
    name: f.name,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeID: f.dataTypeID,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: f.format,
  }));
}

type Step = { name: string; local?: boolean; run: (client: pg.Client) => Promise<unknown> };

const query =
  (config: pg.QueryConfig & { binary?: boolean; rowMode?: 'array' }) =>
  async (client: pg.Client): Promise<unknown> => {
    const r = await client.query({ types: rawTypes, ...config } as pg.QueryConfig);
    return { command: r.command, rowCount: r.rowCount, fields: fields(r), rows: r.rows };
  };

const PG_STEPS: Step[] = [
  { name: 'simple', local: true, run: query({ text: 'select * from products order by id' }) },
  {
    name: 'unnamed extended, join/where/order/limit',
    local: true,
    run: query({
      text: `select c.name, o.id, o.qty, p.price, o.placed_at from orders o
               join customers c on c.id = o.customer_id join products p on p.id = o.product_id
              where o.qty >= $1 and p.active = $2 order by o.placed_at desc limit $3`,
      values: [2, true, 3],
    }),
  },
  ...[1, 2, 3].map((n) => ({
    name: `named statement, execution ${n}`,
    local: true,
    run: query({
      name: 'by_customer',
      text: 'select id, qty, note from orders where customer_id = $1 order by id',
      values: [n],
    }),
  })),
  {
    name: 'binary results',
    local: true,
    run: query({
      text: 'select id, price, stock, active, tags, attrs, image, released, weight from products where id = any($1) order by id',
      values: [[1, 2, 3, 4]],
      binary: true,
    }),
  },
  // bytea parameters: node-postgres sends a Buffer in binary format, a string in text format.
  {
    name: 'bytea parameter, Buffer (binary format)',
    local: true,
    run: query({
      text: 'select id, image from products where image = $1 order by id',
      values: [Buffer.from([0xde, 0xad, 0xbe, 0xef])],
    }),
  },
  {
    name: 'bytea parameters, Buffers of every byte and none',
    local: true,
    run: query({
      text: 'select $1::bytea as a, length($1::bytea) as n, $2::bytea as e, $1::bytea || $2::bytea as c, position($3::bytea in $1::bytea) as p',
      values: [
        Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
        Buffer.alloc(0),
        Buffer.from([0x10, 0x11]),
      ],
    }),
  },
  {
    name: 'bytea parameter, text format (hex and escape input)',
    local: true,
    run: query({
      text: 'select id from products where image = $1 or image = $2::bytea order by id',
      values: ['\\x00ff10', '\\336\\255\\276\\357'],
    }),
  },
  {
    name: 'bytea parameter, Buffer, binary results',
    local: true,
    run: query({
      text: 'select id, image, $1::bytea as p from products where image <> $1 order by id',
      values: [Buffer.from('00ff', 'hex')],
      binary: true,
    }),
  },
  {
    name: 'array rows',
    local: true,
    run: query({ text: 'select vip, count(*) from customers group by vip order by vip', rowMode: 'array' }),
  },
  {
    name: 'insert returning',
    run: query({
      text: 'insert into orders values ($1, $2, $3, $4, $5, $6) returning *',
      values: [930, 4, 1, 8, '2024-08-08 08:08:08.808+00', 'node-postgres'],
    }),
  },
  {
    name: 'update',
    run: query({ text: "update orders set qty = qty - 1, note = note || '?' where id = $1", values: [930] }),
  },
  {
    name: 'read back',
    local: true,
    run: query({ text: 'select * from orders where id = 930' }),
  },
  { name: 'delete', run: query({ text: 'delete from orders where id = $1', values: [930] }) },
  {
    name: 'syntax error',
    run: async (client) => {
      const err = (await client.query('select from where').catch((e: unknown) => e)) as pg.DatabaseError;
      return { code: err.code, message: err.message, position: err.position };
    },
  },
  {
    name: 'transaction',
    run: async (client) => {
      await client.query('begin');
      const a = await query({ text: 'update products set stock = stock + $1 where id = 3', values: [1] })(
        client,
      );
      const b = await query({ text: 'select stock from products where id = 3' })(client);
      await client.query('rollback');
      return [a, b];
    },
  },
];

async function pgClient(port: number): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: c.url(port) });
  client.on('error', () => {});
  await client.connect();
  return client;
}

test('node-postgres: simple, extended, named, binary, writes', async () => {
  const direct = await pgClient(c.directPort);
  const want: unknown[] = [];
  for (const s of PG_STEPS) want.push(await s.run(direct));
  await direct.end();
  // The binary step really got binary values (pg decodes row bytes as UTF-8
  // before handing them over, so only the leading bytes of int4 1 are exact).
  const binary = JSON.stringify(want[PG_STEPS.findIndex((s) => s.name === 'binary results')]);
  assert.ok(binary.includes('"id":"\\\\bin00000001"'), binary);
  assert.ok(binary.includes('"format":"binary"'), binary);

  await c.sync();
  const via = await pgClient(c.outpostPort);
  try {
    for (const [i, s] of PG_STEPS.entries()) {
      const got = await s.run(via);
      // Table OIDs, type OIDs, typmods, formats and values all equal.
      assert.deepEqual(got, want[i], s.name);
      const route = (await via.query<{ last_route: string }>('show outpost.last_route')).rows[0]?.last_route;
      if (s.local) assert.equal(route, 'local', s.name);
    }
  } finally {
    await via.end();
  }
});

/** The same postgres.js scenario, on one connection (so SHOW sees its statements). */
async function postgresJs(port: number, routes?: string[]) {
  const sql = postgres({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
    max: 1,
    ssl: false,
    onnotice: () => {},
  });
  const route = async (): Promise<void> => {
    if (!routes) return;
    const r = await sql.unsafe('show outpost.last_route').simple();
    routes.push(String(r[0]?.last_route));
  };
  try {
    const out: Record<string, unknown> = {};
    // postgres.js reads pg_type first (forwarded). An extended-protocol read
    // right after anything forwarded goes upstream while Outpost learns the
    // session's write position, where a simple Query waits for it: one
    // simple-protocol read settles that so the routes below are certain.
    out.warmUp = await sql.unsafe('select count(*) from customers').simple();
    out.products = await sql`select * from products order by id`;
    await route();
    const minQty = 2;
    out.join = await sql`
      select c.name, o.id, o.qty, o.placed_at, p.price
        from orders o join customers c on c.id = o.customer_id join products p on p.id = o.product_id
       where o.qty >= ${minQty} and c.vip = ${true} order by o.id limit ${5}`;
    await route();
    for (const id of [1, 2, 4]) {
      out[`prepared_${id}`] = await sql`select id, stock, tags, attrs, image from products where id = ${id}`;
      await route();
    }
    // Type round trips: each value goes out as a parameter and comes back.
    out.roundTrip = await sql`
      select ${sql.typed(9223372036854775807n.toString(), 20)}::int8 as big,
             ${'12345678901234567890.123456789'}::numeric as num,
             ${new Date('2024-02-29T23:59:59.123Z')}::timestamptz as ts,
             ${true}::bool as flag,
             ${Buffer.from([0, 1, 254, 255])}::bytea as bytes,
             ${sql.json({ a: [1, 'two', null], b: { c: 1.5 } })}::jsonb as doc,
             ${sql.array([1, 2, 3])}::int4[] as ints,
             ${sql.array(['x', 'y z', ''])}::text[] as texts`;
    out.filtered = await sql`
      select id, name, price from products where price > ${'1.00'}::numeric and tags && ${sql.array(['blue'])}::text[]
       order by price`;
    await route();
    const row = {
      id: 940,
      customer_id: 1,
      product_id: 3,
      qty: 2,
      placed_at: new Date('2024-09-09T09:09:09Z'),
      note: 'postgres.js',
    };
    out.insert = await sql`insert into orders ${sql(row)} returning *`;
    out.update = await sql`update orders set qty = ${5} where id = ${940} returning qty`;
    out.readBack =
      await sql`select o.*, c.name from orders o join customers c on c.id = o.customer_id where o.id = ${940}`;
    out.delete = (await sql`delete from orders where id = ${940}`).count;
    out.tx = await sql
      .begin(async (tx) => {
        await tx`update products set stock = stock + 1 where id = ${3}`;
        const r = await tx`select stock from products where id = ${3}`;
        throw Object.assign(new Error('roll back'), { rows: r });
      })
      .catch((e: { rows?: unknown }) => e.rows);
    out.error = await sql`select * from no_such_table`.catch((e: postgres.PostgresError) => ({
      code: e.code,
      message: e.message,
    }));
    out.after = await sql`select count(*)::int as n from orders`;
    await route();
    return out;
  } finally {
    await sql.end();
  }
}

test('postgres.js: named statements and type round trips through Outpost', async () => {
  const want = await postgresJs(c.directPort);
  await c.sync();
  const routes: string[] = [];
  const got = await postgresJs(c.outpostPort, routes);
  assert.deepEqual(got, want);
  // Sanity on the decoded types (so equal-but-wrong cannot pass unnoticed).
  const rt = (want.roundTrip as Record<string, unknown>[])[0] ?? {};
  assert.equal(rt.big, '9223372036854775807');
  assert.equal(rt.num, '12345678901234567890.123456789');
  assert.deepEqual(rt.ts, new Date('2024-02-29T23:59:59.123Z'));
  assert.equal(rt.flag, true);
  assert.deepEqual(rt.bytes, Buffer.from([0, 1, 254, 255]));
  assert.deepEqual(rt.doc, { a: [1, 'two', null], b: { c: 1.5 } });
  assert.deepEqual(rt.ints, [1, 2, 3]);
  assert.deepEqual(rt.texts, ['x', 'y z', '']);
  assert.deepEqual(want.delete, 1);
  // products, join, three prepared executions: local (before anything went
  // upstream on this connection).
  assert.deepEqual(routes.slice(0, 5), ['local', 'local', 'local', 'local', 'local'], routes.join('\n'));
  assert.equal(routes.length, 7);
});
