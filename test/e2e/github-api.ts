import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeGitHub } from '../unit/github/fake-github-server.js';
import { runAction, tempDir, type ActionRun, type LabState } from './lab.js';

/**
 * The stand-in for the GitHub API, reachable where the action runs: inside
 * the lab-runner network namespace. The stand-in (test/unit/github/
 * fake-github-server.ts) listens on a unix socket in this process, so its
 * recorded requests are here to assert on; a forwarder started inside
 * lab-runner listens on that namespace's 127.0.0.1 and relays each
 * connection to the socket.
 */
export class LabGitHub {
  readonly gh = new FakeGitHub();
  apiUrl = '';
  private forwarder?: ChildProcess;
  private events = 0;
  private readonly dir = tempDir('github-api');

  async start(state: LabState): Promise<void> {
    const socketPath = join(this.dir, 'api.sock');
    await this.gh.start({ socketPath });
    const script = `
      const net = require('node:net');
      const server = net.createServer((client) => {
        const upstream = net.connect(${JSON.stringify(socketPath)});
        client.pipe(upstream); upstream.pipe(client);
        client.on('error', () => upstream.destroy()); upstream.on('error', () => client.destroy());
      });
      server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
    const child = spawn('ip', ['netns', 'exec', state.runnerNamespace, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.forwarder = child;
    const port = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child.once('exit', (code) => reject(new Error(`forwarder exited ${code}`)));
    });
    this.apiUrl = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.forwarder?.kill();
    await this.gh.stop();
  }

  /** Runs the bundle as the runner does for `event`, with this stand-in as GITHUB_API_URL. */
  run(
    state: LabState,
    workspace: string,
    event: { name: string; payload: object; sha: string },
    inputs: Record<string, string>,
    env: Record<string, string>,
  ): Promise<ActionRun> {
    const eventPath = join(this.dir, `event-${this.events++}.json`);
    writeFileSync(eventPath, JSON.stringify(event.payload));
    return runAction(state, { 'github-token': 'ghs_fake_token_for_e2e', ...inputs }, {
      workspace,
      env: {
        GITHUB_REPOSITORY: 'acme/platform',
        GITHUB_SERVER_URL: 'https://github.test',
        GITHUB_API_URL: this.apiUrl,
        GITHUB_EVENT_NAME: event.name,
        GITHUB_EVENT_PATH: eventPath,
        GITHUB_SHA: event.sha,
        GITHUB_ACTOR: 'alice',
        ...env,
      },
    });
  }

  /** The pull request `number` as merged by `sha` (what GET /commits/{sha}/pulls returns). */
  merged(number: number, sha: string): void {
    this.gh.pulls = [
      ...this.gh.pulls,
      {
        number,
        state: 'closed',
        merged_at: '2026-12-07T10:00:00Z',
        merge_commit_sha: sha,
        head: { sha: 'e'.repeat(40) },
        base: { ref: 'main' },
        html_url: `https://github.test/acme/platform/pull/${number}`,
      },
    ];
  }
}

export const pullRequestPayload = (number: number) => ({
  pull_request: { number, head: { repo: { full_name: 'acme/platform' } }, user: { login: 'alice' } },
});
