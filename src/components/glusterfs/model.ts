/**
 * The GlusterFS volume as lms-ha wants it, and the checks that refuse shapes
 * that lose data. The lead maps the inventory onto `GlusterVolumeModel`; every
 * function here is pure.
 *
 * Shapes accepted: one replica set of three data bricks (replica 3), or two
 * data bricks plus an arbiter brick (replica 3 arbiter 1, shown by gluster as
 * "1 x (2 + 1) = 3"). Both keep a majority when any one host is lost, so
 * client quorum (`cluster.quorum-type auto`) can refuse writes on the minority
 * side instead of letting two sides diverge. Plain replica 2 cannot: with one
 * brick gone the survivor either stops writes (quorum) or accepts them alone
 * (split brain on return). The gluster CLI itself warns "Replica 2 volumes are
 * prone to split-brain. Use Arbiter or Replica 3 to avoid this."
 */
import { DeployError } from '../../errors.js';

export interface BrickSpec {
  /** Inventory name of the host. */
  host: string;
  /** What gluster knows the host as: the address or name used in `peer probe` (e.g. 10.0.0.11, moodle1). */
  address: string;
  /** Absolute directory on the host, a sub-directory of a dedicated mount (e.g. /storage/brick). */
  path: string;
}

export interface GlusterVolumeModel {
  volume: string;
  /** Data bricks in replica-set order: three, or two when `arbiter` is set. */
  bricks: BrickSpec[];
  /** Holds only metadata (file names, xattrs), so it can be a small disk or a third, lighter host. */
  arbiter?: BrickSpec;
  /** Volume options wanted on top of gluster's defaults; `desiredOptions` adds the safety ones. */
  options: Record<string, string>;
  /**
   * Explicitly allow bricks on the root filesystem. Gluster refuses this without
   * `force`, and so do we: a full root filesystem stops the whole host, not just the volume.
   */
  allowRootFilesystem?: boolean;
}

/** Where a brick path lives, as the fact gatherer saw it (see `brickMountFactCommand`). */
export interface BrickMountFact {
  host: string;
  path: string;
  /** Mount point of the filesystem holding the path (or its nearest existing ancestor). */
  mountPoint: string;
  source?: string;
  fsType?: string;
}

/**
 * Options every lms-ha volume gets unless the model overrides them.
 *
 * - `cluster.quorum-type auto`: a client writes only while it sees a majority
 *   of the replica set (for replica 3: two bricks; with an arbiter: two of the
 *   three including a data brick). This is what prevents split brain.
 * - `cluster.server-quorum-type server`: glusterd stops the bricks of a peer
 *   that lost contact with the majority of the pool, so an isolated host does
 *   not keep serving stale data to its local clients.
 * - `network.ping-timeout 20`: how long a client waits for a silent brick host
 *   before declaring it down. The default of 42 s freezes every PHP request
 *   touching moodledata for 42 s when a host dies hard (a clean stop closes the
 *   sockets and is seen at once). Much lower is not safe either: reconnecting
 *   re-opens every fd and re-acquires locks, and a loaded brick that misses
 *   pings for a few seconds would be dropped and healed needlessly. 20 s is the
 *   value upstream's own `virt` option group uses for VM images on replica 3.
 */
/** glusterd's management port: peers and clients talk to it, and it listens once glusterd can be asked. */
export const GLUSTERD_PORT = 24007;

export const DEFAULT_VOLUME_OPTIONS: Readonly<Record<string, string>> = {
  'cluster.quorum-type': 'auto',
  'cluster.server-quorum-type': 'server',
  'network.ping-timeout': '20',
};

/** The two options verify-ha insists on; without them the replica shape alone does not prevent split brain. */
export const QUORUM_OPTIONS: Readonly<Record<string, string>> = {
  'cluster.quorum-type': 'auto',
  'cluster.server-quorum-type': 'server',
};

