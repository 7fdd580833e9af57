/** System users: created once, never changed or removed by lms-ha. */
import { changeId, type PlannedChange } from '../engine/change.js';
import { shellQuote } from '../ssh/quote.js';

/** Creates `name` if absent: a system user with its own group, no home, no login shell. */
export function createSystemUserCommand(name: string): string {
  const n = shellQuote(name);
  return `getent passwd ${n} >/dev/null || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${n}`;
}

export function userChange(host: string, name: string, detail: string): PlannedChange {
  return {
    kind: 'user',
    id: changeId('user', host, name),
    host,
    summary: `create system user ${name}`,
    name,
    action: 'create',
    detail,
    apply: async (ctx) => {
      await ctx.host.run(createSystemUserCommand(name), { purpose: `create the system user ${name}` });
    },
  };
}
