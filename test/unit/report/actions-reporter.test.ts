import { describe, expect, it } from 'vitest';
import { planHashKeyFrom } from '../../../src/engine/plan.js';
const TEST_PLAN_HASH_KEY = planHashKeyFrom('report-test-plan-hash-key-0123456789abcdef');

import { createPlan, planHash } from '../../../src/engine/plan.js';
import { Redactor } from '../../../src/engine/redact.js';
import { DeployError } from '../../../src/errors.js';
import { ActionsReporter, type CoreApi } from '../../../src/report/actions-reporter.js';
import { SECRET, samplePlan } from '../engine/sample-plan.js';

type Call = [string, ...unknown[]];

/** Records every call in order, like the runner would see them. */
function fakeCore(options: { failSummary?: boolean } = {}) {
  const calls: Call[] = [];
  const summaries: string[] = [];
  const core: CoreApi = {
    info: (m) => void calls.push(['info', m]),
    debug: (m) => void calls.push(['debug', m]),
    warning: (m, p) => void calls.push(['warning', m, p]),
    error: (m, p) => void calls.push(['error', m, p]),
    notice: (m, p) => void calls.push(['notice', m, p]),
    startGroup: (n) => void calls.push(['startGroup', n]),
    endGroup: () => void calls.push(['endGroup']),
    setOutput: (n, v) => void calls.push(['setOutput', n, v]),
    setFailed: (m) => void calls.push(['setFailed', m]),
    setSecret: (s) => void calls.push(['setSecret', s]),
    summary: {
      addRaw(text: string) {
        return {
          write: async () => {
            if (options.failSummary) throw new Error('GITHUB_STEP_SUMMARY not set');
            summaries.push(text);
            calls.push(['summary.write']);
          },
        };
      },
    },
  };
  return { core, calls, summaries, of: (name: string) => calls.filter((c) => c[0] === name) };
}

