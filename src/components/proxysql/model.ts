/**
 * ProxySQL 2.x desired state (seeds 000, 001): the rows the admin tables must
 * hold on every ProxySQL, derived from a small model the lead maps the
 * inventory onto. The SQL renderer and the runtime diff both work from these
 * rows, so what is applied and what is compared can never drift apart.
 *
 * Decisions:
 * - Hostgroups writer 10, backup writer 20, reader 30, offline 9999.
 * - `max_writers=1`, `writer_is_also_reader=2`: one writer; readers are the
 *   backup writers, i.e. "reads to the others" (the Open edX layout). With 0, Galera nodes
 *   (all read_only=OFF) would never be readers; with 1 the writer also serves
 *   reads. Caveat: when only the writer is left, the reader hostgroup is empty
 *   and plain SELECTs fail until another node is back (research §5); with three
 *   nodes that state has lost quorum anyway.
 * - Explicit weights: the first db node 1000, then 990, 980, ... ProxySQL keeps
 *   the writer(s) with the highest weight (`ORDER BY weight DESC, hostname DESC`),
 *   so every ProxySQL picks the same writer and the succession follows the
 *   inventory order, as HAProxy's backup order does. Readers get near-equal
 *   shares. When the first node returns it becomes the writer again (failback),
 *   as with HAProxy's `on-marked-up shutdown-backup-sessions`.
 * - All servers are inserted into the writer hostgroup; the Galera monitor moves
 *   them to backup/reader/offline. The monitor decides placement, so the diff
 *   compares hosts and their settings, never which hostgroup holds them.
 * - Query rules: locking reads (`SELECT ... FOR UPDATE`, `... LOCK IN SHARE MODE`)
 *   to the writer, every other `SELECT` to the readers, everything else to the
 *   user's default hostgroup (the writer). `match_digest` is what ProxySQL's
 *   read/write split guide uses; `transaction_persistent=1` keeps a transaction's
 *   reads on the writer.
 * - Application passwords are stored as the mysql_native_password hash
 *   (`*` + SHA1(SHA1(pw))), which is what ProxySQL's default
 *   `admin-hash_passwords=true` keeps at runtime anyway: no clear-text
 *   application password in ProxySQL's memory tables or its disk database.
 * - Monitor and admin credentials are clear text (ProxySQL needs them so); the
 *   admin login moves off admin:admin and the admin interface to 127.0.0.1:6032.
 */
import { createHash } from 'node:crypto';
import { DeployError } from '../../errors.js';

export const PROXYSQL_HOSTGROUPS = { writer: 10, backupWriter: 20, reader: 30, offline: 9999 } as const;
export const PROXYSQL_ADMIN_INTERFACE = '127.0.0.1:6032';
export const PROXYSQL_ADMIN_USER = 'admin';
export const PROXYSQL_COMMENT = 'lms-ha';

export interface ProxysqlBackend {
  /** Inventory host name (goes into the row comment). */
  name: string;
  address: string;
  /** Default 3306. */
  port?: number;
}

export interface ProxysqlUser {
  name: string;
  /** Clear text, resolved from the secret; only its hash reaches ProxySQL. */
  password: string;
  defaultSchema?: string;
  /** Frontend connection limit for the user. Default 10000 (ProxySQL's). */
  maxConnections?: number;
}

export interface ProxysqlModel {
  /** In inventory order: the first one is the writer while it is healthy. */
  dbNodes: ProxysqlBackend[];
  users: ProxysqlUser[];
  monitor: { username: string; password: string };
  /** New password for the `admin` login (replaces admin:admin). */
  adminPassword: string;
  /** Default 127.0.0.1:6032: the admin interface is never reachable from the network. */
  adminInterface?: string;
  /** Readers lagging more than this many write-sets go offline. Default 100 (proxysql-admin's). */
  maxTransactionsBehind?: number;
  /** Backend connection limit per server. Default 1000 (ProxySQL's). */
  maxConnectionsPerServer?: number;
  /**
   * Galera health check timing. Defaults 500 ms / 400 ms / 3, for the same target as
   * HAProxy's checks: writes back within 3 s of the writer dying. A node that
   * refuses the check's connection is taken out at once; one that hangs after
   * 3 timed-out checks, about 1.5 s. ProxySQL's own default is 5000 ms and its
   * Galera guide uses 1000/600/3, which would spend the whole budget on
   * detection alone.
   */
  galeraCheck?: { intervalMs?: number; timeoutMs?: number; maxTimeoutCount?: number };
}

export interface ServerRow {
  hostgroup_id: number;
  hostname: string;
  port: number;
  weight: number;
  max_connections: number;
  comment: string;
}

