import { describe, expect, it } from 'vitest';

import type { ApplyContext, PlannedChange } from '../../../src/engine/change.js';
import { applyPlan, verifyReviewedPlan } from '../../../src/engine/executor.js';
import { createPlan, planHash, planHashKeyFrom } from '../../../src/engine/plan.js';
import { Redactor } from '../../../src/engine/redact.js';
import { DeployError } from '../../../src/errors.js';
import { MemoryLogger } from '../../../src/report/log.js';
import type { RemoteHost } from '../../../src/ssh/types.js';
import { samplePlan } from './sample-plan.js';

function host(name: string): RemoteHost {
  return {
    name,
    address: `10.0.0.${name.length}`,
    run: async () => {
      throw new Error('the executor must not run commands itself');
    },
    readFile: async () => null,
    writeFile: async () => {},
  };
}

const hosts = [host('db1'), host('db2'), host('db3')];

/** Service changes whose apply records the order and can fail. */
function changes(calls: string[], fail: Record<string, unknown> = {}): PlannedChange[] {
  return ['db1', 'db2', 'db3', 'db1'].map((h, i) => ({
    kind: 'service',
    id: `service:${h}:mariadb:${i}`,
    host: h,
    summary: `restart mariadb #${i + 1}`,
    unit: 'mariadb',
    action: 'restart',
    apply: async (ctx: ApplyContext) => {
      calls.push(`${ctx.host.name}:${ctx.change.id}`);
      const f = fail[`service:${h}:mariadb:${i}`];
      if (f) throw f;
    },
  }));
}

function plan(list: PlannedChange[]) {
  return createPlan({ command: 'deploy-db', environment: 'production', changes: list });
}

/** A clock that advances 5 ms per reading. */
function clock() {
  let t = 1000;
  return () => (t += 5);
}

