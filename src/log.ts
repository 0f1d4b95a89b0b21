import pino from 'pino';

export type Logger = pino.Logger;

/**
 * JSON logs to stdout; never log passwords (the `redact` list is a safety net,
 * callers must not pass secrets in the first place).
 */
export function createLogger(level = process.env.OUTPOST_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'outpost' },
    redact: { paths: ['password', '*.password', 'upstream', '*.upstream'], censor: '[redacted]' },
  });
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
