/**
 * Postgres's own regression SELECTs (`../shared/pg-regress` beside the repo
 * root, see its README.md) as a differential suite: the setup runs directly
 * on a real upstream, Outpost replicates it, and each statement runs directly
 * and through Outpost. A local answer must equal upstream's (column names,
 * type OIDs, raw text rows: in order where the statement orders them, rows
 * tied on the ORDER BY keys as multisets; otherwise as a multiset); where
 * upstream raises an error Outpost must raise the same SQLSTATE. Forwarded
 * statements are compared on fields and errors only (their rows come from
 * upstream too, and may be volatile: random(), now()).
 */
import assert from 'node:assert/strict';
import { appendFileSync, createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { connectThrough, type OutpostProcess, startOutpost } from '../helpers/outpost.js';
import { type PostgresInstance, startPostgres } from '../helpers/postgres.js';
import { rawTypes } from '../helpers/replica-fixture.js';
import { errorFields } from './harness.js';

export interface RegressStatement {
  id: string;
  cat: string;
  sql: string;
  ordered: boolean;
  orderKeys: string[] | null;
  limited: boolean;
}

type SetupItem =
  | { file: string; sql: string }
  /** COPY from `data/<data>`, or from the `inline` text. */
  | { file: string; copy: string; data?: string; inline?: string; opts: string };

interface RegressCorpus {
  source: string;
  setup: SetupItem[];
  statements: RegressStatement[];
}

/** `../shared/pg-regress` beside the repo root (or beside one of its ancestors: worktrees), or OUTPOST_PG_REGRESS. */
export function regressDir(): string {
  const env = process.env.OUTPOST_PG_REGRESS;
  if (env) return env;
  let dir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  for (;;) {
    const candidate = join(dir, '..', 'shared', 'pg-regress');
    if (existsSync(join(candidate, 'corpus.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('../shared/pg-regress not found beside the repository (set OUTPOST_PG_REGRESS)');
    dir = parent;
  }
}

export function loadRegress(): RegressCorpus {
  return JSON.parse(readFileSync(join(regressDir(), 'corpus.json'), 'utf8')) as RegressCorpus;
}

/**
 * A deterministic subset: every `stride`-th statement of each file (by
 * position in the file), at least one per file.
 */
export function subset(statements: RegressStatement[], stride: number): RegressStatement[] {
  if (stride <= 1) return statements;
  const seen = new Map<string, number>();
  return statements.filter((s) => {
    const n = seen.get(s.cat) ?? 0;
    seen.set(s.cat, n + 1);
    return n % stride === 0;
  });
}

export interface RegressEnv {
  pgi: PostgresInstance;
  outpost: OutpostProcess;
  direct: pg.Client;
  through: pg.Client;
  close(): Promise<void>;
}

/** Upstream with the regression setup (errors ignored: older versions, existing objects), then Outpost on it. */
export async function startRegress(corpus: RegressCorpus, bin?: string): Promise<RegressEnv> {
  const pgi = await startPostgres({
    ...(bin ? { bin } : {}),
    settings: { max_wal_senders: '4', max_replication_slots: '4' },
  });
  const dir = regressDir();
  const setup = await pgi.connect();
  setup.on('error', () => {});
  for (const [n, item] of corpus.setup.entries()) {
    if (process.env.OUTPOST_REGRESS_TRACE)
      console.log(`setup ${n}: ${'copy' in item ? `COPY ${item.copy}` : item.sql.slice(0, 80)}`);
    try {
      if ('copy' in item) {
        const source =
          item.data !== undefined
            ? createReadStream(join(dir, 'data', item.data))
            : Readable.from([Buffer.from(item.inline ?? '')]);
        const stream = setup.query(copyFrom(`COPY ${item.copy} FROM STDIN ${item.opts}`));
        await pipeline(source, stream);
      } else {
        await setup.query(item.sql);
      }
    } catch {
      // Expected: statements newer than this Postgres, objects created twice, deliberate errors.
    }
  }
  // Outpost forwards key-less tables (their updates could not be applied
  // upstream-exactly); most regression tables have no key: give them the
  // replica identity Outpost's hint asks for, as a DBA would.
  const keyless = await setup.query<{ t: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_temp%'
        AND c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)`,
  );
  for (const { t } of keyless.rows)
    await setup.query(`ALTER TABLE ${t} REPLICA IDENTITY FULL`).catch(() => {});
  await setup.end();
  const replicaDir = mkdtempSync(join(tmpdir(), 'outpost-regress-'));
  const outpost = await startOutpost({ upstream: pgi.url(), replica: join(replicaDir, 'replica.db') });
  await outpost.ready(300_000);
  const direct = await pgi.connect();
  direct.on('error', () => {});
  const through = await connectThrough(outpost.port);
  return {
    pgi,
    outpost,
    direct,
    through,
    async close() {
      await direct.end().catch(() => {});
      await through.end().catch(() => {});
      await outpost.stop();
      await pgi.stop();
      rmSync(replicaDir, { recursive: true, force: true });
    },
  };
}

interface Answer {
  fields?: { name: string; typeOid: number }[];
  rows?: (string | null)[][];
  code?: string;
  /** The error as a client sees it (SQLSTATE, message, detail, hint, position). */
  error?: string;
}

async function answer(client: pg.Client, sql: string): Promise<Answer> {
  try {
    const res = (await client.query({ text: sql, rowMode: 'array', types: rawTypes })) as unknown as
      | pg.QueryResult<(string | null)[]>
      | pg.QueryResult<(string | null)[]>[];
    const last = Array.isArray(res) ? res[res.length - 1] : res;
    return {
      fields: (last?.fields ?? []).map((f) => ({ name: f.name, typeOid: f.dataTypeID })),
      rows: last?.rows ?? [],
    };
  } catch (err) {
    return {
      code: (err as { code?: string }).code ?? `no SQLSTATE: ${(err as Error).message}`,
      error: JSON.stringify(errorFields(err)),
    };
  }
}

const key = (row: unknown[]): string => JSON.stringify(row);
const sorted = (rows: (string | null)[][]): string[] => rows.map(key).sort();

/** Rows equal: in order by the ORDER BY keys, tied rows (and unordered results) as multisets. */
function sameRows(
  s: RegressStatement,
  fields: string[],
  a: (string | null)[][],
  b: (string | null)[][],
): boolean {
  if (a.length !== b.length) return false;
  const idx = (s.orderKeys ?? []).map((k) => fields.indexOf(k));
  if (!s.ordered || idx.length === 0 || idx.some((i) => i < 0)) {
    return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
  }
  const keyOf = (row: (string | null)[]) => key(idx.map((i) => row[i] ?? null));
  // Compare group by group of equal keys.
  let i = 0;
  while (i < a.length) {
    const k = keyOf(a[i] as (string | null)[]);
    let j = i;
    while (j < a.length && keyOf(a[j] as (string | null)[]) === k) j++;
    const ga = a.slice(i, j);
    const gb = b.slice(i, j);
    if (gb.some((r) => keyOf(r) !== k)) return false;
    // The last group of a LIMITed result may be cut anywhere among the ties.
    if (!(s.limited && j === a.length) && JSON.stringify(sorted(ga)) !== JSON.stringify(sorted(gb)))
      return false;
    i = j;
  }
  return true;
}

export interface RegressReport {
  total: number;
  local: number;
  forwarded: number;
  differences: string[];
  /** LIMIT without ORDER BY: which rows upstream returns is unspecified; compared on count only when they differ. */
  unspecified: number;
  perFile: Map<string, { total: number; local: number }>;
  reasons: Map<string, number>;
}

function trimReason(r: string): string {
  return r
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\b\d+\b/g, 'N')
    .replace(/table \S+ not in replica/, 'table … not in replica')
    .slice(0, 90);
}

export async function runRegress(env: RegressEnv, statements: RegressStatement[]): Promise<RegressReport> {
  const report: RegressReport = {
    total: 0,
    local: 0,
    forwarded: 0,
    differences: [],
    unspecified: 0,
    perFile: new Map(),
    reasons: new Map(),
  };
  for (const s of statements) {
    report.total++;
    const file = report.perFile.get(s.cat) ?? { total: 0, local: 0 };
    report.perFile.set(s.cat, file);
    file.total++;
    // Two sessions, so both may run at once.
    const [expected, got] = await Promise.all([answer(env.direct, s.sql), answer(env.through, s.sql)]);
    const routeRes = await env.through.query<{ last_route: string }>('show outpost.last_route');
    const route = routeRes.rows[0]?.last_route ?? '';
    const local = route === 'local';
    if (process.env.OUTPOST_REGRESS_DUMP) {
      appendFileSync(
        process.env.OUTPOST_REGRESS_DUMP,
        `${JSON.stringify({ id: s.id, route, code: expected.code, sql: s.sql })}\n`,
      );
    }
    if (local) {
      report.local++;
      file.local++;
    } else {
      report.forwarded++;
      const raw = route.replace(/^upstream:\s*/, '');
      const reason = process.env.OUTPOST_REGRESS_RAW ? raw : trimReason(raw);
      report.reasons.set(reason, (report.reasons.get(reason) ?? 0) + 1);
    }
    const what = `${s.id} [${local ? 'local' : route}]: ${s.sql.replace(/\s+/g, ' ').slice(0, 300)}`;
    if (expected.code !== undefined || got.code !== undefined) {
      if (expected.code !== got.code) {
        report.differences.push(
          `${what}\n    SQLSTATE upstream ${expected.code ?? 'none'}, Outpost ${got.code ?? 'none'}`,
        );
      } else if (expected.error !== got.error) {
        // Forwarded errors are upstream's own; a local one must be worded the same.
        report.differences.push(
          `${what}\n    error upstream ${expected.error}\n    error Outpost  ${got.error}`,
        );
      }
      continue;
    }
    const ef = JSON.stringify(expected.fields);
    const gf = JSON.stringify(got.fields);
    if (ef !== gf) {
      report.differences.push(`${what}\n    fields upstream ${ef}\n    fields Outpost  ${gf}`);
      continue;
    }
    if (!local) continue;
    const names = (expected.fields ?? []).map((f) => f.name);
    const er = expected.rows ?? [];
    const gr = got.rows ?? [];
    if (!sameRows(s, names, er, gr)) {
      if (s.limited && !s.ordered && er.length === gr.length) {
        report.unspecified++;
        continue;
      }
      report.differences.push(
        `${what}\n    rows upstream ${JSON.stringify(er).slice(0, 400)}\n    rows Outpost  ${JSON.stringify(gr).slice(0, 400)}`,
      );
    }
  }
  return report;
}

export function printReport(label: string, r: RegressReport): void {
  const pct = (a: number, b: number) => (b === 0 ? '-' : `${((a / b) * 100).toFixed(1)}%`);
  console.log(
    `${label}: ${r.total} statements, ${r.local} local (${pct(r.local, r.total)}), ${r.forwarded} forwarded, ${r.differences.length} differences, ${r.unspecified} LIMIT without ORDER BY compared on count`,
  );
  const files = [...r.perFile.entries()].sort((a, b) => b[1].total - a[1].total);
  console.log(`  local share by file: ${files.map(([f, v]) => `${f} ${v.local}/${v.total}`).join(', ')}`);
  const reasons = [...r.reasons.entries()].sort((a, b) => b[1] - a[1]);
  const top = Number(process.env.OUTPOST_REGRESS_REASONS ?? 25);
  for (const [reason, n] of reasons.slice(0, top)) console.log(`  forwarded ${n}: ${reason}`);
  for (const d of r.differences.slice(0, 50)) console.log(`  DIFFERENCE ${d}`);
}

/**
 * The suite: a deterministic subset (every OUTPOST_REGRESS_STRIDE-th
 * statement of each file, default 3) to keep CI's wall time reasonable on
 * two majors; `npm run regress` runs them all.
 */
export function regressSuite(bin?: string, label = ''): void {
  const corpus = loadRegress();
  const stride = Number(process.env.OUTPOST_REGRESS_STRIDE ?? 3);
  let env: RegressEnv | undefined;

  before(async () => {
    env = await startRegress(corpus, bin);
  });

  after(async () => {
    await env?.close();
  });

  test(`regression SELECTs${label}: local answers and errors equal upstream's`, async () => {
    assert.ok(corpus.statements.length > 6000, `${corpus.statements.length} statements`);
    const statements = subset(corpus.statements, stride);
    const report = await runRegress(env as RegressEnv, statements);
    printReport(`regress${label} (every ${stride}. statement per file)`, report);
    assert.equal(report.total, statements.length);
    assert.deepEqual(report.differences, [], 'statements whose answer through Outpost differs from upstream');
    // A collapse of the local share means the suite compares next to nothing
    // (tables not replicated, a session stuck forwarding): about 12% today.
    assert.ok(report.local >= report.total * 0.1, `only ${report.local} of ${report.total} local`);
  });
}
