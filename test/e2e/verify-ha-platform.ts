import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { labHost, readLabState, runAction, tempDir, type ActionRun, type LabState } from './lab.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';

/**
 * The platform the verify-ha fault and drill suites share: the Galera cluster
 * on db1-3 (deploy-db) behind HAProxy + Keepalived on lb1/lb2 (deploy-lb), in
 * environment `lab-ha`. `ensurePlatform` deploys it only when verify-ha does
 * not already pass on it, so the second suite (or a run after the deploy-lb
 * suite) reuses what is there instead of redeploying.
 *
 * Secrets are fake values derived from this lab's own per-`up` SSH key, so
 * both suites (separate workers) agree on them without any file between them.
 */
export const DBS = ['db1', 'db2', 'db3'] as const;
export const LBS = ['lb1', 'lb2'] as const;
export const ENVIRONMENT = 'lab-ha';

export interface Platform {
  state: LabState;
  workspace: string;
  secrets: Record<string, string>;
  /** Values that must never show in a log, summary or output. */
  secretValues: string[];
  action(inputs: Record<string, string>, env?: Record<string, string>): Promise<ActionRun>;
  verify(extra?: Record<string, string>, env?: Record<string, string>): Promise<VerifyRun>;
}

export interface VerifyRun {
  run: ActionRun;
  result: { checks: { layer: string; host: string; check: string; status: string; observed: string; expected: string }[] };
  /** `host check` of every failed check, sorted. */
  failed: string[];
}

function environmentText(s: LabState, protectedEnv: boolean): string {
  const db = labDbEnvironment(s, ENVIRONMENT);
  const lbs = LBS.map((h) => `      - { name: ${h}, address: ${labHost(s, h).address}, roles: [lb] }`).join('\n');
  const withLbs = db.replace(/(      - \{ name: db3[^\n]*\n)/, `$1${lbs}\n`);
  const text = `${withLbs}    load_balancer:
      kind: haproxy
      vip: ${s.vip}/24
      interface: eth0
      virtual_router_id: 51
      auth_password: { env: LAB_VRRP_PASSWORD }
`;
  // The protected twin is never deployed (drills refuse before anything), but the
  // inventory check wants distinct VRRP ids per network all the same.
  return protectedEnv
    ? text.replace(`  ${ENVIRONMENT}:\n`, `  ${ENVIRONMENT}-protected:\n    protected: true\n`).replace('virtual_router_id: 51', 'virtual_router_id: 59')
    : text;
}

/** The platform plus a GlusterFS volume on db1-3 mounted on lb1/lb2 (migrate-storage), for the storage faults. */
export const STORAGE_ENVIRONMENT = 'lab-ha-storage';
export const VOLUME = 'moodledata';
export const MOUNT = '/var/www/moodledata';

function storageEnvironmentText(s: LabState): string {
  return environmentText(s, false)
    .replace(`  ${ENVIRONMENT}:\n`, `  ${STORAGE_ENVIRONMENT}:\n`)
    .replace(/(name: db\d[^\n]*roles: )\[db\]/g, '$1[db, storage]')
    .replace(/(name: lb\d[^\n]*roles: )\[lb\]/g, '$1[lb, web]')
    .replace('virtual_router_id: 51', 'virtual_router_id: 57')
    .concat(`    storage: { kind: glusterfs, volume: ${VOLUME}, mount_path: ${MOUNT} }\n`);
}

export function openPlatform(): Platform {
  const state = readLabState();
  const workspace = tempDir('verify-ha');
  const seed = createHash('sha256').update(readFileSync(state.sshKey)).digest('hex');
  const secrets = { LAB_APP_DB_PASSWORD: `canary-${seed.slice(0, 16)}`, LAB_VRRP_PASSWORD: `v${seed.slice(16, 23)}` };
  writeLabInventory(state, workspace, environmentText(state, false) + environmentText(state, true) + storageEnvironmentText(state));
  const key = readFileSync(state.sshKey, 'utf8');
  const knownHosts = readFileSync(state.knownHosts, 'utf8');
  const action = (inputs: Record<string, string>, env: Record<string, string> = {}) =>
    runAction(state, { inventory: 'ha.yml', environment: ENVIRONMENT, 'ssh-private-key': key, 'known-hosts': knownHosts, parallelism: '10', ...inputs }, { workspace, env: { ...secrets, ...env } });
  const verify = async (extra: Record<string, string> = {}, env: Record<string, string> = {}): Promise<VerifyRun> => {
    const run = await action({ command: 'verify-ha', mode: 'plan', ...extra }, env);
    if (!run.outputs.result) throw new Error(`verify-ha gave no result: ${run.stdout.slice(-2000)}${run.stderr.slice(-1000)}`);
    const result = JSON.parse(run.outputs.result) as VerifyRun['result'];
    const failed = result.checks.filter((c) => c.status === 'fail').map((c) => `${c.host} ${c.check}`).sort();
    return { run, result, failed };
  };
  return { state, workspace, secrets, secretValues: Object.values(secrets), action, verify };
}

/** Deploys the platform unless verify-ha already passes on it. */
export async function ensurePlatform(p: Platform): Promise<void> {
  const first = await p.verify();
  if (first.failed.length === 0 && first.result.checks.some((c) => c.layer === 'vip')) return;
  for (const command of ['deploy-db', 'deploy-lb']) {
    const run = await p.action({ command, mode: 'apply' });
    if (run.outputs['failure-reason'] !== '') {
      throw new Error(`${command} failed while setting up the verify-ha platform: ${run.outputs['failure-reason']}\n${run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).slice(-15).join('\n')}`);
    }
  }
  await waitForPass(p, 'the freshly deployed platform to pass', 60_000);
}

/** Polls verify-ha until it passes (a restore takes effect over seconds); returns the passing run. */
export async function waitForPass(p: Platform, what: string, timeoutMs = 120_000, extra: Record<string, string> = {}): Promise<VerifyRun> {
  return waitForFailures(p, [], what, timeoutMs, extra);
}

/**
 * Polls verify-ha until exactly `expected` fail (HAProxy needs a few health
 * checks to see a change, keepalived a few adverts). At the deadline, the last
 * run is returned so the caller's assertion shows what did fail instead.
 */
export async function waitForFailures(p: Platform, expected: string[], what: string, timeoutMs = 30_000, extra: Record<string, string> = {}): Promise<VerifyRun> {
  const want = JSON.stringify([...expected].sort());
  const started = Date.now();
  for (;;) {
    const v = await p.verify(extra);
    if (JSON.stringify(v.failed) === want) return v;
    if (Date.now() - started > timeoutMs) {
      console.log(`gave up waiting for ${what} after ${timeoutMs} ms; failing: ${v.failed.join('; ')}`);
      return v;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
