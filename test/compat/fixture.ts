/**
 * Shared setup for the compatibility matrix (test/compat-*.test.ts): one real
 * Postgres with a small shop schema, one real Outpost in front of it, and the
 * helpers every client family needs to compare "through Outpost" with
 * "directly against Postgres".
 *
 * Writes in the client scripts are self-cleaning (insert, update, read back,
 * delete), so running a script directly and then through Outpost starts from
 * the same data and must print the same thing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { eventually, type OutpostProcess, startOutpost } from '../helpers/outpost.js';
import { type PostgresInstance, startPostgres } from '../helpers/postgres.js';

export const FIXTURE_SQL = `
create table customers (
  id int primary key,
  name text not null,
  email varchar(100),
  vip boolean not null default false,
  created_at timestamptz not null
);
create table products (
  id int primary key,
  name text not null,
  price numeric(10,2) not null,
  stock int8 not null,
  active boolean not null,
  tags text[],
  attrs jsonb,
  image bytea,
  released date,
  weight float8
);
create table orders (
  id int primary key,
  customer_id int not null references customers(id),
  product_id int not null references products(id),
  qty int not null,
  placed_at timestamptz not null,
  note text
);
create index orders_customer_idx on orders (customer_id);
create function order_total(order_id int) returns numeric
  language sql stable
  as $$ select p.price * o.qty from orders o join products p on p.id = o.product_id where o.id = order_id $$;
create view big_orders as select * from orders where qty >= 3;

insert into customers values
  (1, 'Ada', 'ada@example.com', true, '2024-01-02 03:04:05.123456+00'),
  (2, 'Brendan', null, false, '2023-06-30 23:59:59+00'),
  (3, 'Chloé ☃', 'chloe@example.com', false, '2025-02-28 12:00:00+00'),
  (4, 'Dmitri', 'dmitri@example.com', true, '1999-12-31 00:00:00.5+00');
insert into products values
  (1, 'Widget', 9.99, 9223372036854775807, true, '{small,blue}', '{"color": "blue", "dims": [1, 2.5, 3]}', '\\xdeadbeef', '2024-02-29', 0.1),
  (2, 'Gadget', 1234567.89, -9007199254740993, false, '{}', '{"nested": {"a": null, "b": true}}', '\\x', '1970-01-01', -1.5e300),
  (3, 'Doohickey', 0.00, 0, true, null, null, null, null, null),
  (4, 'Thingamajig', 42.50, 17, true, '{"with space","quote\\"d",NULL}', '[1, "two", {"three": 3}]', '\\x00ff10', '2000-01-01', 1e-7);
insert into orders values
  (1, 1, 1, 2, '2024-03-01 10:00:00+00', 'first'),
  (2, 1, 4, 5, '2024-03-02 11:30:00+00', null),
  (3, 2, 2, 1, '2024-03-03 09:15:00+00', 'gift ✓'),
  (4, 3, 1, 3, '2024-03-04 18:45:30.25+00', ''),
  (5, 4, 3, 7, '2024-03-05 00:00:00+00', 'bulk');
`;

export interface CompatEnv {
  upstream: PostgresInstance;
  outpost: OutpostProcess;
  /** Port of Postgres itself. */
  directPort: number;
  /** Port of Outpost. */
  outpostPort: number;
  /** postgres:// URL for a port (user postgres, database postgres). */
  url(port: number): string;
  /** Wait until the replica has applied everything upstream has written so far. */
  sync(): Promise<void>;
  /** `outpost_statements_total{route=...}` right now. */
  statements(route: 'local' | 'upstream'): Promise<number>;
  stop(): Promise<void>;
}

function lsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

export async function startCompat(
  opts: { extraSql?: string; outpostArgs?: string[] } = {},
): Promise<CompatEnv> {
  const upstream = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-compat-'));
  let outpost: OutpostProcess | undefined;
  try {
    await upstream.query(FIXTURE_SQL + (opts.extraSql ?? ''));
    outpost = await startOutpost({
      upstream: upstream.url(),
      replica: join(dir, 'replica.db'),
      args: opts.outpostArgs ?? [],
    });
    await outpost.ready();
    const op = outpost;
    const url = (port: number) => `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
    const statements = async (route: 'local' | 'upstream') => {
      const body = (await op.http('/metrics')).body;
      const m = body.match(new RegExp(`^outpost_statements_total\\{route="${route}"\\} (\\d+)`, 'm'));
      return m ? Number(m[1]) : 0;
    };
    const sync = async () => {
      const r = await upstream.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l');
      const target = lsn(r.rows[0]?.l ?? '0/0');
      await eventually(
        async () => {
          const s = await op.status();
          return lsn(String(s.replication.appliedLsn)) >= target;
        },
        20_000,
        'the replica to catch up',
      );
    };
    // The snapshot is complete once a plain read of a fixture table is local.
    const probe = new pg.Client({ connectionString: url(op.port) });
    probe.on('error', () => {});
    await probe.connect();
    try {
      await eventually(
        async () => {
          await probe.query('select count(*) from orders');
          const r = await probe.query<{ last_route: string }>('show outpost.last_route');
          return r.rows[0]?.last_route === 'local';
        },
        20_000,
        'a local read',
      );
    } finally {
      await probe.end();
    }
    return {
      upstream,
      outpost: op,
      directPort: upstream.port,
      outpostPort: op.port,
      url,
      sync,
      statements,
      async stop() {
        await op.stop();
        await upstream.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await outpost?.stop('SIGKILL');
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
