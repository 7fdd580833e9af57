/**
 * provision's checks, pure so every threshold is unit-tested: time sync on
 * every host, the clock skew between hosts refused above a bound, free space
 * where the datadir and the bricks will live, swap and vm.swappiness on the
 * database hosts.
 */
import type { CheckResult } from '../../check.js';
import type { HostFacts } from '../../facts/host.js';
import { clockSkewRow, freeSpaceCheck, GiB, WARN_FREE_BYTES } from '../../operations/host-checks.js';
import type { ProvisionFacts } from './facts.js';
import { TIME_SYNC_UNITS } from './facts.js';

export const DATADIR = '/var/lib/mysql';
/** Above this, the kernel swaps a database's buffer pool out while it still has page cache to drop. */
export const MAX_DB_SWAPPINESS = 10;

export interface CheckedHost {
  name: string;
  roles: readonly string[];
  facts: ProvisionFacts;
  /** Paths whose free space matters on this host (datadir, brick). */
  diskPaths: readonly string[];
}

export function timeSyncCheck(host: CheckedHost): CheckResult {
  const active = TIME_SYNC_UNITS.filter((u) => host.facts.timeSync[u] === 'active');
  const base = { layer: 'host', host: host.name, check: 'time sync', expected: 'a time sync service active' };
  if (host.facts.container !== 'none') {
    return { ...base, observed: `container (${host.facts.container}): the clock is the machine's own`, status: 'ok' };
  }
  if (active.length > 0) return { ...base, observed: `${active.join(', ')} active`, status: 'ok' };
  return { ...base, observed: 'none active', status: 'warn', hint: 'apply enables systemd-timesyncd (or run chrony yourself).' };
}

/** The spread of the host clocks (see clockSpread), refused above the bound; the uncertainty counts in the hosts' favour. */
export function clockSkewCheck(hosts: readonly { name: string; facts: HostFacts }[], maxSkewMs: number): CheckResult[] {
  return clockSkewRow(hosts, {
    check: 'clock skew (provision bound)',
    boundMs: maxSkewMs,
    over: 'fail',
    unit: 'ms',
    hint: (ahead, behind) =>
      `Galera and the lock's timestamps need sane clocks: set the clock of ${ahead} / ${behind} (timedatectl, chronyc makestep) and keep a time sync service running, then run provision again. The bound is provision.time.max_skew_ms.`,
  });
}

export function diskChecks(host: CheckedHost): CheckResult[] {
  return host.diskPaths.map((path) => {
    const disk = host.facts.disks[path];
    if (!disk) {
      return { layer: 'host', host: host.name, check: `free space for ${path}`, expected: `>= ${GiB(WARN_FREE_BYTES)}`, observed: 'unknown (df gave nothing)', status: 'warn' as const, hint: `Check the filesystem of ${path} by hand.` };
    }
    return freeSpaceCheck(
      host.name,
      `free space for ${path}`,
      disk.availableBytes,
      `${GiB(disk.availableBytes)} on ${disk.mount}`,
      `${path} lives on ${disk.mount}: a state transfer copies the whole dataset there. Give it more space.`,
    );
  });
}

export function swapChecks(host: CheckedHost): CheckResult[] {
  if (!host.roles.includes('db')) return [];
  const { swapBytes, swappiness } = host.facts;
  const base = { layer: 'host', host: host.name, check: 'swap and vm.swappiness' };
  if (swapBytes === 0) return [{ ...base, expected: `swappiness <= ${MAX_DB_SWAPPINESS} when swap is on`, observed: 'no swap', status: 'ok' }];
  const ok = swappiness !== null && swappiness <= MAX_DB_SWAPPINESS;
  return [
    {
      ...base,
      expected: `swappiness <= ${MAX_DB_SWAPPINESS} with swap on`,
      observed: `${GiB(swapBytes)} swap, vm.swappiness ${swappiness ?? 'unknown'}`,
      status: ok ? 'ok' : 'warn',
      hint: ok
        ? undefined
        : `A swapped-out buffer pool stalls the node and Galera's flow control stalls the whole cluster with it: set vm.swappiness=1 (sysctl.d) on ${host.name}.`,
    },
  ];
}

export function provisionChecks(hosts: readonly CheckedHost[], clocks: readonly { name: string; facts: HostFacts }[], maxSkewMs: number): CheckResult[] {
  return [
    ...hosts.flatMap((h) => [timeSyncCheck(h), ...diskChecks(h), ...swapChecks(h)]),
    ...clockSkewCheck(clocks, maxSkewMs),
  ];
}
