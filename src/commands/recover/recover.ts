/**
 * recover: bring a Galera cluster back after a full outage (every node down),
 * exactly the procedure of research ha-db-anchors.md §2.6 A (Kolla's
 * recover_cluster.yml, mariadb-operator): refuse while any node runs; read
 * grastate.dat; `--wsrep-recover` where seqno is -1; reject the null UUID and
 * -1; require one common UUID; bootstrap the highest seqno (safe_to_bootstrap
 * set only there); join the others one at a time, waiting for Synced; clear
 * the bootstrap flag. The decision itself is pure (components/galera/recover.ts);
 * this file gathers the facts and turns the decision into reviewed steps.
 *
 * Plan mode prints the decided table and the steps. The one thing it does on a
 * host besides reading is `mariadbd --wsrep-recover` on nodes whose
 * grastate.dat says seqno -1: the position of a crashed node exists nowhere
 * else. That run is what the server's own start does first (galera_recovery in
 * mariadb.service's ExecStartPre): InnoDB crash recovery, then it prints the
 * position and exits; grastate.dat is left as it was.
 */
import { DeployError, toDeployError } from '../../errors.js';
import { changeId, type PlannedChange } from '../../engine/change.js';
import { createPlan, type HostFacts as PlanHostFacts, type Plan } from '../../engine/plan.js';
import { hostsWithRole, type Host } from '../../inventory/index.js';
import type { PreflightOutcome } from '../context.js';
import type { RunRequest } from '../../request.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { CommandDescriptor } from '../command.js';
import {
  decideRecovery,
  GRASTATE_PATH,
  nodesNeedingWsrepRecover,
  parseGrastate,
  setSafeToBootstrap,
  type RecoveryDecision,
  type RecoveryNodeFacts,
  type RecoveryPlan,
} from '../../components/galera/index.js';
import { splitSections } from '../../facts/sections.js';
import { assertClusterFormed, startMariadb, syncedWithSize, waitForNode } from '../../components/galera/orchestrate.js';
import type { CommandContext, CommandRunner } from '../context.js';
import { planOrApplyReviewed } from '../reviewed-change.js';

/** The option naming the node to bootstrap (request.options, CLI `-o`, action input `options`). */
export const BOOTSTRAP_OVERRIDE_OPTION = 'bootstrap-node';

const BOOTSTRAP_TIMEOUT_MS = 5 * 60_000;
const JOIN_TIMEOUT_MS = 30 * 60_000;
const WSREP_RECOVER_TIMEOUT_S = 600;
const RECOVER_COMMAND = `lms-ha recover (command: recover)`;

/** What one db host looks like before recovery, from one round trip. */
export interface RecoveryHostFacts {
  /** mariadbd/mysqld process present, or the unit active/activating/deactivating. */
  running: boolean;
  /** `systemctl is-active mariadb`, for the table. */
  unit: string;
  /** The server binary is installed. */
  installed: boolean;
  grastate: string | null;
  /** _WSREP_NEW_CLUSTER is still set in the manager's environment (a bootstrap left half done). */
  newClusterFlag: boolean;
}

export function recoveryFactsScript(): string {
  return [
    'echo "@@unit"; systemctl is-active mariadb 2>/dev/null || true',
    'echo "@@proc"; if pgrep -x mariadbd >/dev/null 2>&1 || pgrep -x mysqld >/dev/null 2>&1; then echo running; else echo stopped; fi',
    'echo "@@bin"; command -v mariadbd || command -v mysqld || echo "@absent"',
    `echo "@@grastate"; if [ -f ${GRASTATE_PATH} ]; then base64 -w0 ${GRASTATE_PATH}; echo; else echo "@absent"; fi`,
    'echo "@@env"; systemctl show-environment 2>/dev/null | grep "^_WSREP_NEW_CLUSTER=" || true',
  ].join('; ');
}

