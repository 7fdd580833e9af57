/**
 * The environment lock: two runs against the same hosts never interleave.
 *
 * The workflow's `concurrency:` group already serializes runs of one workflow,
 * but not runs from another repository, another workflow or an operator's
 * laptop. So the lock lives on the hosts themselves: a JSON file
 * `/var/lock/lms-ha/<environment>.lock` on every host of the environment, naming
 * the holder (run id, repository, command, start time, runner).
 *
 * Correctness rests on three choices:
 * - The file is created with `ln tmp lock`: link(2) fails if the name exists, so
 *   of two racing runs exactly one wins on a host, and since the content was
 *   written to `tmp` first, a reader never sees a half-written lock.
 * - Hosts are locked one by one in name order, and a run that finds any host
 *   held gives back what it took and fails at once (no waiting): with a common
 *   order, the run that wins the first contested host wins them all, so two runs
 *   cannot each hold half the hosts.
 * - Release removes the file only if it still carries our random token, so a run
 *   whose lock was broken cannot delete the lock of the run that replaced it.
 *
 * Locks are taken in apply mode only. Plan mode is read-only and never writes a
 * lock; it reads it (`inspectLock`) and turns a held lock into a plan warning,
 * because a plan computed while another run applies may be stale and an apply
 * started now would fail with `locked`.
 *
 * Locks never expire by themselves: a Galera SST or a large file migration can
 * legitimately run for hours, and breaking a live lock is how two runs end up
 * restarting nodes concurrently. A stale lock is broken explicitly (`breakLock`),
 * and that is logged with who held it. /var/lock is a tmpfs on Debian and
 * Ubuntu, so a reboot (which ends any run) also clears it.
 */
import { LOCK_DIR, lockFileName } from '../facts/lock.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import { DeployError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RemoteHost } from '../ssh/types.js';

export const DEFAULT_LOCK_DIR = LOCK_DIR;

/** Who is running; from the RunRequest. */
export interface LockOwner {
  runId: string;
  repository: string;
  command: string;
  /** The machine the run executes on. Default: this machine's hostname. */
  runner?: string;
}

/** The content of a lock file (one JSON line). */
export interface LockInfo {
  version: 1;
  environment: string;
  runId: string;
  repository: string;
  command: string;
  /** ISO 8601, UTC. */
  startedAt: string;
  runner: string;
  /** Random per acquisition; identifies our own lock at release time. Not a secret. */
  token: string;
}

/** A lock found on a host. `info` is null when the file could not be parsed. */
export interface LockHolder {
  host: string;
  info: LockInfo | null;
  /** The file as read, when it could not be parsed. */
  raw?: string;
}

export interface LockLocation {
  environment: string;
  /** Default `/var/lock/lms-ha`. */
  lockDir?: string;
}

export interface AcquireOptions extends LockLocation {
  owner: LockOwner;
  logger: Logger;
  now?: () => Date;
  /** Injectable for tests; default 16 random bytes, hex. */
  token?: string;
  /** How the operator breaks a stale lock, for the `locked` error's hint. */
  breakHint?: string;
}

export interface HostLock {
  environment: string;
  info: LockInfo;
  /** Hosts holding our lock, in the order they were locked. */
  hosts: string[];
  /** Removes our lock from every host. Never throws: failures are logged as warnings. */
  release(): Promise<void>;
}

const DEFAULT_BREAK_HINT =
  'If that run is no longer running (cancelled, runner lost), break the stale lock explicitly with the `unlock` command or the break-lock option, then run again.';

/** `/var/lock/lms-ha/<environment>.lock`, with the name made safe for a path. */
export function lockPath(location: LockLocation): string {
  return `${location.lockDir ?? DEFAULT_LOCK_DIR}/${lockFileName(location.environment)}`;
}

