/**
 * The node's Galera option file, rendered from the model, read back from a
 * host, and compared: which changed settings can be applied live with SET
 * GLOBAL and which need a rolling restart.
 */
import {
  type GaleraModel,
  type GaleraNode,
  type OptionValue,
  assertValidGaleraModel,
  normalizeOptionKey,
  parseSize,
} from './model.js';
import { quoteString } from './sql.js';

export const GALERA_CONFIG_PATH = '/etc/mysql/mariadb.conf.d/60-galera.cnf';
/** Only for sst.auth=password: holds the SST password, root:mysql 0640. */
export const GALERA_SST_AUTH_PATH = '/etc/mysql/mariadb.conf.d/61-galera-sst.cnf';
export const GALERA_PROVIDER_PATH = '/usr/lib/galera/libgalera_smm.so';
export const MANAGED_HEADER = '# managed by lms-ha';

/**
 * `[mariadb]` is read by mariadbd, `mariadbd --wsrep-recover` and mariadb-backup,
 * never by the client programs; it is the group MariaDB's own Galera docs use.
 */
export const CONFIG_GROUP = 'mariadb';

function findNode(model: GaleraModel, node: string | GaleraNode): GaleraNode {
  const name = typeof node === 'string' ? node : node.name;
  const found = model.nodes.find((n) => n.name === name);
  if (!found) throw new Error(`node ${name} is not part of the Galera model`);
  return found;
}

/** `gcache.size=1G; gcs.fc_limit=160`: gcache first, the rest sorted, for a stable file. */
export function renderProviderOptions(model: GaleraModel): string {
  const extra = Object.keys(model.providerOptions)
    .sort()
    .map((k) => `${k}=${model.providerOptions[k]}`);
  return [`gcache.size=${model.gcacheSize}`, ...extra].join('; ');
}

function renderValue(v: OptionValue): string {
  if (typeof v === 'boolean') return v ? 'ON' : 'OFF';
  return String(v);
}

/**
 * The managed options in file order, as [key, value] (keys as written in the
 * file). `wsrep_sst_auth` appears here only when it holds no secret.
 */
export function galeraOptions(model: GaleraModel, node: string | GaleraNode): Array<[string, string]> {
  const n = findNode(model, node);
  const opts: Array<[string, string]> = [
    ['wsrep_on', 'ON'],
    ['wsrep_provider', GALERA_PROVIDER_PATH],
    ['wsrep_cluster_name', model.clusterName],
    ['wsrep_cluster_address', `gcomm://${model.nodes.map((x) => x.address).join(',')}`],
    ['wsrep_node_address', n.address],
    ['wsrep_node_name', n.name],
    ['wsrep_sst_method', model.sst.method],
  ];
  if (model.sst.method === 'mariabackup' && model.sst.auth === 'unix_socket') {
    // Empty password: mariadb-backup logs in over the socket as OS user mysql.
    opts.push(['wsrep_sst_auth', `${model.sst.user}:`]);
  }
  opts.push(
    ['wsrep_provider_options', `"${renderProviderOptions(model)}"`],
    ['wsrep_sync_wait', String(model.syncWait)],
    ['binlog_format', 'ROW'],
    ['default_storage_engine', 'InnoDB'],
    ['innodb_autoinc_lock_mode', '2'],
    ['bind-address', n.bindAddress ?? model.bindAddress],
    ['port', String(model.port)],
    ['innodb_buffer_pool_size', model.bufferPoolSize],
    ['max_connections', String(model.maxConnections)],
  );
  return opts;
}

