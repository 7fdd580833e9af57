/**
 * verify-ha's fact gathering: one shell script per host and role, answered in
 * `@@section` blocks, and pure parsers for the answers. Read-only, and only
 * standard paths and commands (systemctl/pgrep, the mariadb client over the
 * unix socket, `ip -o addr`, the HAProxy stats socket, the gluster CLI,
 * /proc/mounts), so it works on hosts that lms-ha did not build.
 *
 * Every probe has its own short timeout so one sick host or daemon cannot
 * hang the run: `timeout 5` around the SQL client (plus --connect-timeout),
 * `timeout 3` around each TCP probe, `timeout 10` around gluster calls.
 */
import { parseWsrepStatus, type NodeStatus } from '../components/galera/status.js';
import { parseHaproxyStat, type HaproxyStats } from '../components/haproxy/stats.js';
import { parseClustercheckResponse, type ClustercheckAnswer } from '../components/clustercheck/index.js';
import { parseIpAddrShow, type InterfaceAddress } from '../components/keepalived/ipaddr.js';
import { parseProxysqlRuntime, PROXYSQL_MONITOR_QUERY, PROXYSQL_RUNTIME_QUERY, type ProxysqlRuntime } from '../components/proxysql/runtime.js';
import { glusterCommands } from '../components/glusterfs/cli.js';
import { parseMounts, writeProbeCommand, parseWriteProbe, type MountEntry, type WriteProbeResult } from '../components/glusterfs/client.js';
import { shellQuote } from '../ssh/quote.js';
import { splitSections } from './sections.js';

/** A service: `systemctl is-active` when systemd knows the unit, else whether the process runs. */
function serviceProbe(section: string, unit: string, process: string): string {
  return (
    `echo "@@${section}"; s=$(systemctl is-active ${unit} 2>/dev/null); ` +
    `if [ "$s" = active ]; then echo active; elif pgrep -x ${process} >/dev/null 2>&1; then echo "running (not as ${unit}.service)"; else echo "\${s:-not running}"; fi`
  );
}

function isActive(section: string | undefined): boolean {
  const v = (section ?? '').trim();
  return v === 'active' || v.startsWith('running');
}

// ---------------------------------------------------------------------------
// Galera (db nodes)

/** The schema and table of the causality probe (created by deploy-db). */
export const PROBE_SCHEMA = 'lms_ha';
export const PROBE_TABLE = 'causality_probe';

/**
 * The probe table deploy-db should create (and grant SELECT, INSERT, UPDATE, DELETE on
 * to the application users). One row per prober; verify-ha overwrites it.
 */
export function probeTableSql(): string {
  return [
    `CREATE DATABASE IF NOT EXISTS \`${PROBE_SCHEMA}\`;`,
    `CREATE TABLE IF NOT EXISTS \`${PROBE_SCHEMA}\`.\`${PROBE_TABLE}\` (id VARCHAR(64) NOT NULL PRIMARY KEY, token VARCHAR(64) NOT NULL, written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB;`,
    '',
  ].join('\n');
}

/**
 * Read by the db script through the local client as root over the unix
 * socket. `wsrep_sync_wait=0` first: a probe never waits for causality.
 * `--force` keeps going past a statement the server rejects (e.g. no wsrep
 * variables on a plain MariaDB), so the rows that can be read are.
 */
export const VERIFY_DB_SQL = [
  'SET SESSION wsrep_sync_wait = 0;',
  "SHOW GLOBAL STATUS LIKE 'wsrep_%';",
  "SHOW GLOBAL STATUS WHERE Variable_name IN ('Uptime');",
  "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_desync','wsrep_on','wsrep_sync_wait','wsrep_provider_options','wsrep_cluster_name','read_only');",
  `SELECT 'lms_ha_probe_table', COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='${PROBE_SCHEMA}' AND TABLE_NAME='${PROBE_TABLE}';`,
  "SELECT 'lms_ha_nopk', COUNT(*), IFNULL(SUBSTRING_INDEX(GROUP_CONCAT(CONCAT(t.TABLE_SCHEMA,'.',t.TABLE_NAME) ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME SEPARATOR ','),',',5),'') " +
    'FROM information_schema.TABLES t LEFT JOIN information_schema.TABLE_CONSTRAINTS c ' +
    "ON c.TABLE_SCHEMA=t.TABLE_SCHEMA AND c.TABLE_NAME=t.TABLE_NAME AND c.CONSTRAINT_TYPE='PRIMARY KEY' " +
    "WHERE t.TABLE_TYPE='BASE TABLE' AND t.TABLE_SCHEMA NOT IN ('mysql','information_schema','performance_schema','sys') AND c.CONSTRAINT_NAME IS NULL;",
  '',
].join('\n');

