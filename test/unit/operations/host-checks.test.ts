import { describe, expect, it } from 'vitest';
import { checkClockSkew, evaluatePreflight } from '../../../src/commands/preflight/checks.js';
import { clockSkewCheck, diskChecks } from '../../../src/commands/provision/checks.js';
import type { HostFacts } from '../../../src/facts/host.js';
import { freeSpaceCheck, MIN_FREE_BYTES, WARN_FREE_BYTES } from '../../../src/operations/host-checks.js';

const GIB = 1024 ** 3;
const facts = (offset: number, available = 10 * GIB): HostFacts => ({
  hostname: 'x',
  os: { id: 'debian', versionId: '12', prettyName: 'Debian 12' },
  disks: [{ mount: '/', availableBytes: available }],
  uid: 0,
  clock: { hostSeconds: 1000 + offset, runnerSeconds: 1000, roundTripMs: 10 },
} as HostFacts);

describe('the host check rows preflight and provision share', () => {
  it('free space: fail under 1 GiB, warn under 5 GiB, the hint only when not ok', () => {
    expect(freeSpaceCheck('db1', 'free space', MIN_FREE_BYTES - 1, '', 'more').status).toBe('fail');
    expect(freeSpaceCheck('db1', 'free space', WARN_FREE_BYTES - 1, '', 'more')).toMatchObject({ status: 'warn', hint: 'more' });
    expect(freeSpaceCheck('db1', 'free space', WARN_FREE_BYTES, '', 'more')).not.toHaveProperty('hint');
  });

  it('the same thresholds in both commands', () => {
    const preflight = evaluatePreflight([{ name: 'db1', roles: ['db'], facts: facts(0, 2 * GIB) }]).find((c) => c.check === 'free space on /');
    const provision = diskChecks({
      name: 'db1',
      roles: ['db'],
      diskPaths: ['/var/lib/mysql'],
      facts: { disks: { '/var/lib/mysql': { mount: '/', availableBytes: 2 * GIB } } } as never,
    })[0];
    expect(preflight).toMatchObject({ status: 'warn', expected: '>= 5.0 GiB', observed: '2.0 GiB' });
    expect(provision).toMatchObject({ status: 'warn', expected: '>= 5.0 GiB', observed: '2.0 GiB on /' });
  });

  it('clock skew: preflight warns above 1 s, provision refuses above its bound', () => {
    const two = (offset: number) => [{ name: 'a', roles: ['db'], facts: facts(0) }, { name: 'b', roles: ['db'], facts: facts(offset) }];
    expect(checkClockSkew(two(1.5))[0]).toMatchObject({ status: 'warn', expected: '<= 1s', observed: '1.500s (b ahead of a, ±0.010s)' });
    expect(checkClockSkew(two(0.5))[0]!.status).toBe('ok');
    expect(clockSkewCheck(two(1.5), 500)[0]).toMatchObject({ status: 'fail', expected: '<= 500 ms', observed: '1500 ms (b ahead of a, ±10 ms)' });
    expect(clockSkewCheck(two(1.5), 500)[0]!.hint).toContain('set the clock of b / a');
    expect(checkClockSkew([{ name: 'a', roles: ['db'], facts: facts(0) }])).toEqual([]);
  });
});
