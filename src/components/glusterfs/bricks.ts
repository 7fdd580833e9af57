/**
 * Brick processes that glusterd runs badly, and their repair.
 *
 * Two faults a returning brick host shows on GlusterFS 10.3:
 *
 * - offline: `volume status` lists the brick with status 0 (its glusterfsd
 *   died or never started).
 * - online without a port: the brick process runs (status 1, a pid) but
 *   glusterd has no TCP port for it ("N/A"). Seen in the lab when glusterd
 *   starts on a brick host of a volume with server quorum: it starts the brick
 *   once from its restart path and again when quorum is regained, the second
 *   start finds the first ("discovered already-running brick") and the port
 *   the first one signed in with is lost (upstream gluster/glusterfs #1055,
 *   #3490). Clients already connected keep using it, but new mounts and
 *   `heal info` cannot reach it, so self-heal never completes. Restarting
 *   glusterd did not help in CI: the port stayed N/A (it adopts the same
 *   running process).
 *
 * The repair for both: stop every glusterfsd of that brick on its host (a
 * stray duplicate would hold the brick's port and its locks), then
 * `gluster volume start VOL force`, which starts the missing brick process
 * once; it signs in to glusterd with its port. Then wait until `volume status`
 * shows the port. Exercised in the lab on a killed brick and on a stray
 * glusterfsd named in the pidfile; the race itself did not recur there
 * (docs/migrate-storage.md has the counts).
 */
import { joinArgs } from './cli.js';
import { type BrickSpec, type GlusterVolumeModel, allBricks, brickName, sameBrickPath } from './model.js';
import type { BrickStatus, VolumeStatus } from './status.js';

/** A glusterfsd process on a host, from its command line. */
export interface BrickProcess {
  pid: number;
  /** `--brick-name`: the brick directory it serves. */
  brickPath: string;
  /** `--brick-port`: the port glusterd gave it when it started it (null if absent). */
  port: number | null;
}

/**
 * Prints one line per glusterfsd on the host: `pid TAB brick-path TAB port`,
 * read from /proc/PID/cmdline (NUL-separated, so paths with spaces survive).
 */
export function brickProcessesCommand(): string {
  return (
    'for p in $(pgrep -x glusterfsd); do ' +
    "tr '\\0' '\\n' < /proc/$p/cmdline 2>/dev/null | " +
    'awk -v pid="$p" \'prev=="--brick-name"{b=$0} prev=="--brick-port"{port=$0} {prev=$0} END {if (b!="") printf "%s\\t%s\\t%s\\n", pid, b, port}\'; ' +
    'done; true'
  );
}

export function parseBrickProcesses(stdout: string): BrickProcess[] {
  const out: BrickProcess[] = [];
  for (const line of stdout.split('\n')) {
    const [pid, brickPath, port] = line.split('\t');
    if (!pid || !/^\d+$/.test(pid) || !brickPath?.startsWith('/')) continue;
    out.push({ pid: Number(pid), brickPath, port: port && /^\d+$/.test(port.trim()) ? Number(port.trim()) : null });
  }
  return out;
}

/** The brick's row in `volume status`, matched by address or host name and path. */
export function brickStatusOf(b: BrickSpec, status: VolumeStatus): BrickStatus | undefined {
  return status.bricks.find((s) => (s.hostname === b.address || s.hostname === b.host) && sameBrickPath(s.path, b.path));
}

/** Online with a TCP port glusterd hands to clients. */
export function brickServing(s: BrickStatus | undefined): boolean {
  return s !== undefined && s.online && s.port !== null && s.port > 0;
}

/** Online, with a pid, but no port: the restart race above. */
export function brickRunsWithoutPort(s: BrickStatus | undefined): boolean {
  return s !== undefined && s.online && !(s.port !== null && s.port > 0);
}

/**
 * Stops every glusterfsd serving `path` on this host: TERM, up to 10 s for
 * them to exit, then KILL. Prints the pids it signalled.
 */
