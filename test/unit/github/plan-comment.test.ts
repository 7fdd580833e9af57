import { beforeEach, describe, expect, it } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import {
  buildPlanHeader,
  checkReviewedPlan,
  findPullRequestForCommit,
  markPlanComment,
  normalizeInventory,
  parsePlanHeader,
  renderPlanComment,
  reviewedPlanForRun,
  sameKey,
  upsertPlanComment,
  withStatus,
  type PlanCommentContent,
  type PlanCommentKey,
} from '../../../src/github/plan-comment.js';
import { GITHUB_BODY_LIMIT } from './fake-github-server.js';
import { FakePort } from './fake-port.js';

const key: PlanCommentKey = { environment: 'production', command: 'deploy-db', inventory: 'ha.yml' };
const PR = 7;

/** What apply reads back for pull request `pr` (the product's lookup, as on a pull_request event). */
const reviewedOn = async (port: FakePort, pr: number, k: PlanCommentKey) => (await reviewedPlanForRun(port, { pullRequest: pr, sha: '' }, k)).reviewed;

function content(overrides: Partial<PlanCommentContent> = {}): PlanCommentContent {
  return {
    key,
    planHash: 'a'.repeat(64),
    planMarkdown: '| host | change |\n|---|---|\n| node1 | write /etc/mysql/conf.d/galera.cnf |\n',
    changes: 1,
    runUrl: 'https://github.test/o/r/actions/runs/1',
    ...overrides,
  };
}

describe('plan header (pure)', () => {
  it('has the documented shape on the first line', () => {
    const line = buildPlanHeader({ ...key, planHash: 'abc', status: 'planned' });
    expect(line).toBe(
      '<!-- lms-ha: {"environment":"production","command":"deploy-db","inventory":"ha.yml","planHash":"abc","version":1,"status":"planned"} -->',
    );
  });

  it('round-trips, normalizing the inventory path', () => {
    const body = `${buildPlanHeader({ ...key, inventory: './ha.yml', planHash: 'abc', status: 'applied' })}\nrest`;
    expect(parsePlanHeader(body)).toEqual({ ...key, planHash: 'abc', status: 'applied', version: 1 });
  });

  it('reads a header without status as planned (tolerant of hand-made or older headers)', () => {
    const body = '<!-- lms-ha: {"environment":"e","command":"c","inventory":"i","planHash":"h","version":1} -->';
    expect(parsePlanHeader(body)?.status).toBe('planned');
  });

  it.each([
    ['other version', '<!-- lms-ha: {"environment":"e","command":"c","inventory":"i","planHash":"h","version":2} -->'],
    ['missing hash', '<!-- lms-ha: {"environment":"e","command":"c","inventory":"i","version":1} -->'],
    ['number env', '<!-- lms-ha: {"environment":1,"command":"c","inventory":"i","planHash":"h","version":1} -->'],
    ['bad status', '<!-- lms-ha: {"environment":"e","command":"c","inventory":"i","planHash":"h","version":1,"status":"x"} -->'],
    ['health marker', '<!-- lms-ha-health: {"environment":"e"} -->'],
    ['not first line', 'hello\n<!-- lms-ha: {"environment":"e","command":"c","inventory":"i","planHash":"h","version":1} -->'],
  ])('rejects %s', (_name, body) => {
    expect(parsePlanHeader(body)).toBeUndefined();
  });

  it('keys on environment, command and inventory', () => {
    expect(sameKey(key, { ...key, inventory: './ha.yml' })).toBe(true);
    expect(sameKey(key, { ...key, environment: 'staging' })).toBe(false);
    expect(sameKey(key, { ...key, command: 'deploy-lb' })).toBe(false);
    expect(sameKey(key, { ...key, inventory: 'other/ha.yml' })).toBe(false);
    expect(normalizeInventory('.\\envs\\\\prod.yml')).toBe('envs/prod.yml');
  });
});

