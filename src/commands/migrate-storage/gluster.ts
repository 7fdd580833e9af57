/**
 * migrate-storage's GlusterFS parts: the replicated volume on the storage
 * hosts (packages, glusterd, peers, volume, options, start), then the client
 * mounts on the web hosts (package, fstab entry, mount, owner and mode of the
 * volume root). Facts come from one script per host; the plan is computed
 * from them by the pure component code in src/components/glusterfs.
 */
import { DeployError } from '../../errors.js';
import { changeId, formatMode, type PlannedChange } from '../../engine/change.js';
import type { HostFacts as PlanHostFacts } from '../../engine/plan.js';
import { hostsWithRole, type Environment, type GlusterStorage, type Host } from '../../inventory/index.js';
import type { Logger } from '../../log.js';
import { shellQuote } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';
import {
  FSTAB,
  GLUSTER_CLIENT_PACKAGE,
  GLUSTER_SERVER_PACKAGE,
  parseClientFacts,
  parseStorageFacts,
  type ClientHostFacts,
  type StorageHostFacts,
} from '../../facts/gluster.js';
import { FACTS, readFact, type FactEntry } from '../../facts/registry.js';
import {
  allBricks,
  brickProcessesCommand,
  brickRepairs,
  brickRunsWithoutPort,
  brickServing,
  brickStatusCommand,
  brickStatusOf,
  isGlusterBusyMessage,
  isGlusterLockBusy,
  parseBrickProcesses,
  parseVolumeStatusXml,
  prepareBrickCommand,
  diffPeers,
  diffVolume,
  findGlusterMount,
  glusterCommands,
  parseMounts,
  parsePeersXml,
  peerKnownAs,
  upsertFstabEntry,
  validateVolumeModel,
  type BrickRepair,
  type BrickSpec,
  type GlusterMountSpec,
  type GlusterVolumeModel,
  type VolumeChange,
  type VolumeStatus,
  type BrickStatus,
  GLUSTERD_PORT,
} from '../../components/glusterfs/index.js';
import type { CommandContext } from '../context.js';
import type { MigrationPart, MigrationPartPlan } from './part.js';
import { glusterModelOf } from '../../components/glusterfs/inventory.js';
import { installPhase, packageChange } from '../../operations/packages.js';
import { startService } from '../../operations/service.js';
import { waitUntil, waitUpTo } from '../../operations/wait.js';

const GLUSTER_TIMEOUT_MS = 2 * 60_000;
/** How long a probed peer may take to show "Peer in Cluster (Connected)". */
const PEER_WAIT_MS = 60_000;
/**
 * A brick signs in with its port within a second or two of starting. One seen
 * online without a port is read again for up to this long before the plan
 * calls it stuck, so a plan made right after a glusterd start does not
 * restart a brick that was only starting.
 */
const BRICK_PORT_GRACE_MS = 15_000;
/** How long a repaired brick may take to show online with a port. */
const BRICK_REPAIR_WAIT_MS = 60_000;
/** How long to retry `volume status` while glusterd is busy with another operation. */
const STATUS_BUSY_WAIT_MS = 30_000;

/** The volume the inventory describes (verify-ha's reading of it), with root-filesystem bricks allowed only when forced. */
export function glusterVolumeOf(environment: Environment): { storage: GlusterStorage; model: GlusterVolumeModel; members: Host[] } | null {
  const v = glusterModelOf(environment);
  if (!v || environment.storage.kind !== 'glusterfs') return null;
  const storage = environment.storage;
  return { storage, model: { ...v.model, allowRootFilesystem: storage.force_root_brick }, members: v.members };
}

// ---------------------------------------------------------------------------
// Shared helpers

/**
 * apt-get install of `name` on each of `hosts`, one change per host (each
 * reviewed and reported on its own), run on all of them at once when the
 * first is applied. The host's own sources decide the version.
 */
export function packageChanges(hosts: readonly string[], name: string, why: string): PlannedChange[] {
  const phase = installPhase(new Map(hosts.map((h) => [h, [name]])));
  return hosts.map((host) => packageChange(host, name, phase, { summary: `install ${name} (${why})`, to: 'latest from the host package sources' }));
}

