/**
 * deploy-db: MariaDB Galera on the db hosts.
 *
 * Facts first, on every db host in parallel (packages, service, option file,
 * wsrep status, grastate.dat), then the typed changes computed against them.
 * Plan mode stops there. Apply takes the environment lock, re-gathers and
 * re-plans under it, proves the plan is the reviewed one, then applies.
 * Cluster lifecycle steps (bootstrap, join, rolling restart) are explicit
 * orchestration with their own waits, not generic resources.
 */
import { createHash } from 'node:crypto';
import { DeployError } from '../../errors.js';
import { changeId, type PlannedChange } from '../../engine/change.js';
import { createPlan, secretFingerprint, type HostFacts as PlanHostFacts, type Plan } from '../../engine/plan.js';
import { hostsWithRole, type Environment, type Host } from '../../inventory/index.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { Logger } from '../../log.js';
import {
  appAccounts,
  compareGaleraConfig,
  diffAccounts,
  diffDatabases,
  evaluateGate,
  galeraModel,
  GALERA_CONFIG_PATH,
  listAccountsSql,
  listDatabasesSql,
  parseAccounts,
  parseDatabases,
  parseSchemaProblems,
  parseShowGrants,
  schemaProblemsSql,
  type SchemaProblem,
  renderGaleraConfig,
  renderSstAuthFile,
  rollingRestartOrder,
  showGrantsSql,
  sstAccount,
  toStdinSql,
  type ActualAccount,
  type DesiredAccount,
  type GaleraModel,
  type SqlChange as GaleraSqlChange,
} from '../../components/galera/index.js';
import { classifyCluster, type ClusterSituation } from '../../components/galera/cluster-state.js';
import {
  CLUSTER_MEMBERS_SQL,
  clusterView,
  decideRemoval,
  FORCE_REMOVE_OPTION,
  isInView,
  parseClusterMembers,
  parseIncomingAddresses,
  unlistedMembers,
  type ClusterView,
  type RemovalDecision,
  type RetiringNode,
} from '../../components/galera/membership.js';
import { configuredWriter } from '../../components/haproxy/configured-writer.js';
import { HAPROXY_CONFIG_PATH } from '../../components/haproxy/config.js';
import type { PreflightOutcome } from '../context.js';
import type { RunRequest } from '../../request.js';
import { GALERA_PACKAGES, type GaleraHostFacts } from '../../facts/galera.js';
import { gatherGaleraFacts } from '../../facts/read.js';
import { MARIADB_PIN_PATH, renderMariadbPin } from '../../components/galera/apt-pin.js';
import type { CommandDescriptor } from '../command.js';
import {
  assertClusterFormed,
  installGaleraPackages,
  queryNodeStatus,
  runSqlScript,
  startMariadb,
  syncedWithSize,
  waitForNode,
} from '../../components/galera/orchestrate.js';
import type { CommandContext, CommandRunner } from '../context.js';
import { platformPlanNotes } from '../../components/platform/notes.js';
import { presetDefinition } from '../../inventory/presets.js';
import { planOrApplyReviewed } from '../reviewed-change.js';
import { PROBE_SCHEMA, PROBE_TABLE, probeTableSql } from '../../facts/health.js';
import { once } from '../../operations/packages.js';

const BOOTSTRAP_TIMEOUT_MS = 5 * 60_000;
/**
 * What verify-ha's causality probe does with the app user's credentials:
 * REPLACE (needs INSERT and DELETE) then SELECT on the probe table.
 */
const PROBE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
const JOIN_TIMEOUT_MS = 30 * 60_000;

/** The component model from the inventory's database section and db hosts. */
export function galeraModelFor(environment: Environment): GaleraModel {
  const db = environment.database;
  if (!db) {
    throw new DeployError('invalid-inventory', `environment ${environment.name} has no database section`, {
      hint: 'Add a database: section (cluster_name at least) to the environment.',
    });
  }
  return galeraModel({
    clusterName: db.cluster_name,
    nodes: hostsWithRole(environment, 'db').map((h) => ({ name: h.name, address: h.address })),
    sst: {
      method: db.sst_method,
      auth: db.sst_password ? 'password' : 'unix_socket',
      user: db.sst_user,
      ...(db.sst_password ? { passwordSecret: db.sst_password.env } : {}),
    },
    ...(db.gcache_size ? { gcacheSize: String(db.gcache_size) } : {}),
    ...(db.buffer_pool_size ? { bufferPoolSize: String(db.buffer_pool_size) } : {}),
    ...(db.max_connections ? { maxConnections: db.max_connections } : {}),
    syncWait: db.sync_wait,
    bindAddress: db.bind_address,
    port: db.port,
    extra: { ...db.options },
    platform: platformOptionsFor(environment),
    version: db.version,
  });
}

/** The server settings the application preset decides (skip_name_resolve, single-writer auto-increment). */
function platformOptionsFor(environment: Environment): GaleraModel['platform'] {
  const preset = presetDefinition(environment.app.preset);
  if (!preset) return null;
  return { preset: environment.app.preset, options: Object.fromEntries(preset.serverSettings.map((s) => [s.name, s.value])) };
}

export function desiredAccounts(environment: Environment, model: GaleraModel): DesiredAccount[] {
  const accounts: DesiredAccount[] = [];
  const sst = sstAccount(model);
  if (sst) accounts.push(sst);
  for (const user of environment.app.users) {
    accounts.push(
      ...appAccounts({
        user: user.name,
        hosts: user.hosts,
        passwordSecret: user.password.env,
        databases: user.databases,
        privileges: user.privileges === 'ALL' ? ['ALL PRIVILEGES'] : [...user.privileges],
      }).map((account) => ({ ...account, grants: [...account.grants, { privileges: PROBE_PRIVILEGES, db: PROBE_SCHEMA, table: PROBE_TABLE }] })),
    );
  }
  return accounts;
}

function secretValues(context: CommandContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const user of context.environment.app.users) out[user.password.env] = context.secrets.valueOf(user.password);
  const sst = context.environment.database?.sst_password;
  if (sst) out[sst.env] = context.secrets.valueOf(sst);
  return out;
}

