/**
 * Flags, their environment twins and defaults. Every bad value is reported as
 * one line naming the flag and how to fix it (a `StartupError`).
 */
import { createHash } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { StartupError } from './errors.js';
import { DEFAULT_STREAM, validStreamName } from './nats/wire-format.js';
import { parseFilter, type TableFilter } from './replication/filter.js';

export interface HostPort {
  host: string;
  port: number;
}

/** libpq's `sslmode` values. https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-SSLMODE-STATEMENTS */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

export interface UpstreamTarget extends HostPort {
  database: string;
  user: string;
  /** From the URL's `sslmode`; libpq's default is `prefer`. */
  sslMode: SslMode;
  /** `sslrootcert`: a PEM file of trusted roots, or `system`. */
  sslRootCert: string | undefined;
  /** `sslcert` / `sslkey`: a client certificate for upstream. */
  sslCert: string | undefined;
  sslKey: string | undefined;
}

/** TLS for clients connecting to Outpost. */
export interface ClientTlsConfig {
  certPath: string;
  keyPath: string;
  /** Refuse plain-text sessions. */
  required: boolean;
}

/** `--nats`: follow (edge) or feed (hub) a JetStream change stream instead of holding a slot of one's own. */
export interface NatsConfig {
  /** Server URLs (`nats://host:port`), as given (comma-separated for a cluster). */
  servers: string[];
  stream: string;
  /** The edge's durable consumer name. */
  consumer: string;
}

export interface Config {
  upstream: string;
  upstreamTarget: UpstreamTarget;
  replica: string;
  listen: HostPort;
  http: HostPort;
  publication: string | undefined;
  /** `--tables` / `--schemas`; undefined: every table (or what --publication holds). */
  filter: TableFilter | undefined;
  slot: string | undefined;
  logLevel: string;
  tls: ClientTlsConfig | undefined;
  maxClients: number;
  /** 0 = never. */
  idleTimeoutSeconds: number;
  /** `session`: a session's reads after its own write wait for the replica (read-your-writes). */
  consistency: 'session' | 'eventual';
  /** How long such a read waits before it goes upstream. */
  rywTimeoutMs: number;
  /** Replica further behind than this (or replication down): reads go upstream, /readyz says not ready. */
  maxLagMs: number;
  /** Executor processes for local statements that are not key lookups; 0 runs everything on the proxy's thread. */
  workers: number;
  /** Without the DDL event trigger: how often materialized views are checked for a refresh. */
  matviewRefreshMs: number;
  /** `--nats`: the change stream to follow; undefined: this Outpost holds its own slot. */
  nats: NatsConfig | undefined;
}

interface FlagSpec {
  env: string;
  default?: string;
  help: string;
  /** Empty for a boolean flag. */
  placeholder: string;
  boolean?: true;
}

