#!/usr/bin/env node
/**
 * `outpost`: parse flags, start, and turn every startup problem into one line
 * on stderr with exit code 1 — never a stack trace.
 */
import { Outpost, VERSION } from './app.js';
import { dropSlotCommand, formatStatus, statusCommand } from './commands/admin.js';
import { helpText, parseConfig } from './config.js';
import { errorMessage, StartupError } from './errors.js';
import { createLogger } from './log.js';

function fail(message: string): never {
  process.stderr.write(`outpost: ${message}\n`);
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

async function main(): Promise<void> {
  const [first, ...rest] = process.argv.slice(2);
  if (first === 'status' || first === 'drop-slot') {
    await admin(first, rest);
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
  const logger = createLogger(config.logLevel);

  let outpost: Outpost;
  try {
    outpost = await Outpost.start(config, logger);
  } catch (err) {
    if (!(err instanceof StartupError)) logger.error({ err }, 'startup failed');
    fail(errorMessage(err));
  }

  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'shutting down');
    outpost.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    await outpost.replicationStarted;
    logger.info({ slot: outpost.engine.status().slot }, 'replication streaming');
  } catch (err) {
    await outpost.stop().catch(() => {});
    if (!(err instanceof StartupError)) logger.error({ err }, 'replication failed to start');
    fail(errorMessage(err));
  }
}

process.on('uncaughtException', (err) => {
  process.stderr.write(`outpost: internal error: ${errorMessage(err)}\n`);
  process.exit(70);
});

main().catch((err) => fail(errorMessage(err)));
