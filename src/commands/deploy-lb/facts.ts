/** What deploy-lb reads before it plans: each host's state (through the fact registry), the clustercheck and monitor accounts, ProxySQL's runtime tables. */
import { type Host } from '../../inventory/index.js';
import type { LoadBalancer } from '../../inventory/environment.js';
import type { RemoteHost } from '../../ssh/types.js';
import {
  CLUSTERCHECK_FIREWALL_UNIT,
  CLUSTERCHECK_NFT_TABLE,
  CLUSTERCHECK_SERVICE_UNIT,
  CLUSTERCHECK_SOCKET_UNIT,
  CLUSTERCHECK_USER,
  DEFAULT_CLUSTERCHECK_SCRIPT,
  NFTABLES_DROP_IN_PATH,
} from '../../components/clustercheck/index.js';
import { HAPROXY_CONFIG_PATH } from '../../components/haproxy/index.js';
import {
  holdsVip,
  KEEPALIVED_CHECK_SCRIPT,
  KEEPALIVED_CONFIG_PATH,
  KEEPALIVED_NOTIFY_SCRIPT,
  KEEPALIVED_SCRIPT_USER,
} from '../../components/keepalived/index.js';
import {
  PROXYSQL_ADMIN_USER,
  PROXYSQL_RUNTIME_QUERY,
  parseProxysqlRuntime,
  type ProxysqlRuntime,
} from '../../components/proxysql/index.js';
import { findBlockedPorts, GALERA_PEER_PORTS, type WatchedPort } from '../../components/nftables/index.js';
import { clientOptionFile, withCredentialsFile } from '../../facts/health.js';
import type { HostState, HostStateQuery } from '../../facts/host-state.js';
import { gatherHostState } from '../../facts/read.js';
import type { CommandContext } from '../context.js';
import { CLUSTERCHECK_NFT_PATH, DB_PACKAGES, HAPROXY_LB_PACKAGES, LMS_HA_ETC_DIR, LMS_HA_LIB_DIR, type LbDesired, PROXYSQL_DEFAULT_ADMIN_PASSWORD, PROXYSQL_LB_PACKAGES, PROXYSQL_MONITOR_USER, PROXYSQL_PACKAGE } from './desired.js';

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
export const ccSocketPath = `/etc/systemd/system/${CLUSTERCHECK_SOCKET_UNIT}`;
export const ccServicePath = `/etc/systemd/system/${CLUSTERCHECK_SERVICE_UNIT}`;
export const ccFirewallPath = `/etc/systemd/system/${CLUSTERCHECK_FIREWALL_UNIT}`;
export const nftablesDropInDir = NFTABLES_DROP_IN_PATH.slice(0, NFTABLES_DROP_IN_PATH.lastIndexOf('/'));

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
export function holdsVipNow(state: HostState | undefined, vip: string): boolean {
  return holdsVip((state?.probes[PROBE_ADDRESSES] ?? []).join('\n'), vip);
}

/** `nft list tables` lines ("table inet filter") as "inet filter". */
export function nftTables(state: HostState | undefined): string[] {
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
