/**
 * Volume and peer state: the create command, parsers for `volume info --xml`,
 * `peer status` / `pool list` (XML and the human form), and the desired-vs-
 * actual diff that becomes the plan.
 *
 * The diff never changes a volume's shape on its own. Growing replica 2 into
 * replica 3 (or adding an arbiter) is an `add-brick` change marked
 * `requiresApproval`: gluster then heals a full copy onto the new brick, which
 * loads the other bricks for hours on a big volume, and the operator must
 * choose when. Bricks that are in the volume but not in the inventory, or a
 * volume of another type, are reported as `manual` and never touched.
 */
import { childText, childrenNamed, child, type XmlElement } from './xml.js';
import { GlusterCliError, cliPayload, glusterCommands, joinArgs } from './cli.js';
import {
  type BrickMountFact,
  type BrickSpec,
  type GlusterVolumeModel,
  allBricks,
  brickName,
  bricksOnRootFilesystem,
  desiredOptions,
  sameBrickPath,
  type DesiredOptionsExtras,
} from './model.js';

// ---------------------------------------------------------------------------
// Create

/**
 * `gluster volume create VOL replica 3 [arbiter 1] a:/p b:/p c:/p [force]`.
 *
 * `force` is added only when the operator allowed bricks on the root
 * filesystem and the facts show one there: that is the one gluster check we
 * deliberately override. It would also silence other refusals (brick is a
 * mount point, brick already part of a volume), and those we want to see, so
 * it is never added otherwise; `validateVolumeModel` runs first.
 */
export function createVolumeCommand(model: GlusterVolumeModel, mounts: readonly BrickMountFact[] = []): string {
  const words = ['gluster', '--mode=script', 'volume', 'create', model.volume, 'replica', '3'];
  if (model.arbiter) words.push('arbiter', '1');
  words.push('transport', 'tcp');
  for (const b of allBricks(model)) words.push(brickName(b));
  if (model.allowRootFilesystem && bricksOnRootFilesystem(model, mounts).length > 0) words.push('force');
  return joinArgs(words);
}

// ---------------------------------------------------------------------------
// volume info --xml

export interface VolumeInfoBrick {
  /** `address:path` as gluster prints it. */
  name: string;
  address: string;
  path: string;
  hostUuid: string;
  isArbiter: boolean;
}

export interface VolumeInfo {
  name: string;
  id: string;
  /** Created | Started | Stopped */
  status: string;
  /** Replicate | Distributed-Replicate | Distribute | Disperse | ... */
  type: string;
  brickCount: number;
  replicaCount: number;
  arbiterCount: number;
  distCount: number;
  bricks: VolumeInfoBrick[];
  /** Options set on the volume (gluster lists only those changed from the default). */
  options: Record<string, string>;
}

function splitBrickName(name: string): { address: string; path: string } {
  // An IPv6 address would contain colons; gluster brick paths start with "/", so split at ":/".
  const i = name.indexOf(':/');
  return i === -1 ? { address: name, path: '' } : { address: name.slice(0, i), path: name.slice(i + 1) };
}

function num(s: string | undefined): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}

function volumeFromXml(v: XmlElement): VolumeInfo {
  const bricks = childrenNamed(child(v, 'bricks'), 'brick').map((b): VolumeInfoBrick => {
    const name = childText(b, 'name') ?? b.text.trim();
    return {
      name,
      ...splitBrickName(name),
      hostUuid: childText(b, 'hostUuid') ?? b.attrs['uuid'] ?? '',
      isArbiter: childText(b, 'isArbiter') === '1',
    };
  });
  const options: Record<string, string> = {};
  for (const o of childrenNamed(child(v, 'options'), 'option')) {
    const k = childText(o, 'name');
    if (k) options[k] = childText(o, 'value') ?? '';
  }
  return {
    name: childText(v, 'name') ?? '',
    id: childText(v, 'id') ?? '',
    status: childText(v, 'statusStr') ?? '',
    type: childText(v, 'typeStr') ?? '',
    brickCount: num(childText(v, 'brickCount')),
    replicaCount: num(childText(v, 'replicaCount')),
    arbiterCount: num(childText(v, 'arbiterCount')),
    distCount: num(childText(v, 'distCount')),
    bricks,
    options,
  };
}

/**
 * Parses `gluster volume info [VOL] --xml`. Returns every volume listed; use
 * `findVolume` for one. A volume that does not exist is an empty list, not an
 * error (gluster answers opRet -1 "Volume X does not exist").
 */
export function parseVolumeInfoXml(stdout: string): VolumeInfo[] {
  let volInfo: XmlElement | undefined;
  try {
    volInfo = cliPayload(stdout, 'volInfo');
  } catch (e) {
    if (e instanceof GlusterCliError && e.kind === 'op-failed' && /does not exist/i.test(e.opErrstr)) return [];
    throw e;
  }
  return childrenNamed(child(volInfo, 'volumes'), 'volume').map(volumeFromXml);
}

export function findVolume(volumes: readonly VolumeInfo[], name: string): VolumeInfo | null {
  return volumes.find((v) => v.name === name) ?? null;
}