export interface Gathered {
  dbHosts: Host[];
  remotes: Map<string, RemoteHost>;
  facts: Map<string, GaleraHostFacts>;
  accounts: ActualAccount[];
  databases: { name: string; charset: string; collation: string }[];
  situation: ClusterSituation;
  schemaProblems: SchemaProblem[];
  /** verify-ha's causality probe table exists (unknown = false on a cluster not formed yet). */
  probeTable: boolean;
  /** The hosts listed in database.remove_nodes, as found (connections in `remotes` when reached). */
  retiring: RetiringNode[];
  /** The cluster as a Synced member sees it; null when no member is Synced. */
  view: ClusterView | null;
  /** The node the load balancers send writes to, when there is a removal and it could be read. */
  lbWriter?: { name: string; source: string };
}

/** Hosts named in database.remove_nodes (kept under hosts: without the db role). */
export function retiringHosts(environment: Environment): Host[] {
  const names = environment.database?.remove_nodes ?? [];
  return environment.hosts.filter((h) => names.includes(h.name));
}

/**
 * A host listed for removal may already be gone for good: preflight failing
 * only to reach such hosts does not stop deploy-db (the plan treats them as
 * gone once the remaining members confirm they are not in the cluster).
 */
export function deployDbToleratesPreflight(request: RunRequest, environment: Environment, outcome: PreflightOutcome): boolean {
  if (request.command !== 'deploy-db' || outcome.error?.reason !== 'ssh-failed') return false;
  const retiring = new Set(retiringHosts(environment).map((h) => h.name));
  const failed = outcome.checks.filter((c) => c.status === 'fail');
  return failed.length > 0 && failed.every((c) => c.check === 'ssh + sudo' && c.host !== undefined && retiring.has(c.host) && !outcome.facts.has(c.host));
}

async function gather(context: CommandContext, model: GaleraModel, desired: DesiredAccount[]): Promise<Gathered> {
  const dbHosts = hostsWithRole(context.environment, 'db');
  const remotes = new Map<string, RemoteHost>();
  for (const h of dbHosts) remotes.set(h.name, await context.host(h.name));
  const results = await context.forEachHost(dbHosts, (remote) => gatherGaleraFacts(remote));
  const facts = new Map<string, GaleraHostFacts>();
  results.forEach((r, i) => {
    if (!r.ok) throw r.error;
    facts.set(dbHosts[i]!.name, r.value);
  });
  const situation = classifyCluster(
    dbHosts.map((h) => h.name),
    facts,
  );

  let accounts: ActualAccount[] = [];
  let databases: Gathered['databases'] = [];
  let schemaProblems: SchemaProblem[] = [];
  let probeTable = false;
  // SQL objects replicate: read them from one Synced member (the writer when it is).
  const reader = situation.members.find((n) => {
    const s = facts.get(n)!.status;
    return s !== null && s.localState === 4 && s.clusterStatus === 'Primary';
  });
  if (reader) {
    const host = remotes.get(reader)!;
    const users = [...new Set(desired.map((a) => a.user))];
    const existing = parseAccounts(await runSqlScript(host, `${listAccountsSql(users)};\n`, 'list database accounts'));
    const wanted = new Set(desired.map((a) => `${a.user}@${a.host}`));
    const toRead = existing.filter((a) => wanted.has(`${a.user}@${a.host}`) || users.includes(a.user));
    if (toRead.length > 0) {
      // One round trip: each SHOW GRANTS preceded by a marker row.
      const script = toRead.map((a, i) => `SELECT '@@acct${i}';\n${showGrantsSql(a.user, a.host)};\n`).join('');
      const out = await runSqlScript(host, script, 'read grants');
      const parts = out.split(/^@@acct\d+$/m).slice(1);
      accounts = toRead.map((a, i) => ({ user: a.user, host: a.host, grants: parseShowGrants(parts[i] ?? '') }));
    }
    const probe = `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${PROBE_SCHEMA}' AND TABLE_NAME = '${PROBE_TABLE}';\n`;
    probeTable = (await runSqlScript(host, probe, 'look for the causality probe table')).trim() === '1';
    const names = context.environment.app.databases.map((d) => d.name);
    if (names.length > 0) {
      databases = parseDatabases(await runSqlScript(host, `${listDatabasesSql(names)};\n`, 'list databases'));
      // Galera replicates only InnoDB tables with a primary key correctly: say which are not.
      schemaProblems = parseSchemaProblems(await runSqlScript(host, `${schemaProblemsSql(names)};\n`, 'check tables for Galera'));
    }
  }
  let view: ClusterView | null = null;
  if (reader) {
    const status = facts.get(reader)!.status!;
    const r = await remotes.get(reader)!.run('mariadb --batch -N', {
      purpose: 'list the cluster members',
      stdin: `${CLUSTER_MEMBERS_SQL};\n`,
      timeoutMs: 30_000,
      allowFailure: true,
    });
    view = clusterView(status.clusterSize, r.code === 0 ? parseClusterMembers(r.stdout) : [], parseIncomingAddresses(status.raw['wsrep_incoming_addresses']));
  }

  // Retired hosts preflight could not reach are not contacted again.
  const retiringAll = retiringHosts(context.environment);
  const reached = retiringAll.filter((h) => context.facts.has(h.name));
  for (const h of reached) remotes.set(h.name, await context.host(h.name));
  const retiringFacts = await context.forEachHost(reached, (remote) => gatherGaleraFacts(remote));
  const retiring: RetiringNode[] = retiringAll.map((h) => {
    const i = reached.indexOf(h);
    const result = i >= 0 ? retiringFacts[i]! : null;
    if (result && !result.ok) throw result.error;
    const f = result?.ok ? result.value : null;
    const node = { name: h.name, address: h.address };
    return {
      ...node,
      reachable: f !== null,
      installed: f !== null && f.packages['mariadb-server'] !== undefined,
      running: f?.running ?? false,
      enabled: f?.enabled ?? false,
      inView: view ? isInView(view, node) : f !== null && f.running && f.wsrepActive,
    };
  });
  const lbWriter = retiring.some((r) => r.inView) ? await readLbWriter(context) : undefined;
  return { dbHosts, remotes, facts, accounts, databases, situation, schemaProblems, probeTable, retiring, view, ...(lbWriter ? { lbWriter } : {}) };
}