/** Single-quotes a value for sh. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

// The scripts start with a marker comment naming the operation: it shows in
// debug logs, and the in-memory test host recognizes the operation by it.

function acquireScript(path: string): string {
  return [
    '# lms-ha-lock acquire',
    'set -eu',
    `dir=${shQuote(dirOf(path))}`,
    `lock=${shQuote(path)}`,
    'umask 022',
    'mkdir -p "$dir"',
    'tmp=$(mktemp "$dir/.acquire.XXXXXX")',
    'cat > "$tmp"',
    'chmod 0644 "$tmp"',
    'if [ ! -d "$lock" ] && ln "$tmp" "$lock" 2>/dev/null; then',
    '  rm -f "$tmp"',
    '  echo acquired',
    'else',
    '  rm -f "$tmp"',
    '  echo held',
    '  cat "$lock" 2>/dev/null || true',
    'fi',
  ].join('\n');
}

function releaseScript(path: string, token: string): string {
  return [
    '# lms-ha-lock release',
    'set -eu',
    `lock=${shQuote(path)}`,
    `token=${shQuote(token)}`,
    'if [ ! -e "$lock" ]; then',
    '  echo absent',
    'elif grep -qF "\\"token\\":\\"$token\\"" "$lock"; then',
    '  rm -f "$lock"',
    '  echo released',
    'else',
    '  echo foreign',
    '  cat "$lock" 2>/dev/null || true',
    'fi',
  ].join('\n');
}

function breakScript(path: string): string {
  return [
    '# lms-ha-lock break',
    'set -eu',
    `lock=${shQuote(path)}`,
    // mv is atomic: what we print is exactly the lock we removed, even if
    // another run takes the lock right after.
    'moved="$lock.broken.$$"',
    'if mv "$lock" "$moved" 2>/dev/null; then',
    '  echo broken',
    '  cat "$moved" 2>/dev/null || true',
    '  rm -f "$moved"',
    'else',
    '  echo absent',
    'fi',
  ].join('\n');
}

/** Splits a script's output into its status word and the lock content after it. */
function parseOutput(stdout: string): { status: string; content: string } {
  const newline = stdout.indexOf('\n');
  if (newline < 0) return { status: stdout.trim(), content: '' };
  return { status: stdout.slice(0, newline).trim(), content: stdout.slice(newline + 1).trim() };
}

export function parseLockInfo(raw: string): LockInfo | null {
  try {
    const value = JSON.parse(raw) as Partial<LockInfo>;
    if (
      value &&
      typeof value === 'object' &&
      typeof value.runId === 'string' &&
      typeof value.repository === 'string' &&
      typeof value.startedAt === 'string' &&
      typeof value.token === 'string'
    ) {
      return {
        version: 1,
        environment: String(value.environment ?? ''),
        runId: value.runId,
        repository: value.repository,
        command: String(value.command ?? ''),
        startedAt: value.startedAt,
        runner: String(value.runner ?? ''),
        token: value.token,
      };
    }
  } catch {
    // fall through: unreadable lock
  }
  return null;
}

/** "3 h 5 min", for "since when". */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown time';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Names a holder in one sentence fragment: "run 42 of org/repo (deploy-db) since ... on host db1". */
export function describeHolder(holder: LockHolder, now: Date = new Date()): string {
  const info = holder.info;
  if (!info) {
    return `an unreadable lock file on host ${holder.host}${holder.raw ? ` (content: ${JSON.stringify(holder.raw.slice(0, 200))})` : ''}`;
  }
  const age = formatAge(now.getTime() - Date.parse(info.startedAt));
  return (
    `run ${info.runId} of ${info.repository}` +
    (info.command ? ` (${info.command})` : '') +
    ` since ${info.startedAt} (${age} ago)` +
    (info.runner ? ` from runner ${info.runner}` : '') +
    `, on host ${holder.host}`
  );
}

/**
 * Takes the lock on every host, in name order. If any host is held by someone
 * else, gives back what was taken and throws `locked` naming the holder.
 */
export async function acquireLock(hosts: readonly RemoteHost[], options: AcquireOptions): Promise<HostLock> {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const path = lockPath(options);
  const info: LockInfo = {
    version: 1,
    environment: options.environment,
    runId: options.owner.runId,
    repository: options.owner.repository,
    command: options.owner.command,
    startedAt: now().toISOString(),
    runner: options.owner.runner ?? hostname(),
    token: options.token ?? randomBytes(16).toString('hex'),
  };
  const content = JSON.stringify(info) + '\n';
  const ordered = sortByName(hosts);
  const taken: RemoteHost[] = [];

  const lock: HostLock = {
    environment: options.environment,
    info,
    hosts: [],
    release: () => releaseOn(taken, path, info.token, logger),
  };

  for (const host of ordered) {
    let result;
    try {
      result = await host.run(acquireScript(path), {
        purpose: `take the lms-ha lock for environment ${options.environment}`,
        stdin: content,
        timeoutMs: 60_000,
      });
    } catch (error) {
      await releaseOn(taken, path, info.token, logger);
      throw error;
    }
    const { status, content: held } = parseOutput(result.stdout);
    if (status === 'acquired') {
      taken.push(host);
      lock.hosts.push(host.name);
      continue;
    }
    const holder: LockHolder = { host: host.name, info: parseLockInfo(held), raw: held || undefined };
    if (status === 'held' && holder.info?.token === info.token) {
      // Our own lock (a retried call): already ours.
      taken.push(host);
      lock.hosts.push(host.name);
      continue;
    }
    await releaseOn(taken, path, info.token, logger);
    if (status !== 'held') {
      throw new DeployError('command-failed', `Could not take the lms-ha lock on ${host.name}: unexpected output ${JSON.stringify(result.stdout.slice(0, 200))}.`, {
        host: host.name,
      });
    }
    throw new DeployError('locked', `Environment "${options.environment}" is locked by ${describeHolder(holder, now())}.`, {
      host: host.name,
      hint: `Wait for that run to finish: two runs against one environment never interleave. ${options.breakHint ?? DEFAULT_BREAK_HINT}`,
    });
  }
  logger.info(`locked environment ${options.environment} on ${lock.hosts.length} host(s) (${path})`);
  return lock;
}