// ---------------------------------------------------------------------------
// Peers

export interface PeerInfo {
  uuid: string;
  /** The name the peer was probed by; `localhost` for the node itself in `pool list`. */
  hostname: string;
  /** Every name/address gluster knows the peer by (probe name plus "Other names"). */
  hostnames: string[];
  connected: boolean;
  /** "Peer in Cluster", "Accepted peer request", "Peer Rejected", ... */
  state: string;
}

function peerFromXml(p: XmlElement): PeerInfo {
  const hostname = childText(p, 'hostname') ?? '';
  const names = childrenNamed(child(p, 'hostnames'), 'hostname').map((h) => h.text.trim());
  return {
    uuid: childText(p, 'uuid') ?? '',
    hostname,
    hostnames: [...new Set([hostname, ...names].filter((n) => n !== ''))],
    connected: childText(p, 'connected') === '1',
    state: childText(p, 'stateStr') ?? '',
  };
}

/** Parses `gluster peer status --xml` or `gluster pool list --xml` (same format; pool list adds localhost). */
export function parsePeersXml(stdout: string): PeerInfo[] {
  return childrenNamed(cliPayload(stdout, 'peerStatus'), 'peer').map(peerFromXml);
}

export function peerKnownAs(peer: PeerInfo, address: string): boolean {
  return peer.hostnames.includes(address) || peer.hostname === address;
}

// ---------------------------------------------------------------------------
// Desired vs actual

export type VolumeChange =
  | { action: 'peer-probe'; host: string; address: string; command: string; summary: string }
  | { action: 'create'; command: string; summary: string; bricks: string[] }
  | { action: 'set-option'; option: string; from: string | null; to: string; command: string; summary: string }
  | { action: 'start'; command: string; summary: string }
  | {
      action: 'add-brick';
      command: string;
      summary: string;
      bricks: string[];
      /** Never applied by a plain apply: the operator approves it explicitly (a full heal follows). */
      requiresApproval: true;
      detail: string;
    }
  | { action: 'manual'; summary: string; detail: string };

const BOOLEAN_WORDS: Record<string, string> = {
  on: 'on',
  yes: 'on',
  true: 'on',
  enable: 'on',
  '1': 'on',
  off: 'off',
  no: 'off',
  false: 'off',
  disable: 'off',
  '0': 'off',
};

/**
 * Gluster stores an option as typed: `on`, `enable` and `yes` all mean the same
 * to it. Compared case-insensitively with boolean spellings folded, so a
 * hand-set `enable` is not "changed" to `on` on every run.
 */
export function normalizeOptionValue(value: string): string {
  const v = value.trim().toLowerCase();
  return BOOLEAN_WORDS[v] ?? v;
}

export function optionChanges(volume: string, desired: Record<string, string>, actual: Record<string, string>): VolumeChange[] {
  const out: VolumeChange[] = [];
  for (const key of Object.keys(desired).sort()) {
    const want = desired[key]!;
    const have = actual[key];
    if (have !== undefined && normalizeOptionValue(have) === normalizeOptionValue(want)) continue;
    out.push({
      action: 'set-option',
      option: key,
      from: have ?? null,
      to: want,
      command: glusterCommands.volumeSet(volume, key, want),
      summary: `set ${key} ${have === undefined ? '(default)' : have} -> ${want} on volume ${volume}`,
    });
  }
  return out;
}

function brickMatches(spec: BrickSpec, actual: VolumeInfoBrick): boolean {
  return sameBrickPath(spec.path, actual.path) && (actual.address === spec.address || actual.address === spec.host);
}

export interface DiffVolumeOptions extends DesiredOptionsExtras {
  mounts?: readonly BrickMountFact[];
}

/**
 * The changes that turn `actual` (null: no such volume) into `desired`.
 * Order is the apply order: create, options (before start, so clients never
 * see the volume without quorum), start. Returns [] when nothing differs.
 */