/** HAProxy's writer as installed on the first load balancer preflight reached (ProxySQL: not read). */
async function readLbWriter(context: CommandContext): Promise<Gathered['lbWriter']> {
  if (context.environment.load_balancer?.kind !== 'haproxy') return undefined;
  const lb = hostsWithRole(context.environment, 'lb').find((h) => context.facts.has(h.name));
  if (!lb) return undefined;
  const content = await (await context.host(lb.name)).readFile(HAPROXY_CONFIG_PATH);
  const name = content ? configuredWriter(content.toString('utf8')) : null;
  return name ? { name, source: `first server of the writer listener in ${HAPROXY_CONFIG_PATH} on ${lb.name}` } : undefined;
}

function sqlObject(kind: GaleraSqlChange['kind']): { object: 'user' | 'database' | 'grant'; action: 'create' | 'alter' | 'drop' } {
  switch (kind) {
    case 'create-database':
      return { object: 'database', action: 'create' };
    case 'alter-database':
      return { object: 'database', action: 'alter' };
    case 'create-user':
      return { object: 'user', action: 'create' };
    case 'password-changed':
    case 'auth-changed':
      return { object: 'user', action: 'alter' };
    case 'grant':
      return { object: 'grant', action: 'create' };
    case 'revoke':
      return { object: 'grant', action: 'drop' };
    case 'drop-user':
      return { object: 'user', action: 'drop' };
  }
}

/**
 * Before one member goes down (restart, upgrade, removal): every member named
 * must be Synced with `size` nodes, or nothing is stopped. `doing` completes
 * "not ... NODE" in the error.
 */
async function requireMembersSynced(hosts: ReadonlyMap<string, RemoteHost>, members: readonly string[], size: number, doing: string): Promise<void> {
  for (const other of members) {
    const reason = syncedWithSize(size)(await queryNodeStatus(hosts.get(other)!));
    if (reason !== null) {
      throw new DeployError('cluster-unhealthy', `${other} is not healthy (${reason}); not ${doing}`, {
        host: other,
        hint: 'Wait until every node is Synced, then run deploy-db again.',
      });
    }
  }
}

/**
 * One member's package upgrade inside a rolling change. The pinned version is
 * checked against the package sources before anything stops, so a pin that
 * cannot be installed fails with the node still running.
 */
async function rollingUpgrade(
  host: RemoteHost,
  hosts: ReadonlyMap<string, RemoteHost>,
  members: string[],
  specs: string[],
  size: number,
  port: number,
  logger: Logger,
): Promise<void> {
  await requireMembersSynced(hosts, members, size, `upgrading ${host.name}`);
  // The pin file step before this one checked that the sources have the version.
  logger.info(`rolling upgrade: stopping mariadb to install ${specs.join(' ')}`, host.name);
  await host.run('systemctl stop mariadb', { purpose: 'stop mariadb for the upgrade', timeoutMs: 5 * 60_000 });
  await installGaleraPackages(host, specs, logger);
  await startMariadb(host, 'systemctl start mariadb', port, { purpose: 'start mariadb after the upgrade', timeoutMs: JOIN_TIMEOUT_MS, logger });
  await waitForNode(host, syncedWithSize(size), { timeoutMs: JOIN_TIMEOUT_MS, logger, what: `Synced with cluster size ${size}` });
}

/** Fails, naming the host and what it has, when the package sources lack `version` of mariadb-server. */
async function requireVersionAvailable(host: RemoteHost, version: string): Promise<void> {
  const available = await host.run(
    'export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null 2>&1; apt-cache madison mariadb-server | cut -d"|" -f2 | tr -d " "',
    { purpose: 'list the mariadb-server versions in the package sources', timeoutMs: 5 * 60_000, allowFailure: true },
  );
  const versions = available.stdout.split('\n').map((v) => v.trim()).filter((v) => v !== '');
  if (!versions.includes(version)) {
    throw new DeployError('command-failed', `${host.name}: mariadb-server ${version} is not in the package sources (available: ${versions.join(', ') || 'none'}); nothing was stopped`, {
      host: host.name,
      hint: 'Set database.package_version to one of the available versions, or add the package source that has it (provision).',
    });
  }
}

/**
 * The apt pin for database.package_version on one host (apt-pin.ts says why
 * a file and not `pkg=version`), or null when the host already has the right
 * one. Writing it first checks that the sources have the version, so a bad
 * pin fails before any package or service is touched.
 */
function aptPinChange(host: Host, have: string | null, pin: string | undefined): PlannedChange | null {
  const want = pin ? renderMariadbPin(pin) : null;
  if (have === want) return null;
  if (want === null) {
    return {
      kind: 'file',
      id: changeId('file', host.name, MARIADB_PIN_PATH),
      host: host.name,
      summary: `remove ${MARIADB_PIN_PATH} (database.package_version is no longer set: installed versions stay, apt may upgrade them)`,
      path: MARIADB_PIN_PATH,
      before: { content: have! },
      after: null,
      sensitive: false,
      apply: async (ctx) => {
        await ctx.host.run(`rm -f ${MARIADB_PIN_PATH}`, { purpose: 'remove the MariaDB apt pin' });
      },
    };
  }
  return {
    kind: 'file',
    id: changeId('file', host.name, MARIADB_PIN_PATH),
    host: host.name,
    summary: `${have === null ? 'write' : 'update'} ${MARIADB_PIN_PATH} (every MariaDB package held at ${pin})`,
    path: MARIADB_PIN_PATH,
    before: have === null ? null : { content: have },
    after: { content: want, mode: 0o644, owner: 'root', group: 'root' },
    sensitive: false,
    apply: async (ctx) => {
      await requireVersionAvailable(ctx.host, pin!);
      await ctx.host.writeFile(MARIADB_PIN_PATH, want, { mode: 0o644, owner: 'root', group: 'root' });
    },
  };
}

