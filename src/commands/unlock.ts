import { breakLock } from '../engine/lock.js';
import type { CommandDescriptor } from './command.js';
import { lockedHosts } from './context.js';

/** Removes a lock left on the hosts by a run that died, naming who held it. */
export const unlockCommand: CommandDescriptor = {
  name: 'unlock',
  summary: 'removes a lock left on the hosts by a run that died (logs who held it)',
  options: [],
  needs: { roles: [], sections: [] },
  run: async (context) => {
    const hosts = await lockedHosts(context);
    const holders = await breakLock(hosts, { environment: context.environment.name, logger: context.logger });
    context.logger.info(holders.length === 0 ? 'no lock was held' : `removed ${holders.length} lock(s)`);
    return { checks: context.preflightChecks };
  },
};
