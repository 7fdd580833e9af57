/**
 * The lock's shell scripts run for real, with /bin/sh, against a temporary
 * directory: this proves the atomicity the in-memory fake only assumes (ln
 * refuses an existing name), with real concurrent processes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { acquireLock, breakLock, inspectLock, type AcquireOptions } from '../../../src/engine/lock.js';
import { MemoryLogger } from '../../support/memory-logger.js';
import type { RemoteHost, RunOptions, RunResult } from '../../../src/ssh/types.js';

/** A "remote" host that is this machine's /bin/sh, with sudo ignored. */
class LocalShellHost implements RemoteHost {
  readonly address = '127.0.0.1';
  constructor(readonly name: string) {}

  run(command: string, options: RunOptions): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0 && !options.allowFailure) reject(new Error(`${options.purpose}: exit ${code}: ${stderr}`));
        else resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(options.stdin ?? '');
    });
  }

  async readFile(path: string): Promise<Buffer | null> {
    return existsSync(path) ? readFileSync(path) : null;
  }

  async writeFile(path: string, content: string | Buffer): Promise<void> {
    writeFileSync(path, content);
  }
}

const canRun = existsSync('/bin/sh');

describe.skipIf(!canRun)('lock scripts under a real shell', () => {
  let dir: string;
  let lockDir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lms-ha-lock-'));
    lockDir = join(dir, "lock dir with 'quote'");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const options = (runId: string): AcquireOptions => ({
    environment: 'production',
    lockDir,
    owner: { runId, repository: 'acme/infra', command: 'deploy-db', runner: 'r' },
    logger: new MemoryLogger(),
  });

  it('lets exactly one of many concurrent processes take the lock, and leaves no temp files', async () => {
    const host = new LocalShellHost('local');
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => acquireLock([host], options(`run-${i}`))));
    const winners = results.filter((r) => r.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    const winner = (winners[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value;
    const onDisk = JSON.parse(readFileSync(join(lockDir, 'production.lock'), 'utf8'));
    expect(onDisk.runId).toBe(winner.info.runId);
    expect(onDisk.token).toBe(winner.info.token);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason.message).toContain(`locked by run ${winner.info.runId} of acme/infra`);
    }
    expect(readdirSync(lockDir)).toEqual(['production.lock']);
    await winner.release();
    expect(readdirSync(lockDir)).toEqual([]);
  });

  it('release leaves a lock with another token in place', async () => {
    const host = new LocalShellHost('local');
    const ours = await acquireLock([host], options('1'));
    await breakLock([host], { environment: 'production', lockDir, logger: new MemoryLogger() });
    const theirs = await acquireLock([host], options('2'));
    await ours.release();
    expect(JSON.parse(readFileSync(join(lockDir, 'production.lock'), 'utf8')).runId).toBe('2');
    await theirs.release();
    expect(existsSync(join(lockDir, 'production.lock'))).toBe(false);
  });

  it('break returns the holder and removes the file; inspect reads it', async () => {
    const host = new LocalShellHost('local');
    await acquireLock([host], options('9'));
    expect((await inspectLock([host], { environment: 'production', lockDir }))[0]!.info!.runId).toBe('9');
    const broken = await breakLock([host], { environment: 'production', lockDir, logger: new MemoryLogger() });
    expect(broken[0]!.info!.runId).toBe('9');
    expect(readdirSync(lockDir)).toEqual([]);
  });
});
