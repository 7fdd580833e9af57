/**
 * migrate-storage's file copy: `migrate.files.source_path` on the source host
 * into the mounted GlusterFS volume, written through the first web host.
 *
 * The copy is rsync bridged through the runner (see the header of
 * src/components/migrate/files.ts): the source and target never talk to each
 * other and the runner only relays the two SSH channels, storing nothing.
 * What arrived is proven by manifests (type, mode, owner, size, mtime,
 * symlink target and SHA-256 of every file) taken on both sides after the
 * copy, never by rsync's own report.
 *
 * Gather reads quick manifests (no hashes) of both sides for the plan's
 * counts and bytes. When they already match (the copy was done), it also
 * hashes both sides, so a re-run proves the content still matches and fails,
 * naming the file, when it does not (rsync's size + mtime check would not see
 * a corrupted file).
 */
import { DeployError } from '../../errors.js';
import { changeId, type PlannedChange } from '../../engine/change.js';
import type { Environment, GlusterStorage, Host } from '../../inventory/index.js';
import { hostsWithRole } from '../../inventory/index.js';
import type { Logger } from '../../log.js';
import { shellQuote } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';
import { splitSections } from '../../facts/sections.js';
import {
  classifyRsyncExit,
  compareManifests,
  MANIFEST_NO_TEMP_DIR_EXIT,
  MANIFEST_ROOT_UNREADABLE_EXIT,
  manifestCommand,
  manifestVerdict,
  newerOnTarget,
  parseManifest,
  parseRsyncServerHeader,
  parseRsyncStats,
  rsyncReceiverCommand,
  rsyncSenderCommand,
  samplePaths,
  splitBridgeHeader,
  summarizeManifest,
  transferEstimate,
  type Manifest,
  type ManifestComparison,
  type RsyncSpec,
  type RsyncStats,
} from '../../components/migrate/files.js';
import type { CommandContext } from '../context.js';
import type { MigrationPart, MigrationPartPlan } from './part.js';
import { packageChanges, setVolumeRoot } from './gluster.js';
import { formatBytes } from '../../format.js';

/** The copy may take hours on a big moodledata; the on-host timeout still bounds it. */
const TRANSFER_TIMEOUT_MS = 24 * 3600_000;
const MANIFEST_TIMEOUT_MS = 6 * 3600_000;
/**
 * Entries the target may hold that the source does not, left out of the
 * comparison: gluster's trash directory, which some versions show at the root.
 */
export const TARGET_IGNORE = ['.trashcan'] as const;

export interface FilesSetting {
  source: Host;
  sourcePath: string;
  target: Host;
  storage: GlusterStorage;
}

/** Where the files come from and go to; null when the inventory asks for no file copy into GlusterFS. */
export function filesSettingOf(environment: Environment): FilesSetting | null {
  const files = environment.migrate?.files;
  const storage = environment.storage;
  if (!files || storage.kind !== 'glusterfs') return null;
  const source = environment.hosts.find((h) => h.name === files.source_host);
  if (!source) throw new DeployError('invalid-inventory', `migrate.files.source_host "${files.source_host}" is not a host of environment ${environment.name}`);
  const target = hostsWithRole(environment, 'web')[0];
  if (!target) {
    throw new DeployError('invalid-inventory', `migrate.files needs a host with the web role: the files are written through its mount of ${storage.volume} at ${storage.mount_path}`, {
      hint: 'Give the application servers the web role (they mount the volume).',
    });
  }
  if (target.name === source.name) {
    throw new DeployError('invalid-inventory', `migrate.files.source_host ${source.name} is also the first web host, which the files are copied to`, {
      hint: 'Copy from the old server (a host without the web role), or list another web host first.',
    });
  }
  return { source, sourcePath: files.source_path, target, storage };
}

// ---------------------------------------------------------------------------
// Reading a command's raw output (manifests carry any byte a file name may hold)