/** One registered fact read on each of `hosts` (all must answer): the connections and each host's output. */
async function readOnEach<A>(
  context: CommandContext,
  hosts: readonly Host[],
  fact: FactEntry<A>,
  args: A,
  purpose: string,
): Promise<{ remotes: Map<string, RemoteHost>; outputs: Map<string, string> }> {
  const remotes = new Map<string, RemoteHost>();
  for (const h of hosts) remotes.set(h.name, await context.host(h.name));
  const results = await context.forEachHost(hosts, (remote) => readFact(remote, 'migrate-storage', fact, args, { purpose, timeoutMs: 60_000, allowFailure: true }));
  const outputs = new Map<string, string>();
  results.forEach((r, i) => {
    if (!r.ok) throw r.error;
    outputs.set(hosts[i]!.name, r.value.stdout);
  });
  return { remotes, outputs };
}

function glusterFailed(host: RemoteHost, purpose: string, r: { code: number; stdout: string; stderr: string }): DeployError {
  const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ');
  return new DeployError('command-failed', `${host.name}: ${purpose} failed: ${why || `exit ${r.code}`}`, {
    host: host.name,
    hint: 'Run the command shown in the plan on that host to see gluster\'s full answer; "gluster volume status" and /var/log/glusterfs/glusterd.log say more.',
  });
}

async function runGluster(host: RemoteHost, command: string, purpose: string): Promise<string> {
  const r = await host.run(command, { purpose, timeoutMs: GLUSTER_TIMEOUT_MS, allowFailure: true });
  if (r.code !== 0) throw glusterFailed(host, purpose, r);
  return r.stdout;
}

// ---------------------------------------------------------------------------
// Volume part: facts

export interface GlusterGathered {
  remotes: Map<string, RemoteHost>;
  facts: Map<string, StorageHostFacts>;
  /** `volume status` of a started volume, as one member sees it; absent when the volume is not started or no glusterd answers. */
  status?: VolumeStatus;
}

/**
 * `volume status VOL [BRICK] --xml` on `host`, retried while glusterd is busy
 * with another operation on the volume (see isGlusterLockBusy).
 */
async function readVolumeStatus(host: RemoteHost, volume: string, command: string): Promise<VolumeStatus> {
  const unreadable = (why: string) =>
    new DeployError('cluster-unhealthy', `${host.name}: could not read the status of volume ${volume}: ${why}`, {
      host: host.name,
      hint: `Run "gluster volume status ${volume}" on ${host.name}; /var/log/glusterfs/glusterd.log says more.`,
    });
  return waitUntil<VolumeStatus>(
    async () => {
      const r = await host.run(command, { purpose: `read the status of volume ${volume}`, timeoutMs: 30_000, allowFailure: true });
      try {
        return { done: parseVolumeStatusXml(r.stdout, volume) };
      } catch (e) {
        if (!isGlusterLockBusy(e)) throw unreadable((e as Error).message);
        return { waiting: (e as Error).message };
      }
    },
    { timeoutMs: STATUS_BUSY_WAIT_MS, pollMs: 1000, timeoutError: unreadable },
  );
}

/**
 * The volume's brick status from the first member whose glusterd has the
 * volume started. A brick online without a port is read again for up to
 * BRICK_PORT_GRACE_MS (it may only be starting); the glusterfsd processes of
 * its host are read again afterwards so the plan names the current pids.
 */
async function gatherVolumeStatus(volume: string, members: readonly Host[], g: GlusterGathered): Promise<void> {
  const observer = members.find((m) => g.facts.get(m.name)?.volume?.status === 'Started');
  if (!observer) return;
  const remote = g.remotes.get(observer.name)!;
  const command = glusterCommands.volumeStatus(volume);
  let status = await readVolumeStatus(remote, volume, command);
  let first = true;
  await waitUpTo(
    async () => {
      if (!first) status = await readVolumeStatus(remote, volume, command);
      first = false;
      return status.bricks.some(brickRunsWithoutPort) ? { waiting: 'a brick runs without a port' } : { done: undefined };
    },
    { timeoutMs: BRICK_PORT_GRACE_MS, pollMs: 1000 },
  );
  g.status = status;
  const portless = new Set(status.bricks.filter(brickRunsWithoutPort).map((b) => b.hostname));
  for (const m of members) {
    if (!portless.has(m.address) && !portless.has(m.name)) continue;
    const r = await g.remotes.get(m.name)!.run(brickProcessesCommand(), { purpose: 'list brick processes', timeoutMs: 30_000, allowFailure: true });
    g.facts.get(m.name)!.brickProcesses = parseBrickProcesses(r.stdout);
  }
}

