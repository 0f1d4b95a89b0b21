/**
 * A tiny Prometheus registry: counters and gauges with labels, rendered in the
 * text exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/).
 * Pure data; `src/http` serves it.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels | undefined): string {
  if (!labels) return '';
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`).join(',')}}`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

abstract class Metric {
  protected readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${formatNumber(v)}`);
    return lines.join('\n');
  }

  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

export class Counter extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels?: Labels, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
}

export class Gauge extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(value: number, labels?: Labels): void {
    this.values.set(labelKey(labels), value);
  }
  inc(labels?: Labels, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by);
  }
}

/** Every metric Outpost exports. One instance per process (see `createMetrics`). */
export function createMetrics() {
  return {
    statements: new Counter('outpost_statements_total', 'Statements handled, by route (local|upstream).'),
    forwarded: new Counter('outpost_forwarded_total', 'Statements forwarded upstream, by reason.'),
    clients: new Gauge('outpost_clients_connected', 'Client connections currently open.'),
    clientErrors: new Counter('outpost_client_errors_total', 'Errors sent to clients, by SQLSTATE class.'),
    appliedLsn: new Gauge(
      'outpost_replication_applied_lsn',
      'Upstream LSN the replica reflects, as a number.',
    ),
    lagBytes: new Gauge('outpost_replication_lag_bytes', 'Bytes of WAL between upstream and the replica.'),
    lagSeconds: new Gauge(
      'outpost_replication_lag_seconds',
      'Seconds between upstream commit and local apply.',
    ),
    transactionsApplied: new Counter(
      'outpost_replication_transactions_total',
      'Upstream transactions applied to the replica.',
    ),
    changesApplied: new Counter('outpost_replication_changes_total', 'Row changes applied, by kind.'),
    snapshotRows: new Gauge('outpost_snapshot_rows_copied', 'Rows copied by the initial snapshot.'),
    tablesResynced: new Counter(
      'outpost_replication_tables_resynced_total',
      'Tables replaced or dropped from a fresh snapshot after an upstream schema change.',
    ),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

export function renderMetrics(metrics: Metrics): string {
  return `${Object.values(metrics)
    .map((m) => m.render())
    .join('\n')}\n`;
}
