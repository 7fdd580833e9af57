import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { labExec, readLabState, runAction, tempDir, type LabState } from './lab.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';

// Two runs never interleave (issue 2): a run that finds another run's lock on
// any host of the environment fails fast with failure-reason=locked, names the
// holder, and touches nothing; `unlock` removes a stale lock, saying whose it was.

const LOCK_PATH = '/var/lock/lms-ha/lab-db.lock';
const FOREIGN = {
  version: 1,
  environment: 'lab-db',
  runId: '987654.1',
  repository: 'other-org/other-repo',
  command: 'deploy-db',
  startedAt: '2026-11-23T03:00:00.000Z',
  runner: 'runner-elsewhere',
  token: 'f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0',
};

let state: LabState;
let workspace: string;

function inputs(command: string, mode: string): Record<string, string> {
  return {
    command,
    mode,
    environment: 'lab-db',
    'ssh-private-key': readFileSync(state.sshKey, 'utf8'),
    'known-hosts': readFileSync(state.knownHosts, 'utf8'),
  };
}

beforeAll(() => {
  state = readLabState();
  workspace = tempDir('lock');
  writeLabInventory(state, workspace, labDbEnvironment(state));
});

describe('the host lock', () => {
  it('makes an apply fail fast, naming the holder, and changes nothing', async () => {
    labExec('db2', `mkdir -p /var/lock/lms-ha && cat > ${LOCK_PATH}`, { input: JSON.stringify(FOREIGN) + '\n' });
    const before = labExec('db1', 'ls -la /etc/mysql/mariadb.conf.d/ 2>/dev/null; dpkg-query -W -f="${Status}" mariadb-server 2>/dev/null || true').stdout;

    const run = await runAction(state, inputs('deploy-db', 'apply'), { workspace, env: { LAB_APP_DB_PASSWORD: 'lock-test-password' } });
    expect(run.outputs['failure-reason']).toBe('locked');
    const text = run.stdout + run.stderr;
    expect(text).toContain('987654.1');
    expect(text).toContain('other-org/other-repo');
    expect(text).toContain('db2');
    expect(JSON.parse(run.outputs.result).steps).toEqual([]);
    // The foreign lock is untouched, no lock of ours is left behind, the hosts are as they were.
    expect(JSON.parse(labExec('db2', `cat ${LOCK_PATH}`).stdout).token).toBe(FOREIGN.token);
    expect(labExec('db1', `test -e ${LOCK_PATH}`, { allowFailure: true }).code).not.toBe(0);
    expect(labExec('db1', 'ls -la /etc/mysql/mariadb.conf.d/ 2>/dev/null; dpkg-query -W -f="${Status}" mariadb-server 2>/dev/null || true').stdout).toBe(before);
  });

  it('is reported by plan mode as a warning, without failing', async () => {
    const run = await runAction(state, inputs('deploy-db', 'plan'), { workspace, env: { LAB_APP_DB_PASSWORD: 'lock-test-password' } });
    expect(run.outputs['failure-reason']).toBe('');
    expect(run.annotations.some((a) => a.startsWith('::warning') && a.includes('987654.1'))).toBe(true);
  });

  it('is removed by unlock, which names whose it was', async () => {
    // Like every command, unlock validates the whole environment first, secrets included.
    const run = await runAction(state, inputs('unlock', 'apply'), { workspace, env: { LAB_APP_DB_PASSWORD: 'lock-test-password' } });
    expect(run.outputs['failure-reason']).toBe('');
    expect(run.stdout + run.stderr).toContain('987654.1');
    expect(labExec('db2', `test -e ${LOCK_PATH}`, { allowFailure: true }).code).not.toBe(0);
  });
});
