/**
 * What migrate-storage reads on GlusterFS hosts: on a brick host the server
 * package, glusterd, the brick filesystem, the pool and the volume; on a web
 * host the client package, fstab, the mounts and the volume root. One script
 * per host, parsed by pure functions (the plan is src/commands/migrate-storage).
 */
import { shellQuote } from '../ssh/quote.js';
import { packagesSnippet, parsePackages } from './packages.js';
import { splitSections } from './sections.js';
import {
  brickMountFactCommand,
  brickProcessesCommand,
  findGlusterMount,
  findVolume,
  glusterCommands,
  parseBrickMountFact,
  parseBrickProcesses,
  parseMounts,
  parsePeersXml,
  parseVolumeInfoXml,
  type BrickMountFact,
  type BrickProcess,
  type PeerInfo,
  type VolumeInfo,
} from '../components/glusterfs/index.js';

export const FSTAB = '/etc/fstab';

export interface PackageFacts {
  /** Package -> installed version (fully installed only). */
  packages: Record<string, string>;
}

export const GLUSTER_SERVER_PACKAGE = 'glusterfs-server';

export interface StorageHostFacts extends PackageFacts {
  glusterdActive: boolean;
  glusterdEnabled: boolean;
  brick: BrickMountFact | null;
  brickError: string | null;
  /** `pool list` as this host sees it; null when glusterd does not answer. */
  pool: PeerInfo[] | null;
  /** `volume info` from this host: undefined when not asked (glusterd down), null when no such volume. */
  volume: VolumeInfo | null | undefined;
  volumeError: string | null;
  /** glusterfsd processes on this host (pid, brick path), whatever glusterd thinks of them. */
  brickProcesses: BrickProcess[];
}

export function storageFactsScript(volume: string, brickPath: string): string {
  return [
    `echo "@@packages"; ${packagesSnippet([GLUSTER_SERVER_PACKAGE])}`,
    'echo "@@active"; systemctl is-active glusterd 2>/dev/null || true',
    'echo "@@enabled"; systemctl is-enabled glusterd 2>/dev/null || true',
    `echo "@@brick"; ${brickMountFactCommand(brickPath)} 2>&1`,
    `echo "@@pool"; if systemctl is-active -q glusterd 2>/dev/null; then timeout -k 1 15 ${glusterCommands.poolList()} 2>&1; fi`,
    `echo "@@info"; if systemctl is-active -q glusterd 2>/dev/null; then timeout -k 1 15 ${glusterCommands.volumeInfo(volume)} 2>&1; fi`,
    `echo "@@procs"; ${brickProcessesCommand()}`,
  ].join('; ');
}

export function parseStorageFacts(host: string, brickPath: string, volume: string, stdout: string): StorageHostFacts {
  const s = splitSections(stdout);
  const active = (s.get('active') ?? '').trim() === 'active';
  let brick: BrickMountFact | null = null;
  let brickError: string | null = null;
  try {
    brick = parseBrickMountFact(host, brickPath, s.get('brick') ?? '');
  } catch (e) {
    brickError = (e as Error).message;
  }
  let pool: PeerInfo[] | null = null;
  let volumeInfo: VolumeInfo | null | undefined;
  let volumeError: string | null = null;
  if (active) {
    try {
      pool = parsePeersXml(s.get('pool') ?? '');
    } catch {
      pool = null;
    }
    try {
      volumeInfo = findVolume(parseVolumeInfoXml(s.get('info') ?? ''), volume);
    } catch (e) {
      volumeError = (e as Error).message;
    }
  }
  return {
    packages: parsePackages(s.get('packages')),
    glusterdActive: active,
    glusterdEnabled: (s.get('enabled') ?? '').trim() === 'enabled',
    brick,
    brickError,
    pool,
    volume: volumeInfo,
    volumeError,
    brickProcesses: parseBrickProcesses(s.get('procs') ?? ''),
  };
}

/** The arguments of the gluster-server fact. */
export interface StorageFactsArgs {
  volume: string;
  brickPath: string;
}

export const GLUSTER_CLIENT_PACKAGE = 'glusterfs-client';

export interface ClientHostFacts extends PackageFacts {
  fstab: string;
  /** The gluster FUSE mount at the mount point, if mounted. */
  mounted: boolean;
  /** Volume root as this client sees it (only when mounted): octal mode, owner, group. */
  root: { mode: number; owner: string; group: string } | null;
  /** Whether the owner and group named in the inventory exist on this host. */
  ownerExists: boolean;
  groupExists: boolean;
}

export function clientFactsScript(mountPath: string, owner: string, group: string): string {
  const mp = shellQuote(mountPath);
  return [
    `echo "@@packages"; ${packagesSnippet([GLUSTER_CLIENT_PACKAGE])}`,
    `echo "@@fstab"; if [ -f ${FSTAB} ]; then base64 -w0 ${FSTAB}; fi; echo`,
    'echo "@@mounts"; cat /proc/self/mounts',
    // A hung mount must not hang the plan.
    `echo "@@root"; if awk -v m=${mp} '$2==m && $3=="fuse.glusterfs" {f=1} END {exit !f}' /proc/self/mounts; then timeout -k 1 10 stat -c '%a %U %G' -- ${mp} 2>&1; fi`,
    `echo "@@ids"; getent passwd ${shellQuote(owner)} >/dev/null && echo owner; getent group ${shellQuote(group)} >/dev/null && echo group; true`,
  ].join('; ');
}

export function parseClientFacts(stdout: string, spec: { mountPath: string; volume: string }): ClientHostFacts {
  const s = splitSections(stdout);
  const mounted = findGlusterMount(parseMounts(s.get('mounts') ?? ''), spec.mountPath, spec.volume) !== null;
  const rootLine = (s.get('root') ?? '').trim().split('\n')[0] ?? '';
  const m = /^([0-7]{3,4}) (\S+) (\S+)$/.exec(rootLine);
  const ids = (s.get('ids') ?? '').split('\n').map((l) => l.trim());
  return {
    packages: parsePackages(s.get('packages')),
    fstab: Buffer.from((s.get('fstab') ?? '').trim(), 'base64').toString('utf8'),
    mounted,
    root: mounted && m ? { mode: parseInt(m[1]!, 8), owner: m[2]!, group: m[3]! } : null,
    ownerExists: ids.includes('owner'),
    groupExists: ids.includes('group'),
  };
}

/** The arguments of the gluster-mount-host fact. */
export interface ClientFactsArgs {
  mountPath: string;
  owner: string;
  group: string;
}