describe('plan comment body (pure)', () => {
  it('starts with the header and shows status, hash, inventory, change count and run', () => {
    const body = renderPlanComment(content());
    expect(parsePlanHeader(body)).toMatchObject({ ...key, planHash: 'a'.repeat(64), status: 'planned' });
    expect(body).toContain('📝 lms-ha plan: `deploy-db` · `production`');
    expect(body).toContain('Plan hash `aaaaaaaaaaaa` · inventory `ha.yml` · 1 change · [planned in this run](https://github.test/o/r/actions/runs/1)');
    expect(body).toContain('| node1 | write /etc/mysql/conf.d/galera.cnf |');
  });

  it('says "no changes" for an empty plan', () => {
    expect(renderPlanComment(content({ changes: 0 }))).toContain('· no changes ·');
  });

  it('truncates a huge plan under the limit, pointing at the run', () => {
    const planMarkdown = `\`\`\`diff\n${'+ a line of config\n'.repeat(20_000)}\`\`\`\n\n**Totals**: 20000 changes\n`;
    const body = renderPlanComment(content({ planMarkdown }));
    expect(planMarkdown.length).toBeGreaterThan(GITHUB_BODY_LIMIT * 5);
    expect(body.length).toBeLessThan(GITHUB_BODY_LIMIT);
    expect(body).toContain("to stay under GitHub's 65,536-character comment limit");
    expect(body).toContain('[job summary and log](https://github.test/o/r/actions/runs/1)');
    expect(body.trimEnd().endsWith('**Totals**: 20000 changes')).toBe(true);
  });

  it('withStatus rewrites header and status block and keeps the plan byte for byte', () => {
    const planMarkdown = `\`\`\`diff\n${'+ x\n'.repeat(30_000)}\`\`\`\n`;
    const body = renderPlanComment(content({ planMarkdown }));
    const applied = withStatus(body, 'applied', { runUrl: 'https://github.test/o/r/actions/runs/2' })!;
    expect(parsePlanHeader(applied)?.status).toBe('applied');
    expect(applied).toContain('✅ lms-ha plan applied');
    expect(applied).toContain('[See the run](https://github.test/o/r/actions/runs/2)');
    const tailOf = (b: string) => b.slice(b.indexOf('<!-- lms-ha:status-end -->'));
    expect(tailOf(applied)).toBe(tailOf(body));
    expect(applied.length).toBeLessThan(GITHUB_BODY_LIMIT);

    const failed = withStatus(applied, 'apply-failed', { message: 'node2 did not reach\nSynced' })!;
    expect(failed).toContain('❌ lms-ha apply failed');
    expect(failed).toContain('**Apply failed.** node2 did not reach Synced');
    expect(tailOf(failed)).toBe(tailOf(body));
  });

  it('withStatus returns undefined for a body that is not a plan comment', () => {
    expect(withStatus('hello', 'applied')).toBeUndefined();
  });
});