export function parseRecoveryFacts(stdout: string): RecoveryHostFacts {
  const s = splitSections(stdout);
  const unit = (s.get('unit') ?? '').trim() || 'unknown';
  const proc = (s.get('proc') ?? '').trim();
  const gra = (s.get('grastate') ?? '').trim();
  const bin = (s.get('bin') ?? '').trim();
  return {
    // "activating" is a node still trying to join (or SST): it is not stopped.
    running: proc === 'running' || ['active', 'activating', 'deactivating', 'reloading'].includes(unit),
    unit,
    installed: bin !== '' && bin !== '@absent',
    grastate: gra === '' || gra === '@absent' ? null : Buffer.from(gra, 'base64').toString('utf8'),
    newClusterFlag: /^_WSREP_NEW_CLUSTER=\S/m.test(s.get('env') ?? ''),
  };
}

/**
 * Runs the server once with --wsrep-recover (as MariaDB's galera_recovery
 * does) and prints its error log, where the `Recovered position` line is.
 */
export function wsrepRecoverScript(): string {
  return [
    'bin=$(command -v mariadbd || command -v mysqld)',
    'install -d -o mysql -g mysql -m 0755 /run/mysqld',
    'log=$(mktemp /tmp/lms-ha-wsrep-recover.XXXXXX)',
    'chown mysql "$log"',
    `timeout -k 10 ${WSREP_RECOVER_TIMEOUT_S} "$bin" --user=mysql --wsrep_recover --log_error="$log" >/dev/null 2>&1; rc=$?`,
    'cat "$log"; rm -f "$log"',
    'echo "@@rc"; echo "$rc"',
  ].join('\n');
}

/**
 * With the bootstrap override, recover may run while db hosts cannot be
 * reached (the operator vouches that they are gone): preflight failures that
 * are only unreachable hosts do not stop it. Anything else (a host key that
 * does not match, a failed check on a reached host) still does.
 */
export function recoverToleratesPreflight(request: RunRequest, outcome: PreflightOutcome): boolean {
  if (request.command !== 'recover' || !request.options[BOOTSTRAP_OVERRIDE_OPTION]) return false;
  if (outcome.error?.reason !== 'ssh-failed') return false;
  const failed = outcome.checks.filter((c) => c.status === 'fail');
  return failed.length > 0 && failed.every((c) => c.check === 'ssh + sudo' && !outcome.facts.has(c.host));
}

interface Gathered {
  dbHosts: Host[];
  remotes: Map<string, RemoteHost>;
  facts: Map<string, RecoveryHostFacts>;
  nodes: RecoveryNodeFacts[];
}

async function gather(context: CommandContext, dbHosts: Host[], override: string | undefined): Promise<Gathered> {
  const remotes = new Map<string, RemoteHost>();
  const facts = new Map<string, RecoveryHostFacts>();
  const nodes: RecoveryNodeFacts[] = [];
  const results = await context.forEachHost(dbHosts, async (remote) => {
    const r = await remote.run(recoveryFactsScript(), { purpose: 'read the Galera state (grastate.dat, service)', timeoutMs: 30_000 });
    return { remote, facts: parseRecoveryFacts(r.stdout) };
  });
  results.forEach((r, i) => {
    const host = dbHosts[i]!;
    if (r.ok) {
      remotes.set(host.name, r.value.remote);
      facts.set(host.name, r.value.facts);
      const f = r.value.facts;
      nodes.push({ name: host.name, reachable: true, running: f.running, grastate: f.grastate, recovered: null });
      return;
    }
    // Only "cannot connect" makes a host unreachable; a host key that does not
    // match, or a failed command, is never treated as a missing node.
    if (r.error.reason !== 'ssh-failed' || override === undefined) throw r.error;
    nodes.push({ name: host.name, reachable: false, running: false, grastate: null, recovered: null, detail: r.error.message.split('\n', 1)[0] });
  });

  // --wsrep-recover only where the decision can go ahead: not beside a running
  // node, and not while a node is unreachable without the override (both refuse).
  const anyRunning = nodes.some((n) => n.reachable && n.running);
  const blockedByUnreachable = override === undefined && nodes.some((n) => !n.reachable);
  if (!anyRunning && !blockedByUnreachable) {
    const need = nodesNeedingWsrepRecover(nodes);
    await Promise.all(
      need.map(async (name) => {
        const node = nodes.find((n) => n.name === name)!;
        if (!facts.get(name)!.installed) {
          node.recovered = 'mariadbd is not installed on this host';
          return;
        }
        context.logger.info('grastate.dat has no position (seqno -1): running mariadbd --wsrep-recover', name);
        const r = await remotes.get(name)!.run(wsrepRecoverScript(), {
          purpose: 'recover the last committed position (mariadbd --wsrep-recover)',
          timeoutMs: (WSREP_RECOVER_TIMEOUT_S + 30) * 1000,
          allowFailure: true,
        });
        node.recovered = r.stdout;
      }),
    );
  }
  return { dbHosts, remotes, facts, nodes };
}

