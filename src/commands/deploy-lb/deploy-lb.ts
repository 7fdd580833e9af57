/**
 * deploy-lb: HAProxy (or ProxySQL) on the load balancers behind a Keepalived
 * VIP, and the Galera health check (clustercheck) on the db nodes that HAProxy
 * asks (see docs/deploy-lb.md).
 *
 * Facts first, every host in parallel (packages, users, directories, files
 * with digests, unit states; the clustercheck and monitor accounts from the
 * first db node; ProxySQL's runtime tables), then typed changes computed
 * against them. Plan mode stops there. Apply takes the environment lock,
 * re-gathers and re-plans under it, proves the plan is the reviewed one, then
 * applies in order: the db nodes' health check first (HAProxy must find it
 * answering), then one load balancer after the other, so the VIP always has a
 * working holder.
 *
 * Secrets (the VRRP password, ProxySQL's admin and monitor passwords) travel
 * only on stdin: in files written by writeFile (root 0600) or in SQL scripts.
 * The plan shows sensitive files by metadata only.
 */
import { randomBytes } from 'node:crypto';
import * as tc from '@actions/tool-cache';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeployError } from '../../errors.js';
import { changeId, type PlannedChange } from '../../engine/change.js';
import { createPlan, secretFingerprint, type HostFacts as PlanHostFacts, type Plan } from '../../engine/plan.js';
import { hostsWithRole, type Environment, type Host } from '../../inventory/index.js';
import type { HaproxyLoadBalancer, LoadBalancer, ProxysqlLoadBalancer } from '../../inventory/environment.js';
import type { Logger } from '../../log.js';
import { shellQuote } from '../../ssh/quote.js';
import type { RemoteHost } from '../../ssh/types.js';
import {
  CLUSTERCHECK_FIREWALL_UNIT,
  CLUSTERCHECK_NFT_TABLE,
  CLUSTERCHECK_SERVICE_UNIT,
  CLUSTERCHECK_SOCKET_UNIT,
  CLUSTERCHECK_USER,
  DEFAULT_CLUSTERCHECK_SCRIPT,
  DEFAULT_MAINTENANCE_FILE,
  NFTABLES_DROP_IN_PATH,
  clustercheckAccountSql,
  renderClustercheckFiles,
  renderClustercheckFirewallUnit,
  renderClustercheckNftables,
  renderNftablesServiceDropIn,
  type ClustercheckModel,
} from '../../components/clustercheck/index.js';
import { HAPROXY_CONFIG_PATH, HAPROXY_DEFAULTS, renderHaproxyConfig, type HaproxyModel } from '../../components/haproxy/index.js';
import {
  holdsVip,
  KEEPALIVED_CHECK_SCRIPT,
  KEEPALIVED_CONFIG_PATH,
  KEEPALIVED_NOTIFY_SCRIPT,
  KEEPALIVED_SCRIPT_USER,
  keepalivedAuthPass,
  renderKeepalivedConfig,
  validateVirtualRouterIds,
  type KeepalivedModel,
  type RenderedKeepalived,
} from '../../components/keepalived/index.js';
import {
  PROXYSQL_ADMIN_USER,
  PROXYSQL_RUNTIME_QUERY,
  diffProxysqlRuntime,
  mysqlNativePasswordHash,
  parseProxysqlRuntime,
  proxysqlMonitorAccountSql,
  renderProxysqlAdminSql,
  sectionsToApply,
  type ProxysqlChange,
  type ProxysqlModel,
  type ProxysqlRuntime,
  type ProxysqlSection,
} from '../../components/proxysql/index.js';
import { runSqlScript } from '../../components/galera/orchestrate.js';
import { findBlockedPorts, GALERA_PEER_PORTS, type WatchedPort } from '../../components/nftables/index.js';
import { clustercheckSources } from '../../components/nftables/access.js';
import { checkedFileApply, fileChange, sha256, type WantedFile } from '../../operations/file.js';
import { directoryChange } from '../../operations/directory.js';
import { aptInstall, installPhase, once, packageChange } from '../../operations/packages.js';
import { serviceChange } from '../../operations/service.js';
import { userChange } from '../../operations/user.js';
import { clientOptionFile, withCredentialsFile } from '../../facts/health.js';
import type { HostState, HostStateQuery } from '../../facts/host-state.js';
import { gatherHostState } from '../../facts/read.js';
import type { CommandContext, CommandRunner } from '../context.js';
import { planOrApplyReviewed } from '../reviewed-change.js';
import type { CommandDescriptor } from '../command.js';

// ---------------------------------------------------------------------------
// Names shared with verify-ha and the e2e tests

/** Where operators put the maintenance (drain) file; created by deploy-lb. */
export const LMS_HA_ETC_DIR = '/etc/lms-ha';
/** Directory of the clustercheck script. */
export const LMS_HA_LIB_DIR = '/usr/local/lib/lms-ha';
/** The nftables fence of the health check (its own table; loaded by CLUSTERCHECK_FIREWALL_UNIT). */
export const CLUSTERCHECK_NFT_PATH = `${LMS_HA_ETC_DIR}/clustercheck.nft`;
export { CLUSTERCHECK_FIREWALL_UNIT };
/** What the db nodes need for the fence: the socket unit's IP lists do nothing without cgroup eBPF. */
export const DB_PACKAGES = ['nftables'] as const;
/** Checked files are written next to the live one first; only a file the tool accepts replaces it. */
const CANDIDATE_SUFFIX = '.lms-ha-candidate';
export const HAPROXY_CANDIDATE_PATH = `${HAPROXY_CONFIG_PATH}${CANDIDATE_SUFFIX}`;
export const KEEPALIVED_CANDIDATE_PATH = `${KEEPALIVED_CONFIG_PATH}${CANDIDATE_SUFFIX}`;
export const CLUSTERCHECK_NFT_CANDIDATE_PATH = `${CLUSTERCHECK_NFT_PATH}${CANDIDATE_SUFFIX}`;
/**
 * keepalived's config test (-t; -l prints its findings on the console).
 * keepalived 2.2.7 ends a config test by sending itself SIGTERM, so a plain
 * `keepalived -t` dies "Terminated" (exit 143) whatever the file holds (seen in
 * the lab and reproduced with the Debian 12 binary). With TERM ignored (the
 * disposition survives exec) it finishes and exits 0 for a good file, 5 for an
 * unknown keyword or a missing interface. In a session of its own, so no other
 * signal it sends reaches the SSH command.
 */
