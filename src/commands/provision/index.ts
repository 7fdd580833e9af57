/**
 * provision: bring ordinary hosts to a safe baseline before any cluster
 * exists. Reads as its phases:
 *
 *   1. gather   one read-only round trip per host (facts.ts), plus the address
 *               each host sees the runner's SSH come from;
 *   2. check    time sync, clock skew (refused above the bound), free space
 *               where the datadir and bricks will live, swap (checks.ts);
 *   3. plan     /etc/hosts block, time sync, peers-only firewall (plan.ts), pure;
 *   4. hash, lock, re-plan, apply  (reviewed-change.ts), with the firewall
 *               loaded through the lock-out guard below.
 */
import { splitHostResults } from '../../ssh/pool.js';
import { worstStatus } from '../../check.js';
import { DeployError } from '../../errors.js';
import type { ApplyFn } from '../../engine/change.js';
import type { Environment, Host } from '../../inventory/index.js';
import { cell, fence, table } from '../../report/markdown.js';
import type { RemoteHost } from '../../ssh/types.js';
import { FIREWALL_NFT_PATH, FIREWALL_NFT_TABLE, FIREWALL_ROLLBACK_UNIT, renderRollbackScript } from '../../components/nftables/firewall.js';
import type { CommandDescriptor } from '../command.js';
import type { CommandContext, CommandRunner } from '../context.js';
import { planOrApplyReviewed } from '../reviewed-change.js';
import { DATADIR, provisionChecks, type CheckedHost } from './checks.js';
import { gatherProvisionFacts, gatherSshClientAddress, type ProvisionFacts } from './facts.js';
import { collectPushPackages, type PushDirectory } from './packages.js';
import { computeProvisionPlan, provisionedHosts, type GuardedLoad, type ProvisionPlanResult } from './plan.js';

const CANDIDATE_PATH = `${FIREWALL_NFT_PATH}.lms-ha-candidate`;
const ROLLBACK_SCRIPT = '/etc/lms-ha/firewall-rollback.sh';

/** Paths whose free space matters on a host: the datadir on db hosts, the brick on storage hosts. */
function diskPathsFor(environment: Environment, host: Host): string[] {
  const paths: string[] = [];
  if (host.roles.includes('db')) paths.push(DATADIR);
  if (environment.storage.kind === 'glusterfs' && (host.roles.includes('storage') || environment.storage.arbiter === host.name)) {
    paths.push(environment.storage.brick_path);
  }
  return paths;
}

interface Gathered {
  remotes: Map<string, RemoteHost>;
  facts: Map<string, ProvisionFacts>;
  hostnames: Map<string, string>;
  sshClients: Map<string, string | null>;
  push?: PushDirectory;
}

async function gather(context: CommandContext, hosts: readonly Host[]): Promise<Gathered> {
  const settings = context.environment.provision.packages;
  const push = settings.source === 'push' ? await collectPushPackages(settings, context.logger) : undefined;
  const { values, failures } = splitHostResults(
    await context.forEachHost(hosts, async (remote, host) => {
      const [facts, client] = await Promise.all([
        gatherProvisionFacts(remote, diskPathsFor(context.environment, host), context.environment.provision.plan_account?.user),
        gatherSshClientAddress(remote),
      ]);
      return { remote, facts, client };
    }),
  );
  if (failures[0]) throw failures[0].error;
  const g: Gathered = { remotes: new Map(), facts: new Map(), hostnames: new Map(), sshClients: new Map(), ...(push ? { push } : {}) };
  for (const [name, v] of values) {
    g.remotes.set(name, v.remote);
    g.facts.set(name, v.facts);
    g.sshClients.set(name, v.client);
  }
  for (const [name, f] of context.facts) g.hostnames.set(name, f.hostname);
  return g;
}

/**
 * The lock-out guard. The new table is checked (`nft -c`), the live one saved
 * into a rollback script that a transient systemd timer runs after
 * `confirm_seconds`, then the new table is loaded. Only a fresh SSH
 * connection from the runner, made after the load, cancels the timer; when it
 * fails the previous table is put back at once over the connection already
 * open (established connections stay accepted), and the timer is the backstop
 * when even that one is gone. Only then does the checked file become the one
 * loaded at boot.
 */
