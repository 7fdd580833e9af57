import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../../src/check.js';
import { verifyHa } from '../../../src/commands/verify-ha/verify-ha.js';
import { healthReportMarkdown } from '../../../src/report/health-report.js';
import { DB, INVENTORY, PROXYSQL_INVENTORY, fakeContext, healthyState, type PlatformState } from './fake-platform.js';

async function verify(state: PlatformState, inventory = INVENTORY) {
  return verifyHa(fakeContext(state, inventory));
}

const failing = (checks: CheckResult[] | undefined) =>
  (checks ?? []).filter((c) => c.status === 'fail').map((c) => `${c.host} ${c.check}`).sort();

describe('verify-ha on a healthy platform', () => {
  it('passes with every layer in the table', async () => {
    const report = await verify(healthyState());
    expect(failing(report.checks)).toEqual([]);
    expect(report.error).toBeUndefined();
    const layers = new Set(report.checks!.map((c) => c.layer));
    expect([...layers].sort()).toEqual(['causality', 'galera', 'load balancer', 'platform', 'storage', 'vip']);
    const names = report.checks!.map((c) => `${c.host} ${c.check}`);
    for (const n of DB) {
      expect(names).toContain(`${n} wsrep_local_state`);
      expect(names).toContain(`${n} mount /var/www/moodledata writable`);
      expect(names).toContain(`lb1 clustercheck ${n}`);
    }
    expect(names).toEqual(expect.arrayContaining(['(cluster) cluster size', '(lbs) VIP 10.0.0.100/24 holder', '(lbs) VIP answers on 3307', 'lb2 single writer', 'moodle1 gluster peer moodle3']));
    const byName = (check: string, host = '(cluster)') => report.checks!.find((c) => c.check === check && c.host === host)!;
    expect(byName('cluster size')).toMatchObject({ expected: '3 (db nodes in the inventory)', observed: '3 (moodle1, moodle2, moodle3)', status: 'ok' });
    expect(byName('gcache window')).toMatchObject({ status: 'ok' });
  });

  it('skips the causality probe as a warning until deploy-db has created its table', async () => {
    const report = await verify(healthyState());
    const c = report.checks!.find((x) => x.layer === 'causality')!;
    expect(c.status).toBe('warn');
    expect(c.observed).toContain('causality probe needs the lms_ha.causality_probe table');
  });

  it('sends nothing that writes, and no secret on a command line', async () => {
    const state = healthyState();
    state.probeTable = true;
    await verify(state);
    for (const s of state.sent) {
      expect(s.command).not.toContain('app-secret-pw');
      expect(s.command).not.toMatch(/systemctl (start|stop|restart)|gluster\S* .*volume (start|stop|set)/);
    }
    // The app password travelled on stdin, for the causality probe and the platform's installer check only.
    const withPassword = state.sent.filter((s) => s.stdin?.includes('app-secret-pw')).map((s) => s.command);
    expect(withPassword).toHaveLength(2);
    expect(withPassword.filter((c) => c.includes('lms_ha_installer_check'))).toHaveLength(1);
  });
});

describe('causality probe', () => {
  it('passes when the row written through the writer is read back through the reader', async () => {
    const state = healthyState();
    state.probeTable = true;
    const report = await verify(state);
    expect(report.checks!.find((c) => c.layer === 'causality')).toMatchObject({ status: 'ok', observed: 'read back with wsrep_sync_wait=1' });
    expect(failing(report.checks)).toEqual([]);
  });

  it('fails on a stale read', async () => {
    const state = healthyState();
    state.probeTable = true;
    state.staleReads = true;
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['moodle1 write via writer, read via reader']);
    expect(report.error?.reason).toBe('verify-failed');
  });
});

