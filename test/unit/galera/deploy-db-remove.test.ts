import { describe, expect, it } from 'vitest';
import { planHashKeyFrom } from '../../../src/engine/plan.js';
import { classifyCluster } from '../../../src/components/galera/cluster-state.js';
import type { GaleraHostFacts } from '../../../src/facts/galera.js';
import { renderGaleraConfig } from '../../../src/components/galera/index.js';
import { retiringNode, syncedMemberFacts } from './fixtures.js';
import { clusterView, type RetiringNode } from '../../../src/components/galera/membership.js';
import { computePlan, deployDbToleratesPreflight, desiredAccounts, galeraModelFor, type Gathered } from '../../../src/commands/deploy-db/deploy-db.js';
import type { CommandContext } from '../../../src/commands/context.js';
import type { PreflightOutcome } from '../../../src/commands/context.js';
import type { RunRequest } from '../../../src/request.js';
import { loadInventory, resolveSecrets, selectEnvironment, type Host } from '../../../src/inventory/index.js';
import type { RemoteHost } from '../../../src/ssh/types.js';

// deploy-db's plan when db nodes are taken out of a running 5-node cluster,
// against gathered facts, no host involved.

const UUID = 'ee244a52-e77e-11f1-ba32-87af0a2a59e6';
const INSTALLED = '1:10.11.14-0+deb12u2';
const ADDRESS: Record<string, string> = {
  db1: '10.0.0.11',
  db2: '10.0.0.12',
  db3: '10.0.0.13',
  db4: '10.0.0.14',
  db5: '10.0.0.15',
  db6: '10.0.0.16',
  db7: '10.0.0.17',
};

function inventory(hosts: string, databaseExtra = ''): string {
  return `version: 1
environments:
  lab:
    ssh: { user: root }
    hosts:
${hosts}    app:
      preset: moodle
    database:
      cluster_name: lab
${databaseExtra}`;
}

const hostLine = (name: string, roles: string) => `      - { name: ${name}, address: ${ADDRESS[name]}, roles: [${roles}] }\n`;
const FIVE = ['db1', 'db2', 'db3', 'db4', 'db5'].map((n) => hostLine(n, 'db')).join('');
const THREE = ['db1', 'db2', 'db3'].map((n) => hostLine(n, 'db')).join('');

function environmentOf(text: string) {
  return selectEnvironment(loadInventory(text, 'ha.yml'), 'lab', 'ha.yml');
}

interface Scenario {
  /** The inventory's hosts (db1..db3 with the db role, plus retired ones). */
  hosts: string;
  databaseExtra?: string;
  /** Members as the cluster sees them (names). */
  members: string[];
  retiring?: RetiringNode[];
  mode?: 'plan' | 'apply';
  options?: Record<string, string>;
  lbWriter?: string;
}

