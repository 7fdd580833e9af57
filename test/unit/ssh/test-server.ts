/**
 * An in-process SSH server on 127.0.0.1 for transport tests. It behaves like
 * sshd where it matters to us: public key auth against one authorized key,
 * exec through a real `sh -c` (so our quoting, stdin and exit codes are
 * exercised for real), a fake `sudo` on PATH (passwordless or password-only),
 * signals, and direct-tcpip forwarding so it can act as a bastion. It records
 * everything a test may want to assert on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { Connection, ServerChannel } from 'ssh2';

const { Server, utils } = ssh2;

export interface KeyPair {
  private: string;
  /** `type base64` (the known_hosts / authorized_keys form, without comment). */
  public: string;
  type: string;
  blob: Buffer;
}

export function makeKey(kind: 'ed25519' | 'rsa' | 'ecdsa' = 'ed25519'): KeyPair {
  const kp =
    kind === 'rsa'
      ? utils.generateKeyPairSync('rsa', { bits: 2048 })
      : kind === 'ecdsa'
        ? utils.generateKeyPairSync('ecdsa', { bits: 256 })
        : utils.generateKeyPairSync('ed25519');
  const [type, b64] = kp.public.trim().split(/\s+/) as [string, string];
  return { private: kp.private, public: `${type} ${b64}`, type, blob: Buffer.from(b64, 'base64') };
}

export interface TestServerOptions {
  hostKeys: KeyPair[];
  /** The client key allowed to log in. */
  authorizedKey: KeyPair;
  /** How the fake sudo behaves. Default passwordless. */
  sudo?: 'nopasswd' | 'password';
  /** Bastion: rewrite direct-tcpip destinations (e.g. a private name) to loopback host:port. */
  forward?: Record<string, { host: string; port: number }>;
  /** Put a `timeout` on PATH that ignores the limit (a host that does not enforce it). */
  brokenTimeout?: boolean;
  /** Listen on this port (default: a random free one). */
  port?: number;
  /**
   * Like OpenSSH's sshd: a closed channel does not stop a command that neither
   * reads nor writes (default: the server kills its process group).
   */
  keepCommandOnClose?: boolean;
}

export interface TestServer {
  port: number;
  /** TCP connections that got as far as the SSH ident exchange. */
  connections: number;
  /** Every authentication request (method, user). */
  authAttempts: { method: string; username: string }[];
  /** Every exec'd command line, as received. */
  execs: string[];
  /** Every direct-tcpip request. */
  tcpip: { destIP: string; destPort: number }[];
  signals: string[];
  /** Host key algorithm negotiated for each connection. */
  negotiatedHostKeys: string[];
  /** Exec channels running right now, and the most at once. */
  running: number;
  maxRunning: number;
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const binDir = mkdtempSync(join(tmpdir(), 'lms-ha-fakesudo-'));
  const sudo =
    options.sudo === 'password'
      ? '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n'
      : '#!/bin/sh\n[ "$1" = -n ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n';
  writeFileSync(join(binDir, 'sudo'), sudo);
  chmodSync(join(binDir, 'sudo'), 0o755);
  if (options.brokenTimeout) {
    // Called as: timeout -k 5 <secs> sh -c <script>
    writeFileSync(join(binDir, 'timeout'), '#!/bin/sh\nshift 3\nexec "$@"\n');
    chmodSync(join(binDir, 'timeout'), 0o755);
  }

  const children = new Set<ChildProcess>();
  const clients = new Set<Connection>();
  const state: TestServer = {
    port: 0,
    connections: 0,
    authAttempts: [],
    execs: [],
    tcpip: [],
    signals: [],
    negotiatedHostKeys: [],
    running: 0,
    maxRunning: 0,
    close: async () => {},
  };
  const allowed = utils.parseKey(options.authorizedKey.public);
  if (allowed instanceof Error || Array.isArray(allowed)) throw new Error('bad authorized key');

  const server = new Server(
    {
      hostKeys: options.hostKeys.map((k) => k.private),
      // ssh2's server drops channel requests that arrive after exec started (signal included),
      // so signals are observed at the protocol level.
      debug: (msg: string) => {
        const m = /Inbound: CHANNEL_REQUEST \(r:\d+, signal: (\w+)\)/.exec(msg);
        if (m) state.signals.push(m[1]!);
      },
    },
    (client) => {
      state.connections++;
      clients.add(client);
      client.on('close', () => clients.delete(client));
      client.on('error', () => {});
      client.on('handshake', (n) => state.negotiatedHostKeys.push(n.serverHostKey));
      client.on('authentication', (ctx) => {
        state.authAttempts.push({ method: ctx.method, username: ctx.username });
        if (ctx.method !== 'publickey' || !ctx.key.data.equals(allowed.getPublicSSH())) return ctx.reject(['publickey']);
        if (ctx.signature && !allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo)) return ctx.reject(['publickey']);
        ctx.accept();
      });
      client.on('tcpip', (accept, reject, info) => {
        state.tcpip.push({ destIP: info.destIP, destPort: info.destPort });
        const dest = options.forward?.[info.destIP] ?? { host: info.destIP, port: info.destPort };
        const sock = netConnect(dest.port, dest.host);
        sock.once('connect', () => {
          const ch = accept();
          ch.pipe(sock).pipe(ch);
          ch.on('error', () => sock.destroy());
          sock.on('error', () => ch.close());
        });
        sock.once('error', () => reject());
      });
      client.on('ready', () => {
        client.on('session', (acceptSession) => {
          const session = acceptSession();
          session.on('exec', (acceptExec, _reject, info) => {
            state.execs.push(info.command);
            const stream: ServerChannel = acceptExec();
            state.running++;
            state.maxRunning = Math.max(state.maxRunning, state.running);
            // Like sshd: the login shell runs the command line. Own process group so a kill reaches grandchildren.
            const proc = spawn('sh', ['-c', info.command], {
              env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}` },
              detached: true,
              stdio: ['pipe', 'pipe', 'pipe'],
            });
            children.add(proc);
            stream.pipe(proc.stdin!);
            proc.stdin!.on('error', () => {});
            proc.stdout!.on('data', (d: Buffer) => stream.write(d));
            proc.stderr!.on('data', (d: Buffer) => stream.stderr.write(d));
            let channelOpen = true;
            stream.on('close', () => {
              channelOpen = false;
              // Client went away (timeout): do not leave the command running.
              if (!options.keepCommandOnClose && proc.exitCode === null && proc.signalCode === null && proc.pid) killGroup(proc.pid, 'SIGKILL');
            });
            proc.on('close', (code, signal) => {
              children.delete(proc);
              state.running--;
              if (!channelOpen) return;
              if (signal) stream.exit(signal.replace(/^SIG/, ''), false, '');
              else stream.exit(code ?? 0);
              stream.end();
            });
          });
        });
      });
    },
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  state.port = (server.address() as { port: number }).port;
  state.close = async () => {
    for (const c of children) if (c.pid) killGroup(c.pid, 'SIGKILL');
    for (const c of clients) c.end();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(binDir, { recursive: true, force: true });
  };
  return state;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** A free loopback port with nothing listening on it (for connection-refused tests). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
