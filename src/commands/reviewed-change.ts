/**
 * The one sequence every changing command follows (dflook's terraform
 * actions, pyinfra): gather facts, compute the plan, and in plan mode stop
 * there. In apply mode take the environment lock, gather and plan again under
 * it (the hosts may have moved since the review), prove the plan is the one
 * that was reviewed, then apply it.
 */
import { DeployError } from '../errors.js';
import { applyPlan, verifyReviewedPlan } from '../engine/executor.js';
import { withLock } from '../engine/lock.js';
import { planHash, planHasSecretContent, type Plan } from '../engine/plan.js';
import type { Host } from '../inventory/index.js';
import type { RemoteHost } from '../ssh/types.js';
import type { CommandContext } from './context.js';

export interface ReviewedChange<G extends { remotes: ReadonlyMap<string, RemoteHost> }> {
  /** The command's name, recorded in the lock file. */
  command: string;
  /** The hosts the lock covers: every host the plan may change. */
  lockHosts: readonly Host[];
  gather(): Promise<G>;
  plan(gathered: G): Plan;
}

export async function planOrApplyReviewed<G extends { remotes: ReadonlyMap<string, RemoteHost> }>(
  context: CommandContext,
  spec: ReviewedChange<G>,
): Promise<{ plan: Plan; planHash: string; apply?: Awaited<ReturnType<typeof applyPlan>>; hosts: []; error?: DeployError }> {
  const planNow = async (): Promise<{ plan: Plan; gathered: G }> => {
    const gathered = await spec.gather();
    const plan = spec.plan(gathered);
    for (const w of plan.warnings) context.logger.warn(w);
    return { plan, gathered };
  };

  if (context.request.mode === 'plan') {
    const { plan } = await planNow();
    const key = context.request.planHashKey;
    if (!key.shared && planHasSecretContent(plan)) {
      context.logger.warn(
        'this plan sets secret values and no plan-hash-key is set (LMS_HA_PLAN_HASH_KEY for the CLI): its hash was keyed with a random key for this run only, so it cannot be applied after review. Set the same plan-hash-key secret for the plan and the apply job.',
      );
    }
    return { plan, planHash: planHash(plan, { key }), hosts: [] };
  }

  const remotes = await Promise.all(spec.lockHosts.map((h) => context.host(h.name)));
  return withLock(
    remotes,
    {
      environment: context.environment.name,
      owner: { runId: context.request.runId, repository: context.request.repository, command: spec.command },
      logger: context.logger,
    },
    async () => {
      const { plan, gathered } = await planNow();
      let hash: string;
      try {
        hash = verifyReviewedPlan(context.request.expectedPlanHash, plan, { key: context.request.planHashKey });
      } catch (error) {
        // The fresh plan goes into the report with the refusal: it is what the reviewer must see next (and diff).
        if (error instanceof DeployError && error.reason === 'plan-changed') return { plan, planHash: planHash(plan, { key: context.request.planHashKey }), hosts: [], error };
        throw error;
      }
      const apply = await applyPlan(plan, { logger: context.logger, hosts: gathered.remotes, redactor: context.redactor });
      return { plan, planHash: hash, apply, hosts: [] };
    },
  );
}
