/**
 * Every bad input is refused before the first connection, through both fronts
 * of the built bundle (the CLI, and the action as the runner starts it with
 * INPUT_* variables), inside a network namespace where a connection attempt
 * is recorded (inventory hosts on a listening loopback) or fails at once (no
 * route). Each case asserts the exit code, the failure reason, the file:line
 * of the problem and a fragment of the message; every output is searched for
 * the canary secrets in raw, base64, URL- and JSON-encoded forms.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARGUMENT_CASES, BASE_INVENTORY, INVENTORY_CASES, SECRET_CASES, SECRET_NAMES, type BadInput, type Front } from './cases.js';
import { openNoRouteNamespace, type NoRouteNamespace } from './no-route.js';

const ROOT = resolve(__dirname, '..', '..', '..');
const BUNDLE = join(ROOT, 'dist', 'index.js');
/** Generous: a hang (an endless read, an exponential match) shows up as this timeout, nothing else is timed. */
const PROCESS_TIMEOUT_MS = 60_000;

const { utils } = ssh2;
const clientKey = utils.generateKeyPairSync('ed25519');
const hostKey = utils.generateKeyPairSync('ed25519').public.trim().split(/\s+/).slice(0, 2).join(' ');

/** A fresh canary per secret: passes every shape rule, and differs in each encoding (" + / & é). */
const CANARIES: Record<string, string> = Object.fromEntries(
  SECRET_NAMES.map((name) => [name, `cnry${randomBytes(6).toString('hex')}-"+/&é`]),
);
const PLAN_HASH_KEY = `phk-canary-${randomBytes(16).toString('hex')}`;

function dssLine(): string {
  const part = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([part(Buffer.from('ssh-dss')), part(Buffer.alloc(129, 1)), part(Buffer.alloc(21, 1)), part(Buffer.alloc(128, 2)), part(Buffer.alloc(128, 3))]);
  return `ssh-dss ${blob.toString('base64')}`;
}

interface Prepared {
  front: Front;
  index: number;
  net: string;
  text: string;
  environment: string;
}

const ALL: BadInput[] = [
  ...INVENTORY_CASES.map((c, i) => ({ ...c, front: c.front ?? ((i % 2 === 0 ? 'cli' : 'action') as Front) })),
  ...SECRET_CASES.map((c, i) => ({ ...c, front: c.front ?? ((i % 2 === 0 ? 'action' : 'cli') as Front) })),
  ...ARGUMENT_CASES,
];

function placeholders(value: string, net: string): string {
  return value
    .replace('@PRIVATE_KEY@', clientKey.private)
    .replace('@KNOWN_HOSTS@', `* ${hostKey}`)
    .replace('@DSA_KNOWN_HOSTS@', `* ${dssLine()}`)
    .replace('@STAR_KNOWN_HOSTS@', `${'*a'.repeat(40)}*b ${hostKey}`)
    .replace('@NEGATED_KNOWN_HOSTS@', `*,!${net}.11 ${hostKey}`);
}

function inventoryFor(c: BadInput, net: string): string {
  let text = c.text ?? BASE_INVENTORY;
  for (const [from, to] of c.edit ?? []) {
    expect(text.includes(from), `case "${c.name}": "${from}" not in the inventory`).toBe(true);
    text = text.replace(from, to);
  }
  // The many-star pattern needs a name with many "a" to hurt an exponential matcher.
  if (c.name.startsWith('many-star')) text = text.replace('name: db1, address: NET.11', `name: db1, address: ${'a'.repeat(60)}.test`);
  return text.replace(/NET/g, net);
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: string;
  summary: string;
}

function runBundle(argv: string[], env: Record<string, string>, cwd: string, ns: NoRouteNamespace): Promise<Ran> {
  const [command, ...args] = ns.wrap([process.execPath, BUNDLE, ...argv]);
  return new Promise((done, fail) => {
    const child = spawn(command!, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`lms-ha did not finish within ${PROCESS_TIMEOUT_MS} ms (a hang): ${argv.join(' ')}`));
    }, PROCESS_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const read = (name: string) => (existsSync(join(cwd, name)) ? readFileSync(join(cwd, name), 'utf8') : '');
      done({ code, stdout, stderr, outputs: read('outputs.txt'), summary: read('summary.md') });
    });
  });
}

