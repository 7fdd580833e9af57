import { describe, expect, it } from 'vitest';
import { waitUntil, waitUpTo, type Poll } from '../../../src/operations/wait.js';
import { MemoryLogger } from '../../support/memory-logger.js';

/** A poll that answers from a script of results, one per call. */
function scripted<T>(answers: Poll<T>[]): { poll: () => Promise<Poll<T>>; calls: () => number } {
  let i = 0;
  return { poll: async () => answers[Math.min(i++, answers.length - 1)]!, calls: () => i };
}

describe('waitUntil', () => {
  it('returns the value of the first poll that is done, logging each new reason once', async () => {
    const { poll, calls } = scripted<number>([{ waiting: 'Joining' }, { waiting: 'Joining' }, { waiting: 'Joined' }, { done: 3 }]);
    const logger = new MemoryLogger();
    const value = await waitUntil(poll, { timeoutMs: 10_000, pollMs: 1, logger, what: 'Synced', host: 'db2', timeoutError: () => new Error('no') });
    expect(value).toBe(3);
    expect(calls()).toBe(4);
    expect(logger.lines).toEqual(['[db2] waiting for Synced: Joining', '[db2] waiting for Synced: Joined']);
  });

  it('throws the caller\'s error with the last reason once the limit has passed', async () => {
    const { poll } = scripted<number>([{ waiting: 'first' }, { waiting: 'still not' }]);
    await expect(waitUntil(poll, { timeoutMs: 30, pollMs: 5, timeoutError: (last) => new Error(`gave up: ${last}`) })).rejects.toThrow('gave up: still not');
  });

  it('ends at once with the error a poll throws', async () => {
    let calls = 0;
    const poll = async (): Promise<Poll<number>> => {
      calls++;
      throw new Error('unit failed');
    };
    await expect(waitUntil(poll, { timeoutMs: 10_000, pollMs: 1, timeoutError: () => new Error('timeout') })).rejects.toThrow('unit failed');
    expect(calls).toBe(1);
  });
});

describe('waitUpTo', () => {
  it('returns the last reason instead of throwing when the grace period is over', async () => {
    const { poll } = scripted<number>([{ waiting: 'a brick runs without a port' }]);
    const r = await waitUpTo(poll, { timeoutMs: 20, pollMs: 5 });
    expect(r).toMatchObject({ last: 'a brick runs without a port' });
  });
});
