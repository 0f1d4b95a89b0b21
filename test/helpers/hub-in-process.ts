/**
 * The real NATS hub (`outpost publish`, src/commands/publish.ts) in the test's
 * own process, for tests that look inside it (publisher, engine, store). The
 * hub as a child process that can be SIGKILLed: startHub in ./outpost.ts.
 */
import { Hub, parsePublishArgs } from '../../src/commands/publish.js';
import { createLogger, type Logger } from '../../src/log.js';
import { publishArgs } from './outpost.js';
import { freePort } from './postgres.js';

export async function startHubInProcess(opts: {
  upstream: string;
  nats: string;
  stream: string;
  replica: string;
  /** Seconds between object-store snapshots; default 0 (none), the test publishes if it wants them. */
  snapshotInterval?: number;
  /** Default: silent, or the level in OUTPOST_TEST_LOG. */
  logger?: Logger;
  /** Resolve once replication has started (default); false for a hub that waits for NATS. */
  started?: boolean;
}): Promise<{ hub: Hub; http: number }> {
  const http = await freePort();
  const parsed = parsePublishArgs(
    [...publishArgs({ ...opts, httpPort: http }), '--snapshot-interval', String(opts.snapshotInterval ?? 0)],
    {},
  );
  if (parsed === 'help') throw new Error('parsePublishArgs answered help');
  const logger = opts.logger ?? createLogger({ level: process.env.OUTPOST_TEST_LOG ?? 'silent' });
  const hub = await Hub.start(parsed, logger);
  if (opts.started !== false) await hub.replicationStarted;
  return { hub, http };
}