function hostFactsRow(host: Host, f: GaleraHostFacts, pin: string | undefined): PlanHostFacts {
  const facts: Record<string, string> = {
    mariadb: f.packages['mariadb-server'] ?? 'not installed',
    ...(pin ? { pinned: pin } : {}),
    service: f.running ? 'running' : 'stopped',
  };
  if (f.status && f.wsrepActive) facts.wsrep = `${f.status.clusterStatus}/${f.status.localStateComment}/size ${f.status.clusterSize}`;
  if (f.grastate) facts.grastate = `seqno ${f.grastate.seqno}`;
  return { name: host.name, address: host.address, roles: [...host.roles], facts };
}

/** What every phase of deploy-db's plan reads. */
interface DbPlanInput {
  context: CommandContext;
  model: GaleraModel;
  g: Gathered;
  /** The first db host: bootstraps a fresh cluster, restarts last, runs the SQL. */
  writer: string;
  /** The MariaDB version the inventory pins, if any. */
  pin: string | undefined;
  secrets: Record<string, string>;
}

/** The configuration of each db host and how a running member takes the difference. */
interface ConfigPhase {
  changes: PlannedChange[];
  /** Running members whose static settings changed: a rolling restart. */
  restart: string[];
  restartBecause: Map<string, string[]>;
  /** Running members whose changed settings are dynamic: SET GLOBAL statements. */
  setGlobal: Map<string, string[]>;
}

/**
 * deploy-db's plan, as the list of phases apply runs in order: removals,
 * packages, stopping a server on its default config, the option file and SST
 * credentials, live settings, rolling restarts, cluster formation (with the SST
 * account before anyone joins), then the probe table, databases and accounts.
 * Refuses (before any change) what the inventory or the cluster make unsafe.
 */
export function computePlan(context: CommandContext, model: GaleraModel, desired: DesiredAccount[], g: Gathered): Plan {
  const { dbHosts, facts, situation } = g;
  // The inventory's pin; the older `-o mariadb-version=` option still works.
  const pin = context.environment.database?.package_version ?? (context.request.options['mariadb-version'] || undefined);
  if (pin) {
    const installed = dbHosts.map((h) => `${h.name} ${facts.get(h.name)!.packages['mariadb-server'] ?? 'not installed'}`).join(', ');
    context.logger.info(`mariadb-server and mariadb-backup pinned to ${pin}; installed: ${installed}`);
  }
  const input: DbPlanInput = { context, model, g, writer: dbHosts[0]!.name, pin, secrets: secretValues(context) };
  const { warnings, removal } = preconditions(input);
  const config = configChanges(input);
  // SQL changes run on the writer; accounts and databases replicate.
  // The writer, unless it is itself about to join an existing cluster.
  const sqlHost = situation.kind === 'existing' && !situation.members.includes(input.writer) ? situation.members[0]! : input.writer;
  const changes: PlannedChange[] = [
    // 0. Removals first: every later step (rolling restart, join) expects the smaller cluster.
    ...removalChanges(model, situation.members, removal, context.request.options[FORCE_REMOVE_OPTION] === 'true'),
    ...packageChanges(input),
    ...stopDefaultServerChanges(input),
    ...config.changes,
    ...sstCredentialChanges(input, config.restart),
    ...setGlobalChanges(config.setGlobal),
    ...rollingRestartChanges(input, config),
    ...formationChanges(input, desired, sqlHost),
    ...dataChanges(input, desired, sqlHost),
  ];
  return createPlan({
    command: 'deploy-db',
    environment: context.environment.name,
    changes,
    warnings,
    hosts: [
      ...dbHosts.map((h) => hostFactsRow(h, facts.get(h.name)!, pin)),
      ...g.retiring.map((r): PlanHostFacts => ({
        name: r.name,
        address: r.address,
        roles: ['db (being removed)'],
        facts: r.reachable
          ? { mariadb: r.installed ? 'installed' : 'not installed', service: `${r.running ? 'running' : 'stopped'}, ${r.enabled ? 'enabled' : 'disabled'}`, cluster: r.inView ? 'member' : 'not a member' }
          : { ssh: 'unreachable', cluster: r.inView ? 'member' : 'not a member' },
      })),
    ],
  });
}

/** Warnings for the plan; refuses an unlisted member on apply, an unsafe removal, or an unhealthy cluster. */
function preconditions(input: DbPlanInput): { warnings: string[]; removal: RemovalDecision } {
  const { context, g } = input;
  const { dbHosts, situation } = g;
  const warnings: string[] = g.schemaProblems.map(
    (p) => `table \`${p.schema}\`.\`${p.table}\`: ${p.problems.join('; ')}`,
  );

  // Members that are no longer db hosts: listed for removal, or never dropped silently.
  const removal = planRemoval(context, g);
  const unlisted = g.view
    ? unlistedMembers(g.view, [
        ...dbHosts,
        ...g.retiring,
        ...hostsWithRole(context.environment, 'arbitrator'),
      ])
    : [];
  if (unlisted.length > 0) {
    const text = unlisted.map(
      (m) =>
        `${m} is in the cluster but not in the inventory: deploy-db does not take a node out silently. To remove it, keep it under hosts: without the db role and list it in database.remove_nodes; to keep it, give it the db role again`,
    );
    if (context.request.mode === 'apply') {
      throw new DeployError('invalid-inventory', `${text.join('\n')}\nNothing was changed.`, {
        hint: 'List the node in database.remove_nodes (its host entry kept, without the db role), or put it back among the db hosts; then plan again.',
      });
    }
    warnings.push(...text.map((t) => `${t} (apply refuses as the inventory stands)`));
  }
  if (removal.refusals.length > 0) {
    throw new DeployError('invalid-inventory', `deploy-db will not remove ${g.retiring.map((r) => r.name).join(', ')}:\n${removal.refusals.map((r) => `- ${r}`).join('\n')}`, {
      host: g.retiring[0]?.name,
      hint: 'Nothing was changed. Fix what is named above, or take fewer nodes out per run.',
    });
  }
  warnings.push(...removal.notes);
  warnings.push(...platformPlanNotes(context.environment));

  // Existing cluster: refuse unless every member is healthy (Kolla's gate).
  if (situation.kind === 'existing') {
    // Until they have left, the nodes being removed (and unlisted members) still count in the size.
    const gate = evaluateGate(situation.members, situation.observations, {
      recoverCommand: 'lms-ha recover (command: recover)',
      expectedSize: situation.members.length + g.retiring.filter((r) => r.inView).length + unlisted.length,
    });
    if (!gate.ok) {
      const failing = gate.rows.find((r) => r.verdict !== 'ok');
      throw new DeployError(
        'cluster-unhealthy',
        `deploy-db will not change a cluster that is not fully healthy; observed:\n${gate.table}\n${gate.problems.map((p) => `- ${p}`).join('\n')}`,
        { host: failing?.node, hint: gate.problems[0] ?? 'Bring every node back to Synced, then re-run.' },
      );
    }
  }
  return { warnings, removal };
}