async function releaseOn(taken: RemoteHost[], path: string, token: string, logger: Logger): Promise<void> {
  // Reverse order of acquisition; each host independently, so one unreachable
  // host does not leave the others locked.
  for (const host of [...taken].reverse()) {
    try {
      const result = await host.run(releaseScript(path, token), {
        purpose: 'release the lms-ha lock',
        timeoutMs: 60_000,
      });
      const { status, content } = parseOutput(result.stdout);
      if (status === 'foreign') {
        const holder = describeHolder({ host: host.name, info: parseLockInfo(content), raw: content });
        logger.warn(`our lock was broken while we held it; the lock now belongs to ${holder} and is left in place`, host.name);
      } else if (status === 'absent') {
        logger.warn('our lock was already gone (broken by someone?)', host.name);
      } else if (status !== 'released') {
        logger.warn(`unexpected output while releasing the lock: ${JSON.stringify(result.stdout.slice(0, 200))}`, host.name);
      }
    } catch (error) {
      logger.warn(
        `could not release the lock ${path}: ${error instanceof Error ? error.message : String(error)}. ` +
          'The next run will report the environment as locked by this run; break the lock once this run has ended.',
        host.name,
      );
    }
  }
  taken.length = 0;
}

/** Runs `fn` holding the lock; the lock is released afterwards, also when `fn` throws. */
export async function withLock<T>(
  hosts: readonly RemoteHost[],
  options: AcquireOptions,
  fn: (lock: HostLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireLock(hosts, options);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

/**
 * Removes the environment's lock from every host, whoever holds it. Explicit
 * only (the operator asked for it); each broken lock is logged with its holder.
 * Returns the locks that were removed.
 */
export async function breakLock(
  hosts: readonly RemoteHost[],
  options: LockLocation & { logger: Logger; now?: () => Date },
): Promise<LockHolder[]> {
  const path = lockPath(options);
  const now = options.now ?? (() => new Date());
  const broken: LockHolder[] = [];
  for (const host of sortByName(hosts)) {
    const result = await host.run(breakScript(path), {
      purpose: `break the lms-ha lock for environment ${options.environment}`,
      timeoutMs: 60_000,
    });
    const { status, content } = parseOutput(result.stdout);
    if (status === 'broken') {
      const holder: LockHolder = { host: host.name, info: parseLockInfo(content), raw: content || undefined };
      broken.push(holder);
      options.logger.warn(`broke the lock held by ${describeHolder(holder, now())}`, host.name);
    } else if (status === 'absent') {
      options.logger.info(`no lock for environment ${options.environment}`, host.name);
    } else {
      throw new DeployError('command-failed', `Could not break the lms-ha lock on ${host.name}: unexpected output ${JSON.stringify(result.stdout.slice(0, 200))}.`, {
        host: host.name,
      });
    }
  }
  return broken;
}

/** Read-only: who holds the environment's lock, per host (plan mode uses this). */
export async function inspectLock(hosts: readonly RemoteHost[], options: LockLocation): Promise<LockHolder[]> {
  const path = lockPath(options);
  const holders: LockHolder[] = [];
  for (const host of sortByName(hosts)) {
    const content = await host.readFile(path);
    if (content === null) continue;
    const raw = content.toString('utf8').trim();
    holders.push({ host: host.name, info: parseLockInfo(raw), raw: raw || undefined });
  }
  return holders;
}

/** The plan warning for a held lock, or null when no host is locked. */
export function lockWarning(environment: string, holders: LockHolder[], now: Date = new Date()): string | null {
  if (holders.length === 0) return null;
  const first = holders[0]!;
  const more = holders.length > 1 ? ` (and ${holders.length - 1} more host${holders.length === 2 ? '' : 's'})` : '';
  return (
    `Environment "${environment}" is locked by ${describeHolder(first, now)}${more}. ` +
    'This plan may be stale, and an apply started now would fail with `locked`.'
  );
}

function sortByName(hosts: readonly RemoteHost[]): RemoteHost[] {
  return [...hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
