/**
 * verify-ha's storage checks, computed from parsed facts.
 *
 * One fault should fail one check, so the table points at the cause: when a
 * brick is down, heal entries pile up on the other bricks (that is how
 * replication remembers what the down brick missed) and the down brick cannot
 * be asked for its heal count. Those follow-on signals are warnings while the
 * brick is down; the brick check carries the failure. Likewise a brick whose
 * host's glusterd is unreachable is not reported by `volume status`; the peer
 * check fails and the brick is shown as unknown. Split brain always fails.
 */
import type { CheckResult } from '../../check.js';
import { type BrickSpec, type GlusterVolumeModel, QUORUM_OPTIONS, allBricks, brickName, sameBrickPath } from './model.js';
import { findGlusterMount, type MountEntry, type WriteProbeResult } from './client.js';
import { type PeerInfo, type VolumeInfo, normalizeOptionValue, peerKnownAs } from './volume.js';
import type { BrickHealSummary, BrickSplitBrain, VolumeStatus } from './status.js';
import { brickRunsWithoutPort, brickServing, brickStatusOf, volumeStartForceCommand } from './bricks.js';

export const STORAGE_LAYER = 'storage';

/** Share of a brick filesystem in use above which verify-ha warns. */
export const BRICK_DISK_WARN_RATIO = 0.9;

function result(host: string, check: string, expected: string, observed: string, status: CheckResult['status'], hint?: string): CheckResult {
  const r: CheckResult = { layer: STORAGE_LAYER, host, check, expected, observed, status };
  if (hint !== undefined && status !== 'ok') r.hint = hint;
  return r;
}

/**
 * The pool as one storage host sees it: every other member present,
 * "Peer in Cluster" and connected.
 */
export function peerChecks(
  observer: { host: string; address: string },
  members: ReadonlyArray<{ host: string; address: string }>,
  pool: readonly PeerInfo[],
): CheckResult[] {
  const out: CheckResult[] = [];
  for (const m of members) {
    if (m.host === observer.host) continue;
    const expected = 'Peer in Cluster (Connected)';
    const peer = pool.find((p) => peerKnownAs(p, m.address) || peerKnownAs(p, m.host));
    const check = `gluster peer ${m.host}`;
    if (!peer) {
      out.push(result(observer.host, check, expected, 'not in the pool', 'fail', `Run "gluster peer probe ${m.address}" from ${observer.host}, or re-run migrate-storage.`));
      continue;
    }
    const observed = `${peer.state} (${peer.connected ? 'Connected' : 'Disconnected'})`;
    const ok = peer.connected && peer.state === 'Peer in Cluster';
    out.push(
      result(
        observer.host,
        check,
        expected,
        observed,
        ok ? 'ok' : 'fail',
        peer.connected ? `Peer ${m.host} is "${peer.state}": see gluster's peer rejection procedure.` : `Start glusterd on ${m.host} and check port 24007 between the hosts.`,
      ),
    );
  }
  return out;
}

/** Peers seen disconnected by `pool`: their bricks cannot be reported by volume status. */
export function disconnectedMembers(
  members: ReadonlyArray<{ host: string; address: string }>,
  pool: readonly PeerInfo[],
): Set<string> {
  const out = new Set<string>();
  for (const m of members) {
    const peer = pool.find((p) => peerKnownAs(p, m.address) || peerKnownAs(p, m.host));
    if (peer && !peer.connected) out.add(m.host);
  }
  return out;
}

/** Volume exists, is Started, and has the quorum options. */
export function volumeChecks(observer: string, model: GlusterVolumeModel, info: VolumeInfo | null): CheckResult[] {
  const vol = model.volume;
  if (!info) return [result(observer, `volume ${vol}`, 'exists, Started', 'does not exist', 'fail', 'Run migrate-storage to create it.')];
  const out: CheckResult[] = [
    result(observer, `volume ${vol}`, 'Started', info.status || 'unknown', info.status === 'Started' ? 'ok' : 'fail', `gluster volume start ${vol}`),
  ];
  for (const [key, want] of Object.entries(QUORUM_OPTIONS)) {
    const have = info.options[key];
    const ok = have !== undefined && normalizeOptionValue(have) === normalizeOptionValue(want);
    out.push(
      result(
        observer,
        `volume ${vol} ${key}`,
        want,
        have ?? '(not set)',
        ok ? 'ok' : 'fail',
        `gluster volume set ${vol} ${key} ${want}  (without it a partitioned replica can split brain)`,
      ),
    );
  }
  return out;
}

