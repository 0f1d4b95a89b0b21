#!/usr/bin/env node
/**
 * `outpost`: parse flags, start, and turn every startup problem into one line
 * on stderr with exit code 1 — never a stack trace.
 */
import { Outpost, VERSION } from './app.js';
import { dropSlotCommand, formatStatus, statusCommand } from './commands/admin.js';
import { Hub, PUBLISH_HELP, parsePublishArgs } from './commands/publish.js';
import { formatUninstall, uninstallCommand } from './commands/uninstall.js';
import { helpText, parseConfig } from './config.js';
import { errorMessage, StartupError } from './errors.js';
import { createLogger, secretScrubber, urlPassword } from './log.js';

/** Longest a graceful stop may take (drain 10 s, replication 5 s, closing) before exiting anyway. */
const STOP_TIMEOUT_MS = 30_000;

/** Set once the upstream URL is known: keeps its password out of stderr too. */
let scrub: (s: string) => string = (s) => s;

function fail(message: string): never {
  process.stderr.write(`outpost: ${scrub(message)}\n`);
  process.exit(1);
}

/** `outpost status` and `outpost drop-slot`: one-shot commands on a replica and its upstream. */
async function admin(command: 'status' | 'drop-slot', argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig(
      argv.filter((a) => a !== '--json'),
      process.env,
    );
  } catch (err) {
    fail(errorMessage(err));
  }
  if (parsed === 'help' || parsed === 'version') {
    process.stdout.write(
      'Usage: outpost status [--json] [flags]\n       outpost drop-slot [--slot NAME] [flags]\nFlags as for outpost (--upstream, --replica, --http).\n',
    );
    return;
  }
  const target = { upstream: parsed.upstream, replica: parsed.replica, slot: parsed.slot, http: parsed.http };
  try {
    if (command === 'status') {
      const report = await statusCommand(target);
      process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatStatus(report)}\n`);
    } else {
      const r = await dropSlotCommand(target);
      const lines = [r.slotDropped ? `dropped slot ${r.slot}` : `slot ${r.slot} did not exist upstream`];
      if (r.publicationDropped) lines.push(`dropped publication ${r.publication}`);
      else if (r.publicationKeptBecause)
        lines.push(`kept publication ${r.publication}: ${r.publicationKeptBecause}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  } catch (err) {
    fail(errorMessage(err));
  }
}

/** `outpost uninstall`: everything Outpost created upstream, removed (src/commands/uninstall.ts). */
async function uninstall(argv: string[]): Promise<void> {
  const force = argv.includes('--force');
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig(
      argv.filter((a) => a !== '--force'),
      process.env,
    );
  } catch (err) {
    fail(errorMessage(err));
  }
  if (parsed === 'help' || parsed === 'version') {
    process.stdout.write(
      'Usage: outpost uninstall --upstream URL [--replica FILE] [--slot NAME] [--force]\nRemoves the slots, the publication, the event triggers, the function and the schema Outpost created upstream.\n--force: terminate the connection of an Outpost still streaming from a slot (stop that Outpost too).\n',
    );
    return;
  }
  const password = urlPassword(parsed.upstream);
  scrub = secretScrubber(password ? [password] : []);
  // The replica file only when named: the default path may be another upstream's.
  const named =
    argv.some((a) => a === '--replica' || a.startsWith('--replica=')) || !!process.env.OUTPOST_REPLICA;
  try {
    const r = await uninstallCommand({
      upstream: parsed.upstream,
      replica: named ? parsed.replica : undefined,
      slot: parsed.slot,
      force,
    });
    process.stdout.write(`${formatUninstall(r)}\n`);
    if (r.incomplete) fail('some of what Outpost created upstream could not be removed (see above)');
  } catch (err) {
    fail(errorMessage(err));
  }
}

/** `outpost publish`: the NATS hub (src/commands/publish.ts). */
async function publish(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parsePublishArgs>;
  try {
    parsed = parsePublishArgs(argv, process.env);
  } catch (err) {
    fail(errorMessage(err));
  }
  if (parsed === 'help') {
    process.stdout.write(`${PUBLISH_HELP}\n`);
    return;
  }
  const opts = parsed;
  const password = urlPassword(opts.config.upstream);
  scrub = secretScrubber(password ? [password] : []);
  const logger = createLogger({ level: opts.config.logLevel, secrets: password ? [password] : [] });
  let hub: Hub | undefined;
  let signalled = false;
  const stopAndExit = (h: Hub) => {
    setTimeout(() => {
      logger.error({ ms: STOP_TIMEOUT_MS }, 'stop took too long; exiting');
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    h.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  const shutdown = (signal: string) => {
    if (signalled) process.exit(1);
    signalled = true;
    logger.info({ signal }, 'shutting down');
    if (hub) stopAndExit(hub);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    hub = await Hub.start(opts, logger);
  } catch (err) {
    if (signalled) process.exit(0);
    fail(errorMessage(err));
  }
  if (signalled) {
    stopAndExit(hub);
    return;
  }
  try {
    await hub.replicationStarted;
    logger.info({ slot: hub.engine.status().slot, stream: opts.stream }, 'replication streaming; publishing');
  } catch (err) {
    if (signalled) return;
    await hub.stop().catch(() => {});
    if (!(err instanceof StartupError)) logger.error({ err }, 'replication failed to start');
    fail(errorMessage(err));
  }
}

async function main(): Promise<void> {
  const [first, ...rest] = process.argv.slice(2);
  if (first === 'publish') {
    await publish(rest);
    return;
  }
  if (first === 'status' || first === 'drop-slot') {
    await admin(first, rest);
    return;
  }
  if (first === 'uninstall') {
    await uninstall(rest);
    return;
  }
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    fail(errorMessage(err));
  }
  if (parsed === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  if (parsed === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const config = parsed;
  const password = urlPassword(config.upstream);
  scrub = secretScrubber(password ? [password] : []);
  const logger = createLogger({ level: config.logLevel, secrets: password ? [password] : [] });

  let outpost: Outpost | undefined;
  let signalled: string | undefined;
  const stopAndExit = (o: Outpost) => {
    const timer = setTimeout(() => {
      logger.error({ ms: STOP_TIMEOUT_MS }, 'stop took too long; exiting');
      process.exit(1);
    }, STOP_TIMEOUT_MS);
    timer.unref();
    o.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // SIGTERM and SIGINT stop gracefully; a second signal during the stop exits at once.
  const shutdown = (signal: string) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting without finishing the stop');
      process.exit(1);
    }
    signalled = signal;
    logger.info({ signal }, 'shutting down');
    // Still starting: the stop follows once start() has returned.
    if (outpost) stopAndExit(outpost);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    outpost = await Outpost.start(config, logger);
  } catch (err) {
    if (signalled) process.exit(0);
    if (!(err instanceof StartupError)) logger.error({ err }, 'startup failed');
    fail(errorMessage(err));
  }
  if (signalled) {
    stopAndExit(outpost);
    return;
  }

  try {
    await outpost.replicationStarted;
    logger.info({ slot: outpost.engine.status().slot }, 'replication streaming');
  } catch (err) {
    // Stopped by a signal while still starting (e.g. mid-snapshot): the stop exits.
    if (signalled) return;
    await outpost.stop().catch(() => {});
    if (!(err instanceof StartupError)) logger.error({ err }, 'replication failed to start');
    fail(errorMessage(err));
  }
}

process.on('uncaughtException', (err) => {
  process.stderr.write(`outpost: internal error: ${scrub(errorMessage(err))}\n`);
  process.exit(70);
});

main().catch((err) => fail(errorMessage(err)));
