/**
 * migrate-storage is made of independent parts (the GlusterFS volume and its
 * client mounts, the file copy, the database copy, the S3 sync), each present
 * only when the inventory asks for it. The command gathers every part's facts,
 * puts every part's changes into one reviewed plan, and applies them in part
 * order under one lock (see reviewed-change.ts).
 */
import type { PlannedChange } from '../../engine/change.js';
import type { HostFacts as PlanHostFacts } from '../../engine/plan.js';
import type { Host } from '../../inventory/index.js';

export interface MigrationPartPlan {
  changes: PlannedChange[];
  warnings: string[];
  /** Rows for the plan's host table (e.g. files and bytes to move). */
  facts?: PlanHostFacts[];
}

export interface MigrationPart<G = unknown> {
  /** e.g. "glusterfs", "files", "database", "s3"; used in logs and errors. */
  name: string;
  /** Every host the part reads or changes: the lock covers them. */
  hosts: readonly Host[];
  /** Read-only: facts from the hosts. Runs again under the lock before apply. */
  gather(): Promise<G>;
  /**
   * Pure: the changes that bring the hosts to the desired state, each with its
   * apply function. A copy's apply must verify what arrived (counts, bytes,
   * checksums) and throw a DeployError naming host and difference when it does not match.
   */
  plan(gathered: G): MigrationPartPlan;
}
