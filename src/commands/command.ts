import type { CommandNeeds, Environment } from '../inventory/index.js';
import type { CommandSpec, RunRequest } from '../request.js';
import type { CommandRunner } from './context.js';
import type { PreflightOutcome } from './preflight/preflight.js';

/**
 * Everything lms-ha knows about one command, in one place: its name and
 * options (checked with the inputs), what it needs from the environment
 * (checked after loading the inventory), whether it may go on without some
 * hosts, and how it runs. src/commands/registry.ts lists them; the fronts, the
 * usage text and action.yml's description follow that list.
 */
export interface CommandDescriptor extends CommandSpec {
  needs: CommandNeeds;
  /**
   * When preflight could not reach some hosts: why the command may go on
   * without them (logged as a warning), or false. Absent: it may not.
   */
  toleratesUnreachable?(request: RunRequest, environment: Environment, outcome: PreflightOutcome): string | false;
  run: CommandRunner;
}
