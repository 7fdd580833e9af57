/**
 * provision's peers-only firewall: one nftables table of its own per host
 * (`inet lms_ha_firewall`), rendered from the access model, so the operator's
 * tables and rules are never touched. `nft -f` applies the file as one
 * transaction and the leading add+delete replaces this table only.
 *
 * Two policies: `fence` closes the cluster ports to everyone but the hosts
 * that need them and leaves every other port to the operator's rules; `drop`
 * drops everything this table does not accept. Either way SSH is accepted
 * before anything else, from `sshSources` (or from everyone when none are
 * given), and connections already established stay up.
 *
 * Pure: no host access.
 */
import { isIPv6 } from 'node:net';
import { formatPorts, type Opening, type PortRange } from './access.js';

export const FIREWALL_NFT_TABLE = 'lms_ha_firewall';
export const FIREWALL_UNIT = 'lms-ha-firewall.service';
export const FIREWALL_NFT_PATH = '/etc/lms-ha/firewall.nft';
export const FIREWALL_DROP_IN_PATH = '/etc/systemd/system/nftables.service.d/lms-ha-firewall.conf';
/** The transient unit (systemd-run) that restores the previous table unless a fresh SSH connection cancels it. */
export const FIREWALL_ROLLBACK_UNIT = 'lms-ha-firewall-rollback';

export interface FirewallModel {
  host: string;
  policy: 'fence' | 'drop';
  sshPort: number;
  /** Who may SSH in; empty: everyone. */
  sshSources: string[];
  openings: readonly Opening[];
}

export interface FirewallRow {
  host: string;
  port: string;
  proto: string;
  what: string;
  from: string;
  sources: string;
}

const VRRP = 112;

function portMatch(ports: readonly PortRange[]): string {
  const items = ports.map((p) => (typeof p === 'number' ? String(p) : `${p[0]}-${p[1]}`));
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

/** `ip saddr { ... }` / `ip6 saddr { ... }` clauses for the sources, one per family present. */
function sourceClauses(sources: readonly string[]): string[] {
  const v4 = sources.filter((s) => !isIPv6(s.split('/')[0]!));
  const v6 = sources.filter((s) => isIPv6(s.split('/')[0]!));
  const clauses: string[] = [];
  if (v4.length > 0) clauses.push(`ip saddr { ${v4.join(', ')} }`);
  if (v6.length > 0) clauses.push(`ip6 saddr { ${v6.join(', ')} }`);
  return clauses;
}

const quote = (text: string) => `"${text.replace(/["\\]/g, '')}"`;

/** The SSH rule lines, in the order they are rendered: the lifeline, named in a lock-out error. */
export function sshRules(model: Pick<FirewallModel, 'sshPort' | 'sshSources' | 'policy'>): string[] {
  if (model.sshSources.length === 0) return model.policy === 'drop' ? [`tcp dport ${model.sshPort} accept comment "ssh"`] : [];
  return [
    ...sourceClauses(model.sshSources).map((c) => `tcp dport ${model.sshPort} ${c} accept comment "ssh"`),
    `tcp dport ${model.sshPort} drop comment "ssh from anywhere else"`,
  ];
}

function openingRules(o: Opening, policy: FirewallModel['policy']): string[] {
  const match = o.proto === 'vrrp' ? `meta l4proto ${VRRP}` : `tcp dport ${portMatch(o.ports)}`;
  const comment = `comment ${quote(o.label)}`;
  if (o.everyone) return [`${match} accept ${comment}`];
  const lines = sourceClauses(o.sources).map((c) => `${match} ${c} accept ${comment}`);
  // Under policy drop the chain's policy closes the port; under fence this rule does.
  if (policy === 'fence') lines.push(`${match} drop ${comment}`);
  return lines;
}

export function renderFirewallNftables(model: FirewallModel): string {
  const table = `inet ${FIREWALL_NFT_TABLE}`;
  const rules = [
    'iif "lo" accept',
    'ct state established,related accept',
    ...(model.policy === 'drop' ? ['meta l4proto { 1, 58 } accept comment "icmp, ipv6-icmp (by number: /etc/protocols may be missing)"'] : []),
    ...sshRules(model),
    ...model.openings.filter((o) => o.host === model.host).flatMap((o) => openingRules(o, model.policy)),
  ];
  return [
    `# Rendered by lms-ha (provision) for ${model.host}: the cluster's ports open only to the hosts that need them.`,
    `# Replaces the table ${table} only; every other table is left as it is.`,
    `table ${table}`,
    `delete table ${table}`,
    `table ${table} {`,
    '  chain input {',
    `    type filter hook input priority filter; policy ${model.policy === 'drop' ? 'drop' : 'accept'};`,
    ...rules.map((r) => `    ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The plan's readable table: one row per opening, SSH first. */
export function firewallRows(model: FirewallModel): FirewallRow[] {
  const rows: FirewallRow[] = [
    {
      host: model.host,
      port: String(model.sshPort),
      proto: 'tcp',
      what: 'SSH',
      from: model.sshSources.length > 0 ? 'ssh_from, bastion' : 'everyone',
      sources: model.sshSources.join(', ') || 'any',
    },
  ];
  for (const o of model.openings.filter((x) => x.host === model.host)) {
    rows.push({
      host: model.host,
      port: o.proto === 'vrrp' ? '-' : formatPorts(o.ports),
      proto: o.proto === 'vrrp' ? `vrrp (${VRRP})` : o.proto,
      what: o.label,
      from: o.from,
      sources: o.everyone ? 'any' : o.sources.join(', ') || 'none (this host only)',
    });
  }
  return rows;
}

/** Loads the table at boot, after nftables.service (whose start flushes the ruleset). */
export function renderFirewallUnit(): string {
  return `# Rendered by lms-ha (provision); local edits are overwritten.
[Unit]
Description=lms-ha: peers-only firewall (nftables table inet ${FIREWALL_NFT_TABLE})
DefaultDependencies=no
Wants=network-pre.target
After=local-fs.target nftables.service
Before=network-pre.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f ${FIREWALL_NFT_PATH}
ExecReload=/usr/sbin/nft -f ${FIREWALL_NFT_PATH}

[Install]
WantedBy=sysinit.target
`;
}

/** nftables.service flushes the whole ruleset on start, reload and stop: load the table again after each. */
export function renderFirewallDropIn(): string {
  return `# Rendered by lms-ha (provision); local edits are overwritten.
# nftables.service flushes the whole ruleset on start, reload and stop: load the
# peers-only firewall (table inet ${FIREWALL_NFT_TABLE}) again after each.
[Service]
ExecStartPost=-/usr/sbin/nft -f ${FIREWALL_NFT_PATH}
ExecReload=-/usr/sbin/nft -f ${FIREWALL_NFT_PATH}
ExecStopPost=-/usr/sbin/nft -f ${FIREWALL_NFT_PATH}
`;
}

/**
 * The shell script that puts the table back as it was before an apply: the
 * saved table (`nft list table` output) or no table at all.
 */
export function renderRollbackScript(previousTable: string | null): string {
  const table = `inet ${FIREWALL_NFT_TABLE}`;
  if (previousTable === null || previousTable.trim() === '') {
    return `#!/bin/sh\n# lms-ha: the new firewall was not confirmed; there was no table before.\nnft delete table ${table} 2>/dev/null || true\n`;
  }
  return `#!/bin/sh\n# lms-ha: the new firewall was not confirmed; restore the table as it was.\nnft -f - <<'LMS_HA_NFT'\ntable ${table}\ndelete table ${table}\n${previousTable.trimEnd()}\nLMS_HA_NFT\n`;
}
