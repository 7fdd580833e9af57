/**
 * The one list of commands. The fronts read requests against it (names,
 * options), run.ts runs from it (needs, unreachable hosts, run), the CLI's
 * usage text is written from it, and a unit test holds action.yml's
 * description of `command` and `options` to it. Adding a command is its own
 * file or folder plus one line here.
 */
import { DeployError } from '../errors.js';
import type { CommandSpec } from '../request.js';
import type { CommandDescriptor } from './command.js';
import { deployDbCommand } from './deploy-db/deploy-db.js';
import { deployLbCommand } from './deploy-lb/deploy-lb.js';
import { migrateStorageCommand } from './migrate-storage/migrate-storage.js';
import { preflightCommand } from './preflight/preflight.js';
import { recoverCommand } from './recover/recover.js';
import { unlockCommand } from './unlock.js';
import { verifyHaCommand } from './verify-ha/verify-ha.js';

/** A command that is named but not built yet: asking for it says so and changes nothing. */
interface PlannedCommand extends CommandSpec {
  planned: true;
}

/** In the order the usage text and the README list them. */
export const COMMANDS: readonly (CommandDescriptor | PlannedCommand)[] = [
  preflightCommand,
  { name: 'provision', summary: '/etc/hosts, package sources, firewall, time sync (not built yet)', options: [], planned: true },
  deployDbCommand,
  recoverCommand,
  deployLbCommand,
  migrateStorageCommand,
  verifyHaCommand,
  unlockCommand,
];

/** The commands this version runs (the others are named but refused as not built). */
export function builtCommands(): string[] {
  return COMMANDS.filter((c) => !('planned' in c)).map((c) => c.name);
}

/** The command to run, or the refusal for a planned one (before anything is read or contacted). */
export function commandToRun(name: string): CommandDescriptor {
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined || 'planned' in command) {
    const built = builtCommands();
    const planned = COMMANDS.filter((c) => 'planned' in c).map((c) => c.name);
    throw new DeployError('invalid-input', `command ${name} is not available in this version of lms-ha`, {
      hint: `Available now: ${built.join(', ')}.${planned.length > 0 ? ` Not built yet: ${planned.join(', ')}; see the README.` : ''}`,
    });
  }
  return command;
}
