/**
 * The typed changes a plan is made of.
 *
 * A change is pure data that describes what will happen (it is rendered, hashed
 * and reviewed); how it happens is a separate `apply` function attached by the
 * component that computed it. Hashing and rendering never look at `apply`, so
 * two plans that would do the same thing hash the same, whatever closures they carry.
 */
import type { Logger } from '../log.js';
import type { RemoteHost } from '../ssh/types.js';

export const CHANGE_KINDS = ['file', 'package', 'service', 'sql', 'cluster', 'user', 'directory'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

interface ChangeBase {
  /**
   * Stable identity: the same change computed on another run or machine has the
   * same id (see `changeId`). Used to match plan steps with apply results.
   */
  id: string;
  /** Inventory name of the host the change is applied on. */
  host: string;
  /** One line, for tables and logs. Never contains a secret. */
  summary: string;
  /**
   * Opaque digest of desired state that cannot be shown (e.g. a keyed hash of a
   * new password), so that changing it changes the plan hash. Hashed, never rendered.
   * Must not be the secret itself.
   */
  fingerprint?: string;
}

/** What is (or should be) at a path. `content` when known, else its sha256. */
export interface FileState {
  content?: string;
  /** Hex sha256 of the content, for files we do not read whole (large, binary). */
  sha256?: string;
  /** Octal mode, e.g. 0o640. */
  mode?: number;
  owner?: string;
  group?: string;
}

export interface FileChange extends ChangeBase {
  kind: 'file';
  path: string;
  /** null: the file does not exist yet. */
  before: FileState | null;
  /** null: the file is removed. */
  after: FileState | null;
  /**
   * The content holds secrets (credentials, keys): the diff is never shown and the
   * content never leaves the process, only line counts and metadata do.
   */
  sensitive: boolean;
}

export interface PackageChange extends ChangeBase {
  kind: 'package';
  name: string;
  /** Installed version, null when not installed. */
  from: string | null;
  /** Version to install. */
  to: string;
}

export const SERVICE_ACTIONS = ['start', 'stop', 'restart', 'reload', 'enable', 'disable'] as const;
export type ServiceAction = (typeof SERVICE_ACTIONS)[number];

export interface ServiceChange extends ChangeBase {
  kind: 'service';
  unit: string;
  action: ServiceAction;
}

export const SQL_OBJECT_KINDS = ['user', 'database', 'grant', 'variable'] as const;
export type SqlObjectKind = (typeof SQL_OBJECT_KINDS)[number];
export const SQL_ACTIONS = ['create', 'alter', 'drop', 'set'] as const;
export type SqlAction = (typeof SQL_ACTIONS)[number];

export interface SqlChange extends ChangeBase {
  kind: 'sql';
  /**
   * `cluster`: the statement replicates (Galera), so it runs once, on `host`.
   * `host`: it only affects that server (e.g. a non-replicated global variable).
   */
  scope: 'host' | 'cluster';
  object: SqlObjectKind;
  /** e.g. `'moodle'@'10.0.0.%'`, `moodle`, `wsrep_sync_wait`. */
  name: string;
  action: SqlAction;
  /**
   * What changes, in words. Never a password: say "password changed" and put a
   * keyed digest in `fingerprint`.
   */
  detail: string;
}

export const CLUSTER_STEPS = [
  'bootstrap',
  'join',
  'rolling-restart',
  'recover',
  'leave',
  'peer-probe',
  'volume-create',
  'volume-start',
  'volume-option',
  'brick-add',
  'brick-restart',
  'mount',
  'migrate-data',
  'failover',
] as const;
export type ClusterStep = (typeof CLUSTER_STEPS)[number];

export interface ClusterChange extends ChangeBase {
  kind: 'cluster';
  step: ClusterStep;
  /** Why this step and what it waits for, e.g. "highest seqno 1234; waits for Synced and size 3". */
  detail: string;
}

/** A system (service) account, created without a login shell or password. */
export interface UserChange extends ChangeBase {
  kind: 'user';
  name: string;
  action: 'create';
  /** Why the account exists, e.g. "keepalived runs its scripts as this user". */
  detail: string;
}

/** A directory that must exist with this owner and mode. */
export interface DirectoryChange extends ChangeBase {
  kind: 'directory';
  path: string;
  /** null: the directory does not exist yet. */
  before: { mode?: number; owner?: string; group?: string } | null;
  after: { mode: number; owner: string; group: string };
}

/** The description of a change: data only, what is rendered, hashed and reviewed. */
export type Change = FileChange | PackageChange | ServiceChange | SqlChange | ClusterChange | UserChange | DirectoryChange;

/** What an apply function gets: the host the change is for, all hosts, and the log. */
export interface ApplyContext {
  host: RemoteHost;
  /** Every connected host by inventory name (cluster steps talk to peers). */
  hosts: ReadonlyMap<string, RemoteHost>;
  logger: Logger;
  change: Change;
}

export type ApplyFn = (ctx: ApplyContext) => Promise<void>;

/** A change plus how to make it happen. `apply` is never hashed or rendered. */
export type PlannedChange = Change & { apply: ApplyFn };

/**
 * Builds a stable id from the parts that identify a change, e.g.
 * `changeId('file', 'db1', '/etc/mysql/conf.d/galera.cnf')`.
 */
export function changeId(kind: ChangeKind, host: string, ...parts: string[]): string {
  return [kind, host, ...parts].join(':');
}

/** Separates the description from the apply function. */
export function changeData(change: Change | PlannedChange): Change {
  const { apply: _apply, ...data } = change as PlannedChange;
  return data as Change;
}

/** Formats a mode as `0640`. */
export function formatMode(mode: number | undefined): string | undefined {
  return mode === undefined ? undefined : '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

/** The short label of a change's action, for tables: `update`, `install`, `restart`, ... */
export function changeAction(change: Change): string {
  switch (change.kind) {
    case 'file':
      if (change.before === null) return 'create';
      if (change.after === null) return 'delete';
      return 'update';
    case 'package':
      return change.from === null ? 'install' : 'upgrade';
    case 'service':
      return change.action;
    case 'sql':
      return change.action;
    case 'cluster':
      return change.step;
    case 'user':
      return 'create';
    case 'directory':
      return change.before === null ? 'create' : 'update';
  }
}

/** What the change is about: a path, a package, a unit, an SQL object, a cluster step. */
export function changeTarget(change: Change): string {
  switch (change.kind) {
    case 'file':
      return change.path;
    case 'package':
      return change.name;
    case 'service':
      return change.unit;
    case 'sql':
      return `${change.object} ${change.name}`;
    case 'cluster':
      // The step names the action; the host (in the line's prefix) is the node it acts on.
      return 'node';
    case 'user':
      return `user ${change.name}`;
    case 'directory':
      return change.path;
  }
}
