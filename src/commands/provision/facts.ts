/**
 * What provision reads on a host, in one read-only round trip: /etc/hosts,
 * the time sync services, the firewall's files and live table, swap, free
 * space where the datadir and bricks will live. A pure parser turns the
 * answer into `ProvisionFacts`.
 */
import { shellQuote } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';
import { parseDf, type DiskFact } from '../../facts/host.js';
import { LMS_HA_SOURCES_PATH, PUSH_MANIFEST_PATH } from '../../components/apt-sources/index.js';
import { FIREWALL_DROP_IN_PATH, FIREWALL_NFT_PATH, FIREWALL_UNIT } from '../../components/nftables/firewall.js';
import { GATHERER_PATH } from '../../facts/gatherer.js';

/** The plan account's one sudo rule. */
export const PLAN_SUDOERS_PATH = '/etc/sudoers.d/lms-ha-plan';

/** Time sync daemons any of which counts as "the clock is kept". */
export const TIME_SYNC_UNITS = ['systemd-timesyncd', 'chrony', 'ntp', 'ntpsec', 'openntpd'] as const;
export const PACKAGES_OF_INTEREST = ['nftables', 'systemd-timesyncd', 'sudo'] as const;
export const FIREWALL_UNIT_PATH = `/etc/systemd/system/${FIREWALL_UNIT}`;
export const MANAGED_FILES = [FIREWALL_NFT_PATH, FIREWALL_UNIT_PATH, FIREWALL_DROP_IN_PATH, LMS_HA_SOURCES_PATH, PUSH_MANIFEST_PATH, GATHERER_PATH, PLAN_SUDOERS_PATH] as const;
export const MANAGED_DIRS = ['/etc/lms-ha', '/etc/systemd/system/nftables.service.d'] as const;

export interface FileFact {
  mode: number;
  owner: string;
  group: string;
  content: string;
}

export interface ProvisionFacts {
  hostsFile: string | null;
  /** `systemd-detect-virt -c`: "none" on a machine or VM, else the container kind (the clock is the host's). */
  container: string;
  /** os-release ID and VERSION_CODENAME (for a mirror's suites). */
  osId: string;
  codename: string;
  timeSync: Record<string, string>;
  packages: Record<string, string>;
  files: Record<string, FileFact | null>;
  dirs: Record<string, boolean>;
  /** `nft list tables` as "inet filter" etc.; null when nft is not installed. */
  nftTables: string[] | null;
  firewallUnitEnabled: string;
  swapBytes: number;
  swappiness: number | null;
  /** Free space at the nearest existing directory of each asked path. */
  disks: Record<string, DiskFact | null>;
  /** The plan account (when the inventory has one): its home and its authorized_keys; null when the user does not exist. */
  planUser: { home: string; authorizedKeys: string | null } | null;
}

const SECTION = /^@@([a-z-]+)(?: (\S+))?$/;

export function provisionFactsScript(diskPaths: readonly string[], planUser?: string): string {
  const parts = [
    `echo "@@hosts"; if [ -f /etc/hosts ]; then base64 -w0 /etc/hosts; echo; else echo @absent; fi`,
    `echo "@@virt"; systemd-detect-virt -c 2>/dev/null || true`,
    `echo "@@os"; (. /etc/os-release 2>/dev/null; echo "$ID"; echo "$VERSION_CODENAME")`,
    ...TIME_SYNC_UNITS.map((u) => `echo "@@timesync ${u}"; systemctl is-active ${u} 2>/dev/null || true`),
    `echo "@@pkg"; dpkg-query -W -f='\${Package}\\t\${Version}\\t\${Status}\\n' ${PACKAGES_OF_INTEREST.join(' ')} 2>/dev/null || true`,
    ...MANAGED_FILES.map((f) => `echo "@@file ${f}"; if [ -f ${f} ]; then stat -c '%a %U %G' ${f}; base64 -w0 ${f}; echo; else echo @absent; fi`),
    ...MANAGED_DIRS.map((d) => `echo "@@dir ${d}"; [ -d ${d} ] && echo present || echo absent`),
    `echo "@@nft"; if command -v nft >/dev/null 2>&1; then nft list tables 2>/dev/null || true; else echo @absent; fi`,
    `echo "@@unit"; systemctl is-enabled ${FIREWALL_UNIT} 2>/dev/null || true`,
    `echo "@@swap"; cat /proc/swaps 2>/dev/null || true`,
    `echo "@@swappiness"; cat /proc/sys/vm/swappiness 2>/dev/null || true`,
    ...diskPaths.map(
      (p) => `echo "@@df ${p}"; p=${shellQuote(p)}; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; df -Pk "$p" 2>/dev/null || true`,
    ),
    ...(planUser === undefined
      ? []
      : [
          `echo "@@planuser"; h=$(getent passwd ${shellQuote(planUser)} | cut -d: -f6); if [ -z "$h" ]; then echo @absent; else echo "$h"; ` +
            `if [ -f "$h/.ssh/authorized_keys" ]; then base64 -w0 "$h/.ssh/authorized_keys"; echo; else echo @absent; fi; fi`,
        ]),
  ];
  return parts.join('; ');
}

