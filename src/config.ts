/**
 * Flags, their environment twins and defaults. Every bad value is reported as
 * one line naming the flag and how to fix it (a `StartupError`).
 */
import { parseArgs } from 'node:util';
import { StartupError } from './errors.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface UpstreamTarget extends HostPort {
  database: string;
  user: string;
}

export interface Config {
  upstream: string;
  upstreamTarget: UpstreamTarget;
  replica: string;
  listen: HostPort;
  http: HostPort;
  publication: string | undefined;
  slot: string | undefined;
  logLevel: string;
}

interface FlagSpec {
  env: string;
  default?: string;
  help: string;
  placeholder: string;
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
};

export function helpText(): string {
  const lines = [
    'outpost: a Postgres read replica in a SQLite file, and a proxy that serves reads from it.',
    '',
    'Usage: outpost [flags]',
    '',
    'Flags (each also read from its environment variable):',
  ];
  for (const [name, spec] of Object.entries(FLAGS)) {
    const left = `  --${name} ${spec.placeholder}`;
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
  return { host, port, database: database || user, user };
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config | 'help' | 'version' {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    help: { type: 'boolean' },
    version: { type: 'boolean' },
  };
  for (const name of Object.keys(FLAGS)) options[name] = { type: 'string' };
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
  const slot = get('slot');
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
    slot,
    logLevel,
  };
}
