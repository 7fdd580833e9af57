/**
 * The built bundle (dist/index.js) run as the Actions runner runs it: inputs as
 * INPUT_* variables, the event payload in GITHUB_EVENT_PATH, outputs and the
 * job summary through GITHUB_OUTPUT / GITHUB_STEP_SUMMARY, and GITHUB_API_URL
 * pointing at the local stand-in for the GitHub API. The bundle runs inside a
 * network namespace with only loopback up (test/unit/hardening/no-route.ts):
 * the "hosts" are 10.255.x addresses on that loopback, where a listener records
 * every connection attempt and hangs up, so "nothing was contacted" is
 * observed, not assumed (loopback host addresses are refused by the inventory,
 * as they would be in production). The stand-in is reached from inside the
 * namespace through a forwarder over a unix socket, which no namespace divides.
 * The lab e2e (test/e2e/github.test.ts) runs the same bundle against real hosts.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { utils } from 'ssh2';
import { parsePlanHeader } from '../../../src/github/plan-comment.js';
import { parseHealthMarker } from '../../../src/github/health-issue.js';
import { FakeGitHub } from './fake-github-server.js';
import { openNoRouteNamespace, type NoRouteNamespace } from '../hardening/no-route.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const BUNDLE = process.env['LMS_HA_BUNDLE'] ?? join(ROOT, 'dist', 'index.js');
const ADDRESSES = ['10.255.7.11', '10.255.7.12', '10.255.7.13'];
/** The namespace's recording listener answers on 22 and 2222. */
const SSH_PORT = 2222;
const PR = 7;
const SHA = '0123456789abcdef'.repeat(2) + '01234567';

const gh = new FakeGitHub();
const workspace = mkdtempSync(join(tmpdir(), 'lms-ha-built-action-'));
let ns: NoRouteNamespace;
let seenBefore = 0;
/** Connection attempts to the hosts since the current test began. */
const connections = (): string[] => ns.connections().slice(seenBefore);
let apiRelay: Server;
let apiUrlInside = '';

