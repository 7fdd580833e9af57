/**
 * verify-ha: every health signal of every configured layer, as a table of
 * expected vs observed; with `mode: apply` and `drills=...`, failover drills
 * after it (drills.ts).
 *
 * pyinfra style: phase 1 gathers facts from every relevant host in parallel,
 * one script per role on each host (all of a host's scripts run concurrently
 * on its one SSH connection); phase 2 runs the two probes that depend on phase
 * 1 (the causality write/read through the VIP, and the gluster volume query
 * when the first storage host could not answer it). Verdicts come from the
 * pure functions in checks.ts. A layer the inventory does not
 * configure is absent from the table, not failed.
 */
import { splitSections } from '../../facts/sections.js';
import { randomBytes } from 'node:crypto';
import type { CheckResult, DrillFigures } from '../../check.js';
import { DeployError, toDeployError } from '../../errors.js';
import {
  GlusterCliError,
  findVolume,
  parseHealSummaryXml,
  parsePeersXml,
  parseSplitBrainXml,
  parseVolumeInfoXml,
  parseVolumeStatusXml,
} from '../../components/glusterfs/index.js';
import { PROXYSQL_ADMIN_USER } from '../../components/proxysql/model.js';
import { hostsWithRole, type Environment, type Host } from '../../inventory/index.js';
import { glusterModelOf } from '../../components/glusterfs/inventory.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { CommandContext, CommandRunner } from '../context.js';
import { DRILLS, parseDrillRequest, runDrills, type DrillView } from './drills.js';
import type { CommandDescriptor } from '../command.js';
import { platformInstallerCheck } from './platform.js';
import {
  clientOptionFile,
  parseCausality,
  parseDbFacts,
  parseGlusterClientFacts,
  parseLbFacts,
  proxysqlStdin,
  serviceIsActive,
  VERIFY_DB_SQL,
  type DbFacts,
  type GlusterClientFacts,
  type LbFacts,
  type LbScriptOptions,
} from '../../facts/health.js';
import { FACTS, readFact } from '../../facts/registry.js';
import {
  causalityCheck,
  galeraClusterChecks,
  galeraNodeChecks,
  isUnreachable,
  lbChecks,
  nodeHealthy,
  s3Check,
  storageChecks,
  vipHolders,
  type CausalityOutcome,
  type GlusterPeerFacts,
  type GlusterVolumeFacts,
  type LbInput,
  type NamedNode,
  type Unreachable,
} from './checks.js';


const FACT_TIMEOUT_MS = 30_000;

/** What phase 1 learned, per host and role. */
interface HostFacts {
  db?: DbFacts;
  lb?: LbFacts;
  peers?: GlusterPeerFacts;
  volume?: GlusterVolumeFacts;
  client?: GlusterClientFacts;
}

function lbInputOf(environment: Environment): Omit<LbInput, 'facts'> | null {
  const lb = environment.load_balancer;
  if (!lb) return null;
  return {
    kind: lb.kind,
    vip: lb.vip,
    writerPort: lb.kind === 'haproxy' ? lb.ports.writer : lb.ports.mysql,
    lbs: hostsWithRole(environment, 'lb').map(named),
  };
}

function named(h: Host): NamedNode {
  return { name: h.name, address: h.address };
}

function glusterVolumeFacts(stdout: string, volume: string): GlusterVolumeFacts {
  const s = splitSections(stdout);
  const attempt = <T>(f: () => T): T | null => {
    try {
      return f();
    } catch {
      return null;
    }
  };
  try {
    const info = findVolume(parseVolumeInfoXml(s.get('info') ?? ''), volume);
    return {
      info,
      status: info ? attempt(() => parseVolumeStatusXml(s.get('status') ?? '', volume)) : null,
      heal: info ? attempt(() => parseHealSummaryXml(s.get('heal') ?? '')) : null,
      splitBrain: (info ? attempt(() => parseSplitBrainXml(s.get('splitbrain') ?? '')) : null) ?? undefined,
      error: null,
    };
  } catch (e) {
    // "Volume X does not exist" is a verdict (volumeChecks says so), not an error.
    if (e instanceof GlusterCliError && e.kind === 'op-failed' && /does not exist/i.test(e.opErrstr)) {
      return { info: null, status: null, heal: null, splitBrain: undefined, error: null };
    }
    return { info: null, status: null, heal: null, splitBrain: undefined, error: e instanceof Error ? e.message : String(e) };
  }
}

