import { describe, expect, it } from 'vitest';
import { planHashKeyFrom } from '../../../src/engine/plan.js';
const TEST_PLAN_HASH_KEY = planHashKeyFrom('report-test-plan-hash-key-0123456789abcdef');

import type { PlannedChange } from '../../../src/engine/change.js';
import { applyPlan } from '../../../src/engine/executor.js';
import { createPlan, planHash } from '../../../src/engine/plan.js';
import { Redactor } from '../../../src/engine/redact.js';
import { DeployError } from '../../../src/errors.js';
import { MemoryLogger } from '../../../src/report/log.js';
import { byteLength } from '../../../src/report/markdown.js';
import { hostRows } from '../../../src/report/run-report.js';
import { buildJobSummary, SUMMARY_MAX_BYTES } from '../../../src/report/summary.js';
import type { RemoteHost } from '../../../src/ssh/types.js';
import { SECRET, sampleChanges, samplePlan } from '../engine/sample-plan.js';

const redactor = () => new Redactor().add(SECRET);
const fakeHost = (name: string): RemoteHost => ({ name, address: name, run: async () => ({ code: 0, stdout: '', stderr: '' }), readFile: async () => null, writeFile: async () => {} });
const hosts = ['db1', 'db2', 'lb1'].map(fakeHost);

