import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  brickChecks,
  brickProcessesCommand,
  brickRepairs,
  brickStatusCommand,
  isGlusterBusyMessage,
  isGlusterLockBusy,
  parseBrickProcesses,
  parseVolumeStatusXml,
  GlusterCliError,
  stopBrickProcessesCommand,
  volumeStartForceCommand,
} from '../../../src/components/glusterfs/index.js';
import { planGlusterVolume } from '../../../src/commands/migrate-storage/gluster.js';
import { parseStorageFacts, type StorageHostFacts } from '../../../src/facts/gluster.js';
import type { Host } from '../../../src/inventory/index.js';
import { FRESH_OPTIONS, POOL_LIST_XML, model3, volumeInfoXml, volumeStatusXml } from './fixtures.js';

const status = (opts: Parameters<typeof volumeStatusXml>[0] = {}) => parseVolumeStatusXml(volumeStatusXml(opts), 'moodledata');

describe('brick processes on a host', () => {
  it('parses pid, brick path and port from the facts command output', () => {
    const out = '1333\t/srv/gluster/moodledata\t56543\n1402\t/srv/gluster/other\t\nnot a line\n\n';
    expect(parseBrickProcesses(out)).toEqual([
      { pid: 1333, brickPath: '/srv/gluster/moodledata', port: 56543 },
      { pid: 1402, brickPath: '/srv/gluster/other', port: null },
    ]);
  });

  it('the stop command matches the brick path exactly, as an argument of glusterfsd', () => {
    const cmd = stopBrickProcessesCommand('/storage/brick');
    expect(cmd).toContain('pgrep -x glusterfsd');
    expect(cmd).toContain('prev=="--brick-name" && $0==want');
    expect(cmd).toContain('-v want=/storage/brick ');
    expect(cmd).toContain('kill -TERM');
    expect(cmd).toContain('kill -KILL');
  });
});

/**
 * The two shell commands run for real against stand-in processes called
 * glusterfsd (a copy of sh, so `pgrep -x` and /proc/PID/cmdline see what they
 * would see on a brick host). Brick paths are unique to this run, so no real
 * brick on the machine can match.
 */
describe.skipIf(process.platform !== 'linux' || !existsSync('/usr/bin/pgrep'))('brick process commands against real processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lms-ha-bricks-'));
  const fake = join(dir, 'glusterfsd');
  copyFileSync('/bin/sh', fake);
  const target = join(dir, 'brick one');
  const other = join(dir, 'brick-two');
  const children: ChildProcess[] = [];
  const startBrick = (path: string, port: number): ChildProcess => {
    // sh -c SCRIPT $0 $1 ...: the brick arguments land in the cmdline after the script.
    const c = spawn(fake, ['-c', 'while :; do sleep 1; done', '-s', '10.0.0.13', '--brick-name', path, '--brick-port', String(port)], { stdio: 'ignore' });
    children.push(c);
    return c;
  };
  const exited = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));
  const sh = (script: string) => execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every glusterfsd with its brick, and stops only the processes of the brick named, stray duplicates included', async () => {
    const listed = startBrick(target, 56543);
    const stray = startBrick(target, 0);
    const bystander = startBrick(other, 50001);
    const ours = () => parseBrickProcesses(sh(brickProcessesCommand())).filter((p) => p.brickPath.startsWith(dir));
    // Until the three children have exec'd (their cmdline is the fake glusterfsd's).
    let seen = ours();
    for (let i = 0; i < 100 && seen.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = ours();
    }
    expect(seen).toEqual(
      expect.arrayContaining([
        { pid: listed.pid, brickPath: target, port: 56543 },
        { pid: stray.pid, brickPath: target, port: 0 },
        { pid: bystander.pid, brickPath: other, port: 50001 },
      ]),
    );
    expect(seen).toHaveLength(3);

    const out = sh(stopBrickProcessesCommand(target));
    expect(out.split('\n').filter((l) => l.startsWith('TERM')).sort()).toEqual([`TERM ${listed.pid}`, `TERM ${stray.pid}`].sort());
    await Promise.all([exited(listed), exited(stray)]);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    expect(ours()).toEqual([{ pid: bystander.pid, brickPath: other, port: 50001 }]);
  });
});