function grastateFile(text: string | null, uuid: string, safe: boolean): string {
  // A node whose grastate.dat is gone but whose InnoDB still knows the position:
  // Galera needs the uuid line to accept the bootstrap.
  if (text === null) return `# GALERA saved state\nversion: 2.1\nuuid:    ${uuid}\nseqno:   -1\nsafe_to_bootstrap: ${safe ? 1 : 0}\n`;
  return setSafeToBootstrap(text, safe);
}

function hostRow(host: Host, node: RecoveryNodeFacts, f: RecoveryHostFacts | undefined, decision: RecoveryDecision): PlanHostFacts {
  const row = decision.rows.find((r) => r.node === host.name);
  const facts: Record<string, string> = {};
  if (!node.reachable || !f) facts.ssh = 'unreachable';
  else {
    facts.service = f.running ? `running (${f.unit})` : `stopped (${f.unit})`;
    if (row?.seqno !== null && row?.seqno !== undefined) facts.position = `${row.uuid}:${row.seqno} (${row.source})`;
    facts.safe_to_bootstrap = row?.safeToBootstrap === null || row?.safeToBootstrap === undefined ? '-' : row.safeToBootstrap ? '1' : '0';
    if (f.newClusterFlag) facts.bootstrap_flag = 'set (_WSREP_NEW_CLUSTER; cleared before this node starts)';
  }
  return { name: host.name, address: host.address, roles: [...host.roles], facts };
}

