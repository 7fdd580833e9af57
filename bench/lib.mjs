// Shared helpers for the bench sections (bench/<section>.mjs): the lab's
// state, bringing the lab up with the hosts a section needs, running the
// bundled CLI in the runner's namespace, and medians.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const root = resolve(new URL('..', import.meta.url).pathname);
export const STATE = '/run/lms-ha-lab/state.json';
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
export const LAB = join(root, 'test/lab/lab.sh');

export function labState() {
  return existsSync(STATE) ? JSON.parse(readFileSync(STATE, 'utf8')) : undefined;
}

/** Brings the lab up (fresh, bare hosts) unless it is up with at least `extra` sshd-only hosts. */
export function ensureLab(extra = 0, { fresh = false } = {}) {
  let state = labState();
  const extras = state ? state.hosts.filter((h) => /^x\d+$/.test(h.name)).length : -1;
  if (fresh || !state || extras < extra) {
    console.error(`bench: starting the lab${extra ? ` with ${extra} extra sshd-only hosts` : ''}${fresh ? ' (fresh hosts)' : ''}`);
    if (state) execFileSync('bash', [LAB, 'down'], { stdio: 'inherit' });
    execFileSync('bash', [LAB, 'up', '--extra', String(extra)], { stdio: 'inherit' });
    state = labState();
  }
  if (!existsSync(join(root, 'dist/index.js'))) execFileSync('node', [join(root, 'scripts/bundle.mjs')], { stdio: 'inherit' });
  return state;
}

/** Runs the bundled CLI (dist/index.js) from the runner's namespace; returns wall ms and the process result. */
export function runCli(state, args, { cwd, env = {}, allowFailure = false } = {}) {
  const started = process.hrtime.bigint();
  // LMS_HA_BUNDLE: a build elsewhere (scripts/bundle.mjs --out DIR), as in the e2e harness.
  const bundle = process.env.LMS_HA_BUNDLE ?? join(root, 'dist/index.js');
  const run = spawnSync('ip', ['netns', 'exec', state.runnerNamespace, process.execPath, bundle, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, LMS_HA_SSH_KEY: state.sshKey, LMS_HA_KNOWN_HOSTS: state.knownHosts, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0 && !allowFailure) throw new Error(`lms-ha ${args.join(' ')} failed (${run.status}): ${run.stderr}${run.stdout.slice(-2000)}`);
  return { ms, run };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
