/**
 * Files: the planned change that writes a file when the host's copy differs
 * (content digest, mode, owner, group), and the checked apply that has the
 * tool reading the file validate it before it replaces the live one.
 */
import { createHash } from 'node:crypto';
import { DeployError } from '../errors.js';
import { changeId, type PlannedChange } from '../engine/change.js';

/** A file as lms-ha wants it on a host. */
export interface WantedFile {
  path: string;
  content: string;
  mode: number;
  owner: string;
  group: string;
}

/** A file as the host has it (the files fact): digest and metadata, content only when it was read. */
export interface ExistingFile {
  sha256: string;
  mode: number;
  owner: string;
  group: string;
  content?: string;
}

export const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

export function fileMatches(want: WantedFile, have: ExistingFile | null | undefined): boolean {
  return !!have && have.sha256 === sha256(want.content) && have.mode === want.mode && have.owner === want.owner && have.group === want.group;
}

/** A file change when the host differs, else null. Sensitive files carry digests, never content. */
export function fileChange(
  host: string,
  want: WantedFile,
  have: ExistingFile | null | undefined,
  options: { sensitive?: boolean; why?: string; apply?: PlannedChange['apply'] } = {},
): PlannedChange | null {
  if (fileMatches(want, have)) return null;
  const sensitive = options.sensitive ?? false;
  const meta = { mode: want.mode, owner: want.owner, group: want.group };
  return {
    kind: 'file',
    id: changeId('file', host, want.path),
    host,
    summary: `${have ? 'update' : 'write'} ${want.path}${options.why ? ` (${options.why})` : ''}`,
    path: want.path,
    before: have
      ? sensitive || have.content === undefined
        ? { sha256: have.sha256, mode: have.mode, owner: have.owner, group: have.group }
        : { content: have.content, mode: have.mode, owner: have.owner, group: have.group }
      : null,
    after: sensitive ? { sha256: sha256(want.content), ...meta } : { content: want.content, ...meta },
    sensitive,
    apply:
      options.apply ??
      (async (ctx) => {
        await ctx.host.writeFile(want.path, want.content, meta);
      }),
  };
}

/**
 * Writes `want` next to the live file, has the tool that reads it check it, and
 * only then renames it onto the live file (one rename: the live file is always
 * either the old or the new checked bytes). A rejected candidate is removed
 * and the live file is left as it was.
 */
export function checkedFileApply(want: WantedFile, candidate: string, check: string, tool: string, what: string): PlannedChange['apply'] {
  return async (ctx) => {
    await ctx.host.writeFile(candidate, want.content, { mode: want.mode, owner: want.owner, group: want.group });
    const r = await ctx.host.run(check, { purpose: `check ${what}`, allowFailure: true, timeoutMs: 60_000 });
    if (r.code !== 0) {
      await ctx.host.run(`rm -f -- ${candidate}`, { purpose: `remove the rejected ${what}`, allowFailure: true });
      throw new DeployError('apply-failed', `${tool} rejected ${what} on ${ctx.host.name}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`, {
        host: ctx.host.name,
        hint: `The live ${want.path} was left as it was. This is a bug in lms-ha or a ${tool.split(' ')[0]} version it does not know; please report it with this message.`,
      });
    }
    await ctx.host.run(`mv -f -- ${candidate} ${want.path}`, { purpose: `install the checked ${want.path}` });
  };
}
