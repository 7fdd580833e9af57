/**
 * provision's plan, computed from the gathered facts without touching a host:
 * the /etc/hosts block, time sync, and the peers-only firewall (files, the
 * guarded load, the boot unit). Each change carries its apply function; the
 * firewall's is the lock-out guard, injected by the command.
 */
import { isIP } from 'node:net';
import { changeId, type ApplyFn, type PlannedChange } from '../../engine/change.js';
import { createPlan, type Plan, type HostFacts as PlanHostFacts } from '../../engine/plan.js';
import type { Environment, Host } from '../../inventory/index.js';
import { checkedFileApply, fileChange, sha256, type ExistingFile } from '../../operations/file.js';
import { directoryChange } from '../../operations/directory.js';
import { installPhase, packageChange } from '../../operations/packages.js';
import { serviceChange } from '../../operations/service.js';
import { HOSTS_FILE_PATH, renderHostsFile, shadowingLines, type HostsEntry } from '../../components/hosts-file/index.js';
import { accessModel, unaddressable } from '../../components/nftables/access.js';
import {
  FIREWALL_DROP_IN_PATH,
  FIREWALL_NFT_PATH,
  FIREWALL_NFT_TABLE,
  FIREWALL_UNIT,
  firewallRows,
  renderFirewallDropIn,
  renderFirewallNftables,
  renderFirewallUnit,
  sshRules,
  type FirewallModel,
  type FirewallRow,
} from '../../components/nftables/firewall.js';
import { packageSourceChanges, type PushDirectory } from './packages.js';
import { FIREWALL_UNIT_PATH, PLAN_SUDOERS_PATH, TIME_SYNC_UNITS, type FileFact, type ProvisionFacts } from './facts.js';
import { GATHERER_PATH, gathererScript, gathererVersion } from '../../facts/gatherer.js';
import { shellQuote } from '../../ssh/quote.js';

export interface ProvisionGathered {
  facts: Map<string, ProvisionFacts>;
  /** Host name → its hostname (preflight), for the /etc/hosts aliases. */
  hostnames: Map<string, string>;
  /** Host name → the address the runner's SSH arrives from, as the host sees it. */
  sshClients: Map<string, string | null>;
  /** The packages to push (packages.source push), read on the runner. */
  push?: PushDirectory;
}

/** How the firewall's live table is loaded: the lock-out guard (the command's), given the rendered text. */
export type GuardedLoad = (content: string, ruleForSsh: string) => ApplyFn;

export interface ProvisionPlanOptions {
  guardedLoad: GuardedLoad;
}

export interface ProvisionPlanResult {
  plan: Plan;
  firewall: FirewallRow[];
  /** Host → its nft text, for the plan's sections. */
  nftables: Map<string, string>;
}

/** A bastion-only host forwards connections and is not changed. */
export function provisionedHosts(environment: Environment): Host[] {
  return environment.hosts.filter((h) => !(h.roles.length === 1 && h.roles[0] === 'bastion'));
}

export function hostsEntries(environment: Environment, hostnames: ReadonlyMap<string, string>): HostsEntry[] {
  const entries: HostsEntry[] = [];
  for (const host of environment.hosts) {
    if (isIP(host.address) === 0) continue;
    const hostname = hostnames.get(host.name)?.split('.')[0];
    // The lab's pitfall, common on real hosts too: the machine's own name resolves nowhere and sudo complains.
    const names = hostname && hostname !== host.name && /^[a-z0-9-]+$/i.test(hostname) ? [host.name, hostname] : [host.name];
    entries.push({ address: host.address, names });
  }
  if (environment.load_balancer) entries.push({ address: environment.load_balancer.vip_address, names: [environment.provision.vip_name] });
  return entries;
}

/** Who may SSH into `host`: ssh_from, and the bastion it is reached through. */
export function sshSourcesFor(environment: Environment, host: Host): string[] {
  const bastion = host.ssh.bastion ? environment.hosts.find((h) => h.name === host.ssh.bastion) : undefined;
  const fromBastion = bastion && isIP(bastion.address) !== 0 ? [bastion.address] : [];
  const configured = environment.provision.firewall.ssh_from;
  // Without ssh_from, SSH from everyone: narrowing to the bastion alone would lock out a runner the inventory does not name.
  return configured.length === 0 ? [] : [...new Set([...configured, ...fromBastion])];
}