export const KEEPALIVED_CHECK_COMMAND = `setsid -w sh -c "trap '' TERM; exec keepalived -t -l -f ${KEEPALIVED_CANDIDATE_PATH}"`;
export const HAPROXY_LB_PACKAGES = ['haproxy', 'keepalived'] as const;
/** keepalived + a MariaDB client for the ProxySQL admin interface. ProxySQL itself is installed apart. */
export const PROXYSQL_LB_PACKAGES = ['keepalived', 'mariadb-client'] as const;
export const PROXYSQL_PACKAGE = 'proxysql';
/** The MariaDB account ProxySQL's Galera monitor logs in with (one per LB address). */
export const PROXYSQL_MONITOR_USER = 'lms_ha_monitor';
/** Where a pushed ProxySQL .deb lands on a load balancer. */
export const PROXYSQL_DEB_DIR = '/var/cache/lms-ha';
/** Default ProxySQL admin login on a fresh install (only from localhost). */
const PROXYSQL_DEFAULT_ADMIN_PASSWORD = 'admin';


// ---------------------------------------------------------------------------
// Desired state from the inventory

export interface LbDesired {
  lb: LoadBalancer;
  lbHosts: Host[];
  dbHosts: Host[];
  /** kind haproxy: the same haproxy.cfg on every LB. */
  haproxyConfig?: string;
  keepalived: Map<string, RenderedKeepalived>;
  /** kind haproxy: per db node. */
  clustercheck: Map<string, { files: { path: string; content: string; mode: number; owner: string; group: string }[]; nftables: string }>;
  /** kind proxysql. */
  proxysql?: ProxysqlModel;
  warnings: string[];
}

function loadBalancerOf(environment: Environment): LoadBalancer {
  const lb = environment.load_balancer;
  if (!lb) {
    throw new DeployError('invalid-inventory', `environment ${environment.name} has no load_balancer section`, {
      hint: 'Add a load_balancer: section (kind, vip, interface, virtual_router_id, auth_password) to the environment.',
    });
  }
  return lb;
}

export function haproxyModelFor(environment: Environment, lb: HaproxyLoadBalancer): HaproxyModel {
  const dbPort = environment.database?.port ?? 3306;
  const webHosts = hostsWithRole(environment, 'web');
  return {
    dbNodes: hostsWithRole(environment, 'db').map((h) => ({ name: h.name, address: h.address, port: dbPort })),
    writerPort: lb.ports.writer,
    readerPort: lb.ports.reader,
    checkPort: lb.clustercheck_port,
    maxConnections: lb.haproxy.maxconn,
    ...(lb.ports.web !== undefined && webHosts.length > 0
      ? { web: { port: lb.ports.web, servers: webHosts.map((h) => ({ name: h.name, address: h.address, port: lb.haproxy.web_backend_port })) } }
      : {}),
  };
}

export function clustercheckModelFor(environment: Environment, lb: HaproxyLoadBalancer, db: Host): ClustercheckModel {
  // From the one access model provision's firewall is rendered from too, so the two tables agree.
  return { listenAddress: db.address, port: lb.clustercheck_port, allowedSources: clustercheckSources(environment) };
}

export function proxysqlModelFor(context: CommandContext, lb: ProxysqlLoadBalancer): ProxysqlModel {
  const dbPort = context.environment.database?.port ?? 3306;
  return {
    dbNodes: hostsWithRole(context.environment, 'db').map((h) => ({ name: h.name, address: h.address, port: dbPort })),
    users: context.environment.app.users.map((u) => ({
      name: u.name,
      password: context.secrets.valueOf(u.password),
      ...(u.databases && u.databases.length > 0 ? { defaultSchema: u.databases[0] } : {}),
    })),
    monitor: { username: PROXYSQL_MONITOR_USER, password: context.secrets.valueOf(lb.proxysql.monitor_password) },
    adminPassword: context.secrets.valueOf(lb.proxysql.admin_password),
    adminInterface: `127.0.0.1:${lb.ports.admin}`,
  };
}

export function desiredLbState(context: CommandContext): LbDesired {
  const { environment } = context;
  const lb = loadBalancerOf(environment);
  const lbHosts = hostsWithRole(environment, 'lb');
  const dbHosts = hostsWithRole(environment, 'db');
  const warnings: string[] = [];
  const authPassword = context.secrets.valueOf(lb.auth_password);
  // What keepalived.conf really carries (the first 8 characters) is masked too.
  context.redactor.add(authPassword);
  context.redactor.add(keepalivedAuthPass(authPassword).value);

  // Router ids unique across the whole inventory, not only on one subnet.
  const groups = Object.entries(context.inventory.environments)
    .filter(([, spec]) => spec.load_balancer !== undefined)
    .map(([name, spec]) => ({ name, virtualRouterId: spec.load_balancer!.virtual_router_id, vip: spec.load_balancer!.vip }));
  for (const problem of validateVirtualRouterIds(groups)) {
    if (problem.startsWith(`${environment.name}:`) || problem.includes(`used by ${environment.name}`)) warnings.push(`keepalived ${problem}`);
  }

  const keepalivedModel: KeepalivedModel = {
    lbs: lbHosts.map((h) => ({ name: h.name, address: h.address })),
    vip: lb.vip,
    interface: lb.interface,
    virtualRouterId: lb.virtual_router_id,
    authPassword,
    probe: lb.kind === 'haproxy' ? { kind: 'haproxy', statsPort: HAPROXY_DEFAULTS.statsPort } : { kind: 'proxysql', mysqlPort: lb.ports.mysql },
    ...(lb.cloud_vip_hook !== undefined ? { cloudVipHook: lb.cloud_vip_hook } : {}),
  };
  const keepalived = new Map<string, RenderedKeepalived>();
  for (const h of lbHosts) {
    const rendered = renderKeepalivedConfig(keepalivedModel, h.name);
    keepalived.set(h.name, rendered);
    for (const s of rendered.secrets) context.redactor.add(s);
    for (const w of rendered.warnings) if (!warnings.includes(w)) warnings.push(w);
  }

  const desired: LbDesired = { lb, lbHosts, dbHosts, keepalived, clustercheck: new Map(), warnings };
  if (lb.kind === 'haproxy') {
    if (lb.haproxy.timeout_seconds !== 28800) {
      warnings.push(`load_balancer.haproxy.timeout_seconds ${lb.haproxy.timeout_seconds} is not applied yet: haproxy.cfg uses 8 h (MariaDB's default wait_timeout)`);
    }
    desired.haproxyConfig = renderHaproxyConfig(haproxyModelFor(environment, lb));
    for (const db of dbHosts) {
      const model = clustercheckModelFor(environment, lb, db);
      desired.clustercheck.set(db.name, { files: renderClustercheckFiles(model), nftables: renderClustercheckNftables(model) });
    }
  } else {
    desired.proxysql = proxysqlModelFor(context, lb);
    if (lb.ports.mysql !== 6033) {
      warnings.push(`load_balancer.ports.mysql ${lb.ports.mysql}: ProxySQL keeps listening on its default 6033 until mysql-interfaces is changed (needs a restart); not done yet`);
    }
    // Everything that reaches ProxySQL's admin SQL is masked.
    for (const s of renderProxysqlAdminSql(desired.proxysql).secrets) context.redactor.add(s);
    for (const s of proxysqlMonitorAccountSql(desired.proxysql.monitor, lbHosts.map((h) => h.address)).secrets) context.redactor.add(s);
  }
  return desired;
}