describe('upsertPlanComment', () => {
  let port: FakePort;
  beforeEach(() => {
    port = new FakePort();
  });

  it('creates the comment once, then updates it in place, and leaves it alone when nothing changed', async () => {
    const first = await upsertPlanComment(port, PR, content());
    expect(first.action).toBe('created');
    const second = await upsertPlanComment(port, PR, content({ planHash: 'b'.repeat(64) }));
    expect(second.action).toBe('updated');
    expect(second.comment.id).toBe(first.comment.id);
    const third = await upsertPlanComment(port, PR, content({ planHash: 'b'.repeat(64) }));
    expect(third.action).toBe('unchanged');
    expect(port.allComments(PR)).toHaveLength(1);
    expect(parsePlanHeader(port.allComments(PR)[0]!.body)?.planHash).toBe('b'.repeat(64));
  });

  it('keeps one comment per key', async () => {
    await upsertPlanComment(port, PR, content());
    await upsertPlanComment(port, PR, content({ key: { ...key, command: 'deploy-lb' } }));
    await upsertPlanComment(port, PR, content({ key: { ...key, environment: 'staging' } }));
    await upsertPlanComment(port, PR, content());
    expect(port.allComments(PR)).toHaveLength(3);
  });

  it('ignores a look-alike header written by someone else', async () => {
    const forged = port.seedComment(PR, renderPlanComment(content({ planHash: 'f'.repeat(64) })), 'mallory');
    const result = await upsertPlanComment(port, PR, content());
    expect(result.action).toBe('created');
    expect(port.allComments(PR).find((c) => c.id === forged.id)?.body).toContain('f'.repeat(12));
    expect(await reviewedOn(port, PR, key)).toMatchObject({ planHash: 'a'.repeat(64), status: 'planned' });
  });

  it('recognizes its own comments when the token reports the login without [bot]', async () => {
    await upsertPlanComment(port, PR, content());
    port.viewer = 'github-actions';
    expect((await upsertPlanComment(port, PR, content({ planHash: 'c'.repeat(64) }))).action).toBe('updated');
    expect(port.allComments(PR)).toHaveLength(1);
  });

  it('opens a fresh comment once the previous plan was applied, keeping the applied one as a record', async () => {
    const first = await upsertPlanComment(port, PR, content());
    await markPlanComment(port, PR, key, 'a'.repeat(64), 'applied');
    const next = await upsertPlanComment(port, PR, content({ planHash: 'd'.repeat(64) }));
    expect(next.action).toBe('created');
    expect(next.comment.id).not.toBe(first.comment.id);
    expect(port.allComments(PR).map((c) => parsePlanHeader(c.body)?.status)).toEqual(['applied', 'planned']);
  });

  it('reuses a comment whose apply failed (a new plan replaces it)', async () => {
    const first = await upsertPlanComment(port, PR, content());
    await markPlanComment(port, PR, key, 'a'.repeat(64), 'apply-failed', { message: 'ssh-failed' });
    const next = await upsertPlanComment(port, PR, content({ planHash: 'e'.repeat(64) }));
    expect(next).toMatchObject({ action: 'updated', comment: { id: first.comment.id } });
    expect(parsePlanHeader(port.allComments(PR)[0]!.body)?.status).toBe('planned');
  });

  it('resolves the create race: keeps the oldest comment with this run\'s plan and deletes its own', async () => {
    // Another run created its comment just before ours landed, after our first look.
    port.afterCreateComment = (n) => {
      port.afterCreateComment = undefined;
      const ours = port.allComments(n).at(-1)!;
      const other = port.seedComment(n, renderPlanComment(content({ planHash: 'o'.repeat(64) })));
      other.createdAt = new Date(Date.parse(ours.createdAt) - 500).toISOString();
    };
    const result = await upsertPlanComment(port, PR, content());
    const left = port.allComments(PR);
    expect(left).toHaveLength(1);
    expect(result.action).toBe('updated');
    expect(result.comment.id).toBe(left[0]!.id);
    expect(parsePlanHeader(left[0]!.body)?.planHash).toBe('a'.repeat(64));
    expect(port.calls.filter((c) => c.startsWith('deleteComment'))).toHaveLength(1);
  });

  it('keeps its own comment when it won the race (the other run cleans up its own)', async () => {
    port.afterCreateComment = (n) => {
      port.afterCreateComment = undefined;
      port.seedComment(n, renderPlanComment(content({ planHash: 'o'.repeat(64) })));
    };
    const result = await upsertPlanComment(port, PR, content());
    expect(result.action).toBe('created');
    expect(port.allComments(PR)).toHaveLength(2);
    // The loser's next look (or our next run) folds the duplicate.
    const again = await upsertPlanComment(port, PR, content());
    expect(again.comment.id).toBe(result.comment.id);
    expect(port.allComments(PR)).toHaveLength(1);
  });

  it('minimizes a duplicate it may not delete, and warns when it can do neither', async () => {
    port.seedComment(PR, renderPlanComment(content()));
    const dup = port.seedComment(PR, renderPlanComment(content()));
    port.deleteFails = 403;
    const result = await upsertPlanComment(port, PR, content());
    expect(port.minimized).toEqual([{ nodeId: dup.nodeId, reason: 'DUPLICATE' }]);
    expect(result.warnings).toEqual([]);

    const bare = new FakePort();
    bare.seedComment(PR, renderPlanComment(content()));
    bare.seedComment(PR, renderPlanComment(content()));
    bare.deleteFails = 403;
    (bare as { minimizeComment?: unknown }).minimizeComment = undefined;
    const r2 = await upsertPlanComment(bare, PR, content());
    expect(r2.warnings).toHaveLength(1);
    expect(r2.warnings[0]).toMatch(/could not remove duplicate plan comment/);
  });

  it('treats a duplicate already deleted by a concurrent run (404) as done', async () => {
    port.seedComment(PR, renderPlanComment(content()));
    port.seedComment(PR, renderPlanComment(content()));
    port.deleteFails = 404;
    const result = await upsertPlanComment(port, PR, content());
    expect(result.warnings).toEqual([]);
    expect(port.minimized).toEqual([]);
  });
});

