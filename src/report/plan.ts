/**
 * A plan rendered for review: file diffs, and the markdown of the job summary
 * and the pull-request comment. The plan itself, and its hash, are the
 * engine's (src/engine/plan.ts); this only shows it.
 */
import { createHash } from 'node:crypto';
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from 'diff';

import { CHANGE_KINDS, changeAction, changeData, changeTarget, formatMode, type Change, type ChangeKind, type FileChange, type FileState } from '../engine/change.js';
import type { Plan } from '../engine/plan.js';
import type { Redactor } from '../engine/redact.js';
import { cell, code, fence, table } from './markdown.js';

function sha256(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Code-point order, the same in every locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------
// File diffs

export interface FileDiff {
  /** Unified diff, absent when the content is unknown, unchanged or sensitive. */
  diff?: string;
  added: number;
  removed: number;
  /** Mode/owner/group changes, e.g. `mode 0644 → 0640`. */
  metadata: string[];
  /** Why there is no diff, when there is none. */
  note?: string;
}

export interface DiffOptions {
  /** Longer diffs are cut with a note. Default 400 lines. */
  maxLines?: number;
}

export function fileDiff(change: FileChange, options: DiffOptions = {}): FileDiff {
  const maxLines = options.maxLines ?? 400;
  const before = change.before;
  const after = change.after;
  const metadata: string[] = [];
  for (const field of ['mode', 'owner', 'group'] as const) {
    const from = field === 'mode' ? formatMode(before?.mode) : before?.[field];
    const to = field === 'mode' ? formatMode(after?.mode) : after?.[field];
    if (after !== null && to !== undefined && from !== to) metadata.push(`${field} ${from ?? '(none)'} → ${to}`);
  }

  const beforeText = before === null ? '' : before.content;
  const afterText = after === null ? '' : after.content;
  if (beforeText === undefined || afterText === undefined) {
    const short = (s: FileState | null) => (s === null ? 'absent' : s.sha256 ? `sha256 ${s.sha256.slice(0, 12)}` : 'unknown');
    const same = before?.sha256 !== undefined && before.sha256 === after?.sha256;
    return {
      added: 0,
      removed: 0,
      metadata,
      note: same
        ? undefined
        : change.sensitive
          ? 'content changes (sensitive: not shown)'
          : `content not read; ${short(before)} → ${short(after)}`,
    };
  }
  if (beforeText === afterText) return { added: 0, removed: 0, metadata };

  const size = Buffer.byteLength(beforeText) + Buffer.byteLength(afterText);
  // Myers' diff costs (lines x edits): a rewritten large file must not stall a plan.
  const patch =
    size > MAX_DIFF_INPUT_BYTES
      ? undefined
      : structuredPatch(
          before === null ? '/dev/null' : `a${change.path}`,
          after === null ? '/dev/null' : `b${change.path}`,
          beforeText,
          afterText,
          undefined,
          undefined,
          { context: 3, maxEditLength: MAX_DIFF_EDITS },
        );
  if (patch === undefined) {
    const digest = (text: string) => sha256(text).slice(0, 12);
    return {
      added: 0,
      removed: 0,
      metadata,
      note: change.sensitive
        ? 'content changes (sensitive: not shown)'
        : `content changes too much to show a diff; sha256 ${before === null ? 'absent' : digest(beforeText)} → ${after === null ? 'absent' : digest(afterText)}`,
    };
  }
  let added = 0;
  let removed = 0;
  for (const hunk of patch.hunks) {
    for (const line of hunk.lines) {
      if (line.startsWith('+')) added++;
      else if (line.startsWith('-')) removed++;
    }
  }
  if (change.sensitive) {
    return { added, removed, metadata, note: `content changes, +${added} −${removed} lines (sensitive: diff not shown)` };
  }

  const lines = formatPatch(patch, FILE_HEADERS_ONLY).replace(/\n$/, '').split('\n');
  let diff = lines.join('\n');
  if (lines.length > maxLines) {
    diff = [...lines.slice(0, maxLines), `... ${lines.length - maxLines} more diff lines not shown`].join('\n');
  }
  return { diff, added, removed, metadata };
}

/** Files larger than this (before + after) are not diffed. */
const MAX_DIFF_INPUT_BYTES = 4 * 1024 * 1024;
/** Diffs needing more line edits than this are not computed. */
const MAX_DIFF_EDITS = 2000;

// ---------------------------------------------------------------------------
// Rendering

export interface RenderOptions extends DiffOptions {
  /** Applied to everything rendered. Required: a rendering without it could leak. */
  redactor: Redactor;
  /** Printed in the header when given (compute it once with `planHash`). */
  planHash?: string;
  /** Heading level of the title; default 3 (`###`). */
  headingLevel?: number;
  /** Include the per-host table (the job summary has its own); default true. */
  hostTable?: boolean;
}

/** Per-host change counts, for tables. */
export function changesByHost(plan: Plan): Map<string, Change[]> {
  const byHost = new Map<string, Change[]>();
  for (const h of plan.hosts) byHost.set(h.name, []);
  for (const c of plan.changes) {
    const list = byHost.get(c.host) ?? [];
    list.push(c);
    byHost.set(c.host, list);
  }
  return byHost;
}

export function kindCounts(changes: Change[]): string {
  if (changes.length === 0) return 'no changes';
  const counts = new Map<ChangeKind, number>();
  for (const c of changes) counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1);
  return CHANGE_KINDS.filter((k) => counts.has(k))
    .map((k) => plural(counts.get(k)!, KIND_LABELS[k]))
    .join(', ');
}

