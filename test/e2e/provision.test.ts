import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labExec, labHost, readLabState, runAction, tempDir, type ActionRun, type LabState } from './lab.js';
import { writeLabInventory } from './inventory.js';

// provision e2e (issue 11, tests 1 and 3), run as the Actions runner runs the
// bundle. db1-3 and lb1 are the inventory; lb2 is a lab host outside it, the
// one that must be kept out. Everything provision leaves on the hosts (its
// table, unit, the nftables package it installed, the operator's table this
// suite adds) is removed afterwards, so later suites find the hosts as before.

const HOSTS = ['db1', 'db2', 'db3', 'lb1'];
const OUTSIDER = 'lb2';

let state: LabState;
let workspace: string;
let key: string;
let knownHosts: string;
const hadNftables = new Map<string, boolean>();

function environments(s: LabState): string {
  const address = (h: string) => labHost(s, h).address;
  const hosts = (roles: Record<string, string>) => Object.entries(roles).map(([h, r]) => `      - { name: ${h}, address: ${address(h)}, roles: [${r}] }`).join('\n');
  return `  lab-provision:
    ssh: { user: root }
    hosts:
${hosts({ db1: 'db', db2: 'db', db3: 'db', lb1: 'lb' })}
    database: { cluster_name: lab }
    provision:
      firewall: { policy: drop, ssh_from: [${s.runnerAddress}/32, ${address('bastion')}], confirm_seconds: 30 }
  lab-provision-bastion:
    ssh: { user: root, bastion: bastion }
    hosts:
      - { name: bastion, address: ${address('bastion')}, roles: [bastion] }
${hosts({ db1: 'db' })}
  lab-provision-lockout:
    ssh: { user: root }
    hosts:
${hosts({ db3: 'db' })}
    provision:
      firewall: { ssh_from: [${address('bastion')}/32], confirm_seconds: 20 }
`;
}

async function action(command: string, mode: 'plan' | 'apply', environment: string): Promise<ActionRun> {
  const run = await runAction(
    state,
    { command, mode, inventory: 'ha.yml', environment, 'ssh-private-key': key, 'known-hosts': knownHosts, parallelism: '10' },
    { workspace },
  );
  if (run.outputs['failure-reason']) console.log(`${command} ${mode} ${environment} failed: ${run.annotations.join('\n')}`);
  return run;
}

const changes = (run: ActionRun): { host: string; kind: string; summary: string }[] => JSON.parse(run.outputs['result'] ?? '{}').changes ?? [];

/** Whether `from` opens a TCP connection to `to`:`port` within 3 s. */
function reaches(from: string, to: string, port: number): boolean {
  return labExec(from, `timeout 3 bash -c '</dev/tcp/${labHost(state, to).address}/${port}'`, { allowFailure: true }).code === 0;
}

function liveTable(host: string): string {
  return labExec(host, 'nft list table inet lms_ha_firewall 2>/dev/null || true', { allowFailure: true }).stdout;
}

