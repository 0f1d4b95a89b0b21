/**
 * The replication engine: upstream checks, publication and slot, initial
 * snapshot, then the pgoutput stream applied to the replica, acknowledging
 * only what SQLite has committed. Reconnects on its own once streaming; only
 * `start()` can fail (with a StartupError the CLI prints as one line).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { errorMessage, StartupError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { type AppliedRelation, Applier } from '../replica/applier.js';
import type { ReplicaColumn, ReplicaTable } from '../replica/schema.js';
import { sqliteTableName } from '../replica/schema.js';
import { copySnapshot, fetchCatalog, type SnapshotProgress } from '../replica/snapshot.js';
import type { ReplicaStore } from '../replica/store.js';
import { formatLsn, type Lsn, maxLsn } from './lsn.js';
import { decodePgOutput, type RelationMessage } from './pgoutput.js';
import {
  CONNECT_TIMEOUT_MS,
  type Keepalive,
  ReplicationConnection,
  SESSION_OPTIONS,
  type XLogData,
} from './stream.js';

export type EngineState = 'starting' | 'snapshot' | 'streaming' | 'reconnecting' | 'stopped' | 'error';

export interface EngineOptions {
  upstreamUrl: string;
  store: ReplicaStore;
  /** An existing publication to follow; default: `outpost`, created FOR ALL TABLES if missing. */
  publication?: string;
  /** Slot name; default `outpost_<12 hex>` on first start, then the one recorded in the replica. */
  slot?: string;
  logger: Logger;
  metrics: Metrics;
}

export interface EngineStatus {
  state: EngineState;
  slot: string;
  publication: string;
  /** `X/Y` */
  appliedLsn: string;
  upstreamLsn: string;
  lagBytes: number;
  lastError?: string;
  snapshot?: SnapshotProgress;
}

const DEFAULT_PUBLICATION = 'outpost';
const STATUS_INTERVAL_MS = 10_000;
/** At most one idle-position write to SQLite per this interval. */
const IDLE_WRITE_INTERVAL_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
const STOP_WAIT_MS = 5_000;
const SLOT_NAME_RE = /^[a-z0-9_]{1,63}$/;

type QueueItem = { gen: number; msg: XLogData | Keepalive };

interface Preflight {
  version: number;
  user: string;
  database: string;
  superuser: boolean;
}

/** `applied`: emitted after each SQLite commit that moved the replica's position. */
export type EngineEvents = { applied: [lsn: bigint] };

export class ReplicationEngine extends EventEmitter<EngineEvents> {
  private readonly store: ReplicaStore;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly applier: Applier;
  private state: EngineState = 'starting';
  private slot = '';
  private publication = '';
  private applied: Lsn = 0n;
  private upstreamLsn: Lsn = 0n;
  private lastError: string | undefined;
  private snapshot: SnapshotProgress | undefined;

  private repl: ReplicationConnection | undefined;
  private lookup: pg.Client | undefined;
  private readonly relations = new Map<number, AppliedRelation>();
  private queue: QueueItem[] = [];
  private draining = false;
  /** Bumped when a connection is abandoned; queued work of older generations is dropped. */
  private gen = 0;
  private skipping = false;
  private pendingIdle: Lsn = 0n;
  private lastIdleWrite = 0;
  private lastStatusAt = 0;
  private ackScheduled = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopping = false;

  constructor(private readonly opts: EngineOptions) {
    super();
    this.store = opts.store;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
    this.applier = new Applier(opts.store);
  }

  status(): EngineStatus {
    const s: EngineStatus = {
      state: this.state,
      slot: this.slot,
      publication: this.publication,
      appliedLsn: formatLsn(this.applied),
      upstreamLsn: formatLsn(this.upstreamLsn),
      lagBytes: this.lagBytes(),
    };
    if (this.lastError !== undefined) s.lastError = this.lastError;
    if (this.snapshot) s.snapshot = { ...this.snapshot };
    return s;
  }