function glusterPeerFacts(stdout: string): GlusterPeerFacts {
  const s = splitSections(stdout);
  const state = (s.get('glusterd') ?? '').trim();
  try {
    return { glusterd: { active: serviceIsActive(state), state }, pool: parsePeersXml(s.get('pool') ?? ''), poolError: null };
  } catch (e) {
    return { glusterd: { active: serviceIsActive(state), state }, pool: null, poolError: e instanceof Error ? e.message : String(e) };
  }
}

export const verifyHa: CommandRunner = async (context) => {
  // Bad drill options are refused before anything is gathered.
  const drills = parseDrillRequest(context.request.options, context.request.mode, context.environment);
  const first = await gatherVerification(context);
  const checks: CheckResult[] = [...context.preflightChecks, ...first.checks];
  let drillError: DeployError | undefined;
  let drillFigures: DrillFigures[] | undefined;
  if (drills) {
    try {
      const outcome = await runDrills(context, drills, first, () => gatherVerification(context));
      checks.push(...outcome.rows);
      drillFigures = outcome.figures;
      drillError = outcome.error;
    } catch (error) {
      // A held lock or a lost connection: the read-only table still stands.
      drillError = toDeployError(error);
    }
  }

  const failed = checks.filter((c) => c.status === 'fail');
  const warned = checks.filter((c) => c.status === 'warn').length;
  context.logger.info(`${checks.length} checks: ${checks.length - failed.length - warned} ok, ${warned} warning(s), ${failed.length} failed`);
  const drillsResult = drillFigures ? { drills: drillFigures } : {};
  if (drillError) return { checks, ...drillsResult, error: drillError };
  return {
    checks,
    ...drillsResult,
    ...(failed.length > 0
      ? {
          error: new DeployError('verify-failed', `verify-ha: ${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => `${c.host} ${c.check} (${c.observed})`).join('; ')}`, {
            host: failed[0]!.host.startsWith('(') ? undefined : failed[0]!.host,
            hint: failed[0]!.hint,
          }),
        }
      : {}),
  };
};

/**
 * One read-only pass over every configured layer: the checks (without
 * preflight's) and the facts the drills choose their targets from.
 */