describe('buildJobSummary', () => {
  it('plan mode: the per-host table comes first, then the plan, then the diffs', () => {
    const plan = samplePlan();
    const md = buildJobSummary({ command: 'deploy-db', mode: 'plan', environment: 'production', plan, planHash: planHash(plan, { key: TEST_PLAN_HASH_KEY }) }, { redactor: redactor() });
    const lines = md.split('\n');
    expect(lines[0]).toBe('## ✅ lms-ha `deploy-db` · plan · `production`');
    const firstTable = lines.findIndex((l) => l.startsWith('|'));
    expect(lines[firstTable]).toBe('| host | roles | status | changes | notes |');
    expect(lines.slice(firstTable + 2, firstTable + 5)).toEqual([
      '| db1 | db, storage | 📝 will change | 5 |  |',
      '| db2 | db | 📝 will change | 1 |  |',
      '| lb1 | lb | ✅ no changes | 0 |  |',
    ]);
    expect(md.indexOf('| host | roles | status')).toBeLessThan(md.indexOf('Changes, in apply order'));
    expect(md.indexOf('Changes, in apply order')).toBeLessThan(md.indexOf('```diff'));
    expect(md).toContain(`Plan: 6 changes to apply, plan hash \`${planHash(plan, { key: TEST_PLAN_HASH_KEY })}\`. Nothing was changed.`);
    // The plan's own host table is not repeated.
    expect(md).not.toContain('| host | roles | changes | kinds | facts |');
    expect(md).not.toContain(SECRET);
  });

  it('apply mode: per-host status from the steps, then the step table, then the failure', async () => {
    const changes: PlannedChange[] = sampleChanges().map((c) =>
      c.id === 'sql:db1:user:moodle'
        ? { ...c, apply: async () => { throw new Error(`ERROR 1045: Access denied (using password: ${SECRET})`); } }
        : c,
    );
    const plan = samplePlan({ changes });
    const apply = await applyPlan(plan, { logger: new MemoryLogger(), hosts, redactor: redactor() });
    const report = { command: 'deploy-db' as const, mode: 'apply' as const, environment: 'production', plan, apply };
    const md = buildJobSummary(report, { redactor: redactor() });
    expect(md.split('\n')[0]).toBe('## ❌ lms-ha `deploy-db` · apply · `production`');
    expect(md).toContain('| db1 | db, storage | ❌ failed | 5 | alter user \'moodle\'@\'10.0.0.%\': ERROR 1045: Access denied (using password: ***) |');
    expect(md).toContain('| db2 | db | ⏭️ skipped | 1 | 1 change skipped after a failure |');
    expect(md).toContain('Apply failed (`apply-failed`): 4 of 6 changes applied, 1 skipped.');
    expect(md).toContain('> **Failed (`apply-failed`) on `db1`:**');
    expect(md).toContain('| 5 | db1 | alter user \'moodle\'@\'10.0.0.%\' | ❌ failed |');
    expect(md).toContain('| 6 | db2 | join db2 to the cluster | ⏭️ skipped |  |  |');
    expect(md).not.toContain(SECRET);
    expect(hostRows(report).map((r) => r.status)).toEqual(['failed', 'skipped', 'no changes']);
  });

  it('a locked run names the holder and marks its host', () => {
    const error = new DeployError('locked', 'Environment "production" is locked by run 9 of acme/infra, on host db2.', {
      host: 'db2',
      hint: 'Wait for that run to finish.',
    });
    const md = buildJobSummary(
      { command: 'deploy-db', mode: 'apply', environment: 'production', plan: samplePlan(), error },
      { redactor: redactor() },
    );
    expect(md).toContain('| db2 | db | ❌ failed | 1 | Environment "production" is locked by run 9 of acme/infra, on host db2. |');
    expect(md).toContain('> **Failed (`locked`) on `db2`:** Environment "production" is locked by run 9');
    expect(md).toContain('> Wait for that run to finish.');
  });

  it('lists every input problem, saying how many were not annotations', () => {
    const problems = Array.from({ length: 13 }, (_, i) => ({ file: 'ha.yml', line: i + 1, column: 5, message: `bad key ${i + 1}` }));
    const error = new DeployError('invalid-inventory', 'The inventory has 13 problems.', { problems });
    const md = buildJobSummary({ command: 'preflight', mode: 'plan', environment: 'production', error }, { redactor: redactor() });
    expect(md).toContain('### Problems (13)');
    expect(md).toContain('10 are shown as annotations on the file; GitHub shows at most 10 per type per step, so 3 more are listed only here.');
    expect(md).toContain('ha.yml:1:5: bad key 1\n');
    expect(md).toContain('ha.yml:13:5: bad key 13\n');
  });

  it('redacts secrets in errors, hints and explicit rows', () => {
    const error = new DeployError('ssh-failed', `auth failed for ${SECRET}`, { hint: `check ${SECRET}` });
    const md = buildJobSummary(
      {
        command: 'preflight',
        mode: 'plan',
        environment: 'production',
        error,
        hosts: [{ name: 'db1', roles: ['db'], status: 'failed', changes: 0, notes: `key ${SECRET}` }],
      },
      { redactor: redactor() },
    );
    expect(md).not.toContain(SECRET);
    expect(md).toContain('auth failed for ***');
    // The same summary without the secret registered would leak it: the test can fail.
    expect(buildJobSummary({ command: 'preflight', mode: 'plan', environment: 'production', error }, { redactor: new Redactor() })).toContain(SECRET);
  });

  it('is capped well under 1 MiB, keeping the host table and ending with a note', () => {
    // 400 new files of 400 lines each: several MiB of diff.
    const changes: PlannedChange[] = Array.from({ length: 400 }, (_, i) => ({
      kind: 'file',
      id: `file:db1:/srv/f${i}`,
      host: 'db1',
      summary: `create /srv/f${i}`,
      path: `/srv/f${i}`,
      before: null,
      after: { content: Array.from({ length: 400 }, (_, j) => `line ${j} of file ${i} with some padding text`).join('\n') },
      sensitive: false,
      apply: async () => {},
    }));
    const plan = createPlan({ command: 'migrate-storage', environment: 'production', changes, hosts: [{ name: 'db1', roles: ['db'], facts: {} }] });
    const md = buildJobSummary({ command: 'migrate-storage', mode: 'plan', environment: 'production', plan }, { redactor: redactor() });
    expect(byteLength(md)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    expect(byteLength(md)).toBeGreaterThan(SUMMARY_MAX_BYTES - 10 * 1024);
    expect(md).toContain('| db1 | db | 📝 will change | 400 |  |');
    expect(md.trimEnd()).toMatch(/This summary was truncated: [\d.]+ MiB of details were left out .*`result` output and in the job log\.$/);
    // The cut never leaves a code block open.
    const fences = md.split('\n').filter((l) => /^`{3,}/.test(l));
    expect(fences.length % 2).toBe(0);
  });

  it('respects a smaller cap', () => {
    const md = buildJobSummary({ command: 'deploy-db', mode: 'plan', environment: 'production', plan: samplePlan() }, { redactor: redactor(), maxBytes: 1500 });
    expect(byteLength(md)).toBeLessThanOrEqual(1500);
    expect(md).toContain('| host | roles | status | changes | notes |');
    expect(md).toContain('truncated');
  });
});
