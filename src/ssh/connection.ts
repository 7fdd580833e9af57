/**
 * One SSH connection to one host, over ssh2, implementing RemoteHost.
 *
 * Trust and failure rules, in order of importance:
 * - the host key is checked against known_hosts before authentication, and a
 *   failed check is reported with the key and the line to pin (host-key.ts);
 * - connects are retried with backoff when the failure can be transient
 *   (refused, timed out, reset), never on host-key or authentication errors;
 * - commands are never retried: a command that may have run is reported, not
 *   repeated;
 * - the private key stays a Buffer in memory and is never logged or written.
 */
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { posix as posixPath } from 'node:path';
import type { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import pLimit from 'p-limit';
import { DeployError } from '../errors.js';
import type { Logger } from '../log.js';
import { createHostVerifier, preferredHostKeyAlgorithms, type PresentedHostKey } from './host-key.js';
import { fingerprintSha256, type KnownHostsDb } from './known-hosts.js';
import { shellQuote, wrapCommand } from './quote.js';
import type { RemoteHost, RemoteProcess, RootRoute, RootRouted, RunOptions, RunResult, SpawnOptions, WriteFileOptions } from './types.js';
import { formatDuration } from '../format.js';

const { Client, utils } = ssh2;
type SshClient = InstanceType<typeof Client>;

export interface RetryOptions {
  /** Total connect attempts, including the first. Default 3. */
  attempts: number;
  /** Delay before the second attempt; doubles each time. Default 1000 ms. */
  initialDelayMs: number;
  /** Upper bound for one delay. Default 10 000 ms. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 3, initialDelayMs: 1000, maxDelayMs: 10_000 };
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60_000;
/** Per stream; only the tail is kept beyond this, since errors quote the tail. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/** readFile refuses files bigger than this rather than return a truncated one. */
export const MAX_READ_FILE_BYTES = 64 * 1024 * 1024;
/**
 * OpenSSH allows 10 sessions per connection (MaxSessions); staying under it
 * keeps a burst of parallel commands on one host from being refused.
 */
export const DEFAULT_MAX_CONCURRENT_COMMANDS = 8;

export interface ConnectOptions {
  /** Inventory name: log prefix and the host named in errors. */
  name: string;
  address: string;
  port: number;
  user: string;
  /** The private key, in memory only. */
  privateKey: Buffer;
  passphrase?: string;
  knownHosts: KnownHostsDb;
  /** Skip host key verification (unsafe, explicit opt-out); the presented key is still recorded and warned about. */
  insecure: boolean;
  /** TCP connect + SSH handshake + authentication, per attempt. Default 30 s. */
  connectTimeoutMs?: number;
  /** Reach this host through a jump host; the bastion is pinned and connected first. */
  bastion?: ConnectOptions;
  /** An already open bastion connection to tunnel through (takes precedence over `bastion`; not closed with this host). */
  via?: SshHost;
  retry?: Partial<RetryOptions>;
  logger?: Logger;
  /** Detects a dead peer on an idle connection. Default 15 s (4 missed replies close it). */
  keepaliveIntervalMs?: number;
  maxConcurrentCommands?: number;
  /** How long after a command's timeout we stop waiting for the host to end it. Default 10 s. */
  commandTimeoutGraceMs?: number;
  /**
   * For a login with no general sudo (the plan account): every request for
   * root goes through this route, never through `sudo -n sh -c`.
   */
  rootRoute?: RootRoute;
}

/** What the caller needs to know about a freshly opened connection. */
export interface ConnectionInfo {
  hostKey: PresentedHostKey;
  attempts: number;
  via?: string;
}

interface ConnectFailure extends Error {
  retryable: boolean;
  deployError: DeployError;
}

const NULL_LOGGER: Logger = {
  info: () => {},
  warn: () => {},
  debug: () => {},
  group: (_title, fn) => fn(),
};

/** Exit code our readFile script uses for "no such file"; not one that cat, sh or sudo produce. */
export const MISSING_FILE_EXIT = 44;

/**
 * Opens a connection (through the bastion when there is one), retrying
 * transient failures. Throws DeployError: `host-key-unknown`,
 * `host-key-mismatch`, `ssh-failed`, or `invalid-input` for an unreadable key.
 */
export async function connectHost(options: ConnectOptions): Promise<SshHost> {
  const logger = options.logger ?? NULL_LOGGER;
  const clientKey = describeClientKey(options.privateKey, options.passphrase);

  let via = options.via;
  let ownsVia = false;
  if (!via && options.bastion) {
    via = await connectHost({ ...options.bastion, logger: options.bastion.logger ?? options.logger });
    ownsVia = true;
  }

  try {
    const retry = { ...DEFAULT_RETRY, ...options.retry };
    for (let attempt = 1; ; attempt++) {
      try {
        const host = await connectOnce(options, clientKey, via, attempt, ownsVia ? via : undefined);
        const { hostKey } = host;
        if (!hostKey.verified) {
          logger.warn(
            `host key NOT verified (insecure opt-out): accepted ${hostKey.type} ${hostKey.fingerprint}. ` +
              `Pin it with this known_hosts line after checking it on the host: ${hostKey.knownHostsLine}`,
            options.name,
          );
        }
        logger.debug(
          `connected as ${options.user} to ${options.address}:${options.port}` +
            (via ? ` via ${via.name}` : '') +
            ` (host key ${hostKey.type} ${hostKey.fingerprint}${hostKey.verified ? ', pinned' : ', UNVERIFIED'})`,
          options.name,
        );
        return host;
      } catch (error) {
        const failure = error as ConnectFailure;
        if (!failure.deployError) throw error;
        if (!failure.retryable || attempt >= retry.attempts) throw failure.deployError;
        const delay = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
        logger.warn(
          `connect attempt ${attempt}/${retry.attempts} failed: ${failure.message}; retrying in ${delay} ms`,
          options.name,
        );
        await sleep(delay);
      }
    }
  } catch (error) {
    if (ownsVia) await via!.close();
    throw error;
  }
}

interface ClientKey {
  type: string;
  fingerprint: string;
}

const clientKeyCache = new WeakMap<Buffer, Map<string, ClientKey>>();

/**
 * Parsed up front (once per key: an encrypted key costs a bcrypt KDF each
 * time) so a bad key fails fast with a clear message, and authentication
 * errors can name the key offered. Only the public half is kept.
 */
function describeClientKey(privateKey: Buffer, passphrase?: string): ClientKey {
  const cached = clientKeyCache.get(privateKey)?.get(passphrase ?? '');
  if (cached) return cached;
  const described = parseClientKey(privateKey, passphrase);
  const byPassphrase = clientKeyCache.get(privateKey) ?? new Map<string, ClientKey>();
  byPassphrase.set(passphrase ?? '', described);
  clientKeyCache.set(privateKey, byPassphrase);
  return described;
}

function parseClientKey(privateKey: Buffer, passphrase?: string): ClientKey {
  const parsed = utils.parseKey(privateKey, passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    const why = key instanceof Error ? key.message : 'no key found';
    throw new DeployError('invalid-input', `the SSH private key could not be read: ${why}`, {
      hint:
        'Pass the whole private key file (OpenSSH or PEM format, including the BEGIN/END lines) in the ssh-private-key input, ' +
        'and its passphrase if it has one.',
    });
  }
  if (!key.isPrivateKey()) {
    throw new DeployError('invalid-input', 'the SSH private key given is a PUBLIC key (nothing was contacted)', {
      hint: 'Pass the private key (the file without .pub, starting with -----BEGIN OPENSSH PRIVATE KEY-----); its public half belongs in the hosts\' authorized_keys.',
    });
  }
  const blob = key.getPublicSSH();
  return { type: key.type, fingerprint: fingerprintSha256(blob) };
}

/**
 * Reads the client key once before any connection, so an unreadable key, a
 * wrong passphrase or a public key given as the private one is one
 * `invalid-input` for the run, not an `ssh-failed` per host.
 */
export function checkClientKey(privateKey: Buffer, passphrase?: string): void {
  describeClientKey(privateKey, passphrase);
}

function connectOnce(
  options: ConnectOptions,
  clientKey: ClientKey,
  via: SshHost | undefined,
  attempt: number,
  ownedBastion: SshHost | undefined,
): Promise<SshHost> {
  const where = `${options.name} (${options.address}:${options.port}${via ? ` via ${via.name}` : ''})`;
  const policy = { knownHosts: options.knownHosts, insecureSkipHostKeyCheck: options.insecure };
  const target = { name: options.name, address: options.address, port: options.port, via: via?.name };
  const { hostVerifier, decision } = createHostVerifier(target, policy);
  const serverHostKey = preferredHostKeyAlgorithms(target, policy);

  return new Promise((resolve, reject) => {
    let settled = false;
    const client = new Client();
    const fail = (failure: ConnectFailure) => {
      if (settled) return;
      settled = true;
      client.removeAllListeners();
      client.on('error', () => {});
      client.end();
      reject(failure);
    };
    // A refused host key surfaces from ssh2 as a generic handshake error (or just a close);
    // the verifier's own decision says which host, which key and what to do.
    const hostKeyFailure = (): ConnectFailure | undefined => {
      const d = decision();
      return d && !d.ok ? failureOf(false, d.error) : undefined;
    };
    const onError = (err: Error & { level?: string; code?: string }) =>
      fail(hostKeyFailure() ?? classifyConnectError(err, options, where, clientKey));
    const onClose = () =>
      fail(
        hostKeyFailure() ??
          failureOf(
            true,
            new DeployError('ssh-failed', `${where}: the connection closed during the SSH handshake`, {
              host: options.name,
              hint: 'Check that an SSH server (not another service) listens on that port and that it is not refusing new connections (MaxStartups).',
            }),
          ),
      );

    const start = (sock?: Readable) => {
      client.once('ready', () => {
        if (settled) return;
        settled = true;
        client.off('error', onError);
        client.off('close', onClose);
        const d = decision();
        if (!d || !d.ok) {
          // ready implies the verifier ran and accepted; anything else is a bug we refuse to paper over.
          client.on('error', () => {});
          client.end();
          reject(failureOf(false, new DeployError('internal', `${where}: connected without a host key decision`)));
          return;
        }
        // Node leaves Nagle on: a small write (an rsync protocol message relayed by the file
        // copy's bridge) then waits for the peer's delayed ACK. OpenSSH sets TCP_NODELAY too.
        client.setNoDelay(true);
        // Built synchronously here so the host's own error/close listeners are in place before any event.
        resolve(new SshHost(client, options, { hostKey: d.key, attempts: attempt, via: via?.name }, ownedBastion));
      });
      client.on('error', onError);
      client.on('close', onClose);

      const config: ConnectConfig = {
        username: options.user,
        privateKey: options.privateKey,
        passphrase: options.passphrase,
        hostVerifier,
        readyTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: 4,
        // Only the key: no "none"/password/agent probes, so a refusal is about this key.
        authHandler: ['publickey'],
        ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as never } } : {}),
        ...(sock ? { sock } : { host: options.address, port: options.port }),
      };
      try {
        client.connect(config);
      } catch (err) {
        fail(failureOf(false, new DeployError('ssh-failed', `${where}: ${(err as Error).message}`, { host: options.name, cause: err })));
      }
    };

    if (!via) return start();
    via.forwardOut(options.address, options.port).then(start, (err: Error & { reason?: number | string }) => {
      // 2 = connect failed (target down or refusing), 4 = resource shortage: both can pass.
      const retryable = err.reason === 2 || err.reason === 4;
      fail(
        failureOf(
          retryable,
          new DeployError(
            'ssh-failed',
            `${where}: the bastion ${via.name} could not open a connection to ${options.address}:${options.port}: ${err.message}`,
            {
              host: options.name,
              cause: err,
              hint:
                err.reason === 1
                  ? `The bastion refuses TCP forwarding: set AllowTcpForwarding yes (at least for ${via.user}) in its sshd_config.`
                  : `Check that ${options.address}:${options.port} is reachable from the bastion and that sshd runs there.`,
            },
          ),
        ),
      );
    });
  });
}

