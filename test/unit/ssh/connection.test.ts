/**
 * The transport against in-process ssh2 servers on 127.0.0.1: host key
 * pinning (and that a refusal happens before authentication), exec semantics,
 * sudo, file I/O, the bastion path, connect retries and the pooled fan-out.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import { MemoryLogger } from '../../support/memory-logger.js';
import { connectHost, type ConnectOptions, type SshHost } from '../../../src/ssh/connection.js';
import { fingerprintSha256, parseKnownHosts } from '../../../src/ssh/known-hosts.js';
import { HostPool, type HostSpec } from '../../../src/ssh/pool.js';
import { freePort, makeKey, startTestServer, type KeyPair, type TestServer } from './test-server.js';

const clientKey = makeKey('ed25519');
const hostKey = makeKey('ed25519');
const otherKey = makeKey('ed25519');
const rsaHostKey = makeKey('rsa');

const FAST_RETRY = { attempts: 1, initialDelayMs: 10, maxDelayMs: 10 };

function line(host: string, port: number, key: KeyPair): string {
  return `${port === 22 ? host : `[${host}]:${port}`} ${key.public}`;
}

function opts(server: { port: number }, knownHosts: string, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    name: 'db1',
    address: '127.0.0.1',
    port: server.port,
    user: 'root',
    privateKey: Buffer.from(clientKey.private),
    knownHosts: parseKnownHosts(knownHosts),
    insecure: false,
    connectTimeoutMs: 5000,
    retry: FAST_RETRY,
    ...extra,
  };
}

async function rejection(p: Promise<unknown>): Promise<DeployError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DeployError);
    return e as DeployError;
  }
  throw new Error('expected a rejection');
}

const servers: TestServer[] = [];
const hosts: SshHost[] = [];
async function server(o: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const s = await startTestServer(o);
  servers.push(s);
  return s;
}
async function connect(o: ConnectOptions): Promise<SshHost> {
  const h = await connectHost(o);
  hosts.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('host key pinning', () => {
  it('connects when the presented key is pinned for host:port, and runs a command', async () => {
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    const h = await connect(opts(s, line('127.0.0.1', s.port, hostKey)));
    expect(h.hostKey).toMatchObject({ type: 'ssh-ed25519', fingerprint: fingerprintSha256(hostKey.blob), verified: true });
    const r = await h.run('echo hello', { purpose: 'say hello' });
    expect(r).toMatchObject({ code: 0, stdout: 'hello\n', stderr: '' });
    expect(s.execs).toEqual([`timeout -k 5 600 sh -c 'echo hello'`]);
  });

  it('refuses a different key before authentication, naming host, key type, fingerprint and the line to pin', async () => {
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    const err = await rejection(connectHost(opts(s, line('127.0.0.1', s.port, otherKey), { retry: { attempts: 3 } })));
    expect(err.reason).toBe('host-key-mismatch');
    expect(err.host).toBe('db1');
    expect(err.message).toContain(`db1 (127.0.0.1:${s.port})`);
    expect(err.message).toContain(`ssh-ed25519 key ${fingerprintSha256(hostKey.blob)}`);
    expect(err.message).toContain(fingerprintSha256(otherKey.blob)); // what is pinned, for comparison
    expect(err.hint).toContain(`[127.0.0.1]:${s.port} ${hostKey.public}`);
    // Aborted during key exchange: no login attempt, nothing run, and never retried.
    expect(s.authAttempts).toEqual([]);
    expect(s.execs).toEqual([]);
    expect(s.connections).toBe(1);
  });

  it('refuses an unknown host (and a host pinned only on another port) before authentication', async () => {
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    for (const kh of ['', line('127.0.0.1', 22, hostKey), line('127.0.0.2', s.port, hostKey)]) {
      const err = await rejection(connectHost(opts(s, kh)));
      expect(err.reason).toBe('host-key-unknown');
      expect(err.message).toContain(`db1 (127.0.0.1:${s.port}) is not in known_hosts (looked up as [127.0.0.1]:${s.port})`);
      expect(err.message).toContain(fingerprintSha256(hostKey.blob));
      expect(err.hint).toContain(`[127.0.0.1]:${s.port} ${hostKey.public}`);
    }
    expect(s.authAttempts).toEqual([]);
    expect(s.connections).toBe(3);
  });

  it('matches hashed known_hosts entries', async () => {
    const { createHmac, randomBytes } = await import('node:crypto');
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    const salt = randomBytes(20);
    const mac = createHmac('sha1', salt).update(`[127.0.0.1]:${s.port}`).digest();
    const h = await connect(opts(s, `|1|${salt.toString('base64')}|${mac.toString('base64')} ${hostKey.public}`));
    expect(h.hostKey.verified).toBe(true);
  });

  it('never accepts a @revoked key, not even with the insecure opt-out', async () => {
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    const kh = `${line('127.0.0.1', s.port, hostKey)}\n@revoked * ${hostKey.public}\n`;
    for (const insecure of [false, true]) {
      const err = await rejection(connectHost(opts(s, kh, { insecure })));
      expect(err.reason).toBe('host-key-mismatch');
      expect(err.message).toMatch(/@revoked/);
    }
    expect(s.authAttempts).toEqual([]);
  });

  it('insecure opt-out accepts any key but records it and warns', async () => {
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    const logger = new MemoryLogger();
    const h = await connect(opts(s, '', { insecure: true, logger }));
    expect(h.hostKey).toMatchObject({ verified: false, fingerprint: fingerprintSha256(hostKey.blob) });
    expect(h.hostKey.knownHostsLine).toBe(`[127.0.0.1]:${s.port} ${hostKey.public}`);
    expect(logger.lines.filter((l) => l.startsWith('warning: [db1] host key NOT verified'))).toHaveLength(1);
    expect((await h.run('echo ok', { purpose: 'check' })).stdout).toBe('ok\n');
  });

  it('asks for the pinned key type first when the server has several (appleboy/ssh-action#275)', async () => {
    const s = await server({ hostKeys: [hostKey, rsaHostKey], authorizedKey: clientKey });
    // Only the RSA key pinned; by default ssh2 would negotiate ed25519 first and see an "unknown" key.
    const h1 = await connect(opts(s, line('127.0.0.1', s.port, rsaHostKey)));
    expect(h1.hostKey).toMatchObject({ type: 'ssh-rsa', verified: true });
    expect(s.negotiatedHostKeys.at(-1)).toMatch(/^rsa-sha2-(512|256)$/);
    const h2 = await connect(opts(s, line('127.0.0.1', s.port, hostKey)));
    expect(h2.hostKey).toMatchObject({ type: 'ssh-ed25519', verified: true });
    expect(s.negotiatedHostKeys.at(-1)).toBe('ssh-ed25519');
  });

  it('reports a server that lacks every pinned key type as a mismatch, saying which types are pinned', async () => {
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    const err = await rejection(connectHost(opts(s, line('127.0.0.1', s.port, rsaHostKey))));
    expect(err.reason).toBe('host-key-mismatch');
    expect(err.message).toContain('known_hosts pins only ssh-rsa');
    expect(err.message).toContain(`presented the ssh-ed25519 key ${fingerprintSha256(hostKey.blob)}`);
    expect(s.authAttempts).toEqual([]);
  });
});

describe('connect failures', () => {
  it('says which user and key failed authentication, and does not retry', async () => {
    const s = await server({ hostKeys: [hostKey], authorizedKey: otherKey });
    const err = await rejection(connectHost(opts(s, line('127.0.0.1', s.port, hostKey), { user: 'deploy', retry: { attempts: 3, initialDelayMs: 10 } })));
    expect(err.reason).toBe('ssh-failed');
    const fp = fingerprintSha256(clientKey.blob);
    expect(err.message).toBe(`db1 (127.0.0.1:${s.port}): all authentication methods failed for user deploy (offered key ssh-ed25519 ${fp})`);
    expect(err.hint).toContain('~deploy/.ssh/authorized_keys');
    expect(s.connections).toBe(1);
    expect(s.authAttempts.every((a) => a.method === 'publickey' && a.username === 'deploy')).toBe(true);
  });

  it('rejects an unreadable private key up front, without echoing it', async () => {
    const secretish = 'not-a-key-but-secret-0123456789';
    const err = await rejection(connectHost(opts({ port: 1 }, '', { privateKey: Buffer.from(secretish) })));
    expect(err.reason).toBe('invalid-input');
    expect(err.message).not.toContain(secretish);
  });

  it('retries a refused connect with backoff, then succeeds', async () => {
    const port = await freePort();
    const logger = new MemoryLogger();
    const started = Date.now();
    const pending = connectHost(
      opts({ port }, line('127.0.0.1', port, hostKey), { logger, retry: { attempts: 6, initialDelayMs: 100, maxDelayMs: 400 } }),
    );
    await new Promise((r) => setTimeout(r, 350));
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey, port });
    const h = await pending;
    hosts.push(h);
    expect(h.info.attempts).toBeGreaterThan(1);
    const retries = logger.lines.filter((l) => l.includes('connect attempt'));
    expect(retries[0]).toMatch(/^warning: \[db1\] connect attempt 1\/6 failed: .*ECONNREFUSED; retrying in 100 ms$/);
    expect(retries[1]).toMatch(/retrying in 200 ms$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(s.connections).toBe(1);
  });

  it('gives up after the last attempt with ssh-failed naming ECONNREFUSED', async () => {
    const port = await freePort();
    const logger = new MemoryLogger();
    const err = await rejection(connectHost(opts({ port }, '', { logger, retry: { attempts: 3, initialDelayMs: 20 } })));
    expect(err.reason).toBe('ssh-failed');
    expect(err.message).toBe(`db1 (127.0.0.1:${port}): ECONNREFUSED`);
    expect(err.hint).toMatch(/sshd runs/);
    expect(logger.lines.filter((l) => l.includes('connect attempt'))).toHaveLength(2);
  });

  it('times out a server that never speaks SSH', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const err = await rejection(connectHost(opts({ port }, '', { connectTimeoutMs: 300 })));
      expect(err.reason).toBe('ssh-failed');
      expect(err.message).toMatch(/timed out after 300 ms waiting for the SSH handshake/);
    } finally {
      silent.close();
    }
  });
});

describe('run', () => {
  let s: TestServer;
  let h: SshHost;
  const setup = async (sudo?: 'nopasswd' | 'password', user = 'root') => {
    s = await server({ hostKeys: [hostKey], authorizedKey: clientKey, sudo });
    h = await connect(opts(s, line('127.0.0.1', s.port, hostKey), { user }));
  };

  it('pipes stdin, collects stdout and stderr, and ends stdin when none is given', async () => {
    await setup();
    const secret = `p@ss'word "with" $(quotes)`;
    const r = await h.run('cat; echo done >&2', { purpose: 'echo stdin', stdin: secret });
    expect(r).toMatchObject({ code: 0, stdout: secret, stderr: 'done\n' });
    expect(s.execs.join('\n')).not.toContain('p@ss');
    // A command that reads stdin must see EOF, not hang.
    expect((await h.run('wc -c', { purpose: 'count stdin', timeoutMs: 5000 })).stdout.trim()).toBe('0');
  });

  it('turns a non-zero exit into command-failed naming host, purpose, exit code and stderr tail', async () => {
    await setup();
    const err = await rejection(h.run('echo out; echo "first" >&2; echo "the real problem" >&2; exit 3', { purpose: 'configure galera' }));
    expect(err.reason).toBe('command-failed');
    expect(err.message).toBe('db1: configure galera failed (exit 3): first\nthe real problem');
    const r = await h.run('exit 3', { purpose: 'probe', allowFailure: true });
    expect(r.code).toBe(3);
  });

  it('stops a command past its timeout on the host, whole process group included, and keeps the connection usable', async () => {
    await setup();
    const marker = join(tmpdir(), `lms-ha-timeout-${process.pid}-${Date.now()}`);
    const started = Date.now();
    // A background grandchild that would leave a trace if it survived the timeout.
    const err = await rejection(h.run(`(sleep 1; touch ${marker}) & sleep 30`, { purpose: 'wait for sync', timeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err.reason).toBe('command-failed');
    expect(err.message).toBe('db1: wait for sync timed out after 300 ms and was stopped');
    expect((await h.run('echo still here', { purpose: 'check' })).stdout).toBe('still here\n');
    await new Promise((r) => setTimeout(r, 1200));
    expect(existsSync(marker)).toBe(false);
    expect(s.running).toBe(0);
  });

  it('falls back to killing the channel when the host does not enforce the timeout', async () => {
    s = await server({ hostKeys: [hostKey], authorizedKey: clientKey, brokenTimeout: true });
    h = await connect(opts(s, line('127.0.0.1', s.port, hostKey), { commandTimeoutGraceMs: 200 }));
    const started = Date.now();
    const err = await rejection(h.run('sleep 30', { purpose: 'hang', timeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err.message).toBe('db1: hang timed out after 300 ms and the host did not stop it; the channel was closed');
    expect(err.hint).toMatch(/may still be running/);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.signals).toContain('KILL');
    expect((await h.run('echo ok', { purpose: 'check' })).stdout).toBe('ok\n');
  });

  it('keeps only the tail of huge output', async () => {
    await setup();
    const r = await h.run("yes x | head -c 100000; printf END", { purpose: 'flood', maxOutputBytes: 1000 });
    expect(r.stdout).toHaveLength(1000);
    expect(r.stdout.endsWith('END')).toBe(true);
    expect(r.stdoutTruncated).toBe(true);
  });

  it('wraps commands in sudo -n for a non-root user', async () => {
    await setup('nopasswd', 'deploy');
    const r = await h.run("echo 'as root'", { purpose: 'check sudo' });
    expect(r.stdout).toBe('as root\n');
    expect(s.execs.at(-1)).toBe(`sudo -n -- timeout -k 5 600 sh -c 'echo '\\''as root'\\'''`);
    await h.run('true', { purpose: 'no sudo', sudo: false, timeoutMs: 2500 });
    expect(s.execs.at(-1)).toBe(`timeout -k 5 2.5 sh -c true`);
  });

  it('reports sudo that needs a password as sudo-failed with a hint, even with allowFailure', async () => {
    await setup('password', 'deploy');
    const err = await rejection(h.run('true', { purpose: 'check sudo', allowFailure: true }));
    expect(err.reason).toBe('sudo-failed');
    expect(err.message).toContain('db1: sudo for user deploy needs a password, so "check sudo" could not run as root');
    expect(err.hint).toContain('deploy ALL=(ALL:ALL) NOPASSWD: ALL');
  });

  it('limits parallel channels on one connection (MaxSessions) instead of failing', async () => {
    await setup();
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => h.run(`sleep 0.05; echo ${i}`, { purpose: `p${i}` })));
    expect(rs.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(s.maxRunning).toBeLessThanOrEqual(8);
  });

  it('reports a lost connection instead of retrying the command', async () => {
    await setup();
    const pending = h.run('sleep 5', { purpose: 'long step', timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const err = await rejection(pending);
    expect(err.reason).toBe('ssh-failed');
    expect(err.message).toMatch(/^db1: the SSH connection was lost while running "long step".*not retried$/);
    expect(h.closed).toBe(true);
    const again = await rejection(h.run('true', { purpose: 'next' }));
    expect(again.message).toMatch(/lost before running "next"/);
  });
});

describe('readFile / writeFile', () => {
  let s: TestServer;
  let h: SshHost;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lms-ha-files-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const setup = async (user = 'root') => {
    s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    h = await connect(opts(s, line('127.0.0.1', s.port, hostKey), { user }));
  };

  it('reads a file byte for byte, returns null when it is missing, and fails when it exists but cannot be read', async () => {
    await setup();
    const bin = Buffer.from([0, 1, 2, 255, 10, 13, 0x27]);
    writeFileSync(join(dir, 'bin'), bin);
    expect((await h.readFile(join(dir, 'bin')))!.equals(bin)).toBe(true);
    expect(await h.readFile(join(dir, "no such 'file'"))).toBeNull();
    mkdirSync(join(dir, 'a-dir'), { recursive: true });
    const err = await rejection(h.readFile(join(dir, 'a-dir')));
    expect(err.reason).toBe('command-failed');
    expect(err.message).toMatch(/read .*a-dir failed \(exit 1\): .*[Ii]s a directory/);
  });

  it('writes atomically with the mode asked for; the content travels only on stdin', async () => {
    await setup('deploy');
    const target = join(dir, 'galera.cnf');
    writeFileSync(target, 'old\n');
    const inodeBefore = statSync(target).ino;
    const secret = "wsrep_sst_auth=sst:S3cr3t-'$(x)'\n";
    const me = (await h.run('id -un', { purpose: 'whoami', sudo: false })).stdout.trim();
    await h.writeFile(target, secret, { mode: 0o640, owner: me, group: me === 'root' ? 'root' : undefined });
    expect(readFileSync(target, 'utf8')).toBe(secret);
    expect(statSync(target).mode & 0o7777).toBe(0o640);
    expect(statSync(target).ino).not.toBe(inodeBefore); // replaced by rename, not rewritten in place
    expect(readdirSync(dir).filter((f) => f.includes('lms-ha'))).toEqual([]);
    const cmd = s.execs.at(-1)!;
    expect(cmd.startsWith('sudo -n -- timeout -k 5 600 sh -c ')).toBe(true);
    expect(cmd).not.toContain('S3cr3t');
    expect(cmd).not.toContain('wsrep_sst_auth');
    expect(cmd).toContain('umask 077');
    expect((await h.readFile(target))!.toString()).toBe(secret);
  });

  it('leaves no temp file and the old content in place when the write fails', async () => {
    await setup();
    const target = join(dir, 'keep.cnf');
    writeFileSync(target, 'keep\n');
    const err = await rejection(h.writeFile(target, 'new\n', { mode: 0o644, owner: 'no-such-user-lmsha' }));
    expect(err.reason).toBe('command-failed');
    expect(err.message).toMatch(/^db1: write .*keep\.cnf failed \(exit 1\): .*no-such-user-lmsha/);
    expect(readFileSync(target, 'utf8')).toBe('keep\n');
    expect(readdirSync(dir).filter((f) => f.includes('lms-ha'))).toEqual([]);
    const missingDir = await rejection(h.writeFile(join(dir, 'nope', 'x.cnf'), 'x', { mode: 0o600 }));
    expect(missingDir.reason).toBe('command-failed');
  });
});

describe('bastion', () => {
  const bastionKey = makeKey('ed25519');

  async function setupBastion() {
    const target = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    // The target's address is a name only the bastion can resolve: proof the traffic went through it.
    const bastion = await server({
      hostKeys: [bastionKey],
      authorizedKey: clientKey,
      forward: {
        'db-private.internal': { host: '127.0.0.1', port: target.port },
        'db-other.internal': { host: '127.0.0.1', port: target.port },
      },
    });
    return { target, bastion };
  }

  it('reaches a private host through a pinned bastion, with the target pinned too', async () => {
    const { target, bastion } = await setupBastion();
    const kh = [line('127.0.0.1', bastion.port, bastionKey), line('db-private.internal', 22, hostKey)].join('\n');
    const h = await connect({
      ...opts(target, kh),
      address: 'db-private.internal',
      port: 22,
      bastion: { ...opts(bastion, kh), name: 'bastion' },
    });
    expect(h.info.via).toBe('bastion');
    expect((await h.run('echo behind', { purpose: 'hello' })).stdout).toBe('behind\n');
    expect(bastion.tcpip).toEqual([{ destIP: 'db-private.internal', destPort: 22 }]);
    expect(bastion.execs).toEqual([]);
    expect(target.execs).toEqual([`timeout -k 5 600 sh -c 'echo behind'`]);
    await h.close();
    expect(bastion.connections).toBe(1);
  });

  it('refuses a wrong target key through the bastion before authenticating to the target', async () => {
    const { target, bastion } = await setupBastion();
    const kh = [line('127.0.0.1', bastion.port, bastionKey), line('db-private.internal', 22, otherKey)].join('\n');
    const err = await rejection(
      connectHost({ ...opts(target, kh), address: 'db-private.internal', port: 22, bastion: { ...opts(bastion, kh), name: 'bastion' } }),
    );
    expect(err.reason).toBe('host-key-mismatch');
    expect(err.message).toContain('db1 (db-private.internal:22 via bastion)');
    expect(err.hint).toContain(`db-private.internal ${hostKey.public}`);
    expect(target.authAttempts).toEqual([]);
  });

  it('refuses an unpinned bastion before going anywhere near the target', async () => {
    const { target, bastion } = await setupBastion();
    const kh = line('db-private.internal', 22, hostKey);
    const err = await rejection(
      connectHost({ ...opts(target, kh), address: 'db-private.internal', port: 22, bastion: { ...opts(bastion, kh), name: 'bastion' } }),
    );
    expect(err.reason).toBe('host-key-unknown');
    expect(err.host).toBe('bastion');
    expect(bastion.authAttempts).toEqual([]);
    expect(target.connections).toBe(0);
  });

  it('retries a target that refuses through the bastion, and shares one bastion connection in a pool', async () => {
    const { target, bastion } = await setupBastion();
    const kh = [
      line('127.0.0.1', bastion.port, bastionKey),
      line('db-private.internal', 22, hostKey),
      line('db-other.internal', 22, hostKey),
    ].join('\n');
    const pool = new HostPool({
      privateKey: Buffer.from(clientKey.private),
      knownHosts: parseKnownHosts(kh),
      insecure: false,
      retry: FAST_RETRY,
    });
    const b: HostSpec = { name: 'bastion', address: '127.0.0.1', port: bastion.port, user: 'jump' };
    const specs: HostSpec[] = [
      { name: 'db1', address: 'db-private.internal', user: 'root', bastion: b },
      { name: 'db2', address: 'db-other.internal', user: 'root', bastion: b },
    ];
    try {
      const results = await pool.forEachHost(specs, (h) => h.run('hostname >/dev/null; echo ok', { purpose: 'ping' }));
      expect(results.map((r) => r.ok && r.value.stdout)).toEqual(['ok\n', 'ok\n']);
      expect(bastion.connections).toBe(1);
      expect(bastion.tcpip).toHaveLength(2);
      expect(target.connections).toBe(2);
    } finally {
      await pool.closeAll();
    }
  });
});

describe('HostPool', () => {
  it('reuses one connection per host, bounds parallelism, and isolates a failing host', async () => {
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    const deadPort = await freePort();
    const logger = new MemoryLogger();
    const pool = new HostPool({
      privateKey: Buffer.from(clientKey.private),
      knownHosts: parseKnownHosts(`${line('127.0.0.1', s.port, hostKey)}\n${line('127.0.0.1', deadPort, hostKey)}`),
      insecure: false,
      retry: FAST_RETRY,
      logger,
    });
    const specs: HostSpec[] = Array.from({ length: 6 }, (_, i) => ({ name: `h${i + 1}`, address: '127.0.0.1', port: s.port, user: 'root' }));
    specs.splice(3, 0, { name: 'dead', address: '127.0.0.1', port: deadPort, user: 'root' });
    let now = 0;
    let max = 0;
    try {
      const results = await pool.forEachHost(
        specs,
        async (h, spec) => {
          now++;
          max = Math.max(max, now);
          try {
            const r = await h.run(`sleep 0.15; echo ${spec.name}`, { purpose: 'gather facts' });
            return r.stdout.trim();
          } finally {
            now--;
          }
        },
        { parallelism: 2 },
      );
      expect(max).toBe(2);
      expect(s.maxRunning).toBeLessThanOrEqual(2);
      expect(results.map((r) => r.host)).toEqual(['h1', 'h2', 'h3', 'dead', 'h4', 'h5', 'h6']);
      const dead = results[3]!;
      expect(dead.ok).toBe(false);
      if (!dead.ok) {
        expect(dead.error.reason).toBe('ssh-failed');
        expect(dead.error.message).toContain('ECONNREFUSED');
      }
      expect(results.filter((r) => r.ok).map((r) => r.ok && r.value)).toEqual(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);

      // Second phase on the same hosts: no new connections.
      const before = s.connections;
      const again = await pool.forEachHost(specs.filter((x) => x.name !== 'dead'), (h) => h.run('true', { purpose: 'apply' }));
      expect(again.every((r) => r.ok)).toBe(true);
      expect(s.connections).toBe(before);
      expect(await pool.get(specs[0]!)).toBe(await pool.get(specs[0]!));
      expect(logger.lines.some((l) => l.startsWith('debug: [h1] connected as root'))).toBe(true);
    } finally {
      await pool.closeAll();
    }
    await expect(pool.get(specs[0]!)).rejects.toThrow(/after closeAll/);
  });

  it('turns anything thrown by the callback into a per-host DeployError', async () => {
    const s = await server({ hostKeys: [hostKey], authorizedKey: clientKey });
    const pool = new HostPool({
      privateKey: Buffer.from(clientKey.private),
      knownHosts: parseKnownHosts(line('127.0.0.1', s.port, hostKey)),
      insecure: false,
      retry: FAST_RETRY,
    });
    try {
      const [r] = await pool.forEachHost([{ name: 'h1', address: '127.0.0.1', port: s.port, user: 'root' }], async () => {
        throw new TypeError('boom');
      });
      expect(r).toMatchObject({ host: 'h1', ok: false });
      if (r && !r.ok) expect(r.error.reason).toBe('internal');
    } finally {
      await pool.closeAll();
    }
  });
});