export function firewallModelFor(environment: Environment, host: Host): FirewallModel {
  return {
    host: host.name,
    policy: environment.provision.firewall.policy,
    sshPort: host.ssh.port,
    sshSources: sshSourcesFor(environment, host),
    openings: accessModel(environment),
  };
}

/** The operations layer compares digests; provision reads its few small files whole. */
function existing(have: FileFact | null | undefined): ExistingFile | null {
  return have ? { ...have, sha256: sha256(have.content) } : null;
}

function rootFile(host: string, path: string, content: string, have: FileFact | null | undefined, why: string, apply?: ApplyFn): PlannedChange | null {
  return fileChange(host, { path, content, mode: 0o644, owner: 'root', group: 'root' }, existing(have), { why, ...(apply ? { apply } : {}) });
}

/** Time sync is needed on a machine or VM with no daemon active; a container's clock is the machine's. */
function needsTimeSync(facts: ProvisionFacts): boolean {
  return facts.container === 'none' && !TIME_SYNC_UNITS.some((u) => facts.timeSync[u] === 'active');
}

/** Packages a host lacks for what provision sets up on it. */
function missingPackages(environment: Environment, facts: ProvisionFacts): string[] {
  const pkgs: string[] = [];
  if (needsTimeSync(facts) && facts.packages['systemd-timesyncd'] === undefined) pkgs.push('systemd-timesyncd');
  if (environment.provision.firewall.enabled && facts.packages['nftables'] === undefined) pkgs.push('nftables');
  if (environment.provision.plan_account && facts.packages['sudo'] === undefined) pkgs.push('sudo');
  return pkgs;
}

function timeChanges(host: string, facts: ProvisionFacts): PlannedChange[] {
  if (!needsTimeSync(facts)) return [];
  return [serviceChange(host, 'systemd-timesyncd', 'start', 'enable and start systemd-timesyncd (no time sync service was active)', 'systemctl enable --now systemd-timesyncd')];
}

function firewallChanges(environment: Environment, host: Host, facts: ProvisionFacts, options: ProvisionPlanOptions): { changes: PlannedChange[]; model: FirewallModel; text: string } {
  const model = firewallModelFor(environment, host);
  const text = renderFirewallNftables(model);
  const ssh = sshRules(model).join('; ') || `nothing closes tcp ${model.sshPort}`;
  const changes: PlannedChange[] = [];
  const name = host.name;
  for (const dir of ['/etc/lms-ha', '/etc/systemd/system/nftables.service.d']) {
    // Existing ones are left as they are (a package may own them).
    const change = directoryChange(name, dir, facts.dirs[dir] ? { mode: 0o755, owner: 'root', group: 'root' } : null, 'the firewall\'s files', { onlyIfAbsent: true });
    if (change) changes.push(change);
  }
  const table = `inet ${FIREWALL_NFT_TABLE}`;
  const nft = rootFile(name, FIREWALL_NFT_PATH, text, facts.files[FIREWALL_NFT_PATH], `table ${table}, loaded with the lock-out guard`, options.guardedLoad(text, ssh));
  if (nft) changes.push(nft);
  else if (!(facts.nftTables ?? []).includes(table)) {
    changes.push({
      kind: 'service',
      id: changeId('service', name, FIREWALL_UNIT, 'reload'),
      host: name,
      summary: `load table ${table} again (the file is right, the table is not loaded: someone flushed the ruleset)`,
      unit: FIREWALL_UNIT,
      action: 'reload',
      apply: options.guardedLoad(text, ssh),
    });
  }
  const unit = rootFile(name, FIREWALL_UNIT_PATH, renderFirewallUnit(), facts.files[FIREWALL_UNIT_PATH], 'loads the table at boot');
  const dropIn = rootFile(name, FIREWALL_DROP_IN_PATH, renderFirewallDropIn(), facts.files[FIREWALL_DROP_IN_PATH], 'loads it again after nftables.service flushes the ruleset');
  if (unit) changes.push(unit);
  if (dropIn) changes.push(dropIn);
  if (unit || dropIn || facts.firewallUnitEnabled !== 'enabled') {
    changes.push(serviceChange(name, FIREWALL_UNIT, 'enable', `enable ${FIREWALL_UNIT} (loads the table at boot)`, `systemctl daemon-reload && systemctl enable ${FIREWALL_UNIT}`));
  }
  return { changes, model, text };
}

/** The home provision gives the plan account it creates. */
export const planAccountHome = (user: string): string => `/var/lib/${user}`;