export const FLAGS: Record<string, FlagSpec> = {
  upstream: {
    env: 'OUTPOST_UPSTREAM',
    placeholder: 'URL',
    help: 'Upstream Postgres URL used for replication, e.g. postgres://user:pass@host:5432/db (also DATABASE_URL)',
  },
  replica: {
    env: 'OUTPOST_REPLICA',
    default: 'outpost.db',
    placeholder: 'PATH',
    help: 'SQLite replica file',
  },
  listen: {
    env: 'OUTPOST_LISTEN',
    default: '127.0.0.1:5433',
    placeholder: 'HOST:PORT',
    help: 'Postgres wire protocol listen address',
  },
  http: {
    env: 'OUTPOST_HTTP',
    default: '127.0.0.1:9433',
    placeholder: 'HOST:PORT',
    help: 'HTTP address for /healthz, /status, /metrics',
  },
  publication: {
    env: 'OUTPOST_PUBLICATION',
    placeholder: 'NAME',
    help: 'Existing publication to follow (default: create `outpost` FOR ALL TABLES)',
  },
  tables: {
    env: 'OUTPOST_TABLES',
    placeholder: 'LIST',
    help: 'Replicate only these tables (schema.table, comma-separated); queries on others are forwarded',
  },
  schemas: {
    env: 'OUTPOST_SCHEMAS',
    placeholder: 'LIST',
    help: 'Replicate only the tables of these schemas (comma-separated; Postgres 15+)',
  },
  slot: {
    env: 'OUTPOST_SLOT',
    placeholder: 'NAME',
    help: 'Replication slot name for a new replica (default: outpost_<random>; stored in the replica)',
  },
  'log-level': {
    env: 'OUTPOST_LOG_LEVEL',
    default: 'info',
    placeholder: 'LEVEL',
    help: 'trace, debug, info, warn, error, fatal or silent',
  },
  'tls-cert': {
    env: 'OUTPOST_TLS_CERT',
    placeholder: 'PATH',
    help: 'PEM certificate (chain) for TLS to clients; with --tls-key',
  },
  'tls-key': {
    env: 'OUTPOST_TLS_KEY',
    placeholder: 'PATH',
    help: 'PEM private key for --tls-cert',
  },
  'tls-required': {
    env: 'OUTPOST_TLS_REQUIRED',
    placeholder: '',
    boolean: true,
    help: 'Refuse clients that do not use TLS (FATAL 28000), like a hostssl-only pg_hba.conf',
  },
  'max-clients': {
    env: 'OUTPOST_MAX_CLIENTS',
    default: '1000',
    placeholder: 'N',
    help: 'Client connections beyond this many get FATAL 53300 "sorry, too many clients already"',
  },
  'idle-timeout': {
    env: 'OUTPOST_IDLE_TIMEOUT',
    default: '0',
    placeholder: 'SECONDS',
    help: 'Close client sessions idle this long outside a transaction (FATAL 57P05); 0 = never',
  },
  consistency: {
    env: 'OUTPOST_CONSISTENCY',
    default: 'session',
    placeholder: 'MODE',
    help: 'session: a session reads its own writes; eventual: local reads never wait for replication',
  },
  'ryw-timeout': {
    env: 'OUTPOST_RYW_TIMEOUT',
    default: '1',
    placeholder: 'SECONDS',
    help: 'How long a read after a write waits for the replica before it goes upstream instead',
  },
  'max-lag': {
    env: 'OUTPOST_MAX_LAG',
    default: '10',
    placeholder: 'SECONDS',
    help: 'While the replica is further behind than this (or replication is down), reads go upstream',
  },
  workers: {
    env: 'OUTPOST_WORKERS',
    default: 'cores',
    placeholder: 'N',
    help: 'Processes that run local reads other than key lookups, so a long one blocks no other session; 0 = none',
  },
  'matview-refresh': {
    env: 'OUTPOST_MATVIEW_REFRESH',
    default: '60',
    placeholder: 'SECONDS',
    help: 'Without the DDL event trigger (no superuser): how often materialized views are checked for a REFRESH; a refreshed one is served stale until then',
  },
  nats: {
    env: 'OUTPOST_NATS',
    placeholder: 'URL',
    help: "NATS server (nats://host:port, comma-separated for several): follow the hub's JetStream change stream instead of holding a replication slot",
  },
  stream: {
    env: 'OUTPOST_STREAM',
    default: DEFAULT_STREAM,
    placeholder: 'NAME',
    help: 'JetStream stream of the change stream (with --nats)',
  },
  'nats-consumer': {
    env: 'OUTPOST_NATS_CONSUMER',
    placeholder: 'NAME',
    help: "This edge's durable consumer on the stream (default edge-<hash of host name and replica path>)",
  },
};

