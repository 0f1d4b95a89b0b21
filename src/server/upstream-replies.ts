/**
 * Which upstream reply belongs to which message sent upstream.
 *
 * Every message sent upstream that gets an answer is queued here as an
 * `Expectation`; upstream's replies are matched to the head of the queue as
 * they are relayed, following the protocol's rules:
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 *
 * - Parse → ParseComplete, Bind → BindComplete, Close → CloseComplete,
 *   Describe statement → ParameterDescription then RowDescription or NoData,
 *   Describe portal → RowDescription or NoData, Execute → rows (or COPY) then
 *   CommandComplete, EmptyQueryResponse or PortalSuspended; any of them may
 *   instead get ErrorResponse, after which upstream discards every message
 *   until the next Sync (Query and FunctionCall included);
 * - Sync, Query and FunctionCall each end with exactly one ReadyForQuery.
 * - NoticeResponse, ParameterStatus and NotificationResponse can come at any
 *   time and belong to nothing.
 *
 * This lets the session (1) know when upstream owes nothing, (2) learn the
 * outcome of every Parse/Bind/Close it sent (`settle`), and (3) hide the
 * replies to messages Outpost sent on its own (`hidden`: preparing a
 * statement upstream lazily) while errors still reach the client.
 */
import { BackendType } from '../wire/backend.js';
import { SCAN_DROP, SCAN_OBSERVE } from '../wire/frames.js';

export type ExpectKind =
  | 'parse'
  | 'bind'
  | 'describe-statement'
  | 'describe-portal'
  | 'execute'
  | 'close'
  | 'sync'
  | 'query'
  | 'function-call';

export type Outcome = 'ok' | 'error' | 'skipped';

export interface Expectation {
  kind: ExpectKind;
  /** Sent by Outpost itself: every reply but ErrorResponse is kept from the client. */
  hidden: boolean;
  /** With `hidden`: its ErrorResponse is kept from the client too. */
  hideErrors?: boolean;
  /** Called once with the outcome. */
  settle?: (outcome: Outcome) => void;
  /** For Sync/Query/FunctionCall: called with the ReadyForQuery status byte. */
  ready?: (status: number) => void;
  /** For Query/Execute: called with each CommandComplete tag. */
  complete?: (tag: string) => void;
  /** With `hidden`: called with each DataRow body (Outpost's own queries). */
  row?: (body: Buffer) => void;
}

/** Extended-protocol messages: an error in one discards the rest until Sync. */
function isExtended(kind: ExpectKind): boolean {
  return kind !== 'sync' && kind !== 'query' && kind !== 'function-call';
}

function endsWithReady(kind: ExpectKind): boolean {
  return kind === 'sync' || kind === 'query' || kind === 'function-call';
}

export class ReplyTracker {
  private queue: Expectation[] = [];
  private head = 0;
  /** ReadyForQuery messages owed (Sync, Query, FunctionCall entries). */
  private readyOwed = 0;
  /** Replies that matched nothing (a bug, or a protocol flow not modelled). */
  unmatched = 0;
  /**
   * Called when a simple Query (the client's or Outpost's own) is queued to
   * go upstream, where it drops the unnamed prepared statement.
   */
  onQuery: (() => void) | undefined;
  /**
   * Upstream reported an error and discards every message until the next
   * Sync, which has not been sent yet: messages sent meanwhile get no reply.
   */
  private skipping = false;

  /** Nothing is owed by upstream. */
  isEmpty(): boolean {
    return this.head === this.queue.length;
  }

  size(): number {
    return this.queue.length - this.head;
  }

  /** ReadyForQuery messages still owed. */
  owedReady(): number {
    return this.readyOwed;
  }

  push(e: Expectation): void {
    if (this.skipping) {
      if (e.kind !== 'sync') {
        e.settle?.('skipped');
        return;
      }
      this.skipping = false;
    }
    this.queue.push(e);
    if (endsWithReady(e.kind)) this.readyOwed++;
    if (e.kind === 'query') this.onQuery?.();
  }

