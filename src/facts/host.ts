import { splitSections } from './sections.js';

/**
 * Baseline facts of one host, gathered in a single round trip so that a
 * preflight of many hosts costs one command per host, not one per fact.
 */
export interface HostFacts {
  hostname: string;
  os: { id: string; versionId: string; prettyName: string };
  /** Free space per mount point of interest, in bytes. */
  disks: DiskFact[];
  /** Host clock, Unix seconds with fractions, and when (runner clock) it was read. */
  clock: { hostSeconds: number; runnerSeconds: number; roundTripMs: number };
  uid: number;
}

export interface DiskFact {
  mount: string;
  sizeBytes: number;
  availableBytes: number;
}

// Sections are separated by markers so one command can return several facts;
// `df` on /var/lib covers the MariaDB datadir and the GlusterFS brick defaults.
export const HOST_FACTS_SCRIPT = [
  'echo "@@hostname"; hostname',
  'echo "@@os-release"; cat /etc/os-release 2>/dev/null || true',
  'echo "@@df"; df -Pk / /var/lib 2>/dev/null || true',
  'echo "@@uid"; id -u',
  'echo "@@clock"; date +%s.%N',
].join('; ');

export function parseHostFacts(stdout: string, startedMs: number, finishedMs: number): HostFacts {
  const sections = splitSections(stdout);
  const osRelease = parseOsRelease(sections.get('os-release') ?? '');
  const disks = parseDf(sections.get('df') ?? '');
  const hostSeconds = Number.parseFloat((sections.get('clock') ?? '').trim());
  return {
    hostname: (sections.get('hostname') ?? '').trim(),
    os: {
      id: osRelease.ID ?? 'unknown',
      versionId: osRelease.VERSION_ID ?? 'unknown',
      prettyName: osRelease.PRETTY_NAME ?? osRelease.ID ?? 'unknown',
    },
    disks,
    clock: {
      hostSeconds,
      // The host read its clock somewhere during the round trip; the midpoint
      // bounds the error by half the round trip.
      runnerSeconds: (startedMs + finishedMs) / 2 / 1000,
      roundTripMs: finishedMs - startedMs,
    },
    uid: Number.parseInt((sections.get('uid') ?? '').trim(), 10),
  };
}

export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    fields[match[1]] = match[2].replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  }
  return fields;
}

export function parseDf(text: string): DiskFact[] {
  const disks: DiskFact[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 6) continue;
    const mount = cols.slice(5).join(' ');
    if (seen.has(mount)) continue;
    seen.add(mount);
    disks.push({
      mount,
      sizeBytes: Number(cols[1]) * 1024,
      availableBytes: Number(cols[3]) * 1024,
    });
  }
  return disks;
}

/** How far apart the hosts' clocks are: the fastest and slowest host, the spread and its uncertainty, in seconds. */
export interface ClockSpread {
  ahead: string;
  behind: string;
  spreadSeconds: number;
  uncertaintySeconds: number;
}

/**
 * Each clock is compared with the runner's at the midpoint of its round trip
 * (half the round trip is the uncertainty); the spread between hosts is what
 * matters, so the runner's own offset cancels out. Null for fewer than 2 hosts.
 */
export function clockSpread(hosts: readonly { name: string; facts: Pick<HostFacts, 'clock'> }[]): ClockSpread | null {
  if (hosts.length < 2) return null;
  const offsets = hosts.map((h) => ({
    name: h.name,
    offset: h.facts.clock.hostSeconds - h.facts.clock.runnerSeconds,
    uncertainty: h.facts.clock.roundTripMs / 2000,
  }));
  const min = offsets.reduce((a, b) => (b.offset < a.offset ? b : a));
  const max = offsets.reduce((a, b) => (b.offset > a.offset ? b : a));
  return { ahead: max.name, behind: min.name, spreadSeconds: max.offset - min.offset, uncertaintySeconds: min.uncertainty + max.uncertainty };
}
