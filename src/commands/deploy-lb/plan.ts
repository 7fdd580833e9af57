/** deploy-lb's plan: the phases, in the order apply runs them. Pure: gathered facts and the desired state in, changes out. */
import { DeployError } from '../../errors.js';
import { changeId, type PlannedChange } from '../../engine/change.js';
import {
  createPlan,
  secretFingerprint,
  type HostFacts as PlanHostFacts,
  type Plan,
} from '../../engine/plan.js';
import { type Host } from '../../inventory/index.js';
import type { HaproxyLoadBalancer, LoadBalancer, ProxysqlLoadBalancer } from '../../inventory/environment.js';
import { shellQuote } from '../../ssh/quote.js';
import {
  CLUSTERCHECK_FIREWALL_UNIT,
  CLUSTERCHECK_NFT_TABLE,
  CLUSTERCHECK_SERVICE_UNIT,
  CLUSTERCHECK_SOCKET_UNIT,
  CLUSTERCHECK_USER,
  DEFAULT_MAINTENANCE_FILE,
  NFTABLES_DROP_IN_PATH,
  clustercheckAccountSql,
  renderClustercheckFirewallUnit,
  renderNftablesServiceDropIn,
} from '../../components/clustercheck/index.js';
import { HAPROXY_CONFIG_PATH } from '../../components/haproxy/index.js';
import { KEEPALIVED_CONFIG_PATH, KEEPALIVED_SCRIPT_USER } from '../../components/keepalived/index.js';
import {
  PROXYSQL_ADMIN_USER,
  diffProxysqlRuntime,
  mysqlNativePasswordHash,
  proxysqlMonitorAccountSql,
  renderProxysqlAdminSql,
  sectionsToApply,
  type ProxysqlChange,
  type ProxysqlSection,
} from '../../components/proxysql/index.js';
import { runSqlScript } from '../../components/galera/orchestrate.js';
import { checkedFileApply, fileChange, type WantedFile } from '../../operations/file.js';
import { directoryChange } from '../../operations/directory.js';
import {
  aptInstall,
  installPhase,
  once,
  packageChange,
} from '../../operations/packages.js';
import { serviceChange } from '../../operations/service.js';
import { userChange } from '../../operations/user.js';
import { clientOptionFile } from '../../facts/health.js';
import type { CommandContext } from '../context.js';
import { CLUSTERCHECK_NFT_CANDIDATE_PATH, CLUSTERCHECK_NFT_PATH, DB_PACKAGES, HAPROXY_CANDIDATE_PATH, HAPROXY_LB_PACKAGES, KEEPALIVED_CANDIDATE_PATH, KEEPALIVED_CHECK_COMMAND, LMS_HA_ETC_DIR, LMS_HA_LIB_DIR, type LbDesired, PROXYSQL_DEB_DIR, PROXYSQL_DEFAULT_ADMIN_PASSWORD, PROXYSQL_LB_PACKAGES, PROXYSQL_MONITOR_USER, PROXYSQL_PACKAGE } from './desired.js';
import { type LbGathered, ccFirewallPath, ccServicePath, ccSocketPath, firewallWarnings, holdsVipNow, nftTables, nftablesDropInDir, proxysqlAdminScript } from './facts.js';
import { type PackageFetcher, fetchPinnedPackage } from './fetch.js';

export interface ComputeOptions {
  /** How the pinned ProxySQL package is fetched on the runner (tests inject a fake). */
  fetchPackage?: PackageFetcher;
}

/** What every phase reads: the desired state, the gathered facts, and how the plan hash sees a secret. */
interface LbPlanInput {
  context: CommandContext;
  desired: LbDesired;
  g: LbGathered;
  fingerprint: (value: string) => string;
  /** Accounts replicate: their SQL runs once, through the first db node. */
  sqlHost: string;
}

/**
 * The phases, in the order apply runs them: on the db nodes (kind haproxy) the
 * health check HAProxy asks, fenced first, and its account; (kind proxysql) the
 * monitor account; then one load balancer after the other, the VIP holder last.
 */
export function computeLbPlan(context: CommandContext, desired: LbDesired, g: LbGathered, options: ComputeOptions = {}): Plan {
  const { lb, lbHosts, dbHosts } = desired;
  const input: LbPlanInput = {
    context,
    desired,
    g,
    fingerprint: (value) => secretFingerprint(context.request.planHashKey, [value]),
    sqlHost: dbHosts[0]!.name,
  };
  const warnings = [...desired.warnings];
  if (g.account === null) {
    warnings.push(`could not read accounts on ${input.sqlHost} (${g.accountError ?? 'no answer'}): is MariaDB running? Run deploy-db first; the account changes below assume they do not exist`);
  }
  const changes: PlannedChange[] = [];
  if (lb.kind === 'haproxy') {
    changes.push(...healthCheckChanges(input, lb, warnings));
    changes.push(...clustercheckAccountChanges(input));
  } else {
    changes.push(...monitorAccountChanges(input));
  }
  changes.push(...loadBalancerChanges(input, options));
  return createPlan({
    command: 'deploy-lb',
    environment: context.environment.name,
    changes,
    warnings,
    hosts: [...dbHosts, ...lbHosts].map((h) => hostFactsRow(h, g, lb)),
  });
}

/** 1. On each db node: clustercheck's user, directories, package, nftables fence, files and socket. */
function healthCheckChanges(input: LbPlanInput, lb: HaproxyLoadBalancer, warnings: string[]): PlannedChange[] {
  const { context, desired, g } = input;
  const { lbHosts, dbHosts } = desired;
  const changes: PlannedChange[] = [];
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
  return changes;
}

/** 1b. The clustercheck account (unix_socket, no grants), once through the first db node. */
function clustercheckAccountChanges(input: LbPlanInput): PlannedChange[] {
  const { g, sqlHost } = input;
  const changes: PlannedChange[] = [];
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
  return changes;
}

/** 1 (kind proxysql). The monitor account, once through the first db node. */
function monitorAccountChanges(input: LbPlanInput): PlannedChange[] {
  const { desired, g, sqlHost, fingerprint } = input;
  const { lbHosts } = desired;
  const changes: PlannedChange[] = [];
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
  return changes;
}

/**
 * 2-5. One load balancer after the other, the VIP holder last: the other LB is
 * already done and healthy when the holder's proxy reloads or its keepalived
 * restarts, so the VIP moves at most once and always to a working LB.
 */
function loadBalancerChanges(input: LbPlanInput, options: ComputeOptions): PlannedChange[] {
  const { context, desired, g, fingerprint } = input;
  const { lb, lbHosts } = desired;
  const changes: PlannedChange[] = [];
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
  return changes;
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