/**
 * Stops the brick's processes on its host, starts it with "volume start
 * force", and waits until volume status shows it online with a port.
 */
async function repairBrick(host: RemoteHost, volume: string, repair: BrickRepair, logger: Logger): Promise<void> {
  const stopped = await host.run(repair.stopCommand, { purpose: `stop the processes of brick ${repair.name}`, timeoutMs: 60_000 });
  if (stopped.stdout.trim() !== '') logger.info(`brick ${repair.name}: ${stopped.stdout.trim().split('\n').join(', ')}`, host.name);
  // Retried while glusterd is busy with another operation on the volume (a heal info, verify-ha).
  const purpose = `start brick ${repair.name} (volume start force)`;
  let started = { code: 0, stdout: '', stderr: '' };
  await waitUntil(
    async () => {
      started = await host.run(repair.startCommand, { purpose, timeoutMs: GLUSTER_TIMEOUT_MS, allowFailure: true });
      if (started.code === 0) return { done: undefined };
      if (!isGlusterBusyMessage(`${started.stdout}\n${started.stderr}`)) throw glusterFailed(host, purpose, started);
      return { waiting: 'glusterd is busy with another operation' };
    },
    { timeoutMs: STATUS_BUSY_WAIT_MS, pollMs: 1000, timeoutError: () => glusterFailed(host, purpose, started) },
  );
  const s = await waitUntil<BrickStatus>(
    async () => {
      const status = await readVolumeStatus(host, volume, brickStatusCommand(volume, repair.brick));
      const s = brickStatusOf(repair.brick, status);
      if (brickServing(s)) return { done: s! };
      return { waiting: s ? (s.online ? `online (pid ${s.pid ?? '?'}) without a port` : 'offline') : 'not listed' };
    },
    {
      timeoutMs: BRICK_REPAIR_WAIT_MS,
      pollMs: 1000,
      timeoutError: (last) =>
        new DeployError('cluster-unhealthy', `brick ${repair.name} on ${host.name} is still ${last} ${BRICK_REPAIR_WAIT_MS / 1000} s after "${repair.startCommand}"`, {
          host: host.name,
          hint: `See /var/log/glusterfs/bricks/ and /var/log/glusterfs/glusterd.log on ${host.name}, and "pgrep -af glusterfsd" there for a brick process glusterd does not know.`,
        }),
    },
  );
  logger.info(`brick ${repair.name} online: pid ${s.pid ?? '?'}, port ${s.port}`, host.name);
}

// ---------------------------------------------------------------------------
// Volume part: plan (pure)

function hostRow(h: Host, facts: Record<string, string>): PlanHostFacts {
  return { name: h.name, address: h.address, roles: [...h.roles], facts };
}

/** Waits until `address` is "Peer in Cluster" and connected as `self` sees it. */
async function waitForPeer(self: RemoteHost, address: string, host: string): Promise<void> {
  let last = 'not in the pool';
  await waitUntil(
    async () => {
      const r = await self.run(glusterCommands.poolList(), { purpose: 'read the gluster pool', timeoutMs: 30_000, allowFailure: true });
      try {
        const peer = parsePeersXml(r.stdout).find((p) => peerKnownAs(p, address) || peerKnownAs(p, host));
        if (peer) {
          if (peer.connected && peer.state === 'Peer in Cluster') return { done: undefined };
          last = `${peer.state} (${peer.connected ? 'Connected' : 'Disconnected'})`;
        }
      } catch (e) {
        last = (e as Error).message;
      }
      return { waiting: last };
    },
    {
      timeoutMs: PEER_WAIT_MS,
      pollMs: 1000,
      timeoutError: (seen) =>
        new DeployError('cluster-unhealthy', `${host} (${address}) did not become "Peer in Cluster (Connected)" within ${PEER_WAIT_MS / 1000} s as ${self.name} sees it: ${seen}`, {
          host: self.name,
          hint: `Check that glusterd runs on ${host} and that TCP ${GLUSTERD_PORT} is open between the storage hosts, then run migrate-storage again.`,
        }),
    },
  );
}