// ---------------------------------------------------------------------------
// Facts

export interface ClustercheckAccountFact {
  /** Authentication plugin of 'clustercheck'@'localhost'; null when the account does not exist. */
  plugin: string | null;
  /** Privileges other than USAGE granted to it. */
  extraGrants: number;
}

export interface MonitorAccountFact {
  /** host → mysql_native_password hash of the monitor account's rows. */
  hosts: Record<string, string>;
}

export interface ProxysqlFact {
  /** Which admin login worked: the inventory's secret, ProxySQL's default, or none. */
  login: 'secret' | 'default' | null;
  runtime: ProxysqlRuntime | null;
  error?: string;
}

export interface LbGathered {
  lbHosts: Host[];
  dbHosts: Host[];
  remotes: Map<string, RemoteHost>;
  state: Map<string, HostState>;
  /** Read on the first db node; null when its server did not answer. */
  account: ClustercheckAccountFact | null;
  monitor: MonitorAccountFact | null;
  proxysql: Map<string, ProxysqlFact>;
  /** Why an account could not be read, for the plan's warnings. */
  accountError?: string;
}

const ccScript = DEFAULT_CLUSTERCHECK_SCRIPT;
const ccSocketPath = `/etc/systemd/system/${CLUSTERCHECK_SOCKET_UNIT}`;
const ccServicePath = `/etc/systemd/system/${CLUSTERCHECK_SERVICE_UNIT}`;
const ccFirewallPath = `/etc/systemd/system/${CLUSTERCHECK_FIREWALL_UNIT}`;
const nftablesDropInDir = NFTABLES_DROP_IN_PATH.slice(0, NFTABLES_DROP_IN_PATH.lastIndexOf('/'));

/** Probe names in HostState.probes. */
const PROBE_ADDRESSES = 'addresses';
const PROBE_NFT_TABLES = 'nft-tables';
/** The whole ruleset as JSON (one line): whether another table drops a port the cluster or the LBs need. */
const PROBE_NFT_RULESET = 'nft-ruleset';

export function lbStateQuery(kind: LoadBalancer['kind']): HostStateQuery {
  return {
    // Which LB holds the VIP now: it is changed last, so the VIP moves at most once.
    probes: [{ name: PROBE_ADDRESSES, script: 'ip -o addr show' }],
    packages: kind === 'haproxy' ? [...HAPROXY_LB_PACKAGES] : [...PROXYSQL_LB_PACKAGES, PROXYSQL_PACKAGE],
    users: [KEEPALIVED_SCRIPT_USER],
    dirs: ['/etc/keepalived'],
    files: [
      ...(kind === 'haproxy' ? [{ path: HAPROXY_CONFIG_PATH, read: true }] : []),
      { path: KEEPALIVED_CONFIG_PATH, read: false },
      { path: KEEPALIVED_CHECK_SCRIPT, read: true },
      { path: KEEPALIVED_NOTIFY_SCRIPT, read: true },
    ],
    units: kind === 'haproxy' ? ['haproxy', 'keepalived'] : ['proxysql', 'keepalived'],
    commands: [],
  };
}

export function dbStateQuery(): HostStateQuery {
  return {
    packages: [...DB_PACKAGES],
    // The tables loaded now: whether the fence is live, and the operator's own tables the plan shows as kept.
    probes: [
      { name: PROBE_NFT_TABLES, script: 'nft list tables' },
      { name: PROBE_NFT_RULESET, script: 'nft -j list ruleset' },
    ],
    users: [CLUSTERCHECK_USER],
    dirs: [LMS_HA_ETC_DIR, LMS_HA_LIB_DIR, nftablesDropInDir],
    files: [
      { path: ccScript, read: true },
      { path: ccSocketPath, read: true },
      { path: ccServicePath, read: true },
      { path: CLUSTERCHECK_NFT_PATH, read: true },
      { path: ccFirewallPath, read: true },
      { path: NFTABLES_DROP_IN_PATH, read: true },
    ],
    units: [CLUSTERCHECK_SOCKET_UNIT, CLUSTERCHECK_FIREWALL_UNIT],
    commands: [],
  };
}

/** True when the host's `ip -o addr show` probe lists the VIP. */
function holdsVipNow(state: HostState | undefined, vip: string): boolean {
  return holdsVip((state?.probes[PROBE_ADDRESSES] ?? []).join('\n'), vip);
}

/** `nft list tables` lines ("table inet filter") as "inet filter". */
function nftTables(state: HostState | undefined): string[] {
  return (state?.probes[PROBE_NFT_TABLES] ?? []).filter((l) => l.startsWith('table ')).map((l) => l.slice('table '.length));
}

/**
 * Plan warnings for a db node whose loaded nftables ruleset (the operator's
 * tables; lms-ha's own fence is left out) drops a port its peers or the load
 * balancers need. Nothing deploy-lb changes opens them: an accept in one table
 * does not undo a drop in another.
 */