function baseEnv(home: string, c: BadInput): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };
  for (const [name, value] of Object.entries(CANARIES)) env[name] = value;
  for (const [name, value] of Object.entries(c.vars ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

async function runCase(c: BadInput, p: Prepared, ns: NoRouteNamespace): Promise<Ran> {
  const dir = mkdtempSync(join(tmpdir(), 'lmsha-bad-'));
  try {
    writeFileSync(join(dir, 'ha.yml'), p.text);
    writeFileSync(join(dir, 'id_ed25519'), clientKey.private);
    const env = baseEnv(dir, c);
    if (p.front === 'cli') {
      env.LMS_HA_SSH_KEY = join(dir, 'id_ed25519');
      env.LMS_HA_KNOWN_HOSTS = `* ${hostKey}\n`;
      env.LMS_HA_PLAN_HASH_KEY = PLAN_HASH_KEY;
      for (const [name, value] of Object.entries(c.cliEnv ?? {})) {
        if (value === undefined) delete env[name];
        else env[name] = placeholders(value, p.net);
      }
      const argv = c.argv ?? ['preflight', '-i', 'ha.yml', '-e', p.environment, ...(c.args ?? [])];
      return await runBundle(argv.map((a) => placeholders(a, p.net)), env, dir, ns);
    }
    const inputs: Record<string, string> = {
      command: 'preflight',
      mode: 'plan',
      inventory: 'ha.yml',
      environment: p.environment,
      'ssh-private-key': clientKey.private,
      'ssh-private-key-passphrase': '',
      'known-hosts': `* ${hostKey}`,
      'insecure-skip-host-key-check': 'false',
      parallelism: '20',
      'plan-hash': '',
      'plan-hash-key': PLAN_HASH_KEY,
      'break-lock': 'false',
      options: '',
      'github-token': '',
      comment: 'false',
      issue: 'false',
      ...c.inputs,
    };
    for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = placeholders(value, p.net);
    env.GITHUB_OUTPUT = join(dir, 'outputs.txt');
    env.GITHUB_STEP_SUMMARY = join(dir, 'summary.md');
    writeFileSync(env.GITHUB_OUTPUT, '');
    writeFileSync(env.GITHUB_STEP_SUMMARY, '');
    return await runBundle([], env, dir, ns);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The forms a secret takes when something prints it carelessly. */
function encodings(secret: string): string[] {
  const forms = [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url'), encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)];
  return [...new Set(forms)].filter((form) => form.length >= 8);
}

/** Every secret of a case: the canaries, the key, and whatever secret-looking value the case itself wrote. */
function secretsOf(c: BadInput): string[] {
  const values = [...Object.values(CANARIES), PLAN_HASH_KEY];
  for (const line of clientKey.private.split('\n')) if (line.length >= 40 && !line.startsWith('-----')) values.push(line);
  for (const value of Object.values(c.vars ?? {})) {
    for (const part of (value ?? '').split(/[\r\n]/)) if (/canary/i.test(part) && part.length >= 8) values.push(part);
  }
  for (const [, to] of c.edit ?? []) for (const token of to.match(/[A-Za-z0-9-]*canary[A-Za-z0-9-]*/gi) ?? []) if (token.length >= 8) values.push(token);
  return values;
}

function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  expect(at, `"${needle}" is not in the case's inventory`).toBeGreaterThanOrEqual(0);
  return text.slice(0, at).split('\n').length;
}

let namespace: NoRouteNamespace | undefined;
let unavailable: string | undefined;

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error('dist/index.js is missing: npm run build');
  const opened = await openNoRouteNamespace();
  if (typeof opened === 'string') unavailable = opened;
  else namespace = opened;
}, 30_000);

afterAll(async () => {
  await namespace?.close();
});

describe('bad inputs through both fronts, in a namespace with no route', () => {
  it('has at least 150 cases, and both fronts get inventory, secret and argument cases', () => {
    expect(ALL.length).toBeGreaterThanOrEqual(150);
    for (const front of ['cli', 'action'] as const) {
      expect(ALL.filter((c) => c.front === front).length).toBeGreaterThan(40);
    }
  });

  it('the detector works: a valid inventory does reach the hosts (recorded by the listener)', async (context) => {
    if (!namespace) return context.skip(unavailable);
    const net = '10.255.250';
    const c: BadInput = { name: 'control', reason: 'invalid-input', at: null, fragment: '' };
    const ran = await runCase(c, { front: 'cli', index: 250, net, text: BASE_INVENTORY.replace(/NET/g, net), environment: 'prod' }, namespace);
    expect(ran.code).toBe(1);
    expect(namespace.connections().some((line) => line.startsWith(`${net}.`))).toBe(true);
  }, PROCESS_TIMEOUT_MS + 10_000);

  it.for(ALL.map((c, index) => [`${c.front}: ${c.name}`, c, index] as [string, BadInput, number]))('%s', { concurrent: true, timeout: PROCESS_TIMEOUT_MS + 10_000 }, async ([, c, index], context) => {
    if (!namespace) return context.skip(unavailable);
    const net = `10.255.${index}`;
    const text = inventoryFor(c, net);
    const ran = await runCase(c, { front: c.front!, index, net, text, environment: c.environment ?? 'prod' }, namespace);
    const shown = [ran.stdout, ran.stderr, ran.outputs, ran.summary].join('\n');

    // Exit code and reason.
    if (c.front === 'cli') {
      expect(ran.code, ran.stderr).toBe(c.reason === 'host-key-unknown' ? 1 : 2);
      if (c.at !== null) expect(ran.stderr).toContain(`ha.yml:${lineOf(text, placeholders(c.at.replace(/NET/g, net), net))}:`);
    } else {
      expect(ran.code, ran.stdout).toBe(1);
      expect(ran.outputs).toMatch(new RegExp(`failure-reason<<.*\\n${c.reason}\\n`));
      if (c.at !== null) {
        const line = lineOf(text, c.at.replace(/NET/g, net));
        expect(ran.stdout).toMatch(new RegExp(`::error file=ha\\.yml,line=${line},col=\\d+`));
      }
    }
    const fragment = typeof c.fragment === 'string' ? c.fragment : undefined;
    if (fragment !== undefined) expect(shown).toContain(fragment);
    else expect(shown).toMatch(c.fragment);
    if (c.at !== null && c.front === 'cli') expect(ran.stderr).toMatch(/ha\.yml:\d+:\d+: /);

    // Nothing reached a host, nothing crashed.
    expect(namespace.connections().filter((line) => line.startsWith(`${net}.`))).toEqual([]);
    expect(shown).not.toMatch(/ssh-failed|ENETUNREACH|ECONNREFUSED|internal error|\n\s+at .+\(.+:\d+:\d+\)/);

    // No secret in any encoding (the runner's own ::add-mask:: commands aside).
    const visible = shown.split('\n').filter((line) => !line.startsWith('::add-mask::')).join('\n');
    for (const secret of secretsOf(c)) {
      for (const form of encodings(secret)) expect(visible.includes(form), `a secret leaked (in form ${JSON.stringify(form.slice(0, 6))}...)`).toBe(false);
    }
  });
});
