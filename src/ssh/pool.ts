/**
 * The connections of one run: one per host, opened on first use and reused
 * until closeAll(), and a bounded fan-out that gives every host its own
 * result so one unreachable host does not hide what happened on the others.
 */
import pLimit from 'p-limit';
import { DeployError, toDeployError } from '../errors.js';
import type { Logger } from '../log.js';
import { connectHost, type ConnectOptions, type RetryOptions, type SshHost } from './connection.js';
import type { KnownHostsDb } from './known-hosts.js';
import type { RootRoute } from './types.js';

/** One host as the inventory describes it. */
export interface HostSpec {
  name: string;
  address: string;
  /** Default 22. */
  port?: number;
  user: string;
  /** Jump host to reach it through; connected once and shared by all hosts behind it. */
  bastion?: HostSpec;
  /** Per-host key, when it differs from the pool's. */
  privateKey?: Buffer;
  passphrase?: string;
}

export interface HostPoolOptions {
  privateKey: Buffer;
  passphrase?: string;
  knownHosts: KnownHostsDb;
  /** Unsafe opt-out of host key pinning; every accepted key is warned about. */
  insecure: boolean;
  connectTimeoutMs?: number;
  retry?: Partial<RetryOptions>;
  logger?: Logger;
  /** Default parallelism for forEachHost. Default 10. */
  parallelism?: number;
  keepaliveIntervalMs?: number;
  maxConcurrentCommands?: number;
  /** Every connection's root requests go through this (the plan account); see ConnectOptions.rootRoute. */
  rootRoute?: RootRoute;
}

export type HostResult<T> =
  | { host: string; ok: true; value: T }
  | { host: string; ok: false; error: DeployError };

export const DEFAULT_PARALLELISM = 10;

/** A fan-out's answers split: host → value for those that answered, and each failure with its error, in order. */
export function splitHostResults<T>(results: readonly HostResult<T>[]): { values: Map<string, T>; failures: { host: string; error: DeployError }[] } {
  const values = new Map<string, T>();
  const failures: { host: string; error: DeployError }[] = [];
  for (const r of results) {
    if (r.ok) values.set(r.host, r.value);
    else failures.push({ host: r.host, error: r.error });
  }
  return { values, failures };
}

export class HostPool {
  private readonly connections = new Map<string, Promise<SshHost>>();
  private readonly bastionKeys = new Set<string>();
  private closed = false;

  constructor(private readonly options: HostPoolOptions) {}

  /** The open connection to this host, connecting (and its bastion first) on first use. */
  get(spec: HostSpec): Promise<SshHost> {
    if (this.closed) return Promise.reject(new DeployError('internal', `HostPool used after closeAll (host ${spec.name})`));
    const key = connectionKey(spec);
    const cached = this.connections.get(key);
    if (cached) {
      // A connection lost since (host rebooted, network blip) is reopened; a live one is shared.
      return cached.then((host) => {
        if (!host.closed) return host;
        const current = this.connections.get(key);
        return current && current !== cached ? current : this.reconnect(key, spec);
      });
    }
    return this.reconnect(key, spec);
  }

  /**
   * Runs fn on every host, at most `parallelism` at a time (connecting counts
   * as part of the host's work). Never rejects: each host gets `{ok, value}`
   * or `{ok: false, error}`, in the order given; the caller decides whether a
   * failed host stops the command.
   */
  async forEachHost<T>(
    hosts: readonly HostSpec[],
    fn: (host: SshHost, spec: HostSpec) => Promise<T>,
    options: { parallelism?: number } = {},
  ): Promise<HostResult<T>[]> {
    return forEachBounded(
      hosts,
      (spec) => spec.name,
      async (spec) => fn(await this.get(spec), spec),
      options.parallelism ?? this.options.parallelism ?? DEFAULT_PARALLELISM,
    );
  }

  /**
   * A new connection of its own, not pooled and not retried (through the
   * pooled bastion when the host has one): proves that a host still accepts
   * new SSH connections, e.g. after a firewall change. The caller closes it.
   */
  async connectFresh(spec: HostSpec, timeoutMs: number): Promise<SshHost> {
    if (this.closed) throw new DeployError('internal', `HostPool used after closeAll (host ${spec.name})`);
    const via = spec.bastion ? await this.get(spec.bastion) : undefined;
    return connectHost({ ...this.connectOptions(spec, via), connectTimeoutMs: timeoutMs, retry: { attempts: 1 } });
  }

  /** Closes every connection: hosts first, then the bastions they were tunnelled through. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const entries = [...this.connections];
    this.connections.clear();
    const open = await Promise.all(
      entries.map(async ([key, promise]) => {
        try {
          return [{ key, host: await promise }];
        } catch {
          return [];
        }
      }),
    );
    const hosts = open.flat();
    await Promise.allSettled(hosts.filter((h) => !this.bastionKeys.has(h.key)).map((h) => h.host.close()));
    await Promise.allSettled(hosts.filter((h) => this.bastionKeys.has(h.key)).map((h) => h.host.close()));
  }

  private reconnect(key: string, spec: HostSpec): Promise<SshHost> {
    const promise = (async () => {
      if (spec.bastion) this.bastionKeys.add(connectionKey(spec.bastion));
      const via = spec.bastion ? await this.get(spec.bastion) : undefined;
      return connectHost(this.connectOptions(spec, via));
    })();
    this.connections.set(key, promise);
    // A failed connect is not cached: a later phase may try again (with its own retries).
    promise.catch(() => {
      if (this.connections.get(key) === promise) this.connections.delete(key);
    });
    return promise;
  }

  private connectOptions(spec: HostSpec, via: SshHost | undefined): ConnectOptions {
    const o = this.options;
    return {
      name: spec.name,
      address: spec.address,
      port: spec.port ?? 22,
      user: spec.user,
      privateKey: spec.privateKey ?? o.privateKey,
      passphrase: spec.privateKey ? spec.passphrase : o.passphrase,
      knownHosts: o.knownHosts,
      insecure: o.insecure,
      connectTimeoutMs: o.connectTimeoutMs,
      retry: o.retry,
      logger: o.logger,
      keepaliveIntervalMs: o.keepaliveIntervalMs,
      maxConcurrentCommands: o.maxConcurrentCommands,
      ...(o.rootRoute ? { rootRoute: o.rootRoute } : {}),
      via,
    };
  }
}

/** One connection per inventory host and route; a host that is also the bastion is one connection. */
function connectionKey(spec: HostSpec): string {
  const own = `${spec.name}=${spec.user}@${spec.address}:${spec.port ?? 22}`;
  return spec.bastion ? `${own} via ${connectionKey(spec.bastion)}` : own;
}

/**
 * Bounded fan-out with a result per item, usable with any RemoteHost (the
 * engine's fakes included). Errors become DeployErrors; anything else thrown
 * is an `internal` error.
 */
export async function forEachBounded<I, T>(
  items: readonly I[],
  nameOf: (item: I) => string,
  fn: (item: I) => Promise<T>,
  parallelism: number,
): Promise<HostResult<T>[]> {
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new DeployError('invalid-input', `parallelism must be a whole number of at least 1, got ${parallelism}`);
  }
  const limit = pLimit(parallelism);
  return Promise.all(
    items.map((item) =>
      limit(async (): Promise<HostResult<T>> => {
        const host = nameOf(item);
        try {
          return { host, ok: true, value: await fn(item) };
        } catch (error) {
          return { host, ok: false, error: toDeployError(error) };
        }
      }),
    ),
  );
}
