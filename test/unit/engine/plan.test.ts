import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import type { PlannedChange } from '../../../src/engine/change.js';
import { DeployError } from '../../../src/errors.js';
import {
  createPlan,
  normalizePlan,
  planHash,
  planHashKeyFrom,
  stableStringify,
} from '../../../src/engine/plan.js';
const KEYED = { key: planHashKeyFrom('unit-test-plan-hash-key-0123456789abcdef') };
import { galeraConfig, SECRET, sampleChanges, sampleHosts, samplePlan } from './sample-plan.js';

/** The same object with its keys inserted in reverse order, recursively. */
function reverseKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reverseKeys) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).reverse()) out[k] = reverseKeys((value as Record<string, unknown>)[k]);
    return out as T;
  }
  return value;
}

/** A plan whose change number `index` is modified by `edit`. */
function withEdit(index: number, edit: (c: PlannedChange) => PlannedChange) {
  const changes = sampleChanges();
  changes[index] = edit(changes[index]!);
  return samplePlan({ changes });
}

describe('planHash: stability', () => {
  it('is a 64-character hex sha256', () => {
    expect(planHash(samplePlan(), KEYED)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same for the same plan built twice', () => {
    expect(planHash(samplePlan(), KEYED)).toBe(planHash(samplePlan(), KEYED));
  });

  it('does not depend on key order', () => {
    const shuffled = sampleChanges().map((c) => ({ ...reverseKeys(c), apply: c.apply }));
    expect(Object.keys(shuffled[1]!)[0]).not.toBe(Object.keys(sampleChanges()[1]!)[0]);
    expect(planHash(samplePlan({ changes: shuffled }), KEYED)).toBe(planHash(samplePlan(), KEYED));
  });

  it('ignores what differs between runs and machines: facts, warnings, metadata, host order, apply closures', () => {
    const base = planHash(samplePlan(), KEYED);
    const other = createPlan({
      command: 'deploy-db',
      environment: 'production',
      changes: sampleChanges().map((c) => ({ ...c, apply: async () => void c.id.length })),
      warnings: ['disk /var is 91% full on db2'],
      hosts: [...sampleHosts()].reverse().map((h) => ({ ...h, facts: { ...h.facts, uptime: '9 days', free: '12G' } })),
      meta: { generatedAt: '2027-01-01T00:00:00Z', runner: 'laptop-of-someone', version: '9.9.9' },
    });
    expect(planHash(other, KEYED)).toBe(base);
  });

  it('treats a known content and its bare sha256 the same', () => {
    const before = galeraConfig('10.0.0.11,10.0.0.12');
    const plan = withEdit(1, (c) =>
      c.kind === 'file'
        ? { ...c, before: { ...c.before!, content: undefined, sha256: createHash('sha256').update(before).digest('hex') } }
        : c,
    );
    expect(planHash(plan, KEYED)).toBe(planHash(samplePlan(), KEYED));
  });

  it('is pinned: the normalization is a compatibility contract between the plan run and the apply run', () => {
    // If this changes, reviewed plans from the previous version no longer apply:
    // bump PLAN_HASH_VERSION deliberately and update the value.
    const plan = createPlan({
      command: 'provision',
      environment: 'staging',
      changes: [
        {
          kind: 'service',
          id: 'service:a:chrony:enable',
          host: 'a',
          summary: 'enable chrony',
          unit: 'chrony',
          action: 'enable',
          apply: async () => {},
        },
      ],
    });
    expect(stableStringify(normalizePlan(plan))).toBe(
      '{"changes":[{"action":"enable","host":"a","id":"service:a:chrony:enable","kind":"service","summary":"enable chrony","unit":"chrony"}],"command":"provision","environment":"staging","version":"lms-ha/plan/v1"}',
    );
    // sha256 of the string above, computed independently with sha256sum.
    expect(planHash(plan, KEYED)).toBe('49d200bc5bbdbd8dca68e4a8cd834de5c537ffb7d4452c54172036459fc73b7d');
  });
});

describe('planHash: sensitivity', () => {
  const base = planHash(samplePlan(), KEYED);
  const cases: [string, () => ReturnType<typeof samplePlan>][] = [
    ['package version', () => withEdit(0, (c) => ({ ...c, to: '1:10.11.7-0+deb12u1' }) as PlannedChange)],
    ['package was installed', () => withEdit(0, (c) => ({ ...c, from: '1:10.11.5' }) as PlannedChange)],
    ['file content', () => withEdit(1, (c) => (c.kind === 'file' ? { ...c, after: { ...c.after!, content: c.after!.content + 'x\n' } } : c))],
    ['file mode', () => withEdit(1, (c) => (c.kind === 'file' ? { ...c, after: { ...c.after!, mode: 0o640 } } : c))],
    ['file owner', () => withEdit(1, (c) => (c.kind === 'file' ? { ...c, after: { ...c.after!, owner: 'mysql' } } : c))],
    ['file path', () => withEdit(1, (c) => ({ ...c, path: '/etc/mysql/conf.d/galera.cnf' }) as PlannedChange)],
    ['file deleted instead', () => withEdit(1, (c) => ({ ...c, after: null }) as PlannedChange)],
    ['sensitive content', () => withEdit(2, (c) => (c.kind === 'file' ? { ...c, after: { ...c.after!, content: c.after!.content + '#\n' } } : c))],
    ['sensitive flag', () => withEdit(2, (c) => ({ ...c, sensitive: false }) as PlannedChange)],
    ['service action', () => withEdit(3, (c) => ({ ...c, action: 'reload' }) as PlannedChange)],
    ['sql detail', () => withEdit(4, (c) => ({ ...c, detail: 'password changed, host changed' }) as PlannedChange)],
    ['sql fingerprint (new password)', () => withEdit(4, (c) => ({ ...c, fingerprint: 'hmac:fedcba9876543210' }) as PlannedChange)],
    ['cluster step', () => withEdit(5, (c) => ({ ...c, step: 'bootstrap' }) as PlannedChange)],
    ['change host', () => withEdit(3, (c) => ({ ...c, host: 'db2' }) as PlannedChange)],
    ['summary wording', () => withEdit(3, (c) => ({ ...c, summary: 'restart mariadb now' }) as PlannedChange)],
    ['apply order', () => samplePlan({ changes: [...sampleChanges()].reverse() })],
    ['one change less', () => samplePlan({ changes: sampleChanges().slice(1) })],
    ['no changes', () => samplePlan({ changes: [] })],
  ];
  it.each(cases)('changes when the %s changes', (_name, make) => {
    expect(planHash(make(), KEYED)).not.toBe(base);
  });

  it('changes with the command and the environment', () => {
    const plan = samplePlan();
    expect(planHash({ ...plan, command: 'deploy-lb' }, KEYED)).not.toBe(base);
    expect(planHash({ ...plan, environment: 'staging' }, KEYED)).not.toBe(base);
  });

  it('keys sensitive content digests: another key gives another hash, but only through sensitive files', () => {
    const k1 = { key: planHashKeyFrom('k1'.repeat(16)) };
    const k2 = { key: planHashKeyFrom('k2'.repeat(16)) };
    expect(planHash(samplePlan(), k1)).not.toBe(planHash(samplePlan(), k2));
    const noSensitive = samplePlan({ changes: sampleChanges().filter((c) => !(c.kind === 'file' && c.sensitive)) });
    expect(planHash(noSensitive, k1)).toBe(planHash(noSensitive, k2));
  });

  it('never puts sensitive content (or its plain digest) in the normalized plan', () => {
    const text = stableStringify(normalizePlan(samplePlan(), KEYED));
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('old-password');
    const after = `[client]\nuser = root\npassword = ${SECRET}\n`;
    expect(text).not.toContain(createHash('sha256').update(after).digest('hex'));
  });

  it('refuses timestamps in changes', () => {
    const plan = withEdit(3, (c) => ({ ...c, at: new Date() }) as unknown as PlannedChange);
    expect(() => planHash(plan, KEYED)).toThrow(/timestamps/);
  });
});

describe('createPlan', () => {
  it('rejects two changes with the same id', () => {
    const changes = sampleChanges();
    changes.push({ ...changes[0]! });
    expect(() => samplePlan({ changes })).toThrow(DeployError);
    expect(() => samplePlan({ changes })).toThrow(/same id "package:db1:mariadb-server"/);
  });

  it('rejects a change for a host that is not in the plan', () => {
    const changes = sampleChanges();
    changes[3] = { ...changes[3]!, host: 'db9' };
    expect(() => samplePlan({ changes })).toThrow(/host "db9"/);
  });

  it('sorts hosts by name and their roles', () => {
    const plan = samplePlan();
    expect(plan.hosts.map((h) => h.name)).toEqual(['db1', 'db2', 'lb1']);
    expect(plan.hosts[0]!.roles).toEqual(['db', 'storage']);
  });
});
