import { describe, expect, it } from 'vitest';
import { loadInventory, selectEnvironment } from '../../../src/inventory/index.js';
import { computeProvisionPlan, covers, renderPlanSudoers, type ProvisionGathered } from '../../../src/commands/provision/plan.js';
import { gathererScript, gathererVersion } from '../../../src/facts/gatherer.js';
import { parseProvisionFacts, provisionFactsScript, type ProvisionFacts } from '../../../src/commands/provision/facts.js';
import { clockSkewCheck, swapChecks, timeSyncCheck } from '../../../src/commands/provision/checks.js';
import { manifestDelta, parseManifest, renderManifest } from '../../../src/components/apt-sources/index.js';
import type { HostFacts } from '../../../src/facts/host.js';

const INVENTORY = `version: 1
environments:
  prod:
    hosts:
      - { name: db1, address: 10.0.0.11, roles: [db] }
      - { name: db2, address: 10.0.0.12, roles: [db] }
      - { name: db3, address: 10.0.0.13, roles: [db] }
    database: { cluster_name: prod }
    provision:
      firewall: { ssh_from: [10.9.0.0/16] }
`;
const env = () => selectEnvironment(loadInventory(INVENTORY, 'ha.yml'), 'prod', 'ha.yml');
const noGuard = { guardedLoad: () => async () => undefined };

function bareFacts(): ProvisionFacts {
  const hosts = Buffer.from('127.0.0.1 localhost\n').toString('base64');
  return parseProvisionFacts(`@@hosts\n${hosts}\n@@virt\nnone\n@@os\ndebian\nbookworm\n@@timesync systemd-timesyncd\ninactive\n@@nft\n@absent\n@@swap\nFilename Type Size Used Priority\n/swapfile file 1048576 0 -2\n@@swappiness\n60\n`, []);
}

function gathered(facts: (name: string) => ProvisionFacts): ProvisionGathered {
  const names = ['db1', 'db2', 'db3'];
  return { facts: new Map(names.map((n) => [n, facts(n)])), hostnames: new Map(names.map((n) => [n, n])), sshClients: new Map(names.map((n) => [n, '10.9.1.1'])) };
}

describe('provision plan', () => {
  it('plans hosts file, time sync and firewall on bare hosts, and nothing once they match', () => {
    const first = computeProvisionPlan(env(), gathered(() => bareFacts()), noGuard);
    const db1 = first.plan.changes.filter((c) => c.host === 'db1').map((c) => c.summary);
    expect(db1[0]).toMatch(/^update \/etc\/hosts/);
    expect(db1).toContain('install systemd-timesyncd');
    expect(db1).toContain('install nftables');
    // Phases across hosts: every /etc/hosts before any install, every install before the firewall.
    const order = first.plan.changes.map((c) => c.kind === 'package' ? 'package' : c.summary.includes('/etc/hosts') ? 'hosts' : c.summary.includes('firewall.nft') ? 'firewall' : 'other');
    expect(order.lastIndexOf('hosts')).toBeLessThan(order.indexOf('package'));
    expect(order.lastIndexOf('package')).toBeLessThan(order.indexOf('firewall'));
    expect(db1.some((s) => s.startsWith('write /etc/lms-ha/firewall.nft'))).toBe(true);
    expect(first.firewall.filter((r) => r.host === 'db1').map((r) => r.what)).toEqual(['SSH', 'MariaDB', 'Galera replication', 'Galera IST + SST']);

    // Hosts as the first apply leaves them.
    const applied = (name: string): ProvisionFacts => {
      const f = bareFacts();
      const file = (path: string) => {
        const c = first.plan.changes.find((x) => x.host === name && x.kind === 'file' && x.path === path);
        return c && c.kind === 'file' ? c.after!.content! : '';
      };
      f.hostsFile = file('/etc/hosts');
      f.timeSync['systemd-timesyncd'] = 'active';
      f.packages = { nftables: '1.0.6', 'systemd-timesyncd': '252' };
      f.dirs = { '/etc/lms-ha': true, '/etc/systemd/system/nftables.service.d': true };
      for (const path of ['/etc/lms-ha/firewall.nft', '/etc/systemd/system/lms-ha-firewall.service', '/etc/systemd/system/nftables.service.d/lms-ha-firewall.conf']) {
        f.files[path] = { content: file(path), mode: 0o644, owner: 'root', group: 'root' };
      }
      f.nftTables = ['inet lms_ha_firewall', 'inet operator'];
      f.firewallUnitEnabled = 'enabled';
      return f;
    };
    const second = computeProvisionPlan(env(), gathered(applied), noGuard);
    expect(second.plan.changes.map((c) => `${c.host} ${c.summary}`)).toEqual([]);

    // Someone flushed the ruleset: only the load comes back.
    const flushed = computeProvisionPlan(env(), gathered((n) => ({ ...applied(n), nftTables: ['inet operator'] })), noGuard);
    expect(flushed.plan.changes.map((c) => c.summary)[0]).toMatch(/^load table inet lms_ha_firewall again/);
  });

  it('plans the plan account (login, key, gatherer, a visudo-checked sudo rule) and nothing once it is there', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake plan@ci';
    const withAccount = () => selectEnvironment(loadInventory(`${INVENTORY}      plan_account: { public_key: ${key} }\n`, 'ha.yml'), 'prod', 'ha.yml');
    const first = computeProvisionPlan(withAccount(), gathered(() => bareFacts()), noGuard);
    const db1 = first.plan.changes.filter((c) => c.host === 'db1');
    expect(db1.map((c) => c.summary)).toEqual(
      expect.arrayContaining([
        'install sudo',
        'create the plan account lms-ha-plan (home /var/lib/lms-ha-plan; no password, key login only)',
        'write /var/lib/lms-ha-plan/.ssh/authorized_keys (the plan key)',
        `write /usr/local/libexec/lms-ha/gather (the plan gatherer, version ${gathererVersion()})`,
        'write /etc/sudoers.d/lms-ha-plan (the plan account may run the gatherer as root, nothing else)',
      ]),
    );
    const sudoers = db1.find((c) => c.kind === 'file' && c.path === '/etc/sudoers.d/lms-ha-plan');
    expect(sudoers?.kind === 'file' && sudoers.after?.content).toBe(renderPlanSudoers('lms-ha-plan'));
    expect(renderPlanSudoers('lms-ha-plan')).toContain('lms-ha-plan ALL=(root) NOPASSWD: /usr/local/libexec/lms-ha/gather\n');
    expect(renderPlanSudoers('lms-ha-plan')).not.toMatch(/ALL\s*$/m);

    const done = (): ProvisionFacts => {
      const f = bareFacts();
      f.packages = { sudo: '1.9' };
      f.planUser = { home: '/var/lib/lms-ha-plan', authorizedKeys: `${key}\n` };
      f.files['/usr/local/libexec/lms-ha/gather'] = { content: gathererScript(), mode: 0o755, owner: 'root', group: 'root' };
      f.files['/etc/sudoers.d/lms-ha-plan'] = { content: renderPlanSudoers('lms-ha-plan'), mode: 0o440, owner: 'root', group: 'root' };
      return f;
    };
    const second = computeProvisionPlan(withAccount(), gathered(done), noGuard);
    expect(second.plan.changes.filter((c) => /plan|gather|sudo/.test(c.summary)).map((c) => c.summary)).toEqual([]);
    // An older gatherer on the host is replaced.
    const older = computeProvisionPlan(withAccount(), gathered(() => ({ ...done(), files: { ...done().files, '/usr/local/libexec/lms-ha/gather': { content: '#!/bin/sh\n', mode: 0o755, owner: 'root', group: 'root' } } })), noGuard);
    expect(older.plan.changes.map((c) => c.summary)).toContain(`update /usr/local/libexec/lms-ha/gather (the plan gatherer, version ${gathererVersion()})`);
  });

  it('warns when the runner would be locked out', () => {
    const g = gathered(() => bareFacts());
    g.sshClients.set('db2', '192.0.2.7');
    const { plan } = computeProvisionPlan(env(), g, noGuard);
    expect(plan.warnings.join('\n')).toContain('db2: this run\'s SSH connection arrives from 192.0.2.7');
    expect(plan.warnings.join('\n')).not.toContain('db1: this run');
  });

  it('covers addresses by network', () => {
    expect(covers('10.9.0.0/16', '10.9.255.1')).toBe(true);
    expect(covers('10.9.0.0/16', '10.10.0.1')).toBe(false);
    expect(covers('10.231.0.5', '10.231.0.5')).toBe(true);
  });
});