/** 1. Packages: one parallel install phase for every host that needs one; on members, a rolling upgrade. */
function packageChanges(input: DbPlanInput): PlannedChange[] {
  const { context, model, g, writer, pin } = input;
  const { dbHosts, facts, situation } = g;
  const changes: PlannedChange[] = [];
  const installs = new Map<string, string[]>();
  for (const h of dbHosts) {
    const f = facts.get(h.name)!;
    for (const pkg of GALERA_PACKAGES) {
      const want = pin && pkg !== 'galera-4' ? pin : undefined;
      const have = f.packages[pkg];
      if (have === undefined || (want !== undefined && have !== want)) {
        installs.set(h.name, [...(installs.get(h.name) ?? []), want ? `${pkg}=${want}` : pkg]);
      }
    }
  }
  // On running members a version change is a rolling upgrade: one node at a
  // time (writer last), the others Synced before each, the node back Synced
  // after. Done on several members at once it would be an outage.
  const upgrades = new Map<string, string[]>();
  for (const name of [...installs.keys()]) {
    if (!situation.members.includes(name)) continue;
    upgrades.set(name, installs.get(name)!);
    installs.delete(name);
  }
  // The pin file goes first: on hosts installing now (one parallel phase
  // after it), and where only the pin differs; upgrading members get theirs
  // in their turn of the rolling upgrade, so a failed upgrade leaves the
  // nodes after it pinned where they are.
  for (const h of dbHosts) {
    if (upgrades.has(h.name)) continue;
    const change = aptPinChange(h, facts.get(h.name)!.aptPin, pin);
    if (change) changes.push(change);
  }
  const installPhase = once(async () => {
    const hostsMap = g.remotes;
    const results = await Promise.allSettled(
      [...installs.entries()].map(([name, pkgs]) => installGaleraPackages(hostsMap.get(name)!, pkgs, context.logger)),
    );
    return new Map([...installs.keys()].map((name, i) => [name, results[i]!]));
  });
  for (const h of dbHosts) {
    const f = facts.get(h.name)!;
    for (const spec of installs.get(h.name) ?? []) {
      const [pkg, version] = spec.split('=') as [string, string | undefined];
      changes.push({
        kind: 'package',
        id: changeId('package', h.name, pkg),
        host: h.name,
        summary: `${f.packages[pkg] ? 'upgrade' : 'install'} ${pkg}${version ? ` ${version}` : ''}`,
        name: pkg,
        from: f.packages[pkg] ?? null,
        to: version ?? 'candidate from the package sources',
        apply: async (ctx) => {
          const r = (await installPhase()).get(ctx.change.host)!;
          if (r.status === 'rejected') throw r.reason;
        },
      });
    }
  }

  for (const name of rollingRestartOrder([...upgrades.keys()], writer)) {
    const specs = upgrades.get(name)!;
    const f = facts.get(name)!;
    const members = situation.members.length;
    const pinChange = aptPinChange(dbHosts.find((h) => h.name === name)!, f.aptPin, pin);
    if (pinChange) changes.push(pinChange);
    specs.forEach((spec, i) => {
      const [pkg, version] = spec.split('=') as [string, string];
      changes.push({
        kind: 'package',
        id: changeId('package', name, pkg),
        host: name,
        summary: `upgrade ${pkg} ${f.packages[pkg] ?? '(not installed)'} -> ${version} (pinned; rolling: ${name} alone is stopped, upgraded, restarted and waited for until Synced, size ${members})`,
        name: pkg,
        from: f.packages[pkg] ?? null,
        to: version,
        // One step per host does all of its packages; the others are recorded with it.
        apply: async (ctx) => {
          if (i === 0) await rollingUpgrade(ctx.host, ctx.hosts, situation.members, specs, members, model.port, ctx.logger);
        },
      });
    });
  }
  return changes;
}

/** 2. A server running on the package's default config must stop before the Galera config. */
function stopDefaultServerChanges(input: DbPlanInput): PlannedChange[] {
  const { g } = input;
  const { dbHosts, facts, situation } = g;
  const changes: PlannedChange[] = [];
  for (const h of dbHosts) {
    const f = facts.get(h.name)!;
    const freshInstall = f.packages['mariadb-server'] === undefined;
    if (freshInstall || situation.runningWithoutGalera.includes(h.name)) {
      changes.push({
        kind: 'service',
        id: changeId('service', h.name, 'mariadb', 'stop'),
        host: h.name,
        summary: freshInstall
          ? 'stop mariadb (the package starts it on its default, non-Galera config)'
          : 'stop mariadb (running without Galera)',
        unit: 'mariadb',
        action: 'stop',
        apply: async (ctx) => {
          await ctx.host.run('systemctl stop mariadb', { purpose: 'stop mariadb before writing the Galera config', timeoutMs: 120_000 });
        },
      });
    }
  }
  return changes;
}