export function firewallWarnings(db: Host, state: HostState | undefined, peers: Host[], lbHosts: Host[], ports: { db: number; check: number }): string[] {
  const watched: WatchedPort[] = [
    ...GALERA_PEER_PORTS,
    { port: ports.db, label: 'MariaDB, which HAProxy forwards to' },
    { port: ports.check, label: 'the health check HAProxy asks' },
  ];
  // A table of the other IP family never sees the peers' packets.
  const otherFamily = db.address.includes(':') ? 'ip ' : 'ip6 ';
  const blocked = findBlockedPorts((state?.probes[PROBE_NFT_RULESET] ?? []).join('\n'), watched, [`inet ${CLUSTERCHECK_NFT_TABLE}`]).filter((b) => !b.table.startsWith(otherFamily));
  const byChain = new Map<string, typeof blocked>();
  for (const b of blocked) byChain.set(`${b.table}\0${b.chain}`, [...(byChain.get(`${b.table}\0${b.chain}`) ?? []), b]);
  const peerPorts = GALERA_PEER_PORTS.map((p) => p.port);
  return [...byChain.values()].map((list) => {
    const { table, chain } = list[0]!;
    const what = list.map((b) => `${b.port} (${b.label}: ${b.how})`).join(', ');
    const stateTransfer = list.some((b) => b.port === 4444 || b.port === 4568)
      ? ` A state transfer to ${db.name} then fails: the donor's connection is dropped until it gives up after about 2 minutes ("State transfer to ${db.name} failed: Broken pipe") and ${db.name} stays down.`
      : '';
    return (
      `${db.name}: nftables table ${table}, chain ${chain}, drops tcp port ${what} for every source.${stateTransfer} ` +
      `Let the other db nodes (${peers.map((h) => h.address).join(', ')}) reach ports ${peerPorts.join(', ')}` +
      ` and the load balancers (${lbHosts.map((h) => h.address).join(', ')}) ports ${ports.db} and ${ports.check} in that table.`
    );
  });
}

/** One round trip on the first db node: the clustercheck account and, for ProxySQL, the monitor account. */
export function accountFactsSql(monitorUser?: string): string {
  const grantee = `'\\'${CLUSTERCHECK_USER}\\'@\\'localhost\\''`;
  const lines = [
    'SET SESSION wsrep_sync_wait=0;',
    `SELECT 'plugin', IFNULL((SELECT plugin FROM mysql.user WHERE User='${CLUSTERCHECK_USER}' AND Host='localhost'), '@absent');`,
    `SELECT 'extra', (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE=${grantee} AND PRIVILEGE_TYPE<>'USAGE')` +
      ` + (SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE=${grantee})` +
      ` + (SELECT COUNT(*) FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE=${grantee});`,
  ];
  if (monitorUser) lines.push(`SELECT 'monitor', Host, authentication_string FROM mysql.user WHERE User='${monitorUser}';`);
  return `${lines.join('\n')}\n`;
}

export function parseAccountFacts(stdout: string): { account: ClustercheckAccountFact; monitor: MonitorAccountFact } {
  const account: ClustercheckAccountFact = { plugin: null, extraGrants: 0 };
  const monitor: MonitorAccountFact = { hosts: {} };
  for (const line of stdout.split('\n')) {
    const [key, a, b] = line.split('\t');
    if (key === 'plugin' && a !== undefined) account.plugin = a === '@absent' ? null : a;
    else if (key === 'extra' && a !== undefined) account.extraGrants = Number(a) || 0;
    else if (key === 'monitor' && a !== undefined) monitor.hosts[a] = b ?? '';
  }
  return { account, monitor };
}

/** The ProxySQL admin client: credentials as an option file on stdin (3 lines), then the SQL. */
export function proxysqlAdminScript(adminPort: number): string {
  return withCredentialsFile(
    3,
    `c=$(command -v mariadb || command -v mysql); if [ -z "$c" ]; then echo "ERROR client: no mariadb or mysql client" >&2; exit 2; fi; ` +
      `timeout -k 1 30 "$c" --defaults-extra-file="$cred" --protocol=TCP -h127.0.0.1 -P${adminPort} --connect-timeout=3 -N -B`,
  );
}

async function readProxysql(host: RemoteHost, adminPort: number, secret: string): Promise<ProxysqlFact> {
  let lastError = '';
  for (const [login, password] of [
    ['secret', secret],
    ['default', PROXYSQL_DEFAULT_ADMIN_PASSWORD],
  ] as const) {
    const r = await host.run(proxysqlAdminScript(adminPort), {
      purpose: 'read ProxySQL runtime configuration',
      stdin: clientOptionFile(PROXYSQL_ADMIN_USER, password) + PROXYSQL_RUNTIME_QUERY,
      timeoutMs: 60_000,
      allowFailure: true,
    });
    if (r.code === 0) return { login, runtime: parseProxysqlRuntime(r.stdout) };
    lastError = r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`;
  }
  return { login: null, runtime: null, error: lastError };
}

export async function gatherLbFacts(context: CommandContext, desired: LbDesired): Promise<LbGathered> {
  const { lbHosts, dbHosts, lb } = desired;
  const remotes = new Map<string, RemoteHost>();
  for (const h of [...dbHosts, ...lbHosts]) remotes.set(h.name, await context.host(h.name));
  const lbQuery = lbStateQuery(lb.kind);
  const dbQuery = dbStateQuery();
  const first = dbHosts[0]!;
  const [lbResults, dbResults, accounts] = await Promise.all([
    context.forEachHost(lbHosts, (remote) => gatherHostState(remote, lbQuery)),
    lb.kind === 'haproxy' ? context.forEachHost(dbHosts, (remote) => gatherHostState(remote, dbQuery)) : Promise.resolve([]),
    remotes
      .get(first.name)!
      .run('mariadb --batch -N', {
        purpose: 'read the clustercheck and monitor accounts',
        stdin: accountFactsSql(lb.kind === 'proxysql' ? PROXYSQL_MONITOR_USER : undefined),
        timeoutMs: 30_000,
        allowFailure: true,
      }),
  ]);
  const state = new Map<string, HostState>();
  for (const r of [...lbResults, ...dbResults]) {
    if (!r.ok) throw r.error;
    state.set(r.host, r.value);
  }
  const parsed = accounts.code === 0 ? parseAccountFacts(accounts.stdout) : null;
  const gathered: LbGathered = {
    lbHosts,
    dbHosts,
    remotes,
    state,
    account: parsed?.account ?? null,
    monitor: parsed?.monitor ?? null,
    proxysql: new Map(),
    ...(parsed ? {} : { accountError: accounts.stderr.trim().split('\n').pop() || `exit ${accounts.code}` }),
  };
  if (lb.kind === 'proxysql') {
    const secret = context.secrets.valueOf(lb.proxysql.admin_password);
    const results = await context.forEachHost(lbHosts, async (remote, h) => {
      const active = state.get(h.name)?.units['proxysql']?.active === 'active';
      return active ? readProxysql(remote, lb.ports.admin, secret) : ({ login: null, runtime: null } as ProxysqlFact);
    });
    for (const r of results) {
      if (!r.ok) throw r.error;
      gathered.proxysql.set(r.host, r.value);
    }
  }
  return gathered;
}

// ---------------------------------------------------------------------------
// Changes

/** Downloads (or takes from the runner's tool cache) the pinned ProxySQL .deb and checks its sha256. */
export type PackageFetcher = (pkg: { url: string; sha256: string }, logger: Logger) => Promise<Buffer>;

export const fetchPinnedPackage: PackageFetcher = async (pkg, logger) => {
  const want = pkg.sha256.toLowerCase();
  const version = `0.0.0-sha${want.slice(0, 16)}`;
  const cacheable = !!process.env['RUNNER_TOOL_CACHE'];
  if (cacheable) {
    const dir = tc.find('lms-ha-proxysql-deb', version);
    if (dir) {
      const bytes = await readFile(join(dir, 'proxysql.deb'));
      if (sha256(bytes) === want) {
        logger.info(`ProxySQL package from the runner's tool cache (sha256 ${want.slice(0, 12)})`);
        return bytes;
      }
    }
  }
  logger.info(`downloading ${pkg.url}`);
  const path = await tc.downloadTool(pkg.url, join(process.env['RUNNER_TEMP'] || tmpdir(), `lms-ha-proxysql-${randomBytes(8).toString('hex')}.deb`));
  const bytes = await readFile(path);
  const got = sha256(bytes);
  if (got !== want) {
    await rm(path, { force: true });
    throw new DeployError('invalid-input', `the ProxySQL package from ${pkg.url} has sha256 ${got}, not the pinned ${want}`, {
      hint: 'The file changed upstream or the download was tampered with. Check the vendor checksum and update load_balancer.proxysql.package.sha256 only if it is genuine.',
    });
  }
  if (cacheable) await tc.cacheFile(path, 'proxysql.deb', 'lms-ha-proxysql-deb', version);
  await rm(path, { force: true });
  return bytes;
};