// Inside the namespace: 127.0.0.1:<port> → the unix socket given as argv[1].
const FORWARDER = `
const net = require('node:net');
const server = net.createServer((c) => {
  const u = net.connect(process.argv[1]);
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;
let forwarder: ReturnType<typeof spawn> | undefined;

function knownHostsLine(address: string): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  return `[${address}]:${SSH_PORT} ssh-ed25519 ${blob.toString('base64')}`;
}

beforeAll(async () => {
  await gh.start();
  const opened = await openNoRouteNamespace();
  if (typeof opened === 'string') throw new Error(`these tests run the bundle in a network namespace: ${opened}`);
  ns = opened;
  const api = new URL(gh.apiUrl);
  const target = { port: Number(api.port), host: api.hostname };
  const socketPath = join(workspace, 'api.sock');
  apiRelay = createServer((c) => {
    const u = connect(target.port, target.host);
    c.pipe(u);
    u.pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((resolve) => apiRelay.listen(socketPath, resolve));
  const [cmd, ...args] = ns.wrap([process.execPath, '-e', FORWARDER, socketPath]);
  forwarder = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const insidePort = await new Promise<string>((resolve, reject) => {
    forwarder!.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    forwarder!.once('exit', (code) => reject(new Error(`forwarder exited with ${code}`)));
  });
  api.hostname = '127.0.0.1';
  api.port = insidePort;
  apiUrlInside = api.toString().replace(/\/$/, '');
  writeFileSync(
    join(workspace, 'ha.yml'),
    [
      'version: 1',
      'environments:',
      '  production:',
      `    ssh: { user: root, port: ${SSH_PORT}, connect_timeout: 5 }`,
      '    hosts:',
      ...ADDRESSES.map((a, i) => `      - { name: db${i + 1}, address: ${a}, roles: [db] }`),
      '    database:',
      '      cluster_name: built',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  forwarder?.kill('SIGKILL');
  await ns?.close();
  await new Promise<void>((resolve) => (apiRelay ? apiRelay.close(() => resolve()) : resolve()));
  await gh.stop();
});
beforeEach(() => {
  gh.requests.length = 0;
  seenBefore = ns.connections().length;
});

interface Run {
  code: number;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

let n = 0;
async function runAction(event: string, payload: object, inputs: Record<string, string>): Promise<Run> {
  const files = mkdtempSync(join(tmpdir(), 'lms-ha-run-'));
  const paths = { output: join(files, 'output'), summary: join(files, 'summary'), event: join(files, 'event.json') };
  writeFileSync(paths.output, '');
  writeFileSync(paths.summary, '');
  writeFileSync(paths.event, JSON.stringify(payload));
  const key = utils.generateKeyPairSync('ed25519').private;
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: paths.output,
    GITHUB_STEP_SUMMARY: paths.summary,
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'acme/platform',
    GITHUB_RUN_ID: String(4000 + n++),
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.test',
    GITHUB_API_URL: apiUrlInside,
    GITHUB_EVENT_NAME: event,
    GITHUB_EVENT_PATH: paths.event,
    GITHUB_SHA: SHA,
    GITHUB_ACTOR: 'alice',
    RUNNER_TEMP: files,
    'INPUT_SSH-PRIVATE-KEY': key,
    'INPUT_KNOWN-HOSTS': ADDRESSES.map(knownHostsLine).join('\n'),
    'INPUT_GITHUB-TOKEN': 'ghs_fake_token_for_tests',
    INPUT_ENVIRONMENT: 'production',
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve, reject) => {
    const [cmd, ...args] = ns.wrap([process.execPath, BUNDLE]);
    const child = spawn(cmd!, args, { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c ?? 1, stdout: out }));
  });
  const outputs: Record<string, string> = {};
  const lines = readFileSync(paths.output, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    outputs[m[1]!] = value.join('\n');
  }
  return { code, stdout, outputs, summary: readFileSync(paths.summary, 'utf8') };
}

const prPayload = (head = 'acme/platform') => ({ pull_request: { number: PR, head: { repo: { full_name: head } }, user: { login: 'alice' } } });

describe('dist/index.js as the runner runs it', { timeout: 60_000 }, () => {
  it('pull_request, plan: the bundle posts the comment (here "plan failed": the hosts hang up), with no hash', async () => {
    const run = await runAction('pull_request', prPayload(), { command: 'deploy-db', mode: 'plan' });
    expect(run.code).toBe(1);
    expect(run.outputs['failure-reason']).toBe('ssh-failed');
    expect(connections().length).toBeGreaterThan(0);
    expect(gh.restCalls()).toContain(`POST /repos/acme/platform/issues/${PR}/comments`);
    const comment = gh.comments.find((c) => c.issue === PR)!;
    expect(parsePlanHeader(comment.body)).toMatchObject({ command: 'deploy-db', environment: 'production', status: 'plan-failed', planHash: '' });
    expect(comment.body).not.toContain('ghs_fake_token_for_tests');
  });

  it('pull_request from a fork: a notice, and no API request', async () => {
    const run = await runAction('pull_request', prPayload('mallory/platform'), { command: 'deploy-db', mode: 'plan' });
    expect(run.stdout).toMatch(/^::notice::lms-ha plan comment skipped: the pull request comes from the fork mallory\/platform/m);
    expect(gh.restCalls()).toEqual([]);
  });

  it('push, apply, no pull request for the commit: refused with plan-changed and no host contacted', async () => {
    gh.pulls = [];
    const run = await runAction('push', { after: SHA }, { command: 'deploy-db', mode: 'apply' });
    expect(run.code).toBe(1);
    expect(run.outputs['failure-reason']).toBe('plan-changed');
    expect(run.outputs['changed']).toBe('false');
    expect(connections()).toEqual([]);
    expect(gh.restCalls()).toEqual([`GET /repos/acme/platform/commits/${SHA}/pulls?per_page=100`]);
    expect(run.stdout).toMatch(/No reviewed plan for the deploy-db plan for production/);
  });

  it('workflow_dispatch, apply, require-reviewed-plan false: runs (hosts contacted) with a warning annotation and a summary note', async () => {
    const run = await runAction('workflow_dispatch', {}, { command: 'deploy-db', mode: 'apply', 'require-reviewed-plan': 'false' });
    expect(run.stdout).toMatch(/^::warning::require-reviewed-plan is false: deploy-db on production is applied WITHOUT a reviewed plan/m);
    expect(run.summary).toMatch(/require-reviewed-plan is false/);
    expect(connections().length).toBeGreaterThan(0);
    expect(run.outputs['failure-reason']).toBe('ssh-failed');
  });

  it('schedule, verify-ha with issue: true: the health issue is opened even though no host answered', async () => {
    gh.issues = [];
    const run = await runAction('schedule', {}, { command: 'verify-ha', mode: 'plan', issue: 'true' });
    expect(run.code).toBe(1);
    expect(gh.issues).toHaveLength(1);
    expect(parseHealthMarker(gh.issues[0]!.body)).toEqual({ environment: 'production' });
  });

  it('an invalid input: the summary names the command asked for, and verify-ha still gets its health issue', async () => {
    gh.issues = [];
    const run = await runAction('schedule', {}, { command: 'verify-ha', mode: 'plan', issue: 'true', parallelism: 'lots' });
    expect(run.outputs['failure-reason']).toBe('invalid-input');
    expect(run.summary).toContain('verify-ha');
    expect(run.summary).not.toMatch(/`preflight`/);
    expect(connections()).toEqual([]);
    expect(gh.issues).toHaveLength(1);
  });
});
