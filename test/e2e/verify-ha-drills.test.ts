import { beforeAll, describe, expect, it } from 'vitest';
import { labExec } from './lab.js';
import { DBS, ENVIRONMENT, LBS, ensurePlatform, openPlatform, waitForPass, type Platform } from './verify-ha-platform.js';

// verify-ha e2e test 3 (issue 5): the failover drills on the real platform
// (shared with the faults suite, deployed only when not already healthy).
// They stop haproxy on the VIP holder and kill -9 the writer node while a
// write probe runs through the VIP, and must report their unavailability
// windows, zero lost writes, and leave the platform healthy.

let p: Platform;

beforeAll(async () => {
  p = openPlatform();
  await ensurePlatform(p);
  await waitForPass(p, 'a healthy platform before the drills', 60_000);
}, 900_000);

type Row = { layer: string; host: string; check: string; status: string; observed: string; expected: string };

function uptimes(): string {
  return DBS.map((h) => labExec(h, 'systemctl show -p ActiveEnterTimestampMonotonic --value mariadb').stdout.trim()).join(',');
}

describe('verify-ha drills', () => {
  it('refuse a protected environment before touching anything', async () => {
    const before = uptimes();
    const run = await p.action({ command: 'verify-ha', mode: 'apply', environment: `${ENVIRONMENT}-protected`, options: 'drills=proxy-stop,db-kill' });
    expect(run.outputs['failure-reason']).toBe('invalid-input');
    expect(run.stdout).toContain('marked protected');
    expect(run.stdout).toContain('allow-protected=true');
    expect(uptimes()).toBe(before);
    for (const lb of LBS) expect(labExec(lb, 'systemctl is-active haproxy').stdout.trim()).toBe('active');
  });

  it('proxy-stop and db-kill: unavailability windows measured, every acknowledged write present, platform healthy after', async () => {
    const run = await p.action({ command: 'verify-ha', mode: 'apply', options: 'drills=proxy-stop,db-kill' });
    const log = run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
    expect(run.stderr).not.toContain('    at ');
    const result = JSON.parse(run.outputs.result!) as { checks: Row[]; drills?: { drill: string; host: string; unavailableMs: number; resumedMs: number; healthyAfterMs: number | null; acknowledged: number; lost: number }[] };
    const drill = result.checks.filter((c) => c.layer === 'drill');
    console.log(drill.map((c) => `${c.status} ${c.host} ${c.check}: ${c.observed}`).join('\n'));
    expect(run.outputs['failure-reason'], log.slice(-3000)).toBe('');
    for (const name of ['proxy-stop', 'db-kill']) {
      const unavailable = drill.find((c) => c.check === `${name}: writes unavailable`)!;
      expect(unavailable.status).toBe('ok');
      const seconds = Number(/^([\d.]+) s/.exec(unavailable.observed)?.[1]);
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(60);
      expect(drill.find((c) => c.check === `${name}: healthy again after restore`)?.status).toBe('ok');
      const present = drill.find((c) => c.check === `${name}: acknowledged writes present`)!;
      expect(present.status).toBe('ok');
      expect(present.observed).toMatch(/^all \d+ on db1, db2, db3 \(0 lost;/);
    }
    // The same figures as numbers in `result`, for scripts that track them.
    expect(result.drills?.map((d) => d.drill)).toEqual(['proxy-stop', 'db-kill']);
    for (const d of result.drills!) {
      const row = drill.find((c) => c.check === `${d.drill}: writes unavailable`)!;
      expect(row.host).toBe(d.host);
      const shown = Number(/^([\d.]+) s/.exec(row.observed)?.[1]) * 1000;
      expect(Math.abs(shown - d.unavailableMs), `${row.observed} vs ${d.unavailableMs} ms`).toBeLessThanOrEqual(5);
      expect(d.resumedMs).toBeGreaterThanOrEqual(d.unavailableMs);
      expect(d.healthyAfterMs).toBeGreaterThan(0);
      expect(d.acknowledged).toBeGreaterThan(0);
      expect(d.lost).toBe(0);
    }
    expect(drill.find((c) => c.check === 'proxy-stop: writes unavailable')?.observed).toMatch(/VIP lb[12] → lb[12]/);
    expect(drill.find((c) => c.check === 'db-kill: writes unavailable')?.observed).toMatch(/writer db[123] → db[123]/);
    // The summary shows the same figures.
    expect(run.summary).toContain('proxy-stop: writes unavailable');
    for (const secret of p.secretValues) {
      expect(log).not.toContain(secret);
      expect(run.summary).not.toContain(secret);
    }
    // Nothing left behind: the temporary account and the run's rows are gone.
    expect(labExec('db1', `mariadb -N -B -e "SELECT COUNT(*) FROM mysql.user WHERE user='lms_ha_drill'; SELECT COUNT(*) FROM lms_ha.drill_probe"`).stdout.trim().split('\n')).toEqual(['0', '0']);
    const after = await waitForPass(p, 'the platform after the drills', 30_000);
    expect(after.failed).toEqual([]);
  });
});