export interface GaleraHostgroupRow {
  writer_hostgroup: number;
  backup_writer_hostgroup: number;
  reader_hostgroup: number;
  offline_hostgroup: number;
  active: number;
  max_writers: number;
  writer_is_also_reader: number;
  max_transactions_behind: number;
  comment: string;
}

export interface QueryRuleRow {
  rule_id: number;
  active: number;
  match_digest: string;
  destination_hostgroup: number;
  apply: number;
  comment: string;
}

export interface UserRow {
  username: string;
  /** mysql_native_password hash of the password. */
  password: string;
  active: number;
  default_hostgroup: number;
  default_schema: string | null;
  transaction_persistent: number;
  max_connections: number;
  comment: string;
}

export interface GlobalVariableRow {
  variable_name: string;
  variable_value: string;
  /** Never shown: a change is reported without values. */
  secret: boolean;
}

export interface ProxysqlDesiredState {
  /** Global variables loaded with LOAD MYSQL VARIABLES. */
  mysqlVariables: GlobalVariableRow[];
  servers: ServerRow[];
  galeraHostgroups: GaleraHostgroupRow[];
  users: UserRow[];
  queryRules: QueryRuleRow[];
  /** Global variables loaded with LOAD ADMIN VARIABLES. */
  adminVariables: GlobalVariableRow[];
  /** Every secret value that appears in rendered SQL (for redaction). */
  secrets: string[];
}

/** MariaDB's PASSWORD() for mysql_native_password: "*" + upper hex SHA1(SHA1(pw)). */
export function mysqlNativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`;
}

const IDENT = /^[A-Za-z0-9_][A-Za-z0-9_.$-]*$/;
const HOST = /^[A-Za-z0-9][A-Za-z0-9.:-]*$/;
const IFACE = /^[0-9A-Za-z.:\[\]-]+:\d{1,5}$/;

function invalid(message: string, hint: string): never {
  throw new DeployError('invalid-inventory', message, { hint });
}

function positiveInt(what: string, value: number, min = 0): number {
  if (!Number.isInteger(value) || value < min) invalid(`${what} ${value} is not an integer >= ${min}`, 'Leave it out for the default.');
  return value;
}

function checkSecret(what: string, value: string, forbidden: string[] = []): void {
  if (value.length === 0) {
    throw new DeployError('missing-secret', `the ${what} is empty`, { hint: `Set the environment variable the inventory names for the ${what}.` });
  }
  for (const c of ['\\', '\n', '\r', '\0', ...forbidden]) {
    if (value.includes(c)) {
      // The message names the character class, never the value.
      throw new DeployError('invalid-input', `the ${what} contains a character ProxySQL's admin interface cannot take here`, {
        hint: `Use a secret without backslashes, line breaks or NUL${forbidden.length ? ` and without ${forbidden.map((f) => `"${f}"`).join(' ')}` : ''}.`,
      });
    }
  }
}