async function endOf(stream: NodeJS.ReadableStream): Promise<void> {
  await new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

/** Runs a command and returns its stdout as bytes, streamed when the transport can (no output cap). */
export async function runForBytes(host: RemoteHost, command: string, purpose: string, timeoutMs: number): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  if (!host.spawn) {
    const r = await host.run(command, { purpose, timeoutMs, allowFailure: true });
    return { code: r.code, stdout: Buffer.from(r.stdout, 'utf8'), stderr: r.stderr };
  }
  const p = await host.spawn(command, { purpose, timeoutMs });
  const chunks: Buffer[] = [];
  p.stdout.on('data', (c: Buffer) => chunks.push(c));
  const ended = endOf(p.stdout);
  p.stdin.end();
  const r = await p.done;
  await ended;
  return { code: r.code, stdout: Buffer.concat(chunks), stderr: r.stderr };
}

export async function readManifest(host: RemoteHost, root: string, hash: boolean): Promise<Manifest> {
  const purpose = `${hash ? 'hash' : 'list'} the files under ${root}`;
  const r = await runForBytes(host, manifestCommand(root, { hash }), purpose, MANIFEST_TIMEOUT_MS);
  const lastError = r.stderr.trim().split('\n').pop() || `exit ${r.code}`;
  if (r.code === MANIFEST_ROOT_UNREADABLE_EXIT && r.stdout.length === 0) {
    throw new DeployError('preflight-failed', `${host.name}: ${root} cannot be read: ${lastError}`, {
      host: host.name,
      hint: 'Check the path in the inventory (migrate.files.source_path, storage.mount_path).',
    });
  }
  if (r.code === MANIFEST_NO_TEMP_DIR_EXIT && r.stdout.length === 0) {
    throw new DeployError('command-failed', `${host.name}: no temporary directory for hashing the files under ${root}: ${lastError}`, {
      host: host.name,
      hint: `Free some space in /tmp on ${host.name} (the hashes of all files are collected there, about 100 bytes per file), then run again.`,
    });
  }
  try {
    return parseManifest(r.stdout);
  } catch (e) {
    throw new DeployError('command-failed', `${host.name}: could not read the manifest of ${root}: ${(e as Error).message}; ${r.stderr.trim().split('\n').pop() ?? ''}`, { host: host.name });
  }
}

// ---------------------------------------------------------------------------
// The rsync bridge

function readHeader(stream: NodeJS.ReadableStream): Promise<{ header: string; rest: Buffer } | null> {
  return new Promise((resolve, reject) => {
    let acc = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      acc = Buffer.concat([acc, chunk]);
      let split: ReturnType<typeof splitBridgeHeader>;
      try {
        split = splitBridgeHeader(acc);
      } catch (e) {
        cleanup();
        reject(e);
        return;
      }
      if (split) {
        cleanup();
        stream.pause();
        resolve(split);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const cleanup = () => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('close', onEnd);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
  });
}

export interface BridgeResult {
  senderExit: number;
  receiverExit: number;
  stats: RsyncStats;
  /** rsync's own messages (errors, --stats), from the sender's stderr. */
  senderLog: string;
  receiverLog: string;
}

/**
 * Runs rsync on the source with the bridge as its remote shell, starts the
 * validated receiver on the target, and pipes the two channels into each
 * other until both end.
 */
export async function bridgeRsync(source: RemoteHost, target: RemoteHost, spec: RsyncSpec, destination: string, logger: Logger): Promise<BridgeResult> {
  if (!source.spawn || !target.spawn) throw new DeployError('internal', 'the SSH transport cannot stream (no spawn)');
  const sender = await source.spawn(rsyncSenderCommand(spec), { purpose: 'send the files with rsync', timeoutMs: TRANSFER_TIMEOUT_MS });
  let header: Awaited<ReturnType<typeof readHeader>>;
  try {
    header = await readHeader(sender.stdout);
  } catch (e) {
    sender.kill();
    throw e;
  }
  if (!header) {
    const r = await sender.done;
    throw new DeployError('command-failed', `${source.name}: rsync ended before it asked for a receiver (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ') || '(no output)'}`, {
      host: source.name,
      hint: `Is rsync installed on ${source.name}, and is ${spec.source} readable?`,
    });
  }
  let receiverCommand: string;
  try {
    receiverCommand = rsyncReceiverCommand(destination, parseRsyncServerHeader(header.header));
  } catch (e) {
    sender.kill();
    throw e;
  }
  logger.debug(`rsync receiver: ${receiverCommand}`, target.name);
  let receiver: Awaited<ReturnType<NonNullable<RemoteHost['spawn']>>>;
  try {
    receiver = await target.spawn(receiverCommand, { purpose: 'receive the files with rsync', timeoutMs: TRANSFER_TIMEOUT_MS });
  } catch (e) {
    sender.kill();
    throw e;
  }
  if (header.rest.length > 0) receiver.stdin.write(header.rest);
  sender.stdout.pipe(receiver.stdin);
  receiver.stdout.pipe(sender.stdin);
  // An SSH channel reports its end only once its output has been read to the
  // end. When one side's channel closes, pipe() unpipes and pauses the other
  // side's output, which would then never end: read (and drop) the rest.
  const drainWhenClosed = (closing: NodeJS.EventEmitter, output: NodeJS.ReadableStream) =>
    closing.once('close', () => {
      output.unpipe();
      output.resume();
    });
  drainWhenClosed(receiver.stdin as unknown as NodeJS.EventEmitter, sender.stdout);
  drainWhenClosed(sender.stdin as unknown as NodeJS.EventEmitter, receiver.stdout);
  // One side lost (connection, timeout): stop the other rather than wait for its timeout.
  const settle = async <T>(p: Promise<T>, other: { kill(): void }): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      other.kill();
      throw e;
    }
  };
  const [s, r] = await Promise.all([settle(sender.done, receiver), settle(receiver.done, sender)]);
  return { senderExit: s.code, receiverExit: r.code, stats: parseRsyncStats(s.stderr), senderLog: s.stderr, receiverLog: r.stderr };
}

