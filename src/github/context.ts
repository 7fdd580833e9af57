/**
 * What a GitHub Actions run tells the process about itself, as plain data:
 * the run's identity from GITHUB_* variables and the pull request from the
 * event payload, plus the secrets the lms-ha reusable workflows hand over in
 * LMS_HA_SECRETS. Pure functions of `env` (and a file reader), called by the
 * inputs layer; nothing here reads process.env on its own.
 */
import { readFileSync } from 'node:fs';
import { DeployError } from '../errors.js';
import { runUrl } from './markdown.js';

export interface RunContext {
  /** `owner/name`. */
  repository: string;
  serverUrl: string;
  /** REST API base URL (GITHUB_API_URL): https://api.github.com or https://HOST/api/v3. */
  apiUrl: string;
  runId: string;
  runAttempt: number;
  eventName: string;
  /** The commit the run is for (a merge commit on `push` after a merge). */
  sha: string;
  /** The pull request of a pull_request(_target) or PR-comment event. */
  pullRequest?: number;
  /**
   * Why this pull request's token cannot write (a fork's head, or Dependabot):
   * GitHub gives such runs a read-only token and no secrets. Undefined otherwise.
   */
  readOnlyBecause?: string;
  /** Link to this run, for comments and issues. */
  runUrl: string;
}

/**
 * Reads the run context. Undefined outside GitHub Actions (no GITHUB_RUN_ID or
 * GITHUB_REPOSITORY): the CLI then simply has no PR comment or health issue.
 */
export function runContextFrom(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): RunContext | undefined {
  const repository = env['GITHUB_REPOSITORY'];
  const runId = env['GITHUB_RUN_ID'];
  if (!repository || !runId) return undefined;
  const serverUrl = env['GITHUB_SERVER_URL'] || 'https://github.com';
  const runAttempt = Number(env['GITHUB_RUN_ATTEMPT'] ?? '1') || 1;
  const eventName = env['GITHUB_EVENT_NAME'] ?? '';
  const payload = eventPayload(env['GITHUB_EVENT_PATH'], readFile);
  const pullRequest = pullRequestOf(eventName, payload);
  const readOnlyBecause = readOnlyReason(eventName, payload, repository, env['GITHUB_ACTOR'] ?? '');
  return {
    repository,
    serverUrl,
    apiUrl: env['GITHUB_API_URL'] || 'https://api.github.com',
    runId,
    runAttempt,
    eventName,
    sha: env['GITHUB_SHA'] ?? '',
    ...(pullRequest === undefined ? {} : { pullRequest }),
    ...(readOnlyBecause === undefined ? {} : { readOnlyBecause }),
    runUrl: runUrl(serverUrl, repository, runId, runAttempt),
  };
}

// The event payload is the runner's JSON, read field by field with typeof checks at each use.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EventPayload = Record<string, any>;

function eventPayload(eventPath: string | undefined, readFile: (path: string) => string): EventPayload {
  if (!eventPath) return {};
  try {
    const payload: unknown = JSON.parse(readFile(eventPath));
    return payload !== null && typeof payload === 'object' ? (payload as EventPayload) : {};
  } catch {
    return {};
  }
}

/** `pull_request` runs from a fork or opened by Dependabot get a read-only token (pull_request_target does not). */
function readOnlyReason(eventName: string, payload: EventPayload, repository: string, actor: string): string | undefined {
  if (eventName !== 'pull_request' && eventName !== 'pull_request_review' && eventName !== 'pull_request_review_comment') return undefined;
  const pr = payload['pull_request'];
  if (!pr) return undefined;
  const head = pr['head']?.['repo']?.['full_name'];
  if (typeof head === 'string' && head.toLowerCase() !== repository.toLowerCase()) return `the pull request comes from the fork ${head}`;
  const author = pr['user']?.['login'];
  if (actor === 'dependabot[bot]' || author === 'dependabot[bot]') return 'the pull request was opened by Dependabot';
  return undefined;
}

function pullRequestOf(eventName: string, payload: EventPayload): number | undefined {
  // In a reusable workflow the event is the caller's, so these names still apply.
  if (eventName.startsWith('pull_request') && typeof payload['pull_request']?.['number'] === 'number') {
    return payload['pull_request']['number'] as number;
  }
  if (eventName === 'issue_comment' && payload['issue']?.['pull_request'] && typeof payload['issue']['number'] === 'number') {
    return payload['issue']['number'] as number;
  }
  return undefined;
}

/** The environment variable the lms-ha reusable workflows put the secrets in. */
export const WORKFLOW_SECRETS_VAR = 'LMS_HA_SECRETS';

/**
 * The secrets a reusable workflow passed as one JSON object (NAME -> value):
 * either the caller's explicit LMS_HA_INVENTORY_SECRETS or `toJSON(secrets)`.
 * Merge it under the process environment so an explicit `env:` wins:
 * `{ ...workflowSecrets(env), ...env }`. Non-string values are ignored.
 *
 * A malformed value is refused without quoting it: it is made of secrets.
 */
export function workflowSecrets(env: Record<string, string | undefined>): Record<string, string> {
  const raw = env[WORKFLOW_SECRETS_VAR];
  if (raw === undefined || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DeployError('invalid-input', `${WORKFLOW_SECRETS_VAR} is not a JSON object (its content is not shown: it holds secrets).`, {
      hint:
        'Pass LMS_HA_INVENTORY_SECRETS as {"NAME": ${{ toJSON(secrets.NAME) }}, ...}: toJSON quotes and escapes each value. ' +
        'Or leave it out and call the workflow with `secrets: inherit`.',
    });
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}