export function helpText(): string {
  const lines = [
    'outpost: a Postgres read replica in a SQLite file, and a proxy that serves reads from it.',
    '',
    'Usage: outpost [flags]                 run the replica and the proxy',
    '       outpost status [--json] [flags] replication state, lag and slot of a replica',
    "       outpost drop-slot [flags]       drop the replica's slot (and Outpost's publication) upstream",
    '       outpost uninstall [--force] [flags]  remove everything Outpost created upstream',
    '       outpost publish --nats URL [--stream NAME] [flags]  the NATS hub: one slot, publishes to JetStream',
    '',
    'Flags (each also read from its environment variable):',
  ];
  for (const [name, spec] of Object.entries(FLAGS)) {
    const left = spec.placeholder ? `  --${name} ${spec.placeholder}` : `  --${name}`;
    const def = spec.default ? ` (default ${spec.default})` : '';
    lines.push(`${left.padEnd(30)} ${spec.help}${def}  [${spec.env}]`);
  }
  lines.push(`${'  --help'.padEnd(30)} Show this help`, `${'  --version'.padEnd(30)} Print the version`);
  return lines.join('\n');
}

export function parseHostPort(flag: string, value: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new StartupError(
      `--${flag} must be HOST:PORT (for example 127.0.0.1:5433), got ${JSON.stringify(value)}`,
    );
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Validate the upstream URL without ever printing its password. */
export function parseUpstream(value: string): UpstreamTarget {
  const fix = 'expected postgres://user:password@host:5432/database';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new StartupError(`--upstream is not a valid URL (${fix})`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new StartupError(`--upstream must start with postgres:// or postgresql:// (${fix})`);
  }
  const host = decodeURIComponent(url.hostname.replace(/^\[|\]$/g, ''));
  if (!host) throw new StartupError(`--upstream has no host (${fix})`);
  const port = url.port ? Number(url.port) : 5432;
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username);
  const user = decodeURIComponent(url.username);
  if (!user) throw new StartupError(`--upstream has no user name (${fix})`);
  const sslMode = (url.searchParams.get('sslmode') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslMode)) {
    throw new StartupError(`--upstream sslmode must be one of ${SSL_MODES.join(', ')}`);
  }
  const param = (name: string) => url.searchParams.get(name) || undefined;
  return {
    host,
    port,
    database: database || user,
    user,
    sslMode,
    sslRootCert: param('sslrootcert'),
    sslCert: param('sslcert'),
    sslKey: param('sslkey'),
  };
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new StartupError(`--${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** A non-negative number of seconds (fractions allowed), as milliseconds. */
function seconds(flag: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 86_400) {
    throw new StartupError(
      `--${flag} must be a number of seconds (for example 1 or 0.5), got ${JSON.stringify(value)}`,
    );
  }
  return Math.round(n * 1000);
}

function workerCount(value: string | undefined): number {
  if (value === undefined || value === 'cores') return availableParallelism();
  return positiveInteger('workers', value, 0);
}

function positiveInteger(flag: string, value: string, min: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > 2 ** 31 - 1) {
    throw new StartupError(
      `--${flag} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config | 'help' | 'version' {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    help: { type: 'boolean' },
    version: { type: 'boolean' },
  };
  for (const [name, spec] of Object.entries(FLAGS))
    options[name] = { type: spec.boolean ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new StartupError(`${(err as Error).message.split('\n')[0]} (see outpost --help)`);
  }
  if (values.help) return 'help';
  if (values.version) return 'version';

  const get = (name: string): string | undefined => {
    const v = values[name];
    if (typeof v === 'string') return v;
    const spec = FLAGS[name];
    if (!spec) return undefined;
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    if (name === 'upstream' && env.DATABASE_URL) return env.DATABASE_URL;
    return spec.default;
  };

  const upstream = get('upstream');
  if (!upstream) {
    throw new StartupError('--upstream is required: the Postgres URL to replicate (or set OUTPOST_UPSTREAM)');
  }
  const logLevel = get('log-level') ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    throw new StartupError(`--log-level must be one of trace, debug, info, warn, error, fatal, silent`);
  }
  const tlsCert = get('tls-cert');
  const tlsKey = get('tls-key');
  const requiredFlag = values['tls-required'];
  const requiredEnv = env.OUTPOST_TLS_REQUIRED;
  const tlsRequired =
    requiredFlag === true ||
    (requiredEnv !== undefined && ['1', 'true', 'on', 'yes'].includes(requiredEnv.trim().toLowerCase()));
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new StartupError('--tls-cert and --tls-key go together: give both or neither');
  }
  if (tlsRequired && tlsCert === undefined) {
    throw new StartupError('--tls-required needs --tls-cert and --tls-key');
  }
  // On Fly each machine has its own ID: deriving the slot from it means two
  // instances can never share (and fight over) one slot.
  const flyMachine = env.FLY_MACHINE_ID?.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const slot = get('slot') ?? (flyMachine ? `outpost_${flyMachine}`.slice(0, 63) : undefined);
  if (slot !== undefined && !/^[a-z0-9_]{1,63}$/.test(slot)) {
    throw new StartupError('--slot may contain only lower-case letters, digits and underscores (at most 63)');
  }
  return {
    upstream,
    upstreamTarget: parseUpstream(upstream),
    replica: get('replica') ?? 'outpost.db',
    listen: parseHostPort('listen', get('listen') ?? '127.0.0.1:5433'),
    http: parseHostPort('http', get('http') ?? '127.0.0.1:9433'),
    publication: get('publication'),
    filter: tableFilter(get('tables'), get('schemas'), get('publication')),
    slot,
    logLevel,
    tls: tlsCert && tlsKey ? { certPath: tlsCert, keyPath: tlsKey, required: tlsRequired } : undefined,
    maxClients: positiveInteger('max-clients', get('max-clients') ?? '1000', 1),
    idleTimeoutSeconds: positiveInteger('idle-timeout', get('idle-timeout') ?? '0', 0),
    consistency: oneOf('consistency', get('consistency') ?? 'session', ['session', 'eventual'] as const),
    rywTimeoutMs: seconds('ryw-timeout', get('ryw-timeout') ?? '1'),
    maxLagMs: seconds('max-lag', get('max-lag') ?? '10'),
    workers: workerCount(get('workers')),
    // At least 100 ms: each check is an upstream query.
    matviewRefreshMs: Math.max(100, seconds('matview-refresh', get('matview-refresh') ?? '60')),
    nats: natsConfig(get('nats'), get('stream'), get('nats-consumer'), get('replica') ?? 'outpost.db'),
  };
}