export function diffVolume(desired: GlusterVolumeModel, actual: VolumeInfo | null, options: DiffVolumeOptions = {}): VolumeChange[] {
  const wantOptions = desiredOptions(desired, options);
  const vol = desired.volume;
  if (actual === null) {
    const bricks = allBricks(desired).map(brickName);
    return [
      {
        action: 'create',
        command: createVolumeCommand(desired, options.mounts),
        summary: `create volume ${vol}: replica 3${desired.arbiter ? ' arbiter 1' : ''} on ${bricks.join(', ')}`,
        bricks,
      },
      ...optionChanges(vol, wantOptions, {}),
      { action: 'start', command: glusterCommands.volumeStart(vol), summary: `start volume ${vol}` },
    ];
  }

  const changes: VolumeChange[] = [];
  if (actual.type !== 'Replicate') {
    return [
      {
        action: 'manual',
        summary: `volume ${vol} is of type ${actual.type || 'unknown'}, not Replicate`,
        detail:
          `lms-ha manages a single replica-3 (or 2 + arbiter) volume and will not convert a ${actual.type} volume. ` +
          'Migrate its data to a new volume with another name, or fix the volume by hand and re-plan.',
      },
    ];
  }

  const wanted = allBricks(desired);
  const unknown = actual.bricks.filter((a) => !wanted.some((w) => brickMatches(w, a)));
  const missing = wanted.filter((w) => !actual.bricks.some((a) => brickMatches(w, a)));
  // A brick at the right place but with the wrong role (arbiter vs data) means
  // the volume's shape differs from the inventory's; that is never "fixed" here.
  const roleMismatch = actual.bricks.filter((a) => {
    const w = wanted.find((x) => brickMatches(x, a));
    return w !== undefined && (w === desired.arbiter) !== a.isArbiter;
  });

  if (roleMismatch.length > 0) {
    changes.push({
      action: 'manual',
      summary: `volume ${vol}: ${roleMismatch
        .map((b) => `${b.name} is ${b.isArbiter ? 'an arbiter' : 'a data brick'} but the inventory says ${b.isArbiter ? 'data' : 'arbiter'}`)
        .join('; ')}`,
      detail:
        'An arbiter brick holds no file data, so it cannot be turned into a data brick (or back) in place. ' +
        'Correct the inventory to match the volume, or rebuild the volume by hand.',
    });
  } else if (unknown.length > 0) {
    changes.push({
      action: 'manual',
      summary: `volume ${vol} has bricks the inventory does not list: ${unknown.map((b) => b.name).join(', ')}`,
      detail:
        'lms-ha never removes or replaces bricks by itself. If a host was replaced, run ' +
        `"gluster volume replace-brick ${vol} OLD NEW commit force" and wait for heal; otherwise correct the inventory.`,
    });
  } else if (missing.length > 0) {
    const isReplica2 = actual.replicaCount === 2 && actual.arbiterCount === 0 && actual.bricks.length === 2;
    if (isReplica2 && missing.length === 1) {
      const add = missing[0]!;
      const asArbiter = add === desired.arbiter;
      const words = ['gluster', '--mode=script', 'volume', 'add-brick', vol, 'replica', '3'];
      if (asArbiter) words.push('arbiter', '1');
      words.push(brickName(add));
      changes.push({
        action: 'add-brick',
        command: joinArgs(words),
        summary: `add ${asArbiter ? 'arbiter ' : ''}brick ${brickName(add)} to ${vol}: replica 2 -> replica 3${asArbiter ? ' arbiter 1' : ''}`,
        bricks: [brickName(add)],
        requiresApproval: true,
        detail:
          `Volume ${vol} is plain replica 2, which can split brain. Adding ${brickName(add)} makes it ` +
          `${asArbiter ? 'replica 2 + arbiter' : 'replica 3'}; gluster then heals ${asArbiter ? 'the metadata' : 'a full copy'} ` +
          'onto the new brick, which loads the existing bricks until "heal info" shows 0 entries. Approve this change explicitly.',
      });
    } else {
      changes.push({
        action: 'manual',
        summary: `volume ${vol} lacks bricks ${missing.map(brickName).join(', ')} (it has ${actual.bricks.map((b) => b.name).join(', ')})`,
        detail:
          'Changing the replica count or layout of an existing volume is not automated. Plan the add-brick by hand ' +
          '(one brick per step, waiting for heal), or correct the inventory.',
      });
    }
  }

  changes.push(...optionChanges(vol, wantOptions, actual.options));
  if (actual.status !== 'Started') {
    changes.push({ action: 'start', command: glusterCommands.volumeStart(vol), summary: `start volume ${vol} (now ${actual.status || 'unknown'})` });
  }
  return changes;
}

/**
 * Peer probes needed so that every brick host is in the pool, as seen from
 * `self` (the host the gluster commands run on, which `pool list` calls
 * localhost). A peer present but Rejected cannot be fixed by probing: manual.
 */
export function diffPeers(
  self: { host: string; address: string },
  members: ReadonlyArray<{ host: string; address: string }>,
  pool: readonly PeerInfo[],
): VolumeChange[] {
  const out: VolumeChange[] = [];
  const seen = new Set<string>();
  for (const m of members) {
    if (m.host === self.host || m.address === self.address || seen.has(m.address)) continue;
    seen.add(m.address);
    const peer = pool.find((p) => peerKnownAs(p, m.address) || peerKnownAs(p, m.host));
    if (!peer) {
      out.push({
        action: 'peer-probe',
        host: m.host,
        address: m.address,
        command: glusterCommands.peerProbe(m.address),
        summary: `probe peer ${m.host} (${m.address}) from ${self.host}`,
      });
    } else if (/rejected/i.test(peer.state)) {
      out.push({
        action: 'manual',
        summary: `peer ${m.host} (${m.address}) is in state "${peer.state}"`,
        detail:
          'A rejected peer has a volume configuration that conflicts with the pool. On that host: stop glusterd, keep ' +
          '/var/lib/glusterd/glusterd.info, remove the rest of /var/lib/glusterd, start glusterd, probe it again from a good peer.',
      });
    }
  }
  return out;
}