export function stopBrickProcessesCommand(path: string): string {
  // Validated by the model (no quotes or spaces), quoted anyway for awk and sh.
  const want = joinArgs([path]);
  const pids = `pids=; for p in $(pgrep -x glusterfsd); do tr '\\0' '\\n' < /proc/$p/cmdline 2>/dev/null | awk -v want=${want} 'prev=="--brick-name" && $0==want {f=1} {prev=$0} END {exit !f}' && pids="$pids $p"; done`;
  return [
    pids,
    'for p in $pids; do echo "TERM $p"; kill -TERM "$p" 2>/dev/null; done',
    `i=0; while [ $i -lt 20 ]; do ${pids}; [ -z "$pids" ] && break; sleep 0.5; i=$((i+1)); done`,
    'for p in $pids; do echo "KILL $p"; kill -KILL "$p" 2>/dev/null; done',
    'true',
  ].join('; ');
}

export interface BrickRepair {
  brick: BrickSpec;
  /** `address:path` */
  name: string;
  fault: 'offline' | 'no-port';
  /** The pid glusterd lists for it (no-port), null when offline. */
  pid: number | null;
  /** glusterfsd processes of this brick on its host that glusterd does not list. */
  strayPids: number[];
  summary: string;
  detail: string;
  /** Run on the brick's host, in order. */
  stopCommand: string;
  startCommand: string;
}

export function volumeStartForceCommand(volume: string): string {
  return joinArgs(['gluster', '--mode=script', 'volume', 'start', volume, 'force']);
}

/** `volume status` of one brick, for the wait after a repair. */
export function brickStatusCommand(volume: string, brick: Pick<BrickSpec, 'address' | 'path'>): string {
  return joinArgs(['gluster', '--mode=script', 'volume', 'status', volume, brickName(brick), '--xml']);
}

/**
 * The repairs a started volume needs: one per brick that `status` lists as
 * offline or as online without a port. Bricks it does not list (their host's
 * glusterd is down) are left to the glusterd start. `processes` are the
 * glusterfsd processes on each brick host (by inventory host name), when known.
 */
export function brickRepairs(
  model: GlusterVolumeModel,
  status: VolumeStatus,
  processes: ReadonlyMap<string, readonly BrickProcess[]> = new Map(),
): BrickRepair[] {
  if (!status.started) return [];
  const out: BrickRepair[] = [];
  for (const b of allBricks(model)) {
    const s = brickStatusOf(b, status);
    if (!s || brickServing(s)) continue;
    const name = brickName(b);
    const mine = (processes.get(b.host) ?? []).filter((p) => sameBrickPath(p.brickPath, b.path));
    const listedPid = s.online ? s.pid : null;
    const strayPids = mine.map((p) => p.pid).filter((pid) => pid !== listedPid);
    const fault = s.online ? 'no-port' : 'offline';
    const stop = stopBrickProcessesCommand(b.path);
    const start = volumeStartForceCommand(model.volume);
    const killed = [listedPid, ...strayPids].filter((p): p is number => p !== null);
    const stopWhat =
      killed.length === 0
        ? 'stop any glusterfsd of the brick on ' + b.host
        : `stop glusterfsd ${killed.length === 1 ? 'pid' : 'pids'} ${killed.join(', ')} on ${b.host}${strayPids.length > 0 ? ` (${strayPids.length === 1 ? 'a stray process' : 'stray processes'} glusterd does not list)` : ''}`;
    out.push({
      brick: b,
      name,
      fault,
      pid: listedPid,
      strayPids,
      summary:
        fault === 'no-port'
          ? `restart brick ${name}: running without a port (GlusterFS restart race)`
          : `start brick ${name}: offline`,
      detail: `${stopWhat}; ${start}; waits until volume status shows the brick online with a port`,
      stopCommand: stop,
      startCommand: start,
    });
  }
  return out;
}