describe('provision', () => {
  beforeAll(() => {
    state = readLabState();
    workspace = tempDir('provision');
    writeLabInventory(state, workspace, environments(state));
    key = readFileSync(state.sshKey, 'utf8');
    knownHosts = readFileSync(state.knownHosts, 'utf8');
    for (const h of HOSTS) hadNftables.set(h, labExec(h, 'dpkg -s nftables >/dev/null 2>&1', { allowFailure: true }).code === 0);
    // Listeners on db1 for the ports under test (nothing runs there before deploy-db).
    labExec('db1', 'for p in 3306 4567; do systemd-run --quiet --unit=lab-listen-$p python3 -m http.server --bind 0.0.0.0 $p; done; sleep 1');
  });

  afterAll(() => {
    if (!state) return;
    for (const h of [...HOSTS]) {
      labExec(
        h,
        'systemctl stop lab-listen-3306 lab-listen-4567 lms-ha-firewall-rollback.timer 2>/dev/null; systemctl disable lms-ha-firewall.service 2>/dev/null; ' +
          'nft delete table inet lms_ha_firewall 2>/dev/null; nft delete table inet operator_own 2>/dev/null; ' +
          'rm -f /etc/lms-ha/firewall.nft /etc/lms-ha/firewall-rollback.sh /etc/systemd/system/lms-ha-firewall.service /etc/systemd/system/nftables.service.d/lms-ha-firewall.conf; systemctl daemon-reload; true',
        { allowFailure: true },
      );
      if (hadNftables.get(h) === false) labExec(h, 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q nftables >/dev/null 2>&1; true', { allowFailure: true });
    }
  });

  it('plan shows the /etc/hosts block, the firewall table and the nft text, and changes nothing', async () => {
    const before = HOSTS.map((h) => labExec(h, 'sha256sum /etc/hosts; nft list tables 2>/dev/null; true').stdout).join('\n');
    const plan = await action('provision', 'plan', 'lab-provision');
    expect(plan.outputs['failure-reason']).toBe('');
    expect(plan.outputs['changed']).toBe('true');
    const summaries = changes(plan).map((c) => `${c.host} ${c.summary}`);
    expect(summaries).toContain('db1 update /etc/hosts (the inventory\'s hosts and the VIP; the rest of the file kept)');
    expect(summaries.some((s) => s.startsWith('db1 write /etc/lms-ha/firewall.nft'))).toBe(true);
    expect(plan.summary).toContain('Firewall (who may reach what)');
    expect(plan.summary).toContain('tcp dport 3306 ip saddr');
    expect(plan.summary).toContain('+# BEGIN lms-ha managed hosts');
    expect(HOSTS.map((h) => labExec(h, 'sha256sum /etc/hosts; nft list tables 2>/dev/null; true').stdout).join('\n')).toBe(before);
  }, 120_000);

  it('apply: peers and the load balancer reach 3306/4567 as configured, an outsider does not; SSH works; the operator table survives; re-apply is a no-op', async () => {
    // An operator's own table on db1 (nftables comes with provision; load it after, like an operator's firewall already there).
    const hostsBefore = labExec('db1', 'cat /etc/hosts').stdout;
    const apply = await action('provision', 'apply', 'lab-provision');
    expect(apply.outputs['failure-reason']).toBe('');
    expect(apply.outputs['changed']).toBe('true');

    const hostsAfter = labExec('db1', 'cat /etc/hosts').stdout;
    expect(hostsAfter.startsWith(hostsBefore)).toBe(true);
    expect(hostsAfter).toMatch(new RegExp(`${labHost(state, 'db2').address.replace(/\./g, '\\.')}\\s+db2`));
    // The lab's pitfall: sudo no longer says "unable to resolve host".
    expect(labExec('db1', 'getent hosts db1').stdout).toContain(labHost(state, 'db1').address);

    labExec('db1', "nft add table inet operator_own && nft add chain inet operator_own input '{ type filter hook input priority 10; policy accept; }' && nft add rule inet operator_own input tcp dport 8081 counter accept");

    expect(reaches('db2', 'db1', 3306)).toBe(true);
    expect(reaches('db2', 'db1', 4567)).toBe(true);
    expect(reaches('lb1', 'db1', 3306)).toBe(true);
    expect(reaches('lb1', 'db1', 4567)).toBe(false);
    expect(reaches(OUTSIDER, 'db1', 3306)).toBe(false);
    expect(reaches(OUTSIDER, 'db1', 4567)).toBe(false);
    expect(reaches(OUTSIDER, 'db1', 22)).toBe(false);
    expect(reaches('bastion', 'db1', 22)).toBe(true);

    // Through the bastion, SSH still works.
    const viaBastion = await action('preflight', 'plan', 'lab-provision-bastion');
    expect(viaBastion.outputs['failure-reason']).toBe('');

    const again = await action('provision', 'apply', 'lab-provision');
    expect(again.outputs['failure-reason']).toBe('');
    expect(changes(again)).toEqual([]);
    expect(again.outputs['changed']).toBe('false');
    expect(labExec('db1', 'nft list table inet operator_own').stdout).toContain('tcp dport 8081');
  }, 300_000);

  it('lock-out guard: a firewall that would shut the runner out is rolled back by itself and the run names the rule', async () => {
    const before = liveTable('db3');
    const apply = await action('provision', 'apply', 'lab-provision-lockout');
    expect(apply.outputs['failure-reason']).toBe('apply-failed');
    const message = apply.annotations.join('\n');
    expect(message).toContain('a fresh SSH connection from the runner failed');
    expect(message).toContain(`tcp dport 22 ip saddr { ${labHost(state, 'bastion').address}/32 } accept`);
    // Rolled back: the runner gets in again and the live table is what it was.
    expect(liveTable('db3')).toBe(before);
    expect(labExec('db3', 'test -e /etc/lms-ha/firewall.nft.lms-ha-candidate && echo left || echo gone').stdout.trim()).toBe('gone');
    const check = await action('preflight', 'plan', 'lab-provision-lockout');
    expect(check.outputs['failure-reason']).toBe('');
  }, 300_000);
});