export interface ComputeOptions {
  /** How the pinned ProxySQL package is fetched on the runner (tests inject a fake). */
  fetchPackage?: PackageFetcher;
}

export function computeLbPlan(context: CommandContext, desired: LbDesired, g: LbGathered, options: ComputeOptions = {}): Plan {
  const { lb, lbHosts, dbHosts } = desired;
  const changes: PlannedChange[] = [];
  const warnings = [...desired.warnings];
  const fingerprint = (value: string) => secretFingerprint(context.request.planHashKey, [value]);
  const sqlHost = dbHosts[0]!.name;

  if (g.account === null) {
    warnings.push(`could not read accounts on ${sqlHost} (${g.accountError ?? 'no answer'}): is MariaDB running? Run deploy-db first; the account changes below assume they do not exist`);
  }

  // 1. db nodes (kind haproxy): the health check HAProxy asks, fenced first.
  if (lb.kind === 'haproxy') {
    const dbInstalls = new Map<string, string[]>();
    for (const db of dbHosts) {
      const missing = DB_PACKAGES.filter((p) => g.state.get(db.name)!.packages[p] === undefined);
      if (missing.length > 0) dbInstalls.set(db.name, missing);
    }
    const dbInstallPhase = installPhase(dbInstalls);
    for (const db of dbHosts) {
      const s = g.state.get(db.name)!;
      const wanted = desired.clustercheck.get(db.name)!;
      const dbPort = context.environment.database?.port ?? 3306;
      const peers = dbHosts.filter((h) => h !== db);
      warnings.push(...firewallWarnings(db, s, peers, lbHosts, { db: dbPort, check: lb.clustercheck_port }));
      if (!s.users[CLUSTERCHECK_USER]) {
        changes.push(userChange(db.name, CLUSTERCHECK_USER, `the health check runs as ${CLUSTERCHECK_USER}; unix_socket maps it to the MariaDB account of the same name, so no password exists`));
      }
      for (const [dir, why] of [
        [LMS_HA_ETC_DIR, `touch ${DEFAULT_MAINTENANCE_FILE} to drain this node`],
        [LMS_HA_LIB_DIR, 'the health check script'],
      ] as const) {
        const c = directoryChange(db.name, dir, s.dirs[dir], why);
        if (c) changes.push(c);
      }
      for (const pkg of dbInstalls.get(db.name) ?? []) changes.push(packageChange(db.name, pkg, dbInstallPhase));

      // The fence before the socket, so the port never listens unfenced. The
      // socket unit's IP lists rely on cgroup eBPF (absent in containers).
      const others = nftTables(s).filter((t) => t !== `inet ${CLUSTERCHECK_NFT_TABLE}`);
      const fenceLive = nftTables(s).includes(`inet ${CLUSTERCHECK_NFT_TABLE}`);
      const kept = others.length > 0 ? `other tables kept as they are: ${others.join(', ')}` : 'no other table loaded';
      const nft: WantedFile = { path: CLUSTERCHECK_NFT_PATH, content: wanted.nftables, mode: 0o644, owner: 'root', group: 'root' };
      const nftChange = fileChange(db.name, nft, s.files[CLUSTERCHECK_NFT_PATH], {
        why: `table inet ${CLUSTERCHECK_NFT_TABLE}: only the load balancers reach port ${lb.clustercheck_port}; checked with nft -c`,
        apply: checkedFileApply(nft, CLUSTERCHECK_NFT_CANDIDATE_PATH, `nft -c -f ${CLUSTERCHECK_NFT_CANDIDATE_PATH}`, 'nft -c', 'the nftables fence'),
      });
      const unitFile: WantedFile = { path: ccFirewallPath, content: renderClustercheckFirewallUnit(CLUSTERCHECK_NFT_PATH), mode: 0o644, owner: 'root', group: 'root' };
      const unitChange = fileChange(db.name, unitFile, s.files[ccFirewallPath], { why: 'loads the fence at boot and after nftables.service flushes the ruleset' });
      if (nftChange) changes.push(nftChange);
      if (unitChange) changes.push(unitChange);
      // The operator's nftables.service (now or installed later) flushes the ruleset on start, reload and stop.
      const dropInDir = directoryChange(db.name, nftablesDropInDir, s.dirs[nftablesDropInDir], 'drop-ins of nftables.service', { onlyIfAbsent: true });
      const dropInFile: WantedFile = { path: NFTABLES_DROP_IN_PATH, content: renderNftablesServiceDropIn(CLUSTERCHECK_NFT_PATH), mode: 0o644, owner: 'root', group: 'root' };
      const dropInChange = fileChange(db.name, dropInFile, s.files[NFTABLES_DROP_IN_PATH], { why: 'loads the fence again after nftables.service flushes the ruleset on start, reload or stop' });
      if (dropInDir) changes.push(dropInDir);
      if (dropInChange) changes.push(dropInChange);
      const fw = s.units[CLUSTERCHECK_FIREWALL_UNIT]!;
      if (fw.enabled !== 'enabled') {
        changes.push(serviceChange(db.name, CLUSTERCHECK_FIREWALL_UNIT, 'enable', `enable ${CLUSTERCHECK_FIREWALL_UNIT} (loads the fence at boot)`, `systemctl daemon-reload && systemctl enable ${CLUSTERCHECK_FIREWALL_UNIT}`));
      }
      if (fw.active !== 'active' || !fenceLive || nftChange || unitChange || dropInChange) {
        const why = fw.active === 'active' && !fenceLive && !nftChange && !unitChange && !dropInChange ? 'the table is not loaded: someone flushed the ruleset' : kept;
        // reload-or-restart: a reload swaps the table in one transaction, never leaving the port open.
        changes.push(
          serviceChange(db.name, CLUSTERCHECK_FIREWALL_UNIT, fw.active === 'active' ? 'reload' : 'start', `load nftables table inet ${CLUSTERCHECK_NFT_TABLE} (${why})`, `systemctl daemon-reload && systemctl reload-or-restart ${CLUSTERCHECK_FIREWALL_UNIT}`),
        );
      }

      const fileChanged = new Set<string>();
      for (const f of wanted.files) {
        const c = fileChange(db.name, f, s.files[f.path]);
        if (c) {
          changes.push(c);
          fileChanged.add(f.path);
        }
      }
      const socket = s.units[CLUSTERCHECK_SOCKET_UNIT]!;
      const unit = CLUSTERCHECK_SOCKET_UNIT;
      if (socket.enabled !== 'enabled' || socket.active !== 'active') {
        changes.push(
          serviceChange(db.name, unit, 'enable', `enable and start ${unit} (health check on port ${lb.clustercheck_port})`, `systemctl daemon-reload && systemctl enable --now ${unit}${fileChanged.has(ccSocketPath) && socket.active === 'active' ? ` && systemctl restart ${unit}` : ''}`),
        );
      } else if (fileChanged.has(ccSocketPath)) {
        changes.push(serviceChange(db.name, unit, 'restart', `restart ${unit} (its unit file changed)`, `systemctl daemon-reload && systemctl restart ${unit}`));
      } else if (fileChanged.has(ccServicePath)) {
        changes.push(serviceChange(db.name, CLUSTERCHECK_SERVICE_UNIT, 'reload', 'systemctl daemon-reload (the next check runs the new service unit)', 'systemctl daemon-reload'));
      }
    }

    // The account replicates: once, through the first db node.
    const account = g.account;
    const wrongPlugin = account !== null && account.plugin !== null && account.plugin !== 'unix_socket';
    const extra = account?.extraGrants ?? 0;
    if (account === null || account.plugin === null || wrongPlugin || extra > 0) {
      const name = `'${CLUSTERCHECK_USER}'@'localhost'`;
      const revoke = extra > 0 ? `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${name};\n` : '';
      const detail =
        account === null || account.plugin === null
          ? 'IDENTIFIED VIA unix_socket, no grants (USAGE reads wsrep status)'
          : [wrongPlugin ? `authentication ${account.plugin} -> unix_socket` : '', extra > 0 ? `revoke ${extra} extra privilege(s)` : ''].filter(Boolean).join('; ');
      changes.push({
        kind: 'sql',
        id: changeId('sql', sqlHost, 'user', name),
        host: sqlHost,
        summary: `${account?.plugin ? 'fix' : 'create'} MariaDB account ${name} for the health check`,
        scope: 'cluster',
        object: 'user',
        name,
        action: account?.plugin ? 'alter' : 'create',
        detail,
        apply: async (ctx) => {
          await runSqlScript(ctx.host, `SET SESSION wsrep_sync_wait=0;\n${clustercheckAccountSql()}${revoke}`, 'create the clustercheck account');
        },
      });
    }
  } else {
    // kind proxysql: the monitor account, once, through the first db node.
    const model = desired.proxysql!;
    const addresses = lbHosts.map((h) => h.address);
    const hash = mysqlNativePasswordHash(model.monitor.password);
    const have = g.monitor?.hosts ?? {};
    const missing = addresses.filter((a) => have[a] === undefined);
    const stale = addresses.filter((a) => have[a] !== undefined && have[a] !== hash);
    if (g.monitor === null || missing.length > 0 || stale.length > 0) {
      const sql = proxysqlMonitorAccountSql(model.monitor, addresses).sql;
      const name = `'${PROXYSQL_MONITOR_USER}'@{${addresses.join(',')}}`;
      changes.push({
        kind: 'sql',
        id: changeId('sql', sqlHost, 'user', PROXYSQL_MONITOR_USER),
        host: sqlHost,
        summary: `${missing.length > 0 || g.monitor === null ? 'create' : 'update'} the ProxySQL monitor account ${PROXYSQL_MONITOR_USER} (no privileges)`,
        scope: 'cluster',
        object: 'user',
        name,
        action: missing.length > 0 || g.monitor === null ? 'create' : 'alter',
        detail: [missing.length > 0 ? `create for ${missing.join(', ')}` : '', stale.length > 0 ? `password changed for ${stale.join(', ')}` : ''].filter(Boolean).join('; ') || 'create',
        fingerprint: fingerprint(hash),
        apply: async (ctx) => {
          await runSqlScript(ctx.host, `SET SESSION wsrep_sync_wait=0;\n${sql}`, 'create the ProxySQL monitor account');
        },
      });
    }
  }

  // 2. Packages on the load balancers: one parallel phase for all of them.
  const installs = new Map<string, string[]>();
  const basePackages: readonly string[] = lb.kind === 'haproxy' ? HAPROXY_LB_PACKAGES : PROXYSQL_LB_PACKAGES;
  for (const h of lbHosts) {
    const s = g.state.get(h.name)!;
    const missing = basePackages.filter((p) => s.packages[p] === undefined);
    if (missing.length > 0) installs.set(h.name, missing);
  }
  const lbInstallPhase = installPhase(installs);
  const proxysqlPkg = lb.kind === 'proxysql' ? lb.proxysql.package : undefined;
  const fetchPackage = options.fetchPackage ?? fetchPinnedPackage;
  const debBytes = once(() => fetchPackage(proxysqlPkg!, context.logger));

  // One load balancer after the other, the VIP holder last: the other LB is
  // already done and healthy when the holder's proxy reloads or its keepalived
  // restarts, so the VIP moves at most once and always to a working LB.
  const holder = lbHosts.find((h) => holdsVipNow(g.state.get(h.name), lb.vip_address));
  const lbOrder = holder ? [...lbHosts.filter((h) => h !== holder), holder] : lbHosts;
  for (const h of lbOrder) {
    const s = g.state.get(h.name)!;
    const keepalivedFiles = desired.keepalived.get(h.name)!.files;
    for (const pkg of installs.get(h.name) ?? []) changes.push(packageChange(h.name, pkg, lbInstallPhase));
    if (lb.kind === 'proxysql' && s.packages[PROXYSQL_PACKAGE] === undefined) {
      const debPath = proxysqlPkg ? `${PROXYSQL_DEB_DIR}/proxysql_${proxysqlPkg.sha256.toLowerCase().slice(0, 16)}.deb` : '';
      changes.push({
        kind: 'package',
        id: changeId('package', h.name, PROXYSQL_PACKAGE),
        host: h.name,
        summary: proxysqlPkg
          ? `install proxysql from the pinned package (downloaded on the runner, pushed over SSH)`
          : 'install proxysql from the vendor repository',
        name: PROXYSQL_PACKAGE,
        from: null,
        to: proxysqlPkg ? `${proxysqlPkg.url} (sha256 ${proxysqlPkg.sha256.toLowerCase()})` : 'candidate from the package sources',
        apply: async (ctx) => {
          if (!proxysqlPkg) {
            await aptInstall(ctx.host, [PROXYSQL_PACKAGE], ctx.logger);
            return;
          }
          const bytes = await debBytes();
          await ctx.host.run(`install -d -m 0755 -o root -g root ${PROXYSQL_DEB_DIR}`, { purpose: `create ${PROXYSQL_DEB_DIR}` });
          await ctx.host.writeFile(debPath, bytes, { mode: 0o644, owner: 'root', group: 'root' });
          const check = await ctx.host.run(`sha256sum ${shellQuote(debPath)} | cut -d' ' -f1`, { purpose: 'check the pushed ProxySQL package' });
          if (check.stdout.trim() !== proxysqlPkg.sha256.toLowerCase()) {
            throw new DeployError('apply-failed', `the ProxySQL package pushed to ${ctx.host.name} does not have the pinned sha256`, {
              host: ctx.host.name,
              hint: 'The transfer was cut or altered; run apply again.',
            });
          }
          await aptInstall(ctx.host, [debPath], ctx.logger);
        },
      });
    }

    // 3. The user keepalived runs its scripts as (enable_script_security).
    const createdUser = !s.users[KEEPALIVED_SCRIPT_USER];
    if (createdUser) {
      changes.push(userChange(h.name, KEEPALIVED_SCRIPT_USER, 'keepalived runs its check and notify scripts as this unprivileged user (enable_script_security)'));
    }

    // 4. The proxy.
    if (lb.kind === 'haproxy') {
      const content = desired.haproxyConfig!;
      const cfg = fileChange(
        h.name,
        { path: HAPROXY_CONFIG_PATH, content, mode: 0o644, owner: 'root', group: 'root' },
        s.files[HAPROXY_CONFIG_PATH],
        {
          why: 'checked with haproxy -c before it replaces the live file',
          apply: checkedFileApply(
            { path: HAPROXY_CONFIG_PATH, content, mode: 0o644, owner: 'root', group: 'root' },
            HAPROXY_CANDIDATE_PATH,
            `haproxy -c -q -f ${HAPROXY_CANDIDATE_PATH}`,
            'haproxy -c',
            'the new haproxy.cfg',
          ),
        },
      );
      if (cfg) changes.push(cfg);
      const unit = s.units['haproxy']!;
      if (unit.enabled !== 'enabled') changes.push(serviceChange(h.name, 'haproxy', 'enable', 'enable haproxy at boot', 'systemctl enable haproxy'));
      if (unit.active !== 'active') {
        // The package may have started it on its default config after the facts were read.
        changes.push(serviceChange(h.name, 'haproxy', 'start', 'start haproxy (or reload it if the package started it)', 'systemctl reload-or-restart haproxy'));
      } else if (cfg) {
        changes.push(serviceChange(h.name, 'haproxy', 'reload', 'reload haproxy (configuration changed; established connections are kept)', 'systemctl reload haproxy'));
      }
    } else {
      const unit = s.units['proxysql']!;
      if (unit.enabled !== 'enabled') changes.push(serviceChange(h.name, 'proxysql', 'enable', 'enable proxysql at boot', 'systemctl enable proxysql'));
      // Type=forking: the start returns before the admin port listens; the admin SQL below needs it.
      if (unit.active !== 'active') changes.push(serviceChange(h.name, 'proxysql', 'start', 'start proxysql', 'systemctl start proxysql', { port: lb.ports.admin }));
      changes.push(...proxysqlSqlChanges(h.name, desired, g, lb, fingerprint));
    }

    // 5. Keepalived last on each LB: its probe needs the proxy up. Not every
    // keepalived package ships /etc/keepalived; the package's own mode is kept.
    const kaDir = directoryChange(h.name, '/etc/keepalived', s.dirs['/etc/keepalived'], 'keepalived configuration', { onlyIfAbsent: true });
    if (kaDir) changes.push(kaDir);
    let keepalivedChanged = createdUser;
    // Scripts first: `keepalived -t` checks the scripts the new configuration names.
    for (const f of [...keepalivedFiles].sort((a, b) => (a.path === KEEPALIVED_CONFIG_PATH ? 1 : b.path === KEEPALIVED_CONFIG_PATH ? -1 : 0))) {
      const sensitive = f.path === KEEPALIVED_CONFIG_PATH;
      const c = fileChange(
        h.name,
        f,
        s.files[f.path],
        sensitive
          ? {
              sensitive,
              why: 'holds the VRRP password: root 0600, content not shown; checked with keepalived -t',
              apply: checkedFileApply(f, KEEPALIVED_CANDIDATE_PATH, KEEPALIVED_CHECK_COMMAND, 'keepalived -t', 'the new keepalived.conf'),
            }
          : {},
      );
      if (c) {
        changes.push(c);
        keepalivedChanged = true;
      }
    }
    const ka = s.units['keepalived']!;
    if (ka.enabled !== 'enabled') changes.push(serviceChange(h.name, 'keepalived', 'enable', 'enable keepalived at boot', 'systemctl enable keepalived'));
    if (ka.active !== 'active') {
      changes.push(serviceChange(h.name, 'keepalived', 'start', `start keepalived (VIP ${lb.vip_address})`, 'systemctl restart keepalived', {}));
    } else if (keepalivedChanged) {
      // SIGHUP: keepalived re-reads its configuration and keeps its VRRP state, so the holder keeps the VIP.
      const role = h === holder ? 'holds the VIP now, so it goes last' : 'does not hold the VIP';
      changes.push(serviceChange(h.name, 'keepalived', 'reload', `reload keepalived (configuration changed; ${role})`, 'systemctl reload keepalived'));
    }
  }

  return createPlan({
    command: 'deploy-lb',
    environment: context.environment.name,
    changes,
    warnings,
    hosts: [...dbHosts, ...lbHosts].map((h) => hostFactsRow(h, g, lb)),
  });
}

