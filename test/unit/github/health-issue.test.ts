import { beforeEach, describe, expect, it } from 'vitest';
import {
  HEALTH_LABEL,
  buildHealthMarker,
  decideHealthAction,
  healthIssueTitle,
  healthIssuesFor,
  parseHealthMarker,
  renderFailureComment,
  renderHealthIssueBody,
  renderRecoveryComment,
  reportHealth,
  type VerifyOutcome,
} from '../../../src/github/health-issue.js';
import type { Issue } from '../../../src/github/port.js';
import { GITHUB_BODY_LIMIT } from './fake-github-server.js';
import { FakePort } from './fake-port.js';

const TABLE =
  '| layer | host | check | expected | observed |\n|---|---|---|---|---|\n| galera | node2 | wsrep_local_state | 4 (Synced) | 2 (Donor/Desynced) |\n';

function outcome(passed: boolean, overrides: Partial<VerifyOutcome> = {}): VerifyOutcome {
  return {
    environment: 'production',
    passed,
    ...(passed ? {} : { failureReason: 'verify-failed' }),
    report: passed ? '' : TABLE,
    runUrl: 'https://github.test/o/r/actions/runs/11',
    at: '2026-11-02T03:17:00Z',
    ...overrides,
  };
}

function issue(partial: Partial<Issue>): Issue {
  return {
    number: 1,
    title: 't',
    body: buildHealthMarker('production'),
    state: 'open',
    labels: [HEALTH_LABEL],
    author: 'github-actions[bot]',
    createdAt: '2026-11-01T00:00:00Z',
    url: 'u',
    ...partial,
  };
}

describe('health marker and decision (pure)', () => {
  it('has the documented marker', () => {
    expect(buildHealthMarker('production')).toBe('<!-- lms-ha-health: {"environment":"production"} -->');
    expect(parseHealthMarker(`${buildHealthMarker('staging')}\nx`)).toEqual({ environment: 'staging' });
    expect(parseHealthMarker('<!-- lms-ha-health: {"environment":3} -->')).toBeUndefined();
    expect(parseHealthMarker('no marker')).toBeUndefined();
    expect(healthIssueTitle('production')).toBe('verify-ha failing: production');
  });

  it.each([
    [false, 0, 'create'],
    [false, 1, 'update'],
    [true, 1, 'close'],
    [true, 0, 'noop'],
  ] as const)('passed=%s with %i open issue(s) -> %s', (passed, open, kind) => {
    const issues = open ? [issue({})] : [];
    expect(decideHealthAction(passed, issues).kind).toBe(kind);
  });

  it('acts on the oldest issue and lists the others as duplicates', () => {
    const d = decideHealthAction(false, [issue({ number: 3 }), issue({ number: 5 })]);
    expect(d).toMatchObject({ kind: 'update', issue: { number: 3 }, duplicates: [{ number: 5 }] });
  });

  it('needs both the label and the marker of the environment', () => {
    const issues = [
      issue({ number: 1, createdAt: '2026-11-03T00:00:00Z' }),
      issue({ number: 2, labels: [] }),
      issue({ number: 3, body: 'verify-ha failing: production (written by a human)' }),
      issue({ number: 4, body: buildHealthMarker('staging') }),
      issue({ number: 5, body: `quoted:\n${buildHealthMarker('production')}` }),
      issue({ number: 6, state: 'closed' }),
      issue({ number: 7, createdAt: '2026-11-02T00:00:00Z' }),
    ];
    expect(healthIssuesFor(issues, 'production').map((i) => i.number)).toEqual([7, 1]);
  });

  it('renders a body with the marker first, the latest run, the reason and the table', () => {
    const body = renderHealthIssueBody(outcome(false), '2026-11-01T03:17:00Z');
    expect(body.split('\n')[0]).toBe(buildHealthMarker('production'));
    expect(body).toContain(
      'Latest: [this run](https://github.test/o/r/actions/runs/11) at 2026-11-02T03:17:00Z failed with `verify-failed`. Failing since 2026-11-01T03:17:00Z.',
    );
    expect(body).toContain(TABLE.trimEnd());
    expect(renderFailureComment(outcome(false))).toContain('❌ **Still failing** on `production`');
    expect(renderRecoveryComment(outcome(true))).toContain('✅ **Passing again** on `production`');
  });

  it('keeps a huge report under the body limit', () => {
    const report = `${TABLE}${'| galera | nodeX | check | a | b |\n'.repeat(5000)}`;
    expect(renderHealthIssueBody(outcome(false, { report })).length).toBeLessThan(GITHUB_BODY_LIMIT);
    expect(renderFailureComment(outcome(false, { report })).length).toBeLessThan(GITHUB_BODY_LIMIT);
  });
});