describe('brick repairs of a started volume', () => {
  it('a brick online without a port: restart it, naming the pid and any stray process', () => {
    const processes = new Map([
      ['moodle3', [{ pid: 1402, brickPath: '/storage/brick', port: 56543 }, { pid: 1377, brickPath: '/storage/brick/', port: 0 }]],
    ]);
    const repairs = brickRepairs(model3, status({ noPort3: true }), processes);
    expect(repairs).toHaveLength(1);
    const r = repairs[0]!;
    expect(r).toMatchObject({ name: '10.0.0.13:/storage/brick', fault: 'no-port', pid: 1402, strayPids: [1377] });
    expect(r.brick.host).toBe('moodle3');
    expect(r.summary).toBe('restart brick 10.0.0.13:/storage/brick: running without a port (GlusterFS restart race)');
    expect(r.detail).toBe(
      'stop glusterfsd pids 1402, 1377 on moodle3 (a stray process glusterd does not list); gluster --mode=script volume start moodledata force; waits until volume status shows the brick online with a port',
    );
    expect(r.startCommand).toBe('gluster --mode=script volume start moodledata force');
    expect(r.stopCommand).toBe(stopBrickProcessesCommand('/storage/brick'));
  });

  it('an offline brick: start it (stopping any leftover process of it first)', () => {
    const [r, ...rest] = brickRepairs(model3, status({ offline3: true }));
    expect(rest).toEqual([]);
    expect(r).toMatchObject({ fault: 'offline', pid: null, strayPids: [], summary: 'start brick 10.0.0.13:/storage/brick: offline' });
    expect(r!.detail).toMatch(/^stop any glusterfsd of the brick on moodle3; gluster --mode=script volume start moodledata force; waits/);
  });

  it('nothing to repair: every brick serving, a brick not listed (its glusterd is down), or the volume not started', () => {
    expect(brickRepairs(model3, status())).toEqual([]);
    expect(brickRepairs(model3, status({ omit3: true }))).toEqual([]);
    expect(brickRepairs(model3, { volume: 'moodledata', started: false, bricks: [], daemons: [] })).toEqual([]);
  });

  it('commands for the repair and the wait after it', () => {
    expect(volumeStartForceCommand('moodledata')).toBe('gluster --mode=script volume start moodledata force');
    expect(brickStatusCommand('moodledata', { address: '10.0.0.13', path: '/storage/brick' })).toBe('gluster --mode=script volume status moodledata 10.0.0.13:/storage/brick --xml');
  });

  it('verify-ha names the same repair for an offline brick', () => {
    const row = brickChecks('moodle1', model3, status({ offline3: true })).find((c) => c.status === 'fail')!;
    expect(row.observed).toBe('offline');
    expect(row.hint).toContain('migrate-storage --mode apply');
    expect(row.hint).toContain('gluster --mode=script volume start moodledata force');
  });

  it('a busy glusterd (another operation on the volume) is told apart from a real failure', () => {
    expect(isGlusterLockBusy(new GlusterCliError('op-failed', 'x', 'Another transaction is in progress for moodledata. Please try again after some time.'))).toBe(true);
    expect(isGlusterLockBusy(new GlusterCliError('op-failed', 'x', 'Locking failed on 10.0.0.12. Please check log file for details.'))).toBe(true);
    expect(isGlusterLockBusy(new GlusterCliError('op-failed', 'x', 'Volume moodledata does not exist'))).toBe(false);
    expect(isGlusterLockBusy(new Error('Another transaction is in progress'))).toBe(false);
    expect(isGlusterBusyMessage('volume start: moodledata: failed: Another transaction is in progress for moodledata. Please try again after some time.')).toBe(true);
    expect(isGlusterBusyMessage('volume start: moodledata: failed: Volume moodledata does not exist')).toBe(false);
  });
});

describe('migrate-storage plan for a brick that runs without a port', () => {
  const host = (name: string, address: string): Host => ({ name, address, roles: ['storage'], ssh: { user: 'root', port: 22 } as Host['ssh'], labels: {} });
  const members = [host('moodle1', '10.0.0.11'), host('moodle2', '10.0.0.12'), host('moodle3', '10.0.0.13')];
  const wanted: Array<[string, string]> = [...FRESH_OPTIONS, ['cluster.quorum-type', 'auto'], ['cluster.server-quorum-type', 'server'], ['network.ping-timeout', '20']];
  const output = (procs: string) =>
    [
      '@@packages',
      'glusterfs-server\t10.3-5\tinstall ok installed',
      '@@active',
      'active',
      '@@enabled',
      'enabled',
      '@@brick',
      '/storage /dev/vdb1 xfs',
      '@@pool',
      POOL_LIST_XML,
      '@@info',
      volumeInfoXml({ options: wanted }),
      '@@procs',
      procs,
    ].join('\n');
  const facts = (): Map<string, StorageHostFacts> =>
    new Map(members.map((m, i) => [m.name, parseStorageFacts(m.name, '/storage/brick', 'moodledata', output(`${[1415, 1398, 1402][i]}\t/storage/brick\t49152`))]));

  it('the facts script output gives the brick processes of each host', () => {
    expect(facts().get('moodle3')!.brickProcesses).toEqual([{ pid: 1402, brickPath: '/storage/brick', port: 49152 }]);
  });

  it('plans the restart as one change on the brick host; a healthy volume (the re-plan) has none', () => {
    const plan = planGlusterVolume(model3, members, { remotes: new Map(), facts: facts(), status: status({ noPort3: true }) });
    expect(plan.changes.map((c) => `${c.host}: ${c.summary}`)).toEqual(['moodle3: restart brick 10.0.0.13:/storage/brick: running without a port (GlusterFS restart race)']);
    expect(plan.changes[0]).toMatchObject({ kind: 'cluster', step: 'brick-restart', detail: expect.stringContaining('stop glusterfsd pid 1402 on moodle3;') });
    expect(plan.warnings).toEqual([]);

    const healthy = planGlusterVolume(model3, members, { remotes: new Map(), facts: facts(), status: status() });
    expect(healthy.changes).toEqual([]);
  });

  it('an offline brick is planned as a start', () => {
    const plan = planGlusterVolume(model3, members, { remotes: new Map(), facts: facts(), status: status({ offline3: true }) });
    expect(plan.changes.map((c) => `${c.host}: ${c.summary}`)).toEqual(['moodle3: start brick 10.0.0.13:/storage/brick: offline']);
  });
});