function proxysqlSqlChanges(
  host: string,
  desired: LbDesired,
  g: LbGathered,
  lb: ProxysqlLoadBalancer,
  fingerprint: (value: string) => string,
): PlannedChange[] {
  const model = desired.proxysql!;
  const fact = g.proxysql.get(host) ?? { login: null, runtime: null };
  // Unknown runtime (not installed yet, or not readable): every section.
  const diff: ProxysqlChange[] | null = fact.runtime ? diffProxysqlRuntime(model, fact.runtime) : null;
  const sections: readonly ProxysqlSection[] = diff ? sectionsToApply(diff) : ['mysql_variables', 'mysql_servers', 'mysql_users', 'mysql_query_rules', 'admin_variables'];
  const objects: Record<ProxysqlSection, 'variable' | 'user'> = {
    mysql_variables: 'variable',
    mysql_servers: 'variable',
    mysql_users: 'user',
    mysql_query_rules: 'variable',
    admin_variables: 'variable',
  };
  return sections.map((section) => {
    const rendered = renderProxysqlAdminSql(model, { sections: [section] });
    const details = diff ? diff.filter((c) => c.section === section).map((c) => `${c.action} ${c.subject}: ${c.detail}`) : ['not readable yet: loaded whole'];
    return {
      kind: 'sql' as const,
      id: changeId('sql', host, 'proxysql', section),
      host,
      summary: `ProxySQL ${section.replace(/_/g, ' ')}: LOAD TO RUNTIME, SAVE TO DISK`,
      scope: 'host' as const,
      object: objects[section],
      name: section,
      action: 'set' as const,
      detail: details.join('; '),
      // Secret desired state (hashes, credentials) changes the plan without being shown.
      fingerprint: fingerprint(rendered.sql),
      apply: async (ctx) => {
        // The login that works now: the secret, or ProxySQL's default on a fresh install.
        const secret = model.adminPassword;
        for (const password of fact.login === 'secret' ? [secret] : [PROXYSQL_DEFAULT_ADMIN_PASSWORD, secret]) {
          const r = await ctx.host.run(proxysqlAdminScript(lb.ports.admin), {
            purpose: `configure ProxySQL ${section}`,
            stdin: clientOptionFile(PROXYSQL_ADMIN_USER, password) + rendered.sql,
            timeoutMs: 120_000,
            allowFailure: true,
          });
          if (r.code === 0) return;
          if (!/Access denied/i.test(r.stderr) || password === secret) {
            throw new DeployError('apply-failed', `ProxySQL admin SQL (${section}) failed on ${ctx.host.name}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`, {
              host: ctx.host.name,
              hint: `Check that proxysql runs (journalctl -u proxysql) and listens on 127.0.0.1:${lb.ports.admin}.`,
            });
          }
        }
      },
    };
  });
}

