/**
 * An in-memory GitHubPort: comments, issues and pull requests kept in arrays,
 * every call recorded, and hooks to inject a concurrent writer or a failure.
 */
import type {
  Comment,
  GitHubPort,
  Issue,
  IssueUpdate,
  MinimizeReason,
  NewIssue,
  PullRequestRef,
} from '../../../src/github/port.js';
import { GitHubApiError } from '../../../src/github/port.js';

export const BOT = 'github-actions[bot]';

export class FakePort implements GitHubPort {
  viewer = BOT;
  comments = new Map<number, Comment[]>();
  issues: Issue[] = [];
  pulls: PullRequestRef[] = [];
  minimized: { nodeId: string; reason: MinimizeReason }[] = [];
  calls: string[] = [];
  /** Runs after createComment stores its comment: simulates another run racing this one. */
  afterCreateComment?: (issueNumber: number) => void;
  /** Make deleteComment fail with this status. */
  deleteFails?: number;

  private nextId = 1000;
  private clock = Date.parse('2026-11-01T00:00:00Z');

  private tick(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  /** Adds a comment as if someone (by default the bot) had posted it. */
  seedComment(issueNumber: number, body: string, author = BOT): Comment {
    const id = this.nextId++;
    const c: Comment = {
      id,
      nodeId: `IC_${id}`,
      body,
      author,
      createdAt: this.tick(),
      url: `https://github.test/o/r/pull/${issueNumber}#issuecomment-${id}`,
    };
    this.comments.set(issueNumber, [...(this.comments.get(issueNumber) ?? []), c]);
    return c;
  }

  seedIssue(partial: Partial<Issue> & Pick<Issue, 'body'>): Issue {
    const number = this.issues.length + 1;
    const issue: Issue = {
      number,
      title: `issue ${number}`,
      state: 'open',
      labels: [],
      author: BOT,
      createdAt: this.tick(),
      url: `https://github.test/o/r/issues/${number}`,
      ...partial,
    };
    this.issues.push(issue);
    return issue;
  }

  allComments(issueNumber: number): Comment[] {
    return this.comments.get(issueNumber) ?? [];
  }

  private findComment(id: number): { list: Comment[]; index: number } {
    for (const list of this.comments.values()) {
      const index = list.findIndex((c) => c.id === id);
      if (index !== -1) return { list, index };
    }
    throw new GitHubApiError('find comment', 404, 'Not Found');
  }

  private issue(number: number): Issue {
    const issue = this.issues.find((i) => i.number === number);
    if (!issue) throw new GitHubApiError('find issue', 404, 'Not Found');
    return issue;
  }

  async viewerLogin(): Promise<string> {
    this.calls.push('viewerLogin');
    return this.viewer;
  }

  async listIssueComments(issueNumber: number): Promise<Comment[]> {
    this.calls.push(`listIssueComments ${issueNumber}`);
    return this.allComments(issueNumber).map((c) => ({ ...c }));
  }

  async createComment(issueNumber: number, body: string): Promise<Comment> {
    this.calls.push(`createComment ${issueNumber}`);
    const c = this.seedComment(issueNumber, body, this.viewer);
    this.afterCreateComment?.(issueNumber);
    return { ...c };
  }

  async updateComment(commentId: number, body: string): Promise<Comment> {
    this.calls.push(`updateComment ${commentId}`);
    const { list, index } = this.findComment(commentId);
    list[index] = { ...list[index]!, body };
    return { ...list[index]! };
  }

  async deleteComment(commentId: number): Promise<void> {
    this.calls.push(`deleteComment ${commentId}`);
    if (this.deleteFails) throw new GitHubApiError('delete comment', this.deleteFails, 'refused');
    const { list, index } = this.findComment(commentId);
    list.splice(index, 1);
  }

  async minimizeComment(nodeId: string, reason: MinimizeReason): Promise<void> {
    this.calls.push(`minimizeComment ${nodeId} ${reason}`);
    this.minimized.push({ nodeId, reason });
  }

  async listOpenIssuesWithLabel(label: string): Promise<Issue[]> {
    this.calls.push(`listOpenIssuesWithLabel ${label}`);
    return this.issues.filter((i) => i.state === 'open' && i.labels.includes(label)).map((i) => ({ ...i }));
  }

  async createIssue(issue: NewIssue): Promise<Issue> {
    this.calls.push(`createIssue ${issue.title}`);
    return { ...this.seedIssue({ ...issue }) };
  }

  async updateIssue(issueNumber: number, update: IssueUpdate): Promise<Issue> {
    this.calls.push(`updateIssue ${issueNumber}`);
    Object.assign(this.issue(issueNumber), update);
    return { ...this.issue(issueNumber) };
  }

  async closeIssue(issueNumber: number, reason: 'completed' | 'not_planned'): Promise<Issue> {
    this.calls.push(`closeIssue ${issueNumber} ${reason}`);
    this.issue(issueNumber).state = 'closed';
    return { ...this.issue(issueNumber) };
  }

  async findPullRequestsForCommit(sha: string): Promise<PullRequestRef[]> {
    this.calls.push(`findPullRequestsForCommit ${sha}`);
    return this.pulls.filter((p) => p.headSha === sha || p.mergeCommitSha === sha);
  }
}