/** 3. The option file; on members, how the difference is applied. */
function configChanges(input: DbPlanInput): ConfigPhase {
  const { model, g } = input;
  const { dbHosts, facts, situation } = g;
  const changes: PlannedChange[] = [];
  const restart: string[] = [];
  const restartBecause = new Map<string, string[]>();
  const setGlobal = new Map<string, string[]>();
  for (const h of dbHosts) {
    const f = facts.get(h.name)!;
    const content = renderGaleraConfig(model, h.name);
    if (f.config === content) continue;
    const running = situation.members.includes(h.name) && f.running;
    const cmp = compareGaleraConfig(content, f.config);
    const fileOnly = running && cmp.classification.changes.length > 0 && cmp.classification.changes.every((c) => c.apply === 'file-only');
    changes.push({
      kind: 'file',
      id: changeId('file', h.name, GALERA_CONFIG_PATH),
      host: h.name,
      summary: `${f.config === null ? 'write' : 'update'} ${GALERA_CONFIG_PATH}${fileOnly ? ` (${cmp.classification.changes.map((c) => c.key).join(', ')}: read only when mariadb starts, so no restart)` : ''}`,
      path: GALERA_CONFIG_PATH,
      before: f.config === null ? null : { content: f.config },
      after: { content, mode: 0o644, owner: 'root', group: 'root' },
      sensitive: false,
      apply: async (ctx) => {
        await ctx.host.writeFile(GALERA_CONFIG_PATH, content, { mode: 0o644, owner: 'root', group: 'root' });
      },
    });
    if (running) {
      if (cmp.classification.restartRequired) {
        restart.push(h.name);
        restartBecause.set(h.name, cmp.classification.restartBecause);
      }
      else if (cmp.classification.setGlobal.length > 0) setGlobal.set(h.name, cmp.classification.setGlobal);
    }
  }
  return { changes, restart, restartBecause, setGlobal };
}

/** 3b. SST credentials (sst.auth=password only). */
function sstCredentialChanges(input: DbPlanInput, restart: readonly string[]): PlannedChange[] {
  const { context, model, g } = input;
  const { dbHosts, facts, situation } = g;
  const changes: PlannedChange[] = [];
  // 3b. SST credentials (sst.auth=password only): their own root:mysql 0640 file,
  // never in the world-readable 60-galera.cnf; shown as a digest, never a diff.
  const sstPasswordRef = context.environment.database?.sst_password;
  const sstFile = sstPasswordRef ? renderSstAuthFile(model, context.secrets.valueOf(sstPasswordRef)) : null;
  if (sstFile) {
    const digest = createHash('sha256').update(sstFile.content).digest('hex');
    for (const h of dbHosts) {
      const f = facts.get(h.name)!;
      const have = f.sstAuthFile;
      if (have && have.sha256 === digest && have.mode === sstFile.mode && have.owner === sstFile.owner && have.group === sstFile.group) continue;
      const content = sstFile.content;
      changes.push({
        kind: 'file',
        id: changeId('file', h.name, sstFile.path),
        host: h.name,
        summary: `${have ? 'update' : 'write'} ${sstFile.path} (SST credentials, root:mysql 0640)`,
        path: sstFile.path,
        before: have ? { sha256: have.sha256, mode: have.mode, owner: have.owner, group: have.group } : null,
        after: { sha256: digest, mode: sstFile.mode, owner: sstFile.owner, group: sstFile.group },
        sensitive: true,
        apply: async (ctx) => {
          await ctx.host.writeFile(sstFile.path, content, { mode: sstFile.mode, owner: sstFile.owner, group: sstFile.group });
        },
      });
      if (have && have.sha256 !== digest && situation.members.includes(h.name) && f.running && !restart.includes(h.name)) {
        // wsrep_sst_auth is dynamic: the running server takes the new credentials at once.
        const sstUser = model.sst.user;
        changes.push({
          kind: 'sql',
          id: changeId('sql', h.name, 'set', 'wsrep_sst_auth'),
          host: h.name,
          summary: 'SET GLOBAL wsrep_sst_auth (SST credentials changed; value not shown)',
          scope: 'host',
          object: 'variable',
          name: 'wsrep_sst_auth',
          action: 'set',
          detail: 'SST credentials changed',
          fingerprint: secretFingerprint(context.request.planHashKey, [digest]),
          apply: async (ctx) => {
            const value = `${sstUser}:${context.secrets.valueOf(sstPasswordRef!)}`;
            await runSqlScript(ctx.host, toStdinSql([{ parts: ['SET GLOBAL wsrep_sst_auth = ', { secret: 'sst' }] }], { sst: value }), 'set the SST credentials');
          },
        });
      }
    }
  }
  return changes;
}

/** 4a. Dynamic settings on running members. */
function setGlobalChanges(setGlobal: ReadonlyMap<string, string[]>): PlannedChange[] {
  const changes: PlannedChange[] = [];
  for (const [name, statements] of setGlobal) {
    for (const statement of statements) {
      const key = /^SET GLOBAL (\S+)/.exec(statement)![1]!;
      changes.push({
        kind: 'sql',
        id: changeId('sql', name, 'set', key),
        host: name,
        summary: `${statement} (live, no restart)`,
        scope: 'host',
        object: 'variable',
        name: key,
        action: 'set',
        detail: statement,
        apply: async (ctx) => {
          await runSqlScript(ctx.host, `${statement};\n`, `set ${key}`);
        },
      });
    }
  }
  return changes;
}

/** 4b. Static settings: rolling restart, one node at a time, writer last. */
function rollingRestartChanges(input: DbPlanInput, config: ConfigPhase): PlannedChange[] {
  const { restart, restartBecause } = config;
  const { model, g, writer } = input;
  const { situation } = g;
  const members = situation.members.length;
  const changes: PlannedChange[] = [];
  for (const name of rollingRestartOrder(restart, writer)) {
    changes.push({
      kind: 'cluster',
      step: 'rolling-restart',
      id: changeId('cluster', name, 'rolling-restart'),
      host: name,
      summary: `restart mariadb on ${name} (static settings changed), then wait for Synced and size ${members}`,
      detail: `static settings changed: ${(restartBecause.get(name) ?? []).join(', ')}; one node at a time${name === writer ? '; the writer goes last' : ''}; waits until ${name} is Primary, Synced and the cluster has ${members} members`,
      apply: async (ctx) => {
        // Every other member must be healthy before this one goes down.
        await requireMembersSynced(ctx.hosts, situation.members, members, `restarting ${name}`);
        await startMariadb(ctx.host, 'systemctl restart mariadb', model.port, { purpose: 'rolling restart', timeoutMs: JOIN_TIMEOUT_MS, logger: ctx.logger });
        await waitForNode(ctx.host, syncedWithSize(members), {
          timeoutMs: JOIN_TIMEOUT_MS,
          logger: ctx.logger,
          what: `Synced with cluster size ${members}`,
        });
      },
    });
  }
  return changes;
}