/** glusterd answers the CLI a moment after systemd says it started. */
async function waitForGlusterd(host: RemoteHost): Promise<void> {
  await waitUntil(
    async () => {
      const r = await host.run(glusterCommands.poolList(), { purpose: 'wait for glusterd', timeoutMs: 20_000, allowFailure: true });
      if (r.code === 0 && r.stdout.includes('<cliOutput>')) return { done: undefined };
      return { waiting: (r.stderr || r.stdout).trim().split('\n').pop() ?? '' };
    },
    {
      timeoutMs: 30_000,
      pollMs: 500,
      timeoutError: (last) =>
        new DeployError('command-failed', `glusterd on ${host.name} started but does not answer: ${last}`, {
          host: host.name,
          hint: 'See /var/log/glusterfs/glusterd.log on that host.',
        }),
    },
  );
}

function volumeChangeToPlanned(c: Exclude<VolumeChange, { action: 'manual' } | { action: 'add-brick' }>, self: string, bricks: readonly BrickSpec[]): PlannedChange {
  switch (c.action) {
    case 'peer-probe':
      return {
        kind: 'cluster',
        step: 'peer-probe',
        id: changeId('cluster', self, 'peer-probe', c.address),
        host: self,
        summary: c.summary,
        detail: `${c.command}; waits until ${c.host} is "Peer in Cluster (Connected)"`,
        apply: async (ctx) => {
          await runGluster(ctx.host, c.command, `probe gluster peer ${c.host}`);
          await waitForPeer(ctx.host, c.address, c.host);
        },
      };
    case 'create':
      return {
        kind: 'cluster',
        step: 'volume-create',
        id: changeId('cluster', self, 'volume-create'),
        host: self,
        summary: c.summary,
        detail: `mkdir -p the brick directory on each brick host (gluster does not create parents); ${c.command}`,
        apply: async (ctx) => {
          for (const b of bricks) {
            const host = ctx.hosts.get(b.host);
            if (!host) throw new DeployError('internal', `no connection to brick host ${b.host}`);
            await host.run(prepareBrickCommand(b.path), { purpose: `create the brick directory ${b.path}` });
          }
          await runGluster(ctx.host, c.command, 'create the gluster volume');
        },
      };
    case 'set-option':
      return {
        kind: 'cluster',
        step: 'volume-option',
        id: changeId('cluster', self, 'volume-option', c.option),
        host: self,
        summary: c.summary,
        detail: c.command,
        apply: async (ctx) => void (await runGluster(ctx.host, c.command, `set volume option ${c.option}`)),
      };
    case 'start':
      return {
        kind: 'cluster',
        step: 'volume-start',
        id: changeId('cluster', self, 'volume-start'),
        host: self,
        summary: c.summary,
        detail: c.command,
        apply: async (ctx) => void (await runGluster(ctx.host, c.command, 'start the gluster volume')),
      };
  }
}

