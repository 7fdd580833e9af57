import { describe, expect, it } from 'vitest';
import { BLOCK_BEGIN, BLOCK_END, renderHostsFile, shadowingLines } from '../../../src/components/hosts-file/index.js';
import { accessModel, clustercheckSources } from '../../../src/components/nftables/access.js';
import { firewallRows, renderFirewallNftables, renderRollbackScript, sshRules } from '../../../src/components/nftables/firewall.js';
import { renderClustercheckNftables } from '../../../src/components/clustercheck/index.js';
import { loadInventory, selectEnvironment } from '../../../src/inventory/index.js';
import { firewallModelFor } from '../../../src/commands/provision/plan.js';

const ENTRIES = [
  { address: '10.0.0.11', names: ['db1'] },
  { address: '10.0.0.100', names: ['lms-ha-vip'] },
];

describe('hosts file block', () => {
  it('appends the block and keeps the rest byte for byte', () => {
    const current = '127.0.0.1\tlocalhost\n::1 localhost ip6-localhost  # odd spacing kept\n';
    const out = renderHostsFile(current, ENTRIES);
    expect(out.startsWith(current)).toBe(true);
    expect(out.slice(current.length)).toBe(`${BLOCK_BEGIN}\n10.0.0.11  db1\n10.0.0.100 lms-ha-vip\n${BLOCK_END}\n`);
  });

  it('adds the missing final newline before the block', () => {
    expect(renderHostsFile('127.0.0.1 localhost', ENTRIES)).toMatch(/^127\.0\.0\.1 localhost\n# BEGIN lms-ha/);
  });

  it('replaces the block where it stands and is a fixed point', () => {
    const first = renderHostsFile('a\n', ENTRIES) + 'after the block\n';
    const changed = renderHostsFile(first, [{ address: '10.0.0.12', names: ['db2'] }]);
    expect(changed).toBe(`a\n${BLOCK_BEGIN}\n10.0.0.12 db2\n${BLOCK_END}\nafter the block\n`);
    expect(renderHostsFile(changed, [{ address: '10.0.0.12', names: ['db2'] }])).toBe(changed);
  });

  it('refuses a block without its end', () => {
    expect(() => renderHostsFile(`${BLOCK_BEGIN}\n1.2.3.4 x\n`, ENTRIES)).toThrow(/damaged lms-ha block/);
  });

  it('finds operator lines that shadow a managed name', () => {
    const current = '127.0.1.1 db1\n10.0.0.11 db1\n' + renderHostsFile('', ENTRIES);
    expect(shadowingLines(current, ENTRIES)).toEqual([{ line: 1, name: 'db1', address: '127.0.1.1', wanted: '10.0.0.11' }]);
  });
});

const INVENTORY = `version: 1
environments:
  prod:
    ssh: { bastion: jump }
    hosts:
      - { name: jump, address: 10.0.0.5, roles: [bastion] }
      - { name: db1, address: 10.0.0.11, roles: [db, storage, web] }
      - { name: db2, address: 10.0.0.12, roles: [db, storage, web] }
      - { name: db3, address: 10.0.0.13, roles: [db, storage, web] }
      - { name: lb1, address: 10.0.0.21, roles: [lb] }
      - { name: lb2, address: 10.0.0.22, roles: [lb] }
    database: { cluster_name: prod }
    load_balancer: { kind: haproxy, vip: 10.0.0.100/24, interface: eth0, virtual_router_id: 51, auth_password: { env: KA } }
    storage: { kind: glusterfs, volume: files, mount_path: /srv/files }
    provision:
      firewall: { policy: drop, ssh_from: [192.0.2.0/24], client_networks: [198.51.100.0/24] }
`;

const env = () => selectEnvironment(loadInventory(INVENTORY, 'ha.yml'), 'prod', 'ha.yml');

describe('one access model', () => {
  it('opens each cluster port only to the hosts that need it', () => {
    const e = env();
    const db1 = accessModel(e).filter((o) => o.host === 'db1');
    const find = (label: string) => db1.find((o) => o.label === label)!;
    expect(find('MariaDB').sources).toEqual(['10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.21', '10.0.0.22', '10.0.0.100']);
    expect(find('Galera replication').sources).toEqual(['10.0.0.11', '10.0.0.12', '10.0.0.13']);
    expect(find('Galera health check (clustercheck)').sources).toEqual(['10.0.0.21', '10.0.0.22', '10.0.0.100']);
    const lb1 = accessModel(e).filter((o) => o.host === 'lb1');
    expect(lb1.find((o) => o.proto === 'vrrp')!.sources).toEqual(['10.0.0.21', '10.0.0.22']);
    expect(lb1.find((o) => o.label === 'HAProxy writer + readers')!.sources).toContain('198.51.100.0/24');
    // The bastion carries no cluster port.
    expect(accessModel(e).some((o) => o.host === 'jump')).toBe(false);
  });

  it('gives deploy-lb\'s fence and provision\'s firewall the same sources for the health check', () => {
    const e = env();
    const fence = renderClustercheckNftables({ listenAddress: '10.0.0.11', port: 9200, allowedSources: clustercheckSources(e) });
    const firewall = renderFirewallNftables(firewallModelFor(e, e.hosts.find((h) => h.name === 'db1')!));
    const fenceSet = /tcp dport 9200 ip saddr \{ ([^}]+) \} accept/.exec(fence)![1]!.split(', ').sort();
    const firewallSet = /tcp dport 9200 ip saddr \{ ([^}]+) \} accept/.exec(firewall)![1]!.split(', ').sort();
    // The fence also lets the node itself in (its own listen address); beyond that the two agree.
    expect(fenceSet.filter((a) => a !== '10.0.0.11')).toEqual(firewallSet);
  });
});