/** 5. Cluster formation, with the SST account created before anyone joins. */
function formationChanges(input: DbPlanInput, desired: DesiredAccount[], sqlHost: string): PlannedChange[] {
  const { context, model, g, writer, secrets } = input;
  const { dbHosts, situation } = g;
  const n = dbHosts.length;
  const members = situation.members.length;
  const changes: PlannedChange[] = [];
  // The SST account must exist before anyone joins: the donor logs in with it.
  const sstDesired = desired.filter((d) => d.user === model.sst.user && d.host === 'localhost');
  const sstSql = diffAccounts(sstDesired, g.accounts, secrets, { version: model.version });
  let size = situation.kind === 'fresh' ? 0 : members;
  if (situation.kind === 'fresh') {
    size = 1;
    changes.push({
      kind: 'cluster',
      step: 'bootstrap',
      id: changeId('cluster', writer, 'bootstrap'),
      host: writer,
      summary: `bootstrap a new cluster ${model.clusterName} on ${writer} (galera_new_cluster)`,
      detail: `no db node has a cluster state: ${writer} (the writer, first db host) starts a new cluster; waits for Primary, Synced, size 1`,
      apply: async (ctx) => {
        await startMariadb(ctx.host, 'galera_new_cluster', model.port, { purpose: 'bootstrap the Galera cluster', timeoutMs: BOOTSTRAP_TIMEOUT_MS, logger: ctx.logger });
        await waitForNode(ctx.host, syncedWithSize(1), { timeoutMs: BOOTSTRAP_TIMEOUT_MS, logger: ctx.logger, what: 'Primary/Synced, size 1' });
      },
    });
  }
  const joiners = situation.kind === 'fresh' ? dbHosts.slice(1).map((h) => h.name) : situation.newcomers;
  changes.push(...sqlChanges(input, sqlHost, sstSql));

  // One at a time by default (safe, and each joiner can pick a Synced donor);
  // `join=parallel` starts them together (measured against one at a time in the lab).
  const parallel = context.request.options['join'] === 'parallel' && situation.kind === 'fresh';
  const target = size + joiners.length;
  const formed = () => assertClusterFormed(dbHosts.map((h) => g.remotes.get(h.name)!), n);
  const joinAll = once(async () => {
    const results = await Promise.allSettled(
      joiners.map(async (name) => {
        const host = g.remotes.get(name)!;
        await startMariadb(host, 'systemctl start mariadb', model.port, { purpose: 'join the Galera cluster', timeoutMs: JOIN_TIMEOUT_MS, logger: context.logger });
        await waitForNode(host, syncedWithSize(target), { timeoutMs: JOIN_TIMEOUT_MS, logger: context.logger, what: `Synced with cluster size ${target}` });
      }),
    );
    return new Map(joiners.map((name, i) => [name, results[i]!]));
  });
  joiners.forEach((name, i) => {
    const expected = parallel ? target : size + i + 1;
    const last = i === joiners.length - 1;
    changes.push({
      kind: 'cluster',
      step: 'join',
      id: changeId('cluster', name, 'join'),
      host: name,
      summary: `join ${name} to ${model.clusterName} (state transfer by ${model.sst.method}${parallel ? ', in parallel with the other joiners' : ''}), wait for Synced and size ${expected}`,
      detail: `starts mariadb on ${name}, which receives a full copy by ${model.sst.method}; waits until it is Primary, Synced and the cluster has ${expected} members${last ? `; then checks all ${n} nodes share one cluster state UUID` : ''}`,
      apply: async (ctx) => {
        if (parallel) {
          const r = (await joinAll()).get(name)!;
          if (r.status === 'rejected') throw r.reason;
        } else {
          await startMariadb(ctx.host, 'systemctl start mariadb', model.port, { purpose: 'join the Galera cluster', timeoutMs: JOIN_TIMEOUT_MS, logger: ctx.logger });
          await waitForNode(ctx.host, syncedWithSize(expected), { timeoutMs: JOIN_TIMEOUT_MS, logger: ctx.logger, what: `Synced with cluster size ${expected}` });
        }
        if (last) await formed();
      },
    });
  });
  return changes;
}

/** 6. verify-ha's probe table, then the databases and app accounts, through the SQL host (they replicate). */
function dataChanges(input: DbPlanInput, desired: DesiredAccount[], sqlHost: string): PlannedChange[] {
  const { context, model, g, secrets } = input;
  const changes: PlannedChange[] = [];
  const appDesired = desired.filter((d) => !(d.user === model.sst.user && d.host === 'localhost'));
  // 6. verify-ha's causality probe table (before the grants on it), then
  // databases and app accounts, once, through the writer (they replicate).
  if (!g.probeTable) {
    changes.push({
      kind: 'sql',
      id: changeId('sql', sqlHost, 'create-table', `${PROBE_SCHEMA}.${PROBE_TABLE}`),
      host: sqlHost,
      summary: `create database \`${PROBE_SCHEMA}\` and table \`${PROBE_TABLE}\` (verify-ha's causality probe writes and reads it)`,
      scope: 'cluster',
      object: 'database',
      name: `${PROBE_SCHEMA}.${PROBE_TABLE}`,
      action: 'create',
      detail: probeTableSql().trim(),
      apply: async (ctx) => {
        await runSqlScript(ctx.host, probeTableSql(), 'create the causality probe table');
      },
    });
  }
  changes.push(
    ...sqlChanges(input, sqlHost, [
      ...diffDatabases(context.environment.app.databases, g.databases),
      ...diffAccounts(appDesired, g.accounts, secrets, { version: model.version, managedUsers: context.environment.app.users.map((u) => u.name) }),
    ]),
  );
  return changes;
}

