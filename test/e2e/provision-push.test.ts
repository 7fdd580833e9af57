import { execFileSync } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, labExec, readLabState, runAction, tempDir, type ActionRun, type LabState } from './lab.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';

// provision e2e (issue 11, test 2): hosts with no apt source at all get
// MariaDB from packages pushed from the runner (the lab's own repository
// directory, which the runner can read), then deploy-db builds the cluster
// from that repository without knowing where the packages came from.

const DBS = ['db1', 'db2', 'db3'];
const APP_PASSWORD = `canary-${randomBytes(6).toString('hex')}`;

let state: LabState;
let workspace: string;
let key: string;
let knownHosts: string;

async function action(command: string, mode: 'plan' | 'apply', environment: string): Promise<ActionRun> {
  const run = await runAction(
    state,
    { command, mode, inventory: 'ha.yml', environment, 'ssh-private-key': key, 'known-hosts': knownHosts, parallelism: '10' },
    { workspace, env: { LAB_APP_DB_PASSWORD: APP_PASSWORD } },
  );
  if (run.outputs['failure-reason']) console.log(`${command} ${mode} ${environment} failed: ${run.annotations.join('\n')}`);
  return run;
}

const candidate = (host: string) => /Candidate: (\S+)/.exec(labExec(host, 'apt-cache policy mariadb-server').stdout)?.[1] ?? '';

describe('provision with packages pushed from the runner', () => {
  beforeAll(() => {
    // Bare hosts (the lab re-created, about 10 s), so no load balancer of an
    // earlier suite is left pointing at the cluster this suite builds without one;
    // then no package source at all.
    execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up'], { stdio: 'ignore', timeout: 600_000 });
    state = readLabState();
    workspace = tempDir('provision-push');
    const repository = (JSON.parse(readFileSync('/run/lms-ha-lab/state.json', 'utf8')) as { aptRepository: string }).aptRepository;
    symlinkSync(repository, join(workspace, 'debs'));
    const env = `${labDbEnvironment(state, 'lab-push')}    provision:
      firewall: { enabled: false }
      packages: { source: push, directory: debs }
`;
    writeLabInventory(state, workspace, env);
    key = readFileSync(state.sshKey, 'utf8');
    knownHosts = readFileSync(state.knownHosts, 'utf8');
    // No package source at all.
    for (const h of DBS) {
      labExec(h, 'mv /etc/apt/sources.list /etc/apt/sources.list.lab-saved; rm -f /etc/apt/preferences.d/lms-ha* ; rm -rf /var/lib/apt/lists/*; apt-get update -q >/dev/null 2>&1; true');
    }
  }, 300_000);

  afterAll(() => {
    if (!state) return;
    for (const h of DBS) {
      labExec(h, 'mv -f /etc/apt/sources.list.lab-saved /etc/apt/sources.list; rm -f /etc/apt/sources.list.d/lms-ha.sources; rm -rf /var/lib/lms-ha/apt; apt-get update -q >/dev/null 2>&1; true', { allowFailure: true });
    }
  });

  it('has no candidate before, installs MariaDB from the pushed repository, and deploy-db builds the cluster', async () => {
    // Without any source apt knows no such package at all (empty) or has no candidate.
    for (const h of DBS) expect(['', '(none)']).toContain(candidate(h));

    const plan = await action('provision', 'plan', 'lab-push');
    expect(plan.outputs['failure-reason']).toBe('');
    expect(plan.summary).toContain('push packages into /var/lib/lms-ha/apt');

    const apply = await action('provision', 'apply', 'lab-push');
    expect(apply.outputs['failure-reason']).toBe('');
    for (const h of DBS) {
      expect(candidate(h)).toMatch(/^1:10\.11\./);
      expect(labExec(h, 'apt-cache policy mariadb-server').stdout).toContain('file:/var/lib/lms-ha/apt');
    }

    const again = await action('provision', 'apply', 'lab-push');
    expect(again.outputs['failure-reason']).toBe('');
    expect(JSON.parse(again.outputs['result']!).changes).toEqual([]);

    const deploy = await action('deploy-db', 'apply', 'lab-push');
    expect(deploy.outputs['failure-reason']).toBe('');
    const size = labExec('db1', `mariadb -N -B -e "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'"`).stdout.trim().split(/\s+/)[1];
    expect(size).toBe('3');
  }, 600_000);
});