export async function gatherVerification(context: CommandContext): Promise<DrillView> {
  const env = context.environment;
  const dbNodes = env.database ? hostsWithRole(env, 'db') : [];
  const lbBase = lbInputOf(env);
  const lb = env.load_balancer;
  const gluster = glusterModelOf(env);
  const webHosts = gluster ? hostsWithRole(env, 'web') : [];

  const isDb = new Set(dbNodes.map((h) => h.name));
  const isLb = new Set(lbBase ? lbBase.lbs.map((h) => h.name) : []);
  const isMember = new Set(gluster ? gluster.members.map((h) => h.name) : []);
  const isClient = new Set(webHosts.map((h) => h.name));
  const firstMember = gluster?.members[0]?.name;
  const hosts = env.hosts.filter((h) => isDb.has(h.name) || isLb.has(h.name) || isMember.has(h.name) || isClient.has(h.name));

  // Phase 1: every relevant host, all its role scripts at once.
  const results = await context.forEachHost(hosts, async (remote, host) => {
    const facts: HostFacts = {};
    const jobs: Promise<void>[] = [];
    if (isDb.has(host.name)) {
      jobs.push(
        readFact(remote, 'verify-ha', FACTS.healthDb, undefined, { purpose: 'read Galera health', stdin: VERIFY_DB_SQL, timeoutMs: FACT_TIMEOUT_MS, allowFailure: true })
          .then((r) => void (facts.db = parseDbFacts(r.stdout))),
      );
    }
    if (lb && lbBase && isLb.has(host.name)) {
      const lbArgs: LbScriptOptions = {
        kind: lb.kind,
        vip: lb.vip_address,
        writerPort: lbBase.writerPort,
        clustercheckPort: lb.kind === 'haproxy' ? lb.clustercheck_port : undefined,
        dbNodes: dbNodes.map(named),
        adminPort: lb.kind === 'proxysql' ? lb.ports.admin : undefined,
      };
      const stdin = lb.kind === 'proxysql' ? proxysqlStdin(PROXYSQL_ADMIN_USER, context.secrets.valueOf(lb.proxysql.admin_password)) : undefined;
      jobs.push(
        readFact(remote, 'verify-ha', FACTS.healthLb, lbArgs, { purpose: 'read load balancer health', stdin, timeoutMs: FACT_TIMEOUT_MS, allowFailure: true })
          .then((r) => void (facts.lb = parseLbFacts(r.stdout, lb.kind))),
      );
    }
    if (gluster && isMember.has(host.name)) {
      jobs.push(
        readFact(remote, 'verify-ha', FACTS.glusterPeers, undefined, { purpose: 'read GlusterFS peers', timeoutMs: FACT_TIMEOUT_MS, allowFailure: true })
          .then((r) => void (facts.peers = glusterPeerFacts(r.stdout))),
      );
      if (host.name === firstMember) {
        jobs.push(
          readFact(remote, 'verify-ha', FACTS.glusterVolume, gluster.model.volume, { purpose: 'read GlusterFS volume health', timeoutMs: FACT_TIMEOUT_MS, allowFailure: true })
            .then((r) => void (facts.volume = glusterVolumeFacts(r.stdout, gluster.model.volume))),
        );
      }
    }
    if (gluster && isClient.has(host.name)) {
      jobs.push(
        readFact(remote, 'verify-ha', FACTS.glusterClient, gluster.mountPath, { purpose: 'read GlusterFS client mount', timeoutMs: FACT_TIMEOUT_MS, allowFailure: true })
          .then((r) => void (facts.client = parseGlusterClientFacts(r.stdout))),
      );
    }
    await Promise.all(jobs);
    return facts;
  });

  const byHost = new Map<string, HostFacts | Unreachable>();
  results.forEach((r, i) => byHost.set(hosts[i]!.name, r.ok ? r.value : { unreachable: toDeployError(r.error).message.split('\n', 1)[0]! }));
  const pick = <K extends keyof HostFacts>(name: string, key: K): NonNullable<HostFacts[K]> | Unreachable => {
    const f = byHost.get(name);
    if (!f) return { unreachable: 'no facts gathered' };
    if (isUnreachable(f)) return f;
    return (f[key] as NonNullable<HostFacts[K]> | undefined) ?? { unreachable: 'no facts gathered' };
  };

  const db = new Map(dbNodes.map((h) => [h.name, pick(h.name, 'db')] as const));
  const lbInput: LbInput | null = lbBase ? { ...lbBase, facts: new Map(lbBase.lbs.map((h) => [h.name, pick(h.name, 'lb')] as const)) } : null;

  // Phase 2: probes that depend on phase 1, in parallel.
  const phase2: Promise<unknown>[] = [];
  let causality: CausalityOutcome | null = null;
  let installer: CheckResult | null = null;
  if (env.database && lb && lbInput && env.app.users.length > 0) {
    phase2.push(runCausality(context, dbNodes, db, lbInput).then((o) => (causality = o)));
    phase2.push(platformInstallerCheck(context, dbNodes, db, lbInput).then((c) => (installer = c)));
  }
  let observer: string | null = null;
  let volume: GlusterVolumeFacts | null = null;
  const peers = new Map(gluster ? gluster.members.map((h) => [h.name, pick(h.name, 'peers')] as const) : []);
  if (gluster) {
    const usable = gluster.members.find((h) => {
      const p = peers.get(h.name);
      return p && !isUnreachable(p) && p.glusterd.active && p.pool !== null;
    });
    observer = usable?.name ?? null;
    if (usable) {
      const first = byHost.get(usable.name);
      if (first && !isUnreachable(first) && first.volume) volume = first.volume;
      else {
        phase2.push(
          context
            .host(usable.name)
            .then((remote) => readFact(remote, 'verify-ha', FACTS.glusterVolume, gluster.model.volume, { purpose: 'read GlusterFS volume health', timeoutMs: FACT_TIMEOUT_MS, allowFailure: true }))
            .then((r) => (volume = glusterVolumeFacts(r.stdout, gluster.model.volume)))
            .catch((e: unknown) => (volume = { info: null, status: null, heal: null, splitBrain: undefined, error: toDeployError(e).message })),
        );
      }
    }
  }
  await Promise.all(phase2);

  // Verdicts.
  const checks: CheckResult[] = [];
  if (env.database) {
    for (const h of dbNodes) checks.push(...galeraNodeChecks(h.name, db.get(h.name)!));
    checks.push(...galeraClusterChecks(dbNodes.map(named), db, env.database.sync_wait));
  }
  if (lbInput && lb) checks.push(...lbChecks(lbInput, dbNodes.map(named), db, lb.kind === 'haproxy' ? lb.clustercheck_port : undefined));
  if (causality) checks.push(causalityCheck(causality));
  if (installer) checks.push(installer);
  if (gluster) {
    checks.push(
      ...storageChecks({
        model: gluster.model,
        members: gluster.members.map(named),
        peers,
        observer,
        volume,
        mountPath: gluster.mountPath,
        clients: new Map(webHosts.map((h) => [h.name, pick(h.name, 'client')] as const)),
      }),
    );
  } else if (env.storage.kind === 's3') {
    checks.push(s3Check(env.storage.s3.bucket));
  }

  return { checks, dbNodes, db, lb: lbInput };
}