describe('reportHealth against the fake port', () => {
  let port: FakePort;
  beforeEach(() => {
    port = new FakePort();
  });

  it('does nothing when passing and no issue is open', async () => {
    expect(await reportHealth(port, outcome(true))).toEqual({ action: 'noop', duplicatesClosed: [], warnings: [] });
    expect(port.calls).toEqual([`listOpenIssuesWithLabel ${HEALTH_LABEL}`]);
  });

  it('creates, then comments and refreshes, then comments and closes', async () => {
    const created = await reportHealth(port, outcome(false));
    expect(created.action).toBe('created');
    const [opened] = port.issues;
    expect(opened).toMatchObject({ title: 'verify-ha failing: production', labels: [HEALTH_LABEL], state: 'open' });

    const second = outcome(false, {
      report: TABLE.replace('node2', 'node3'),
      at: '2026-11-03T03:17:00Z',
      runUrl: 'https://github.test/o/r/actions/runs/12',
    });
    const updated = await reportHealth(port, second);
    expect(updated).toMatchObject({ action: 'updated', issue: { number: opened!.number } });
    expect(port.allComments(opened!.number)[0]!.body).toContain('| node3 |');
    expect(port.issues[0]!.body).toContain('| node3 |');
    expect(port.issues[0]!.body).toContain(`Failing since ${opened!.createdAt}`);

    const closed = await reportHealth(port, outcome(true, { at: '2026-11-04T03:17:00Z' }));
    expect(closed).toMatchObject({ action: 'closed', issue: { number: opened!.number } });
    expect(port.issues[0]!.state).toBe('closed');
    expect(port.allComments(opened!.number).at(-1)!.body).toContain('Passing again');

    // The next failure opens a new issue rather than reopening the closed one.
    expect((await reportHealth(port, outcome(false))).action).toBe('created');
    expect(port.issues).toHaveLength(2);
  });

  it('keeps environments apart', async () => {
    await reportHealth(port, outcome(false));
    await reportHealth(port, outcome(false, { environment: 'staging' }));
    expect(port.issues.map((i) => i.title)).toEqual(['verify-ha failing: production', 'verify-ha failing: staging']);
    await reportHealth(port, outcome(true, { environment: 'staging' }));
    expect(port.issues.map((i) => i.state)).toEqual(['open', 'closed']);
  });

  it('closes duplicate issues left by a past race', async () => {
    port.seedIssue({ title: 'a', body: buildHealthMarker('production'), labels: [HEALTH_LABEL] });
    port.seedIssue({ title: 'b', body: buildHealthMarker('production'), labels: [HEALTH_LABEL] });
    const r = await reportHealth(port, outcome(false));
    expect(r).toMatchObject({ action: 'updated', issue: { number: 1 }, duplicatesClosed: [2] });
    expect(port.issues.map((i) => i.state)).toEqual(['open', 'closed']);
    expect(port.allComments(2)[0]!.body).toBe('Duplicate of #1; lms-ha tracks this environment there.');
  });

  it('warns when GitHub dropped the label (the next run could not find the issue)', async () => {
    port.createIssue = async (i) => port.seedIssue({ ...i, labels: [] });
    const r = await reportHealth(port, outcome(false));
    expect(r.warnings[0]).toMatch(/created without the lms-ha-health label/);
  });

  it('ignores an issue with the label but without the marker', async () => {
    port.seedIssue({ title: 'human', body: 'I think production is slow', labels: [HEALTH_LABEL] });
    expect((await reportHealth(port, outcome(true))).action).toBe('noop');
    expect((await reportHealth(port, outcome(false))).action).toBe('created');
    expect(port.issues[0]!.body).toBe('I think production is slow');
  });
});
