import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeGitHub } from '../unit/github/fake-github-server.js';
import { labExec, tempDir } from './lab.js';
import { LBS, MOUNT, STORAGE_ENVIRONMENT, ensurePlatform, openPlatform, waitForFailures, waitForPass, type Platform } from './verify-ha-platform.js';

// verify-ha e2e, faults: each fault induced on the real platform
// fails with the right check named and nothing else failing, and is undone
// before the next. The platform (deploy-db + deploy-lb) is shared with the
// drills suite and deployed only if it is not already there and healthy.
//
// The GlusterFS faults (one brick's glusterd stopped, a client mount
// unmounted) run last, on the same platform plus the volume migrate-storage
// builds (bricks on db1-3, mounted on lb1/lb2), in environment lab-ha-storage.
//
// Scheduled mode (e2e test 4) rides on the first fault: a failing run with
// `issue: true` creates the health issue, a second updates it, a passing run
// after the restore closes it, all against a local stand-in for the GitHub API.

let p: Platform;

beforeAll(async () => {
  p = openPlatform();
  await ensurePlatform(p);
}, 900_000);

function holdsVip(host: string): boolean {
  return labExec(host, 'ip -o addr show dev eth0', { allowFailure: true }).stdout.includes(` ${p.state.vip}/`);
}

/**
 * The GitHub API stand-in: FakeGitHub listens on a unix socket here (root
 * namespace); a forwarder inside the runner namespace serves it on
 * 127.0.0.1:PORT there, where the action runs. Nothing leaves the machine.
 */