  /**
   * Checks the upstream, makes publication, slot and snapshot if the replica
   * has none, and starts streaming. Resolves once streaming has begun.
   */
  async start(): Promise<void> {
    this.state = 'starting';
    try {
      await this.startInner();
    } catch (err) {
      this.state = 'error';
      this.lastError = errorMessage(err);
      await this.teardown();
      if (err instanceof StartupError) throw err;
      throw new StartupError(`replication failed to start: ${oneLine(errorMessage(err))}`);
    }
  }

  /** Finishes the transaction being applied (waits up to 5 s), acknowledges, closes. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const deadline = Date.now() + STOP_WAIT_MS;
    while (
      (this.applier.inTransaction || this.draining) &&
      this.repl &&
      !this.repl.isClosed &&
      Date.now() < deadline
    ) {
      await sleep(10);
    }
    this.gen++;
    this.queue = [];
    if (this.applier.inTransaction) this.applier.rollback();
    if (this.state === 'streaming') this.flushIdle(true);
    this.repl?.sendStatus(this.applied);
    await this.teardown();
    this.state = 'stopped';
  }

  // ---- startup ------------------------------------------------------------

  private async startInner(): Promise<void> {
    const { store } = this;
    const client = await this.connectNormal();
    this.lookup = client;
    const pre = await this.preflight(client);

    let repl: ReplicationConnection;
    try {
      repl = await ReplicationConnection.connect(this.opts.upstreamUrl);
    } catch (err) {
      throw this.connectError(err, 'replication');
    }
    this.repl = repl;
    const ident = await repl.identifySystem();

    const storedSystem = store.getMeta('system_identifier');
    const storedDb = store.getMeta('database');
    if (storedSystem !== undefined && (storedSystem !== ident.systemId || storedDb !== ident.dbname)) {
      throw new StartupError(
        `replica file ${store.path} was made from a different upstream (system identifier ${storedSystem}, database "${storedDb}"); this upstream is ${ident.systemId}, database "${ident.dbname}": use a new replica file`,
      );
    }
    const storedSlot = store.getMeta('slot');
    const storedPub = store.getMeta('publication');
    if (this.opts.slot !== undefined && !SLOT_NAME_RE.test(this.opts.slot)) {
      throw new StartupError(
        `invalid slot name "${this.opts.slot}": use 1-63 lower case letters, digits and underscores`,
      );
    }

    if (store.snapshotComplete() && storedSlot && storedPub) {
      if (this.opts.slot !== undefined && this.opts.slot !== storedSlot) {
        throw new StartupError(
          `replica file ${store.path} follows slot "${storedSlot}", not "${this.opts.slot}": drop --slot or use a new replica file`,
        );
      }
      if (this.opts.publication !== undefined && this.opts.publication !== storedPub) {
        throw new StartupError(
          `replica file ${store.path} follows publication "${storedPub}", not "${this.opts.publication}": drop --publication or use a new replica file`,
        );
      }
      this.slot = storedSlot;
      this.publication = storedPub;
      await this.checkPublication(client, pre, storedPub);
      const slotRow = await client.query<{ plugin: string | null; database: string | null }>(
        'SELECT plugin, database FROM pg_replication_slots WHERE slot_name = $1',
        [storedSlot],
      );
      if (slotRow.rows.length === 0) {
        throw new StartupError(
          `replication slot "${storedSlot}" recorded in ${store.path} no longer exists upstream, so changes since the replica's position are lost: delete the replica file to take a new snapshot`,
        );
      }
      this.applied = store.appliedLsn();
      this.logger.info(
        { slot: storedSlot, publication: storedPub, appliedLsn: formatLsn(this.applied) },
        'replication: resuming',
      );
    } else {
      await this.initialSnapshot(client, repl, pre, ident.systemId, ident.dbname, storedSlot);
    }
    this.upstreamLsn = maxLsn(this.upstreamLsn, this.applied);
    await this.startStreaming(repl);
  }

  private async connectNormal(): Promise<pg.Client> {
    const c = new pg.Client({
      connectionString: this.opts.upstreamUrl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      options: SESSION_OPTIONS,
      application_name: 'outpost',
      keepAlive: true,
    });
    // An idle lookup connection may drop; it is re-opened on next use.
    c.on('error', (err) =>
      this.logger.debug({ err: errorMessage(err) }, 'replication: lookup connection error'),
    );
    try {
      await c.connect();
    } catch (err) {
      c.end().catch(() => {});
      throw this.connectError(err, 'normal');
    }
    return c;
  }

  /** One clear line for why we could not connect. */
  private connectError(err: unknown, kind: 'normal' | 'replication'): StartupError {
    const e = err as { code?: string; message?: string };
    const where = describeUpstream(this.opts.upstreamUrl);
    const msg = oneLine(errorMessage(err));
    switch (e.code) {
      case 'ECONNREFUSED':
      case 'ENOTFOUND':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'ETIMEDOUT':
      case 'EAI_AGAIN':
        return new StartupError(`cannot reach upstream Postgres at ${where}: ${msg}`);
      case '28P01':
        return new StartupError(`authentication to upstream Postgres at ${where} failed: ${msg}`);
      case '28000':
        return new StartupError(
          kind === 'replication'
            ? `upstream Postgres at ${where} refused the replication connection: ${msg} (pg_hba.conf needs a "replication" entry for this user)`
            : `upstream Postgres at ${where} refused the connection: ${msg}`,
        );
      case '3D000':
        return new StartupError(`upstream database does not exist: ${msg}`);
      case '42501':
        return new StartupError(
          `upstream role lacks the REPLICATION attribute needed for logical replication: ${msg} (run ALTER ROLE <user> REPLICATION as a superuser)`,
        );
    }
    if (/timeout/i.test(msg)) {
      return new StartupError(
        `cannot reach upstream Postgres at ${where}: no connection within ${CONNECT_TIMEOUT_MS / 1000} s`,
      );
    }
    return new StartupError(`cannot connect to upstream Postgres at ${where}: ${msg}`);
  }

