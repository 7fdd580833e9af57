/**
 * deploy-lb: HAProxy (or ProxySQL) on the load balancers behind a Keepalived
 * VIP, and the Galera health check (clustercheck) on the db nodes that HAProxy
 * asks (see docs/deploy-lb.md).
 *
 * Facts first, every host in parallel (packages, users, directories, files
 * with digests, unit states; the clustercheck and monitor accounts from the
 * first db node; ProxySQL's runtime tables), then typed changes computed
 * against them. Plan mode stops there. Apply takes the environment lock,
 * re-gathers and re-plans under it, proves the plan is the reviewed one, then
 * applies in order: the db nodes' health check first (HAProxy must find it
 * answering), then one load balancer after the other, so the VIP always has a
 * working holder.
 *
 * Secrets (the VRRP password, ProxySQL's admin and monitor passwords) travel
 * only on stdin: in files written by writeFile (root 0600) or in SQL scripts.
 * The plan shows sensitive files by metadata only.
 */
import type { CommandRunner } from '../context.js';
import { planOrApplyReviewed } from '../reviewed-change.js';
import type { CommandDescriptor } from '../command.js';
import { desiredLbState } from './desired.js';
import { gatherLbFacts } from './facts.js';
import { type ComputeOptions, computeLbPlan } from './plan.js';

// ---------------------------------------------------------------------------
// The command

export function createDeployLb(options: ComputeOptions = {}): CommandRunner {
  return async (context) => {
    const desired = desiredLbState(context);
    const hosts = [...desired.dbHosts, ...desired.lbHosts];
    const compute = { ...options };

    return planOrApplyReviewed(context, {
      command: 'deploy-lb',
      lockHosts: hosts,
      gather: () => gatherLbFacts(context, desired),
      plan: (g) => computeLbPlan(context, desired, g, compute),
    });
  };
}

/** deploy-lb as the registry runs it (tests build their own with createDeployLb and a fake package fetcher). */
export const deployLb: CommandRunner = createDeployLb();

export const deployLbCommand: CommandDescriptor = {
  name: 'deploy-lb',
  summary: 'HAProxy or ProxySQL behind a Keepalived VIP, with clustercheck on the db nodes',
  options: [],
  // The load balancers route to the Galera nodes, so they need both.
  needs: { roles: ['lb', 'db'], sections: ['load_balancer', 'database'] },
  run: deployLb,
};
