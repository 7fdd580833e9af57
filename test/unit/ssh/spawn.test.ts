/**
 * SshHost.spawn() against an in-process ssh2 server: when `done` settles
 * relative to the output stream, and that a killed command's `done` settles
 * even when nobody reads its output any more, and that kill() stops the command
 * on a server that neither honours the signal request nor stops a command when
 * its channel closes (OpenSSH 9.2 on Debian 12). The dump pipe of
 * migrate-storage relies on all three.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { connectHost, type SshHost } from '../../../src/ssh/connection.js';
import { parseKnownHosts } from '../../../src/ssh/known-hosts.js';
import { makeKey, startTestServer, type TestServer } from './test-server.js';

const clientKey = makeKey('ed25519');
const hostKey = makeKey('ed25519');

let server: TestServer | undefined;
let host: SshHost | undefined;

async function setup(options: { keepCommandOnClose?: boolean } = {}): Promise<SshHost> {
  server = await startTestServer({ hostKeys: [hostKey], authorizedKey: clientKey, ...options });
  host = await connectHost({
    name: 'db1',
    address: '127.0.0.1',
    port: server.port,
    user: 'root',
    privateKey: Buffer.from(clientKey.private),
    knownHosts: parseKnownHosts(`[127.0.0.1]:${server.port} ${hostKey.public}`),
    insecure: false,
    connectTimeoutMs: 5000,
    retry: { attempts: 1, initialDelayMs: 10, maxDelayMs: 10 },
  });
  return host;
}

afterEach(async () => {
  await host?.close();
  await server?.close();
  host = undefined;
  server = undefined;
});

/** Whether a promise settled before the guard; a guard instead of the test timeout, to fail with a message. */
function settlesWithin<T>(p: Promise<T>, ms: number): Promise<boolean> {
  return Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
  ]);
}

describe('spawn', () => {
  it('settles done after the output was read to its end, with the exit status of the command', async () => {
    const h = await setup();
    // More than ssh2's 2 MiB window and stream buffer, so flow control is exercised.
    const p = await h.spawn('head -c 5000000 /dev/zero; exit 3', { purpose: 'stream zeros' });
    p.stdin.end();
    let bytes = 0;
    let endedBeforeDone = false;
    let ended = false;
    p.stdout.on('data', (d: Buffer) => (bytes += d.length));
    p.stdout.once('end', () => (ended = true));
    const r = await p.done.then((x) => ((endedBeforeDone = ended), x));
    expect(bytes).toBe(5_000_000);
    expect(endedBeforeDone).toBe(true);
    expect(r.code).toBe(3);
  });

  it('settles done after kill even when the output was piped into a destination that stopped taking it', async () => {
    const h = await setup();
    const p = await h.spawn('head -c 20000000 /dev/zero', { purpose: 'dump' });
    p.stdin.end();
    // A destination that never finishes a write: the pipe pauses the output, which then fills up.
    const stuck = new Writable({ highWaterMark: 1024, write: () => undefined });
    p.stdout.pipe(stuck);
    await new Promise((r) => setTimeout(r, 300));
    p.kill();
    expect(await settlesWithin(p.done, 3000)).toBe(true);
  });

  it('kill() stops the command by its process group when the server ignores the signal and the closed channel', async () => {
    const h = await setup({ keepCommandOnClose: true });
    // Neither reads stdin nor writes: nothing tells it that the channel went away.
    const p = await h.spawn('sleep 30', { purpose: 'wait' });
    expect(server!.running).toBe(1);
    p.kill();
    expect(await settlesWithin(p.done, 3000)).toBe(true);
    const deadline = Date.now() + 3000;
    while (server!.running > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(server!.running).toBe(0);
    expect(server!.signals).toContain('KILL');
  });
});