/**
 * Every brick of the model online, and its filesystem not nearly full (when
 * the facts come from `volume status ... detail`). `unreachableHosts` are
 * brick hosts whose glusterd is known to be disconnected (see `disconnectedMembers`).
 */
export function brickChecks(
  observer: string,
  model: GlusterVolumeModel,
  status: VolumeStatus,
  unreachableHosts: ReadonlySet<string> = new Set(),
): CheckResult[] {
  const out: CheckResult[] = [];
  for (const b of allBricks(model)) {
    const check = `brick ${brickName(b)}`;
    if (!status.started) {
      out.push(result(observer, check, 'online', 'volume not started', 'warn', 'See the volume check.'));
      continue;
    }
    const s = brickStatusOf(b, status);
    if (!s) {
      if (unreachableHosts.has(b.host)) {
        out.push(result(observer, check, 'online', `unknown: glusterd on ${b.host} is not connected`, 'warn', 'See the peer check.'));
      } else {
        out.push(result(observer, check, 'online', 'not listed by volume status', 'fail', `Check that ${brickName(b)} belongs to volume ${model.volume}.`));
      }
      continue;
    }
    // The GlusterFS 10.3 restart race (see bricks.ts): online, pid set, port N/A.
    // Connected clients keep using it, but heal info and every new mount cannot
    // reach it. Restarting glusterd does not fix it (it adopts the same process);
    // stopping that brick process and "volume start force" does.
    const unregistered = brickRunsWithoutPort(s);
    const startForce = volumeStartForceCommand(model.volume);
    out.push(
      result(
        observer,
        check,
        'online',
        s.online ? `online (pid ${s.pid ?? '?'}, port ${s.port ?? 'N/A'})` : 'offline',
        s.online && !unregistered ? 'ok' : 'fail',
        unregistered
          ? `The brick process on ${b.host} runs but glusterd has no port for it, so heal and new mounts cannot reach it (GlusterFS restart race). Run migrate-storage --mode apply, or on ${b.host}: kill ${s.pid ?? 'the brick\'s glusterfsd'} (and any other glusterfsd of ${b.path}: pgrep -af glusterfsd), then "${startForce}".`
          : `The brick process on ${b.host} is down: run migrate-storage --mode apply, or "${startForce}" (restarts missing brick processes); see /var/log/glusterfs/bricks/ on ${b.host}.`,
      ),
    );
    if (s.sizeTotal !== undefined && s.sizeFree !== undefined && s.sizeTotal > 0) {
      const used = 1 - s.sizeFree / s.sizeTotal;
      const pct = `${Math.round(used * 100)}% used`;
      out.push(
        result(
          b.host,
          `brick ${brickName(b)} disk`,
          `< ${Math.round(BRICK_DISK_WARN_RATIO * 100)}% used`,
          pct,
          used >= BRICK_DISK_WARN_RATIO ? 'warn' : 'ok',
          `Grow the filesystem under ${b.path} (${s.device ?? 'its device'}) before it fills: a full brick stops writes.`,
        ),
      );
    }
  }
  return out;
}

/**
 * Bricks of the model that `status` shows offline, online without a port
 * (heal cannot reach those either), or does not list.
 */
export function bricksNotOnline(model: GlusterVolumeModel, status: VolumeStatus): string[] {
  return allBricks(model)
    .filter((b) => !status.started || !brickServing(brickStatusOf(b, status)))
    .map(brickName);
}

function healBrickMatches(name: string, b: BrickSpec): boolean {
  const i = name.indexOf(':/');
  if (i === -1) return false;
  const host = name.slice(0, i);
  return (host === b.address || host === b.host) && sameBrickPath(name.slice(i + 1), b.path);
}

