import { describe, expect, it } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import {
  drillCleanupSql,
  drillPreconditions,
  drillSetupSql,
  haproxySettled,
  missingWrites,
  parseDrillRequest,
  parseProbeLine,
  probeScript,
  windowFigures,
  type ProbeEvent,
} from '../../../src/commands/verify-ha/drills.js';
import { verifyHa } from '../../../src/commands/verify-ha/verify-ha.js';
import { gatherVerification } from '../../../src/commands/verify-ha/verify-ha.js';
import { fakeContext, healthyState } from './fake-platform.js';

const env = { name: 'prod', protected: false };

function refusal(f: () => unknown): DeployError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DeployError);
    return e as DeployError;
  }
  throw new Error('expected a refusal');
}

describe('parseDrillRequest', () => {
  it('is null without drills, and reads an explicit list in apply mode', () => {
    expect(parseDrillRequest({}, 'plan', env)).toBeNull();
    expect(parseDrillRequest({ drills: 'none' }, 'apply', env)).toBeNull();
    expect(parseDrillRequest({ drills: 'proxy-stop,db-kill' }, 'apply', env)).toEqual({ drills: ['proxy-stop', 'db-kill'], allowProtected: false });
  });

  it('refuses plan mode, unknown names and a protected environment, naming the fix', () => {
    const plan = refusal(() => parseDrillRequest({ drills: 'proxy-stop' }, 'plan', env));
    expect(plan.reason).toBe('invalid-input');
    expect(plan.message).toContain('mode apply');
    const unknown = refusal(() => parseDrillRequest({ drills: 'proxy-stop,nuke' }, 'apply', env));
    expect(unknown.message).toContain('nuke');
    expect(unknown.hint).toContain('db-kill');
    const prot = refusal(() => parseDrillRequest({ drills: 'db-stop' }, 'apply', { name: 'production', protected: true }));
    expect(prot.message).toContain('production is marked protected');
    expect(prot.hint).toContain('allow-protected=true');
    expect(parseDrillRequest({ drills: 'db-stop', 'allow-protected': 'true' }, 'apply', { name: 'production', protected: true })?.allowProtected).toBe(true);
    expect(refusal(() => parseDrillRequest({ drills: 'db-stop', 'allow-protected': 'yes' }, 'apply', env)).message).toContain('true or false');
  });
});

