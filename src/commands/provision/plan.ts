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
import { shellQuote } from '../../ssh/quote.js';
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
import { FIREWALL_UNIT_PATH, TIME_SYNC_UNITS, type FileFact, type ProvisionFacts } from './facts.js';

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

interface WantedFile {
  path: string;
  content: string;
  mode: number;
}

function matches(want: WantedFile, have: FileFact | null | undefined): boolean {
  return !!have && have.content === want.content && have.mode === want.mode && have.owner === 'root' && have.group === 'root';
}

function fileChange(host: string, want: WantedFile, have: FileFact | null | undefined, why: string, apply?: ApplyFn): PlannedChange | null {
  if (matches(want, have)) return null;
  const meta = { mode: want.mode, owner: 'root', group: 'root' };
  return {
    kind: 'file',
    id: changeId('file', host, want.path),
    host,
    summary: `${have ? 'update' : 'write'} ${want.path} (${why})`,
    path: want.path,
    before: have ? { content: have.content, mode: have.mode, owner: have.owner, group: have.group } : null,
    after: { content: want.content, ...meta },
    sensitive: false,
    apply: apply ?? (async (ctx) => ctx.host.writeFile(want.path, want.content, meta)),
  };
}

function commandChange(
  kind: 'service' | 'package' | 'directory',
  host: string,
  target: string,
  summary: string,
  command: string,
  extra: Record<string, unknown>,
): PlannedChange {
  return {
    kind,
    id: changeId(kind, host, target, String(extra['action'] ?? '')),
    host,
    summary,
    ...extra,
    apply: async (ctx) => {
      await ctx.host.run(command, { purpose: summary, timeoutMs: 15 * 60_000 });
    },
  } as PlannedChange;
}

const APT_INSTALL = (pkgs: string[]) =>
  `export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold ${pkgs.map(shellQuote).join(' ')}`;

function packageChange(host: string, pkg: string, why: string): PlannedChange {
  return commandChange('package', host, pkg, `install ${pkg} (${why})`, APT_INSTALL([pkg]), { name: pkg, from: null, to: 'candidate from the package sources' });
}

function timeChanges(host: string, facts: ProvisionFacts): PlannedChange[] {
  if (facts.container !== 'none') return [];
  if (TIME_SYNC_UNITS.some((u) => facts.timeSync[u] === 'active')) return [];
  const changes: PlannedChange[] = [];
  if (facts.packages['systemd-timesyncd'] === undefined) changes.push(packageChange(host, 'systemd-timesyncd', 'keeps the clock in sync'));
  changes.push(
    commandChange('service', host, 'systemd-timesyncd', 'enable and start systemd-timesyncd (no time sync service was active)', 'systemctl enable --now systemd-timesyncd', {
      unit: 'systemd-timesyncd',
      action: 'start',
    }),
  );
  return changes;
}

function firewallChanges(environment: Environment, host: Host, facts: ProvisionFacts, options: ProvisionPlanOptions): { changes: PlannedChange[]; model: FirewallModel; text: string } {
  const model = firewallModelFor(environment, host);
  const text = renderFirewallNftables(model);
  const ssh = sshRules(model).join('; ') || `nothing closes tcp ${model.sshPort}`;
  const changes: PlannedChange[] = [];
  const name = host.name;
  if (facts.packages['nftables'] === undefined) changes.push(packageChange(name, 'nftables', 'the firewall'));
  for (const dir of ['/etc/lms-ha', '/etc/systemd/system/nftables.service.d']) {
    if (!facts.dirs[dir]) {
      changes.push(
        commandChange('directory', name, dir, `create ${dir}`, `install -d -m 0755 -o root -g root ${shellQuote(dir)}`, {
          path: dir,
          before: null,
          after: { mode: 0o755, owner: 'root', group: 'root' },
        }),
      );
    }
  }
  const table = `inet ${FIREWALL_NFT_TABLE}`;
  const nft = fileChange(name, { path: FIREWALL_NFT_PATH, content: text, mode: 0o644 }, facts.files[FIREWALL_NFT_PATH], `table ${table}, loaded with the lock-out guard`, options.guardedLoad(text, ssh));
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
  const unit = fileChange(name, { path: FIREWALL_UNIT_PATH, content: renderFirewallUnit(), mode: 0o644 }, facts.files[FIREWALL_UNIT_PATH], 'loads the table at boot');
  const dropIn = fileChange(name, { path: FIREWALL_DROP_IN_PATH, content: renderFirewallDropIn(), mode: 0o644 }, facts.files[FIREWALL_DROP_IN_PATH], 'loads it again after nftables.service flushes the ruleset');
  if (unit) changes.push(unit);
  if (dropIn) changes.push(dropIn);
  if (unit || dropIn || facts.firewallUnitEnabled !== 'enabled') {
    changes.push(
      commandChange('service', name, FIREWALL_UNIT, `enable ${FIREWALL_UNIT} (loads the table at boot)`, `systemctl daemon-reload && systemctl enable ${FIREWALL_UNIT}`, {
        unit: FIREWALL_UNIT,
        action: 'enable',
      }),
    );
  }
  return { changes, model, text };
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

  for (const host of hosts) {
    const facts = g.facts.get(host.name)!;
    // Sources first: the installs below (and every later command's) come from them.
    changes.push(...packageSourceChanges(host.name, environment.provision.packages, facts, g.push));
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
      const change = fileChange(host.name, { path: HOSTS_FILE_PATH, content: wantedHosts, mode: 0o644 }, facts.hostsFile === null ? null : { content: current, mode: 0o644, owner: 'root', group: 'root' }, 'the inventory\'s hosts and the VIP; the rest of the file kept');
      if (change) changes.push(change);
    }
    changes.push(...timeChanges(host.name, facts));
    if (environment.provision.firewall.enabled) {
      const fw = firewallChanges(environment, host, facts, options);
      changes.push(...fw.changes);
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
        nftables: facts.nftTables === null ? 'not installed' : others.length > 0 ? `operator tables kept: ${others.join(', ')}` : 'no other table',
        packages: environment.provision.packages.source === 'push' ? `pushed (${g.push?.packages.length ?? 0} .deb)` : environment.provision.packages.source,
        time: facts.container !== 'none' ? `container (${facts.container})` : TIME_SYNC_UNITS.filter((u) => facts.timeSync[u] === 'active').join(', ') || 'no sync',
      },
    });
  }
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