export function desiredProxysqlState(model: ProxysqlModel): ProxysqlDesiredState {
  const hg = PROXYSQL_HOSTGROUPS;
  if (model.dbNodes.length === 0) invalid('ProxySQL has no db node', 'Give at least one host the role db.');
  const seen = new Set<string>();
  const perServer = positiveInt('maxConnectionsPerServer', model.maxConnectionsPerServer ?? 1000, 1);
  const servers: ServerRow[] = model.dbNodes.map((node, i) => {
    const port = node.port ?? 3306;
    if (!HOST.test(node.address)) invalid(`address "${node.address}" of ${node.name} is not usable in ProxySQL`, 'Give the host an IP address.');
    if (!Number.isInteger(port) || port < 1 || port > 65535) invalid(`port ${port} of ${node.name} is not a TCP port`, 'Use the MariaDB port (3306).');
    const key = `${node.address}:${port}`;
    if (seen.has(key)) invalid(`${key} is listed twice among the db nodes`, 'Each db node appears once.');
    seen.add(key);
    if (!IDENT.test(node.name)) invalid(`"${node.name}" is not a plain host name`, 'Host names may use letters, digits, ".", "_", "-".');
    return {
      hostgroup_id: hg.writer,
      hostname: node.address,
      port,
      weight: Math.max(1, 1000 - 10 * i),
      max_connections: perServer,
      comment: `${PROXYSQL_COMMENT} ${node.name}`,
    };
  });

  const galeraHostgroups: GaleraHostgroupRow[] = [
    {
      writer_hostgroup: hg.writer,
      backup_writer_hostgroup: hg.backupWriter,
      reader_hostgroup: hg.reader,
      offline_hostgroup: hg.offline,
      active: 1,
      max_writers: 1,
      writer_is_also_reader: 2,
      max_transactions_behind: positiveInt('maxTransactionsBehind', model.maxTransactionsBehind ?? 100),
      comment: PROXYSQL_COMMENT,
    },
  ];

  const queryRules: QueryRuleRow[] = [
    { rule_id: 1, active: 1, match_digest: '^SELECT.*FOR UPDATE', destination_hostgroup: hg.writer, apply: 1, comment: `${PROXYSQL_COMMENT}: locking reads go to the writer` },
    { rule_id: 2, active: 1, match_digest: '^SELECT.*LOCK IN SHARE MODE', destination_hostgroup: hg.writer, apply: 1, comment: `${PROXYSQL_COMMENT}: locking reads go to the writer` },
    { rule_id: 3, active: 1, match_digest: '^SELECT', destination_hostgroup: hg.reader, apply: 1, comment: `${PROXYSQL_COMMENT}: other reads go to the readers` },
  ];

  const secrets: string[] = [];
  const userNames = new Set<string>();
  const users: UserRow[] = model.users.map((u) => {
    if (!IDENT.test(u.name)) invalid(`"${u.name}" is not a plain MariaDB user name`, 'Use letters, digits and "_".');
    if (userNames.has(u.name)) invalid(`user ${u.name} is listed twice`, 'Each application user appears once.');
    userNames.add(u.name);
    if (u.name === model.monitor.username) invalid(`application user ${u.name} has the monitor's name`, 'Give the monitor account its own name.');
    if (u.defaultSchema !== undefined && !IDENT.test(u.defaultSchema)) invalid(`"${u.defaultSchema}" is not a plain database name`, 'Use letters, digits and "_".');
    // Only the hash reaches ProxySQL, so any character is fine here.
    if (u.password.length === 0) {
      throw new DeployError('missing-secret', `the password of ${u.name} is empty`, { hint: 'Set the environment variable the inventory names for it.' });
    }
    const hash = mysqlNativePasswordHash(u.password);
    secrets.push(u.password, hash);
    return {
      username: u.name,
      password: hash,
      active: 1,
      default_hostgroup: hg.writer,
      default_schema: u.defaultSchema ?? null,
      transaction_persistent: 1,
      max_connections: positiveInt(`maxConnections of ${u.name}`, u.maxConnections ?? 10000, 1),
      comment: PROXYSQL_COMMENT,
    };
  });

  if (!IDENT.test(model.monitor.username)) invalid(`"${model.monitor.username}" is not a plain MariaDB user name`, 'Use letters, digits and "_".');
  checkSecret('ProxySQL monitor password', model.monitor.password);
  // admin-admin_credentials is "user:password[;user:password]".
  checkSecret('ProxySQL admin password', model.adminPassword, [':', ';']);
  secrets.push(model.monitor.password, model.adminPassword);
  const adminInterface = model.adminInterface ?? PROXYSQL_ADMIN_INTERFACE;
  if (!IFACE.test(adminInterface)) invalid(`admin interface "${adminInterface}" is not host:port`, 'Leave it out for 127.0.0.1:6032.');
  const check = model.galeraCheck ?? {};

  const mysqlVariables: GlobalVariableRow[] = [
    { variable_name: 'mysql-monitor_username', variable_value: model.monitor.username, secret: false },
    { variable_name: 'mysql-monitor_password', variable_value: model.monitor.password, secret: true },
    { variable_name: 'mysql-monitor_galera_healthcheck_interval', variable_value: String(positiveInt('galera check interval', check.intervalMs ?? 500, 100)), secret: false },
    { variable_name: 'mysql-monitor_galera_healthcheck_timeout', variable_value: String(positiveInt('galera check timeout', check.timeoutMs ?? 400, 50)), secret: false },
    { variable_name: 'mysql-monitor_galera_healthcheck_max_timeout_count', variable_value: String(positiveInt('galera check max timeouts', check.maxTimeoutCount ?? 3, 1)), secret: false },
  ];
  const adminVariables: GlobalVariableRow[] = [
    { variable_name: 'admin-admin_credentials', variable_value: `${PROXYSQL_ADMIN_USER}:${model.adminPassword}`, secret: true },
    { variable_name: 'admin-mysql_ifaces', variable_value: adminInterface, secret: false },
  ];
  secrets.push(`${PROXYSQL_ADMIN_USER}:${model.adminPassword}`);

  return { mysqlVariables, servers, galeraHostgroups, users, queryRules, adminVariables, secrets: [...new Set(secrets)] };
}