/** The client, whichever name it has on this host. */
const SQL_CLIENT = 'c=$(command -v mariadb || command -v mysql)';

export function dbFactsScript(): string {
  return [
    'echo "@@mysqld"; if pgrep -x mariadbd >/dev/null 2>&1 || pgrep -x mysqld >/dev/null 2>&1; then echo running; else echo stopped; fi',
    'echo "@@unit"; systemctl is-active mariadb 2>/dev/null || true',
    `echo "@@sql"; ${SQL_CLIENT}; if [ -z "$c" ]; then echo "ERROR client: no mariadb or mysql client"; cat >/dev/null; else timeout -k 1 5 "$c" --connect-timeout=3 -N -B --force 2>&1; rc=$?; echo "@@sqlrc"; echo $rc; fi`,
  ].join('; ');
}

export interface DbFacts {
  /** mariadbd/mysqld process present. */
  running: boolean;
  /** What systemctl says about mariadb.service (informational). */
  unit: string;
  /** Parsed wsrep status when the server answered. */
  status: NodeStatus | null;
  /** Why the server did not answer (client error lines, timeout). */
  sqlError: string | null;
  probeTable: boolean;
  noPk: { count: number; sample: string[] } | null;
  /** Seconds since start (Uptime). */
  uptime: number | null;
}

export function parseDbFacts(stdout: string): DbFacts {
  const s = splitSections(stdout);
  const running = (s.get('mysqld') ?? '').trim() === 'running';
  const sql = s.get('sql') ?? '';
  const rc = Number((s.get('sqlrc') ?? '').trim() || 'NaN');
  const errors = sql.split('\n').filter((l) => /^ERROR\b/.test(l));
  const status = sql.includes('\t') ? parseWsrepStatus(sql) : null;
  let sqlError: string | null = null;
  if (!status || status.missing.includes('wsrep_cluster_status')) {
    sqlError = errors.length > 0 ? errors[0]! : rc === 124 || rc === 137 ? 'timed out after 5 s' : !status ? 'no answer' : null;
  }
  const raw = status?.raw ?? {};
  const nopk = raw['lms_ha_nopk'];
  let noPk: DbFacts['noPk'] = null;
  if (nopk !== undefined) {
    const [count, list] = nopk.split('\t');
    noPk = { count: Number(count) || 0, sample: (list ?? '').split(',').filter((x) => x !== '') };
  }
  return {
    running,
    unit: (s.get('unit') ?? '').trim(),
    status: status && !status.missing.includes('wsrep_cluster_status') ? status : null,
    sqlError,
    probeTable: raw['lms_ha_probe_table'] === '1',
    noPk,
    uptime: raw['uptime'] !== undefined ? Number(raw['uptime']) : null,
  };
}

// ---------------------------------------------------------------------------
// Load balancers

export interface LbProbeTarget {
  /** Inventory name of the db node. */
  name: string;
  address: string;
}

export interface LbScriptOptions {
  kind: 'haproxy' | 'proxysql';
  vip: string;
  /** The port the VIP must answer on (HAProxy writer, ProxySQL mysql). */
  writerPort: number;
  /** HAProxy: the clustercheck of every db node is asked from here. */
  clustercheckPort?: number;
  dbNodes: LbProbeTarget[];
  /** ProxySQL admin port on 127.0.0.1. */
  adminPort?: number;
}

