import { DeployError, toDeployError } from './errors.js';
import { describePath, MAX_INVENTORY_BYTES, readBoundedFile } from './read-file.js';
import type { Redactor } from './engine/redact.js';
import { inspectLock, lockWarning } from './engine/lock.js';
import { workflowSecrets } from './github/context.js';
import {
  checkCommandNeeds,
  loadInventory,
  resolveSecrets,
  selectEnvironment,
  type Environment,
  type Host,
} from './inventory/index.js';
import type { Logger } from './log.js';
import type { RunReport } from './report/run-report.js';
import { withConnection } from './report/connection.js';
import type { RunRequest } from './request.js';
import { rootRouteForGatherer } from './facts/gatherer.js';
import { checkClientKey, HostPool, lookupHostKeys, parseKnownHosts, type HostSpec, type KnownHostsDb } from './ssh/index.js';
import { lockedHosts, type CommandContext } from './commands/context.js';
import { runPreflight } from './commands/preflight/preflight.js';
import { commandToRun } from './commands/registry.js';

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
    const command = commandToRun(request.command);
    const text = readInventoryFile(request.inventoryPath, deps.readFile);
    const inventory = loadInventory(text, request.inventoryPath);
    const environment = selectEnvironment(inventory, request.environment, request.inventoryPath);
    checkCommandNeeds(inventory, environment, command.name, command.needs);
    // Workflow-passed secrets (LMS_HA_SECRETS JSON) first; an explicit variable wins.
    const secrets = resolveSecrets(environment, { ...workflowSecrets(request.env), ...request.env }, deps.registerSecret);
    if (!request.privateKey) {
      throw new DeployError('invalid-input', 'no SSH private key was given', {
        hint: 'Pass the key in the ssh-private-key input (from a secret), or --ssh-key / LMS_HA_SSH_KEY for the CLI.',
      });
    }
    checkClientKey(request.privateKey, request.privateKeyPassphrase);
    const knownHosts = parseKnownHosts(request.knownHosts);
    // Every line that pins nothing is named with its reason, so "not in known_hosts" is never a mystery.
    for (const note of knownHosts.notes) deps.logger.warn(`known-hosts ${note}`);
    if (request.insecureSkipHostKeyCheck) {
      deps.logger.warn(
        'Host key checking is OFF (insecure-skip-host-key-check): any machine answering on these addresses receives your credentials. Pin the fingerprints logged below in known-hosts.',
      );
    } else {
      assertEveryHostPinned(environment, knownHosts);
    }

    const planAccount = request.sshAccount === 'plan' ? planAccountOf(environment, request) : undefined;
    pool = new HostPool({
      privateKey: request.privateKey,
      passphrase: request.privateKeyPassphrase,
      knownHosts,
      insecure: request.insecureSkipHostKeyCheck,
      connectTimeoutMs: environment.ssh.connect_timeout * 1000,
      logger: deps.logger,
      parallelism: request.parallelism,
      ...(planAccount ? { rootRoute: rootRouteForGatherer() } : {}),
    });
    const specs = hostSpecs(environment, planAccount);
    const openPool = pool;
    const forEachHost: CommandContext['forEachHost'] = (hosts, fn) =>
      openPool.forEachHost(
        hosts.map((h) => specs.get(h.name)!),
        (remote, spec) => fn(remote, hosts.find((h) => h.name === spec.name)!),
        { parallelism: request.parallelism },
      );

    const outcome = await deps.logger.group('preflight', () => runPreflight(environment, forEachHost));
    // Some commands may go on without hosts preflight could not reach (recover
    // with an explicit bootstrap node; deploy-db without hosts it is removing).
    const tolerated = outcome.error !== undefined && (command.toleratesUnreachable?.(request, environment, outcome) ?? false);
    if (tolerated) {
      deps.logger.warn(`continuing without unreachable hosts (${outcome.error!.message.split('\n', 1)[0]}): ${tolerated}`);
    } else if (outcome.error) return { ...base, hosts: outcome.hosts, checks: outcome.checks, error: outcome.error };

    const context: CommandContext = {
      request,
      inventory,
      environment,
      secrets,
      logger: deps.logger,
      redactor: deps.redactor,
      host: (name) => openPool.get(specs.get(name)!),
      connectFresh: (name, timeoutMs) => openPool.connectFresh(specs.get(name)!, timeoutMs),
      forEachHost,
      facts: outcome.facts,
      preflightChecks: outcome.checks,
    };
    if (request.mode === 'plan' && !tolerated) await warnAboutLock(context);
    const result = await deps.logger.group(command.name, () => command.run(context));
    return withConnection({ ...base, hosts: outcome.hosts, ...result }, environment);
  } catch (error) {
    return { ...base, error: toDeployError(error) };
  } finally {
    await pool?.closeAll();
  }
}

function readInventoryFile(path: string, readFile?: (path: string) => string): string {
  const hint = 'Give the path of the inventory YAML relative to the workspace (input "inventory", CLI --inventory).';
  if (readFile) {
    try {
      return readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new DeployError('invalid-input', `inventory ${describePath(path)}: ${code === 'ENOENT' ? 'no such file' : code}`, { hint });
    }
  }
  return readBoundedFile(path, MAX_INVENTORY_BYTES, 'inventory', hint).toString('utf8');
}

/** How to reach each host: its own ssh settings, through its bastion when it has one. */
export function hostSpecs(environment: Environment, loginAs?: string): Map<string, HostSpec> {
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
      user: loginAs ?? host.ssh.user,
      bastion: bastion ? specFor(bastion) : undefined,
    };
    specs.set(host.name, spec);
    return spec;
  };
  for (const host of environment.hosts) specFor(host);
  return specs;
}

/**
 * The plan account's login, checked before any connection: it plans only
 * (the request refused mode apply already), and the inventory must name it.
 */
function planAccountOf(environment: Environment, request: RunRequest): string {
  if (request.mode !== 'plan') {
    throw new DeployError('invalid-input', 'ssh-account plan cannot apply; nothing was contacted', { hint: 'Run apply with the apply key and ssh-account apply, in the protected environment.' });
  }
  const account = environment.provision.plan_account;
  if (!account) {
    throw new DeployError('invalid-input', `ssh-account plan: environment "${environment.name}" has no provision.plan_account; nothing was contacted`, {
      hint: 'Add provision.plan_account.public_key (the plan key\'s .pub line) to the inventory and run provision with the apply key, which creates the account and its gatherer.',
    });
  }
  return account.user;
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
  const hosts = await lockedHosts(context);
  const holders = await inspectLock(hosts, { environment: context.environment.name });
  const warning = lockWarning(context.environment.name, holders);
  if (warning) context.logger.warn(warning);
}