function decode(line: string | undefined): string {
  return Buffer.from((line ?? '').trim(), 'base64').toString('utf8');
}

export function parseProvisionFacts(stdout: string, diskPaths: readonly string[]): ProvisionFacts {
  const facts: ProvisionFacts = {
    hostsFile: null,
    container: 'none',
    osId: 'unknown',
    codename: '',
    timeSync: {},
    packages: {},
    files: Object.fromEntries(MANAGED_FILES.map((f) => [f, null])),
    dirs: Object.fromEntries(MANAGED_DIRS.map((d) => [d, false])),
    nftTables: null,
    firewallUnitEnabled: '',
    swapBytes: 0,
    swappiness: null,
    disks: Object.fromEntries(diskPaths.map((p) => [p, null])),
    planUser: null,
  };
  const sections: { kind: string; arg: string; lines: string[] }[] = [];
  for (const line of stdout.split('\n')) {
    const m = SECTION.exec(line);
    if (m) sections.push({ kind: m[1]!, arg: m[2] ?? '', lines: [] });
    else sections.at(-1)?.lines.push(line);
  }
  for (const { kind, arg, lines } of sections) {
    const first = (lines[0] ?? '').trim();
    switch (kind) {
      case 'hosts':
        facts.hostsFile = first === '@absent' ? null : decode(first);
        break;
      case 'virt':
        facts.container = first || 'none';
        break;
      case 'os':
        facts.osId = first || 'unknown';
        facts.codename = (lines[1] ?? '').trim();
        break;
      case 'timesync':
        facts.timeSync[arg] = first || 'inactive';
        break;
      case 'pkg':
        for (const l of lines) {
          const [name, version, status] = l.split('\t');
          if (name && version && status?.includes('ok installed')) facts.packages[name] = version;
        }
        break;
      case 'file': {
        if (first === '@absent' || first === '') break;
        const [mode, owner, group] = first.split(' ');
        if (!mode || !owner || !group) break;
        facts.files[arg] = { mode: Number.parseInt(mode, 8), owner, group, content: decode(lines[1]) };
        break;
      }
      case 'dir':
        facts.dirs[arg] = first === 'present';
        break;
      case 'nft':
        facts.nftTables = first === '@absent' ? null : lines.map((l) => l.trim()).filter((l) => l.startsWith('table ')).map((l) => l.slice('table '.length));
        break;
      case 'unit':
        facts.firewallUnitEnabled = first;
        break;
      case 'swap':
        // Size is in KiB, third column; the first line is the header.
        facts.swapBytes = lines.slice(1).reduce((sum, l) => sum + (Number(l.trim().split(/\s+/)[2]) || 0) * 1024, 0);
        break;
      case 'swappiness':
        facts.swappiness = /^\d+$/.test(first) ? Number(first) : null;
        break;
      case 'df':
        facts.disks[arg] = parseDf(lines.join('\n'))[0] ?? null;
        break;
      case 'planuser': {
        if (first === '@absent' || first === '') break;
        const keys = (lines[1] ?? '').trim();
        facts.planUser = { home: first, authorizedKeys: keys === '@absent' ? null : decode(keys) };
        break;
      }
    }
  }
  return facts;
}

export async function gatherProvisionFacts(host: RemoteHost, diskPaths: readonly string[], planUser?: string): Promise<ProvisionFacts> {
  const r = await host.run(provisionFactsScript(diskPaths, planUser), { purpose: 'read the host baseline (provision facts)', timeoutMs: 30_000 });
  return parseProvisionFacts(r.stdout, diskPaths);
}

/**
 * The address this host sees the runner's SSH connection come from (through a
 * bastion: the bastion's). Read without sudo, which would drop SSH_CONNECTION.
 */
export async function gatherSshClientAddress(host: RemoteHost): Promise<string | null> {
  const r = await host.run('printf "%s" "${SSH_CONNECTION%% *}"', { purpose: 'read the SSH client address', sudo: false, allowFailure: true, timeoutMs: 15_000 });
  const address = r.stdout.trim();
  return address === '' ? null : address;
}
