import { describe, expect, it } from 'vitest';
import { planHashKeyFrom } from '../../../src/engine/plan.js';
const TEST_PLAN_HASH_KEY = planHashKeyFrom('report-test-plan-hash-key-0123456789abcdef');

import type { PlannedChange } from '../../../src/engine/change.js';
import { applyPlan } from '../../../src/engine/executor.js';
import { createPlan, planHash } from '../../../src/engine/plan.js';
import { Redactor } from '../../../src/engine/redact.js';
import { DeployError } from '../../../src/errors.js';
import { MemoryLogger } from '../../../src/report/log.js';
import { buildOutputs, buildResult, OUTPUT_NAMES } from '../../../src/report/outputs.js';
import type { RemoteHost } from '../../../src/ssh/types.js';
import { SECRET, sampleChanges, samplePlan } from '../engine/sample-plan.js';

const redactor = () => new Redactor().add(SECRET);
const fakeHost = (name: string): RemoteHost => ({ name, address: name, run: async () => ({ code: 0, stdout: '', stderr: '' }), readFile: async () => null, writeFile: async () => {} });
const hosts = ['db1', 'db2', 'lb1'].map(fakeHost);

describe('buildOutputs', () => {
  it('gives exactly the declared outputs, all strings', () => {
    const out = buildOutputs({ command: 'deploy-db', mode: 'plan', environment: 'production', plan: samplePlan() }, redactor());
    expect(Object.keys(out).sort()).toEqual([...OUTPUT_NAMES].sort());
    for (const v of Object.values(out)) expect(typeof v).toBe('string');
  });

  it('plan mode with changes: changed=true, the plan hash, no failure', () => {
    const plan = samplePlan();
    const hash = planHash(plan, { key: TEST_PLAN_HASH_KEY });
    const out = buildOutputs({ command: 'deploy-db', mode: 'plan', environment: 'production', plan, planHash: hash }, redactor());
    expect(out.changed).toBe('true');
    expect(out['plan-hash']).toBe(hash);
    expect(out['failure-reason']).toBe('');
    const result = JSON.parse(out.result);
    expect(result).toMatchObject({ version: 1, command: 'deploy-db', mode: 'plan', environment: 'production', status: 'ok', changed: true, planHash: hash, failureReason: null, error: null });
    expect(result.changes).toHaveLength(6);
    expect(result.changes[0]).toEqual({ id: 'package:db1:mariadb-server', host: 'db1', kind: 'package', summary: 'install mariadb-server 1:10.11.6-0+deb12u1' });
    expect(result.hosts.map((h: { name: string; status: string; changes: number }) => [h.name, h.status, h.changes])).toEqual([
      ['db1', 'will change', 5],
      ['db2', 'will change', 1],
      ['lb1', 'no changes', 0],
    ]);
    expect(result.steps).toEqual([]);
  });

  it('a second apply with nothing to do: changed=false', async () => {
    const plan = samplePlan({ changes: [] });
    const apply = await applyPlan(plan, { logger: new MemoryLogger(), hosts });
    const out = buildOutputs({ command: 'deploy-db', mode: 'apply', environment: 'production', plan, apply }, redactor());
    expect(out.changed).toBe('false');
    expect(JSON.parse(out.result).status).toBe('ok');
  });

  it('a failed apply: the step reason as failure-reason, changed=true if something was applied, steps listed', async () => {
    const changes: PlannedChange[] = sampleChanges().map((c, i) => (i === 3 ? { ...c, apply: async () => { throw new Error(`bad ${SECRET}`); } } : c));
    const plan = samplePlan({ changes });
    const apply = await applyPlan(plan, { logger: new MemoryLogger(), hosts, now: () => 0 });
    const out = buildOutputs({ command: 'deploy-db', mode: 'apply', environment: 'production', plan, apply }, redactor());
    expect(out['failure-reason']).toBe('apply-failed');
    expect(out.changed).toBe('true');
    const result = JSON.parse(out.result);
    expect(result.status).toBe('failed');
    expect(result.steps.map((s: { status: string }) => s.status)).toEqual(['ok', 'ok', 'ok', 'failed', 'skipped', 'skipped']);
    expect(result.steps[3]).toEqual({ id: 'service:db1:mariadb:restart', host: 'db1', status: 'failed', durationMs: 0, error: 'restart mariadb: bad ***', reason: 'apply-failed' });
    expect(out.result).not.toContain(SECRET);
  });

  it('an error before any plan: failure-reason from the closed set, no hash', () => {
    const error = new DeployError('host-key-mismatch', `db1 presented ssh-ed25519 SHA256:abc`, { host: 'db1', hint: 'update known_hosts' });
    const out = buildOutputs({ command: 'preflight', mode: 'plan', environment: 'production', error }, redactor());
    expect(out).toMatchObject({ changed: 'false', 'plan-hash': '', 'failure-reason': 'host-key-mismatch' });
    expect(JSON.parse(out.result).error).toEqual({ message: 'db1 presented ssh-ed25519 SHA256:abc', hint: 'update known_hosts', host: 'db1' });
  });

  it('redacts secrets, also ones with JSON syntax, and stays valid JSON', () => {
    const tricky = 'p"w,}';
    const error = new DeployError('sudo-failed', `sudo said ${tricky} and ${SECRET}`);
    const out = buildOutputs({ command: 'preflight', mode: 'plan', environment: 'production', error }, new Redactor().add(tricky).add(SECRET));
    const result = JSON.parse(out.result);
    expect(result.error.message).toBe('sudo said *** and ***');
  });

  it('keeps the result small by dropping the tail of long lists, never the failed step', async () => {
    const changes: PlannedChange[] = Array.from({ length: 3000 }, (_, i) => ({
      kind: 'service',
      id: `service:db1:unit-${i}`,
      host: 'db1',
      summary: `restart unit-${i} ${'x'.repeat(100)}`,
      unit: `unit-${i}`,
      action: 'restart',
      apply: async () => {
        if (i === 2500) throw new Error('unit-2500 failed');
      },
    }));
    const plan = createPlan({ command: 'deploy-db', environment: 'production', changes });
    const apply = await applyPlan(plan, { logger: new MemoryLogger(), hosts });
    const result = buildResult({ command: 'deploy-db', mode: 'apply', environment: 'production', plan, apply }, redactor(), 64 * 1024);
    expect(JSON.stringify(result).length).toBeLessThanOrEqual(64 * 1024);
    expect(result.truncated!.changes).toBeGreaterThan(0);
    expect(result.changes.length + result.truncated!.changes).toBe(3000);
    expect(result.steps.length + result.truncated!.steps).toBe(3000);
    expect(result.steps.some((s) => s.status === 'failed' && s.id === 'service:db1:unit-2500')).toBe(true);
  });

  it('carries verify-ha drill figures as numbers only when drills ran', () => {
    const figures = { drill: 'db-kill', host: 'db1', effect: 'writer db1 → db2', unavailableMs: 6140, failedAttempts: 4, resumedMs: 6330, healthyAfterMs: 11420, restoreUnavailableMs: 130, acknowledged: 349, lost: 0 };
    const withDrills = buildResult({ command: 'verify-ha', mode: 'apply', environment: 'production', checks: [], drills: [figures] }, redactor());
    expect(withDrills.drills).toEqual([figures]);
    const readOnly = buildResult({ command: 'verify-ha', mode: 'plan', environment: 'production', checks: [] }, redactor());
    expect('drills' in readOnly).toBe(false);
  });
});
