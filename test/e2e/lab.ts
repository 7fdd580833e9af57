import { randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** What test/lab/lab.sh up leaves in /run/lms-ha-lab/state.json. */
export interface LabHost {
  name: string;
  address: string;
  segment: string;
  namespace: string;
  privateAddress?: string;
}

export interface LabState {
  runnerNamespace: string;
  runnerAddress: string;
  sshKey: string;
  knownHosts: string;
  vip: string;
  sudoUser: string;
  passwordSudoUser: string;
  hosts: LabHost[];
}

export const LAB_STATE_PATH = '/run/lms-ha-lab/state.json';
export const REPO_ROOT = resolve(__dirname, '..', '..');
const LAB_SCRIPT = join(REPO_ROOT, 'test', 'lab', 'lab.sh');
/** The bundle under test: dist/ unless LMS_HA_BUNDLE names another build (scripts/bundle.mjs --out DIR). */
const BUNDLE = process.env.LMS_HA_BUNDLE ?? join(REPO_ROOT, 'dist', 'index.js');

export function readLabState(): LabState {
  if (!existsSync(LAB_STATE_PATH)) {
    throw new Error(`the lab is not up (${LAB_STATE_PATH} missing): run \`npm run lab -- up\` first`);
  }
  return JSON.parse(readFileSync(LAB_STATE_PATH, 'utf8')) as LabState;
}

export function labHost(state: LabState, name: string): LabHost {
  const host = state.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`lab has no host ${name}`);
  return host;
}

/** Runs a command inside a lab host as root (through lab.sh exec), for inducing faults and reading state. */
export function labExec(host: string, command: string, options: { allowFailure?: boolean; input?: string } = {}): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync('bash', [LAB_SCRIPT, 'exec', host, '--', 'sh', '-c', command], {
      encoding: 'utf8',
      input: options.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 300_000,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    if (!options.allowFailure) {
      throw new Error(`lab exec on ${host} failed (${e.status}): ${command}\n${e.stderr ?? ''}`, { cause: error });
    }
    return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `lms-ha-${prefix}-`));
}

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Spawns a process inside the runner namespace, the only place from which the lab is reachable. */
export function runInRunner(state: LabState, argv: string[], env: Record<string, string>, cwd: string): Promise<ProcessResult> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn('ip', ['netns', 'exec', state.runnerNamespace, ...argv], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout, stderr, durationMs: Date.now() - started }));
  });
}

export interface ActionRun extends ProcessResult {
  outputs: Record<string, string>;
  summary: string;
  /** stdout with the workflow commands (::error ...) the runner would turn into annotations. */
  annotations: string[];
}

/**
 * The plan-hash key the plan and the apply of one test file share, as a
 * workflow's plan and deploy jobs share LMS_HA_PLAN_HASH_KEY: generated, fake.
 * Without it every run draws its own key, and a reviewed hash of a plan that
 * sets a secret could never be applied (tests that want exactly that pass
 * their own `plan-hash-key` input or LMS_HA_PLAN_HASH_KEY, even empty).
 */
export const LAB_PLAN_HASH_KEY = randomBytes(24).toString('hex');

/**
 * Runs dist/index.js exactly as the Actions runner does: inputs as INPUT_*
 * variables (hyphens kept), outputs and the job summary through the files
 * named by GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, workspace as cwd.
 */
export async function runAction(state: LabState, inputs: Record<string, string>, options: { workspace: string; env?: Record<string, string> }): Promise<ActionRun> {
  const files = tempDir('gha');
  const outputFile = join(files, 'output');
  const summaryFile = join(files, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: Record<string, string> = {
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: options.workspace,
    GITHUB_RUN_ID: String(Date.now()),
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_REPOSITORY: 'lms-ha/e2e',
    RUNNER_TEMP: files,
    ...options.env,
  };
  if (!('plan-hash-key' in inputs)) env['INPUT_PLAN-HASH-KEY'] = LAB_PLAN_HASH_KEY;
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  const result = await runInRunner(state, [process.execPath, BUNDLE], env, options.workspace);
  return {
    ...result,
    outputs: parseGithubOutput(readFileSync(outputFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
    annotations: result.stdout.split('\n').filter((l) => /^::(error|warning|notice)/.test(l)),
  };
}

/** Runs the CLI front of the same bundle. */
export function runCli(state: LabState, args: string[], options: { workspace: string; env?: Record<string, string> }): Promise<ProcessResult> {
  return runInRunner(state, [process.execPath, BUNDLE, ...args], { LMS_HA_PLAN_HASH_KEY: LAB_PLAN_HASH_KEY, ...options.env }, options.workspace);
}

/** Parses the `name<<DELIMITER ... DELIMITER` records @actions/core writes. */
export function parseGithubOutput(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^<=]+)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i]);
      outputs[name] = value.join('\n');
      continue;
    }
    const simple = /^([^=]+)=(.*)$/.exec(lines[i]);
    if (simple) outputs[simple[1]] = simple[2];
  }
  return outputs;
}
