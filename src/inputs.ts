import * as core from '@actions/core';
import { ACTION_INPUTS, type ActionInputName } from './action-inputs.js';
import { COMMANDS } from './commands/registry.js';
import { parseRequest, type RunRequest } from './request.js';

/**
 * An input as the runner passes it, or the table's default when it is empty
 * (a caller that passes '' from an unset workflow input means "default").
 * Defaults that are expressions (`${{ github.token }}`) are the runner's to fill.
 */
export function actionInput(name: ActionInputName): string {
  const value = core.getInput(name);
  if (value !== '') return value;
  const spec = ACTION_INPUTS.find((i) => i.name === name)!;
  const fallback = 'default' in spec ? spec.default : '';
  return fallback.startsWith('${{') ? '' : fallback;
}

/**
 * The only place the action reads its inputs. Secret inputs are masked the
 * moment they are read, before anything else can log them.
 */
export function readActionInputs(env: NodeJS.ProcessEnv = process.env): RunRequest {
  const key = actionInput('ssh-private-key');
  maskMultiline(key);
  const passphrase = actionInput('ssh-private-key-passphrase');
  if (passphrase) core.setSecret(passphrase);
  const planHashKey = actionInput('plan-hash-key');
  if (planHashKey) core.setSecret(planHashKey);
  return parseRequest({
    command: actionInput('command'),
    mode: actionInput('mode'),
    inventoryPath: actionInput('inventory'),
    environment: actionInput('environment'),
    privateKey: key ? Buffer.from(normalizeKey(key)) : undefined,
    privateKeyPassphrase: passphrase,
    knownHosts: actionInput('known-hosts'),
    insecureSkipHostKeyCheck: actionInput('insecure-skip-host-key-check'),
    parallelism: actionInput('parallelism'),
    sshAccount: actionInput('ssh-account'),
    expectedPlanHash: actionInput('plan-hash'),
    planHashKey,
    breakLock: actionInput('break-lock'),
    options: actionInput('options'),
    runId: `${env.GITHUB_RUN_ID ?? 'local'}.${env.GITHUB_RUN_ATTEMPT ?? '1'}`,
    repository: env.GITHUB_REPOSITORY ?? 'unknown',
    env,
    fieldName: (field) => `input "${field}"`,
  }, COMMANDS);
}

export interface GitHubInputs {
  token: string;
  comment: boolean;
  requireReviewedPlan: boolean;
  issue: boolean;
}

/** The inputs of the GitHub side of a run (comment, review gate, health issue). */
export function readGitHubInputs(): GitHubInputs {
  const token = actionInput('github-token');
  if (token) core.setSecret(token);
  return {
    token,
    comment: isTrue(actionInput('comment')),
    requireReviewedPlan: !isFalse(actionInput('require-reviewed-plan')),
    issue: isTrue(actionInput('issue')),
  };
}

function isTrue(value: string): boolean {
  return value.trim().toLowerCase() === 'true';
}

// Fails closed: only an explicit false turns the review gate off.
function isFalse(value: string): boolean {
  return value.trim().toLowerCase() === 'false';
}

/** The command input as given, for a report about a run whose inputs were refused. */
export function rawCommandInput(): string {
  return core.getInput('command');
}

// The runner masks line by line; a multi-line key must be registered per line
// or its middle lines could still show up in a log.
function maskMultiline(value: string): void {
  if (!value) return;
  core.setSecret(value);
  for (const line of value.split(/\r?\n/)) if (line.trim().length > 8) core.setSecret(line.trim());
}

// Secrets pasted through the UI often lose the trailing newline or gain CRLF;
// ssh2's key parser is strict about both.
function normalizeKey(key: string): string {
  const unix = key.replace(/\r\n/g, '\n').trim();
  return `${unix}\n`;
}