  private peek(): Expectation | undefined {
    return this.head < this.queue.length ? this.queue[this.head] : undefined;
  }

  private shift(outcome: Outcome): Expectation | undefined {
    const e = this.peek();
    if (!e) return undefined;
    this.queue[this.head] = undefined as unknown as Expectation;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    } else if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    if (endsWithReady(e.kind)) this.readyOwed--;
    e.settle?.(outcome);
    return e;
  }

  /**
   * `RelayVisitor.visit` for upstream's messages: which ones to observe, and
   * which to keep from the client (replies to hidden messages).
   */
  visit(type: number): number {
    const head = this.peek();
    const hidden = head?.hidden === true;
    switch (type) {
      case BackendType.DataRow:
        return hidden ? (head?.row ? SCAN_DROP | SCAN_OBSERVE : SCAN_DROP) : 0;
      case BackendType.CopyData:
        return hidden ? SCAN_DROP : 0;
      case BackendType.NoticeResponse:
      case BackendType.NotificationResponse:
        return 0;
      case BackendType.ParameterStatus:
        return SCAN_OBSERVE;
      case BackendType.ErrorResponse:
        return hidden && head?.hideErrors ? SCAN_OBSERVE | SCAN_DROP : SCAN_OBSERVE;
      default:
        return hidden ? SCAN_OBSERVE | SCAN_DROP : SCAN_OBSERVE;
    }
  }

  /** Advances the queue for one complete upstream message. */
  message(type: number, body: Buffer): void {
    const head = this.peek();
    switch (type) {
      case BackendType.DataRow:
        head?.row?.(body);
        return;
      case BackendType.ParseComplete:
        this.complete('parse');
        return;
      case BackendType.BindComplete:
        this.complete('bind');
        return;
      case BackendType.CloseComplete:
        this.complete('close');
        return;
      case BackendType.RowDescription:
      case BackendType.NoData:
        if (head?.kind === 'describe-statement' || head?.kind === 'describe-portal') this.shift('ok');
        else if (head?.kind !== 'query' && head?.kind !== 'execute') this.unmatched++;
        return;
      case BackendType.CommandComplete:
        if (head?.complete) head.complete(body.toString('utf8', 0, Math.max(0, body.length - 1)));
        if (head?.kind === 'execute') this.shift('ok');
        else if (head?.kind !== 'query') this.unmatched++;
        return;
      case BackendType.EmptyQueryResponse:
      case BackendType.PortalSuspended:
        if (head?.kind === 'execute') this.shift('ok');
        else if (head?.kind !== 'query') this.unmatched++;
        return;
      case BackendType.ErrorResponse:
        if (head && isExtended(head.kind)) {
          this.shift('error');
          // Upstream now discards everything up to the next Sync, including
          // what is sent before that Sync.
          for (let e = this.peek(); e && e.kind !== 'sync'; e = this.peek()) this.shift('skipped');
          if (this.isEmpty()) this.skipping = true;
        }
        return;
      case BackendType.CopyInResponse:
        // A backend in copy-in mode ignores Sync: the Syncs sent right after
        // the COPY's Execute (libpq's PQexecParams does that) get no reply.
        this.dropSyncsAfterHead();
        return;
      case BackendType.ReadyForQuery: {
        // Normally the head; anything before it was not answered as modelled.
        for (let e = this.peek(); e; e = this.peek()) {
          if (endsWithReady(e.kind)) {
            this.shift('ok');
            e.ready?.(body[0] ?? 0);
            return;
          }
          this.unmatched++;
          this.shift('skipped');
        }
        return;
      }
    }
  }

  private complete(kind: ExpectKind): void {
    const head = this.peek();
    if (head?.kind === kind) this.shift('ok');
    else this.unmatched++;
  }

  private dropSyncsAfterHead(): void {
    const i = this.head + 1;
    while (i < this.queue.length && this.queue[i]?.kind === 'sync') {
      const [sync] = this.queue.splice(i, 1);
      this.readyOwed--;
      sync?.settle?.('skipped');
    }
  }
}