  private async preflight(client: pg.Client): Promise<Preflight> {
    const r = await client.query<{
      version: string;
      wal_level: string;
      usr: string;
      db: string;
      rolsuper: boolean;
      rolreplication: boolean;
    }>(
      `SELECT current_setting('server_version_num') AS version, current_setting('wal_level') AS wal_level,
              current_user AS usr, current_database() AS db, r.rolsuper, r.rolreplication
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const row = r.rows[0];
    if (!row) throw new StartupError('cannot read the upstream role (pg_roles has no row for current_user)');
    if (row.wal_level !== 'logical') {
      throw new StartupError(
        `wal_level is '${row.wal_level}' on the upstream; logical replication needs wal_level=logical: run ALTER SYSTEM SET wal_level = logical; then restart Postgres`,
      );
    }
    if (!row.rolsuper && !row.rolreplication) {
      throw new StartupError(
        `upstream role "${row.usr}" lacks the REPLICATION attribute needed to create and use a replication slot: run ALTER ROLE ${pg.escapeIdentifier(row.usr)} REPLICATION; as a superuser`,
      );
    }
    return { version: Number(row.version), user: row.usr, database: row.db, superuser: row.rolsuper };
  }

  /**
   * The publication must publish every change of every row and column, or
   * the replica would silently differ from upstream.
   */
  private async checkPublication(client: pg.Client, pre: Preflight, name: string): Promise<boolean> {
    const p = await client.query<{ ins: boolean; upd: boolean; del: boolean; trunc: boolean }>(
      'SELECT pubinsert AS ins, pubupdate AS upd, pubdelete AS del, pubtruncate AS trunc FROM pg_publication WHERE pubname = $1',
      [name],
    );
    const row = p.rows[0];
    if (!row) return false;
    if (!row.ins || !row.upd || !row.del || !row.trunc) {
      throw new StartupError(
        `publication "${name}" does not publish every operation; Outpost needs insert, update, delete and truncate: ALTER PUBLICATION ${pg.escapeIdentifier(name)} SET (publish = 'insert, update, delete, truncate')`,
      );
    }
    if (pre.version >= 150000) {
      const f = await client.query<{ rel: string; filtered: boolean }>(
        `SELECT pr.prrelid::regclass::text AS rel, pr.prqual IS NOT NULL AS filtered
           FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
          WHERE p.pubname = $1 AND (pr.prqual IS NOT NULL OR pr.prattrs IS NOT NULL) LIMIT 1`,
        [name],
      );
      const bad = f.rows[0];
      if (bad) {
        throw new StartupError(
          `publication "${name}" has a ${bad.filtered ? 'row filter' : 'column list'} on ${bad.rel}; Outpost replicates whole tables: remove it or use another publication`,
        );
      }
    }
    return true;
  }

  private async ensurePublication(client: pg.Client, pre: Preflight): Promise<string> {
    if (this.opts.publication !== undefined) {
      const name = this.opts.publication;
      if (!(await this.checkPublication(client, pre, name))) {
        throw new StartupError(
          `publication "${name}" does not exist in upstream database "${pre.database}": create it (CREATE PUBLICATION ${pg.escapeIdentifier(name)} FOR ALL TABLES) or omit --publication`,
        );
      }
      return name;
    }
    const name = DEFAULT_PUBLICATION;
    if (await this.checkPublication(client, pre, name)) return name;
    const hint = `create it as a superuser (CREATE PUBLICATION ${name} FOR ALL TABLES), or create a publication for your tables (needs CREATE on the database and ownership of each table) and pass --publication`;
    if (!pre.superuser) {
      throw new StartupError(
        `creating publication "${name}" FOR ALL TABLES needs superuser and role "${pre.user}" is not one: ${hint}`,
      );
    }
    try {
      await client.query(`CREATE PUBLICATION ${pg.escapeIdentifier(name)} FOR ALL TABLES`);
    } catch (err) {
      const e = err as { code?: string };
      if (e.code === '42710') return name; // created concurrently
      if (e.code === '42501') {
        throw new StartupError(`cannot create publication "${name}": ${oneLine(errorMessage(err))}; ${hint}`);
      }
      throw err;
    }
    this.logger.info({ publication: name }, 'replication: created publication FOR ALL TABLES');
    return name;
  }

  private async initialSnapshot(
    client: pg.Client,
    repl: ReplicationConnection,
    pre: Preflight,
    systemId: string,
    database: string,
    previousSlot: string | undefined,
  ): Promise<void> {
    const { store } = this;
    if (previousSlot) {
      // An interrupted snapshot: its slot holds WAL for nothing; drop it and start over.
      try {
        const r = await client.query(
          'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
          [previousSlot],
        );
        if (r.rowCount) {
          this.logger.warn(
            { slot: previousSlot },
            'replication: dropped the slot of an interrupted snapshot',
          );
        }
      } catch (err) {
        throw new StartupError(
          `cannot drop replication slot "${previousSlot}" left by an interrupted snapshot: ${oneLine(errorMessage(err))}`,
        );
      }
    }
    this.publication = await this.ensurePublication(client, pre);
    this.slot = this.opts.slot ?? `outpost_${randomBytes(6).toString('hex')}`;
    this.state = 'snapshot';
    this.snapshot = { tables: 0, tablesDone: 0, rows: 0 };
    // Record the slot before creating it, so a crash in between still lets
    // the next start drop it.
    store.clearData();
    store.db.transaction(() => {
      store.setMeta('snapshot_state', 'copying');
      store.setMeta('slot', this.slot);
      store.setMeta('publication', this.publication);
      store.setMeta('system_identifier', systemId);
      store.setMeta('database', database);
      store.deleteMeta('applied_lsn');
    })();

    let created: { consistentPoint: Lsn; snapshotName: string };
    try {
      created = await repl.createSlot(this.slot, pre.version);
    } catch (err) {
      const e = err as { code?: string };
      const msg = oneLine(errorMessage(err));
      if (e.code === '42710') {
        throw new StartupError(
          `replication slot "${this.slot}" already exists upstream (another replica?): drop it with SELECT pg_drop_replication_slot('${this.slot}') or pass another --slot`,
        );
      }
      if (e.code === '42501') {
        throw new StartupError(
          `cannot create replication slot: ${msg} (the role needs the REPLICATION attribute: ALTER ROLE ${pg.escapeIdentifier(pre.user)} REPLICATION)`,
        );
      }
      if (e.code === '53400') {
        throw new StartupError(
          `cannot create replication slot: ${msg} (raise max_replication_slots upstream or drop unused slots)`,
        );
      }
      throw err;
    }
    this.logger.info(
      { slot: this.slot, publication: this.publication, consistentPoint: formatLsn(created.consistentPoint) },
      'replication: slot created, copying snapshot',
    );

    // A separate connection for the copy: the lookup one stays free.
    const copyClient = await this.connectNormal();
    const started = performance.now();
    let progress: SnapshotProgress;
    try {
      progress = await copySnapshot({
        client: copyClient,
        store,
        publication: this.publication,
        snapshotName: created.snapshotName,
        logger: this.logger,
        onProgress: (p) => {
          this.snapshot = { ...p };
          this.metrics.snapshotRows.set(p.rows);
        },
      });
    } catch (err) {
      const e = err as { code?: string; table?: string };
      if (e.code === '42501') {
        throw new StartupError(
          `cannot read a published table for the snapshot: ${oneLine(errorMessage(err))}`,
        );
      }
      throw err;
    } finally {
      await copyClient.end().catch(() => {});
    }
    store.db.transaction(() => {
      store.setMeta('snapshot_state', 'complete');
      store.setAppliedLsn(created.consistentPoint);
    })();
    this.applied = created.consistentPoint;
    this.metrics.appliedLsn.set(Number(this.applied));
    const secs = (performance.now() - started) / 1000;
    this.logger.info(
      {
        tables: progress.tables,
        rows: progress.rows,
        seconds: Math.round(secs * 10) / 10,
        rowsPerSecond: Math.round(progress.rows / Math.max(secs, 1e-3)),
        appliedLsn: formatLsn(this.applied),
      },
      'replication: snapshot complete',
    );
    this.emit('applied', this.applied);
  }

  // ---- streaming ----------------------------------------------------------

  private async startStreaming(repl: ReplicationConnection): Promise<void> {
    const gen = ++this.gen;
    this.queue = [];
    this.relations.clear();
    this.skipping = false;
    repl.on('xlog', (m: XLogData) => this.enqueue({ gen, msg: m }));
    repl.on('keepalive', (m: Keepalive) => {
      if (gen !== this.gen) return;
      this.upstreamLsn = maxLsn(this.upstreamLsn, m.walEnd);
      // Answer at once with what is committed (never more); the queued copy
      // of the keepalive may then advance the idle position.
      if (m.replyRequested) this.sendStatus();
      this.enqueue({ gen, msg: m });
    });
    repl.on('close', (err?: Error) =>
      this.connectionLost(gen, err ?? new Error('replication connection closed')),
    );
    await repl.start(this.slot, this.applied, this.publication);
    this.state = 'streaming';
    this.attempt = 0;
    this.lastIdleWrite = Date.now();
    this.sendStatus();
    if (!this.tickTimer) {
      this.tickTimer = setInterval(() => this.tick(), IDLE_WRITE_INTERVAL_MS);
      this.tickTimer.unref();
    }
    this.logger.info(
      { slot: this.slot, publication: this.publication, from: formatLsn(this.applied) },
      'replication: streaming',
    );
  }

  private enqueue(item: QueueItem): void {
    if (item.gen !== this.gen) return;
    if (item.msg.kind === 'xlog') this.upstreamLsn = maxLsn(this.upstreamLsn, item.msg.walEnd);
    this.queue.push(item);
    if (!this.draining) void this.drain();
  }

  /** Applies queued messages in order; only a Relation needing a catalog lookup awaits. */
  private async drain(): Promise<void> {
    this.draining = true;
    let gen = this.gen;
    try {
      while (this.queue.length > 0) {
        const item = this.queue.shift()!;
        gen = item.gen;
        if (item.gen !== this.gen) continue;
        const pending = this.handle(item.msg);
        if (pending) await pending;
      }
    } catch (err) {
      this.applyFailed(gen, err);
    } finally {
      this.draining = false;
    }
    this.updateLagMetric();
  }

  private handle(m: XLogData | Keepalive): Promise<void> | undefined {
    if (m.kind === 'keepalive') {
      // Everything received is applied: the slot may move to the server's WAL end.
      if (!this.applier.inTransaction && !this.skipping && m.walEnd > this.applied) {
        this.pendingIdle = maxLsn(this.pendingIdle, m.walEnd);
        this.flushIdle(false);
      }
      return undefined;
    }
    const msg = decodePgOutput(m.data);
    switch (msg.tag) {
      // https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html (Begin)
      case 'begin':
        if (this.applier.inTransaction) throw new Error('pgoutput: Begin inside a transaction');
        // Already applied (can only happen if upstream resends from an older point).
        this.skipping = msg.finalLsn < this.applied;
        if (!this.skipping) this.applier.begin();
        return undefined;
      // (Commit) the end LSN is where the next transaction starts: store and ack it.
      case 'commit': {
        if (this.skipping) {
          this.skipping = false;
          return undefined;
        }
        this.applier.commit(msg.endLsn);
        this.applied = msg.endLsn;
        this.metrics.transactionsApplied.inc();
        this.metrics.appliedLsn.set(Number(this.applied));
        if (this.applier.missedRows > 0) {
          this.logger.warn(
            { rows: this.applier.missedRows, lsn: formatLsn(msg.endLsn) },
            'replication: update/delete found no row in the replica (replica diverged from upstream)',
          );
          this.applier.missedRows = 0;
        }
        this.emit('applied', this.applied);
        this.scheduleAck();
        return undefined;
      }
      // (Relation) sent before the first change of a table in each session and after its schema changes.
      case 'relation':
        return this.onRelation(msg);
      case 'insert':
        if (this.skipping) return undefined;
        this.applier.insert(this.relation(msg.relationOid), msg.newTuple);
        this.metrics.changesApplied.inc({ kind: 'insert' });
        return undefined;
      case 'update':
        if (this.skipping) return undefined;
        this.applier.update(this.relation(msg.relationOid), msg.oldKind, msg.oldTuple, msg.newTuple);
        this.metrics.changesApplied.inc({ kind: 'update' });
        return undefined;
      case 'delete':
        if (this.skipping) return undefined;
        this.applier.delete(this.relation(msg.relationOid), msg.oldKind, msg.oldTuple);
        this.metrics.changesApplied.inc({ kind: 'delete' });
        return undefined;
      case 'truncate':
        if (this.skipping) return undefined;
        for (const oid of msg.relationOids) this.applier.truncate(this.relation(oid).table);
        this.metrics.changesApplied.inc({ kind: 'truncate' });
        return undefined;
      // Type, Origin and logical decoding Message carry nothing the replica stores.
      default:
        return undefined;
    }
  }

  private relation(oid: number): AppliedRelation {
    const r = this.relations.get(oid);
    if (!r) throw new Error(`pgoutput: change for relation ${oid} before its Relation message`);
    return r;
  }

  /**
   * Maps a Relation message to a replica table: unchanged tables map
   * directly; a table unknown to the replica (created after the snapshot) is
   * created; a changed column set rebuilds the SQLite table, keeping the
   * columns whose name and type survived.
   */
  private onRelation(m: RelationMessage): Promise<void> | undefined {
    const identity = m.columns.flatMap((c, i) => (c.isKey ? [i] : []));
    const existing = this.store.tableByOid(m.oid);
    const schema = m.schema === '' ? 'pg_catalog' : m.schema;
    if (
      existing &&
      existing.schema === schema &&
      existing.name === m.name &&
      existing.columns.length === m.columns.length &&
      existing.columns.every((c, i) => c.name === m.columns[i]?.name && c.typeOid === m.columns[i]?.typeOid)
    ) {
      if (existing.columns.some((c, i) => c.typmod !== m.columns[i]?.typmod)) {
        const updated = {
          ...existing,
          columns: existing.columns.map((c, i) => ({ ...c, typmod: m.columns[i]?.typmod ?? c.typmod })),
        };
        this.store.putCatalog(updated);
        this.applier.forget(m.oid);
        this.relations.set(m.oid, { table: updated, identity });
      } else {
        this.relations.set(m.oid, { table: existing, identity });
      }
      return undefined;
    }
    const gen = this.gen;
    return (async () => {
      const table = await this.tableFromRelation(m, schema);
      if (gen !== this.gen) return;
      if (existing) {
        const lost = this.store.rebuildDataTable(existing, table);
        this.applier.forget(m.oid);
        this.logger.warn(
          {
            table: `${schema}.${m.name}`,
            columns: table.columns.map((c) => c.name),
            notCarriedOver: lost,
          },
          lost.length > 0
            ? 'replication: table changed upstream; existing rows have NULL in new or retyped columns until updated'
            : 'replication: table changed upstream; replica table rebuilt',
        );
      } else {
        this.store.createDataTable(table);
        this.logger.info({ table: `${schema}.${m.name}` }, 'replication: new table');
      }
      this.relations.set(m.oid, { table, identity });
    })();
  }

  /** Builds the catalog entry from the Relation message plus attnum/typlen looked up upstream. */
  private async tableFromRelation(m: RelationMessage, schema: string): Promise<ReplicaTable> {
    const client = await this.lookupClient();
    const [upstream] = await fetchCatalog(client, [m.oid]);
    const types = await client.query<{ oid: string; typlen: number; typname: string }>(
      'SELECT oid::int8::text AS oid, typlen, typname FROM pg_type WHERE oid = ANY($1::oid[])',
      [m.columns.map((c) => c.typeOid)],
    );
    const typeByOid = new Map(types.rows.map((t) => [Number(t.oid), t]));
    const full = m.replicaIdentity === 'f';
    let keyOrdinal = 0;
    const columns: ReplicaColumn[] = m.columns.map((c, i) => {
      const up = upstream?.columns.find((u) => u.name === c.name);
      const t = typeByOid.get(c.typeOid);
      const keyPosition = up ? up.keyPosition : c.isKey && !full ? ++keyOrdinal : null;
      return {
        name: c.name,
        attnum: up?.attnum ?? i + 1,
        typeOid: c.typeOid,
        typmod: c.typmod,
        typlen: (up?.typeOid === c.typeOid ? up.typlen : t?.typlen) ?? -1,
        typeName: (up?.typeOid === c.typeOid ? up.typeName : t?.typname) ?? String(c.typeOid),
        keyPosition,
        // Relation messages carry no collation: only a same-typed catalog column tells it.
        ...(up?.typeOid === c.typeOid && up.collation !== undefined ? { collation: up.collation } : {}),
      };
    });
    return { oid: m.oid, schema, name: m.name, sqliteName: sqliteTableName(schema, m.name), columns };
  }

  private async lookupClient(): Promise<pg.Client> {
    if (this.lookup) {
      try {
        await this.lookup.query('SELECT 1');
        return this.lookup;
      } catch {
        this.lookup.end().catch(() => {});
        this.lookup = undefined;
      }
    }
    this.lookup = await this.connectNormal();
    return this.lookup;
  }

  /** Writes the idle position (keepalive WAL end) to SQLite, at most once a second unless forced. */
  private flushIdle(force: boolean): void {
    if (this.pendingIdle <= this.applied) return;
    if (this.applier.inTransaction || this.skipping) return;
    if (!force && Date.now() - this.lastIdleWrite < IDLE_WRITE_INTERVAL_MS) return;
    this.store.setAppliedLsn(this.pendingIdle);
    this.applied = this.pendingIdle;
    this.lastIdleWrite = Date.now();
    this.metrics.appliedLsn.set(Number(this.applied));
    this.emit('applied', this.applied);
    this.sendStatus();
  }

  /** One status update per turn of the event loop, however many commits it saw. */
  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      this.sendStatus();
    });
  }

  private sendStatus(): void {
    if (this.state !== 'streaming' || !this.repl) return;
    this.repl.sendStatus(this.applied);
    this.lastStatusAt = Date.now();
  }

  private tick(): void {
    if (this.state !== 'streaming') return;
    try {
      if (!this.draining && this.queue.length === 0) this.flushIdle(false);
    } catch (err) {
      this.applyFailed(this.gen, err);
      return;
    }
    if (Date.now() - this.lastStatusAt >= STATUS_INTERVAL_MS) this.sendStatus();
    this.updateLagMetric();
  }

  private lagBytes(): number {
    const lag = this.upstreamLsn - this.applied;
    return lag > 0n ? Number(lag) : 0;
  }

  private updateLagMetric(): void {
    this.metrics.lagBytes.set(this.lagBytes());
  }

  // ---- failures and reconnection -----------------------------------------

  private applyFailed(gen: number, err: unknown): void {
    if (gen !== this.gen) return;
    this.logger.error({ err: errorMessage(err) }, 'replication: applying a change failed; reconnecting');
    this.abandon(err);
  }

  private connectionLost(gen: number, err: Error): void {
    if (gen !== this.gen || this.stopping) return;
    this.logger.warn({ err: errorMessage(err) }, 'replication: connection lost; reconnecting');
    this.abandon(err);
  }

  /** Drops the current connection and any half-applied transaction, then reconnects with backoff. */
  private abandon(err: unknown): void {
    this.gen++;
    this.queue = [];
    this.skipping = false;
    this.pendingIdle = 0n;
    if (this.applier.inTransaction) this.applier.rollback();
    this.relations.clear();
    this.lastError = oneLine(errorMessage(err));
    this.state = 'reconnecting';
    const old = this.repl;
    this.repl = undefined;
    old?.close().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopping) return;
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempt);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    if (this.stopping) return;
    let repl: ReplicationConnection | undefined;
    try {
      repl = await ReplicationConnection.connect(this.opts.upstreamUrl);
      if (this.stopping) {
        await repl.close();
        return;
      }
      this.repl = repl;
      await this.startStreaming(repl);
      this.logger.info({ from: formatLsn(this.applied) }, 'replication: reconnected');
    } catch (err) {
      this.lastError = oneLine(errorMessage(err));
      this.logger.warn({ err: this.lastError, attempt: this.attempt }, 'replication: reconnect failed');
      if (repl) {
        if (this.repl === repl) this.repl = undefined;
        this.gen++;
        await repl.close().catch(() => {});
      }
      this.state = 'reconnecting';
      this.scheduleReconnect();
    }
  }

  private async teardown(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const repl = this.repl;
    this.repl = undefined;
    const lookup = this.lookup;
    this.lookup = undefined;
    await Promise.all([
      repl?.close().catch(() => {}),
      lookup ? Promise.race([lookup.end().catch(() => {}), sleep(2000)]) : undefined,
    ]);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** host:port/db of a connection string, never its password. */
function describeUpstream(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'the configured address';
  }
}