describe('firewall table', () => {
  it('renders policy drop with SSH from ssh_from and the bastion first', () => {
    const e = env();
    const text = renderFirewallNftables(firewallModelFor(e, e.hosts.find((h) => h.name === 'db2')!));
    expect(text).toContain('type filter hook input priority filter; policy drop;');
    expect(text).toContain('tcp dport 22 ip saddr { 192.0.2.0/24, 10.0.0.5 } accept comment "ssh"');
    expect(text).toContain('tcp dport { 4568, 4444 } ip saddr { 10.0.0.11, 10.0.0.12, 10.0.0.13 } accept comment "Galera IST + SST"');
    expect(text).toContain('tcp dport 24007-24008 ip saddr');
    expect(text.indexOf('ct state established,related accept')).toBeLessThan(text.indexOf('tcp dport 22'));
    // Under drop the policy closes the ports; no per-port drop is rendered.
    expect(text).not.toContain('tcp dport 3306 drop');
  });

  it('renders policy fence: each port dropped after its sources, SSH left alone without ssh_from', () => {
    const fenced = { host: 'db1', policy: 'fence' as const, sshPort: 22, sshSources: [], openings: accessModel(env()) };
    const text = renderFirewallNftables(fenced);
    expect(text).toContain('policy accept;');
    expect(text).toContain('tcp dport 3306 drop comment "MariaDB"');
    expect(text).not.toMatch(/dport 22/);
    expect(sshRules(fenced)).toEqual([]);
    expect(firewallRows(fenced)[0]).toMatchObject({ what: 'SSH', sources: 'any' });
  });

  it('rollback restores the saved table, or removes the table when there was none', () => {
    expect(renderRollbackScript(null)).toContain('nft delete table inet lms_ha_firewall');
    const saved = 'table inet lms_ha_firewall {\n\tchain input {\n\t}\n}\n';
    expect(renderRollbackScript(saved)).toContain(`delete table inet lms_ha_firewall\n${saved.trimEnd()}\nLMS_HA_NFT`);
  });
});
