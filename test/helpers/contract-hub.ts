/**
 * A minimal publisher of the change stream's contract format (NATS-CONTRACT /
 * docs/architecture.md), as an engine tap: lets the edge tests drive a
 * follower from a real slot-holding engine and a real nats-server without
 * the hub command. Follows the format rules edges rely on (parts, headers,
 * self-contained transactions, unique repeated heartbeats); the confirmation
 * rule is simplified (it confirms what was handed to the client).
 */
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { changesSubject, encodeHeader, PartCutter, type StreamHeader } from '../../src/nats/wire-format.js';
import type { EngineTap } from '../../src/replication/engine.js';
import type { Lsn } from '../../src/replication/lsn.js';

export class ContractHub implements EngineTap {
  private cutter = new PartCutter();
  private finalLsn: Lsn = 0n;
  private part = 0;
  private inTx = false;
  private readonly relations = new Map<number, Buffer>();
  private sentInTx = new Set<number>();
  private lastHb: Lsn = -1n;
  private lastHbAt = 0;
  private publishing: Promise<unknown> = Promise.resolve();
  published = 0;
  /** Publishes JetStream acknowledged. */
  acked = 0;
  /** Publishes JetStream refused or never acknowledged (the test hub does not retry them). */
  failures: string[] = [];

  private constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
  ) {}

  static async start(url: string, stream = 'OUTPOST'): Promise<ContractHub> {
    const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(stream);
    } catch {
      await jsm.streams.add({
        name: stream,
        subjects: [changesSubject(stream)],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        duplicate_window: 600 * 1e9,
      });
    }
    return new ContractHub(nc, stream);
  }

  async close(): Promise<void> {
    await this.publishing.catch(() => {});
    await this.nc.drain().catch(() => {});
  }

  /** Resolves once everything handed to the client so far is acknowledged by JetStream. */
  flushed(): Promise<unknown> {
    return this.publishing;
  }

  onStart(_from: Lsn): void {
    this.cutter = new PartCutter();
    this.inTx = false;
    this.relations.clear();
  }

  onMessage(data: Buffer): void {
    const copy = Buffer.from(data);
    const tag = String.fromCharCode(copy[0] ?? 0);
    if (tag === 'B') {
      this.finalLsn = copy.readBigUInt64BE(1);
      this.part = 0;
      this.inTx = true;
      this.sentInTx = new Set();
      this.push(copy);
      return;
    }
    if (!this.inTx) return;
    if (tag === 'R') {
      const oid = copy.readUInt32BE(1);
      this.relations.set(oid, copy);
      this.sentInTx.add(oid);
    } else if (tag === 'I' || tag === 'U' || tag === 'D') {
      this.ensureRelation(copy.readUInt32BE(1));
    } else if (tag === 'T') {
      const n = copy.readUInt32BE(1);
      for (let i = 0; i < n; i++) this.ensureRelation(copy.readUInt32BE(6 + 4 * i));
    }
    this.push(copy);
    if (tag === 'C') {
      this.inTx = false;
      this.send(
        { kind: 'tx', finalLsn: this.finalLsn, part: this.part, last: true, time: Date.now() },
        this.cutter.flush(),
      );
    }
  }

  onIdle(walEnd: Lsn): void {
    if (this.inTx) return;
    const now = Date.now();
    if (walEnd === this.lastHb && now - this.lastHbAt < 1000) return;
    if (walEnd !== this.lastHb && now - this.lastHbAt < 200) return;
    const repeat = walEnd === this.lastHb;
    this.lastHb = walEnd;
    this.lastHbAt = now;
    const h: StreamHeader = { kind: 'hb', lsn: walEnd, time: now };
    this.send(h, new Uint8Array(0), repeat);
  }

  ready(): Promise<void> | undefined {
    return undefined;
  }

  confirmable(lsn: Lsn): Lsn {
    return lsn;
  }

  private ensureRelation(oid: number): void {
    if (this.sentInTx.has(oid)) return;
    const r = this.relations.get(oid);
    if (!r) return;
    this.sentInTx.add(oid);
    this.push(r);
  }

  private push(record: Buffer): void {
    const body = this.cutter.push(record);
    if (body) {
      this.send(
        { kind: 'tx', finalLsn: this.finalLsn, part: this.part, last: false, time: Date.now() },
        body,
      );
      this.part++;
    }
  }

  private send(h: StreamHeader, body: Uint8Array, repeat = false): void {
    const hdrs = headers();
    for (const [k, v] of encodeHeader(h)) {
      // Repeated heartbeats need their own id, or the duplicate window drops them.
      hdrs.set(k, k === 'Nats-Msg-Id' && repeat ? `${v}@${h.time}` : v);
    }
    const js = jetstream(this.nc);
    const id = hdrs.get('Nats-Msg-Id');
    const p = js
      .publish(changesSubject(this.stream), body, { headers: hdrs, timeout: 30_000 })
      .then(() => {
        this.acked++;
      })
      .catch((err: Error) => {
        this.failures.push(`${id}: ${err.message}`);
      });
    this.published++;
    this.publishing = Promise.all([this.publishing, p]);
  }
}