/** One HTTP GET through bash's /dev/tcp: curl is not on every load balancer. */
function httpGet(address: string, port: number, path = '/'): string {
  const script = `exec 3<>/dev/tcp/${address}/${port} && printf 'GET ${path} HTTP/1.0\\r\\nHost: ${address}\\r\\n\\r\\n' >&3 && cat <&3`;
  return `timeout -k 1 3 bash -c ${shellQuote(script)} 2>&1`;
}

/**
 * The greeting of a MySQL-protocol server: the 5th byte is the protocol
 * version (10). Reading it proves something answers behind the port, not just
 * that a listener accepted.
 */
function mysqlGreeting(address: string, port: number): string {
  const script = `exec 3<>/dev/tcp/${address}/${port} && head -c 5 <&3 | od -An -tu1`;
  return `timeout -k 1 3 bash -c ${shellQuote(script)} 2>&1; echo "rc=$?"`;
}

/**
 * Credentials travel on stdin: the first lines are a client option file,
 * copied into a 0600 temp file (removed on exit), the rest is the SQL.
 */
export function withCredentialsFile(lines: number, body: string): string {
  return [
    'umask 077',
    'cred=$(mktemp)',
    'trap \'rm -f "$cred"\' EXIT',
    `i=0; while [ $i -lt ${lines} ]; do IFS= read -r l || break; printf '%s\\n' "$l" >> "$cred"; i=$((i+1)); done`,
    body,
  ].join('; ');
}

/** A `[client]` option file: user and password quoted for the option-file parser. */
export function clientOptionFile(user: string, password: string): string {
  const q = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = ['[client]', `user=${q(user)}`, `password=${q(password)}`];
  return `${lines.join('\n')}\n`;
}

export function lbFactsScript(o: LbScriptOptions): string {
  const parts = [
    'echo "@@ipaddr"; ip -o addr show 2>&1',
    serviceProbe('keepalived', 'keepalived', 'keepalived'),
    `echo "@@vipconnect"; ${mysqlGreeting(o.vip, o.writerPort)}`,
  ];
  if (o.kind === 'haproxy') {
    parts.push(
      serviceProbe('haproxy', 'haproxy', 'haproxy'),
      // The stats socket named in haproxy.cfg (Debian: /run/haproxy/admin.sock); socat
      // or python3 to talk to it; else the stats page on 127.0.0.1:8404.
      'echo "@@stat"; sock=$(awk \'$1=="stats" && $2=="socket" {print $3; exit}\' /etc/haproxy/haproxy.cfg 2>/dev/null); sock=${sock:-/run/haproxy/admin.sock}; ' +
        'if [ -S "$sock" ] && command -v socat >/dev/null; then echo "show stat" | timeout 3 socat stdio "unix-connect:$sock"; ' +
        'elif [ -S "$sock" ] && command -v python3 >/dev/null; then timeout 3 python3 -c \'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show stat\\n"); sys.stdout.write(b"".join(iter(lambda: s.recv(65536), b"")).decode())\' "$sock"; ' +
        `else ${httpGet('127.0.0.1', 8404, '/;csv')}; fi`,
    );
    for (const n of o.dbNodes) parts.push(`echo "@@cc ${n.name}"; ${httpGet(n.address, o.clustercheckPort ?? 9200)}`);
  } else {
    // The admin query first: it reads the rest of stdin after the credentials.
    parts.unshift(
      `echo "@@runtime"; ${SQL_CLIENT}; if [ -z "$c" ]; then echo "ERROR client: no mariadb or mysql client"; else timeout -k 1 5 "$c" --defaults-extra-file="$cred" --protocol=TCP -h127.0.0.1 -P${o.adminPort ?? 6032} --connect-timeout=3 -N -B 2>&1 </dev/stdin; fi`,
    );
    parts.push(serviceProbe('proxysql', 'proxysql', 'proxysql'));
    return withCredentialsFile(3, parts.join('; '));
  }
  return parts.join('; ');
}