export interface DesiredOptionsExtras {
  /**
   * Owner of the volume root (the mount point as clients see it), e.g. www-data = 33/33.
   * Set as `storage.owner-uid/gid` so every brick root agrees and it survives remounts.
   */
  rootOwner?: { uid: number; gid: number };
  /**
   * Restrict which addresses may mount the volume (`auth.allow`). Opt-in: a
   * wrong list makes clients fail to mount. Brick hosts and 127.0.0.1 are added,
   * since the self-heal daemon and local mounts connect from them.
   */
  allowedClients?: string[];
}

/** The full option map the volume should have: defaults, then extras, then the model's own options. */
export function desiredOptions(model: GlusterVolumeModel, extras: DesiredOptionsExtras = {}): Record<string, string> {
  const out: Record<string, string> = { ...DEFAULT_VOLUME_OPTIONS };
  if (extras.rootOwner) {
    out['storage.owner-uid'] = String(extras.rootOwner.uid);
    out['storage.owner-gid'] = String(extras.rootOwner.gid);
  }
  if (extras.allowedClients && extras.allowedClients.length > 0) {
    const all = new Set<string>(['127.0.0.1']);
    for (const b of allBricks(model)) all.add(b.address);
    for (const c of extras.allowedClients) all.add(c);
    out['auth.allow'] = [...all].join(',');
  }
  for (const [k, v] of Object.entries(model.options)) out[k] = v;
  return out;
}

/** Bricks in the order gluster wants them on the command line: data bricks, then the arbiter last. */
export function allBricks(model: GlusterVolumeModel): BrickSpec[] {
  return model.arbiter ? [...model.bricks, model.arbiter] : [...model.bricks];
}

export function brickName(b: Pick<BrickSpec, 'address' | 'path'>): string {
  return `${b.address}:${b.path}`;
}

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
// Gluster splits host:path on the first colon and rejects some characters;
// we accept only what is unambiguous on a command line and in a volfile.
const BRICK_PATH = /^\/[A-Za-z0-9._\/-]*$/;
const HOST_ADDRESS = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const OPTION_KEY = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/;