describe('applyPlan', () => {
  it('applies every change in plan order, on the change host, and records each step', async () => {
    const calls: string[] = [];
    const logger = new MemoryLogger();
    const result = await applyPlan(plan(changes(calls)), { logger, hosts, now: clock() });
    expect(calls).toEqual(['db1:service:db1:mariadb:0', 'db2:service:db2:mariadb:1', 'db3:service:db3:mariadb:2', 'db1:service:db1:mariadb:3']);
    expect(result.status).toBe('ok');
    expect(result.changed).toBe(true);
    expect(result.error).toBeUndefined();
    expect(result.steps.map((s) => [s.id, s.status, s.durationMs])).toEqual([
      ['service:db1:mariadb:0', 'ok', 5],
      ['service:db2:mariadb:1', 'ok', 5],
      ['service:db3:mariadb:2', 'ok', 5],
      ['service:db1:mariadb:3', 'ok', 5],
    ]);
    expect(logger.lines[0]).toBe('[db1] [1/4] restart mariadb #1');
  });

  it('does not run one change before the previous one has finished', async () => {
    let running = 0;
    let maxRunning = 0;
    const list = changes([]).map((c) => ({
      ...c,
      apply: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
      },
    }));
    await applyPlan(plan(list), { logger: new MemoryLogger(), hosts });
    expect(maxRunning).toBe(1);
  });

  it('stops at the first failure: later steps are skipped, never attempted', async () => {
    const calls: string[] = [];
    const result = await applyPlan(plan(changes(calls, { 'service:db2:mariadb:1': new Error('Job for mariadb.service failed') })), {
      logger: new MemoryLogger(),
      hosts,
      now: clock(),
    });
    expect(calls).toEqual(['db1:service:db1:mariadb:0', 'db2:service:db2:mariadb:1']);
    expect(result.status).toBe('failed');
    expect(result.changed).toBe(true);
    expect(result.steps.map((s) => s.status)).toEqual(['ok', 'failed', 'skipped', 'skipped']);
    expect(result.steps[1]!.error).toBe('restart mariadb #2: Job for mariadb.service failed');
    expect(result.steps[1]!.reason).toBe('apply-failed');
    expect(result.steps[2]!.durationMs).toBe(0);
    expect(result.error).toBeInstanceOf(DeployError);
    expect(result.error!.reason).toBe('apply-failed');
    expect(result.error!.host).toBe('db2');
  });

  it('reports nothing changed when the first step fails', async () => {
    const result = await applyPlan(plan(changes([], { 'service:db1:mariadb:0': new Error('boom') })), {
      logger: new MemoryLogger(),
      hosts,
    });
    expect(result.changed).toBe(false);
    expect(result.steps.map((s) => s.status)).toEqual(['failed', 'skipped', 'skipped', 'skipped']);
  });

  it("keeps a DeployError's reason (a safety gate refusing)", async () => {
    const gate = new DeployError('cluster-unhealthy', 'db3 is Donor/Desynced, not Synced', { hint: 'wait for SST' });
    const result = await applyPlan(plan(changes([], { 'service:db3:mariadb:2': gate })), { logger: new MemoryLogger(), hosts });
    expect(result.error!.reason).toBe('cluster-unhealthy');
    expect(result.error!.host).toBe('db3');
    expect(result.error!.hint).toBe('wait for SST');
    expect(result.steps[2]!.reason).toBe('cluster-unhealthy');
  });

  it('redacts secrets from recorded errors and logs', async () => {
    const secret = 'Pa55-w0rd!';
    const logger = new MemoryLogger();
    const result = await applyPlan(plan(changes([], { 'service:db1:mariadb:0': new Error(`access denied, password ${secret}`) })), {
      logger,
      hosts,
      redactor: new Redactor().add(secret),
    });
    expect(result.steps[0]!.error).toBe('restart mariadb #1: access denied, password ***');
    expect(result.error!.message).not.toContain(secret);
    expect(logger.lines.join('\n')).not.toContain(secret);
  });

  it('runs nothing when a change targets a host without a connection', async () => {
    const calls: string[] = [];
    const result = await applyPlan(plan(changes(calls)), { logger: new MemoryLogger(), hosts: [host('db1'), host('db2')] });
    expect(calls).toEqual([]);
    expect(result.status).toBe('failed');
    expect(result.changed).toBe(false);
    expect(result.error!.message).toContain('db3');
    expect(result.steps.every((s) => s.status === 'skipped')).toBe(true);
  });

  it('succeeds with nothing changed for an empty plan', async () => {
    const result = await applyPlan(plan([]), { logger: new MemoryLogger(), hosts: new Map() });
    expect(result).toMatchObject({ status: 'ok', changed: false, steps: [] });
  });

  it('gives the apply function the data of the change, without the apply function', async () => {
    let seen: unknown;
    const list = changes([]).slice(0, 1).map((c) => ({ ...c, apply: async (ctx: ApplyContext) => void (seen = ctx.change) }));
    await applyPlan(plan(list), { logger: new MemoryLogger(), hosts: new Map(hosts.map((h) => [h.name, h])) });
    expect(seen).toMatchObject({ id: 'service:db1:mariadb:0', unit: 'mariadb' });
    expect(seen).not.toHaveProperty('apply');
  });
});

describe('verifyReviewedPlan', () => {
  const p = samplePlan();
  const key = { key: planHashKeyFrom('executor-test-plan-hash-key-0123456789') };
  const hash = planHash(p, key);

  it('passes without a reviewed hash (manual or scheduled run) and returns the fresh hash', () => {
    expect(verifyReviewedPlan(undefined, p, key)).toBe(hash);
    expect(verifyReviewedPlan('  ', p, key)).toBe(hash);
  });

  it('passes when the reviewed hash is the fresh one, in any usual spelling', () => {
    expect(verifyReviewedPlan(hash, p, key)).toBe(hash);
    expect(verifyReviewedPlan(`sha256:${hash.toUpperCase()}\n`, p, key)).toBe(hash);
  });

  it('refuses with plan-changed and a hint when the plan moved', () => {
    const reviewed = planHash(samplePlan({ changes: [] }), key);
    try {
      verifyReviewedPlan(reviewed, p, key);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DeployError);
      const e = error as DeployError;
      expect(e.reason).toBe('plan-changed');
      expect(e.message).toContain(reviewed.slice(0, 12));
      expect(e.message).toContain(hash.slice(0, 12));
      expect(e.message).toContain('Nothing was applied');
      expect(e.hint).toMatch(/Review the new plan/);
    }
  });

  it('refuses a malformed hash as invalid input', () => {
    expect(() => verifyReviewedPlan('abc123', p, key)).toThrow(expect.objectContaining({ reason: 'invalid-input' }));
  });
});
