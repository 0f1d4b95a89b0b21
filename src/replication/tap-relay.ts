/**
 * An engine tap across threads: the NATS hub's engine (slot reading, decode,
 * its own SQLite apply) runs in the replication thread (engine-thread.ts) and
 * the publisher on the main thread, so publishing for every edge never waits
 * behind the hub's own apply, and that apply never waits behind NATS.
 *
 * - Worker side (`TapRelayClient`, the engine's `tap`): each pgoutput message
 *   is copied as it arrives into a staging buffer and posted, with the
 *   stream's start/idle/snapshot events in their order, once per Commit (an
 *   edge's latency is the time to its transaction's last part) or at the end
 *   of the current turn; the buffer is transferred, not copied again.
 * - Main side (`TapRelayHost`): hands the events to the real tap (the
 *   publisher) in the same order the engine produced them.
 * - Shared memory carries what the engine asks synchronously: the tap's
 *   durable position (`confirmable`: an LSN is confirmed upstream only once
 *   the publisher has it acknowledged, and SQLite committed it), NATS'
 *   max_payload, and room: the worker stops reading the slot (`ready()`) while
 *   the publisher is full or too many posted bytes wait for the main thread.
 *   A waiting worker is woken by a `tap-resume` message.
 */
import type { EngineTap } from './engine-types.js';
import type { Lsn } from './lsn.js';

/** Posted but not yet handed to the publisher: past this the slot is not read. */
const MAX_POSTED_BYTES = 8 * 1024 * 1024;
/** A batch is posted once this big even before its Commit. */
const BATCH_BYTES = 256 * 1024;

/** BigInt64Array slots. */
const DURABLE = 0;
const MAX_PAYLOAD = 1;
const POSTED = 2;
/** Int32Array slots. */
const FULL = 0;
const WAITING = 1;

export interface TapShared {
  /** BigInt64Array(3): [0] the tap's durable LSN, [1] max_payload (0: unknown), [2] posted bytes not yet taken. */
  positions: SharedArrayBuffer;
  /** Int32Array(2): [0] the publisher is full, [1] the worker waits for room. */
  flags: SharedArrayBuffer;
}

export function createTapShared(): TapShared {
  return { positions: new SharedArrayBuffer(24), flags: new SharedArrayBuffer(8) };
}

/** One event: [0, offset, length] a message in the batch's buffer; [1|2|3, lsn] start, idle, snapshot. */
export type TapEvent = [0, number, number] | [1 | 2 | 3, Lsn];

export interface TapBatch {
  type: 'tap';
  events: TapEvent[];
  buffer: ArrayBuffer;
  bytes: number;
}

const TAG_COMMIT = 0x43;

/** The engine's tap in the replication thread. */
export class TapRelayClient implements EngineTap {
  private readonly pos: BigInt64Array;
  private readonly flags: Int32Array;
  private events: TapEvent[] = [];
  private staging = new Uint8Array(64 * 1024);
  private used = 0;
  private scheduled = false;
  private waiters: Array<() => void> = [];

  constructor(
    shared: TapShared,
    private readonly post: (batch: TapBatch, transfer: ArrayBuffer[]) => void,
  ) {
    this.pos = new BigInt64Array(shared.positions);
    this.flags = new Int32Array(shared.flags);
  }

  onStart(from: Lsn): void {
    this.events.push([1, from]);
    this.flush();
  }

  onMessage(data: Buffer): void {
    if (this.used + data.length > this.staging.length) {
      if (this.used > 0) this.flush();
      if (data.length > this.staging.length) this.staging = new Uint8Array(data.length);
    }
    this.staging.set(data, this.used);
    this.events.push([0, this.used, data.length]);
    this.used += data.length;
    if (data[0] === TAG_COMMIT || this.used >= BATCH_BYTES) this.flush();
    else this.schedule();
  }

  onIdle(walEnd: Lsn): void {
    this.events.push([2, walEnd]);
    this.flush();
  }