// ---------------------------------------------------------------------------
// Facts and plan

export interface FilesGathered {
  remotes: Map<string, RemoteHost>;
  sourceHasRsync: boolean;
  targetHasRsync: boolean;
  targetMounted: boolean;
  source: Manifest;
  /** Quick manifest of the target; null when the volume is not mounted there yet. */
  target: Manifest | null;
  /** Hashed comparison, made when the quick manifests already match. */
  verification: ManifestComparison | null;
}

function rsyncAndMountScript(mountPath?: string): string {
  const lines = ['echo "@@rsync"; command -v rsync || true'];
  if (mountPath) lines.push(`echo "@@mounted"; awk -v m=${shellQuote(mountPath)} '$2==m && $3=="fuse.glusterfs" {f=1} END {if (f) print "yes"}' /proc/self/mounts`);
  return lines.join('; ');
}

function compareOptions() {
  return { ignore: TARGET_IGNORE };
}

export async function gatherFiles(context: Pick<CommandContext, 'host'>, s: FilesSetting): Promise<FilesGathered> {
  const [source, target] = await Promise.all([context.host(s.source.name), context.host(s.target.name)]);
  const remotes = new Map([
    [s.source.name, source],
    [s.target.name, target],
  ]);
  const [sf, tf] = await Promise.all([
    source.run(rsyncAndMountScript(), { purpose: 'look for rsync', timeoutMs: 30_000, allowFailure: true }),
    target.run(rsyncAndMountScript(s.storage.mount_path), { purpose: 'look for rsync and the volume mount', timeoutMs: 30_000, allowFailure: true }),
  ]);
  const targetMounted = (splitSections(tf.stdout).get('mounted') ?? '').trim() === 'yes';
  const [sourceManifest, targetManifest] = await Promise.all([
    readManifest(source, s.sourcePath, false),
    targetMounted ? readManifest(target, s.storage.mount_path, false) : Promise.resolve(null),
  ]);
  let verification: ManifestComparison | null = null;
  if (targetManifest && compareManifests(sourceManifest, targetManifest, { ...compareOptions(), requireHashes: false }).ok) {
    const [a, b] = await Promise.all([readManifest(source, s.sourcePath, true), readManifest(target, s.storage.mount_path, true)]);
    verification = compareManifests(a, b, compareOptions());
  }
  return {
    remotes,
    sourceHasRsync: (splitSections(sf.stdout).get('rsync') ?? '').trim() !== '',
    targetHasRsync: (splitSections(tf.stdout).get('rsync') ?? '').trim() !== '',
    targetMounted,
    source: sourceManifest,
    target: targetManifest,
    verification,
  };
}


