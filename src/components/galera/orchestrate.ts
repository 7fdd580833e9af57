/**
 * The I/O half of the Galera lifecycle: querying a node, running SQL with the
 * script on stdin, installing packages, and waiting for a state by polling
 * with short timeouts (never a fixed sleep).
 */
import { DeployError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { RemoteHost } from '../../ssh/types.js';
import { aptInstall } from '../../operations/packages.js';
import { startService } from '../../operations/service.js';
import { waitUntil } from '../../operations/wait.js';
import { parseWsrepStatus, rollingWaitReason, WSREP_STATUS_SQL, type NodeStatus } from './status.js';

/** The node's wsrep status, or null when mariadb does not answer. */
export async function queryNodeStatus(host: RemoteHost, timeoutMs = 5_000): Promise<NodeStatus | null> {
  const r = await host.run('mariadb -N -B', {
    purpose: 'read wsrep status',
    stdin: `${WSREP_STATUS_SQL};\n`,
    timeoutMs,
    allowFailure: true,
  });
  if (r.code !== 0 || r.stdout.trim() === '') return null;
  return parseWsrepStatus(r.stdout);
}

/**
 * Runs a script through the local client as root (unix_socket). The script goes
 * on stdin: it may hold secrets, which must never be on a command line.
 */
export async function runSqlScript(host: RemoteHost, script: string, purpose: string, timeoutMs = 60_000): Promise<string> {
  const r = await host.run('mariadb --batch -N', { purpose, stdin: script, timeoutMs, allowFailure: true });
  if (r.code !== 0) {
    throw new DeployError('command-failed', `${purpose} failed on ${host.name}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`, {
      host: host.name,
      hint: 'Check the MariaDB error log on that host (journalctl -u mariadb).',
    });
  }
  return r.stdout;
}

export interface WaitOptions {
  /** Overall limit. */
  timeoutMs: number;
  /** Pause between polls (each poll itself is a bounded round trip). */
  pollMs?: number;
  logger?: Logger;
  /** Words for the error: "Synced with size 3". */
  what: string;
}

/**
 * Polls the node until `check` returns null (ready); `check` returns the reason
 * to keep waiting. Fails with `cluster-unhealthy` and the last reason on timeout.
 */
export async function waitForNode(
  host: RemoteHost,
  check: (status: NodeStatus | null) => string | null,
  options: WaitOptions,
): Promise<NodeStatus> {
  return waitUntil<NodeStatus>(
    async () => {
      const status = await queryNodeStatus(host);
      const reason = check(status);
      return reason === null && status !== null ? { done: status } : { waiting: reason ?? 'mariadb does not answer' };
    },
    {
      timeoutMs: options.timeoutMs,
      pollMs: options.pollMs ?? 250,
      ...(options.logger ? { logger: options.logger } : {}),
      what: options.what,
      host: host.name,
      timeoutError: (last) =>
        new DeployError('cluster-unhealthy', `${host.name} did not become ${options.what} within ${Math.round(options.timeoutMs / 1000)} s (last seen: ${last})`, {
          host: host.name,
          hint: `Look at journalctl -u mariadb on ${host.name}; when it is Synced, run deploy-db again.`,
        }),
    },
  );
}

/** Ready when Primary, Synced, ready, connected and the cluster has `size` members. */
export function syncedWithSize(size: number): (s: NodeStatus | null) => string | null {
  return (s) => (s === null ? 'mariadb does not answer' : rollingWaitReason(s, size));
}

/** apt-get update + install, then stop the server the package started on its default (non-Galera) config. */
export async function installGaleraPackages(host: RemoteHost, packages: string[], logger: Logger): Promise<void> {
  await aptInstall(host, packages, logger, {
    // A pin (apt-pin.ts) below the installed version is a reviewed downgrade.
    allowDowngrades: true,
    // The package starts mariadb at once on its default config: it must not
    // stay up before the Galera config is written.
    then: ['systemctl stop mariadb'],
  });
}

/**
 * Starts mariadb (`systemctl start`/`restart`, or `galera_new_cluster`) and
 * returns once it listens on `port`; the caller then waits for Synced.
 */
export async function startMariadb(host: RemoteHost, command: string, port: number, options: { purpose: string; timeoutMs: number; logger?: Logger }): Promise<void> {
  await startService(host, command, { unit: 'mariadb', port }, options);
}

/** Cluster state UUIDs of all nodes agree and each sees `size` members. */
export async function assertClusterFormed(hosts: RemoteHost[], size: number): Promise<void> {
  const statuses = await Promise.all(hosts.map((h) => queryNodeStatus(h)));
  const uuids = new Set(statuses.map((s) => s?.clusterStateUuid ?? ''));
  const bad = hosts.filter((_h, i) => {
    const s = statuses[i];
    return s === null || rollingWaitReason(s, size) !== null;
  });
  if (bad.length > 0 || uuids.size !== 1) {
    throw new DeployError(
      'cluster-unhealthy',
      `the cluster did not form: ${hosts.map((h, i) => `${h.name}=${statuses[i] ? `${statuses[i]!.clusterStatus}/${statuses[i]!.localStateComment}/size ${statuses[i]!.clusterSize}/${statuses[i]!.clusterStateUuid}` : 'no answer'}`).join(', ')}`,
      { host: bad[0]?.name, hint: 'Look at journalctl -u mariadb on the named host.' },
    );
  }
}