  onSnapshot(lsn: Lsn): void {
    this.events.push([3, lsn]);
    this.flush();
  }

  ready(): Promise<void> | undefined {
    if (!this.over()) return undefined;
    // Said before the condition is read again, so the main thread (which
    // changes the condition, then reads this) cannot miss a waiter.
    Atomics.store(this.flags, WAITING, 1);
    if (!this.over()) {
      Atomics.store(this.flags, WAITING, 0);
      return undefined;
    }
    this.flush();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  confirmable(lsn: Lsn): Lsn {
    const durable = Atomics.load(this.pos, DURABLE);
    return durable < lsn ? durable : lsn;
  }

  maxMessageBytes(): number | undefined {
    const max = Number(Atomics.load(this.pos, MAX_PAYLOAD));
    return max > 0 ? max : undefined;
  }

  /** The main thread has room again (`tap-resume`). */
  resume(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Stopping: nothing may wait on the main thread any more. */
  close(): void {
    this.flush();
    this.resume();
  }

  private over(): boolean {
    if (Atomics.load(this.flags, FULL) !== 0) return true;
    return Number(Atomics.load(this.pos, POSTED)) + this.used > MAX_POSTED_BYTES;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.events.length === 0) return;
    const bytes = this.used;
    const buffer = this.staging.buffer.slice(0, bytes);
    const events = this.events;
    this.events = [];
    this.used = 0;
    Atomics.add(this.pos, POSTED, BigInt(bytes));
    this.post({ type: 'tap', events, buffer, bytes }, [buffer]);
  }
}

/** The main thread's end: hands batches to the real tap and keeps the shared view up to date. */
export class TapRelayHost {
  private readonly pos: BigInt64Array;
  private readonly flags: Int32Array;
  private awaitingRoom = false;

  constructor(
    readonly shared: TapShared,
    private readonly tap: EngineTap,
    private readonly resume: () => void,
  ) {
    this.pos = new BigInt64Array(shared.positions);
    this.flags = new Int32Array(shared.flags);
    this.publishState();
  }

  handle(batch: TapBatch): void {
    const buf = Buffer.from(batch.buffer);
    for (const e of batch.events) {
      switch (e[0]) {
        case 0:
          this.tap.onMessage(buf.subarray(e[1], e[1] + e[2]));
          break;
        case 1:
          this.tap.onStart(e[1]);
          break;
        case 2:
          this.tap.onIdle(e[1]);
          break;
        case 3:
          this.tap.onSnapshot?.(e[1]);
          break;
      }
    }
    Atomics.sub(this.pos, POSTED, BigInt(batch.bytes));
    this.publishState();
    this.checkRoom();
  }

  /** The tap's durable position or max_payload may have moved: copied where the worker reads them. */
  publishState(): void {
    const durable = this.tap.confirmable(BigInt('0xffffffffffffffff'));
    if (durable > Atomics.load(this.pos, DURABLE)) Atomics.store(this.pos, DURABLE, durable);
    const max = this.tap.maxMessageBytes?.();
    if (max !== undefined) Atomics.store(this.pos, MAX_PAYLOAD, BigInt(max));
  }

  /** A new replication thread starts from nothing posted. */
  reset(): void {
    Atomics.store(this.pos, POSTED, 0n);
    Atomics.store(this.flags, WAITING, 0);
  }

  private checkRoom(): void {
    if (!this.awaitingRoom) {
      const full = this.tap.ready();
      if (full) {
        this.awaitingRoom = true;
        Atomics.store(this.flags, FULL, 1);
        void full.then(() => {
          this.awaitingRoom = false;
          Atomics.store(this.flags, FULL, 0);
          this.checkRoom();
        });
        return;
      }
    }
    if (this.awaitingRoom) return;
    if (Number(Atomics.load(this.pos, POSTED)) > MAX_POSTED_BYTES) return;
    if (Atomics.compareExchange(this.flags, WAITING, 1, 0) === 1) this.resume();
  }
}
