/** Directories lms-ha owns: root 0755. */
import { changeId, type PlannedChange } from '../engine/change.js';
import { shellQuote } from '../ssh/quote.js';

/** A directory as the host has it (the directories fact); null when absent. */
export interface ExistingDirectory {
  mode: number;
  owner: string;
  group: string;
}

/**
 * A change when `path` is absent or not root 0755, else null. `onlyIfAbsent`
 * leaves an existing directory as it is (one a package owns, with its own mode).
 */
export function directoryChange(
  host: string,
  path: string,
  have: ExistingDirectory | null | undefined,
  why: string,
  options: { onlyIfAbsent?: boolean } = {},
): PlannedChange | null {
  const after = { mode: 0o755, owner: 'root', group: 'root' };
  if (have && (options.onlyIfAbsent || (have.mode === after.mode && have.owner === after.owner && have.group === after.group))) return null;
  return {
    kind: 'directory',
    id: changeId('directory', host, path),
    host,
    summary: `${have ? 'fix owner/mode of' : 'create'} ${path} (${why})`,
    path,
    before: have ?? null,
    after,
    apply: async (ctx) => {
      await ctx.host.run(`install -d -m 0755 -o root -g root ${shellQuote(path)}`, { purpose: `create ${path}` });
    },
  };
}