describe('the write probe', () => {
  it('inserts one row per attempt through the VIP writer port, credentials from stdin only', () => {
    const script = probeScript({ run: 'dabc123', vip: '10.0.0.100', port: 3307, maxWrites: 100, maxSeconds: 60 });
    expect(script).toContain('-h10.0.0.100 -P3307');
    expect(script).toContain("VALUES ('\\''dabc123'\\'', $i)");
    expect(script).toContain('-lt 100');
    expect(script).toContain('+ 60');
    expect(script).toContain('--defaults-extra-file="$cred"');
    expect(script).not.toMatch(/password/i);
    expect(() => probeScript({ run: "x'; DROP", vip: 'v', port: 1, maxWrites: 1, maxSeconds: 1 })).toThrow();
  });

  it('parses its lines', () => {
    expect(parseProbeLine('ok 7 1795471806297246496 1795471806313651052 db1')).toEqual({ ok: true, seq: 7, startMs: 1795471806297, endMs: 1795471806313, detail: 'db1' });
    expect(parseProbeLine('fail 8 1795471806297246496 1795471806313651052 rc=1 ERROR 2003 (HY000): Can\'t connect')?.ok).toBe(false);
    expect(parseProbeLine('ready')).toBeNull();
  });

  const ev = (ok: boolean, seq: number, endMs: number, detail = ok ? 'db1' : 'ERROR 2003'): ProbeEvent => ({ ok, seq, startMs: endMs - 5, endMs, detail });

  it('measures the longest gap between acknowledgements from the last one before the window', () => {
    const events = [ev(true, 1, 1000), ev(true, 2, 1010), ev(false, 3, 1500), ev(false, 4, 2000), ev(true, 5, 3410, 'db2'), ev(true, 6, 3420, 'db2')];
    expect(windowFigures(events, 2, events.length)).toEqual({ unavailableMs: 2400, failedAttempts: 2, acknowledged: 2, firstError: 'ERROR 2003' });
    // No failure: the gap is just the write latency.
    expect(windowFigures(events, 5, 6).unavailableMs).toBe(10);
  });

  it('finds acknowledged writes missing from a node', () => {
    expect(missingWrites([1, 2, 3, 5], new Set([1, 2, 3, 4, 5]))).toEqual([]);
    expect(missingWrites([1, 2, 3, 5], new Set([1, 3]))).toEqual([2, 5]);
  });

  it('creates its table and a temporary account per LB address, and removes them', () => {
    const setup = drillSetupSql('f00d', ['10.0.0.21', '10.0.0.22']);
    expect(setup).toContain('CREATE TABLE IF NOT EXISTS lms_ha.drill_probe');
    expect(setup).toContain('PRIMARY KEY (run, seq)');
    expect(setup).toContain("CREATE USER 'lms_ha_drill'@'10.0.0.22' IDENTIFIED BY 'f00d';");
    expect(setup).toContain("GRANT INSERT, SELECT ON lms_ha.drill_probe TO 'lms_ha_drill'@'10.0.0.21';");
    const cleanup = drillCleanupSql('dabc', ['10.0.0.21']);
    expect(cleanup).toContain("DELETE FROM lms_ha.drill_probe WHERE run='dabc';");
    expect(cleanup).toContain("DROP USER IF EXISTS 'lms_ha_drill'@'10.0.0.21';");
  });
});

describe('drills refuse before stopping anything', () => {
  it('on a platform that is not fully healthy: cluster-unhealthy, the failures named, nothing stopped', async () => {
    const state = healthyState();
    state.mariadb['moodle3']!.desync = true;
    const context = fakeContext(state, undefined, [], { mode: 'apply', options: { drills: 'proxy-stop' } });
    const report = await verifyHa(context);
    expect(report.error?.reason).toBe('cluster-unhealthy');
    expect(report.error?.message).toContain('moodle3 wsrep_local_state');
    expect(report.error?.message).toContain('nothing was stopped');
    expect(state.sent.some((s) => /systemctl (stop|kill)|CREATE USER/.test(s.command + (s.stdin ?? '')))).toBe(false);
  });

  it('wait while HAProxy is still counting health checks (the writer could move under the drill)', async () => {
    const state = healthyState();
    expect(haproxySettled(await gatherVerification(fakeContext(state)))).toBe(true);
    state.haproxyCounting.add('moodle2');
    expect(haproxySettled(await gatherVerification(fakeContext(state)))).toBe(false);
  });

  it('with too few synced db nodes or a ProxySQL tier: a reason', async () => {
    const view = await gatherVerification(fakeContext(healthyState()));
    expect(drillPreconditions({ drills: ['db-kill'], allowProtected: false }, view)).toBeNull();
    const two = { ...view, dbNodes: view.dbNodes.slice(0, 2) };
    expect(drillPreconditions({ drills: ['db-kill'], allowProtected: false }, two)).toContain('at least 3 synced db nodes');
    expect(drillPreconditions({ drills: ['proxy-stop'], allowProtected: false }, two)).toBeNull();
    const oneLb = { ...view, lb: { ...view.lb!, lbs: view.lb!.lbs.slice(0, 1) } };
    expect(drillPreconditions({ drills: ['proxy-stop'], allowProtected: false }, oneLb)).toContain('two load balancers');
    expect(drillPreconditions({ drills: ['proxy-stop'], allowProtected: false }, { ...view, lb: { ...view.lb!, kind: 'proxysql' } })).toContain('HAProxy');
  });
});