export function planGlusterVolume(model: GlusterVolumeModel, members: readonly Host[], g: GlusterGathered): MigrationPartPlan {
  const changes: PlannedChange[] = [];
  const warnings: string[] = [];
  const unknownBrick = members.filter((m) => !g.facts.get(m.name)?.brick);
  if (unknownBrick.length > 0) {
    const m = unknownBrick[0]!;
    throw new DeployError('preflight-failed', `could not tell which filesystem holds the brick path ${model.bricks[0]?.path ?? ''} on ${m.name}: ${g.facts.get(m.name)?.brickError ?? 'no answer'}`, {
      host: m.name,
      hint: 'findmnt (util-linux) must be installed on the storage hosts.',
    });
  }
  const mounts = members.map((m) => g.facts.get(m.name)!.brick!);
  // Refuses replica 2, bricks on "/" (unless storage.force_root_brick) and bricks that are mount points.
  validateVolumeModel(model, mounts);

  // 1. Packages (all hosts at once), then glusterd on every member.
  const bare = members.filter((m) => !g.facts.get(m.name)!.packages[GLUSTER_SERVER_PACKAGE]).map((m) => m.name);
  changes.push(...packageChanges(bare, GLUSTER_SERVER_PACKAGE, 'GlusterFS server for the brick'));
  for (const m of members) {
    const f = g.facts.get(m.name)!;
    if (!f.glusterdEnabled) {
      changes.push({
        kind: 'service',
        id: changeId('service', m.name, 'glusterd', 'enable'),
        host: m.name,
        summary: 'enable glusterd at boot',
        unit: 'glusterd',
        action: 'enable',
        apply: async (ctx) => void (await ctx.host.run('systemctl enable glusterd', { purpose: 'enable glusterd' })),
      });
    }
    if (!f.glusterdActive) {
      changes.push({
        kind: 'service',
        id: changeId('service', m.name, 'glusterd', 'start'),
        host: m.name,
        summary: 'start glusterd and wait until it answers',
        unit: 'glusterd',
        action: 'start',
        apply: async (ctx) => {
          await startService(ctx.host, 'systemctl start glusterd', { unit: 'glusterd', port: GLUSTERD_PORT }, { purpose: 'start glusterd', timeoutMs: GLUSTER_TIMEOUT_MS, logger: ctx.logger });
          await waitForGlusterd(ctx.host);
        },
      });
    }
  }

  // 2. Peers, from the first member (the one that creates the volume).
  const self = members[0]!;
  const selfFacts = g.facts.get(self.name)!;
  const peerChanges = diffPeers(
    { host: self.name, address: self.address },
    members.map((m) => ({ host: m.name, address: m.address })),
    selfFacts.pool ?? [],
  );

  // 3. The volume: as the first member sees it, or any member whose glusterd answers.
  const observer = [self, ...members.slice(1)].map((m) => g.facts.get(m.name)!).find((f) => f.volume !== undefined);
  if (!observer) {
    const failed = members.map((m) => g.facts.get(m.name)!).find((f) => f.volumeError);
    if (failed) {
      throw new DeployError('cluster-unhealthy', `could not read volume ${model.volume}: ${failed.volumeError}`, { hint: 'Check glusterd on the storage hosts (systemctl status glusterd).' });
    }
  }
  const volumeChanges = diffVolume(model, observer?.volume ?? null, { mounts });
  for (const c of [...peerChanges, ...volumeChanges]) {
    if (c.action === 'manual') warnings.push(`GlusterFS: ${c.summary}. ${c.detail}`);
    else if (c.action === 'add-brick') warnings.push(`GlusterFS: ${c.summary} is needed but not applied by migrate-storage. ${c.detail} Command: ${c.command}`);
    else changes.push(volumeChangeToPlanned(c, self.name, allBricks(model)));
  }

  // 4. Bricks of the started volume that are offline or run without a port.
  const processes = new Map(members.map((m) => [m.name, g.facts.get(m.name)!.brickProcesses]));
  const repairs = g.status ? brickRepairs(model, g.status, processes) : [];
  if (repairs.length > 1) {
    warnings.push(`GlusterFS: ${repairs.length} bricks need a restart; they are restarted one at a time, each waited for, since clients need two bricks for quorum.`);
  }
  for (const r of repairs) {
    changes.push({
      kind: 'cluster',
      step: 'brick-restart',
      id: changeId('cluster', r.brick.host, 'brick-restart', r.name),
      host: r.brick.host,
      summary: r.summary,
      detail: r.detail,
      apply: async (ctx) => repairBrick(ctx.host, model.volume, r, ctx.logger),
    });
  }

  const facts = members.map((m) => {
    const f = g.facts.get(m.name)!;
    return hostRow(m, {
      glusterfs: f.packages[GLUSTER_SERVER_PACKAGE] ?? 'not installed',
      glusterd: f.glusterdActive ? 'active' : 'inactive',
      brick: `${model.bricks.find((b) => b.host === m.name)?.path ?? model.arbiter?.path ?? ''} on ${f.brick!.mountPoint}${f.brick!.fsType ? ` (${f.brick!.fsType})` : ''}`,
      ...(m === self ? { volume: observer?.volume ? `${observer.volume.status}, ${observer.volume.bricks.length} bricks` : 'absent' } : {}),
    });
  });
  return { changes, warnings, facts };
}

