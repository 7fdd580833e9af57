/**
 * Runtime state of a volume: brick processes (`volume status VOL [detail] --xml`)
 * and self-heal backlog (`volume heal VOL info summary|split-brain`).
 *
 * Formats, as the gluster 10 CLI and glfsheal write them:
 *
 * volume status: <volStatus><volumes><volume><volName/><nodeCount/>
 *   <node><hostname/><path/><peerid/><status>1|0</status><port/>
 *     <ports><tcp/><rdma/></ports><pid/>[detail: sizeTotal sizeFree device
 *     blockSize mntOptions fsName ...]</node>...<tasks/></volume>...
 *   Daemons (self-heal, NFS, quota, bitrot) are nodes too; their hostname is
 *   the daemon's name ("Self-heal Daemon") and path the host they run on, so a
 *   brick is a node whose path is absolute. An offline brick has status 0,
 *   port N/A and pid -1. A stopped volume is opRet -1 "Volume X is not started".
 *
 * heal info summary --xml: <cliOutput><healInfo><bricks><brick hostUuid="...">
 *   <name>host:/path</name><status>Connected</status><totalNumberOfEntries/>
 *   <numberOfEntriesInHealPending/><numberOfEntriesInSplitBrain/>
 *   <numberOfEntriesPossiblyHealing/></brick>...</bricks></healInfo><opRet/>...
 *   A brick that cannot be reached has a status such as "Transport endpoint is
 *   not connected" and "-" for the counts.
 *
 * heal info split-brain --xml: the same, with <file gfid="..">path</file>
 *   elements and one <numberOfEntries/> per brick.
 */
import { cliPayload } from './cli.js';
import { child, childText, childrenNamed } from './xml.js';

export interface BrickStatus {
  /** `host:/path` */
  name: string;
  hostname: string;
  path: string;
  peerId: string;
  online: boolean;
  port: number | null;
  pid: number | null;
  sizeTotal?: number;
  sizeFree?: number;
  device?: string;
  fsName?: string;
}

export interface DaemonStatus {
  /** "Self-heal Daemon", "NFS Server", ... */
  name: string;
  /** Host it runs on ("localhost" for the node that answered). */
  host: string;
  online: boolean;
}

export interface VolumeStatus {
  volume: string;
  started: boolean;
  bricks: BrickStatus[];
  daemons: DaemonStatus[];
}

function intOrNull(s: string | undefined): number | null {
  if (s === undefined || !/^-?\d+$/.test(s)) return null;
  const n = Number(s);
  return n < 0 ? null : n;
}

function optNum(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses `gluster volume status VOL [detail] --xml` for one volume.
 * A volume that is not started is `{ started: false, bricks: [] }`.
 */
export function parseVolumeStatusXml(stdout: string, volume: string): VolumeStatus {
  let payload;
  try {
    payload = cliPayload(stdout, 'volStatus');
  } catch (e) {
    if (e instanceof Error && /is not started/i.test(e.message)) return { volume, started: false, bricks: [], daemons: [] };
    throw e;
  }
  const vol = childrenNamed(child(payload, 'volumes'), 'volume').find((v) => childText(v, 'volName') === volume);
  if (!vol) return { volume, started: false, bricks: [], daemons: [] };
  const bricks: BrickStatus[] = [];
  const daemons: DaemonStatus[] = [];
  for (const n of childrenNamed(vol, 'node')) {
    const hostname = childText(n, 'hostname') ?? '';
    const path = childText(n, 'path') ?? '';
    const online = childText(n, 'status') === '1';
    if (path.startsWith('/')) {
      const b: BrickStatus = {
        name: `${hostname}:${path}`,
        hostname,
        path,
        peerId: childText(n, 'peerid') ?? '',
        online,
        port: intOrNull(childText(child(n, 'ports'), 'tcp') ?? childText(n, 'port')),
        pid: intOrNull(childText(n, 'pid')),
      };
      // Only `detail` output has these.
      const sizeTotal = optNum(childText(n, 'sizeTotal'));
      const sizeFree = optNum(childText(n, 'sizeFree'));
      const device = childText(n, 'device');
      const fsName = childText(n, 'fsName');
      if (sizeTotal !== undefined) b.sizeTotal = sizeTotal;
      if (sizeFree !== undefined) b.sizeFree = sizeFree;
      if (device !== undefined) b.device = device;
      if (fsName !== undefined) b.fsName = fsName;
      bricks.push(b);
    } else {
      daemons.push({ name: hostname, host: path, online });
    }
  }
  return { volume, started: true, bricks, daemons };
}

// ---------------------------------------------------------------------------
// Heal

export interface BrickHealSummary {
  /** `host:/path` */
  brick: string;
  /** "Connected" when the brick answered; otherwise the error (e.g. "Transport endpoint is not connected"). */
  status: string;
  connected: boolean;
  /** null when the brick could not be read ("-"). */
  total: number | null;
  pending: number | null;
  splitBrain: number | null;
  possiblyHealing: number | null;
}

function count(s: string | undefined): number | null {
  if (s === undefined || !/^\d+$/.test(s.trim())) return null;
  return Number(s.trim());
}

/** Parses `gluster volume heal VOL info summary --xml`. */
export function parseHealSummaryXml(stdout: string): BrickHealSummary[] {
  const bricks = child(cliPayload(stdout, 'healInfo'), 'bricks');
  return childrenNamed(bricks, 'brick').map((b) => {
    const status = childText(b, 'status') ?? '';
    return {
      brick: childText(b, 'name') ?? '',
      status,
      connected: status === 'Connected',
      total: count(childText(b, 'totalNumberOfEntries')),
      pending: count(childText(b, 'numberOfEntriesInHealPending')),
      splitBrain: count(childText(b, 'numberOfEntriesInSplitBrain')),
      possiblyHealing: count(childText(b, 'numberOfEntriesPossiblyHealing')),
    };
  });
}

export interface BrickSplitBrain {
  brick: string;
  status: string;
  connected: boolean;
  /** null when the brick could not be read. */
  entries: number | null;
  /** Paths (or <gfid:...> when the path is unknown) listed as in split brain. */
  files: string[];
}

/** Parses `gluster volume heal VOL info split-brain --xml`. */
export function parseSplitBrainXml(stdout: string): BrickSplitBrain[] {
  const bricks = child(cliPayload(stdout, 'healInfo'), 'bricks');
  return childrenNamed(bricks, 'brick').map((b) => {
    const status = childText(b, 'status') ?? '';
    return {
      brick: childText(b, 'name') ?? '',
      status,
      connected: status === 'Connected',
      entries: count(childText(b, 'numberOfEntries')),
      files: childrenNamed(b, 'file').map((f) => f.text),
    };
  });
}