describe('drills on the fake platform (orchestration)', () => {
  const apply = (drills: string) => ({ mode: 'apply' as const, options: { drills } });
  const drillRows = (checks: { layer: string; check: string; status: string; observed: string }[] | undefined) => (checks ?? []).filter((c) => c.layer === 'drill');

  it('proxy-stop then db-kill: stops, measures, restores, proves the writes, removes its account', async () => {
    const state = healthyState();
    const report = await verifyHa(fakeContext(state, undefined, [], apply('proxy-stop,db-kill')));
    expect(report.error).toBeUndefined();
    const rows = drillRows(report.checks);
    expect(rows.map((r) => `${r.status} ${r.check}`)).toEqual([
      'ok proxy-stop: writes unavailable',
      'ok proxy-stop: healthy again after restore',
      'ok proxy-stop: acknowledged writes present',
      'ok db-kill: writes unavailable',
      'ok db-kill: healthy again after restore',
      'ok db-kill: acknowledged writes present',
    ]);
    expect(rows[0]!.observed).toContain('VIP lb1 → lb2');
    expect(rows[3]!.observed).toContain('writer moodle1 → moodle2');
    expect(rows[2]!.observed).toMatch(/^all \d+ on moodle1, moodle2, moodle3 \(0 lost;/);
    const commands = state.sent.map((x) => `${x.host} ${x.command}`);
    const order = ['lb1 systemctl stop haproxy', 'lb1 systemctl start haproxy', 'moodle1 systemctl kill --signal=KILL mariadb', 'moodle1 systemctl start mariadb'];
    expect(order.map((c) => commands.indexOf(c))).toEqual([...order.map((c) => commands.indexOf(c))].sort((a, b) => a - b));
    expect(order.every((c) => commands.includes(c))).toBe(true);
    // The probe runs on a db node the drill leaves alone (not the killed writer), and the password only travels on stdin.
    const probes = state.sent.filter((x) => x.command.includes('drill_probe (run, seq)'));
    expect(probes.map((x) => x.host)).toEqual(['moodle1', 'moodle2']);
    const setup = state.sent.find((x) => x.stdin?.includes('CREATE USER'))!;
    const password = /IDENTIFIED BY '([0-9a-f]+)'/.exec(setup.stdin!)![1]!;
    expect(state.sent.some((x) => x.command.includes(password))).toBe(false);
    expect(state.sent.filter((x) => x.stdin?.includes("DROP USER IF EXISTS 'lms_ha_drill'") && x.stdin.includes('DELETE FROM'))).toHaveLength(2);
    expect(state.drillRows.size).toBe(0);
  });

  it('an acknowledged write missing afterwards fails the drill as data loss', async () => {
    const state = healthyState();
    state.loseWrite = 3;
    const report = await verifyHa(fakeContext(state, undefined, [], apply('db-stop')));
    expect(report.error?.reason).toBe('verify-failed');
    const present = drillRows(report.checks).find((r) => r.check === 'db-stop: acknowledged writes present')!;
    expect(present.status).toBe('fail');
    expect(present.observed).toContain('1 of');
    expect(present.observed).toContain('first seq 3');
  });

  it('a restore that does not bring the platform back is reported with what still fails', { timeout: 20_000 }, async () => {
    const { DRILL_DEADLINES } = await import('../../../src/commands/verify-ha/drills.js');
    const saved = DRILL_DEADLINES.healthyMs;
    DRILL_DEADLINES.healthyMs = 1_000;
    try {
      const state = healthyState();
      state.haproxyWontStart = true;
      const report = await verifyHa(fakeContext(state, undefined, [], apply('proxy-stop')));
      expect(report.error?.reason).toBe('verify-failed');
      const healthy = drillRows(report.checks).find((r) => r.check === 'proxy-stop: healthy again after restore')!;
      expect(healthy.status).toBe('fail');
      expect(healthy.observed).toContain('lb1 haproxy running');
    } finally {
      DRILL_DEADLINES.healthyMs = saved;
    }
  });
});