/** The plan account's one rule: the gatherer as root, nothing else; no terminal needed. */
export function renderPlanSudoers(user: string): string {
  return [
    '# Written by lms-ha provision: the plan account may run the read-only fact gatherer as root, and nothing else.',
    `Defaults:${user} !requiretty`,
    `${user} ALL=(root) NOPASSWD: ${GATHERER_PATH}`,
    '',
  ].join('\n');
}

/**
 * The plan account: a login with the plan key, the gatherer (root-owned,
 * generated from the fact registry) and the one sudo rule. The rule is
 * written last and checked by visudo before it replaces the live one.
 */
function planAccountChanges(environment: Environment, host: Host, facts: ProvisionFacts): PlannedChange[] {
  const account = environment.provision.plan_account;
  if (!account) return [];
  const { user } = account;
  const name = host.name;
  const changes: PlannedChange[] = [];
  const home = facts.planUser?.home ?? planAccountHome(user);
  if (!facts.planUser) {
    changes.push({
      kind: 'user',
      id: changeId('user', name, user),
      host: name,
      summary: `create the plan account ${user} (home ${home}; no password, key login only)`,
      name: user,
      action: 'create',
      detail: 'plans from pull requests log in with the plan key; root only through the gatherer',
      apply: async (ctx) => {
        const u = shellQuote(user);
        await ctx.host.run(`getent passwd ${u} >/dev/null || useradd --system --user-group --create-home --home-dir ${shellQuote(home)} --shell /bin/sh --password '*' ${u}`, {
          purpose: `create the plan account ${user}`,
        });
      },
    });
  }
  const keysPath = `${home}/.ssh/authorized_keys`;
  const keys = `${account.public_key}\n`;
  if (facts.planUser?.authorizedKeys !== keys) {
    changes.push({
      kind: 'file',
      id: changeId('file', name, keysPath),
      host: name,
      summary: `${facts.planUser?.authorizedKeys == null ? 'write' : 'update'} ${keysPath} (the plan key)`,
      path: keysPath,
      before: facts.planUser?.authorizedKeys == null ? null : { content: facts.planUser.authorizedKeys, mode: 0o600, owner: user, group: user },
      after: { content: keys, mode: 0o600, owner: user, group: user },
      sensitive: false,
      apply: async (ctx) => {
        await ctx.host.run(`install -d -m 0700 -o ${shellQuote(user)} -g ${shellQuote(user)} ${shellQuote(`${home}/.ssh`)}`, { purpose: `create ${home}/.ssh` });
        await ctx.host.writeFile(keysPath, keys, { mode: 0o600, owner: user, group: user });
      },
    });
  }
  const gatherer = fileChange(
    name,
    { path: GATHERER_PATH, content: gathererScript(), mode: 0o755, owner: 'root', group: 'root' },
    existing(facts.files[GATHERER_PATH]),
    {
      why: `the plan gatherer, version ${gathererVersion()}`,
      apply: async (ctx) => {
        await ctx.host.run(`install -d -m 0755 -o root -g root ${GATHERER_PATH.slice(0, GATHERER_PATH.lastIndexOf('/'))}`, { purpose: 'create the gatherer\'s directory' });
        await ctx.host.writeFile(GATHERER_PATH, gathererScript(), { mode: 0o755, owner: 'root', group: 'root' });
      },
    },
  );
  if (gatherer) changes.push(gatherer);
  const rule = { path: PLAN_SUDOERS_PATH, content: renderPlanSudoers(user), mode: 0o440, owner: 'root', group: 'root' };
  // sudo ignores files in sudoers.d whose names contain a dot: the candidate is never live.
  const candidate = '/etc/sudoers.d/.lms-ha-plan.candidate';
  const sudoers = fileChange(name, rule, existing(facts.files[PLAN_SUDOERS_PATH]), {
    why: 'the plan account may run the gatherer as root, nothing else',
    apply: checkedFileApply(rule, candidate, `visudo -cf ${candidate}`, 'visudo', 'the plan account\'s sudo rule'),
  });
  if (sudoers) changes.push(sudoers);
  return changes;
}

