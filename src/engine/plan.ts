/**
 * A plan: the exact changes a command would make, computed from facts gathered
 * first (pyinfra), rendered for review and hashed so that apply can prove it runs
 * what was reviewed (dflook's terraform-apply).
 *
 * The hash covers only what the plan would DO: command, environment and the
 * changes in apply order. Facts, warnings and run metadata are shown but not
 * hashed, because they differ between two runs that would do the same thing
 * (free disk space, uptime, runner name), and hashing them is how "plan has
 * changed" false positives happen (dflook/terraform-github-actions#62, #64).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from 'diff';

import { DeployError } from '../errors.js';
import type { CommandName } from '../request.js';
import { cell, code, fence, table } from '../report/markdown.js';
import {
  changeAction,
  changeTarget,
  CHANGE_KINDS,
  changeData,
  formatMode,
  type Change,
  type ChangeKind,
  type FileChange,
  type FileState,
  type PlannedChange,
} from './change.js';
import type { Redactor } from './redact.js';

/** What the plan knows about one host, for the per-host table. */
export interface HostFacts {
  name: string;
  address?: string;
  roles: string[];
  /** A few short facts worth showing, e.g. `{ os: 'Debian 12', mariadb: '10.11.6' }`. */
  facts: Record<string, string>;
}

/** Differs between runs and machines; shown, never hashed. */
export interface PlanMeta {
  generatedAt?: string;
  runner?: string;
  version?: string;
}

export interface Plan {
  command: CommandName;
  environment: string;
  /** In apply order. */
  changes: PlannedChange[];
  warnings: string[];
  /** Sorted by name. */
  hosts: HostFacts[];
  meta?: PlanMeta;
}

export interface PlanInput {
  command: CommandName;
  environment: string;
  changes: PlannedChange[];
  warnings?: string[];
  hosts?: HostFacts[];
  meta?: PlanMeta;
}

/**
 * Builds a plan and checks what would make it ambiguous: two changes with the
 * same id, or a change for a host the plan does not list.
 */
export function createPlan(input: PlanInput): Plan {
  const seen = new Set<string>();
  for (const change of input.changes) {
    if (!(CHANGE_KINDS as readonly string[]).includes(change.kind)) {
      throw new DeployError('internal', `Change ${change.id} has an unknown kind "${String(change.kind)}".`);
    }
    if (seen.has(change.id)) {
      throw new DeployError('internal', `Two changes in the plan have the same id "${change.id}".`, {
        host: change.host,
        hint: 'This is a bug in lms-ha: change ids must be unique; please report it with the job log.',
      });
    }
    seen.add(change.id);
  }
  const hosts = new Map<string, HostFacts>();
  for (const h of input.hosts ?? []) {
    hosts.set(h.name, { ...h, roles: [...h.roles].sort(), facts: { ...h.facts } });
  }
  if (input.hosts && input.hosts.length > 0) {
    for (const change of input.changes) {
      if (!hosts.has(change.host)) {
        throw new DeployError('internal', `Change ${change.id} is for host "${change.host}", which is not in the plan's hosts.`, {
          host: change.host,
        });
      }
    }
  } else {
    for (const change of input.changes) {
      if (!hosts.has(change.host)) hosts.set(change.host, { name: change.host, roles: [], facts: {} });
    }
  }
  return {
    command: input.command,
    environment: input.environment,
    changes: [...input.changes],
    warnings: [...(input.warnings ?? [])],
    hosts: [...hosts.values()].sort((a, b) => compare(a.name, b.name)),
    meta: input.meta ? { ...input.meta } : undefined,
  };
}

// ---------------------------------------------------------------------------
// Normalization and hash

export const PLAN_HASH_VERSION = 'lms-ha/plan/v1';

/**
 * The key every secret-bearing part of a plan hash is keyed with. The hash is
 * published (PR comment, outputs); keyed with a secret that only the plan and
 * the apply job hold (the `plan-hash-key` input, `LMS_HA_PLAN_HASH_KEY` for the
 * CLI), a published hash cannot be used to test guesses of a password offline.
 *
 * Without a configured key, a random key is drawn for the run (`shared: false`):
 * a plan whose hash has secret-bearing content then has a hash nobody can
 * recompute, which is safe but cannot be applied after review (apply refuses
 * with a message saying to set the key). Plans without secret content hash the
 * same with any key, so they stay reproducible either way.
 */
export interface PlanHashKey {
  readonly key: Buffer;
  /** True when the key came from the operator (the same at plan and apply); false for a per-run random key. */
  readonly shared: boolean;
}

/** Shortest accepted `plan-hash-key`: 128 bits as hex. */
export const MIN_PLAN_HASH_KEY_LENGTH = 32;

/** The run's key: the operator's when given (checked by the fronts), else random for this run only. */
export function planHashKeyFrom(configured: string | undefined): PlanHashKey {
  if (configured) return { key: createHash('sha256').update(`lms-ha/plan-hash-key/v1\0${configured}`).digest(), shared: true };
  return { key: randomBytes(32), shared: false };
}

