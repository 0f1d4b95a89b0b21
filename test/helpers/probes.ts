/**
 * Differential probes of Outpost's security and session model: the same
 * statements on a direct upstream session and on an Outpost session in the
 * same state must give the same rows (values as text, column names and
 * types, command tags) or the same SQLSTATE. Forwarding is always fine; a
 * different local answer is a failure. Each step also records its route
 * (`SHOW outpost.last_route`), so a suite can insist that some probes stay local.
 */
import assert from 'node:assert/strict';
import pg from 'pg';

/** One statement: simple protocol, or extended protocol (`params`, optionally a named statement). */
export type Step = string | { sql: string; params?: unknown[]; name?: string };

export interface Probe {
  name: string;
  /** Role of both sessions (password `pw`, `postgres` for the superuser); default `postgres`. */
  user?: string;
  database?: string;
  /** Startup `options` of both sessions. */
  options?: string;
  /** Statements run on both sessions and compared. */
  steps: Step[];
  /**
   * Run by the superuser on its own session (not compared) after `steps`;
   * then the probe waits `waitMs` and runs `after` on both sessions.
   */
  change?: string[];
  /** Statements after the change, compared; on new sessions with `reconnect`. */
  after?: Step[];
  reconnect?: boolean;
  /** Run by the superuser when the probe is done, pass or fail. */
  revert?: string[];
  /** Indexes of steps (counting `steps`, then `after`) that must be answered locally. */
  local?: number[];
  /** Changes global state: run alone. */
  exclusive?: boolean;
  /** Why the probe is written as it is (known limitation, other fix, ...). */
  note?: string;
}

export interface ProbeContext {
  upstream: { host: string; port: number };
  outpostPort: number;
  /** A superuser client on upstream for `change` and `revert`. */
  admin: pg.Client;
  /** How long a change takes to be seen at most (the documented bound). */
  waitMs: number;
}

type Outcome =
  | {
      ok: true;
      results: { command: string; rowCount: number | null; fields: [string, number][]; rows: unknown[][] }[];
    }
  | { ok: false; code: string };

export interface ProbeReport {
  name: string;
  routes: string[];
}

/** Routes that only say facts are being looked up (again). */
const TRANSIENT = /being looked up|not yet known|role catalog not/;

const RAW_TYPES = { getTypeParser: () => (value: string) => value };

async function connect(port: number, p: Probe): Promise<pg.Client> {
  const user = p.user ?? 'postgres';
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user,
    password: user === 'postgres' ? 'postgres' : 'pw',
    database: p.database ?? 'postgres',
    ...(p.options ? { options: p.options } : {}),
    types: RAW_TYPES,
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function run(c: pg.Client, step: Step): Promise<Outcome> {
  try {
    const config =
      typeof step === 'string'
        ? { text: step, rowMode: 'array' as const, types: RAW_TYPES }
        : {
            text: step.sql,
            values: step.params ?? [],
            rowMode: 'array' as const,
            types: RAW_TYPES,
            ...(step.name ? { name: step.name } : {}),
          };
    const r = (await c.query(config)) as unknown as pg.QueryResult | pg.QueryResult[];
    const list = Array.isArray(r) ? r : [r];
    return {
      ok: true,
      results: list.map((x) => ({
        command: x.command,
        rowCount: x.rowCount,
        fields: (x.fields ?? []).map((f) => [f.name, f.dataTypeID] as [string, number]),
        rows: x.rows as unknown[][],
      })),
    };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (!code) throw err;
    return { ok: false, code };
  }
}

async function lastRoute(c: pg.Client): Promise<string> {
  const r = await c.query<{ last_route: string }>('show outpost.last_route');
  return r.rows[0]?.last_route ?? '';
}

function text(step: Step): string {
  return typeof step === 'string' ? step : `${step.sql} ${JSON.stringify(step.params ?? [])}`;
}

/** Runs one probe; throws an assertion error naming the probe and step on any difference. */
export async function runProbe(ctx: ProbeContext, p: Probe): Promise<ProbeReport> {
  const routes: string[] = [];
  let direct = await connect(ctx.upstream.port, p);
  let outpost = await connect(ctx.outpostPort, p);
  const compare = async (steps: readonly Step[], offset: number) => {
    for (const [i, step] of steps.entries()) {
      const mustBeLocal = p.local?.includes(offset + i) === true;
      // A role's facts being looked up again (after any DDL upstream, another
      // probe's temporary table included) forwards for a moment: retry those.
      for (let attempt = 0; ; attempt++) {
        const want = await run(direct, step);
        const got = await run(outpost, step);
        const route = await lastRoute(outpost);
        assert.deepEqual(
          got,
          want,
          `probe "${p.name}", step ${offset + i} (${text(step)}), route ${route}: Outpost differs from upstream`,
        );
        if (mustBeLocal && route !== 'local' && TRANSIENT.test(route) && attempt < 20) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        routes.push(route);
        if (mustBeLocal) {
          assert.equal(
            route,
            'local',
            `probe "${p.name}", step ${offset + i} (${text(step)}) should be local`,
          );
        }
        break;
      }
    }
  };
  try {
    await compare(p.steps, 0);
    if (p.change) {
      for (const sql of p.change) await ctx.admin.query(sql);
      await new Promise((r) => setTimeout(r, ctx.waitMs));
      if (p.reconnect) {
        await direct.end();
        await outpost.end();
        direct = await connect(ctx.upstream.port, p);
        outpost = await connect(ctx.outpostPort, p);
      }
      await compare(p.after ?? [], p.steps.length);
    }
  } finally {
    await direct.end().catch(() => {});
    await outpost.end().catch(() => {});
    for (const sql of p.revert ?? []) await ctx.admin.query(sql);
  }
  return { name: p.name, routes };
}