/** The failing rows of a verdict as one message. */
function verdictProblems(cmp: ManifestComparison, where: { source: string; target: string; path: string }): { message: string; hint?: string } | null {
  const failed = manifestVerdict(cmp, where).filter((r) => r.status === 'fail');
  if (failed.length === 0) return null;
  return { message: failed.map((r) => `${r.check}: ${r.observed}`).join('; '), ...(failed[0]!.hint ? { hint: failed[0]!.hint } : {}) };
}

/** Hashes both sides and throws verify-failed, naming entries, when they differ. */
export async function verifyCopy(source: RemoteHost, target: RemoteHost, s: FilesSetting, logger: Logger): Promise<ManifestComparison> {
  const started = Date.now();
  const [a, b] = await Promise.all([readManifest(source, s.sourcePath, true), readManifest(target, s.storage.mount_path, true)]);
  const cmp = compareManifests(a, b, compareOptions());
  const where = { source: s.source.name, target: s.target.name, path: s.storage.mount_path };
  const problems = verdictProblems(cmp, where);
  if (problems) {
    throw new DeployError('verify-failed', `the copy of ${s.source.name}:${s.sourcePath} to ${s.storage.mount_path} (through ${s.target.name}) does not match: ${problems.message}`, {
      host: s.target.name,
      ...(problems.hint ? { hint: problems.hint } : {}),
    });
  }
  logger.info(
    `verified ${cmp.files} files, ${formatBytes(cmp.bytes)}, ${cmp.entries} entries: types, modes, owners, sizes, times and SHA-256 match (manifests in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    s.target.name,
  );
  if (cmp.extra.length > 0) logger.warn(`${cmp.extra.length} entries exist only in ${s.storage.mount_path}, e.g. ${cmp.extra[0]}`, s.target.name);
  return cmp;
}

export function planFiles(s: FilesSetting, g: FilesGathered): MigrationPartPlan {
  const changes: PlannedChange[] = [];
  const warnings: string[] = [];
  const where = { source: s.source.name, target: s.target.name, path: s.storage.mount_path };
  const total = summarizeManifest(g.source);
  const estimate = transferEstimate(g.source, g.target ?? undefined);
  changes.push(...packageChanges([...(g.sourceHasRsync ? [] : [s.source.name]), ...(g.targetHasRsync ? [] : [s.target.name])], 'rsync', 'copies the files'));

  if (g.verification) {
    const problems = verdictProblems(g.verification, where);
    if (problems) {
      throw new DeployError('verify-failed', `${s.storage.mount_path} on ${s.target.name} no longer matches ${s.source.name}:${s.sourcePath}: ${problems.message}`, {
        host: s.target.name,
        hint:
          'A file with the same size and time but other content is not copied again by rsync. Remove the differing files on the target (through the mount), ' +
          'then run migrate-storage again: it copies them and verifies.',
      });
    }
    if (g.verification.extra.length > 0) warnings.push(`files: ${g.verification.extra.length} entries exist only in ${s.storage.mount_path}, e.g. ${g.verification.extra[0]} (nothing is deleted)`);
  } else {
    const newer = g.target ? newerOnTarget(g.source, g.target) : [];
    if (newer.length > 0) {
      throw new DeployError(
        'preflight-failed',
        `${s.storage.mount_path} on ${s.target.name} has ${newer.length} files newer than their copy on ${s.source.name}:${s.sourcePath}: ${samplePaths(newer)}. ` +
          `Something wrote them there after they were copied (the application, after the cutover?); the copy would replace them with older versions, so nothing was copied`,
        {
          host: s.target.name,
          hint:
            `If the application already runs on the volume, the migration is over: remove migrate.files from the inventory. ` +
            `If ${s.source.name} is still the live server, delete those files on the target (through the mount) and run again.`,
        },
      );
    }
    const what = `${total.files} files, ${formatBytes(total.bytes)} (${total.entries} entries)`;
    const left = g.target ? `; ${estimate.remainingFiles} files, ${formatBytes(estimate.remainingBytes)} still to move` : '';
    changes.push({
      kind: 'cluster',
      step: 'migrate-data',
      id: changeId('cluster', s.target.name, 'migrate-data', s.sourcePath),
      host: s.target.name,
      summary: `copy ${what}${left} from ${s.source.name}:${s.sourcePath} into ${s.storage.mount_path}, then verify SHA-256 manifests on both sides`,
      detail:
        `rsync -aH --update --partial on ${s.source.name}, receiver on ${s.target.name}, bridged through the runner (no data stored on it; resumable); ` +
        `keeps owners (by name), modes, times, symlinks and hard links; nothing on the target is deleted or replaced by an older version; then every entry is compared (type, mode, owner, size, mtime, SHA-256)`,
      apply: async (ctx) => {
        const source = ctx.hosts.get(s.source.name);
        if (!source) throw new DeployError('internal', `no connection to ${s.source.name}`);
        await migrateFiles(source, ctx.host, s, ctx.logger);
      },
    });
  }
  const row = (h: Host, facts: Record<string, string>) => ({ name: h.name, address: h.address, roles: [...h.roles], facts });
  const facts = [
    row(s.source, { 'files to copy': `${total.files} files, ${formatBytes(total.bytes)}, ${total.directories} dirs, ${total.symlinks} symlinks (${s.sourcePath})` }),
    row(s.target, {
      'copy target': !g.targetMounted
        ? `${s.storage.mount_path} not mounted yet`
        : g.verification
          ? `${s.storage.mount_path}: copy complete and verified`
          : `${s.storage.mount_path}: ${estimate.remainingFiles} files, ${formatBytes(estimate.remainingBytes)} to move`,
    }),
  ];
  return { changes, warnings, facts };
}

/** The copy, then the owner/mode of the volume root put back (rsync gives it the source directory's), then the verification. */
export async function migrateFiles(source: RemoteHost, target: RemoteHost, s: FilesSetting, logger: Logger): Promise<ManifestComparison> {
  logger.info(`copying ${s.source.name}:${s.sourcePath} into ${s.storage.mount_path} (rsync through the runner)`, s.target.name);
  const started = Date.now();
  const r = await bridgeRsync(source, target, { source: s.sourcePath }, s.storage.mount_path, logger);
  const outcome = classifyRsyncExit(r.senderExit);
  if (outcome.outcome === 'retry' || outcome.outcome === 'fail') {
    const why = `${r.senderLog}\n${r.receiverLog}`.trim().split('\n').filter((l) => l.trim() !== '' && !/^(Number|Total|Literal|Matched|File list|sent|total)/.test(l)).slice(-3).join(' | ');
    throw new DeployError('command-failed', `copying the files from ${s.source.name} to ${s.target.name} failed: ${outcome.message}${why ? `: ${why}` : ''}`, {
      host: s.target.name,
      hint: 'Run migrate-storage again: rsync keeps what arrived and resumes.',
    });
  }
  if (outcome.outcome === 'warn') logger.warn(outcome.message, s.source.name);
  const seconds = (Date.now() - started) / 1000;
  logger.info(
    `rsync: ${r.stats.regularFilesTransferred ?? '?'} files sent, ${formatBytes(r.stats.transferredFileSize ?? 0)} of ${formatBytes(r.stats.totalFileSize ?? 0)} in ${seconds.toFixed(1)} s`,
    s.target.name,
  );
  await setVolumeRoot(target, s.storage);
  return verifyCopy(source, target, s, logger);
}

export function filesMigrationPart(context: CommandContext): MigrationPart<FilesGathered> | undefined {
  const s = filesSettingOf(context.environment);
  if (!s) return undefined;
  return {
    name: 'files',
    hosts: [s.source, s.target],
    gather: () => gatherFiles(context, s),
    plan: (g) => planFiles(s, g),
  };
}