describe('provision facts and checks', () => {
  it('parses the script\'s sections', () => {
    expect(provisionFactsScript(['/var/lib/mysql'])).toContain('@@df /var/lib/mysql');
    const f = parseProvisionFacts('@@virt\nsystemd-nspawn\n@@df /var/lib/mysql\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100 50 2097152 50% /\n', ['/var/lib/mysql']);
    expect(f.container).toBe('systemd-nspawn');
    expect(f.disks['/var/lib/mysql']).toEqual({ mount: '/', sizeBytes: 102400, availableBytes: 2097152 * 1024 });
  });

  it('time sync: a container is fine, a machine without a daemon warns', () => {
    const f = bareFacts();
    expect(timeSyncCheck({ name: 'db1', roles: ['db'], facts: f, diskPaths: [] }).status).toBe('warn');
    expect(timeSyncCheck({ name: 'db1', roles: ['db'], facts: { ...f, container: 'lxc' }, diskPaths: [] }).status).toBe('ok');
  });

  it('swap: swappiness 60 with swap on warns for db hosts only', () => {
    const f = bareFacts();
    expect(swapChecks({ name: 'db1', roles: ['db'], facts: f, diskPaths: [] })[0]!.status).toBe('warn');
    expect(swapChecks({ name: 'lb1', roles: ['lb'], facts: f, diskPaths: [] })).toEqual([]);
    expect(swapChecks({ name: 'db1', roles: ['db'], facts: { ...f, swappiness: 1 }, diskPaths: [] })[0]!.status).toBe('ok');
  });

  it('clock skew above the bound fails, within it passes', () => {
    const clock = (offset: number): HostFacts => ({ hostname: 'x', os: { id: 'debian', versionId: '12', prettyName: 'Debian' }, disks: [], uid: 0, clock: { hostSeconds: 1000 + offset, runnerSeconds: 1000, roundTripMs: 10 } });
    expect(clockSkewCheck([{ name: 'a', facts: clock(0) }, { name: 'b', facts: clock(0.8) }], 500)[0]!.status).toBe('fail');
    expect(clockSkewCheck([{ name: 'a', facts: clock(0) }, { name: 'b', facts: clock(0.2) }], 500)[0]!.status).toBe('ok');
  });
});

describe('pushed packages manifest', () => {
  it('round-trips and computes what to copy and remove', () => {
    const a = { file: 'a_1_all.deb', sha256: 'a'.repeat(64) };
    const b = { file: 'b_1_all.deb', sha256: 'b'.repeat(64) };
    const b2 = { file: 'b_1_all.deb', sha256: 'c'.repeat(64) };
    expect(parseManifest(renderManifest([b, a]))).toEqual([a, b]);
    expect(manifestDelta([a, b], [b2])).toEqual({ copy: [b2], remove: ['a_1_all.deb'] });
  });
});
