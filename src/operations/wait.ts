/**
 * The one poll loop: every "wait until the host shows X" in lms-ha goes
 * through waitUntil, so each wait is bounded, logs what it still waits for
 * (once per new reason, not once per poll) and ends in an error that says
 * what was last seen.
 */
import type { Logger } from '../report/log.js';

/** What one poll saw: `{ done: value }` when ready, else the reason to keep waiting. */
export type Poll<T> = { done: T } | { waiting: string };

export interface WaitUntilOptions {
  /** Overall limit, measured from the first poll. */
  timeoutMs: number;
  /** Pause between polls (each poll is itself a bounded round trip). */
  pollMs: number;
  /** The error to throw once the limit has passed; `last` is the last reason seen. */
  timeoutError: (last: string, waitedMs: number) => Error;
  /** Logs "waiting for <what>: <reason>" whenever the reason changes. */
  logger?: Logger;
  what?: string;
  host?: string;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls until `poll` reports done and returns its value. A poll that throws
 * ends the wait with that error (a poll decides itself what is fatal).
 */
export async function waitUntil<T>(poll: () => Promise<Poll<T>>, options: WaitUntilOptions): Promise<T> {
  const started = Date.now();
  let lastLogged: string | undefined;
  for (;;) {
    const seen = await poll();
    if ('done' in seen) return seen.done;
    if (options.logger && options.what && seen.waiting !== lastLogged) {
      options.logger.info(`waiting for ${options.what}: ${seen.waiting}`, options.host);
      lastLogged = seen.waiting;
    }
    const waited = Date.now() - started;
    if (waited > options.timeoutMs) throw options.timeoutError(seen.waiting, waited);
    await sleep(options.pollMs);
  }
}
