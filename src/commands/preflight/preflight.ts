import { worstStatus, type CheckResult } from '../../check.js';
import { DeployError } from '../../errors.js';
import { gatherHostFacts } from '../../facts/read.js';
import type { Environment, Host } from '../../inventory/index.js';
import type { HostRow } from '../../report/run-report.js';
import { splitHostResults, type HostResult } from '../../ssh/pool.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { CommandRunner, PreflightOutcome } from '../context.js';
import type { CommandDescriptor } from '../command.js';

export type { PreflightOutcome } from '../context.js';
import { evaluatePreflight } from './checks.js';

/**
 * The first step of every command: every host reachable with a pinned key,
 * root through sudo, a supported OS, disk space, clock skew. Facts are
 * gathered on all hosts in parallel, one round trip each.
 */
export async function runPreflight(
  environment: Environment,
  forEachHost: <T>(hosts: readonly Host[], fn: (remote: RemoteHost, host: Host) => Promise<T>) => Promise<HostResult<T>[]>,
): Promise<PreflightOutcome> {
  const { values: facts, failures } = splitHostResults(await forEachHost(environment.hosts, (remote) => gatherHostFacts(remote)));

  const reached = environment.hosts.filter((h) => facts.has(h.name));
  const checks = evaluatePreflight(reached.map((h) => ({ name: h.name, roles: h.roles, facts: facts.get(h.name)! })));
  for (const { host, error } of failures) {
    checks.unshift({
      layer: 'host',
      host,
      check: 'ssh + sudo',
      expected: 'connected, root via sudo -n',
      observed: error.message.split('\n', 1)[0],
      status: 'fail',
      hint: error.hint,
    });
  }

  const hosts: HostRow[] = environment.hosts.map((host) => {
    const own = checks.filter((c) => c.host === host.name);
    const failed = own.filter((c) => c.status === 'fail');
    const f = facts.get(host.name);
    return {
      name: host.name,
      roles: [...host.roles],
      status: failed.length > 0 ? 'failed' : 'ok',
      changes: 0,
      notes: failed.length > 0 ? `${failed[0].check}: ${failed[0].observed}` : f ? f.os.prettyName : '',
    };
  });

  return { facts, checks, hosts, error: preflightError(failures, checks) };
}

/**
 * The first unreachable host's own error keeps its reason (host-key-mismatch,
 * sudo-failed, ...) so workflows can branch on it; other hosts are named too.
 */
function preflightError(failures: { host: string; error: DeployError }[], checks: CheckResult[]): DeployError | undefined {
  if (failures.length > 0) {
    const [first, ...rest] = failures;
    const others = rest.map((f) => `${f.host}: ${f.error.message.split('\n', 1)[0]}`);
    const message = others.length > 0 ? `${first.error.message}\nalso failing:\n${others.join('\n')}` : first.error.message;
    return new DeployError(first.error.reason, message, { host: first.host, hint: first.error.hint });
  }
  if (worstStatus(checks) === 'fail') {
    const failed = checks.filter((c) => c.status === 'fail');
    return new DeployError(
      'preflight-failed',
      `preflight failed: ${failed.map((c) => `${c.host} ${c.check} (${c.observed})`).join('; ')}`,
      { host: failed[0].host === '(all)' ? undefined : failed[0].host, hint: failed[0].hint },
    );
  }
  return undefined;
}

/** `preflight` as a command: the checks are the whole result. */
const preflight: CommandRunner = async (context) => ({
  checks: context.preflightChecks,
});

export const preflightCommand: CommandDescriptor = {
  name: 'preflight',
  summary: 'every host reachable with a pinned key, root via sudo -n, supported OS, free disk, clock skew',
  options: [],
  needs: { roles: [], sections: [] },
  run: preflight,
};
