import type { CheckResult } from '../../check.js';
import type { HostFacts } from '../../facts/host.js';
import { clockSkewRow, freeSpaceCheck, GiB } from '../../operations/host-checks.js';

/** Releases whose packages (MariaDB 10.5+, Galera 4, GlusterFS, HAProxy 2.x) we support. */
export const SUPPORTED_OS: Record<string, readonly string[]> = {
  debian: ['11', '12'],
  ubuntu: ['20.04', '22.04', '24.04'],
};

/** Galera does not need synced clocks to work, but skewed logs and TLS do hurt. */
export const WARN_SKEW_SECONDS = 1;

export interface PreflightHostInput {
  name: string;
  roles: readonly string[];
  facts: HostFacts;
}

/** Turns per-host facts into the preflight table. Pure, so every threshold is unit-tested. */
export function evaluatePreflight(hosts: readonly PreflightHostInput[]): CheckResult[] {
  const results: CheckResult[] = [];
  for (const host of hosts) {
    const { facts } = host;
    results.push({
      layer: 'host',
      host: host.name,
      check: 'ssh + sudo',
      expected: 'connected, root via sudo -n',
      observed: facts.uid === 0 ? 'connected, root' : `connected, uid ${facts.uid}`,
      status: facts.uid === 0 ? 'ok' : 'fail',
      hint: facts.uid === 0 ? undefined : 'Commands must run as root: log in as root or give the user passwordless sudo.',
    });
    // A bastion only forwards connections; nothing is installed on it.
    if (host.roles.length === 1 && host.roles[0] === 'bastion') continue;
    results.push(checkOs(host.name, facts));
    for (const disk of facts.disks) results.push(checkDisk(host.name, disk.mount, disk.availableBytes));
  }
  results.push(...checkClockSkew(hosts));
  return results;
}

function checkOs(host: string, facts: HostFacts): CheckResult {
  const versions = SUPPORTED_OS[facts.os.id];
  const supported = versions?.includes(facts.os.versionId) ?? false;
  return {
    layer: 'host',
    host,
    check: 'operating system',
    expected: 'Debian 11/12 or Ubuntu 20.04/22.04/24.04',
    observed: `${facts.os.prettyName} (${facts.os.id} ${facts.os.versionId})`,
    status: supported ? 'ok' : 'fail',
    hint: supported ? undefined : 'lms-ha installs Debian/Ubuntu packages; use a supported release for this host.',
  };
}

function checkDisk(host: string, mount: string, available: number): CheckResult {
  return freeSpaceCheck(host, `free space on ${mount}`, available, GiB(available), `Free space on ${mount}: a state transfer copies the whole database.`);
}

/** The spread of the host clocks (see clockSpread); above WARN_SKEW_SECONDS, a warning. */
export function checkClockSkew(hosts: readonly PreflightHostInput[]): CheckResult[] {
  return clockSkewRow(hosts, {
    check: 'clock skew between hosts',
    boundMs: WARN_SKEW_SECONDS * 1000,
    over: 'warn',
    unit: 's',
    hint: () => 'Enable time sync (systemd-timesyncd or chrony) on every host; `provision` does this.',
  });
}