function plan(s: Scenario) {
  const environment = environmentOf(inventory(s.hosts, s.databaseExtra));
  const before = galeraModelFor(environmentOf(inventory(FIVE)));
  const secrets = resolveSecrets(environment, {}, () => {});
  const noop = () => {};
  const context = {
    request: { options: s.options ?? {}, privateKey: undefined, planHashKey: planHashKeyFrom('unit-test-plan-hash-key-0123456789abcdef'), mode: s.mode ?? 'plan' },
    environment,
    secrets,
    logger: { info: noop, warn: noop, debug: noop, group: (_t: string, fn: () => Promise<unknown>) => fn() },
  } as unknown as CommandContext;
  const model = galeraModelFor(environment);
  const dbHosts = environment.hosts.filter((h) => h.roles.includes('db')) as Host[];
  const size = s.members.length;
  const facts = new Map<string, GaleraHostFacts>();
  for (const h of dbHosts) facts.set(h.name, syncedMemberFacts({ config: renderGaleraConfig(before, h.name), size, uuid: UUID, installed: INSTALLED }));
  const retiring = s.retiring ?? [];
  const g: Gathered = {
    dbHosts,
    remotes: new Map([...dbHosts.map((h) => h.name), ...retiring.map((r) => r.name)].map((n) => [n, { name: n } as RemoteHost])),
    facts,
    accounts: [],
    databases: [{ name: 'moodle', charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' }],
    situation: classifyCluster(dbHosts.map((h) => h.name), facts),
    schemaProblems: [],
    probeTable: true,
    retiring,
    ...(s.lbWriter ? { lbWriter: { name: s.lbWriter, source: 'haproxy.cfg on lb1' } } : {}),
    view: clusterView(size, s.members.map((name) => ({ name, address: null })), s.members.map((n) => ADDRESS[n]!)),
  };
  return computePlan(context, model, desiredAccounts(environment, model), g);
}

const node = (name: string, over: Partial<RetiringNode> = {}): RetiringNode => retiringNode(name, ADDRESS[name]!, over);

const RETIRED = `${THREE}${hostLine('db4', '')}${hostLine('db5', '')}`;
const REMOVE = '      remove_nodes: [db4, db5]\n';
const ALL = ['db1', 'db2', 'db3', 'db4', 'db5'];

describe('deploy-db plan: a member that is no longer in the inventory', () => {
  it('plan names it and changes only the others\' option files; apply refuses', () => {
    const p = plan({ hosts: THREE, members: ['db1', 'db2', 'db3', 'db5'] });
    expect(p.warnings.join('\n')).toContain('db5 (10.0.0.15) is in the cluster but not in the inventory');
    expect(p.warnings.join('\n')).toContain('apply refuses');
    expect(p.changes.some((c) => c.kind === 'cluster')).toBe(false);
    expect(() => plan({ hosts: THREE, members: ['db1', 'db2', 'db3', 'db5'], mode: 'apply' })).toThrow(
      /db5 \(10\.0\.0\.15\) is in the cluster but not in the inventory: deploy-db does not take a node out silently/,
    );
  });
});

describe('deploy-db plan: nodes listed in database.remove_nodes', () => {
  it('5 -> 3: each leaves in turn (stop, disable, wait for the smaller size), then the others get the new address list without a restart', () => {
    const p = plan({ hosts: RETIRED, databaseExtra: REMOVE, members: ALL, retiring: [node('db4'), node('db5')], mode: 'apply' });
    expect(p.changes.filter((c) => c.kind !== 'sql').map((c) => [c.host, c.kind])).toEqual([
      ['db4', 'cluster'],
      ['db5', 'cluster'],
      ['db1', 'file'],
      ['db2', 'file'],
      ['db3', 'file'],
    ]);
    expect(p.changes[0]!.summary).toBe('remove db4 from lab: stop mariadb (a clean leave), disable it, wait until db1, db2, db3 are Primary, Synced, size 4');
    expect(p.changes[1]!.summary).toContain('size 3');
    expect(p.changes[2]!.summary).toContain('wsrep_cluster_address: read only when mariadb starts, so no restart');
    const file = p.changes[2]!;
    expect(file.kind === 'file' && file.after?.content).toContain('wsrep_cluster_address = gcomm://10.0.0.11,10.0.0.12,10.0.0.13\n');
    expect(p.hosts.map((h) => h.name)).toEqual(['db1', 'db2', 'db3', 'db4', 'db5']);
    expect(p.hosts[3]!.facts).toEqual({ mariadb: 'installed', service: 'running, enabled', cluster: 'member' });
  });

  it('once they are gone: only a note, no change (a re-apply reports zero changes)', () => {
    const gone = { running: false, enabled: false, inView: false };
    const before = plan({ hosts: RETIRED, databaseExtra: REMOVE, members: ALL, retiring: [node('db4'), node('db5')] });
    const after = plan({ hosts: RETIRED, databaseExtra: REMOVE, members: ['db1', 'db2', 'db3'], retiring: [node('db4', gone), node('db5', gone)] });
    // The option files were written by the first apply; here they still hold the old list.
    expect(after.changes.filter((c) => c.kind !== 'file' && c.kind !== 'sql')).toEqual([]);
    expect(before.changes.filter((c) => c.kind === 'cluster')).toHaveLength(2);
    expect(after.warnings.join('\n')).toContain('db4: already out of the cluster (mariadb stopped and disabled)');
  });

  it('the removal is in the plan hash: the same inventory without remove_nodes does not hash the same', async () => {
    const { planHash } = await import('../../../src/engine/plan.js');
    const removing = plan({ hosts: RETIRED, databaseExtra: REMOVE, members: ALL, retiring: [node('db4'), node('db5')] });
    const notRemoving = plan({ hosts: THREE, members: ALL });
    expect(planHash(removing, { key: planHashKeyFrom('unit-test-plan-hash-key-0123456789abcdef') })).not.toBe(planHash(notRemoving, { key: planHashKeyFrom('unit-test-plan-hash-key-0123456789abcdef') }));
  });

  it('refuses to take out half or more of the current members in one run unless forced, in plan mode too', () => {
    const retired = ['db4', 'db5', 'db6', 'db7'];
    const s: Scenario = {
      hosts: `${THREE}${retired.map((n) => hostLine(n, '')).join('')}`,
      databaseExtra: `      remove_nodes: [${retired.join(', ')}]\n`,
      members: [...ALL, 'db6', 'db7'],
      retiring: retired.map((n) => node(n)),
    };
    expect(() => plan(s)).toThrow(/removing 4 of the 7 current members at once would leave 3, not a majority/);
    const forced = plan({ ...s, options: { 'force-remove': 'true' } });
    const leaves = forced.changes.filter((c) => c.kind === 'cluster');
    expect(leaves.map((c) => c.summary.replace(/.*size /, ''))).toEqual(['6', '5', '4', '3']);
    expect(leaves[0]!.kind === 'cluster' && leaves[0]!.detail).toContain('forced (force-remove=true)');
  });

  it('an unreachable node the cluster still lists is refused by name; one it no longer lists is treated as gone', () => {
    expect(() =>
      plan({ hosts: RETIRED, databaseExtra: REMOVE, members: ALL, retiring: [node('db4'), node('db5', { reachable: false })] }),
    ).toThrow(/db5 \(10\.0\.0\.15\) cannot be reached over SSH, but the remaining members still list it/);
    const p = plan({
      hosts: RETIRED,
      databaseExtra: REMOVE,
      members: ['db1', 'db2', 'db3', 'db4'],
      retiring: [node('db4'), node('db5', { reachable: false, inView: false, running: false })],
    });
    expect(p.changes.filter((c) => c.kind === 'cluster').map((c) => c.host)).toEqual(['db4']);
    expect(p.changes[0]!.summary).toContain('size 3');
    expect(p.warnings.join('\n')).toContain('treated as already gone');
  });

  it('warns and says so in the step when the node is the load balancers\' writer', () => {
    const p = plan({ hosts: RETIRED, databaseExtra: REMOVE, members: ALL, retiring: [node('db4'), node('db5')], lbWriter: 'db5' });
    expect(p.warnings.join('\n')).toContain('db5 is the writer of the load balancers (haproxy.cfg on lb1)');
    const leaves = p.changes.filter((c) => c.kind === 'cluster');
    expect(leaves[0]!.summary).not.toContain('writer');
    expect(leaves[1]!.summary).toContain("(it is the load balancers' writer)");
    const quiet = plan({ hosts: RETIRED, databaseExtra: REMOVE, members: ALL, retiring: [node('db4'), node('db5')] });
    expect(quiet.warnings.some((w) => w.includes('writer of the load balancers'))).toBe(false);
  });
});

describe('the inventory: database.remove_nodes', () => {
  it('a listed host keeps its entry without roles; one that still has the db role is refused, naming the line', () => {
    expect(() => environmentOf(inventory(RETIRED, REMOVE))).not.toThrow();
    expect(() => environmentOf(inventory(`${THREE}${hostLine('db4', '')}${hostLine('db5', 'db')}`, REMOVE))).toThrow(
      /ha\.yml:\d+:\d+: .*"database\.remove_nodes" lists "db5", which still has the db role/,
    );
    expect(() => environmentOf(inventory(THREE, '      remove_nodes: [db9]\n'))).toThrow(/names host "db9", which is not defined/);
  });
});

describe('deploy-db with an unreachable host listed for removal', () => {
  const environment = environmentOf(inventory(RETIRED, REMOVE));
  const outcome = (failing: string[]): PreflightOutcome =>
    ({
      facts: new Map(['db1', 'db2', 'db3'].map((n) => [n, {}])),
      checks: failing.map((host) => ({ layer: 'host', host, check: 'ssh + sudo', expected: '', observed: 'timed out', status: 'fail' })),
      hosts: [],
      error: { reason: 'ssh-failed' },
    }) as unknown as PreflightOutcome;
  const request = (command: string) => ({ command, options: {} }) as unknown as RunRequest;

  it('goes on past preflight only when every unreachable host is one being removed', () => {
    expect(deployDbToleratesPreflight(request('deploy-db'), environment, outcome(['db5']))).toBe(true);
    expect(deployDbToleratesPreflight(request('deploy-db'), environment, outcome(['db5', 'db2']))).toBe(false);
    expect(deployDbToleratesPreflight(request('deploy-lb'), environment, outcome(['db5']))).toBe(false);
  });
});