function failureOf(retryable: boolean, deployError: DeployError): ConnectFailure {
  return Object.assign(new Error(deployError.message), { retryable, deployError });
}

const TRANSIENT_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);

function classifyConnectError(
  err: Error & { level?: string; code?: string },
  options: ConnectOptions,
  where: string,
  clientKey: ClientKey,
): ConnectFailure {
  const host = options.name;
  switch (err.level) {
    case 'client-authentication':
      return failureOf(
        false,
        new DeployError(
          'ssh-failed',
          `${where}: all authentication methods failed for user ${options.user} (offered key ${clientKey.type} ${clientKey.fingerprint})`,
          {
            host,
            cause: err,
            hint:
              `Check that the public key with fingerprint ${clientKey.fingerprint} is in ~${options.user}/.ssh/authorized_keys on the host, ` +
              `that the user name is right, and that sshd allows public key login for it (PubkeyAuthentication, AllowUsers, PermitRootLogin).`,
          },
        ),
      );
    case 'client-timeout':
      return failureOf(
        true,
        new DeployError('ssh-failed', `${where}: timed out after ${formatDuration(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)} waiting for the SSH handshake`, {
          host,
          cause: err,
          hint: 'Check that the host is up and that a firewall lets the runner (or the bastion) reach its SSH port.',
        }),
      );
    case 'client-dns':
      return failureOf(
        err.code === 'EAI_AGAIN',
        new DeployError('ssh-failed', `${where}: cannot resolve ${options.address} (${err.code ?? err.message})`, {
          host,
          cause: err,
          hint: 'Use an IP address in the inventory, or a name the runner (or the bastion) can resolve.',
        }),
      );
    case 'client-socket': {
      const code = err.code ?? err.message;
      const hint =
        code === 'ECONNREFUSED'
          ? `Nothing accepts connections on port ${options.port}: check that sshd runs and listens there.`
          : 'Check that the host is up and reachable from the runner, and that no firewall drops SSH.';
      return failureOf(
        TRANSIENT_SOCKET_CODES.has(code),
        new DeployError('ssh-failed', `${where}: ${code}`, { host, cause: err, hint }),
      );
    }
    default: {
      // "Connection lost before handshake" is what a peer that hangs up (overloaded sshd, a proxy) looks like.
      const transient = /Connection lost before handshake|ECONNRESET/i.test(err.message);
      return failureOf(
        transient,
        new DeployError('ssh-failed', `${where}: SSH ${err.level ?? 'connection'} error: ${err.message}`, {
          host,
          cause: err,
          hint: /no matching/i.test(err.message)
            ? 'The server and ssh2 share no algorithm; the server is probably too old or restricted to algorithms ssh2 lacks.'
            : 'Check that an SSH server listens on that address and port.',
        }),
      );
    }
  }
}

