import { readFileSync } from 'node:fs';
import { DeployError, toDeployError } from './errors.js';
import type { Redactor } from './engine/redact.js';
import { breakLock, inspectLock, lockWarning } from './engine/lock.js';
import { workflowSecrets } from './github/context.js';
import {
  checkRolesForCommand,
  loadInventory,
  resolveSecrets,
  selectEnvironment,
  type Environment,
  type Host,
} from './inventory/index.js';
import type { Logger } from './report/log.js';
import type { RunReport } from './report/run-report.js';
import type { RunRequest } from './request.js';
import type { RemoteHost } from './ssh/types.js';
import { HostPool, lookupHostKeys, parseKnownHosts, type HostSpec, type KnownHostsDb } from './ssh/index.js';
import type { CommandContext, CommandRunner } from './commands/context.js';
import { preflight, runPreflight } from './commands/preflight/preflight.js';
import { verifyHa } from './commands/verify-ha/verify-ha.js';
import { deployDb, deployDbToleratesPreflight } from './commands/deploy-db/deploy-db.js';
import { deployLb } from './commands/deploy-lb/deploy-lb.js';
import { migrateStorage } from './commands/migrate-storage/migrate-storage.js';
import { recover, recoverToleratesPreflight } from './commands/recover/recover.js';

/** Commands available in this version; the others say so instead of pretending. */
const COMMAND_RUNNERS: Partial<Record<RunRequest['command'], CommandRunner>> = {
  preflight,
  'deploy-db': deployDb,
  recover,
  'deploy-lb': deployLb,
  'migrate-storage': migrateStorage,
  'verify-ha': verifyHa,
  unlock: async (context) => {
    const hosts = await managedHosts(context);
    const holders = await breakLock(hosts, { environment: context.environment.name, logger: context.logger });
    context.logger.info(holders.length === 0 ? 'no lock was held' : `removed ${holders.length} lock(s)`);
    return { checks: context.preflightChecks };
  },
};

/** The commands this version runs (the others are named but refused as not built). */
export function builtCommands(): string[] {
  return Object.keys(COMMAND_RUNNERS);
}

export interface RunDeps {
  logger: Logger;
  redactor: Redactor;
  /** Masks a secret the moment it is read: in the job log and in everything rendered. */
  registerSecret(value: string): void;
  readFile?: (path: string) => string;
}

/**
 * One run, top to bottom: inputs → inventory → secrets → host keys → SSH →
 * preflight → command. Nothing touches a host before the inventory, the
 * secrets and every host's pinned key have been validated. Errors are returned
 * in the report, never thrown, so both fronts render them the same way.
 */
export async function executeRun(request: RunRequest, deps: RunDeps): Promise<RunReport> {
  const base = { command: request.command, mode: request.mode, environment: request.environment };
  let pool: HostPool | undefined;
  try {
    const text = readInventoryFile(request.inventoryPath, deps.readFile);
    const inventory = loadInventory(text, request.inventoryPath);
    const environment = selectEnvironment(inventory, request.environment, request.inventoryPath);
    checkRolesForCommand(inventory, environment, request.command);
    // Workflow-passed secrets (LMS_HA_SECRETS JSON) first; an explicit variable wins.
    const secrets = resolveSecrets(environment, { ...workflowSecrets(request.env), ...request.env }, deps.registerSecret);
    if (!request.privateKey) {
      throw new DeployError('invalid-input', 'no SSH private key was given', {
        hint: 'Pass the key in the ssh-private-key input (from a secret), or --ssh-key / LMS_HA_SSH_KEY for the CLI.',
      });
    }
    const knownHosts = parseKnownHosts(request.knownHosts);
    if (request.insecureSkipHostKeyCheck) {
      deps.logger.warn(
        'Host key checking is OFF (insecure-skip-host-key-check): any machine answering on these addresses receives your credentials. Pin the fingerprints logged below in known-hosts.',
      );
    } else {
      assertEveryHostPinned(environment, knownHosts);
    }

    pool = new HostPool({
      privateKey: request.privateKey,
      passphrase: request.privateKeyPassphrase,
      knownHosts,
      insecure: request.insecureSkipHostKeyCheck,
      connectTimeoutMs: environment.ssh.connect_timeout * 1000,
      logger: deps.logger,
      parallelism: request.parallelism,
    });
    const specs = hostSpecs(environment);
    const openPool = pool;
    const forEachHost: CommandContext['forEachHost'] = (hosts, fn) =>
      openPool.forEachHost(
        hosts.map((h) => specs.get(h.name)!),
        (remote, spec) => fn(remote, hosts.find((h) => h.name === spec.name)!),
        { parallelism: request.parallelism },
      );

    const outcome = await deps.logger.group('preflight', () => runPreflight(environment, forEachHost));
    // recover with an explicit bootstrap node may go on without unreachable db hosts;
    // deploy-db without unreachable hosts listed in database.remove_nodes.
    const recoverTolerates = outcome.error !== undefined && recoverToleratesPreflight(request, outcome);
    const unreachableTolerated = recoverTolerates || (outcome.error !== undefined && deployDbToleratesPreflight(request, environment, outcome));
    if (unreachableTolerated) {
      const why = recoverTolerates ? 'the bootstrap-node override is given' : 'they are listed in database.remove_nodes';
      deps.logger.warn(`continuing without unreachable hosts (${outcome.error!.message.split('\n', 1)[0]}): ${why}`);
    }
    else if (outcome.error) return { ...base, hosts: outcome.hosts, checks: outcome.checks, error: outcome.error };

    const runner = COMMAND_RUNNERS[request.command];
    if (!runner) {
      throw new DeployError('invalid-input', `command ${request.command} is not available in this version of lms-ha`, {
        hint: 'Available now: preflight, deploy-db, recover, deploy-lb, migrate-storage, verify-ha, unlock. provision is not built yet; see the README.',
      });
    }
    const context: CommandContext = {
      request,
      inventory,
      environment,
      secrets,
      logger: deps.logger,
      redactor: deps.redactor,
      host: (name) => openPool.get(specs.get(name)!),
      forEachHost,
      facts: outcome.facts,
      preflightChecks: outcome.checks,
    };
    if (request.mode === 'plan' && !unreachableTolerated) await warnAboutLock(context);
    const result = await deps.logger.group(request.command, () => runner(context));
    return { ...base, hosts: outcome.hosts, ...result };
  } catch (error) {
    return { ...base, error: toDeployError(error) };
  } finally {
    await pool?.closeAll();
  }
}

