/** deploy-lb's names and the desired state the inventory gives: the rendered haproxy.cfg, keepalived and clustercheck files, the ProxySQL model. Pure. */
import { DeployError } from '../../errors.js';
import { hostsWithRole, type Environment, type Host } from '../../inventory/index.js';
import type { HaproxyLoadBalancer, LoadBalancer, ProxysqlLoadBalancer } from '../../inventory/environment.js';
import {
  renderClustercheckFiles,
  renderClustercheckNftables,
  type ClustercheckModel,
} from '../../components/clustercheck/index.js';
import {
  HAPROXY_CONFIG_PATH,
  HAPROXY_DEFAULTS,
  renderHaproxyConfig,
  type HaproxyModel,
} from '../../components/haproxy/index.js';
import {
  KEEPALIVED_CONFIG_PATH,
  keepalivedAuthPass,
  renderKeepalivedConfig,
  validateVirtualRouterIds,
  type KeepalivedModel,
  type RenderedKeepalived,
} from '../../components/keepalived/index.js';
import { proxysqlMonitorAccountSql, renderProxysqlAdminSql, type ProxysqlModel } from '../../components/proxysql/index.js';
import { clustercheckSources } from '../../components/nftables/access.js';
import type { CommandContext } from '../context.js';

// ---------------------------------------------------------------------------
// Names shared with verify-ha and the e2e tests

/** Where operators put the maintenance (drain) file; created by deploy-lb. */
export const LMS_HA_ETC_DIR = '/etc/lms-ha';
/** Directory of the clustercheck script. */
export const LMS_HA_LIB_DIR = '/usr/local/lib/lms-ha';
/** The nftables fence of the health check (its own table; loaded by CLUSTERCHECK_FIREWALL_UNIT). */
export const CLUSTERCHECK_NFT_PATH = `${LMS_HA_ETC_DIR}/clustercheck.nft`;
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
export const PROXYSQL_DEFAULT_ADMIN_PASSWORD = 'admin';


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