/** ProxySQL admin: its credentials file, then the runtime and monitor queries (stdin of lbFactsScript). */
export function proxysqlStdin(adminUser: string, adminPassword: string): string {
  return clientOptionFile(adminUser, adminPassword) + PROXYSQL_RUNTIME_QUERY + PROXYSQL_MONITOR_QUERY;
}

export interface LbFacts {
  addresses: InterfaceAddress[];
  keepalived: { active: boolean; state: string };
  /** The VIP answered a MySQL greeting on the writer port from this host. */
  vipAnswer: { ok: boolean; detail: string };
  haproxy?: { active: boolean; state: string; stats: HaproxyStats | null; statsError: string | null };
  /** db node name → its clustercheck answer (or the error). */
  clustercheck?: Map<string, ClustercheckAnswer | { error: string }>;
  proxysql?: { active: boolean; state: string; runtime: ProxysqlRuntime | null; error: string | null };
}

export function parseLbFacts(stdout: string, kind: 'haproxy' | 'proxysql'): LbFacts {
  const s = splitSections(stdout);
  const vip = s.get('vipconnect') ?? '';
  const rc = /rc=(\d+)/.exec(vip)?.[1];
  const bytes = vip
    .split('\n')
    .filter((l) => /^\s*\d+(\s+\d+)*\s*$/.test(l))
    .join(' ')
    .trim()
    .split(/\s+/)
    .map(Number);
  const greeting = bytes.length >= 5 && bytes[4] === 10;
  const vipAnswer = greeting
    ? { ok: true, detail: 'MySQL greeting (protocol 10)' }
    : { ok: false, detail: rc === '124' ? 'timed out after 3 s' : vip.split('\n').find((l) => /refused|unreachable|No route|error/i.test(l))?.replace(/^.*: /, '').trim() || (bytes.length > 0 ? 'no MySQL greeting' : 'no answer') };
  const facts: LbFacts = {
    addresses: parseIpAddrShow(s.get('ipaddr') ?? ''),
    keepalived: { active: isActive(s.get('keepalived')), state: (s.get('keepalived') ?? '').trim() },
    vipAnswer,
  };
  if (kind === 'haproxy') {
    const text = s.get('stat') ?? '';
    let stats: HaproxyStats | null = null;
    let statsError: string | null = null;
    try {
      stats = parseHaproxyStat(text);
    } catch {
      statsError = text.trim().split('\n')[0]?.slice(0, 120) || 'no answer from the stats socket or page';
    }
    facts.haproxy = { active: isActive(s.get('haproxy')), state: (s.get('haproxy') ?? '').trim(), stats, statsError };
    facts.clustercheck = new Map();
    for (const [key, value] of s) {
      if (!key.startsWith('cc ')) continue;
      const node = key.slice(3);
      try {
        facts.clustercheck.set(node, parseClustercheckResponse(value.replace(/\r?\n$/, '')));
      } catch {
        facts.clustercheck.set(node, { error: value.trim().split('\n').pop()?.replace(/^.*: /, '').slice(0, 120) || 'no answer' });
      }
    }
  } else {
    const text = s.get('runtime') ?? '';
    const errors = text.split('\n').filter((l) => /^ERROR\b/.test(l));
    facts.proxysql = {
      active: isActive(s.get('proxysql')),
      state: (s.get('proxysql') ?? '').trim(),
      runtime: errors.length === 0 && text.trim() !== '' ? parseProxysqlRuntime(text) : null,
      error: errors[0] ?? (text.trim() === '' ? 'no answer from the admin interface' : null),
    };
  }
  return facts;
}

// ---------------------------------------------------------------------------
// GlusterFS

/** Every storage host: is glusterd there, and how does it see the pool. */
export function glusterPeerScript(): string {
  return [serviceProbe('glusterd', 'glusterd', 'glusterd'), `echo "@@pool"; timeout -k 1 10 ${glusterCommands.poolList()} 2>&1`].join('; ');
}