function normalizePath(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** Two brick paths name the same directory (gluster prints them without a trailing "/"). */
export function sameBrickPath(a: string, b: string): boolean {
  return normalizePath(a) === normalizePath(b);
}

/**
 * Refuses a model that would lose data or that gluster would reject. All
 * problems are collected into one `invalid-inventory` error.
 * `mounts`, when given, are the facts of where each brick path lives; without
 * them the root-filesystem check cannot run (plan mode gathers them first).
 */
export function validateVolumeModel(model: GlusterVolumeModel, mounts?: readonly BrickMountFact[]): void {
  const problems: string[] = [];
  if (!VOLUME_NAME.test(model.volume)) {
    problems.push(`volume name "${model.volume}" must be 1-64 letters, digits, "-" or "_", starting with a letter or digit`);
  }
  const dataCount = model.bricks.length;
  if (model.arbiter) {
    if (dataCount !== 2) {
      problems.push(`an arbiter volume needs exactly 2 data bricks plus the arbiter; got ${dataCount} data bricks`);
    }
  } else if (dataCount === 2) {
    problems.push(
      'plain replica 2 is refused: when one brick host is lost or cut off, the two copies can each take writes and ' +
        'come back in split brain. Add a third data brick (replica 3) or an arbiter brick on a third host (replica 2 + arbiter).',
    );
  } else if (dataCount !== 3) {
    problems.push(`a volume needs 3 data bricks (replica 3) or 2 data bricks plus an arbiter; got ${dataCount}`);
  }

  const bricks = allBricks(model);
  const seenNames = new Set<string>();
  const hosts = new Set<string>();
  for (const b of bricks) {
    if (!HOST_ADDRESS.test(b.address)) problems.push(`brick address "${b.address}" is not a host name or IPv4 address`);
    if (!BRICK_PATH.test(b.path) || b.path.split('/').some((seg) => seg === '..' || seg === '.')) {
      problems.push(`brick path "${b.path}" on ${b.host} must be absolute and use only letters, digits, ".", "_", "-" and "/"`);
    } else if (normalizePath(b.path) === '/') {
      problems.push(`brick path on ${b.host} cannot be "/"`);
    }
    const name = `${b.address}:${normalizePath(b.path)}`;
    if (seenNames.has(name)) problems.push(`brick ${name} is listed twice`);
    seenNames.add(name);
    if (hosts.has(b.host)) {
      problems.push(
        `host ${b.host} holds two bricks of the replica set: losing that one host would lose two copies; put each brick on its own host`,
      );
    }
    hosts.add(b.host);
  }

  for (const key of Object.keys(model.options)) {
    if (!OPTION_KEY.test(key)) problems.push(`volume option "${key}" is not of the form group.name (e.g. network.ping-timeout)`);
  }
  for (const [key, value] of Object.entries(model.options)) {
    if (value.trim() === '' || /[\n\r\0]/.test(value)) problems.push(`volume option ${key} has an empty or multi-line value`);
  }
  const quorum = model.options['cluster.quorum-type'];
  if (quorum !== undefined && quorum.toLowerCase() === 'none') {
    problems.push('cluster.quorum-type none disables client quorum and allows split brain; leave it at auto');
  }

  if (mounts) {
    for (const b of bricks) {
      const fact = mounts.find((m) => m.host === b.host && normalizePath(m.path) === normalizePath(b.path));
      if (!fact) continue;
      if (normalizePath(fact.mountPoint) === '/' && !model.allowRootFilesystem) {
        problems.push(
          `brick ${b.host}:${b.path} is on the root filesystem. A brick filling up would fill "/" and stop the host; ` +
            'mount a dedicated disk (e.g. /dev/sdb1 on /storage) and use a directory under it (e.g. /storage/brick), ' +
            'or set storage.force_root_brick: true in the inventory to accept the risk (allowRootFilesystem)',
        );
      }
      if (normalizePath(fact.mountPoint) === normalizePath(b.path) && normalizePath(b.path) !== '/') {
        problems.push(
          `brick ${b.host}:${b.path} is itself a mount point. If the disk is not mounted at boot, gluster would write ` +
            `into the empty directory underneath; use a sub-directory such as ${normalizePath(b.path)}/brick`,
        );
      }
    }
  }

  if (problems.length > 0) {
    throw new DeployError('invalid-inventory', `GlusterFS volume ${model.volume}: ${problems.join('; ')}`, {
      hint: 'Fix the storage section of the inventory; see the messages for what each problem risks.',
    });
  }
}

/** True when any brick sits on "/" according to the facts (and so `force` is needed on create). */
export function bricksOnRootFilesystem(model: GlusterVolumeModel, mounts: readonly BrickMountFact[]): BrickSpec[] {
  return allBricks(model).filter((b) =>
    mounts.some((m) => m.host === b.host && normalizePath(m.path) === normalizePath(b.path) && normalizePath(m.mountPoint) === '/'),
  );
}

/**
 * The fact command for one brick path: which filesystem holds it. The brick
 * directory may not exist yet, so it walks up to the nearest existing ancestor.
 * Output: findmnt's raw form, "TARGET SOURCE FSTYPE" with spaces inside a
 * field written as \x20 (see `parseBrickMountFact`).
 */
export function brickMountFactCommand(path: string): string {
  if (!BRICK_PATH.test(path)) throw new Error(`brick path "${path}" is not a plain absolute path`);
  // No user data in the script besides the validated path, which needs no quoting.
  return `p=${path}; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; findmnt -n -r -o TARGET,SOURCE,FSTYPE -T "$p"`;
}

export function parseBrickMountFact(host: string, path: string, stdout: string): BrickMountFact {
  const line = stdout.split('\n').find((l) => l.trim() !== '');
  if (!line) throw new Error(`findmnt printed nothing for ${path} on ${host}`);
  const [mountPoint, source, fsType] = line.trim().split(' ').map(unescapeFindmnt);
  return { host, path, mountPoint: mountPoint!, source, fsType };
}

function unescapeFindmnt(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}
