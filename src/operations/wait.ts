/**
 * The one poll loop: every "wait until the host shows X" in lms-ha goes
 * through waitUntil, so each wait is bounded, logs what it still waits for
 * (once per new reason, not once per poll) and ends in an error that says
 * what was last seen.
 */
import type { Logger } from '../log.js';

/** What one poll saw: `{ done: value }` when ready, else the reason to keep waiting. */
export type Poll<T> = { done: T } | { waiting: string };

export interface WaitOptions {
  /** Overall limit, measured from the first poll. */
  timeoutMs: number;
  /** Pause between polls (each poll is itself a bounded round trip). */
  pollMs: number;
  /** Logs "waiting for <what>: <reason>" whenever the reason changes. */
  logger?: Logger;
  what?: string;
  host?: string;
}

export interface WaitUntilOptions extends WaitOptions {
  /** The error to throw once the limit has passed; `last` is the last reason seen. */
  timeoutError: (last: string, waitedMs: number) => Error;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls until `poll` reports done and returns its value, or `undefined` once
 * the limit has passed (a grace period: the caller goes on with what it has).
 * A poll that throws ends the wait with that error (a poll decides itself
 * what is fatal).
 */
export async function waitUpTo<T>(poll: () => Promise<Poll<T>>, options: WaitOptions): Promise<{ done: T } | { last: string; waitedMs: number }> {
  const started = Date.now();
  let lastLogged: string | undefined;
  for (;;) {
    const seen = await poll();
    if ('done' in seen) return seen;
    if (options.logger && options.what && seen.waiting !== lastLogged) {
      options.logger.info(`waiting for ${options.what}: ${seen.waiting}`, options.host);
      lastLogged = seen.waiting;
    }
    const waitedMs = Date.now() - started;
    if (waitedMs > options.timeoutMs) return { last: seen.waiting, waitedMs };
    await sleep(options.pollMs);
  }
}

/** Polls until `poll` reports done and returns its value; throws `timeoutError` once the limit has passed. */
export async function waitUntil<T>(poll: () => Promise<Poll<T>>, options: WaitUntilOptions): Promise<T> {
  const r = await waitUpTo(poll, options);
  if ('done' in r) return r.done;
  throw options.timeoutError(r.last, r.waitedMs);
}