export function glusterVolumePart(context: CommandContext): MigrationPart<GlusterGathered> | undefined {
  const v = glusterVolumeOf(context.environment);
  if (!v) return undefined;
  const { storage, model, members } = v;
  if (members.length === 0) {
    throw new DeployError('invalid-inventory', 'storage.kind is glusterfs but no host has the storage role', { hint: 'Give the three brick hosts the storage role.' });
  }
  return {
    name: 'glusterfs',
    hosts: members,
    gather: async () => {
      const { remotes, outputs } = await readOnEach(context, members, FACTS.glusterServer, { volume: storage.volume, brickPath: storage.brick_path }, 'read GlusterFS facts');
      const facts = new Map([...outputs].map(([name, stdout]) => [name, parseStorageFacts(name, storage.brick_path, storage.volume, stdout)]));
      const gathered: GlusterGathered = { remotes, facts };
      await gatherVolumeStatus(storage.volume, members, gathered);
      return gathered;
    },
    plan: (g) => planGlusterVolume(model, members, g),
  };
}

// ---------------------------------------------------------------------------
// Client mounts

export interface ClientGathered {
  remotes: Map<string, RemoteHost>;
  facts: Map<string, ClientHostFacts>;
}

export function mountSpecFor(storage: GlusterStorage, members: readonly Host[], client: Host): GlusterMountSpec {
  return {
    servers: members.map((m) => m.address),
    volume: storage.volume,
    mountPoint: storage.mount_path,
    // The seed's web+brick hosts: mount only after the local glusterd is up.
    localServer: client.roles.includes('storage') || client.name === storage.arbiter,
  };
}

/** Sets the owner and mode of the volume root through a client mount (stored on the bricks, so every client sees it). */
export function volumeRootCommand(storage: Pick<GlusterStorage, 'mount_path' | 'owner' | 'group' | 'mode'>): string {
  const mp = shellQuote(storage.mount_path);
  return `chown -- ${shellQuote(`${storage.owner}:${storage.group}`)} ${mp} && chmod -- ${storage.mode} ${mp}`;
}

/**
 * Right after the first mount the client may still be connecting to the
 * bricks (quorum needs two of three), so a refused write is retried briefly.
 */
export async function setVolumeRoot(host: RemoteHost, storage: Pick<GlusterStorage, 'mount_path' | 'owner' | 'group' | 'mode'>): Promise<void> {
  const purpose = `set owner and mode of ${storage.mount_path}`;
  await waitUntil(
    async () => {
      const r = await host.run(volumeRootCommand(storage), { purpose, timeoutMs: 60_000, allowFailure: true });
      return r.code === 0 ? { done: undefined } : { waiting: r.stderr.trim().split('\n').pop() || `exit ${r.code}` };
    },
    {
      // About five attempts two seconds apart.
      timeoutMs: 8_000,
      pollMs: 2_000,
      timeoutError: (last) =>
        new DeployError('command-failed', `${host.name}: ${purpose} failed: ${last}`, {
          host: host.name,
          hint: `Check that user ${storage.owner} and group ${storage.group} exist on ${host.name} and that the volume accepts writes (gluster volume status).`,
        }),
    },
  );
}