export function computeProvisionPlan(environment: Environment, g: ProvisionGathered, options: ProvisionPlanOptions): ProvisionPlanResult {
  const hosts = provisionedHosts(environment);
  const entries = hostsEntries(environment, g.hostnames);
  const warnings: string[] = [];
  const changes: PlannedChange[] = [];
  const firewall: FirewallRow[] = [];
  const nftables = new Map<string, string>();
  const planHosts: PlanHostFacts[] = [];

  const dnsNamed = unaddressable(environment);
  if (dnsNamed.length > 0) {
    warnings.push(
      `${dnsNamed.map((h) => h.name).join(', ')}: the address is a DNS name; /etc/hosts leaves it to DNS and the firewall cannot name it as a source (nftables sets take addresses). Give these hosts IP addresses.`,
    );
  }

  // Phases across all hosts, so every host has its package sources before the one install phase runs.
  const sources: PlannedChange[] = [];
  const hostsFiles: PlannedChange[] = [];
  const time: PlannedChange[] = [];
  const walls: PlannedChange[] = [];
  const accounts: PlannedChange[] = [];
  const installs = new Map<string, string[]>();
  for (const host of hosts) {
    const facts = g.facts.get(host.name)!;
    sources.push(...packageSourceChanges(host.name, environment.provision.packages, facts, g.push));
    const current = facts.hostsFile ?? '';
    let wantedHosts: string;
    try {
      wantedHosts = renderHostsFile(current, entries);
    } catch (error) {
      warnings.push(`${host.name}: ${(error as Error).message}; /etc/hosts is left alone. Remove the broken lms-ha lines by hand.`);
      wantedHosts = current;
    }
    for (const s of shadowingLines(current, entries)) {
      warnings.push(`${host.name}: /etc/hosts line ${s.line} maps ${s.name} to ${s.address}, before the managed block's ${s.wanted}; the resolver takes the first match. Remove or fix that line.`);
    }
    if (wantedHosts !== current) {
      const have = facts.hostsFile === null ? null : { content: current, mode: 0o644, owner: 'root', group: 'root' };
      const change = rootFile(host.name, HOSTS_FILE_PATH, wantedHosts, have, 'the inventory\'s hosts and the VIP; the rest of the file kept');
      if (change) hostsFiles.push(change);
    }
    const missing = missingPackages(environment, facts);
    if (missing.length > 0) installs.set(host.name, missing);
    time.push(...timeChanges(host.name, facts));
    accounts.push(...planAccountChanges(environment, host, facts));
    if (environment.provision.firewall.enabled) {
      const fw = firewallChanges(environment, host, facts, options);
      walls.push(...fw.changes);
      firewall.push(...firewallRows(fw.model));
      nftables.set(host.name, fw.text);
      const client = g.sshClients.get(host.name);
      if (client && fw.model.sshSources.length > 0 && !fw.model.sshSources.some((s) => covers(s, client))) {
        warnings.push(
          `${host.name}: this run's SSH connection arrives from ${client}, which the SSH rule (${sshRules(fw.model)[0]}) does not accept; apply would lock the runner out and is rolled back by the lock-out guard. Add the runner's address or network to provision.firewall.ssh_from.`,
        );
      }
    }
    const others = (facts.nftTables ?? []).filter((t) => t !== `inet ${FIREWALL_NFT_TABLE}`);
    planHosts.push({
      name: host.name,
      address: host.address,
      roles: [...host.roles],
      facts: {
        packages: environment.provision.packages.source === 'push' ? `pushed (${g.push?.packages.length ?? 0} .deb)` : environment.provision.packages.source,
        nftables: facts.nftTables === null ? 'not installed' : others.length > 0 ? `operator tables kept: ${others.join(', ')}` : 'no other table',
        time: facts.container !== 'none' ? `container (${facts.container})` : TIME_SYNC_UNITS.filter((u) => facts.timeSync[u] === 'active').join(', ') || 'no sync',
      },
    });
  }
  const phase = installPhase(installs);
  const packages = [...installs].flatMap(([host, pkgs]) => pkgs.map((p) => packageChange(host, p, phase)));
  changes.push(...sources, ...hostsFiles, ...packages, ...time, ...walls, ...accounts);
  const plan = createPlan({ command: 'provision', environment: environment.name, changes, warnings, hosts: planHosts });
  return { plan, firewall, nftables };
}

/** Whether `network` (an address or CIDR) contains `address`; IPv4 only, an IPv6 network matches only itself. */
export function covers(network: string, address: string): boolean {
  const [base, prefixText] = network.split('/');
  if (prefixText === undefined || isIP(base!) !== 4 || isIP(address) !== 4) return base === address;
  const toInt = (a: string) => a.split('.').reduce((v, o) => v * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(prefixText));
  return Math.floor(toInt(base!) / size) === Math.floor(toInt(address) / size);
}