describe('ActionsReporter as the Logger', () => {
  it('masks a registered secret in the runner (setSecret) and in every line it prints', () => {
    const { core, of } = fakeCore();
    const r = new ActionsReporter({ core });
    r.registerSecret(SECRET);
    r.info(`connecting with ${SECRET}`, 'db1');
    r.debug(`base64 ${Buffer.from(SECRET).toString('base64')}`);
    expect(of('setSecret')).toEqual([['setSecret', SECRET]]);
    expect(of('info')).toEqual([['info', '[db1] connecting with ***']]);
    expect(of('debug')).toEqual([['debug', 'base64 ***']]);
  });

  it('forwards secrets added straight to its redactor to setSecret, once each', () => {
    const { core, of } = fakeCore();
    const r = new ActionsReporter({ core });
    r.redactor.add('derived-sst-password');
    r.registerSecret('derived-sst-password');
    expect(of('setSecret')).toEqual([['setSecret', 'derived-sst-password']]);
  });

  it('with a redactor of its own, still calls setSecret on registerSecret', () => {
    const { core, of } = fakeCore();
    const r = new ActionsReporter({ core, redactor: new Redactor() });
    r.registerSecret('abc123xyz');
    r.info('abc123xyz');
    expect(of('setSecret')).toEqual([['setSecret', 'abc123xyz']]);
    expect(of('info')).toEqual([['info', '***']]);
  });

  it('turns warnings into annotations up to the per-step budget, then plain lines', () => {
    const { core, of } = fakeCore();
    const r = new ActionsReporter({ core, annotationLimit: 2 });
    r.warn('one');
    r.warn('two', 'db1');
    r.warn('three');
    expect(of('warning').map((c) => c[1])).toEqual(['one', '[db1] two']);
    expect(of('info')).toEqual([['info', 'Warning: three']]);
  });

  it('opens one log group at a time (Actions groups do not nest)', async () => {
    const { core, calls } = fakeCore();
    const r = new ActionsReporter({ core });
    const value = await r.group('outer', async () => {
      await r.group('inner', async () => r.info('x'));
      return 42;
    });
    expect(value).toBe(42);
    expect(calls).toEqual([['startGroup', 'outer'], ['info', '— inner'], ['info', 'x'], ['endGroup']]);
  });

  it('closes the group when the work throws', async () => {
    const { core, calls } = fakeCore();
    const r = new ActionsReporter({ core });
    await expect(r.group('g', async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(calls.at(-1)).toEqual(['endGroup']);
    await r.group('again', async () => {});
    expect(calls.filter((c) => c[0] === 'startGroup')).toHaveLength(2);
  });
});

describe('ActionsReporter.report', () => {
  it('a successful plan: summary, the four outputs, no failure', async () => {
    const { core, of, summaries } = fakeCore();
    const plan = samplePlan();
    const hash = planHash(plan, { key: TEST_PLAN_HASH_KEY });
    const outputs = await new ActionsReporter({ core }).report({ command: 'deploy-db', mode: 'plan', environment: 'production', plan, planHash: hash });
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toContain('| host | roles | status | changes | notes |');
    expect(of('setOutput').map((c) => c[1])).toEqual(['result', 'changed', 'plan-hash', 'failure-reason']);
    expect(Object.fromEntries(of('setOutput').map((c) => [c[1], c[2]]))).toMatchObject({ changed: 'true', 'plan-hash': hash, 'failure-reason': '' });
    expect(outputs['plan-hash']).toBe(hash);
    expect(of('setFailed')).toEqual([]);
  });

  it('an invalid inventory: 10 error annotations on the file, all problems in the summary, failure-reason and setFailed', async () => {
    const { core, of, summaries, calls } = fakeCore();
    const problems = Array.from({ length: 12 }, (_, i) => ({ file: 'ha.yml', line: 12 - i, column: 3, message: `problem ${12 - i}` }));
    const error = new DeployError('invalid-inventory', 'ha.yml has 12 problems.', { problems, hint: 'Fix them and run again.' });
    await new ActionsReporter({ core }).report({ command: 'preflight', mode: 'plan', environment: 'production', error });
    const errors = of('error');
    expect(errors).toHaveLength(10);
    expect(errors[0]).toEqual(['error', 'problem 1', { title: undefined, file: 'ha.yml', startLine: 1, startColumn: 3 }]);
    expect(errors[9]![2]).toMatchObject({ startLine: 10 });
    expect(summaries[0]).toContain('ha.yml:12:3: problem 12');
    expect(Object.fromEntries(of('setOutput').map((c) => [c[1], c[2]]))['failure-reason']).toBe('invalid-inventory');
    expect(of('setFailed')).toEqual([['setFailed', 'ha.yml has 12 problems.\nFix them and run again.']]);
    // Failure last, after the summary and outputs are written.
    expect(calls.at(-1)![0]).toBe('setFailed');
  });

  it('never lets a secret reach core, in any channel', async () => {
    const { core, calls, summaries } = fakeCore();
    const r = new ActionsReporter({ core });
    r.registerSecret(SECRET);
    const error = new DeployError('locked', `locked by run with token ${SECRET}`, { host: 'db1', hint: `ask ${encodeURIComponent(SECRET)}` });
    await r.report({
      command: 'deploy-db',
      mode: 'apply',
      environment: 'production',
      plan: createPlan({ command: 'deploy-db', environment: 'production', changes: [] }),
      error,
      problems: [{ file: 'ha.yml', line: 1, column: 1, message: `inline ${SECRET}` }],
    });
    const everything = JSON.stringify(calls.filter((c) => c[0] !== 'setSecret')) + summaries.join('');
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(encodeURIComponent(SECRET));
    expect(everything).toContain('locked by run with token ***');
  });

  it('still sets outputs and fails the step when the summary cannot be written', async () => {
    const { core, of } = fakeCore({ failSummary: true });
    await new ActionsReporter({ core }).report({ command: 'preflight', mode: 'plan', environment: 'p', error: new DeployError('ssh-failed', 'x') });
    expect(of('info').map((c) => c[1])).toContain('Warning: could not write the job summary: GITHUB_STEP_SUMMARY not set');
    expect(of('setOutput')).toHaveLength(4);
    expect(of('setFailed')).toHaveLength(1);
  });

  it('annotations share the warning budget with log warnings', () => {
    const { core, of } = fakeCore();
    const r = new ActionsReporter({ core, annotationLimit: 3 });
    r.warn('insecure host key check');
    const rest = r.annotate(Array.from({ length: 4 }, (_, i) => ({ file: 'ha.yml', line: i + 1, column: 1, message: `w${i}`, severity: 'warning' as const })));
    expect(of('warning')).toHaveLength(3);
    expect(rest.map((a) => a.message)).toEqual(['w2', 'w3']);
  });
});
