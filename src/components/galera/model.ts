/**
 * The Galera component's own input model. The inventory layer maps its
 * `Environment` onto this; nothing in src/components/galera knows the YAML.
 *
 * Secrets never live here: the model names them (`passwordSecret`) and the
 * caller passes resolved values only to the functions that must put them on
 * stdin or into a 0640 root:mysql file.
 */
import { DeployError } from '../../errors.js';

export type SstMethod = 'mariabackup' | 'rsync';

/**
 * How the SST script authenticates to the donor's server.
 *
 * - `unix_socket` (default): `wsrep_sst_auth = mysql:`. The SST script is run
 *   by mysqld, i.e. as the OS user `mysql`, and mariadb-backup connects over
 *   the local socket, so the MariaDB account `mysql@localhost IDENTIFIED VIA
 *   unix_socket` authenticates it with no password at all: nothing to leak in
 *   a file, in `ps`, or in the error log (mysql-wsrep#141). Documented by
 *   MariaDB ("mariadb-backup SST Method", Passwordless Authentication - Unix
 *   Socket). The account name must equal the OS user running mysqld.
 * - `password`: a dedicated account (e.g. `sst@localhost`) with only the
 *   grants mariadb-backup needs; its password goes into a separate file
 *   (see config.ts `renderSstAuthFile`) owned root:mysql, mode 0640, never into
 *   the world-readable 60-galera.cnf.
 */
export type SstAuth = 'unix_socket' | 'password';

export interface GaleraNode {
  /** Inventory name; also `wsrep_node_name`. */
  name: string;
  /** Address the other nodes reach it on; `wsrep_node_address` and in gcomm://. */
  address: string;
  /** Per-node override of the model's bindAddress. */
  bindAddress?: string;
}

export interface GaleraSst {
  method: SstMethod;
  /** Ignored for rsync (rsync SST does not log in to the server). */
  auth: SstAuth;
  /** MariaDB account name. For unix_socket it must be the mysqld OS user (`mysql`). */
  user: string;
  /** Name of the secret holding the password; required for auth=password. */
  passwordSecret?: string;
}

export type OptionValue = string | number | boolean;

export interface GaleraModel {
  clusterName: string;
  nodes: GaleraNode[];
  sst: GaleraSst;
  /** Galera writeset cache, e.g. "1G". Sizes take K/M/G/T suffixes as in my.cnf. */
  gcacheSize: string;
  bufferPoolSize: string;
  maxConnections: number;
  /** Causality checks; the app presets use 1 (reads), as the seeds do. */
  syncWait: number;
  /** Default `0.0.0.0`: the firewall (provision) limits who reaches 3306. */
  bindAddress: string;
  port: number;
  /** Further provider options besides gcache.size, e.g. { 'gcs.fc_limit': '160' }. */
  providerOptions: Record<string, string>;
  /** Further [mariadb] options; keys must not collide with the managed ones. */
  extra: Record<string, OptionValue>;
  /**
   * Settings the application preset decides (skip_name_resolve, auto-increment
   * under a single writer), rendered in their own block under the preset's name.
   * An `extra` option of the same name wins and drops the preset's.
   */
  platform: { preset: string; options: Record<string, OptionValue> } | null;
  /** MariaDB major.minor (e.g. "10.11"): decides privilege names and dynamic variables. */
  version: string;
}

export type GaleraModelInput = Pick<GaleraModel, 'clusterName' | 'nodes'> &
  Partial<Omit<GaleraModel, 'clusterName' | 'nodes' | 'sst'>> & { sst?: Partial<GaleraSst> };

export const GALERA_DEFAULTS = {
  gcacheSize: '1G',
  bufferPoolSize: '1G',
  maxConnections: 500,
  syncWait: 1,
  bindAddress: '0.0.0.0',
  port: 3306,
  version: '10.11',
} as const;

/**
 * How fast the cluster drops a member that died without saying goodbye (a
 * killed mariadbd, a crashed host). Galera's defaults suspect a silent member
 * after 5 s (evs.suspect_timeout) and, until the others agree it is gone,
 * every commit on the survivors waits: measured in the lab, writes through the
 * VIP came back 6.1 s after the writer was killed, 5.5 s of it this wait. 2 s
 * with a keepalive every 0.5 s keeps four keepalives in each window, so one
 * late packet on a busy host does not evict anybody. Once suspected, the
 * survivors agree on the new view by exchanging join messages, resent every
 * evs.join_retrans_period (default 1 s; seen taking 0.5-1 s in the lab), and
 * the suspicion itself is looked for every evs.inactive_check_period (default
 * 0.5 s). The inventory's providerOptions can still set other values.
 * MariaDB's own Galera tests run with evs.suspect_timeout=PT1S.
 */