/** SQL changes through `sqlHost`: a change's secrets enter the plan hash only as a keyed fingerprint. */
function sqlChanges(input: DbPlanInput, sqlHost: string, list: GaleraSqlChange[]): PlannedChange[] {
  const { context, secrets } = input;
  const changes: PlannedChange[] = [];
  for (const c of list) {
    const { object, action } = sqlObject(c.kind);
    const name = /'[^']*'@'[^']*'/.exec(c.description)?.[0] ?? /`([^`]+)`/.exec(c.description)?.[1] ?? c.description;
    const secretNames = c.statements.flatMap((s) => s.parts.flatMap((p) => (typeof p === 'string' ? [] : [p.secret])));
    const fingerprint =
      secretNames.length === 0
        ? undefined
        : secretFingerprint(context.request.planHashKey, secretNames.map((s) => secrets[s] ?? ''));
    const statements = c.statements;
    changes.push({
      kind: 'sql',
      id: changeId('sql', sqlHost, c.kind, c.description),
      host: sqlHost,
      summary: c.kind === 'password-changed' ? `password changed for ${name}` : c.description,
      scope: 'cluster',
      object,
      name,
      action,
      detail: c.kind === 'password-changed' ? 'password changed' : c.description,
      ...(fingerprint ? { fingerprint } : {}),
      apply: async (ctx) => {
        await runSqlScript(ctx.host, toStdinSql(statements, secrets), c.kind === 'password-changed' ? `change password of ${name}` : c.description);
      },
    });
  }
  return changes;
}

function planRemoval(context: CommandContext, g: Gathered): RemovalDecision {
  return decideRemoval({
    remaining: g.dbHosts.map((h) => h.name),
    arbitrators: hostsWithRole(context.environment, 'arbitrator').length,
    clusterSize: g.view?.size ?? null,
    retiring: g.retiring,
    force: context.request.options[FORCE_REMOVE_OPTION] === 'true',
    ...(g.lbWriter ? { lbWriter: g.lbWriter } : {}),
  });
}

/**
 * A node leaves by a clean shutdown (it tells the others, so they shrink the
 * component at once instead of suspecting a failure), one at a time, each only
 * while every remaining member is Synced; then it is disabled so a reboot does
 * not bring it back. The remaining members' gcomm:// list changes in their
 * option file only (see the file changes): it is read when mariadb starts.
 */
function removalChanges(model: GaleraModel, remaining: string[], removal: RemovalDecision, forced: boolean): PlannedChange[] {
  return removal.steps.map((step) => {
    if (step.action === 'disable') {
      return {
        kind: 'service' as const,
        id: changeId('service', step.node, 'mariadb', 'disable'),
        host: step.node,
        summary: `disable mariadb on ${step.node} (listed in database.remove_nodes; stopped, but it would start and rejoin at boot)`,
        unit: 'mariadb',
        action: 'disable' as const,
        apply: async (ctx) => {
          await ctx.host.run('systemctl disable mariadb', { purpose: 'keep the removed node from rejoining at boot', timeoutMs: 60_000 });
        },
      };
    }
    const before = step.inView ? step.sizeAfter + 1 : step.sizeAfter;
    const notes = [
      step.lbWriter ? `${step.node} is the writer of the load balancers: new writes move to the next node when it stops; run deploy-lb afterwards` : '',
      forced ? `forced (${FORCE_REMOVE_OPTION}=true)` : '',
    ].filter((n) => n !== '');
    return {
      kind: 'cluster' as const,
      step: 'leave' as const,
      id: changeId('cluster', step.node, 'leave'),
      host: step.node,
      summary: `remove ${step.node} from ${model.clusterName}: stop mariadb (a clean leave), disable it, wait until ${remaining.join(', ')} are Primary, Synced, size ${step.sizeAfter}${step.lbWriter ? ' (it is the load balancers\' writer)' : ''}`,
      detail: `listed in database.remove_nodes; first checks ${remaining.join(', ')} are Synced with size ${before}; systemctl stop then disable mariadb on ${step.node}; then waits until each of them is Primary, Synced with size ${step.sizeAfter}${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`,
      apply: async (ctx) => {
        await requireMembersSynced(ctx.hosts, remaining, before, `removing ${step.node}`);
        ctx.logger.info(`stopping mariadb: ${step.node} leaves the cluster`, step.node);
        await ctx.host.run('systemctl stop mariadb', { purpose: 'stop mariadb on the node being removed', timeoutMs: 10 * 60_000 });
        await ctx.host.run('systemctl disable mariadb', { purpose: 'keep the removed node from rejoining at boot', timeoutMs: 60_000 });
        for (const other of remaining) {
          await waitForNode(ctx.hosts.get(other)!, syncedWithSize(step.sizeAfter), {
            timeoutMs: 5 * 60_000,
            logger: ctx.logger,
            what: `Synced with cluster size ${step.sizeAfter}`,
          });
        }
      },
    };
  });
}

const deployDb: CommandRunner = async (context) => {
  const model = galeraModelFor(context.environment);
  const desired = desiredAccounts(context.environment, model);
  return planOrApplyReviewed(context, {
    command: 'deploy-db',
    // The retired hosts it will stop too, when preflight reached them.
    lockHosts: [...hostsWithRole(context.environment, 'db'), ...retiringHosts(context.environment).filter((h) => context.facts.has(h.name))],
    gather: () => gather(context, model, desired),
    plan: (g) => computePlan(context, model, desired, g),
  });
};

export const deployDbCommand: CommandDescriptor = {
  name: 'deploy-db',
  summary: 'MariaDB Galera: packages, config, safe bootstrap and joins, rolling restarts, app databases and users',
  options: [
    {
      name: FORCE_REMOVE_OPTION,
      kind: 'boolean',
      description: 'remove the nodes in database.remove_nodes even below 3 votes, without a majority, or several in one run',
    },
    {
      name: 'join',
      kind: 'choice',
      values: ['one-at-a-time', 'parallel'],
      description: 'how the nodes of a new cluster join the first: one-at-a-time (default) or parallel',
    },
    {
      name: 'mariadb-version',
      kind: 'text',
      pattern: /^([0-9]+:)?[0-9][0-9A-Za-z.+~-]*$/,
      expects: 'a Debian package version, e.g. 1:10.11.6-0+deb12u1',
      description: 'the MariaDB package version to pin when the inventory has no database.package_version',
    },
  ],
  needs: { roles: ['db'], sections: ['database'] },
  toleratesUnreachable: (request, environment, outcome) =>
    deployDbToleratesPreflight(request, environment, outcome) && 'they are listed in database.remove_nodes',
  run: deployDb,
};
