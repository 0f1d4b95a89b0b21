import pino from 'pino';

export type Logger = pino.Logger;

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  level?: string;
  /** Default: `OUTPOST_LOG_FORMAT`, else pretty when stdout is a terminal, JSON otherwise. */
  format?: LogFormat;
  /**
   * Strings that must never reach the log (the upstream password): replaced
   * in every line, whatever field or message they ended up in.
   */
  secrets?: readonly string[];
  /** Where lines go; default stdout. */
  write?: (line: string) => void;
  /** Colours in pretty output; default: stdout is a terminal and NO_COLOR is unset. */
  color?: boolean;
}

/** The format from `OUTPOST_LOG_FORMAT`, or from whether stdout is a terminal. */
export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env): LogFormat {
  const f = env.OUTPOST_LOG_FORMAT;
  if (f === 'json' || f === 'pretty') return f;
  return process.stdout.isTTY ? 'pretty' : 'json';
}

/**
 * JSON logs to stdout (pretty lines on a terminal); never log passwords: the
 * `redact` list and the `secrets` scrubbing are safety nets, callers must not
 * pass secrets in the first place.
 */
export function createLogger(opts: LoggerOptions | string = {}): Logger {
  const o = typeof opts === 'string' ? { level: opts } : opts;
  const level = o.level ?? process.env.OUTPOST_LOG_LEVEL ?? 'info';
  const format = o.format ?? defaultLogFormat();
  const color = o.color ?? (!!process.stdout.isTTY && process.env.NO_COLOR === undefined);
  const scrub = secretScrubber(o.secrets ?? []);
  // Synchronous: the last lines before process.exit() are not lost.
  const out = o.write ?? stdoutWriter();
  const destination = {
    write(line: string): void {
      const clean = scrub(line);
      out(format === 'pretty' ? formatPretty(clean, color) : clean);
    },
  };
  return pino(
    {
      level,
      base: { service: 'outpost' },
      redact: { paths: ['password', '*.password', 'upstream', '*.upstream'], censor: '[redacted]' },
    },
    destination,
  );
}

function stdoutWriter(): (line: string) => void {
  const dest = pino.destination({ dest: 1, sync: true });
  return (line) => {
    dest.write(line);
  };
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The password of a `postgres://` URL, if any (decoded). */
export function urlPassword(url: string): string | undefined {
  try {
    const p = new URL(url).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Replaces every secret, as written, URL-encoded or JSON-escaped, with
 * `[redacted]`. Secrets shorter than 4 characters are ignored: replacing them
 * would mangle every line and hide nothing worth hiding.
 */
export function secretScrubber(secrets: readonly string[]): (line: string) => string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  if (forms.size === 0) return (line) => line;
  // Longest first, so a form containing another is replaced whole.
  const list = [...forms].sort((a, b) => b.length - a.length);
  return (line) => {
    let out = line;
    for (const f of list) if (out.includes(f)) out = out.split(f).join('[redacted]');
    return out;
  };
}

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '\x1b[90m' },
  20: { name: 'DEBUG', color: '\x1b[36m' },
  30: { name: 'INFO ', color: '\x1b[32m' },
  40: { name: 'WARN ', color: '\x1b[33m' },
  50: { name: 'ERROR', color: '\x1b[31m' },
  60: { name: 'FATAL', color: '\x1b[35m' },
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
/** Fields every line has, shown in the line's head or not at all. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service']);

/**
 * One pino JSON line as a human-readable one:
 * `12:34:56.789 INFO  message key=value ...`, with an error's stack on the
 * following lines. Anything that is not a JSON object passes through.
 */
export function formatPretty(line: string, color = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  if (typeof rec !== 'object' || rec === null) return `${line}\n`;
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const lv = LEVELS[rec.level as number] ?? { name: String(rec.level).padEnd(5), color: '' };
  const level = color ? `${lv.color}${lv.name}${RESET}` : lv.name;
  const msg = typeof rec.msg === 'string' ? rec.msg : '';
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [k, v] of Object.entries(rec)) {
    if (HEAD_FIELDS.has(k)) continue;
    if (k === 'err' && v && typeof v === 'object') {
      const e = v as { message?: unknown; stack?: unknown };
      fields.push(`err=${quoteValue(String(e.message ?? ''))}`);
      if (typeof e.stack === 'string') stack = e.stack;
      continue;
    }
    fields.push(`${k}=${typeof v === 'string' ? quoteValue(v) : JSON.stringify(v)}`);
  }
  const tail = fields.length > 0 ? ` ${color ? DIM : ''}${fields.join(' ')}${color ? RESET : ''}` : '';
  let out = `${time} ${level} ${msg}${tail}\n`;
  if (stack && (rec.level as number) >= 50) {
    out += `${stack
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n')}\n`;
  }
  return out;
}

/** Bare when unambiguous, else JSON-quoted. */
function quoteValue(v: string): string {
  return v !== '' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
}