function guardedLoad(context: CommandContext): GuardedLoad {
  const seconds = context.environment.provision.firewall.confirm_seconds;
  return (content, ruleForSsh): ApplyFn =>
    async ({ host, logger }) => {
      const root = { mode: 0o644, owner: 'root', group: 'root' };
      await host.writeFile(CANDIDATE_PATH, content, root);
      const check = await host.run(`nft -c -f ${CANDIDATE_PATH}`, { purpose: 'check the new firewall table', allowFailure: true, timeoutMs: 60_000 });
      if (check.code !== 0) {
        await host.run(`rm -f -- ${CANDIDATE_PATH}`, { purpose: 'remove the rejected firewall table', allowFailure: true });
        throw new DeployError('apply-failed', `nft rejected the firewall table on ${host.name}: ${(check.stderr || check.stdout).trim().split('\n').slice(-3).join(' | ')}`, {
          host: host.name,
          hint: 'Nothing was loaded. This is a bug in lms-ha or an nft version it does not know; report it with this message.',
        });
      }
      const previous = await host.run(`nft list table inet ${FIREWALL_NFT_TABLE} 2>/dev/null`, { purpose: 'save the live firewall table', allowFailure: true });
      await host.writeFile(ROLLBACK_SCRIPT, renderRollbackScript(previous.code === 0 ? previous.stdout : null), { ...root, mode: 0o700 });
      const unit = FIREWALL_ROLLBACK_UNIT;
      await host.run(
        `systemctl stop ${unit}.timer ${unit}.service 2>/dev/null; systemctl reset-failed ${unit}.timer ${unit}.service 2>/dev/null; ` +
          `systemd-run --quiet --unit=${unit} --on-active=${seconds} --timer-property=AccuracySec=1s /bin/sh ${ROLLBACK_SCRIPT}`,
        { purpose: `arm the firewall rollback (${seconds} s)` },
      );
      await host.run(`nft -f ${CANDIDATE_PATH}`, { purpose: 'load the new firewall table', timeoutMs: 60_000 });

      const timeoutMs = Math.min(20_000, (seconds * 1000) / 2);
      try {
        if (!context.connectFresh) throw new Error('this front cannot open a second connection');
        const fresh = await context.connectFresh(host.name, timeoutMs);
        try {
          await fresh.run(`systemctl stop ${unit}.timer`, { purpose: 'confirm the new firewall (cancel its rollback)', timeoutMs: 30_000 });
        } finally {
          await fresh.close();
        }
      } catch (error) {
        const why = (error instanceof Error ? error.message : String(error)).split('\n', 1)[0];
        const restored = await host
          .run(`systemctl stop ${unit}.timer; /bin/sh ${ROLLBACK_SCRIPT}`, { purpose: 'roll the firewall back', timeoutMs: 30_000 })
          .then(() => 'at once')
          .catch(() => `by the timer within ${seconds} s`);
        await host.run(`rm -f -- ${CANDIDATE_PATH}`, { purpose: 'remove the unconfirmed firewall table', allowFailure: true }).catch(() => undefined);
        logger.warn(`the new firewall was rolled back ${restored}: a fresh SSH connection failed`, host.name);
        throw new DeployError(
          'apply-failed',
          `${host.name}: after the new firewall was loaded, a fresh SSH connection from the runner failed (${why}); the previous table was restored ${restored}. The rule that blocks it: ${ruleForSsh}`,
          {
            host: host.name,
            hint: 'Add the runner\'s address or network (or the bastion) to provision.firewall.ssh_from, review the new plan, and apply again.',
          },
        );
      }
      await host.run(`mv -f -- ${CANDIDATE_PATH} ${FIREWALL_NFT_PATH}`, { purpose: 'keep the confirmed firewall table for boot' });
      logger.info(`firewall confirmed by a fresh SSH connection (table inet ${FIREWALL_NFT_TABLE})`, host.name);
    };
}

function firewallSections(result: ProvisionPlanResult): { title: string; markdown: string }[] {
  if (result.firewall.length === 0) return [];
  const rows = result.firewall.map((r) => [r.host, r.port, r.proto, r.what, r.from, r.sources].map(cell));
  return [
    { title: 'Firewall (who may reach what)', markdown: table(['host', 'port', 'proto', 'what', 'from', 'sources'], rows) },
    {
      title: `Firewall (nftables table inet ${FIREWALL_NFT_TABLE})`,
      markdown: [...result.nftables].map(([host, text]) => `**${host}**\n\n${fence(text, 'nft')}`).join('\n\n'),
    },
  ];
}

export const provision: CommandRunner = async (context) => {
  const { environment } = context;
  const hosts = provisionedHosts(environment);
  let last: { result: ProvisionPlanResult; checks: ReturnType<typeof provisionChecks> } | undefined;

  const outcome = await planOrApplyReviewed(context, {
    command: 'provision',
    lockHosts: hosts,
    gather: () => gather(context, hosts),
    plan: (g) => {
      const checked: CheckedHost[] = hosts.map((h) => ({ name: h.name, roles: h.roles, facts: g.facts.get(h.name)!, diskPaths: diskPathsFor(environment, h) }));
      const clocks = environment.hosts.filter((h) => context.facts.has(h.name)).map((h) => ({ name: h.name, facts: context.facts.get(h.name)! }));
      const checks = provisionChecks(checked, clocks, environment.provision.time.max_skew_ms);
      const result = computeProvisionPlan(environment, g, { guardedLoad: guardedLoad(context) });
      last = { result, checks };
      const failed = checks.filter((c) => c.status === 'fail');
      if (context.request.mode === 'apply' && failed.length > 0) {
        throw new DeployError('preflight-failed', `provision refuses: ${failed.map((c) => `${c.host} ${c.check} (${c.observed})`).join('; ')}`, {
          host: failed[0]!.host === '(all)' ? undefined : failed[0]!.host,
          hint: failed[0]!.hint,
        });
      }
      return result.plan;
    },
  });

  if (context.request.mode === 'plan' && last) {
    for (const row of last.result.firewall) {
      context.logger.info(`firewall: ${row.proto} ${row.port} (${row.what}) from ${row.sources}`, row.host);
    }
  }
  const checks = [...context.preflightChecks, ...(last?.checks ?? [])];
  const failed = (last?.checks ?? []).filter((c) => c.status === 'fail');
  const error =
    context.request.mode === 'plan' && worstStatus(failed) === 'fail'
      ? new DeployError('preflight-failed', `provision would refuse: ${failed.map((c) => `${c.host} ${c.check} (${c.observed})`).join('; ')}`, { hint: failed[0]!.hint })
      : undefined;
  return {
    plan: outcome.plan,
    planHash: outcome.planHash,
    ...(outcome.apply ? { apply: outcome.apply } : {}),
    checks,
    sections: last ? firewallSections(last.result) : [],
    ...(error ? { error } : {}),
  };
};

export const provisionCommand: CommandDescriptor = {
  name: 'provision',
  summary: '/etc/hosts for the inventory, package sources, peers-only firewall with a lock-out guard, time sync, disk/swap/clock checks',
  options: [],
  needs: { roles: [], sections: [] },
  run: provision,
};