export const GALERA_FAILURE_DETECTION: Readonly<Record<string, string>> = {
  'evs.inactive_check_period': 'PT0.25S',
  'evs.join_retrans_period': 'PT0.5S',
  'evs.keepalive_period': 'PT0.5S',
  'evs.suspect_timeout': 'PT2S',
};

/** The OS user mysqld runs as on Debian/Ubuntu and RHEL packages. */
export const MYSQLD_OS_USER = 'mysql';

/** Fills defaults. Validation is separate so the inventory can report all problems at once. */
export function galeraModel(input: GaleraModelInput): GaleraModel {
  const method = input.sst?.method ?? 'mariabackup';
  const auth = input.sst?.auth ?? 'unix_socket';
  return {
    clusterName: input.clusterName,
    nodes: input.nodes.map((n) => ({ ...n })),
    sst: {
      method,
      auth,
      user: input.sst?.user ?? (auth === 'unix_socket' ? MYSQLD_OS_USER : 'sst'),
      ...(input.sst?.passwordSecret !== undefined ? { passwordSecret: input.sst.passwordSecret } : {}),
    },
    gcacheSize: input.gcacheSize ?? GALERA_DEFAULTS.gcacheSize,
    bufferPoolSize: input.bufferPoolSize ?? GALERA_DEFAULTS.bufferPoolSize,
    maxConnections: input.maxConnections ?? GALERA_DEFAULTS.maxConnections,
    syncWait: input.syncWait ?? GALERA_DEFAULTS.syncWait,
    bindAddress: input.bindAddress ?? GALERA_DEFAULTS.bindAddress,
    port: input.port ?? GALERA_DEFAULTS.port,
    providerOptions: { ...GALERA_FAILURE_DETECTION, ...(input.providerOptions ?? {}) },
    extra: { ...(input.extra ?? {}) },
    platform: input.platform ? { preset: input.platform.preset, options: { ...input.platform.options } } : null,
    version: input.version ?? GALERA_DEFAULTS.version,
  };
}

const SIZE_RE = /^(\d+)([KMGT]?)$/i;