/**
 * Write through the writer port, read through the reader port with the
 * configured wsrep_sync_wait, as the first application user, from the first
 * synced db node (it has a client). Skipped, as a warning, when the probe
 * table is missing or the VIP is not held by exactly one LB (that check
 * already fails).
 */
async function runCausality(
  context: CommandContext,
  dbNodes: Host[],
  db: ReadonlyMap<string, DbFacts | Unreachable>,
  lb: LbInput,
): Promise<CausalityOutcome> {
  const env = context.environment;
  const lbEnv = env.load_balancer!;
  const user = env.app.users[0]!;
  const from = dbNodes.find((h) => nodeHealthy(db.get(h.name)));
  if (!from) return { kind: 'skipped', reason: 'no synced db node to run the probe from' };
  const facts = db.get(from.name) as DbFacts;
  if (!facts.probeTable) {
    return {
      kind: 'skipped',
      reason: 'causality probe needs the lms_ha.causality_probe table (deploy-db creates it) and INSERT/UPDATE/SELECT on it for the first app user',
    };
  }
  const holders = vipHolders(lb);
  if (holders.length !== 1) return { kind: 'skipped', reason: `the VIP is held by ${holders.length} LBs (see the VIP check)` };
  const token = randomBytes(12).toString('hex');
  const syncWait = env.database!.sync_wait;
  const readerPort = lbEnv.kind === 'haproxy' ? lbEnv.ports.reader : lbEnv.ports.mysql;
  try {
    const remote: RemoteHost = await context.host(from.name);
    const r = await readFact(
      remote,
      'verify-ha',
      FACTS.causality,
      { vip: lbEnv.vip_address, writerPort: lb.writerPort, readerPort, syncWait, id: 'verify-ha', token },
      { purpose: 'causality probe through the VIP', stdin: clientOptionFile(user.name, context.secrets.valueOf(user.password)), timeoutMs: FACT_TIMEOUT_MS, allowFailure: true },
    );
    return { kind: 'ran', from: from.name, user: user.name, syncWait, token, result: parseCausality(r.stdout) };
  } catch (e) {
    return { kind: 'ran', from: from.name, user: user.name, syncWait, token, result: { unreachable: toDeployError(e).message } };
  }
}

export const verifyHaCommand: CommandDescriptor = {
  name: 'verify-ha',
  summary: 'every health signal of every layer; with mode apply, optional failover drills',
  options: [
    {
      name: 'drills',
      kind: 'list',
      values: DRILLS,
      description: 'failover drills to run with mode apply, e.g. drills=proxy-stop,db-kill',
    },
    {
      name: 'allow-protected',
      kind: 'boolean',
      description: 'allow the drills on an environment marked protected',
    },
  ],
  needs: {
    roles: [],
    sections: [],
    rolesFrom: (environment) => [
      ...(environment.database ? (['db'] as const) : []),
      ...(environment.load_balancer ? (['lb'] as const) : []),
      ...(environment.storage?.kind === 'glusterfs' ? (['storage'] as const) : []),
    ],
    gaps: (environment, name) =>
      !environment.database && !environment.load_balancer && (environment.storage?.kind ?? 'none') === 'none'
        ? [{ path: [], message: `verify-ha has nothing to verify in environment "${name}": it has no database, load_balancer or storage section` }]
        : [],
  },
  run: verifyHa,
};