/** `--nats`, `--stream`, `--nats-consumer`; undefined without `--nats`. */
export function natsConfig(
  url: string | undefined,
  stream: string | undefined,
  consumer: string | undefined,
  replica: string,
): NatsConfig | undefined {
  if (url === undefined || url.trim() === '') return undefined;
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of servers) {
    const m = /^(?:(nats|tls):\/\/)?(?:[^@/\s]+@)?(\[[^\]]+\]|[^:/\s]+)(?::(\d{1,5}))?\/?$/.exec(s);
    if (!m || (m[3] !== undefined && Number(m[3]) > 65535)) {
      throw new StartupError('--nats must be nats://HOST:PORT (comma-separated for several servers)');
    }
  }
  const name = stream ?? DEFAULT_STREAM;
  if (!validStreamName(name)) {
    throw new StartupError('--stream may contain only letters, digits, _ and - (at most 64)');
  }
  // Stable across restarts of this edge (same host, same file), distinct between edges.
  const durable =
    consumer ??
    `edge-${createHash('sha256')
      .update(hostname() + resolve(replica))
      .digest('hex')
      .slice(0, 12)}`;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(durable)) {
    throw new StartupError('--nats-consumer may contain only letters, digits, _ and - (at most 64)');
  }
  return { servers, stream: name, consumer: durable };
}

function tableFilter(
  tables: string | undefined,
  schemas: string | undefined,
  publication: string | undefined,
): TableFilter | undefined {
  if ((tables !== undefined || schemas !== undefined) && publication !== undefined) {
    throw new StartupError(
      "--tables/--schemas choose what Outpost's own publication holds; with --publication that publication decides: pass one or the other",
    );
  }
  return parseFilter(tables, schemas);
}
