import * as core from '@actions/core';
import { parseRequest, type RunRequest } from './request.js';

/**
 * The only place the action reads its inputs. Secret inputs are masked the
 * moment they are read, before anything else can log them.
 */
export function readActionInputs(env: NodeJS.ProcessEnv = process.env): RunRequest {
  const key = core.getInput('ssh-private-key');
  maskMultiline(key);
  const passphrase = core.getInput('ssh-private-key-passphrase');
  if (passphrase) core.setSecret(passphrase);
  const token = core.getInput('github-token');
  if (token) core.setSecret(token);
  const planHashKey = core.getInput('plan-hash-key');
  if (planHashKey) core.setSecret(planHashKey);
  return parseRequest({
    command: core.getInput('command'),
    mode: core.getInput('mode') || 'plan',
    inventoryPath: core.getInput('inventory') || 'ha.yml',
    environment: core.getInput('environment'),
    privateKey: key ? Buffer.from(normalizeKey(key)) : undefined,
    privateKeyPassphrase: passphrase,
    knownHosts: core.getInput('known-hosts'),
    insecureSkipHostKeyCheck: core.getInput('insecure-skip-host-key-check'),
    parallelism: core.getInput('parallelism') || '20',
    expectedPlanHash: core.getInput('plan-hash'),
    planHashKey,
    breakLock: core.getInput('break-lock'),
    options: core.getInput('options'),
    runId: `${env.GITHUB_RUN_ID ?? 'local'}.${env.GITHUB_RUN_ATTEMPT ?? '1'}`,
    repository: env.GITHUB_REPOSITORY ?? 'unknown',
    env,
    fieldName: (field) => `input "${field}"`,
  });
}

export interface GitHubInputs {
  token: string;
  comment: boolean;
  issue: boolean;
}

export function readGitHubInputs(): GitHubInputs {
  return {
    token: core.getInput('github-token'),
    comment: core.getInput('comment') === 'true',
    issue: core.getInput('issue') === 'true',
  };
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