/** "1G" → 1073741824. Returns null for anything my.cnf would not read as a size. */
export function parseSize(value: string): number | null {
  const m = SIZE_RE.exec(value.trim());
  if (!m) return null;
  const exp = { '': 0, K: 1, M: 2, G: 3, T: 4 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const n = Number(m[1]) * 1024 ** exp;
  return Number.isSafeInteger(n) ? n : null;
}

/** Options the component renders itself; `extra` may not override them. */
export const MANAGED_OPTION_KEYS = [
  'wsrep_on',
  'wsrep_provider',
  'wsrep_cluster_name',
  'wsrep_cluster_address',
  'wsrep_node_address',
  'wsrep_node_name',
  'wsrep_sst_method',
  'wsrep_sst_auth',
  'wsrep_provider_options',
  'wsrep_sync_wait',
  'binlog_format',
  'default_storage_engine',
  'innodb_autoinc_lock_mode',
  'bind_address',
  'port',
  'innodb_buffer_pool_size',
  'max_connections',
] as const;

/** my.cnf treats `-` and `_` in option names alike; compare on this form. */
export function normalizeOptionKey(key: string): string {
  return key.trim().toLowerCase().replace(/-/g, '_');
}

// Values end up in an option file: a newline would inject another option.
const SAFE_VALUE_RE = /^[^\r\n\0]*$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const PROVIDER_KEY_RE = /^[a-z_]+(\.[a-z_]+)+$/;

/** Every problem with the model, in words for the inventory's error list. Empty = valid. */
export function validateGaleraModel(model: GaleraModel): string[] {
  const problems: string[] = [];
  if (!NAME_RE.test(model.clusterName)) {
    problems.push(`clusterName "${model.clusterName}" must be letters, digits, '.', '_' or '-'`);
  }
  if (model.nodes.length === 0) problems.push('at least one database node is required');
  if (model.nodes.length === 2) {
    problems.push('2 database nodes cannot keep quorum when one fails: use 3 (or an odd number)');
  }
  const names = new Set<string>();
  const addresses = new Set<string>();
  for (const n of model.nodes) {
    if (!NAME_RE.test(n.name)) problems.push(`node name "${n.name}" must be letters, digits, '.', '_' or '-'`);
    if (names.has(n.name)) problems.push(`node name "${n.name}" is used twice`);
    names.add(n.name);
    if (!/^[A-Za-z0-9.:_-]+$/.test(n.address)) problems.push(`node ${n.name}: address "${n.address}" is not a host name or IP`);
    if (addresses.has(n.address)) problems.push(`node ${n.name}: address ${n.address} is used by another node`);
    addresses.add(n.address);
    if (n.bindAddress !== undefined && !/^[A-Za-z0-9.:_-]+$/.test(n.bindAddress)) {
      problems.push(`node ${n.name}: bindAddress "${n.bindAddress}" is not a host name or IP`);
    }
  }
  if (!/^[A-Za-z0-9.:_-]+$/.test(model.bindAddress)) problems.push(`bindAddress "${model.bindAddress}" is not a host name or IP`);
  for (const [label, v] of [['gcacheSize', model.gcacheSize], ['bufferPoolSize', model.bufferPoolSize]] as const) {
    if (parseSize(v) === null) problems.push(`${label} "${v}" must be a size such as 512M or 2G`);
  }
  if (!Number.isInteger(model.maxConnections) || model.maxConnections < 1 || model.maxConnections > 100000) {
    problems.push(`maxConnections ${model.maxConnections} must be an integer from 1 to 100000`);
  }
  // wsrep_sync_wait is a bitmask 0..15 (MariaDB: 1 READ, 2 UPDATE/DELETE, 4 INSERT/REPLACE, 8 SHOW).
  if (!Number.isInteger(model.syncWait) || model.syncWait < 0 || model.syncWait > 15) {
    problems.push(`syncWait ${model.syncWait} must be an integer bitmask from 0 to 15`);
  }
  if (!Number.isInteger(model.port) || model.port < 1 || model.port > 65535) problems.push(`port ${model.port} is not a TCP port`);
  if (!/^\d+\.\d+(\.\d+)?$/.test(model.version)) problems.push(`version "${model.version}" must look like 10.11`);
  if (model.sst.method !== 'mariabackup' && model.sst.method !== 'rsync') {
    problems.push(`sst.method "${String(model.sst.method)}" must be mariabackup or rsync`);
  }
  if (model.sst.method === 'mariabackup') {
    if (model.sst.auth === 'unix_socket' && model.sst.user !== MYSQLD_OS_USER) {
      problems.push(
        `sst.user "${model.sst.user}" cannot use unix_socket: the SST script runs as the OS user "${MYSQLD_OS_USER}", so the account must be named "${MYSQLD_OS_USER}"`,
      );
    }
    if (model.sst.auth === 'password' && !model.sst.passwordSecret) {
      problems.push('sst.auth=password needs sst.passwordSecret (the name of the secret)');
    }
    if (!/^[A-Za-z0-9_.-]{1,80}$/.test(model.sst.user)) problems.push(`sst.user "${model.sst.user}" is not a valid account name`);
  }
  for (const [k, v] of Object.entries(model.providerOptions)) {
    if (!PROVIDER_KEY_RE.test(k)) problems.push(`providerOptions key "${k}" is not a Galera option name`);
    if (k === 'gcache.size') problems.push('providerOptions may not set gcache.size: use gcacheSize');
    if (!SAFE_VALUE_RE.test(v) || v.includes(';') || v.includes('"')) {
      problems.push(`providerOptions ${k}: the value may not contain ';', '"' or a line break`);
    }
  }
  const managed = new Set<string>(MANAGED_OPTION_KEYS);
  for (const [k, v] of Object.entries(model.extra)) {
    const key = normalizeOptionKey(k);
    if (!/^[a-z0-9_]+$/.test(key)) problems.push(`extra option "${k}" is not an option name`);
    if (managed.has(key)) problems.push(`extra option "${k}" is managed by lms-ha: use the dedicated setting`);
    if (typeof v === 'string' && !SAFE_VALUE_RE.test(v)) problems.push(`extra option "${k}": the value may not contain a line break`);
  }
  return problems;
}

/** Throws `invalid-inventory` listing every problem (for callers that have no file positions). */
export function assertValidGaleraModel(model: GaleraModel): void {
  const problems = validateGaleraModel(model);
  if (problems.length > 0) {
    throw new DeployError('invalid-inventory', `invalid Galera settings:\n- ${problems.join('\n- ')}`, {
      hint: 'Fix the database section of the inventory.',
    });
  }
}

/** `major.minor` compare: versionAtLeast("10.11", "10.5") is true. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}
