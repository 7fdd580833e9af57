import type { CheckResult } from '../check.js';
import type { Redactor } from '../engine/redact.js';
import type { HostFacts } from '../facts/host.js';
import type { Environment, Host, Inventory, Secrets } from '../inventory/index.js';
import type { DeployError } from '../errors.js';
import type { HostRow, RunReport } from '../report/run-report.js';
import type { Logger } from '../log.js';
import type { RunRequest } from '../request.js';
import type { HostResult } from '../ssh/pool.js';
import type { RemoteHost } from '../ssh/types.js';

/** What preflight, the first step of every run, found; commands that tolerate unreachable hosts judge it. */
export interface PreflightOutcome {
  facts: Map<string, HostFacts>;
  checks: CheckResult[];
  hosts: HostRow[];
  /** Set when a host could not be reached or a check failed. */
  error?: DeployError;
}

/**
 * What every command receives once the run is validated and preflight has
 * passed: the selected environment, resolved secrets, connected hosts and the
 * facts already gathered. Commands never read inputs, files or env themselves.
 */
export interface CommandContext {
  request: RunRequest;
  inventory: Inventory;
  environment: Environment;
  secrets: Secrets;
  logger: Logger;
  redactor: Redactor;
  /** The open connection to an inventory host (reused for the whole run). */
  host(name: string): Promise<RemoteHost>;
  /**
   * A fresh connection to an inventory host, apart from the run's pool and
   * not retried: whether the host still accepts new SSH connections (the
   * firewall's lock-out guard). The caller closes it.
   */
  connectFresh?(name: string, timeoutMs: number): Promise<RemoteHost & { close(): Promise<void> }>;
  /** Runs `fn` on each host with the run's parallelism; one host's failure does not stop the others. */
  forEachHost<T>(hosts: readonly Host[], fn: (remote: RemoteHost, host: Host) => Promise<T>): Promise<HostResult<T>[]>;
  /** Baseline facts from preflight, by host name. */
  facts: ReadonlyMap<string, HostFacts>;
  /** Preflight's table; commands put it in front of their own checks. */
  preflightChecks: CheckResult[];
}

/** A command returns the report to render; failures it can describe are `report.error`. */
export type CommandRunner = (context: CommandContext) => Promise<Omit<RunReport, 'command' | 'mode' | 'environment'>>;

/** A bastion-only host forwards connections and is not locked or changed. */
function isManaged(host: Host): boolean {
  return !(host.roles.length === 1 && host.roles[0] === 'bastion');
}

/** Connections to every host the environment's lock covers. */
export function lockedHosts(context: Pick<CommandContext, 'environment' | 'host'>): Promise<RemoteHost[]> {
  return Promise.all(context.environment.hosts.filter(isManaged).map((h) => context.host(h.name)));
}

/** What preflight found: every command starts with it; some tolerate part of it (unreachable hosts). */
export interface PreflightOutcome {
  facts: Map<string, HostFacts>;
  checks: CheckResult[];
  hosts: HostRow[];
  /** Set when a host could not be reached or a check failed. */
  error?: DeployError;
}
