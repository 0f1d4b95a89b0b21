/**
 * The session's end of a local result streamed from an executor
 * (src/exec/protocol.ts): the simple protocol's RowDescription and
 * CommandComplete of each statement around the DataRow chunks the executor
 * encoded, each chunk written straight to the client's socket and credited
 * back to the executor once the socket has taken it (its 'drain'), so a
 * client that reads slowly holds only the few chunks in flight.
 */
import type { StreamSink } from '../exec/pool.js';
import type { FieldDescription } from '../router/types.js';
import type { ReplyWriter } from '../wire/backend.js';

export interface StreamIo {
  /** The session's reply buffer: replies before the stream, and the messages around its chunks. */
  reply: ReplyWriter;
  /** Writes bytes to the client; `written` once the socket has taken them (at once, or on 'drain'). */
  write(buf: Buffer, written: () => void): void;
}

export class ResultStream implements StreamSink {
  /** The statement whose rows are being sent (-1: none yet). */
  private plan = -1;
  private readonly counts: number[];
  /** Rows were sent: the statement can no longer be forwarded. */
  started = false;

  constructor(
    private readonly fields: readonly FieldDescription[][],
    private readonly io: StreamIo,
  ) {
    this.counts = fields.map(() => 0);
  }

  start(): void {
    this.started = true;
  }

  data(plan: number, rows: number, data: Buffer, written: () => void): void {
    this.advance(plan);
    this.counts[plan] = (this.counts[plan] ?? 0) + rows;
    const head = this.io.reply.take();
    if (head) this.io.write(head, () => {});
    this.io.write(data, written);
  }

  /** Every row was sent: the CommandComplete (and any RowDescription) still owed, into the reply buffer. */
  finish(): void {
    this.advance(this.fields.length);
  }

  /** Rows of statement `to` come next: end those before it (a statement may have none). */
  private advance(to: number): void {
    const reply = this.io.reply;
    while (this.plan < to) {
      if (this.plan >= 0) reply.commandComplete(`SELECT ${this.counts[this.plan] ?? 0}`);
      this.plan++;
      const fields = this.fields[this.plan];
      if (fields) reply.rowDescription(fields);
    }
  }
}
