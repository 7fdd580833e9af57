import { describe, expect, it } from 'vitest';

import {
  acquireLock,
  breakLock,
  formatAge,
  inspectLock,
  lockPath,
  lockWarning,
  parseLockInfo,
  withLock,
  type AcquireOptions,
} from '../../../src/engine/lock.js';
import { DeployError } from '../../../src/errors.js';
import { MemoryLogger } from '../../support/memory-logger.js';
import { FakeLockHost, type RunRecord } from './fake-lock-host.js';

const PATH = '/var/lock/lms-ha/production.lock';
const NOW = new Date('2026-05-01T12:00:00.000Z');

function cluster(names = ['db3', 'db1', 'lb1', 'db2']) {
  const journal: RunRecord[] = [];
  return { journal, hosts: names.map((n) => new FakeLockHost(n, journal)) };
}

function options(runId: string, extra: Partial<AcquireOptions> = {}): AcquireOptions {
  return {
    environment: 'production',
    owner: { runId, repository: `acme/${runId}-repo`, command: 'deploy-db', runner: `runner-${runId}` },
    logger: new MemoryLogger(),
    now: () => NOW,
    token: `token-${runId}`,
    ...extra,
  };
}

describe('acquireLock', () => {
  it('writes the holder as JSON on every host, in name order, through stdin', async () => {
    const { journal, hosts } = cluster();
    const lock = await acquireLock(hosts, options('101'));
    expect(lock.hosts).toEqual(['db1', 'db2', 'db3', 'lb1']);
    expect(journal.filter((r) => r.op === 'acquire').map((r) => r.host)).toEqual(['db1', 'db2', 'db3', 'lb1']);
    for (const h of hosts) {
      expect(JSON.parse(h.files.get(PATH)!)).toEqual({
        version: 1,
        environment: 'production',
        runId: '101',
        repository: 'acme/101-repo',
        command: 'deploy-db',
        startedAt: '2026-05-01T12:00:00.000Z',
        runner: 'runner-101',
        token: 'token-101',
      });
    }
    const record = journal[0]!;
    expect(record.options.stdin).toContain('"runId":"101"');
    // The holder travels on stdin, not on the command line.
    expect(record.command).not.toContain('acme/101-repo');
    expect(record.options.sudo).not.toBe(false);
  });

  it('lets exactly one of two concurrent runs win; the loser names the holder and leaves nothing behind', async () => {
    for (let round = 0; round < 20; round++) {
      const { hosts } = cluster();
      const results = await Promise.allSettled([acquireLock(hosts, options('A')), acquireLock(hosts, options('B'))]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.info.runId;
      const error = lost[0]!.reason as DeployError;
      expect(error).toBeInstanceOf(DeployError);
      expect(error.reason).toBe('locked');
      expect(error.message).toContain(`run ${winner} of acme/${winner}-repo (deploy-db) since 2026-05-01T12:00:00.000Z`);
      expect(error.message).toMatch(/on host db\d/);
      expect(error.hint).toMatch(/Wait for that run to finish/);
      expect(error.hint).toMatch(/break/);
      // Every host is locked by the winner, none by the loser.
      for (const h of hosts) expect(JSON.parse(h.files.get(PATH)!).runId).toBe(winner);
    }
  });

  it('lets exactly one of many concurrent runs win, whatever order each lists the hosts in', async () => {
    for (let round = 0; round < 10; round++) {
      const { hosts } = cluster(['a', 'b', 'c', 'd', 'e']);
      const runs = Array.from({ length: 6 }, (_, i) => {
        const order = [...hosts].sort(() => Math.random() - 0.5);
        return acquireLock(order, options(`r${i}`));
      });
      const results = await Promise.allSettled(runs);
      const winners = results.filter((r) => r.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      const winner = (winners[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.info.token;
      for (const h of hosts) expect(JSON.parse(h.files.get('/var/lock/lms-ha/production.lock')!).token).toBe(winner);
    }
  });

  it('gives back the hosts it took when a later host is held by someone else', async () => {
    const { hosts } = cluster();
    const db3 = hosts.find((h) => h.name === 'db3')!;
    const other = await acquireLock([db3], options('999', { now: () => new Date('2026-05-01T09:30:00.000Z') }));
    const logger = new MemoryLogger();
    await expect(acquireLock(hosts, options('101', { logger }))).rejects.toMatchObject({
      reason: 'locked',
      host: 'db3',
      message:
        'Environment "production" is locked by run 999 of acme/999-repo (deploy-db) since 2026-05-01T09:30:00.000Z (2 h 30 min ago) from runner runner-999, on host db3.',
    });
    expect(hosts.find((h) => h.name === 'db1')!.files.has(PATH)).toBe(false);
    expect(hosts.find((h) => h.name === 'db2')!.files.has(PATH)).toBe(false);
    expect(JSON.parse(db3.files.get(PATH)!).runId).toBe('999');
    expect(hosts.find((h) => h.name === 'lb1')!.files.has(PATH)).toBe(false);
    await other.release();
  });

  it('gives back what it took and rethrows when the transport fails mid-way', async () => {
    const { hosts } = cluster();
    hosts.find((h) => h.name === 'db3')!.failNext.set('acquire', new DeployError('ssh-failed', 'connection reset', { host: 'db3' }));
    await expect(acquireLock(hosts, options('101'))).rejects.toMatchObject({ reason: 'ssh-failed' });
    for (const h of hosts) expect(h.files.has(PATH)).toBe(false);
  });

  it('names an unreadable lock file instead of crashing', async () => {
    const { hosts } = cluster(['db1']);
    hosts[0]!.files.set(PATH, 'garbage');
    await expect(acquireLock(hosts, options('101'))).rejects.toThrow(/unreadable lock file on host db1 \(content: "garbage"\)/);
  });

  it('keeps environments apart', async () => {
    const { hosts } = cluster();
    await acquireLock(hosts, options('101'));
    await expect(acquireLock(hosts, options('102', { environment: 'staging' }))).resolves.toBeTruthy();
  });
});

describe('release', () => {
  it('removes our lock from every host', async () => {
    const { hosts } = cluster();
    const lock = await acquireLock(hosts, options('101'));
    await lock.release();
    for (const h of hosts) expect(h.files.has(PATH)).toBe(false);
    // A second run can now take it.
    await expect(acquireLock(hosts, options('102'))).resolves.toBeTruthy();
  });

  it('withLock releases when the work fails, and passes the error on', async () => {
    const { hosts } = cluster();
    await expect(
      withLock(hosts, options('101'), async () => {
        for (const h of hosts) expect(h.files.has(PATH)).toBe(true);
        throw new DeployError('apply-failed', 'restart failed');
      }),
    ).rejects.toMatchObject({ reason: 'apply-failed' });
    for (const h of hosts) expect(h.files.has(PATH)).toBe(false);
  });

  it('withLock releases after success and returns the result', async () => {
    const { hosts } = cluster();
    await expect(withLock(hosts, options('101'), async (lock) => lock.hosts.length)).resolves.toBe(4);
    for (const h of hosts) expect(h.files.has(PATH)).toBe(false);
  });

  it('never removes a lock that is no longer ours (broken and taken by another run)', async () => {
    const { hosts } = cluster(['db1', 'db2']);
    const logger = new MemoryLogger();
    const ours = await acquireLock(hosts, options('101', { logger }));
    await breakLock([hosts[0]!], { environment: 'production', logger: new MemoryLogger() });
    await acquireLock([hosts[0]!], options('202'));
    await ours.release();
    expect(JSON.parse(hosts[0]!.files.get(PATH)!).runId).toBe('202');
    expect(hosts[1]!.files.has(PATH)).toBe(false);
    expect(logger.lines.join('\n')).toMatch(/warning: \[db1\] our lock was broken while we held it; the lock now belongs to run 202/);
  });

  it('keeps releasing the other hosts when one is unreachable, and warns', async () => {
    const { hosts } = cluster(['db1', 'db2', 'db3']);
    const logger = new MemoryLogger();
    const lock = await acquireLock(hosts, options('101', { logger }));
    hosts[1]!.failNext.set('release', new Error('ssh: connection lost'));
    await expect(lock.release()).resolves.toBeUndefined();
    expect(hosts[0]!.files.has(PATH)).toBe(false);
    expect(hosts[2]!.files.has(PATH)).toBe(false);
    expect(hosts[1]!.files.has(PATH)).toBe(true);
    expect(logger.lines.join('\n')).toMatch(/\[db2\] could not release the lock .*connection lost.*break the lock/);
  });

  it('is idempotent', async () => {
    const { journal, hosts } = cluster(['db1']);
    const lock = await acquireLock(hosts, options('101'));
    await lock.release();
    await lock.release();
    expect(journal.filter((r) => r.op === 'release')).toHaveLength(1);
  });
});

describe('breakLock', () => {
  it('removes a stale lock from every host, logging who held it, so a new run can proceed', async () => {
    const { hosts } = cluster();
    await acquireLock(hosts, options('77', { now: () => new Date('2026-04-30T12:00:00.000Z') }));
    const logger = new MemoryLogger();
    const broken = await breakLock(hosts, { environment: 'production', logger, now: () => NOW });
    expect(broken.map((b) => [b.host, b.info?.runId])).toEqual([
      ['db1', '77'],
      ['db2', '77'],
      ['db3', '77'],
      ['lb1', '77'],
    ]);
    expect(logger.lines[0]).toBe(
      'warning: [db1] broke the lock held by run 77 of acme/77-repo (deploy-db) since 2026-04-30T12:00:00.000Z (24 h 0 min ago) from runner runner-77, on host db1',
    );
    await expect(acquireLock(hosts, options('78'))).resolves.toBeTruthy();
  });

  it('is harmless when there is no lock', async () => {
    const { hosts } = cluster(['db1']);
    const logger = new MemoryLogger();
    await expect(breakLock(hosts, { environment: 'production', logger })).resolves.toEqual([]);
    expect(logger.lines).toEqual(['[db1] no lock for environment production']);
  });
});

describe('inspectLock (plan mode)', () => {
  it('reads the lock without running anything and turns it into a plan warning', async () => {
    const { journal, hosts } = cluster();
    await acquireLock(hosts, options('55'));
    journal.length = 0;
    const holders = await inspectLock(hosts, { environment: 'production' });
    expect(journal.every((r) => r.op === 'readFile')).toBe(true);
    expect(holders.map((h) => h.host)).toEqual(['db1', 'db2', 'db3', 'lb1']);
    expect(lockWarning('production', holders, new Date('2026-05-01T12:05:00.000Z'))).toBe(
      'Environment "production" is locked by run 55 of acme/55-repo (deploy-db) since 2026-05-01T12:00:00.000Z (5 min ago) from runner runner-55, on host db1 (and 3 more hosts). This plan may be stale, and an apply started now would fail with `locked`.',
    );
  });

  it('gives no warning when nothing is locked', async () => {
    const { hosts } = cluster();
    expect(lockWarning('production', await inspectLock(hosts, { environment: 'production' }))).toBeNull();
  });
});

describe('helpers', () => {
  it('builds safe, distinct lock paths', () => {
    expect(lockPath({ environment: 'production' })).toBe('/var/lock/lms-ha/production.lock');
    expect(lockPath({ environment: 'prod', lockDir: '/tmp/x' })).toBe('/tmp/x/prod.lock');
    const a = lockPath({ environment: 'eu/prod' });
    const b = lockPath({ environment: 'eu_prod' });
    expect(a).toMatch(/^\/var\/lock\/lms-ha\/eu_prod-[0-9a-f]{8}\.lock$/);
    expect(a).not.toBe(b);
    expect(lockPath({ environment: "x'; rm -rf /" })).not.toContain("'");
    expect(lockPath({ environment: '../../etc/passwd' })).not.toContain('..');
  });

  it('formats ages', () => {
    expect(formatAge(40_000)).toBe('40 s');
    expect(formatAge(12 * 60_000)).toBe('12 min');
    expect(formatAge(3 * 3600_000 + 5 * 60_000)).toBe('3 h 5 min');
    expect(formatAge(50 * 3600_000)).toBe('2 d 2 h');
  });

  it('parses only complete lock files', () => {
    expect(parseLockInfo('{"runId":"1"}')).toBeNull();
    expect(parseLockInfo('')).toBeNull();
    expect(parseLockInfo('{"runId":"1","repository":"r","startedAt":"t","token":"k"}')).toMatchObject({ runId: '1' });
  });
});