/** Keeps at most `max` bytes, dropping the oldest first (errors quote the tail). */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max && this.chunks.length > 0) {
      const excess = this.size - this.max;
      const first = this.chunks[0]!;
      this.truncated = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

interface RawResult {
  code: number;
  signal?: string;
  stdout: Buffer;
  stderr: string;
  stdoutTruncated: boolean;
}

/** RunResult plus what the transport knows about it. */
export interface SshRunResult extends RunResult {
  /** The signal that ended the command, when it was killed. */
  signal?: string;
  /** Only the tail of stdout was kept (output beyond maxOutputBytes). */
  stdoutTruncated?: boolean;
}

export interface SshRunOptions extends RunOptions {
  /** Cap on the output kept in memory, per stream; only the tail is kept. */
  maxOutputBytes?: number;
}

export class SshHost implements RemoteHost {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** The key the host presented (and whether it was verified against known_hosts). */
  readonly hostKey: PresentedHostKey;
  /** Connect attempts it took, and the bastion used, for the report. */
  readonly info: ConnectionInfo;
  private readonly logger: Logger;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly timeoutGraceMs: number;
  private readonly rootRoute: RootRoute | undefined;
  private lostReason: string | undefined;
  private closing: Promise<void> | undefined;

  /** Use connectHost(); the constructor takes an already authenticated client. */
  constructor(
    private readonly client: SshClient,
    options: ConnectOptions,
    info: ConnectionInfo,
    private readonly ownedBastion?: SshHost,
  ) {
    this.name = options.name;
    this.address = options.address;
    this.port = options.port;
    this.user = options.user;
    this.hostKey = info.hostKey;
    this.info = info;
    this.logger = options.logger ?? NULL_LOGGER;
    this.limit = pLimit(options.maxConcurrentCommands ?? DEFAULT_MAX_CONCURRENT_COMMANDS);
    this.timeoutGraceMs = options.commandTimeoutGraceMs ?? 10_000;
    this.rootRoute = options.user === 'root' ? undefined : options.rootRoute;
    // An 'error' without a listener would crash the process; a lost connection is reported on next use instead.
    client.on('error', (err: Error) => {
      this.lostReason ??= err.message;
      if (!this.closing) this.logger.warn(`SSH connection error: ${err.message}`, this.name);
    });
    client.on('close', () => {
      this.lostReason ??= 'the connection closed';
    });
  }

  /** True once the connection is gone (closed by us, or lost). */
  get closed(): boolean {
    return this.lostReason !== undefined || this.closing !== undefined;
  }

  async run(command: string, options: SshRunOptions): Promise<SshRunResult> {
    const sudo = options.sudo ?? true;
    this.logger.debug(`run: ${options.purpose}`, this.name);
    const raw = await this.exec(command, options.purpose, {
      sudo,
      stdin: options.stdin,
      timeoutMs: options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    });
    const result: SshRunResult = {
      code: raw.code,
      stdout: raw.stdout.toString('utf8'),
      stderr: raw.stderr,
      ...(raw.signal ? { signal: raw.signal } : {}),
      ...(raw.stdoutTruncated ? { stdoutTruncated: true } : {}),
    };
    if (raw.code !== 0 && !options.allowFailure) {
      const how = raw.signal ? `killed by signal ${raw.signal}` : `exit ${raw.code}`;
      throw new DeployError(
        'command-failed',
        `${this.name}: ${options.purpose} failed (${how}): ${tail(raw.stderr) || tail(result.stdout) || '(no output)'}`,
        { host: this.name },
      );
    }
    return result;
  }

  async readFile(path: string): Promise<Buffer | null> {
    assertAbsolute(path);
    const q = shellQuote(path);
    const purpose = `read ${path}`;
    // "Missing" is decided by test -e, not by parsing cat's (localised) message; any other failure is an error.
    const script = `[ -e ${q} ] || exit ${MISSING_FILE_EXIT}; exec cat -- ${q}`;
    const raw = await this.exec(script, purpose, {
      sudo: true,
      timeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
      maxOutputBytes: MAX_READ_FILE_BYTES,
      readPath: path,
    });
    if (raw.code === MISSING_FILE_EXIT && !raw.signal) return null;
    if (raw.code !== 0) {
      throw new DeployError('command-failed', `${this.name}: ${purpose} failed (exit ${raw.code}): ${tail(raw.stderr) || '(no output)'}`, {
        host: this.name,
      });
    }
    if (raw.stdoutTruncated) {
      throw new DeployError('command-failed', `${this.name}: ${path} is larger than ${MAX_READ_FILE_BYTES} bytes; refusing to read it into memory`, {
        host: this.name,
      });
    }
    return raw.stdout;
  }

  async writeFile(path: string, content: string | Buffer, options: WriteFileOptions): Promise<void> {
    assertAbsolute(path);
    if (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o7777) {
      throw new DeployError('internal', `writeFile ${path}: invalid mode ${options.mode}`);
    }
    for (const id of [options.owner, options.group]) {
      if (id !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(id)) {
        throw new DeployError('internal', `writeFile ${path}: invalid owner/group ${JSON.stringify(id)}`);
      }
    }
    const dir = posixPath.dirname(path);
    const base = posixPath.basename(path);
    const q = shellQuote(path);
    const owner =
      options.owner !== undefined || options.group !== undefined
        ? `chown -- ${shellQuote(`${options.owner ?? ''}${options.group !== undefined ? `:${options.group}` : ''}`)} "$tmp"\n`
        : '';
    // The content only ever travels on stdin. umask 077 (and mktemp's 0600) keep the temp
    // file private until chmod gives it its final mode; the rename makes the switch atomic,
    // and the trap removes the temp file when anything fails on the way.
    const script =
      `set -e\n` +
      `umask 077\n` +
      `tmp=$(mktemp -- ${shellQuote(`${dir}/.${base}.lms-ha.XXXXXX`)})\n` +
      `trap 'rm -f -- "$tmp"' EXIT\n` +
      `cat > "$tmp"\n` +
      owner +
      `chmod -- ${options.mode.toString(8).padStart(4, '0')} "$tmp"\n` +
      `mv -f -- "$tmp" ${q}\n` +
      `trap - EXIT\n`;
    await this.run(script, {
      purpose: `write ${path}`,
      stdin: typeof content === 'string' ? Buffer.from(content, 'utf8') : content,
      sudo: true,
    });
  }

  /**
   * Starts a command with its streams open (see RemoteProcess). It holds one
   * of the connection's command slots until it ends. The timeout is enforced
   * on the host, as for run(); a local backstop closes the channel later.
   */
  spawn(script: string, options: SpawnOptions): Promise<RemoteProcess> {
    const purpose = options.purpose;
    const sudo = options.sudo ?? true;
    const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new DeployError('internal', `${purpose}: timeout must be positive, got ${timeoutMs}`);
    // OpenSSH's sshd (9.2 on Debian 12) refuses "signal" requests ("session signalling requires
    // privilege separation"), and closing the channel does not stop a command that is not reading
    // or writing at that moment. kill() therefore also stops it by process group, found by this
    // marker: the inner shell's $0, so it is in the command line of timeout(1) and sudo.
    if (sudo && this.rootRoute) throw this.routeRefused(purpose, { refused: 'a streamed command is never a named fact', hint: 'Run this command with the apply account.' });
    const marker = `lms-ha-spawn-${randomBytes(8).toString('hex')}`;
    const command = `${wrapCommand(script, { user: this.user, sudo, timeoutSeconds: timeoutMs / 1000 })} ${marker}`;
    const wrappedInSudo = sudo && this.user !== 'root';
    this.logger.debug(`spawn: ${purpose}`, this.name);
    return new Promise<RemoteProcess>((resolveStarted, rejectStarted) => {
      void this.limit(
        () =>
          new Promise<void>((release) => {
            if (this.closed) {
              rejectStarted(this.lostError(purpose, false));
              release();
              return;
            }
            const onChannel = (err: Error | undefined, stream: ClientChannel) => {
              if (err) {
                release();
                rejectStarted(this.startError(purpose, err));
                return;
              }
              const started = Date.now();
              const stderr = new TailBuffer(DEFAULT_MAX_OUTPUT_BYTES);
              let code: number | undefined;
              let signal: string | undefined;
              let timedOut = false;
              const backstop = setTimeout(() => {
                timedOut = true;
                sendSignal(stream, 'KILL');
                stream.close();
              }, timeoutMs + this.timeoutGraceMs);
              stream.stderr.on('data', (d: Buffer) => stderr.push(d));
              stream.on('exit', (c: number | null, sig?: string) => {
                if (typeof c === 'number') code = c;
                else if (sig) {
                  signal = sig;
                  code = 128 + ((osConstants.signals as Record<string, number>)[`SIG${sig}`] ?? 0);
                }
              });
              stream.on('error', () => {
                /* surfaces as a close without an exit status */
              });
              const done = new Promise<RunResult & { signal?: string }>((resolveDone, rejectDone) => {
                stream.on('close', () => {
                  clearTimeout(backstop);
                  release();
                  if (timedOut) return rejectDone(this.timeoutError(purpose, timeoutMs, false));
                  const ended = this.commandEnded({ purpose, code, started, timeoutMs, stderr, wrappedInSudo });
                  if ('error' in ended) return rejectDone(ended.error);
                  resolveDone({ code: ended.code, stdout: '', stderr: ended.stderr, ...(signal ? { signal } : {}) });
                });
              });
              let stopping: Promise<unknown> | undefined;
              // Settles once the command's channel closed and, after a kill, the stop by process group ran.
              // (stopping never rejects: its failure is caught where it starts.)
              const ended = done.finally(() => stopping);
              // Nobody may be awaiting `done` yet when the connection drops; the caller still sees the rejection.
              ended.catch(() => undefined);
              resolveStarted({
                stdin: stream,
                stdout: stream,
                stderr: stream.stderr,
                done: ended,
                kill: () => {
                  sendSignal(stream, 'KILL');
                  stream.close();
                  // ssh2 emits 'close' (and so settles `done`) only once the output was read to its
                  // end; a pipe that stopped reading (its destination went away) would hold it forever.
                  stream.unpipe();
                  stream.resume();
                  stopping ??= this.exec(killByMarkerScript(marker), `stop "${purpose}"`, { sudo, timeoutMs: 30_000, maxOutputBytes: 4096 }).catch(() => undefined);
                },
              });
            };
            try {
              this.client.exec(command, onChannel);
            } catch (err) {
              release();
              rejectStarted(new DeployError('ssh-failed', `${this.name}: could not start "${purpose}": ${(err as Error).message}`, { host: this.name, cause: err }));
            }
          }),
      );
    });
  }

  /** Opens a TCP channel from this host to address:port (this host acting as a jump host). */
  forwardOut(address: string, port: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(Object.assign(new Error(`the connection to ${this.name} is closed (${this.lostReason ?? 'closed by us'})`), { reason: 'closed' }));
        return;
      }
      try {
        this.client.forwardOut('127.0.0.1', 0, address, port, (err, stream) => (err ? reject(err) : resolve(stream)));
      } catch (err) {
        reject(err);
      }
    });
  }

  /** Closes the connection (and the bastion connection it opened for itself). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await new Promise<void>((resolve) => {
        if (this.lostReason !== undefined) return resolve();
        const timer = setTimeout(resolve, 2000);
        this.client.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        this.client.end();
      });
      if (this.ownedBastion) await this.ownedBastion.close();
    })();
    return this.closing;
  }

  private checkSudo(code: number, stderr: string, purpose: string): void {
    // sudo -n prints these and exits 1 when it would have to ask for a password.
    if (code === 1 && /^sudo: (a password is required|a terminal is required|no tty present)/m.test(stderr)) {
      throw new DeployError(
        'sudo-failed',
        `${this.name}: sudo for user ${this.user} needs a password, so "${purpose}" could not run as root (${tail(stderr, 3)})`,
        {
          host: this.name,
          hint:
            `Give ${this.user} passwordless sudo on ${this.name}, e.g. /etc/sudoers.d/lms-ha (mode 0440) containing ` +
            `"${this.user} ALL=(ALL:ALL) NOPASSWD: ALL" (check it with visudo -cf), or log in as root.`,
        },
      );
    }
    if (code === 1 && /^sudo: sorry, you must have a tty/m.test(stderr)) {
      throw new DeployError('sudo-failed', `${this.name}: sudo on this host insists on a terminal (requiretty), so "${purpose}" could not run as root`, {
        host: this.name,
        hint: `Remove "Defaults requiretty" for ${this.user} in the sudoers configuration of ${this.name} (lms-ha never allocates a terminal), or log in as root.`,
      });
    }
    const notAllowed = code === 1 && /is not in the sudoers file|may not run sudo|is not allowed to execute/.test(stderr);
    const notInstalled = code === 127 && /sudo: (command )?not found/.test(stderr);
    if (notAllowed || notInstalled) {
      throw new DeployError(
        'sudo-failed',
        `${this.name}: user ${this.user} cannot use sudo${notInstalled ? ' (sudo is not installed)' : ''}, so "${purpose}" could not run as root: ${tail(stderr, 3)}`,
        {
          host: this.name,
          hint: `${notInstalled ? 'Install sudo and give' : 'Give'} ${this.user} passwordless sudo (NOPASSWD) on ${this.name}, or log in as root.`,
        },
      );
    }
  }

  /**
   * Runs a script once and collects its result. Timeouts are enforced on the
   * host by coreutils `timeout`, which signals the command's whole process
   * group (TERM, then KILL 5 s later), because closing an SSH channel does not
   * stop a command without a terminal. A local backstop, a little later, closes
   * the channel if the host does not answer at all.
   */
  private exec(
    script: string,
    purpose: string,
    options: { sudo: boolean; stdin?: string | Buffer; timeoutMs: number; maxOutputBytes: number; readPath?: string },
  ): Promise<RawResult> {
    if (!(options.timeoutMs > 0)) throw new DeployError('internal', `${purpose}: timeout must be positive, got ${options.timeoutMs}`);
    if (options.sudo && this.rootRoute) {
      const routed = this.rootRoute(options.readPath !== undefined ? { readPath: options.readPath } : { script, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
      if ('refused' in routed) return Promise.reject(this.routeRefused(purpose, routed));
      return this.execRouted(routed, purpose, options);
    }
    const command = wrapCommand(script, { user: this.user, sudo: options.sudo, timeoutSeconds: options.timeoutMs / 1000 });
    return this.execCommand(command, purpose, { ...options, wrappedInSudo: options.sudo && this.user !== 'root' });
  }

  private execCommand(
    command: string,
    purpose: string,
    options: { stdin?: string | Buffer; timeoutMs: number; maxOutputBytes: number; wrappedInSudo: boolean },
  ): Promise<RawResult> {
    const wrappedInSudo = options.wrappedInSudo;
    return this.limit(
      () =>
        new Promise<RawResult>((resolve, reject) => {
          if (this.closed) {
            reject(this.lostError(purpose, false));
            return;
          }
          const onChannel = (err: Error | undefined, stream: ClientChannel) => {
            if (err) {
              reject(this.startError(purpose, err));
              return;
            }
            const started = Date.now();
            const stdout = new TailBuffer(options.maxOutputBytes);
            const stderr = new TailBuffer(Math.min(options.maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES));
            let code: number | undefined;
            let signal: string | undefined;
            let done = false;
            const backstop = setTimeout(() => {
              done = true;
              // The host did not stop it in time: ask it to kill, then drop the channel without waiting.
              sendSignal(stream, 'KILL');
              stream.close();
              reject(this.timeoutError(purpose, options.timeoutMs, false));
            }, options.timeoutMs + this.timeoutGraceMs);
            stream.on('data', (d: Buffer) => stdout.push(d));
            stream.stderr.on('data', (d: Buffer) => stderr.push(d));
            stream.on('exit', (c: number | null, sig?: string) => {
              if (typeof c === 'number') code = c;
              else if (sig) {
                signal = sig;
                const n = (osConstants.signals as Record<string, number>)[`SIG${sig}`];
                code = 128 + (n ?? 0);
              }
            });
            stream.on('error', () => {
              /* surfaces as a close without an exit status */
            });
            stream.on('close', () => {
              clearTimeout(backstop);
              if (done) return;
              done = true;
              const ended = this.commandEnded({ purpose, code, started, timeoutMs: options.timeoutMs, stderr, wrappedInSudo });
              if ('error' in ended) {
                reject(ended.error);
                return;
              }
              resolve({ code: ended.code, signal, stdout: stdout.toBuffer(), stderr: ended.stderr, stdoutTruncated: stdout.truncated });
            });
            // Always end stdin, so a command that reads it sees EOF instead of waiting forever.
            stream.end(options.stdin === undefined ? undefined : options.stdin);
          };
          try {
            this.client.exec(command, onChannel);
          } catch (err) {
            reject(new DeployError('ssh-failed', `${this.name}: could not start "${purpose}": ${(err as Error).message}`, { host: this.name, cause: err }));
          }
        }),
    );
  }

  /** A root request the route answers with its own command (which calls sudo itself); its refusals are errors. */
  private async execRouted(
    routed: Extract<RootRouted, { command: string }>,
    purpose: string,
    options: { timeoutMs: number; maxOutputBytes: number },
  ): Promise<RawResult> {
    const raw = await this.execCommand(wrapCommand(routed.command, { user: this.user, sudo: false, timeoutSeconds: options.timeoutMs / 1000 }), purpose, {
      timeoutMs: options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes,
      wrappedInSudo: true,
    });
    if (routed.refusedCodes.includes(raw.code)) throw this.routeRefused(purpose, { refused: tail(raw.stderr, 3) || `exit ${raw.code}`, hint: routed.hint });
    return raw;
  }

  private routeRefused(purpose: string, routed: { refused: string; hint: string }): DeployError {
    return new DeployError('sudo-failed', `${this.name}: "${purpose}" needs root, and ${this.user} may only run the lms-ha plan gatherer: ${routed.refused}`, {
      host: this.name,
      hint: routed.hint,
    });
  }

  private startError(purpose: string, err: Error): DeployError {
    return this.lostReason !== undefined
      ? this.lostError(purpose, false)
      : new DeployError('ssh-failed', `${this.name}: could not start "${purpose}": ${err.message}`, { host: this.name, cause: err });
  }

  /**
   * What a command's channel closing means, for run() and spawn() alike: no
   * exit status is a lost connection, timeout(1)'s 124/137 once the time is up
   * is a timeout, sudo's refusals are errors; otherwise the exit code and stderr.
   */
  private commandEnded(e: {
    purpose: string;
    code: number | undefined;
    started: number;
    timeoutMs: number;
    stderr: TailBuffer;
    wrappedInSudo: boolean;
  }): { error: unknown } | { code: number; stderr: string } {
    if (e.code === undefined) return { error: this.lostError(e.purpose, true) };
    // timeout(1) exits 124 (stopped by TERM) or 137 (needed KILL); only believe it once the time is up.
    if ((e.code === 124 || e.code === 137) && Date.now() - e.started >= e.timeoutMs - 50) {
      return { error: this.timeoutError(e.purpose, e.timeoutMs, true) };
    }
    let errText = e.stderr.toBuffer().toString('utf8');
    if (e.wrappedInSudo) {
      // sudo's own complaint about the host's name resolution is noise in every error message.
      errText = errText.replace(/^sudo: unable to resolve host [^\n]*\n?/gm, '');
      try {
        this.checkSudo(e.code, errText, e.purpose);
      } catch (error) {
        return { error };
      }
    }
    return { code: e.code, stderr: errText };
  }

  private timeoutError(purpose: string, timeoutMs: number, stoppedOnHost: boolean): DeployError {
    return new DeployError(
      'command-failed',
      stoppedOnHost
        ? `${this.name}: ${purpose} timed out after ${formatDuration(timeoutMs)} and was stopped`
        : `${this.name}: ${purpose} timed out after ${formatDuration(timeoutMs)} and the host did not stop it; the channel was closed`,
      {
        host: this.name,
        hint: stoppedOnHost
          ? 'It was sent TERM (KILL 5 s later) on the host. If the step is legitimately slow, raise its timeout.'
          : 'It may still be running on the host; check it there before running again.',
      },
    );
  }

  private lostError(purpose: string, started: boolean): DeployError {
    return new DeployError(
      'ssh-failed',
      `${this.name}: the SSH connection was lost ${started ? 'while running' : 'before running'} "${purpose}" (${this.lostReason ?? 'channel closed without an exit status'})` +
        (started ? '; it may or may not have completed, and it is not retried' : ''),
      {
        host: this.name,
        hint: started
          ? 'Check the host (was it rebooted or out of memory?) and the state of what this step changes, then run again.'
          : 'Check that the host is up and reachable, then run again.',
      },
    );
  }
}

/**
 * KILLs the process groups of the processes whose command line carries the
 * marker (spawn() puts it there). The pattern's brackets keep it from matching
 * this script's own command line; no `--` before the group, which dash's kill
 * takes for a process id.
 */
function killByMarkerScript(marker: string): string {
  const pattern = `[${marker[0]}]${marker.slice(1)}`;
  return `for p in $(pgrep -f -- '${pattern}'); do g=$(ps -o pgid= -p "$p" | tr -d ' '); [ -n "$g" ] && kill -KILL "-$g"; done; true`;
}

/**
 * Channel.signal() is a no-op once our side has sent EOF, which it has as soon
 * as stdin was sent; the request is still valid until the channel closes
 * (RFC 4254 §5.3), so send it through the protocol object directly.
 */
function sendSignal(stream: ClientChannel, name: string): void {
  const ch = stream as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, name: string): void } };
  };
  try {
    const state = ch.outgoing?.state;
    if (state === 'open' || state === 'eof') ch._client?._protocol?.signal(ch.outgoing!.id, name);
  } catch {
    /* the channel is going away anyway */
  }
}

function assertAbsolute(path: string): void {
  if (!path.startsWith('/') || path.includes('\0')) {
    throw new DeployError('internal', `remote file paths must be absolute: ${JSON.stringify(path)}`);
  }
}

/** The last lines of command output, enough to see the error without flooding the log. */
export function tail(text: string, maxLines = 20, maxChars = 2000): string {
  let t = text.trimEnd();
  if (t.length > maxChars) t = `…${t.slice(-maxChars)}`;
  const lines = t.split('\n');
  return (lines.length > maxLines ? ['…', ...lines.slice(-maxLines)] : lines).join('\n').trim();
}


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