describe('each fault fails the right check and nothing else', () => {
  it('one node desynced: only its state and desync checks', async () => {
    const state = healthyState();
    state.mariadb.moodle2!.desync = true;
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['moodle2 wsrep_desync', 'moodle2 wsrep_local_state']);
    expect(report.error?.reason).toBe('verify-failed');
    expect(report.error?.message).toContain('moodle2 wsrep_desync (ON)');
  });

  it('one node stopped: its "mariadb running" and the cluster size (2)', async () => {
    const state = healthyState();
    state.mariadb.moodle3!.running = false;
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['(cluster) cluster size', 'moodle3 mariadb running']);
    expect(report.checks!.find((c) => c.check === 'cluster size')!.observed).toBe('2 (moodle1, moodle2)');
  });

  it('the writer node stopped: HAProxy fails over to a backup, which is not a failure', async () => {
    const state = healthyState();
    state.mariadb.moodle1!.running = false;
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['(cluster) cluster size', 'moodle1 mariadb running']);
    expect(report.checks!.find((c) => c.host === 'lb1' && c.check === 'single writer')!.observed).toContain('moodle2 (backup');
  });

  it('a node stopped a moment ago, HAProxy still counting its failed checks: no disagreement', async () => {
    const state = healthyState();
    state.mariadb.moodle3!.running = false;
    state.haproxyCounting.add('moodle3');
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['(cluster) cluster size', 'moodle3 mariadb running']);
  });

  it('HAProxy sending traffic to a desynced node (its health check is broken) fails the listeners on both LBs', async () => {
    const state = healthyState();
    state.mariadb.moodle2!.desync = true;
    state.haproxyStuckUp.add('moodle2');
    const report = await verify(state);
    expect(failing(report.checks)).toEqual([
      'lb1 listener galera_reader',
      'lb1 listener galera_writer',
      'lb2 listener galera_reader',
      'lb2 listener galera_writer',
      'moodle2 wsrep_desync',
      'moodle2 wsrep_local_state',
    ]);
    expect(report.checks!.find((c) => c.host === 'lb1' && c.check === 'listener galera_reader')!.observed).toContain('disagrees: moodle2 UP');
  });

  it('keepalived stopped on both LBs: no VIP holder, and keepalived named on each', async () => {
    const state = healthyState();
    state.keepalived = { lb1: false, lb2: false };
    state.vipOn.clear();
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['(lbs) VIP 10.0.0.100/24 holder', 'lb1 keepalived running', 'lb2 keepalived running']);
    expect(report.checks!.find((c) => c.check.endsWith('holder'))!.observed).toBe('none');
    // The writer-port answer is not tested without exactly one holder; the causality probe neither.
    expect(report.checks!.find((c) => c.check === 'VIP answers on 3307')!.status).toBe('warn');
  });

  it('the VIP on both LBs: only the holder check', async () => {
    const state = healthyState();
    state.vipOn.add('lb2');
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['(lbs) VIP 10.0.0.100/24 holder']);
    expect(report.checks!.find((c) => c.check.endsWith('holder'))!.observed).toBe('lb1, lb2');
  });

  it("one brick host's glusterd stopped: glusterd there, and the peer as its observer sees it", async () => {
    const state = healthyState();
    state.glusterd.moodle3 = false;
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['moodle1 gluster peer moodle3', 'moodle3 glusterd running']);
  });

  it('the first storage host glusterd stopped: another host observes the volume', async () => {
    const state = healthyState();
    state.glusterd.moodle1 = false;
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['moodle1 glusterd running', 'moodle2 gluster peer moodle1']);
    expect(report.checks!.some((c) => c.host === 'moodle2' && c.check === 'volume moodledata' && c.status === 'ok')).toBe(true);
  });

  it('a client mount unmounted: only that mount', async () => {
    const state = healthyState();
    state.mounted.moodle2 = false;
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['moodle2 mount /var/www/moodledata']);
    expect(report.checks!.find((c) => c.host === 'moodle2' && c.check === 'mount /var/www/moodledata')!.observed).toBe('not mounted');
  });

  it('haproxy stopped on the VIP holder: haproxy named, the VIP stops answering', async () => {
    const state = healthyState();
    state.haproxy.lb1 = false;
    const report = await verify(state);
    expect(failing(report.checks)).toEqual(['(lbs) VIP answers on 3307', 'lb1 haproxy running']);
  });
});