/** The decision as reviewed steps: grastate.dat edits, bootstrap, joins, flag cleared. */
export function recoveryChanges(decision: RecoveryPlan, g: Pick<Gathered, 'nodes' | 'remotes'>, port = 3306): PlannedChange[] {
  const changes: PlannedChange[] = [];
  const chosen = decision.bootstrap;
  const textOf = (name: string) => g.nodes.find((n) => n.name === name)?.grastate ?? null;
  const mysqlFile = { mode: 0o660, owner: 'mysql', group: 'mysql' };

  // safe_to_bootstrap only on the chosen node: a stale 1 elsewhere is cleared
  // first, so no later `galera_new_cluster` can start a second history there.
  for (const n of g.nodes) {
    if (!n.reachable || n.name === chosen || n.grastate === null) continue;
    if (!parseGrastate(n.grastate)?.safeToBootstrap) continue;
    const content = setSafeToBootstrap(n.grastate, false);
    changes.push({
      kind: 'file',
      id: changeId('file', n.name, GRASTATE_PATH),
      host: n.name,
      summary: `clear the stale safe_to_bootstrap in ${GRASTATE_PATH} (${n.name} is not the most advanced node)`,
      path: GRASTATE_PATH,
      before: { content: n.grastate },
      after: { content, ...mysqlFile },
      sensitive: false,
      apply: async (ctx) => ctx.host.writeFile(GRASTATE_PATH, content, mysqlFile),
    });
  }
  const before = textOf(chosen);
  if (before === null || !parseGrastate(before)?.safeToBootstrap) {
    const content = grastateFile(before, decision.uuid, true);
    changes.push({
      kind: 'file',
      id: changeId('file', chosen, GRASTATE_PATH),
      host: chosen,
      summary: `set safe_to_bootstrap: 1 in ${GRASTATE_PATH} on ${chosen} only`,
      path: GRASTATE_PATH,
      before: before === null ? null : { content: before },
      after: { content, ...mysqlFile },
      sensitive: false,
      apply: async (ctx) => ctx.host.writeFile(GRASTATE_PATH, content, mysqlFile),
    });
  }

  changes.push({
    kind: 'cluster',
    step: 'bootstrap',
    id: changeId('cluster', chosen, 'bootstrap'),
    host: chosen,
    summary: `bootstrap ${chosen} (${decision.overridden ? 'chosen by the bootstrap-node override' : 'highest seqno'} ${decision.seqno}) as the new primary component (galera_new_cluster)`,
    detail: `position ${decision.uuid}:${decision.seqno}; waits until ${chosen} is Primary, Synced, size 1`,
    apply: async (ctx) => {
      await startMariadb(ctx.host, 'galera_new_cluster', port, { purpose: 'bootstrap the Galera cluster from the most advanced node', timeoutMs: BOOTSTRAP_TIMEOUT_MS, logger: ctx.logger });
      await waitForNode(ctx.host, syncedWithSize(1), { timeoutMs: BOOTSTRAP_TIMEOUT_MS, logger: ctx.logger, what: 'Primary/Synced, size 1' });
    },
  });

  decision.joinOrder.forEach((name, i) => {
    const size = i + 2;
    changes.push({
      kind: 'cluster',
      step: 'join',
      id: changeId('cluster', name, 'join'),
      host: name,
      summary: `start mariadb on ${name} (joins ${chosen} by IST/SST), wait for Synced and size ${size}`,
      detail: `one node at a time; waits until ${name} is Primary, Synced and the cluster has ${size} members`,
      apply: async (ctx) => {
        // A bootstrap flag left in this host's service manager (an interrupted
        // galera_new_cluster) would make this start a second cluster.
        await ctx.host.run('systemctl unset-environment _WSREP_NEW_CLUSTER', { purpose: 'make sure the start joins, not bootstraps', timeoutMs: 30_000 });
        await startMariadb(ctx.host, 'systemctl start mariadb', port, { purpose: 'rejoin the Galera cluster', timeoutMs: JOIN_TIMEOUT_MS, logger: ctx.logger });
        await waitForNode(ctx.host, syncedWithSize(size), { timeoutMs: JOIN_TIMEOUT_MS, logger: ctx.logger, what: `Synced with cluster size ${size}` });
      },
    });
  });

  const members = [chosen, ...decision.joinOrder];
  changes.push({
    kind: 'cluster',
    step: 'recover',
    id: changeId('cluster', chosen, 'recover', 'clear-bootstrap-flag'),
    host: chosen,
    summary: `clear the bootstrap flag on ${chosen} (a later restart joins instead of bootstrapping) and check all ${members.length} nodes share one cluster`,
    detail: `systemctl unset-environment _WSREP_NEW_CLUSTER; every node Primary, Synced, size ${members.length}, one cluster state UUID${decision.skipped.length > 0 ? `; ${decision.skipped.join(', ')} left out (unreachable): start mariadb there once it is back, never galera_new_cluster` : ''}`,
    apply: async (ctx) => {
      await ctx.host.run('systemctl unset-environment _WSREP_NEW_CLUSTER', { purpose: 'clear the bootstrap flag', timeoutMs: 30_000 });
      const env = await ctx.host.run('systemctl show-environment', { purpose: 'check the bootstrap flag is gone', timeoutMs: 30_000 });
      if (/^_WSREP_NEW_CLUSTER=\S/m.test(env.stdout)) {
        throw new DeployError('command-failed', `${chosen}: _WSREP_NEW_CLUSTER is still set in the service manager's environment`, {
          host: chosen,
          hint: `Run \`systemctl unset-environment _WSREP_NEW_CLUSTER\` on ${chosen}; until then a restart of it would start a second cluster.`,
        });
      }
      await assertClusterFormed(members.map((m) => ctx.hosts.get(m)!), members.length);
    },
  });
  return changes;
}

