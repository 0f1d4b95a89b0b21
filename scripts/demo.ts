/**
 * `npm run demo`: a throwaway Postgres with a small shop schema, and Outpost on
 * 5433 replicating it. Prints the psql line to try; Ctrl-C stops both.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Outpost } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { errorMessage } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { startPostgres } from '../test/helpers/postgres.js';

const SAMPLE = `
create table customers (
  id serial primary key,
  name text not null,
  email varchar(200) unique,
  vip boolean not null default false,
  created_at timestamptz not null default now()
);
create table products (
  id serial primary key,
  sku varchar(20) not null,
  title text not null,
  price numeric(10,2) not null,
  weight_kg float8,
  in_stock integer not null
);
create table orders (
  id bigserial primary key,
  customer_id integer not null references customers(id),
  product_id integer not null references products(id),
  quantity smallint not null,
  ordered_on date not null,
  note text
);
insert into customers (name, email, vip, created_at)
  select 'Customer ' || g, 'c' || g || '@example.com', g % 7 = 0,
         timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes 12.345678 seconds'
  from generate_series(1, 200) g;
insert into products (sku, title, price, weight_kg, in_stock)
  select 'SKU-' || lpad(g::text, 4, '0'), 'Product ' || g, round((g * 3.7)::numeric, 2), g * 0.25, (g * 13) % 50
  from generate_series(1, 50) g;
insert into orders (customer_id, product_id, quantity, ordered_on, note)
  select 1 + (g * 7) % 200, 1 + (g * 11) % 50, 1 + g % 5, date '2024-01-01' + g % 365,
         case when g % 10 = 0 then 'gift' end
  from generate_series(1, 1000) g;
`;

async function main(): Promise<void> {
  const dir = process.env.OUTPOST_DEMO_DIR ?? join(process.cwd(), '.outpost-demo');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  process.stdout.write('Starting an embedded Postgres with wal_level=logical...\n');
  // Its own process group: Ctrl-C reaches only this process, which stops
  // Outpost first and Postgres after it, quietly, once.
  const upstream = await startPostgres({ detached: true });
  await upstream.query(SAMPLE);

  const config = parseConfig([], {
    ...process.env,
    OUTPOST_UPSTREAM: upstream.url(),
    OUTPOST_REPLICA: process.env.OUTPOST_REPLICA ?? join(dir, 'replica.db'),
    OUTPOST_LOG_LEVEL: process.env.OUTPOST_LOG_LEVEL ?? 'warn',
  });
  if (config === 'help' || config === 'version') throw new Error('unexpected');
  const outpost = await Outpost.start(config, createLogger(config.logLevel));
  await outpost.replicationStarted;

  const { host, port } = config.listen;
  process.stdout.write(
    [
      '',
      `Upstream Postgres: ${upstream.url().replace(/:[^:@/]*@/, ':****@')} (password: postgres)`,
      `Outpost proxy:     ${host}:${port}   status: http://${config.http.host}:${config.http.port}/status`,
      '',
      'Try:',
      `  PGPASSWORD=postgres psql -h ${host} -p ${port} -U postgres postgres`,
      '',
      '  select * from products order by id limit 5;   -- served from SQLite',
      '  show outpost.last_route;                       -- local',
      "  insert into customers (name) values ('you');  -- forwarded upstream",
      '  \\dt                                            -- catalog queries are forwarded',
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nStopping...\n');
    await outpost.stop();
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${errorMessage(err)}\n`);
  process.exit(1);
});