describe('ProxySQL load balancers', () => {
  it('healthy: one writer, the others readers, admin password only on stdin', async () => {
    const state = healthyState();
    const report = await verify(state, PROXYSQL_INVENTORY);
    expect(failing(report.checks)).toEqual([]);
    expect(report.checks!.find((c) => c.host === 'lb1' && c.check === 'writer hostgroup')).toMatchObject({ observed: 'moodle1', status: 'ok' });
    expect(report.checks!.find((c) => c.check === 'VIP answers on 6033')).toMatchObject({ status: 'ok' });
    const lbScripts = state.sent.filter((s) => s.host === 'lb1');
    expect(lbScripts.every((s) => !s.command.includes('proxysql-admin-pw'))).toBe(true);
    expect(lbScripts.some((s) => s.stdin?.startsWith('[client]\nuser="admin"\npassword="proxysql-admin-pw"\n'))).toBe(true);
  });

  it('a desynced node taken offline by ProxySQL fails only that node', async () => {
    const state = healthyState();
    state.mariadb.moodle2!.desync = true;
    const report = await verify(state, PROXYSQL_INVENTORY);
    expect(failing(report.checks)).toEqual(['moodle2 wsrep_desync', 'moodle2 wsrep_local_state']);
  });

  it('reads the Galera hostgroups, the monitor and the configuration of both LBs', async () => {
    const report = await verify(healthyState(), PROXYSQL_INVENTORY);
    expect(report.checks!.find((c) => c.host === 'lb1' && c.check === 'galera hostgroups')).toMatchObject({ status: 'ok' });
    expect(report.checks!.find((c) => c.host === 'lb2' && c.check === 'galera monitor')).toMatchObject({ status: 'ok', observed: 'all 3 passed' });
    expect(report.checks!.find((c) => c.check === 'ProxySQL configuration identical on all LBs')).toMatchObject({ status: 'ok', observed: 'equal on lb1, lb2' });
  });

  // The fault table: each fault, the exact checks that fail.
  it('a node SHUNNED by ProxySQL (MariaDB fine): the reader hostgroup of each LB', async () => {
    const state = healthyState();
    state.proxysqlShunned = new Set(['moodle3']);
    const report = await verify(state, PROXYSQL_INVENTORY);
    expect(failing(report.checks)).toEqual(['lb1 reader hostgroup', 'lb2 reader hostgroup']);
    expect(report.checks!.find((c) => c.host === 'lb1' && c.check === 'reader hostgroup')!.observed).toContain('moodle3 SHUNNED in 30');
  });

  it('the monitor failing on a node (moved to the offline hostgroup): the monitor and the reader hostgroup', async () => {
    const state = healthyState();
    state.proxysqlMonitorErrors = { moodle2: "Access denied for user 'lms_ha_monitor'@'10.0.0.21'" };
    const report = await verify(state, PROXYSQL_INVENTORY);
    expect(failing(report.checks)).toEqual(['lb1 galera monitor', 'lb1 reader hostgroup', 'lb2 galera monitor', 'lb2 reader hostgroup']);
    expect(report.checks!.find((c) => c.host === 'lb1' && c.check === 'galera monitor')!.observed).toBe("moodle2: Access denied for user 'lms_ha_monitor'@'10.0.0.21'");
  });

  it('the two LBs disagreeing on the writer: only the agreement check', async () => {
    const state = healthyState();
    state.proxysqlWriter = { lb2: 'moodle2' };
    const report = await verify(state, PROXYSQL_INVENTORY);
    expect(failing(report.checks)).toEqual(['(lbs) writer agreed by all LBs']);
  });

  it('one LB drifted from the configuration: the agreement check names what differs, never a secret', async () => {
    const state = healthyState();
    state.proxysqlVariables = { lb2: { 'mysql-monitor_galera_healthcheck_interval': '5000', 'mysql-monitor_password': 'other-secret' } };
    const report = await verify(state, PROXYSQL_INVENTORY);
    expect(failing(report.checks)).toEqual(['(lbs) ProxySQL configuration identical on all LBs']);
    const observed = report.checks!.find((c) => c.check === 'ProxySQL configuration identical on all LBs')!.observed;
    expect(observed).toBe('lb2 differs from lb1: mysql-monitor_galera_healthcheck_interval, mysql-monitor_password');
    expect(JSON.stringify(report)).not.toContain('other-secret');
  });

  it('proxysql stopped on one LB: only that service', async () => {
    const state = healthyState();
    state.haproxy.lb2 = false;
    const report = await verify(state, PROXYSQL_INVENTORY);
    expect(failing(report.checks)).toEqual(['lb2 proxysql running']);
  });
});

describe('layers not configured are absent', () => {
  it('database only: no lb, vip, causality or storage rows', async () => {
    const inventory = INVENTORY.replace(/ {4}load_balancer:[\s\S]*?(?= {4}storage:)/, '').replace(/ {4}storage:.*\n/, '');
    const report = await verify(healthyState(), inventory);
    expect(new Set(report.checks!.map((c) => c.layer))).toEqual(new Set(['galera']));
    expect(failing(report.checks)).toEqual([]);
  });

  it('keeps preflight checks in front', async () => {
    const pre: CheckResult = { layer: 'host', host: '(all)', check: 'clock skew between hosts', expected: '<= 1s', observed: '2.5s', status: 'warn' };
    const report = await verifyHa(fakeContext(healthyState(), INVENTORY, [pre]));
    expect(report.checks![0]).toEqual(pre);
  });
});

describe('healthReportMarkdown', () => {
  it('lists failing checks with what to do, then warnings', async () => {
    const state = healthyState();
    state.mounted.moodle2 = false;
    const report = await verify(state);
    const md = healthReportMarkdown(report.checks!);
    expect(md).toMatch(/^1 check failed:/);
    expect(md).toContain('| storage | moodle2 | mount /var/www/moodledata | fuse.glusterfs moodledata | not mounted |');
    expect(md).toContain('What to do:');
    expect(md).toContain('Warnings (1):');
  });

  it('says so when everything passed', () => {
    expect(healthReportMarkdown([])).toBe('Every check passed.');
  });
});
