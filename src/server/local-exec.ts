/**
 * A session's local statement running in an executor process (src/exec),
 * with its statement_timeout.
 */
import type { RunningJob } from '../exec/pool.js';
import type { LocalOffload } from '../router/types.js';

export interface InFlight {
  task: RunningJob;
  timer: NodeJS.Timeout | undefined;
  /** Why it was stopped: a CancelRequest or statement_timeout. */
  stoppedBy: 'user' | 'timeout' | undefined;
}

/** Starts the job; `timeoutMs` > 0 stops it after that long, like Postgres's statement_timeout. */
export function startOffloaded(offload: LocalOffload, timeoutMs: number): InFlight {
  const inFlight: InFlight = { task: offload.start(), timer: undefined, stoppedBy: undefined };
  if (timeoutMs > 0) {
    inFlight.timer = setTimeout(() => {
      inFlight.stoppedBy ??= 'timeout';
      inFlight.task.cancel();
    }, timeoutMs);
  }
  return inFlight;
}

export function stopReason(inFlight: InFlight): 'user' | 'timeout' {
  return inFlight.stoppedBy ?? 'user';
}