/**
 * Heal backlog per brick: nothing pending and nothing in split brain.
 * `downBricks` (names as `address:path`) are bricks known to be offline:
 * while any is down, pending entries elsewhere are expected and only warn.
 */
export function healChecks(
  observer: string,
  model: GlusterVolumeModel,
  heal: readonly BrickHealSummary[],
  downBricks: readonly string[] = [],
  splitBrain?: readonly BrickSplitBrain[],
): CheckResult[] {
  const out: CheckResult[] = [];
  const vol = model.volume;
  const someDown = downBricks.length > 0;
  for (const b of allBricks(model)) {
    const name = brickName(b);
    const isDown = downBricks.includes(name);
    const h = heal.find((x) => healBrickMatches(x.brick, b));
    if (!h || !h.connected || h.pending === null || h.splitBrain === null) {
      const why = !h ? 'not listed by heal info' : `not readable: ${h.status || 'no status'}`;
      out.push(result(observer, `heal ${name}`, '0 pending, 0 split-brain', why, isDown ? 'warn' : 'fail', isDown ? 'The brick is down or has no port: see the brick check.' : `gluster volume heal ${vol} info summary`));
      continue;
    }
    out.push(
      result(
        observer,
        `heal pending ${name}`,
        '0',
        String(h.pending),
        h.pending === 0 ? 'ok' : someDown ? 'warn' : 'fail',
        someDown
          ? `Expected while ${downBricks.join(', ')} is down; the self-heal daemon copies these once it is back.`
          : `Self-heal has not caught up: run "gluster volume heal ${vol}" and watch "gluster volume heal ${vol} info summary"; entries that never drain need a look at glustershd.log.`,
      ),
    );
    const sbFiles = splitBrain?.find((x) => healBrickMatches(x.brick, b));
    const sb = Math.max(h.splitBrain, sbFiles?.entries ?? 0);
    out.push(
      result(
        observer,
        `split-brain ${name}`,
        '0',
        sb === 0 ? '0' : `${sb}${sbFiles && sbFiles.files.length > 0 ? `: ${sbFiles.files.slice(0, 5).join(', ')}${sbFiles.files.length > 5 ? ', ...' : ''}` : ''}`,
        sb === 0 ? 'ok' : 'fail',
        `Resolve each file: "gluster volume heal ${vol} split-brain latest-mtime <file>" (or bigger-file / source-brick), after deciding which copy is right.`,
      ),
    );
    if ((h.possiblyHealing ?? 0) > 0) {
      out.push(
        result(observer, `heal in progress ${name}`, '0', String(h.possiblyHealing), 'warn', 'Entries being written or healed right now; re-run if this persists.'),
      );
    }
  }
  return out;
}

/** The client mount is the volume over FUSE, and writable (`probe`, when the probe ran). */
export function mountChecks(
  host: string,
  spec: { volume: string; mountPoint: string },
  mounts: readonly MountEntry[],
  probe?: WriteProbeResult,
): CheckResult[] {
  const found = findGlusterMount(mounts, spec.mountPoint, spec.volume);
  const atPoint = mounts.filter((m) => m.mountPoint === spec.mountPoint).pop();
  const out: CheckResult[] = [
    result(
      host,
      `mount ${spec.mountPoint}`,
      `fuse.glusterfs ${spec.volume}`,
      found ? `fuse.glusterfs ${found.source}` : atPoint ? `${atPoint.fsType} ${atPoint.source}` : 'not mounted',
      found ? 'ok' : 'fail',
      `mount ${spec.mountPoint}  (the fstab entry has _netdev; see /var/log/glusterfs/ on ${host})`,
    ),
  ];
  if (found && probe) {
    out.push(
      result(host, `mount ${spec.mountPoint} writable`, 'write probe ok', probe.ok ? 'ok' : probe.detail, probe.ok ? 'ok' : 'fail', 'Check client quorum (two bricks reachable) and the mount log.'),
    );
  }
  return out;
}
