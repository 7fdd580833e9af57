import { describe, expect, it } from 'vitest';
import { decideRecovery, type RecoveryNodeFacts, type RecoveryPlan } from '../../../src/components/galera/index.js';
import {
  BOOTSTRAP_OVERRIDE_OPTION,
  parseRecoveryFacts,
  recoverToleratesPreflight,
  recoveryChanges,
  recoveryFactsScript,
  wsrepRecoverScript,
} from '../../../src/commands/recover/recover.js';
import type { PreflightOutcome } from '../../../src/commands/preflight/preflight.js';
import type { RunRequest } from '../../../src/request.js';
import { DeployError } from '../../../src/errors.js';
import type { CheckResult } from '../../../src/check.js';
import type { HostFacts } from '../../../src/facts/host.js';

const UUID = '9c2f1f2e-6b1a-11ef-8f0d-2b6e5b0c1a77';
const grastate = (seqno: number, safe: 0 | 1 = 0) => `# GALERA saved state\nversion: 2.1\nuuid:    ${UUID}\nseqno:   ${seqno}\nsafe_to_bootstrap: ${safe}\n`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('recovery facts', () => {
  it('reads a stopped node with its grastate.dat', () => {
    const out = `@@unit\nfailed\n@@proc\nstopped\n@@bin\n/usr/sbin/mariadbd\n@@grastate\n${b64(grastate(42))}\n@@env\n`;
    expect(parseRecoveryFacts(out)).toEqual({ running: false, unit: 'failed', installed: true, grastate: grastate(42), newClusterFlag: false });
  });

  it('counts a unit still activating (a node trying to join) as running, and sees a leftover bootstrap flag', () => {
    const out = `@@unit\nactivating\n@@proc\nstopped\n@@bin\n/usr/sbin/mariadbd\n@@grastate\n@absent\n@@env\n_WSREP_NEW_CLUSTER=--wsrep-new-cluster\n`;
    expect(parseRecoveryFacts(out)).toMatchObject({ running: true, grastate: null, newClusterFlag: true });
  });

  it('sees a server process outside systemd, and a host without the server', () => {
    expect(parseRecoveryFacts('@@unit\ninactive\n@@proc\nrunning\n@@bin\n@absent\n@@grastate\n@absent\n@@env\n')).toMatchObject({
      running: true,
      installed: false,
    });
  });

  it('the facts script prints every section the parser reads', () => {
    const sections = [...recoveryFactsScript().matchAll(/echo "@@([a-z]+)"/g)].map((m) => m[1]);
    expect(sections).toEqual(['unit', 'proc', 'bin', 'grastate', 'env']);
    expect(wsrepRecoverScript()).toContain('--wsrep_recover');
  });
});

function node(name: string, over: Partial<RecoveryNodeFacts> = {}): RecoveryNodeFacts {
  return { name, reachable: true, running: false, grastate: grastate(100), recovered: null, ...over };
}

function bootstrapOf(nodes: RecoveryNodeFacts[], override?: string): RecoveryPlan {
  const d = decideRecovery(nodes, override ? { override } : {});
  if (d.kind !== 'bootstrap') throw new Error(d.error.message);
  return d;
}

