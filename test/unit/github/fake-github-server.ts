/**
 * A small stand-in for the GitHub REST (and GraphQL viewer) API on
 * 127.0.0.1, holding issues and comments in memory and recording every
 * request. Enough of the real response shapes for Octokit and the port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path with query string, without the API prefix. */
  path: string;
  body: Record<string, unknown> | undefined;
  authorization: string | undefined;
}

interface StoredIssue {
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  state_reason: string | null;
  labels: string[];
  created_at: string;
  pull_request?: object;
}

interface StoredComment {
  id: number;
  issue: number;
  body: string;
  login: string;
  created_at: string;
}

/** GitHub's limit for a comment or issue body: longer ones are refused with 422 "body is too long", here too. */
export const GITHUB_BODY_LIMIT = 65_536;

export interface FakeGitHubOptions {
  /** Path prefix of the REST API: '' like api.github.com, '/api/v3' like GHES. */
  prefix?: string;
  owner?: string;
  repo?: string;
  viewer?: string;
  /** Items per page on list endpoints (issues, comments) regardless of per_page, to exercise pagination. */
  pageSize?: number;
}

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  issues: StoredIssue[] = [];
  comments: StoredComment[] = [];
  pulls: object[] = [];
  /** Answer the next request matching `method path-prefix` with this status. */
  failNext?: { method: string; pathStartsWith: string; status: number; message: string };

  private server?: Server;
  private nextCommentId = 5000;
  private clock = Date.parse('2026-11-01T03:17:00Z');
  private readonly prefix: string;
  private readonly repoPath: string;
  private readonly viewer: string;
  private readonly pageSize: number;
  private base = '';

  constructor(options: FakeGitHubOptions = {}) {
    this.prefix = options.prefix ?? '';
    this.repoPath = `/repos/${options.owner ?? 'acme'}/${options.repo ?? 'platform'}`;
    this.viewer = options.viewer ?? 'github-actions[bot]';
    this.pageSize = options.pageSize ?? 100;
  }

  /** The value for GITHUB_API_URL. */
  get apiUrl(): string {
    return `${this.base}${this.prefix}`;
  }

  /**
   * Listens on 127.0.0.1 (a free port), or on a unix socket: a socket is a file,
   * so a forwarder inside another network namespace (the lab's runner) can reach
   * it; `publicBase` is then the address clients use (the forwarder's).
   */
  async start(options: { socketPath?: string; publicBase?: string } = {}): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(error) }));
      });
    });
    if (options.socketPath) {
      await new Promise<void>((resolve) => this.server!.listen(options.socketPath, resolve));
      this.base = options.publicBase ?? 'http://127.0.0.1';
      return;
    }
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Requests without the GraphQL identity lookup, as `METHOD path`. */
  restCalls(): string[] {
    return this.requests.filter((r) => !r.path.endsWith('graphql')).map((r) => `${r.method} ${r.path}`);
  }

  private tick(): string {
    this.clock += 60_000;
    return new Date(this.clock).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private issueJson(i: StoredIssue) {
    return {
      id: 100_000 + i.number,
      node_id: `I_${i.number}`,
      number: i.number,
      title: i.title,
      body: i.body,
      state: i.state,
      state_reason: i.state_reason,
      labels: i.labels.map((name, n) => ({ id: n + 1, name, color: 'ededed' })),
      user: { login: this.viewer, type: 'Bot' },
      created_at: i.created_at,
      html_url: `https://github.test${this.repoPath.replace('/repos', '')}/issues/${i.number}`,
      ...(i.pull_request ? { pull_request: i.pull_request } : {}),
    };
  }

  private commentJson(c: StoredComment) {
    return {
      id: c.id,
      node_id: `IC_${c.id}`,
      body: c.body,
      user: { login: c.login, type: c.login.endsWith('[bot]') ? 'Bot' : 'User' },
      created_at: c.created_at,
      html_url: `https://github.test${this.repoPath.replace('/repos', '')}/issues/${c.issue}#issuecomment-${c.id}`,
    };
  }

  /** One page of a list endpoint, with GitHub's Link header (rel="next", then rel="last") while more follow. */
  private page<T>(all: T[], url: URL): { slice: T[]; headers: Record<string, string> } {
    const page = Number(url.searchParams.get('page') ?? '1');
    const slice = all.slice((page - 1) * this.pageSize, page * this.pageSize);
    if (page * this.pageSize >= all.length) return { slice, headers: {} };
    const at = (n: number) => {
      const u = new URL(url);
      u.searchParams.set('page', String(n));
      return u.toString();
    };
    return { slice, headers: { link: `<${at(page + 1)}>; rel="next", <${at(Math.ceil(all.length / this.pageSize))}>; rel="last"` } };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    const url = new URL(req.url ?? '/', this.base);
    const method = req.method ?? 'GET';

    // GHES serves GraphQL at /api/graphql next to /api/v3; github.com at /graphql.
    const graphqlPath = this.prefix === '/api/v3' ? '/api/graphql' : '/graphql';
    const path = url.pathname === graphqlPath ? 'graphql' : url.pathname.slice(this.prefix.length);
    this.requests.push({ method, path: `${path}${url.search}`, body, authorization: req.headers.authorization });

    const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(json === undefined ? '' : JSON.stringify(json));
    };

    if (this.failNext && method === this.failNext.method && path.startsWith(this.failNext.pathStartsWith)) {
      const { status, message } = this.failNext;
      this.failNext = undefined;
      return send(status, { message, documentation_url: 'https://docs.github.com/rest' });
    }

    if (typeof body?.['body'] === 'string' && body['body'].length > GITHUB_BODY_LIMIT) {
      return send(422, { message: 'Validation Failed', errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }] });
    }
    if (path === 'graphql') {
      if (String(body?.['query']).includes('viewer')) return send(200, { data: { viewer: { login: this.viewer } } });
      return send(200, { data: { minimizeComment: { clientMutationId: null } } });
    }
    if (!path.startsWith(this.repoPath)) return send(404, { message: 'Not Found' });
    const rest = path.slice(this.repoPath.length);
    let m: RegExpExecArray | null;

    if (method === 'GET' && rest === '/issues') {
      const label = url.searchParams.get('labels');
      const state = url.searchParams.get('state') ?? 'open';
      const list = this.issues.filter((i) => i.state === state && (!label || i.labels.includes(label)));
      const { slice, headers } = this.page(list, url);
      return send(200, slice.map((i) => this.issueJson(i)), headers);
    }
    if (method === 'POST' && rest === '/issues') {
      const issue: StoredIssue = {
        number: this.issues.length + 1,
        title: String(body?.['title']),
        body: String(body?.['body'] ?? ''),
        state: 'open',
        state_reason: null,
        labels: (body?.['labels'] as string[] | undefined) ?? [],
        created_at: this.tick(),
      };
      this.issues.push(issue);
      return send(201, this.issueJson(issue));
    }
    if ((m = /^\/issues\/(\d+)$/.exec(rest)) && method === 'PATCH') {
      const issue = this.issues.find((i) => i.number === Number(m![1]));
      if (!issue) return send(404, { message: 'Not Found' });
      if (typeof body?.['body'] === 'string') issue.body = body['body'];
      if (typeof body?.['title'] === 'string') issue.title = body['title'];
      if (body?.['state'] === 'closed' || body?.['state'] === 'open') issue.state = body['state'];
      if (typeof body?.['state_reason'] === 'string') issue.state_reason = body['state_reason'];
      return send(200, this.issueJson(issue));
    }
    if ((m = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const issue = Number(m[1]);
      if (method === 'POST') {
        const c: StoredComment = {
          id: this.nextCommentId++,
          issue,
          body: String(body?.['body']),
          login: this.viewer,
          created_at: this.tick(),
        };
        this.comments.push(c);
        return send(201, this.commentJson(c));
      }
      if (method === 'GET') {
        const { slice, headers } = this.page(this.comments.filter((c) => c.issue === issue), url);
        return send(200, slice.map((c) => this.commentJson(c)), headers);
      }
    }
    if ((m = /^\/issues\/comments\/(\d+)$/.exec(rest))) {
      const c = this.comments.find((x) => x.id === Number(m![1]));
      if (!c) return send(404, { message: 'Not Found' });
      if (method === 'PATCH') {
        c.body = String(body?.['body']);
        return send(200, this.commentJson(c));
      }
      if (method === 'DELETE') {
        this.comments = this.comments.filter((x) => x !== c);
        res.writeHead(204);
        return void res.end();
      }
    }
    if ((m = /^\/commits\/([0-9a-f]+)\/pulls$/.exec(rest)) && method === 'GET') {
      return send(200, this.pulls);
    }
    return send(404, { message: `fake GitHub has no route for ${method} ${path}` });
  }
}