/** Content of /etc/mysql/mariadb.conf.d/60-galera.cnf for one node. Deterministic. */
export function renderGaleraConfig(model: GaleraModel, node: string | GaleraNode): string {
  assertValidGaleraModel(model);
  const n = findNode(model, node);
  const lines = [
    `${MANAGED_HEADER}: changes made here are overwritten by the next deploy-db.`,
    `# Galera node ${n.name} of cluster ${model.clusterName}.`,
    `[${CONFIG_GROUP}]`,
    ...galeraOptions(model, n).map(([k, v]) => `${k} = ${v}`),
  ];
  const overridden = new Set(Object.keys(model.extra).map(normalizeOptionKey));
  const platformKeys = Object.keys(model.platform?.options ?? {}).filter((k) => !overridden.has(normalizeOptionKey(k)));
  if (model.platform && platformKeys.length > 0) {
    lines.push('', `# chosen by the ${model.platform.preset} preset (database.options overrides any of them)`);
    for (const k of platformKeys) lines.push(`${k} = ${renderValue(model.platform.options[k]!)}`);
  }
  const extraKeys = Object.keys(model.extra).sort();
  if (extraKeys.length > 0) {
    lines.push('', '# extra options from the inventory');
    for (const k of extraKeys) lines.push(`${k} = ${renderValue(model.extra[k]!)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A file the transport must write with this owner and mode. `content` holds a secret. */
export interface SecretFile {
  path: string;
  content: string;
  /** The same file with the secret replaced, for plans and diffs. */
  redacted: string;
  mode: number;
  owner: string;
  group: string;
}

/** my.cnf double-quoted value: backslash and quote are escape-processed by the option parser. */
function quoteOptionValue(v: string): string {
  if (/[\r\n\0]/.test(v)) throw new Error('option values cannot contain line breaks or NUL');
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Only for sst.auth=password with mariabackup: the SST credentials in their own
 * file, root:mysql 0640, so 60-galera.cnf stays free of secrets and readable.
 * mysqld runs as `mysql` on Debian (User=mysql in mariadb.service) and must read it.
 */
export function renderSstAuthFile(model: GaleraModel, password: string): SecretFile | null {
  if (model.sst.method !== 'mariabackup' || model.sst.auth !== 'password') return null;
  const head = [`${MANAGED_HEADER}: SST credentials; root:mysql 0640, never world-readable.`, `[${CONFIG_GROUP}]`];
  return {
    path: GALERA_SST_AUTH_PATH,
    content: `${[...head, `wsrep_sst_auth = ${quoteOptionValue(`${model.sst.user}:${password}`)}`].join('\n')}\n`,
    redacted: `${[...head, `wsrep_sst_auth = "${model.sst.user}:<redacted>"`].join('\n')}\n`,
    mode: 0o640,
    owner: 'root',
    group: 'mysql',
  };
}

// ---------------------------------------------------------------------------
// Reading an option file back

export interface OptionFile {
  /** Group name → options (normalized keys, unquoted values), in file order. */
  groups: Map<string, Map<string, string>>;
}

function unquoteOptionValue(raw: string): string {
  let v = raw.trim();
  // A comment may follow the value when it is not inside quotes.
  const q = v[0];
  if (q === '"' || q === "'") {
    let out = '';
    for (let i = 1; i < v.length; i++) {
      const c = v[i]!;
      if (c === '\\' && i + 1 < v.length) {
        const e = v[++i]!;
        out += ({ n: '\n', t: '\t', r: '\r', b: '\b', s: ' ' } as Record<string, string>)[e] ?? e;
      } else if (c === q) {
        return out;
      } else {
        out += c;
      }
    }
    return out; // unterminated: take what there is
  }
  const hash = v.search(/\s[#;]/);
  if (hash >= 0) v = v.slice(0, hash).trim();
  return v;
}

/** Parses a my.cnf-style file. `!include` lines are ignored: we compare one file. */
export function parseOptionFile(text: string): OptionFile {
  const groups = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('!')) continue;
    const section = /^\[([^\]]+)\]/.exec(line);
    if (section) {
      const name = section[1]!.trim().toLowerCase();
      current = groups.get(name) ?? new Map();
      groups.set(name, current);
      continue;
    }
    if (!current) continue; // options before any group are ignored by the server too
    const eq = line.indexOf('=');
    const key = normalizeOptionKey(eq < 0 ? line : line.slice(0, eq));
    current.set(key, eq < 0 ? '' : unquoteOptionValue(line.slice(eq + 1)));
  }
  return { groups };
}

const SERVER_GROUPS = ['client-server', 'mysqld', 'server', 'mariadb', 'mariadbd', 'galera'];

/** What mariadbd would take from this file: all server groups, later ones winning. */
export function serverOptions(file: OptionFile | string): Map<string, string> {
  const parsed = typeof file === 'string' ? parseOptionFile(file) : file;
  const out = new Map<string, string>();
  for (const [name, opts] of parsed.groups) {
    const base = name.replace(/-\d+(\.\d+)*$/, '');
    if (!SERVER_GROUPS.includes(base)) continue;
    for (const [k, v] of opts) out.set(k, v);
  }
  return out;
}

/** `gcache.size=1G; gcs.fc_limit=160` → Map. */
export function parseProviderOptions(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of value.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq < 0) out.set(p, '');
    else out.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
  }
  return out;
}

// ---------------------------------------------------------------------------
// Classifying a change

/**
 * Variables MariaDB 10.11 accepts with SET GLOBAL without a restart (Dynamic:
 * Yes in the server docs) and that are safe to change live on a Galera node.
 * Anything not listed needs a rolling restart: when unsure, restart.
 */
export const DYNAMIC_VARIABLES: ReadonlySet<string> = new Set([
  'max_connections',
  'wsrep_sync_wait',
  // The presets' single-writer auto-increment settings change live.
  'wsrep_auto_increment_control',
  'auto_increment_increment',
  'auto_increment_offset',
  'innodb_buffer_pool_size', // resizable online since 10.2.2
  'wsrep_sst_method',
  'wsrep_sst_donor',
  'wsrep_slave_threads',
  'wsrep_applier_threads',
  'wsrep_log_conflicts',
  'wsrep_retry_autocommit',
  'wsrep_max_ws_rows',
  'wsrep_max_ws_size',
  'max_allowed_packet',
  'max_connect_errors',
  'wait_timeout',
  'interactive_timeout',
  'net_read_timeout',
  'net_write_timeout',
  'long_query_time',
  'slow_query_log',
  'log_warnings',
  'innodb_flush_log_at_trx_commit',
  'innodb_io_capacity',
  'innodb_io_capacity_max',
  'innodb_lock_wait_timeout',
  'innodb_max_dirty_pages_pct',
  'table_open_cache',
  'table_definition_cache',
  'thread_cache_size',
  'tmp_table_size',
  'max_heap_table_size',
  'sort_buffer_size',
  'join_buffer_size',
  'read_buffer_size',
  'read_rnd_buffer_size',
]);

/**
 * Written to the file, applied by nothing: the gcomm:// list is only read when a
 * node (re)connects, so growing the cluster must not restart the others, and
 * SET GLOBAL wsrep_cluster_address would make the node leave and rejoin.
 */
export const FILE_ONLY_VARIABLES: ReadonlySet<string> = new Set(['wsrep_cluster_address']);

export type ApplyMethod = 'set-global' | 'restart' | 'file-only';

export interface OptionChange {
  /** Normalized key; provider sub-options as `wsrep_provider_options.gcache.size`. */
  key: string;
  from: string | null;
  to: string | null;
  apply: ApplyMethod;
}

export interface ConfigChangeClassification {
  changes: OptionChange[];
  /** Statements to run on every node (SET GLOBAL is not replicated). */
  setGlobal: string[];
  restartRequired: boolean;
  /** Keys that force the restart, for the plan. */
  restartBecause: string[];
}

const SIZE_WITH_SUFFIX = /^\d+[KMGT]$/i;

/** The right-hand side of SET GLOBAL: sizes in bytes (SET takes no suffixes), ON/OFF as words. */
export function setGlobalValue(value: string | null): string {
  if (value === null) return 'DEFAULT';
  const v = value.trim();
  if (SIZE_WITH_SUFFIX.test(v)) return String(parseSize(v));
  if (/^-?\d+(\.\d+)?$/.test(v)) return v;
  if (/^(ON|OFF|TRUE|FALSE)$/i.test(v)) return v.toUpperCase();
  return quoteString(v);
}

function toMap(options: Map<string, string> | Record<string, string>): Map<string, string> {
  const entries = options instanceof Map ? [...options] : Object.entries(options);
  return new Map(entries.map(([k, v]) => [normalizeOptionKey(k), v]));
}

/**
 * Compares two option sets (as `serverOptions` returns them) and says how each
 * difference is applied. Provider options are compared one by one; none of them
 * is changed live (gcache.size is not dynamic; the others are rare enough that a
 * rolling restart is the safe default).
 */
export function classifyConfigChange(
  oldOptions: Map<string, string> | Record<string, string>,
  newOptions: Map<string, string> | Record<string, string>,
): ConfigChangeClassification {
  const before = toMap(oldOptions);
  const after = toMap(newOptions);
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changes: OptionChange[] = [];
  for (const key of keys) {
    const from = before.get(key) ?? null;
    const to = after.get(key) ?? null;
    if (from === to) continue;
    if (key === 'wsrep_provider_options') {
      const a = parseProviderOptions(from ?? '');
      const b = parseProviderOptions(to ?? '');
      for (const sub of [...new Set([...a.keys(), ...b.keys()])].sort()) {
        const f = a.get(sub) ?? null;
        const t = b.get(sub) ?? null;
        if (f !== t) changes.push({ key: `${key}.${sub}`, from: f, to: t, apply: 'restart' });
      }
      continue;
    }
    const apply: ApplyMethod = FILE_ONLY_VARIABLES.has(key)
      ? 'file-only'
      : DYNAMIC_VARIABLES.has(key)
        ? 'set-global'
        : 'restart';
    changes.push({ key, from, to, apply });
  }
  const restartBecause = changes.filter((c) => c.apply === 'restart').map((c) => c.key);
  return {
    changes,
    setGlobal: changes
      .filter((c) => c.apply === 'set-global')
      .map((c) => `SET GLOBAL ${c.key} = ${setGlobalValue(c.to)}`),
    restartRequired: restartBecause.length > 0,
    restartBecause,
  };
}

/** What is on the host vs what we would write; `actual` null = file missing. */
export function compareGaleraConfig(
  expected: string,
  actual: string | null,
): { identical: boolean; missing: boolean; classification: ConfigChangeClassification } {
  const expectedOpts = serverOptions(expected);
  if (actual === null) {
    return { identical: false, missing: true, classification: classifyConfigChange(new Map(), expectedOpts) };
  }
  return {
    identical: actual === expected,
    missing: false,
    classification: classifyConfigChange(serverOptions(actual), expectedOpts),
  };
}