export function computeRecoveryPlan(context: CommandContext, g: Gathered, override: string | undefined): { plan: Plan; decision: RecoveryDecision } {
  const decision = decideRecovery(g.nodes, { ...(override !== undefined ? { override } : {}), recoverCommand: RECOVER_COMMAND });
  const hosts = g.dbHosts.map((h) => hostRow(h, g.nodes.find((n) => n.name === h.name)!, g.facts.get(h.name), decision));
  if (decision.kind === 'refuse') return { plan: createPlan({ command: 'recover', environment: context.environment.name, changes: [], hosts }), decision };
  const warnings: string[] = [];
  if (decision.overridden) warnings.push(`OVERRIDE: ${decision.bootstrap} is bootstrapped because the ${BOOTSTRAP_OVERRIDE_OPTION} option names it, not because recover chose it`);
  if (decision.skipped.length > 0) warnings.push(`unreachable, left out: ${decision.skipped.join(', ')}; start mariadb there once it is back (it joins by SST), never galera_new_cluster`);
  return {
    plan: createPlan({ command: 'recover', environment: context.environment.name, changes: recoveryChanges(decision, g, context.environment.database?.port), warnings, hosts }),
    decision,
  };
}

function decisionMarkdown(decision: RecoveryDecision): string {
  const head =
    decision.kind === 'bootstrap'
      ? `Bootstrap **${decision.bootstrap}** (${decision.overridden ? 'chosen by the bootstrap-node override' : 'highest seqno'}), position \`${decision.uuid}:${decision.seqno}\`; then ${decision.joinOrder.length > 0 ? decision.joinOrder.join(', ') : 'no other node'}, one at a time.`
      : 'Recovery refused: nothing was changed.';
  const steps = decision.kind === 'bootstrap' ? `\n\n${decision.steps.map((s, i) => `${i + 1}. ${s}`).join('\n')}` : '';
  return `${head}\n\n${decision.table}${steps}\n`;
}

const recover: CommandRunner = async (context) => {
  const dbHosts = hostsWithRole(context.environment, 'db');
  const override = context.request.options[BOOTSTRAP_OVERRIDE_OPTION]?.trim() || undefined;
  if (override !== undefined && !dbHosts.some((h) => h.name === override)) {
    throw new DeployError('invalid-input', `option ${BOOTSTRAP_OVERRIDE_OPTION}=${override} names no db host of environment ${context.environment.name}`, {
      hint: `Name one of: ${dbHosts.map((h) => h.name).join(', ')} (or leave the option out to let recover choose the most advanced node).`,
    });
  }
  if (override !== undefined) context.logger.warn(`bootstrap override given: ${BOOTSTRAP_OVERRIDE_OPTION}=${override}; recover will bootstrap it whatever the seqnos say`);
  // The hosts preflight reached; the others can only be left out with the override.
  const reachable = dbHosts.filter((h) => context.facts.has(h.name));
  let last: RecoveryDecision | undefined;
  try {
    const result = await planOrApplyReviewed(context, {
      command: 'recover',
      lockHosts: reachable,
      gather: () => gather(context, dbHosts, override),
      plan: (g) => {
        const { plan, decision } = computeRecoveryPlan(context, g, override);
        last = decision;
        context.logger.info(`recovery decision:\n${decision.table}`);
        if (decision.kind === 'refuse') throw decision.error;
        for (const [i, step] of decision.steps.entries()) context.logger.info(`step ${i + 1}: ${step}`);
        return plan;
      },
    });
    return { ...result, checks: context.preflightChecks, sections: last ? [{ title: 'Recovery decision', markdown: decisionMarkdown(last) }] : [] };
  } catch (error) {
    return {
      checks: context.preflightChecks,
      error: toDeployError(error),
      ...(last ? { sections: [{ title: 'Recovery decision', markdown: decisionMarkdown(last) }] } : {}),
    };
  }
};

export const recoverCommand: CommandDescriptor = {
  name: 'recover',
  summary: 'full-outage recovery: the node with the highest seqno bootstrapped, the others joined one at a time',
  options: [
    {
      name: BOOTSTRAP_OVERRIDE_OPTION,
      kind: 'text',
      pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
      expects: 'the name of a db host of the inventory',
      description: 'bootstrap this db host whatever the seqnos say (logged as an override; the only way past an unreachable db host)',
    },
  ],
  needs: { roles: ['db'], sections: ['database'] },
  toleratesUnreachable: (request, _environment, outcome) =>
    recoverToleratesPreflight(request, outcome) && 'the bootstrap-node override is given',
  run: recover,
};
