import { describe, expect, it } from 'vitest';
import { planHashKeyFrom } from '../../../src/engine/plan.js';
const TEST_PLAN_HASH_KEY = planHashKeyFrom('report-test-plan-hash-key-0123456789abcdef');

import { applyPlan } from '../../../src/engine/executor.js';
import { planHash } from '../../../src/engine/plan.js';
import { Redactor } from '../../../src/engine/redact.js';
import { DeployError } from '../../../src/errors.js';
import { ConsoleReporter, exitCodeFor, textTable } from '../../../src/report/console-reporter.js';
import { MemoryLogger } from '../../../src/report/log.js';
import type { RemoteHost } from '../../../src/ssh/types.js';
import { SECRET, sampleChanges, samplePlan } from '../engine/sample-plan.js';

function sinks() {
  const err: string[] = [];
  const out: string[] = [];
  return { err, out, stderr: { write: (s: string) => err.push(s) }, stdout: { write: (s: string) => out.push(s) } };
}

const fakeHost = (name: string): RemoteHost => ({ name, address: name, run: async () => ({ code: 0, stdout: '', stderr: '' }), readFile: async () => null, writeFile: async () => {} });

describe('ConsoleReporter', () => {
  it('prints problems as file:line:col: message on stderr and exits 2 for invalid input', () => {
    const s = sinks();
    const problems = [
      { file: 'ha.yml', line: 7, column: 5, message: 'unknown key "adress"' },
      { file: 'ha.yml', line: 3, column: 9, message: 'duplicate host name "db1"' },
    ];
    const error = new DeployError('invalid-inventory', 'ha.yml has 2 problems.', { problems });
    const code = new ConsoleReporter({ stderr: s.stderr, stdout: s.stdout }).report({ command: 'preflight', mode: 'plan', environment: 'production', error });
    expect(code).toBe(2);
    const text = s.err.join('');
    expect(text.startsWith('ha.yml:3:9: duplicate host name "db1"\nha.yml:7:5: unknown key "adress"\n')).toBe(true);
    expect(text).toContain('error [invalid-inventory] ha.yml has 2 problems.');
    expect(s.out).toEqual([]);
  });

  it('with --json prints only the result JSON on stdout', async () => {
    const s = sinks();
    const plan = samplePlan();
    const code = new ConsoleReporter({ stderr: s.stderr, stdout: s.stdout, json: true }).report({
      command: 'deploy-db',
      mode: 'plan',
      environment: 'production',
      plan,
      planHash: planHash(plan, { key: TEST_PLAN_HASH_KEY }),
    });
    expect(code).toBe(0);
    expect(s.out).toHaveLength(1);
    const result = JSON.parse(s.out[0]!);
    expect(result).toMatchObject({ command: 'deploy-db', status: 'ok', changed: true, planHash: planHash(plan, { key: TEST_PLAN_HASH_KEY }) });
    const text = s.err.join('');
    expect(text).toContain('HOST  ROLES       STATUS       CHANGES  NOTES');
    expect(text).toContain('Plan: deploy-db on production: 6 changes');
    expect(text).toContain('+wsrep_cluster_address = gcomm://10.0.0.11,10.0.0.12,10.0.0.13');
    expect(text).toContain('6 changes planned; nothing was changed.');
  });

  it('exits 1 for a failed apply and shows the steps, redacted', async () => {
    const s = sinks();
    const redactor = new Redactor().add(SECRET);
    const changes = sampleChanges().map((c, i) => (i === 1 ? { ...c, apply: async () => { throw new Error(`disk full near ${SECRET}`); } } : c));
    const plan = samplePlan({ changes });
    const apply = await applyPlan(plan, { logger: new MemoryLogger(), hosts: ['db1', 'db2', 'lb1'].map(fakeHost) });
    const r = new ConsoleReporter({ stderr: s.stderr, stdout: s.stdout, redactor, json: true });
    const code = r.report({ command: 'deploy-db', mode: 'apply', environment: 'production', plan, apply });
    expect(code).toBe(1);
    const text = s.err.join('') + s.out.join('');
    expect(text).not.toContain(SECRET);
    expect(text).toContain('Apply steps:');
    expect(text).toMatch(/2\s+db1\s+failed\s+\S+ ms\s+update \/etc\/mysql\/mariadb.conf.d\/60-galera.cnf \(update .*disk full near \*\*\*\)/);
    expect(text).toContain('error [apply-failed] db1:');
  });

  it('logs with host prefixes; debug only when verbose', () => {
    const s = sinks();
    const r = new ConsoleReporter({ stderr: s.stderr, stdout: s.stdout });
    r.info('connected', 'db1');
    r.warn('clock skew 3 s', 'db2');
    r.debug('hidden');
    expect(s.err).toEqual(['[db1] connected\n', 'warning: [db2] clock skew 3 s\n']);
    const v = sinks();
    new ConsoleReporter({ stderr: v.stderr, stdout: v.stdout, verbose: true }).debug('shown');
    expect(v.err).toEqual(['debug: shown\n']);
  });

  it('maps outcomes to exit codes', () => {
    const base = { command: 'preflight' as const, mode: 'plan' as const, environment: 'e' };
    expect(exitCodeFor(base)).toBe(0);
    expect(exitCodeFor({ ...base, error: new DeployError('missing-secret', 'x') })).toBe(2);
    expect(exitCodeFor({ ...base, error: new DeployError('locked', 'x') })).toBe(1);
  });

  it('aligns text tables', () => {
    expect(textTable(['A', 'BB'], [['long', 'x'], ['s', 'y']])).toBe('A     BB\nlong  x\ns     y');
  });
});