describe('recoveryChanges', () => {
  it('sets safe_to_bootstrap on the chosen node only, clears a stale one, bootstraps, joins one at a time, clears the flag', () => {
    const nodes = [
      node('db1', { grastate: grastate(90, 1) }),
      node('db2', { grastate: grastate(120) }),
      node('db3', { grastate: grastate(-1), recovered: `WSREP: Recovered position: ${UUID}:150,0-1-150` }),
    ];
    const changes = recoveryChanges(bootstrapOf(nodes), { nodes, remotes: new Map() });
    expect(changes.map((c) => [c.kind, c.host, c.kind === 'cluster' ? c.step : ''])).toEqual([
      ['file', 'db1', ''],
      ['file', 'db3', ''],
      ['cluster', 'db3', 'bootstrap'],
      ['cluster', 'db2', 'join'],
      ['cluster', 'db1', 'join'],
      ['cluster', 'db3', 'recover'],
    ]);
    const [clear, set] = changes as Array<(typeof changes)[number] & { kind: 'file' }>;
    expect(clear!.after!.content).toBe(grastate(90, 0));
    expect(set!.after!.content).toBe(grastate(-1, 1));
    expect(set!.after).toMatchObject({ owner: 'mysql', group: 'mysql', mode: 0o660 });
    expect(changes[2]!.summary).toContain('highest seqno 150');
    expect(changes[3]!.summary).toContain('size 2');
    expect(changes[4]!.summary).toContain('size 3');
  });

  it('writes no grastate change when the chosen node already has the flag, and says when the override chose', () => {
    const nodes = [node('db1', { grastate: grastate(100, 1) }), node('db2', { grastate: grastate(100) })];
    const changes = recoveryChanges(bootstrapOf(nodes, 'db1'), { nodes, remotes: new Map() });
    expect(changes.filter((c) => c.kind === 'file')).toHaveLength(0);
    expect(changes[0]!.summary).toContain('bootstrap-node override');
  });

  it('leaves an unreachable node out of the joins (override only) and names it in the last step', () => {
    const nodes = [node('db1'), node('db2', { grastate: grastate(130) }), { name: 'db3', reachable: false, running: false, grastate: null, recovered: null }];
    const changes = recoveryChanges(bootstrapOf(nodes, 'db2'), { nodes, remotes: new Map() });
    expect(changes.map((c) => c.host)).toEqual(['db2', 'db2', 'db1', 'db2']);
    const last = changes.at(-1)!;
    expect(last.kind === 'cluster' && last.detail).toContain('db3 left out');
  });
});

describe('recoverToleratesPreflight', () => {
  const check = (host: string, name: string, status: CheckResult['status']): CheckResult => ({ layer: 'host', host, check: name, expected: '', observed: '', status });
  const request = (options: Record<string, string>, command: RunRequest['command'] = 'recover') => ({ command, options }) as RunRequest;
  const outcome = (reason: DeployError['reason'], checks: CheckResult[], reached: string[]): PreflightOutcome => ({
    facts: new Map(reached.map((n) => [n, {} as HostFacts])),
    checks,
    hosts: [],
    error: new DeployError(reason, 'x'),
  });
  const unreachableDb3 = outcome('ssh-failed', [check('db3', 'ssh + sudo', 'fail'), check('db1', 'ssh + sudo', 'ok')], ['db1', 'db2']);

  it('lets recover go on past unreachable hosts only with the bootstrap override', () => {
    expect(recoverToleratesPreflight(request({ [BOOTSTRAP_OVERRIDE_OPTION]: 'db1' }), unreachableDb3)).toBe(true);
    expect(recoverToleratesPreflight(request({}), unreachableDb3)).toBe(false);
    expect(recoverToleratesPreflight(request({ [BOOTSTRAP_OVERRIDE_OPTION]: 'db1' }, 'deploy-db'), unreachableDb3)).toBe(false);
  });

  it('never past a host key mismatch or a failed check on a host it reached', () => {
    const opts = request({ [BOOTSTRAP_OVERRIDE_OPTION]: 'db1' });
    expect(recoverToleratesPreflight(opts, outcome('host-key-mismatch', [check('db3', 'ssh + sudo', 'fail')], ['db1']))).toBe(false);
    expect(recoverToleratesPreflight(opts, outcome('ssh-failed', [check('db3', 'ssh + sudo', 'fail'), check('db1', 'disk /var/lib/mysql', 'fail')], ['db1']))).toBe(false);
    expect(recoverToleratesPreflight(opts, outcome('ssh-failed', [check('db1', 'ssh + sudo', 'fail')], ['db1']))).toBe(false);
  });
});