async function githubInRunner(): Promise<{ gh: FakeGitHub; apiUrl: string; stop: () => Promise<void> }> {
  const dir = tempDir('gh');
  const socket = join(dir, 'api.sock');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const apiUrl = `http://127.0.0.1:${port}`;
  const gh = new FakeGitHub({ owner: 'lms-ha', repo: 'e2e' });
  await gh.start({ socketPath: socket, publicBase: apiUrl });
  const forward = `const net=require('net');net.createServer(c=>{const u=net.connect(${JSON.stringify(socket)});c.pipe(u).pipe(c);u.on('error',()=>c.destroy());c.on('error',()=>u.destroy());}).listen(${port},'127.0.0.1',()=>console.log('listening'));`;
  const child: ChildProcess = spawn('ip', ['netns', 'exec', p.state.runnerNamespace, process.execPath, '-e', forward], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the GitHub API forwarder in ${p.state.runnerNamespace} exited (${code})`)));
  });
  return {
    gh,
    apiUrl,
    stop: async () => {
      child.kill();
      await gh.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('verify-ha faults on the lab platform', () => {
  it('healthy: passes with every layer in the table', async () => {
    const v = await waitForPass(p, 'a healthy platform', 30_000);
    expect(v.failed).toEqual([]);
    expect(v.run.outputs['failure-reason']).toBe('');
    const layers = new Set(v.result.checks.map((c) => c.layer));
    for (const l of ['galera', 'load balancer', 'vip']) expect(layers).toContain(l);
    console.log(`healthy: ${v.result.checks.length} checks, ${v.result.checks.filter((c) => c.status === 'warn').length} warning(s), ${v.run.durationMs} ms`);
  });

  it('one node desynced: its state and desync checks only; the scheduled issue is created, updated, then closed', async () => {
    const api = await githubInRunner();
    const scheduled = { issue: 'true', 'github-token': 'ghs_fake_e2e_token' };
    const ghEnv = { GITHUB_API_URL: api.apiUrl, GITHUB_SERVER_URL: 'https://github.test' };
    labExec('db2', 'mariadb -e "SET GLOBAL wsrep_desync=ON"');
    try {
      const expected = ['db2 wsrep_desync', 'db2 wsrep_local_state'];
      const v = await waitForFailures(p, expected, 'db2 desynced');
      expect(v.failed).toEqual(expected);
      expect(v.run.outputs['failure-reason']).toBe('verify-failed');

      const first = await p.verify(scheduled, ghEnv);
      expect(first.failed).toEqual(expected);
      const second = await p.verify(scheduled, ghEnv);
      expect(second.failed).toEqual(expected);
      labExec('db2', 'mariadb -e "SET GLOBAL wsrep_desync=OFF"');
      await waitForPass(p, 'db2 synced again');
      const third = await p.verify(scheduled, ghEnv);
      expect(third.failed).toEqual([]);

      const writes = api.gh.restCalls().filter((c) => !c.startsWith('GET'));
      expect(writes).toEqual([
        'POST /repos/lms-ha/e2e/issues',
        'POST /repos/lms-ha/e2e/issues/1/comments',
        'PATCH /repos/lms-ha/e2e/issues/1',
        'POST /repos/lms-ha/e2e/issues/1/comments',
        'PATCH /repos/lms-ha/e2e/issues/1',
      ]);
      const issue = api.gh.issues[0]!;
      expect(issue.labels).toEqual(['lms-ha-health']);
      expect(issue.body).toContain('<!-- lms-ha-health: {"environment":"lab-ha"} -->');
      expect(issue.body).toContain('wsrep_desync');
      expect(issue.state).toBe('closed');
      expect(api.gh.comments.map((c) => c.body.split('**')[1])).toEqual(['Still failing', 'Passing again']);
      expect(api.gh.requests.every((r) => r.authorization?.includes('ghs_fake_e2e_token'))).toBe(true);
      expect(JSON.stringify(api.gh.requests)).not.toContain(p.secrets['LAB_APP_DB_PASSWORD']!);
      expect(third.run.summary).toContain('#1 closed');
    } finally {
      labExec('db2', 'mariadb -e "SET GLOBAL wsrep_desync=OFF"', { allowFailure: true });
      await api.stop();
    }
    await waitForPass(p, 'db2 synced again');
  });

  it('one node stopped (size 2): that node and the cluster size only', async () => {
    labExec('db3', 'systemctl stop mariadb');
    try {
      const expected = ['(cluster) cluster size', 'db3 mariadb running'];
      const v = await waitForFailures(p, expected, 'db3 stopped');
      expect(v.failed).toEqual(expected);
      expect(v.result.checks.find((c) => c.check === 'cluster size')?.observed).toContain('2 (db1, db2)');
    } finally {
      labExec('db3', 'systemctl start mariadb');
    }
    await waitForPass(p, 'db3 back in the cluster', 180_000);
  });

  it('keepalived stopped on both load balancers (no VIP): keepalived on each and the VIP holder only', async () => {
    for (const lb of LBS) labExec(lb, 'systemctl stop keepalived');
    try {
      // With no VIP the platform's installer check, which goes through the VIP, fails too.
      const expected = ['(lbs) VIP 10.231.0.100/24 holder', 'db1 Moodle installer checks as moodle', 'lb1 keepalived running', 'lb2 keepalived running'].map((x) => x.replace('10.231.0.100', p.state.vip));
      const v = await waitForFailures(p, expected, 'no VIP');
      expect(v.failed).toEqual(expected);
      expect(v.result.checks.find((c) => c.check.endsWith('holder'))?.observed).toBe('none');
    } finally {
      for (const lb of LBS) labExec(lb, 'systemctl start keepalived');
    }
    await waitForPass(p, 'one LB holding the VIP again', 60_000);
  });

  it('the VIP added by hand to the second load balancer (two holders): the VIP holder check only', async () => {
    const holder = LBS.find(holdsVip)!;
    const other = LBS.find((h) => h !== holder)!;
    labExec(other, `ip addr add ${p.state.vip}/24 dev eth0`);
    try {
      const expected = [`(lbs) VIP ${p.state.vip}/24 holder`];
      const v = await waitForFailures(p, expected, 'two VIP holders');
      expect(v.failed).toEqual(expected);
      expect(v.result.checks.find((c) => c.check.endsWith('holder'))?.observed).toBe('lb1, lb2');
    } finally {
      labExec(other, `ip addr del ${p.state.vip}/24 dev eth0`, { allowFailure: true });
    }
    await waitForPass(p, 'one VIP holder again', 60_000);
  });
});

describe('verify-ha GlusterFS faults on the lab platform', () => {
  const storage = { environment: STORAGE_ENVIRONMENT };
  const migrateStorage = async (): Promise<string[]> => {
    const run = await p.action({ command: 'migrate-storage', mode: 'apply', environment: STORAGE_ENVIRONMENT });
    if (run.outputs['failure-reason'] !== '') {
      throw new Error(`migrate-storage apply failed: ${run.outputs['failure-reason']}\n${run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).slice(-15).join('\n')}`);
    }
    return (JSON.parse(run.outputs.result!) as { changes: { host: string; summary: string }[] }).changes.map((c) => `${c.host}: ${c.summary}`);
  };
  /**
   * Waits for a clean storage table. GlusterFS 10.3 can leave a brick running
   * without a port (or offline) after glusterd returns on its host (an earlier
   * suite's outage, or the glusterd fault below; src/components/glusterfs/bricks.ts).
   * Then verify-ha fails that brick, and the repair is what an operator would
   * run: migrate-storage apply, which must restart exactly those bricks.
   */
  const waitForCleanStorage = async (what: string, timeoutMs: number) => {
    let v = await waitForPass(p, what, timeoutMs, storage);
    const broken = v.result.checks.filter((c) => c.layer === 'storage' && c.check.startsWith('brick ') && c.status === 'fail' && /^offline$|port N\/A\)$/.test(c.observed));
    if (broken.length > 0) {
      console.log(`${what}: ${broken.map((c) => `${c.check} ${c.observed}`).join('; ')}; repairing with migrate-storage apply`);
      const changes = await migrateStorage();
      expect(changes).toEqual(broken.map((c) => expect.stringMatching(new RegExp(`^\\S+: (re)?start ${c.check.replace(/[.]/g, '\\.')}: `))));
      v = await waitForPass(p, `${what}, after the brick repair`, 120_000, storage);
    }
    expect(v.failed).toEqual([]);
    return v;
  };
  beforeAll(async () => {
    const changes = await migrateStorage();
    console.log(`migrate-storage apply for the storage faults: ${changes.length} change(s)${changes.length > 0 ? `: ${changes.join('; ')}` : ''}`);
    const v = await waitForCleanStorage('the platform with its volume', 60_000);
    expect(v.result.checks.some((c) => c.layer === 'storage')).toBe(true);
  }, 600_000);

  it("one brick's glusterd stopped: its glusterd and the peer as seen from db1 only", async () => {
    labExec('db3', 'systemctl stop glusterd');
    try {
      // glusterd down does not stop db3's brick process: its peers see it disconnected
      // (db1 observes the pool), and nothing about the bricks, the database or the LBs fails.
      const expected = ['db1 gluster peer db3', 'db3 glusterd running'];
      const v = await waitForFailures(p, expected, 'glusterd stopped on db3', 30_000, storage);
      expect(v.failed).toEqual(expected);
    } finally {
      labExec('db3', 'systemctl start glusterd');
    }
    await waitForCleanStorage('glusterd back on db3', 60_000);
  });

  it('a client mount unmounted: that mount only', async () => {
    labExec('lb2', `umount ${MOUNT}`);
    try {
      const expected = [`lb2 mount ${MOUNT}`];
      const v = await waitForFailures(p, expected, 'the mount gone on lb2', 30_000, storage);
      expect(v.failed).toEqual(expected);
      expect(v.result.checks.find((c) => c.host === 'lb2' && c.check === `mount ${MOUNT}`)?.observed).toBe('not mounted');
    } finally {
      labExec('lb2', `mount ${MOUNT} 2>/dev/null || systemctl start "$(systemd-escape -p --suffix=mount ${MOUNT})"`, { allowFailure: true });
    }
    await waitForPass(p, 'the mount back on lb2', 60_000, storage);
  });
});

afterAll(() => {
  // Leave nothing induced behind, whatever failed above.
  if (!p) return;
  labExec('db2', 'mariadb -e "SET GLOBAL wsrep_desync=OFF"', { allowFailure: true });
  labExec('db3', 'systemctl start mariadb', { allowFailure: true });
  for (const lb of LBS) labExec(lb, 'systemctl start keepalived', { allowFailure: true });
  labExec('db3', 'systemctl start glusterd', { allowFailure: true });
});