function readInventoryFile(path: string, readFile?: (path: string) => string): string {
  try {
    return readFile ? readFile(path) : readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new DeployError('invalid-input', `inventory ${path}: ${code === 'ENOENT' ? 'no such file' : code}`, {
      hint: 'Give the path of the inventory YAML relative to the workspace (input "inventory", CLI --inventory).',
    });
  }
}

/** A bastion-only host forwards connections and is not locked or changed. */
function isManaged(host: Host): boolean {
  return !(host.roles.length === 1 && host.roles[0] === 'bastion');
}

/** Connections to every host the environment's lock covers. */
function managedHosts(context: CommandContext): Promise<RemoteHost[]> {
  return Promise.all(context.environment.hosts.filter(isManaged).map((h) => context.host(h.name)));
}

/** How to reach each host: its own ssh settings, through its bastion when it has one. */
export function hostSpecs(environment: Environment): Map<string, HostSpec> {
  const byName = new Map(environment.hosts.map((h) => [h.name, h]));
  const specs = new Map<string, HostSpec>();
  const specFor = (host: Host): HostSpec => {
    const existing = specs.get(host.name);
    if (existing) return existing;
    const bastion = host.ssh.bastion ? byName.get(host.ssh.bastion) : undefined;
    const spec: HostSpec = {
      name: host.name,
      address: host.address,
      port: host.ssh.port,
      user: host.ssh.user,
      bastion: bastion ? specFor(bastion) : undefined,
    };
    specs.set(host.name, spec);
    return spec;
  };
  for (const host of environment.hosts) specFor(host);
  return specs;
}

/**
 * Checked before any connection: a host with no pinned key would only fail
 * later, one at a time; this names them all and says how to pin them.
 */
export function assertEveryHostPinned(environment: Environment, knownHosts: KnownHostsDb): void {
  const missing = environment.hosts.filter((h) => lookupHostKeys(knownHosts, h.address, h.ssh.port).size === 0);
  if (missing.length === 0) return;
  const names = missing.map((h) => `${h.name} (${h.ssh.port === 22 ? h.address : `[${h.address}]:${h.ssh.port}`})`);
  const scans = missing.map((h) => `ssh-keyscan ${h.ssh.port === 22 ? '' : `-p ${h.ssh.port} `}${h.address}`);
  throw new DeployError(
    'host-key-unknown',
    `no pinned host key for ${names.join(', ')} in known-hosts; nothing was contacted`,
    {
      host: missing[0].name,
      hint: `Add their keys to known-hosts after checking the fingerprints out of band (e.g. on the host's console): ${scans.join('; ')}. A line looks like: ${missing[0].ssh.port === 22 ? missing[0].address : `[${missing[0].address}]:${missing[0].ssh.port}`} ssh-ed25519 AAAAC3Nza...`,
    },
  );
}

async function warnAboutLock(context: CommandContext): Promise<void> {
  const hosts = await managedHosts(context);
  const holders = await inspectLock(hosts, { environment: context.environment.name });
  const warning = lockWarning(context.environment.name, holders);
  if (warning) context.logger.warn(warning);
}
