/**
 * A tiny Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 * Pure data; `src/http` serves it.
 */
import { forwardReasonClass, sqlStateClass } from './forward-reasons.js';

type Labels = Record<string, string>;

/** Label sets seen before, by a cheap key: counters are bumped on every statement. */
const labelKeys = new Map<string, string>();

function labelKey(labels: Labels | undefined): string {
  if (!labels) return '';
  let quick = '';
  for (const k in labels) quick += `${k}\u0000${labels[k]}\u0001`;
  const known = labelKeys.get(quick);
  if (known !== undefined) return known;
  const keys = Object.keys(labels).sort();
  const key =
    keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`).join(',')}}`;
  // Label values come from fixed sets (see `LabelClassifiers`); stay bounded anyway.
  if (labelKeys.size >= 10_000) labelKeys.clear();
  labelKeys.set(quick, key);
  return key;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

abstract class Metric {
  protected readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
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

/** Maps a label's free-text value to one of a fixed set, so a series per distinct text cannot arise. */
export type LabelClassifiers = Readonly<Record<string, (value: string) => string>>;

export class Counter extends Metric {
  constructor(
    name: string,
    help: string,
    private readonly classify?: LabelClassifiers,
  ) {
    super(name, help, 'counter');
  }
  inc(labels?: Labels, by = 1): void {
    const k = this.key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  override get(labels?: Labels): number {
    return super.get(this.classified(labels));
  }
  /**
   * Series key of raw labels, remembered by their text (bumped on every
   * statement: classifying a forward reason runs a list of patterns).
   */
  private readonly keys = new Map<string, string>();
  private key(labels: Labels | undefined): string {
    if (!labels || !this.classify) return labelKey(labels);
    let quick = '';
    for (const k in labels) quick += `${k}\u0000${labels[k]}\u0001`;
    const known = this.keys.get(quick);
    if (known !== undefined) return known;
    const key = labelKey(this.classified(labels));
    // Raw values are free text (forward reasons quote names): stay bounded.
    if (this.keys.size >= 10_000) this.keys.clear();
    this.keys.set(quick, key);
    return key;
  }
  private classified(labels: Labels | undefined): Labels | undefined {
    const classify = this.classify;
    if (!labels || !classify) return labels;
    const out: Labels = {};
    for (const k in labels) {
      const v = labels[k] as string;
      const f = classify[k];
      out[k] = f ? f(v) : v;
    }
    return out;
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

/**
 * Upper bounds (seconds) of the statement latency buckets: a local point read
 * takes tens of microseconds, a forwarded statement anything up to seconds.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

interface HistogramSeries {
  labels: Labels | undefined;
  /** Per bucket (not cumulative); the last slot counts observations above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * Cumulative buckets as Prometheus expects (`_bucket{le=...}`, `_sum`,
 * `_count`); observations are counted in their own bucket and accumulated
 * only when rendered, so observing is one array increment.
 */
export class Histogram extends Metric {
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    name: string,
    help: string,
    readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {
    super(name, help, 'histogram');
  }

  observe(value: number, labels?: Labels): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: new Array(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    let i = 0;
    while (i < this.buckets.length && value > (this.buckets[i] as number)) i++;
    s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count++;
  }

  /** Observations so far (the `_count` series). */
  override get(labels?: Labels): number {
    return this.series.get(labelKey(labels))?.count ?? 0;
  }

  /** Sum of the observed values (the `_sum` series). */
  sum(labels?: Labels): number {
    return this.series.get(labelKey(labels))?.sum ?? 0;
  }

  override render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i] ?? 0;
        const le = i < this.buckets.length ? formatNumber(this.buckets[i] as number) : '+Inf';
        lines.push(`${this.name}_bucket${labelKey({ ...s.labels, le })} ${cumulative}`);
      }
      lines.push(`${this.name}_sum${k} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${k} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/** Every metric Outpost exports. One instance per process (see `createMetrics`). */
export function createMetrics() {
  return {
    statements: new Counter('outpost_statements_total', 'Statements handled, by route (local|upstream).'),
    // The reason's class (src/forward-reasons.ts); the text itself is in SHOW outpost.last_route.
    forwarded: new Counter('outpost_forwarded_total', 'Statements forwarded upstream, by reason class.', {
      reason: forwardReasonClass,
    }),
    clients: new Gauge('outpost_clients_connected', 'Client connections currently open.'),
    offloaded: new Counter(
      'outpost_local_offloaded_total',
      'Local statements handed to an executor process (the others ran on the proxy thread).',
    ),
    inlineDemotions: new Counter(
      'outpost_inline_demotions_total',
      'Bounded local plans sent to the executors for good after an inline run took longer than its budget.',
    ),
    clientErrors: new Counter('outpost_client_errors_total', 'Errors sent to clients, by SQLSTATE class.', {
      class: sqlStateClass,
    }),
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
    statementDuration: new Histogram(
      'outpost_statement_duration_seconds',
      'Statement latency by route: local (routing, SQLite and the reply) or upstream (sent until its ReadyForQuery is relayed).',
    ),
    snapshotRows: new Gauge('outpost_snapshot_rows_copied', 'Rows copied by the initial snapshot.'),
    snapshotTablesDone: new Gauge('outpost_snapshot_tables_done', 'Tables the initial snapshot has copied.'),
    snapshotTablesTotal: new Gauge('outpost_snapshot_tables_total', 'Tables the initial snapshot copies.'),
    replicationUp: new Gauge(
      'outpost_replication_streaming',
      '1 while replication is streaming, else 0 (snapshot, reconnecting, stopped).',
    ),
    buildInfo: new Gauge('outpost_build_info', 'Always 1; the version is a label.'),
    tablesResynced: new Counter(
      'outpost_replication_tables_resynced_total',
      'Tables replaced or dropped from a fresh snapshot after an upstream schema change.',
    ),
    // Edges (--nats): the hub's change stream as this replica follows it.
    edgeSeq: new Gauge(
      'outpost_nats_edge_stream_seq',
      'Edge: last stream sequence the replica reflects (stored with applied_lsn).',
    ),
    edgeConnected: new Gauge('outpost_nats_edge_connected', 'Edge: 1 while connected to NATS, else 0.'),
    edgeSilence: new Gauge(
      'outpost_nats_edge_silence_seconds',
      'Edge: seconds since the last stream message (the hub heartbeats at least every second).',
    ),
    edgeHubLag: new Gauge(
      'outpost_nats_edge_hub_lag_seconds',
      "Edge: seconds between the hub publishing the last applied message and now (the hub's clock).",
    ),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

export type StatementRoute = 'local' | 'upstream';

/** Records one statement's latency. */
export function observeStatement(metrics: Metrics, route: StatementRoute, seconds: number): void {
  metrics.statementDuration.observe(seconds, { route });
}

/**
 * Starts timing a statement now; the returned function records it (once:
 * later calls do nothing, so it can sit on several completion paths).
 */
export function statementTimer(metrics: Metrics, route: StatementRoute): () => void {
  const started = performance.now();
  let done = false;
  return () => {
    if (done) return;
    done = true;
    observeStatement(metrics, route, (performance.now() - started) / 1000);
  };
}

/**
 * For a forwarded statement: times from now (when it is sent upstream) until
 * its ReadyForQuery is relayed, by chaining the expectation's `ready`
 * callback (`src/server/upstream-replies.ts`). Returns the same object.
 */
export function timeUntilReady<E extends { ready?: ((status: number) => void) | undefined }>(
  metrics: Metrics,
  expectation: E,
): E {
  const done = statementTimer(metrics, 'upstream');
  const previous = expectation.ready;
  expectation.ready = (status: number) => {
    done();
    previous?.(status);
  };
  return expectation;
}

/**
 * For a forwarded extended-protocol Execute: times from now until upstream
 * settles it (CommandComplete, EmptyQueryResponse, PortalSuspended or an
 * error), by chaining the expectation's `settle` callback. One skipped
 * because an earlier message failed is not a statement upstream ran: not
 * recorded. Call it after anything else sets `settle`. Returns the same object.
 */
export function timeUntilSettled<
  E extends { settle?: ((outcome: 'ok' | 'error' | 'skipped') => void) | undefined },
>(metrics: Metrics, expectation: E): E {
  const done = statementTimer(metrics, 'upstream');
  const previous = expectation.settle;
  expectation.settle = (outcome) => {
    if (outcome !== 'skipped') done();
    previous?.(outcome);
  };
  return expectation;
}

export function renderMetrics(metrics: Metrics): string {
  return `${Object.values(metrics)
    .map((m) => m.render())
    .join('\n')}\n`;
}