/** Keyed digest of secret values that decide a change (e.g. a password to set): the same key as the plan hash. */
export function secretFingerprint(key: PlanHashKey, values: readonly string[]): string {
  return createHmac('sha256', key.key).update(`lms-ha/secret/v1\0${values.join('\0')}`).digest('hex');
}

export interface PlanHashOptions {
  /** Required when the plan has secret-bearing content (sensitive files, fingerprints). */
  key?: PlanHashKey;
}

/** True when the plan's hash depends on secret values (and so on the key). */
export function planHasSecretContent(plan: Plan): boolean {
  return plan.changes.some((c) => {
    const data = changeData(c);
    return (data.kind === 'file' && data.sensitive) || data.fingerprint !== undefined;
  });
}

/**
 * The plan as hashed: canonical key order, no functions, no facts, no warnings,
 * no metadata, file contents reduced to digests (sensitive ones keyed).
 * Change order is kept: it is the apply order and it matters.
 */
export function normalizePlan(plan: Plan, options: PlanHashOptions = {}): unknown {
  const key = options.key;
  if (!key && planHasSecretContent(plan)) {
    throw new DeployError('internal', 'internal error: a plan with secret content was hashed without the plan hash key', {
      hint: 'This is a bug in lms-ha: every command must hash its plan with the run\'s plan hash key.',
    });
  }
  return canonicalize({
    version: PLAN_HASH_VERSION,
    command: plan.command,
    environment: plan.environment,
    changes: plan.changes.map((c) => normalizeChange(changeData(c), key)),
  });
}

/** Hex sha256 over the normalized plan. The same plan and key give the same hash on any machine. */
export function planHash(plan: Plan, options: PlanHashOptions = {}): string {
  return sha256(stableStringify(normalizePlan(plan, options)));
}

function normalizeChange(change: Change, key: PlanHashKey | undefined): unknown {
  if (change.kind !== 'file') return change;
  const state = (s: FileState | null): unknown => {
    if (s === null) return null;
    const { content, sha256: given, ...meta } = s;
    const digest = content !== undefined ? sha256(content) : given;
    if (change.sensitive) {
      // Keyed, so the published hash is no oracle for the secret content.
      return { ...meta, hmac: digest === undefined ? undefined : createHmac('sha256', key!.key).update(digest).digest('hex') };
    }
    // A content and a bare sha256 of the same bytes normalize the same.
    return { ...meta, sha256: digest };
  };
  return { ...change, before: state(change.before), after: state(change.after) };
}

/** Sorted keys, undefined and functions dropped, Sets sorted, Maps as sorted objects, Buffers as digests. */
export function canonicalize(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DeployError('internal', `Cannot hash the number ${value}.`);
    return Object.is(value, -0) ? 0 : value;
  }
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (Buffer.isBuffer(value)) return { sha256: sha256(value) };
  if (Array.isArray(value)) return value.map((v) => canonicalize(v) ?? null);
  if (value instanceof Set) {
    const items = [...value].map((v) => canonicalize(v));
    return items.sort((a, b) => compare(stableStringify(a), stableStringify(b)));
  }
  if (value instanceof Map) {
    return canonicalize(Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), v])));
  }
  if (value instanceof Date) {
    throw new DeployError('internal', 'A plan must not contain timestamps: they would change its hash on every run.');
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value as object).sort(compare)) {
    const v = canonicalize((value as Record<string, unknown>)[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** JSON with keys in code-point order at every level. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(canonicalize(value));
}

/** Code-point order, the same in every locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
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

/** The JSON shape of a plan (version 1). File contents never appear; diffs do, unless sensitive. */
export function planToJson(plan: Plan, options: RenderOptions): Record<string, unknown> {
  const changes = plan.changes.map((c, i) => {
    const { fingerprint: _fingerprint, ...data } = changeData(c);
    const base = { index: i + 1, action: changeAction(data), target: changeTarget(data) };
    if (data.kind !== 'file') return { ...data, ...base };
    const d = fileDiff(data, options);
    const state = (s: FileState | null) =>
      s === null
        ? { exists: false }
        : {
            exists: true,
            mode: formatMode(s.mode),
            owner: s.owner,
            group: s.group,
            // A digest of secret content would let anyone test guesses against it.
            sha256: data.sensitive ? undefined : s.content !== undefined ? sha256(s.content) : s.sha256,
          };
    return {
      ...data,
      ...base,
      before: state(data.before),
      after: state(data.after),
      added: d.added,
      removed: d.removed,
      metadata: d.metadata,
      diff: d.diff,
      note: d.note,
    };
  });
  const json = {
    version: 1,
    command: plan.command,
    environment: plan.environment,
    planHash: options.planHash,
    changeCount: plan.changes.length,
    hosts: plan.hosts.map((h) => ({ ...h, changes: plan.changes.filter((c) => c.host === h.name).length })),
    warnings: plan.warnings,
    changes,
    meta: plan.meta,
  };
  // Round-trip drops undefined fields; redact strings before serializing so a
  // secret containing JSON syntax cannot break the document.
  return options.redactor.redactDeep(JSON.parse(JSON.stringify(json)) as Record<string, unknown>);
}

export function renderPlanJson(plan: Plan, options: RenderOptions): string {
  return JSON.stringify(planToJson(plan, options), null, 2) + '\n';
}