function hostFactsRow(host: Host, g: LbGathered, lb: LoadBalancer): PlanHostFacts {
  const kind = lb.kind;
  const s = g.state.get(host.name);
  const facts: Record<string, string> = {};
  if (s && host.roles.includes('lb')) {
    const proxy = kind === 'haproxy' ? 'haproxy' : PROXYSQL_PACKAGE;
    facts[proxy] = s.packages[proxy] ?? 'not installed';
    facts['keepalived'] = s.packages['keepalived'] ?? 'not installed';
    facts['services'] = `${proxy} ${s.units[proxy]?.active ?? 'unknown'}, keepalived ${s.units['keepalived']?.active ?? 'unknown'}`;
    facts['vip'] = holdsVipNow(s, lb.vip_address) ? 'held here' : 'not here';
  } else if (s) {
    facts['clustercheck'] = s.units[CLUSTERCHECK_SOCKET_UNIT]?.active ?? 'unknown';
    if (kind === 'haproxy') {
      const tables = nftTables(s);
      facts['nftables'] = s.packages['nftables'] === undefined ? 'not installed' : tables.length > 0 ? `tables: ${tables.join(', ')}` : 'no table loaded';
    }
  }
  return { name: host.name, address: host.address, roles: [...host.roles], facts };
}

// ---------------------------------------------------------------------------
// The command

export function createDeployLb(options: ComputeOptions = {}): CommandRunner {
  return async (context) => {
    const desired = desiredLbState(context);
    const hosts = [...desired.dbHosts, ...desired.lbHosts];
    const compute = { ...options };

    return planOrApplyReviewed(context, {
      command: 'deploy-lb',
      lockHosts: hosts,
      gather: () => gatherLbFacts(context, desired),
      plan: (g) => computeLbPlan(context, desired, g, compute),
    });
  };
}

/** deploy-lb as the registry runs it (tests build their own with createDeployLb and a fake package fetcher). */
export const deployLb: CommandRunner = createDeployLb();

export const deployLbCommand: CommandDescriptor = {
  name: 'deploy-lb',
  summary: 'HAProxy or ProxySQL behind a Keepalived VIP, with clustercheck on the db nodes',
  options: [],
  // The load balancers route to the Galera nodes, so they need both.
  needs: { roles: ['lb', 'db'], sections: ['load_balancer', 'database'] },
  run: deployLb,
};