/** One observer (a storage host whose glusterd runs): the volume as glusterd sees it. */
export function glusterVolumeScript(volume: string): string {
  return [
    `echo "@@info"; timeout -k 1 10 ${glusterCommands.volumeInfo(volume)} 2>&1`,
    `echo "@@status"; timeout -k 1 10 ${glusterCommands.volumeStatusDetail(volume)} 2>&1`,
    `echo "@@heal"; timeout -k 1 15 ${glusterCommands.healInfoSummary(volume)} 2>&1`,
    `echo "@@splitbrain"; timeout -k 1 15 ${glusterCommands.healInfoSplitBrain(volume)} 2>&1`,
  ].join('; ');
}

/** A client (web host): the mount table and, when the volume is mounted, the write probe. */
export function glusterClientScript(mountPoint: string): string {
  const mp = shellQuote(mountPoint);
  return [
    'echo "@@mounts"; cat /proc/self/mounts',
    `echo "@@probe"; if awk -v m=${mp} '$2==m && $3=="fuse.glusterfs" {f=1} END {exit !f}' /proc/self/mounts; then ${writeProbeCommand(mountPoint)} 2>&1; echo "rc=$?"; else echo skipped; fi`,
  ].join('; ');
}

export interface GlusterClientFacts {
  mounts: MountEntry[];
  probe?: WriteProbeResult;
}

export function parseGlusterClientFacts(stdout: string): GlusterClientFacts {
  const s = splitSections(stdout);
  const probeText = (s.get('probe') ?? '').trim();
  const facts: GlusterClientFacts = { mounts: parseMounts(s.get('mounts') ?? '') };
  if (probeText !== 'skipped' && probeText !== '') {
    const rc = Number(/rc=(\d+)/.exec(probeText)?.[1] ?? '1');
    const out = probeText.replace(/\n?rc=\d+$/, '');
    facts.probe = parseWriteProbe({ code: rc, stdout: out, stderr: rc === 0 ? '' : out });
  }
  return facts;
}

export { isActive as serviceIsActive };

// ---------------------------------------------------------------------------
// Causality probe (second phase, from one db node, through the VIP)

export interface CausalityProbeOptions {
  vip: string;
  writerPort: number;
  readerPort: number;
  syncWait: number;
  /** Row id: which prober wrote it. */
  id: string;
  token: string;
}

/** The script; stdin is `clientOptionFile(appUser, password)`. */
export function causalityScript(o: CausalityProbeOptions): string {
  const table = `\`${PROBE_SCHEMA}\`.\`${PROBE_TABLE}\``;
  const write = `SET SESSION wsrep_sync_wait=0; REPLACE INTO ${table} (id, token) VALUES ('${o.id}', '${o.token}');`;
  const read = `SET SESSION wsrep_sync_wait=${o.syncWait}; SELECT token FROM ${table} WHERE id='${o.id}';`;
  const client = (port: number, sql: string) =>
    `timeout -k 1 5 "$c" --defaults-extra-file="$cred" --protocol=TCP -h${o.vip} -P${port} --connect-timeout=3 -N -B -e ${shellQuote(sql)} 2>&1`;
  return withCredentialsFile(
    3,
    [
      SQL_CLIENT,
      `echo "@@write"; ${client(o.writerPort, write)}; echo "rc=$?"`,
      `echo "@@read"; ${client(o.readerPort, read)}; echo "rc=$?"`,
    ].join('; '),
  );
}

export interface CausalityResult {
  wrote: boolean;
  writeError: string | null;
  readValue: string | null;
  readError: string | null;
}

export function parseCausality(stdout: string): CausalityResult {
  const s = splitSections(stdout);
  const part = (name: string) => {
    const text = (s.get(name) ?? '').trim();
    const rc = /rc=(\d+)$/.exec(text)?.[1];
    const body = text.replace(/\n?rc=\d+$/, '').trim();
    return { ok: rc === '0', body };
  };
  const w = part('write');
  const r = part('read');
  return {
    wrote: w.ok,
    writeError: w.ok ? null : w.body.split('\n')[0] || 'no answer',
    readValue: r.ok ? r.body.split('\n')[0] ?? '' : null,
    readError: r.ok ? null : r.body.split('\n')[0] || 'no answer',
  };
}