export function planClientMounts(storage: GlusterStorage, members: readonly Host[], clients: readonly Host[], g: ClientGathered): MigrationPartPlan {
  const changes: PlannedChange[] = [];
  const warnings: string[] = [];
  const mode = parseInt(storage.mode, 8);
  const bare = clients.filter((c) => !g.facts.get(c.name)!.packages[GLUSTER_CLIENT_PACKAGE]).map((c) => c.name);
  changes.push(...packageChanges(bare, GLUSTER_CLIENT_PACKAGE, 'GlusterFS FUSE client for the mount'));
  for (const c of clients) {
    const f = g.facts.get(c.name)!;
    const spec = mountSpecFor(storage, members, c);
    const fstab = upsertFstabEntry(f.fstab, spec);
    if (fstab.changed) {
      changes.push({
        kind: 'file',
        id: changeId('file', c.name, FSTAB),
        host: c.name,
        summary: `mount ${storage.volume} at ${storage.mount_path} at boot: ${fstab.line}`,
        path: FSTAB,
        before: { content: f.fstab },
        after: { content: fstab.content, mode: 0o644, owner: 'root', group: 'root' },
        sensitive: false,
        apply: async (ctx) => {
          // The gathered fstab may be stale by now: edit what is there.
          const now = (await ctx.host.readFile(FSTAB))?.toString('utf8') ?? '';
          await ctx.host.writeFile(FSTAB, upsertFstabEntry(now, spec).content, { mode: 0o644, owner: 'root', group: 'root' });
        },
      });
    }
    if (!f.mounted) {
      changes.push({
        kind: 'cluster',
        step: 'mount',
        id: changeId('cluster', c.name, 'mount', storage.mount_path),
        host: c.name,
        summary: `mount ${storage.volume} at ${storage.mount_path} (from fstab)`,
        detail: `mkdir -p ${storage.mount_path}; mount ${storage.mount_path}; checks that a fuse.glusterfs mount of ${storage.volume} is there`,
        apply: async (ctx) => {
          const mp = shellQuote(storage.mount_path);
          const r = await ctx.host.run(`mkdir -p -- ${mp} && mount -- ${mp}`, { purpose: `mount ${storage.mount_path}`, timeoutMs: GLUSTER_TIMEOUT_MS, allowFailure: true });
          const mounts = parseMounts((await ctx.host.readFile('/proc/self/mounts'))?.toString('utf8') ?? '');
          if (r.code !== 0 || !findGlusterMount(mounts, storage.mount_path, storage.volume)) {
            throw new DeployError('command-failed', `mounting ${storage.volume} at ${storage.mount_path} on ${ctx.host.name} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ') || 'no gluster mount after mount'}`, {
              host: ctx.host.name,
              hint: `Check /var/log/glusterfs/${storage.mount_path.slice(1).replace(/\//g, '-')}.log on ${ctx.host.name}, that the volume is started, and that TCP 24007 and the brick ports (49152+) are open from the client.`,
            });
          }
        },
      });
    }
  }
  // The root belongs to the volume, not to a client: set it once, through the first client.
  const first = clients[0];
  if (first) {
    const f = g.facts.get(first.name)!;
    const want = { mode, owner: storage.owner, group: storage.group };
    for (const c of clients) {
      const cf = g.facts.get(c.name)!;
      if (!cf.ownerExists || !cf.groupExists) {
        warnings.push(`GlusterFS: ${c.name} has no ${!cf.ownerExists ? `user ${storage.owner}` : `group ${storage.group}`}; the volume root will show as a number there until the application package creates it.`);
      }
    }
    const same = f.root !== null && f.root.mode === mode && f.root.owner === storage.owner && f.root.group === storage.group;
    if (!same) {
      changes.push({
        kind: 'directory',
        id: changeId('directory', first.name, storage.mount_path),
        host: first.name,
        summary: `volume root ${storage.mount_path}: owner ${storage.owner}:${storage.group}, mode ${formatMode(mode)} (seen by every client)`,
        path: storage.mount_path,
        before: f.root,
        after: want,
        apply: async (ctx) => setVolumeRoot(ctx.host, storage),
      });
    }
  }
  const facts = clients.map((c) => {
    const f = g.facts.get(c.name)!;
    return hostRow(c, { mount: f.mounted ? `${storage.mount_path} mounted` : `${storage.mount_path} not mounted` });
  });
  return { changes, warnings, facts };
}

export function glusterClientPart(context: CommandContext): MigrationPart<ClientGathered> | undefined {
  const v = glusterVolumeOf(context.environment);
  if (!v) return undefined;
  const clients = hostsWithRole(context.environment, 'web');
  if (clients.length === 0) return undefined;
  const { storage, members } = v;
  return {
    name: 'client mounts',
    hosts: clients,
    gather: async () => {
      const { remotes, outputs } = await readOnEach(context, clients, FACTS.glusterMountHost, { mountPath: storage.mount_path, owner: storage.owner, group: storage.group }, 'read GlusterFS client facts');
      const facts = new Map([...outputs].map(([name, stdout]) => [name, parseClientFacts(stdout, { mountPath: storage.mount_path, volume: storage.volume })]));
      return { remotes, facts };
    },
    plan: (g) => planClientMounts(storage, members, clients, g),
  };
}