describe('reviewed plan for apply', () => {
  let port: FakePort;
  beforeEach(() => {
    port = new FakePort();
  });

  it('returns the hash a reviewer saw, and nothing when there is no comment', async () => {
    expect(await reviewedOn(port, PR, key)).toBeUndefined();
    await upsertPlanComment(port, PR, content());
    expect(await reviewedOn(port, PR, key)).toMatchObject({ planHash: 'a'.repeat(64), status: 'planned' });
    expect(await reviewedOn(port, PR, { ...key, command: 'deploy-lb' })).toBeUndefined();
  });

  it('reports an applied plan as applied, not as missing', async () => {
    await upsertPlanComment(port, PR, content());
    await markPlanComment(port, PR, key, 'a'.repeat(64), 'applied', { runUrl: 'https://github.test/run/9' });
    const applied = await reviewedOn(port, PR, key);
    expect(applied).toMatchObject({ status: 'applied', planHash: 'a'.repeat(64) });
    expect(() => checkReviewedPlan(applied, 'a'.repeat(64), key, `pull request #${PR}`)).toThrow(/already applied/);
  });

  it('checkReviewedPlan passes on an equal hash and refuses otherwise with plan-changed', () => {
    const fresh = 'a'.repeat(64);
    expect(() => checkReviewedPlan({ planHash: fresh, status: 'planned' }, fresh, key, 'pull request #7')).not.toThrow();
    expect(() => checkReviewedPlan({ planHash: fresh, status: 'apply-failed' }, fresh, key, 'pull request #7')).not.toThrow();

    const refuse = (reviewed: Parameters<typeof checkReviewedPlan>[0]) => {
      try {
        checkReviewedPlan(reviewed, fresh, key, 'pull request #7');
      } catch (e) {
        return e as DeployError;
      }
      throw new Error('did not refuse');
    };
    const changed = refuse({ planHash: 'b'.repeat(64), status: 'planned' });
    expect(changed).toBeInstanceOf(DeployError);
    expect(changed.reason).toBe('plan-changed');
    expect(changed.message).toBe(
      'The deploy-db plan for production has changed since it was reviewed on pull request #7 (reviewed bbbbbbbbbbbb, now aaaaaaaaaaaa). Nothing was applied.',
    );
    expect(changed.hint).toMatch(/re-run the plan on the pull request/);

    const missing = refuse(undefined);
    expect(missing.reason).toBe('plan-changed');
    expect(missing.message).toBe('No reviewed plan for the deploy-db plan for production was found on pull request #7.');
    expect(missing.hint).toContain(fresh);

    expect(refuse({ planHash: fresh, status: 'applied' }).message).toMatch(/already applied/);
  });

  it('marks only the comment holding the applied hash, and is a no-op without one', async () => {
    await upsertPlanComment(port, PR, content());
    await upsertPlanComment(port, PR, content({ key: { ...key, command: 'deploy-lb' } }));
    expect(await markPlanComment(port, PR, key, 'z'.repeat(64), 'applied')).toBeUndefined();
    const marked = await markPlanComment(port, PR, key, 'a'.repeat(64), 'applied');
    expect(parsePlanHeader(marked!.body)?.status).toBe('applied');
    const statuses = port.allComments(PR).map((c) => parsePlanHeader(c.body));
    expect(statuses.map((h) => `${h?.command}:${h?.status}`)).toEqual(['deploy-db:applied', 'deploy-lb:planned']);
  });
});

describe('findPullRequestForCommit', () => {
  const base = { state: 'closed' as const, baseRef: 'main', url: 'u' };

  it('prefers the pull request whose merge commit it is', async () => {
    const port = new FakePort();
    port.pulls = [
      { ...base, number: 3, headSha: 'x', mergeCommitSha: 'm', mergedAt: '2026-11-01T00:00:00Z' },
      { ...base, number: 4, headSha: 'm', mergeCommitSha: 'n', mergedAt: '2026-11-01T00:00:00Z' },
    ];
    expect(await findPullRequestForCommit(port, 'm')).toBe(3);
  });

  it('falls back to an open pull request with it as head, and gives up when ambiguous or absent', async () => {
    const port = new FakePort();
    port.pulls = [{ ...base, state: 'open', number: 5, headSha: 'h' }];
    expect(await findPullRequestForCommit(port, 'h')).toBe(5);
    port.pulls.push({ ...base, state: 'open', number: 6, headSha: 'h' });
    expect(await findPullRequestForCommit(port, 'h')).toBeUndefined();
    expect(await findPullRequestForCommit(port, 'nothing')).toBeUndefined();
  });
});

describe('status edits stay under the limit', () => {
  it('bounds a long failure message', () => {
    const planMarkdown = 'x\n'.repeat(40_000);
    const body = renderPlanComment({
      key: { environment: 'production', command: 'deploy-db', inventory: 'ha.yml' },
      planHash: 'h',
      planMarkdown,
    });
    const failed = withStatus(body, 'apply-failed', { message: 'y'.repeat(10_000), runUrl: 'https://github.test/r/1' })!;
    expect(failed.length).toBeLessThan(GITHUB_BODY_LIMIT);
    expect(failed).toContain(`${'y'.repeat(499)}…`);
  });
});