const KIND_LABELS: Record<ChangeKind, string> = {
  file: 'file',
  package: 'package',
  service: 'service',
  sql: 'SQL object',
  cluster: 'cluster step',
  user: 'system user',
  directory: 'directory',
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatFacts(facts: Record<string, string>): string {
  return Object.keys(facts)
    .sort(compare)
    .map((k) => `${k}: ${facts[k]}`)
    .join(' · ');
}

/**
 * The plan as markdown: the per-host table first (what a reviewer scans), then
 * every change in apply order, then the details (diffs last, they are long).
 */
export function renderPlanMarkdown(plan: Plan, options: RenderOptions): string {
  const h = '#'.repeat(options.headingLevel ?? 3);
  const out: string[] = [];
  const byHost = changesByHost(plan);
  const changingHosts = [...byHost.values()].filter((l) => l.length > 0).length;

  out.push(`${h} Plan: ${code(plan.command)} on ${code(plan.environment)}`, '');
  const headline =
    plan.changes.length === 0
      ? '**No changes.** The hosts already match the desired state.'
      : `**${plural(plan.changes.length, 'change')}** on ${plural(changingHosts, 'host')}.`;
  out.push(options.planHash ? `${headline} Plan hash ${code(options.planHash)}.` : headline, '');

  if (options.hostTable !== false) {
    const rows = [...byHost.entries()].map(([name, changes]) => {
      const facts = plan.hosts.find((x) => x.name === name);
      return [
        cell(name),
        cell(facts?.roles.join(', ')),
        String(changes.length),
        cell(changes.length === 0 ? '' : kindCounts(changes)),
        cell(facts ? formatFacts(facts.facts) : ''),
      ];
    });
    out.push(table(['host', 'roles', 'changes', 'kinds', 'facts'], rows), '');
  }

  if (plan.warnings.length > 0) {
    out.push('> [!WARNING]');
    for (const w of plan.warnings) out.push(`> ${w.replace(/\r?\n/g, ' ')}`);
    out.push('');
  }

  if (plan.changes.length > 0) {
    out.push(`${h}# Changes, in apply order`, '');
    out.push(
      table(
        ['#', 'host', 'kind', 'action', 'target', 'summary'],
        plan.changes.map((c, i) => [
          String(i + 1),
          cell(c.host),
          c.kind,
          cell(changeAction(c)),
          cell(changeTarget(c)),
          cell(c.summary),
        ]),
      ),
      '',
    );

    const details = plan.changes.map((c, i) => renderDetails(changeData(c), i + 1, options)).filter((d) => d !== null);
    if (details.length > 0) {
      out.push(`${h}# Details`, '');
      out.push(...details);
    }
  }
  return options.redactor.redact(out.join('\n').replace(/\n+$/, '') + '\n');
}

function renderDetails(change: Change, n: number, options: DiffOptions): string | null {
  const title = `${n}. ${change.host}: ${changeAction(change)} ${changeTarget(change)}`;
  const body: string[] = [];
  switch (change.kind) {
    case 'file': {
      const d = fileDiff(change, options);
      if (d.metadata.length > 0) body.push(d.metadata.join(', '), '');
      if (d.note) body.push(`_${d.note}_`, '');
      if (d.diff) body.push(fence(d.diff, 'diff'), '');
      break;
    }
    case 'package':
      body.push(`${change.from ?? '(not installed)'} → ${change.to}`, '');
      break;
    case 'sql':
      body.push(`${change.action} ${change.object} ${code(change.name)} (${change.scope} scope): ${change.detail}`, '');
      break;
    case 'cluster':
    case 'user':
      body.push(change.detail, '');
      break;
    case 'directory':
    case 'service':
      return null;
  }
  if (body.length === 0) return null;
  return [`<details><summary>${escapeHtml(title)}</summary>`, '', ...body, '</details>', ''].join('\n');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
