import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labExec, readLabState, runAction, runCli, tempDir, type LabState } from './lab.js';
import { writeLabInventory } from './inventory.js';

// Foundation e2e (issue 2): preflight against real sshd hosts, run exactly as
// the Actions runner runs the bundle, and through the CLI.

let state: LabState;
let workspace: string;
let key: string;
let knownHosts: string;

function inputs(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    command: 'preflight',
    mode: 'plan',
    inventory: 'ha.yml',
    environment: 'lab',
    'ssh-private-key': key,
    'known-hosts': knownHosts,
    parallelism: '10',
    ...overrides,
  };
}

/** sshd logs one "Accepted publickey" line per successful authentication. */
function acceptedLogins(host: string): number {
  const out = labExec(host, 'journalctl -u ssh --no-pager -o cat | grep -c "Accepted publickey" || true').stdout;
  return Number.parseInt(out.trim() || '0', 10);
}

function knownHostsWithout(address: string): string {
  return knownHosts
    .split('\n')
    .filter((line) => !line.startsWith(`${address} `))
    .join('\n');
}

beforeAll(() => {
  state = readLabState();
  workspace = tempDir('foundation');
  writeLabInventory(state, workspace);
  key = readFileSync(state.sshKey, 'utf8');
  knownHosts = readFileSync(state.knownHosts, 'utf8');
});

describe('preflight through the action front', () => {
  it('passes on pinned hosts and reports every host', async () => {
    const run = await runAction(state, inputs(), { workspace });
    expect(run.stderr).not.toContain('    at ');
    expect(run.outputs['failure-reason']).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.outputs.result);
    expect(result.status).toBe('ok');
    expect(result.hosts.map((h: { name: string }) => h.name).sort()).toEqual(['db1', 'db2', 'db3', 'lb1', 'lb2']);
    const osChecks = result.checks.filter((c: { check: string }) => c.check === 'operating system');
    expect(osChecks).toHaveLength(5);
    for (const check of osChecks) expect(check.observed).toContain('debian 12');
    expect(result.checks.some((c: { check: string }) => c.check === 'clock skew between hosts')).toBe(true);
    // Per-host table first in the job summary.
    expect(run.summary.indexOf('| db1 ')).toBeGreaterThan(-1);
    expect(run.summary.length).toBeLessThan(1024 * 1024);
    // The private key never reaches the log or the outputs. `::add-mask::` lines are
    // how the runner learns what to mask; it consumes them and never shows them.
    const keyBody = key.split('\n')[1];
    expect(run.stdout).toContain(`::add-mask::${keyBody}`);
    const log = run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
    expect(log + run.stderr + JSON.stringify(run.outputs) + run.summary).not.toContain(keyBody);
  });

  it('refuses a host whose key differs, before authenticating, and names type and fingerprint', async () => {
    const db1 = state.hosts.find((h) => h.name === 'db1')!;
    const lb1 = state.hosts.find((h) => h.name === 'lb1')!;
    // Pin db1's address to lb1's keys: a man in the middle would look like this.
    const lb1Keys = knownHosts.split('\n').filter((l) => l.startsWith(`${lb1.address} `));
    const forged = [knownHostsWithout(db1.address), ...lb1Keys.map((l) => l.replace(lb1.address, db1.address))].join('\n');
    const before = acceptedLogins('db1');
    const run = await runAction(state, inputs({ 'known-hosts': forged }), { workspace });
    expect(run.code).not.toBe(0);
    expect(run.outputs['failure-reason']).toBe('host-key-mismatch');
    const message = run.stdout + run.stderr;
    expect(message).toMatch(/db1/);
    expect(message).toMatch(/ssh-ed25519|ecdsa-sha2-nistp256|rsa-sha2-512|ssh-rsa/);
    expect(message).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
    expect(message).not.toContain('    at ');
    expect(acceptedLogins('db1')).toBe(before);
  });

  it('refuses a host missing from known_hosts before any connection, with the line to add', async () => {
    const db2 = state.hosts.find((h) => h.name === 'db2')!;
    const before = acceptedLogins('db2');
    const run = await runAction(state, inputs({ 'known-hosts': knownHostsWithout(db2.address) }), { workspace });
    expect(run.outputs['failure-reason']).toBe('host-key-unknown');
    expect(run.stdout + run.stderr).toContain('db2');
    expect(run.stdout + run.stderr).toContain(db2.address);
    expect(acceptedLogins('db2')).toBe(before);
  });

  it('reaches a host on the private segment only through the pinned bastion', async () => {
    const run = await runAction(state, inputs({ environment: 'lab-bastion' }), { workspace });
    expect(run.outputs['failure-reason']).toBe('');
    const result = JSON.parse(run.outputs.result);
    expect(result.hosts.map((h: { name: string }) => h.name).sort()).toEqual(['bastion', 'priv1']);
    // And priv1 is really unreachable without it.
    const priv1 = state.hosts.find((h) => h.name === 'priv1')!;
    const direct = await runCli(state, ['preflight', '-e', 'direct'], {
      workspace: writeDirectInventory(priv1.address),
      env: { LMS_HA_SSH_KEY: state.sshKey, LMS_HA_KNOWN_HOSTS: state.knownHosts },
    });
    expect(direct.code).toBe(1);
    expect(direct.stderr).toMatch(/priv1/);
  });

  it('refuses the bastion when its own key is not pinned', async () => {
    const bastion = state.hosts.find((h) => h.name === 'bastion')!;
    const run = await runAction(state, inputs({ environment: 'lab-bastion', 'known-hosts': knownHostsWithout(bastion.address) }), { workspace });
    expect(run.outputs['failure-reason']).toBe('host-key-unknown');
    expect(run.stdout + run.stderr).toContain('bastion');
  });

  it('works as a non-root user through sudo -n', async () => {
    const run = await runAction(state, inputs({ environment: 'lab-sudo' }), { workspace });
    expect(run.outputs['failure-reason']).toBe('');
    expect(run.code).toBe(0);
  });

  it('reports clearly when sudo needs a password', async () => {
    const run = await runAction(state, inputs({ environment: 'lab-password-sudo' }), { workspace });
    expect(run.outputs['failure-reason']).toBe('sudo-failed');
    expect(run.stdout + run.stderr).toMatch(/db1/);
    expect(run.stdout + run.stderr).toMatch(/password/i);
    expect(run.stdout + run.stderr).not.toContain('    at ');
  });
});

describe('known_hosts formats', () => {
  it('accepts hashed entries (ssh-keygen -H) and refuses a [host]:port entry for another port', async () => {
    const dir = tempDir('hashed');
    const file = join(dir, 'known_hosts');
    writeFileSync(file, knownHosts);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'pipe' });
    const hashed = readFileSync(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/m);
    expect(hashed).not.toContain('10.231.0.11 ');
    const ok = await runAction(state, inputs({ 'known-hosts': hashed }), { workspace });
    expect(ok.outputs['failure-reason']).toBe('');

    // The same keys pinned for port 2222 do not pin port 22.
    const db1 = state.hosts.find((h) => h.name === 'db1')!;
    const otherPort = knownHosts
      .split('\n')
      .map((l) => (l.startsWith(`${db1.address} `) ? l.replace(`${db1.address} `, `[${db1.address}]:2222 `) : l))
      .join('\n');
    const refused = await runAction(state, inputs({ 'known-hosts': otherPort }), { workspace });
    expect(refused.outputs['failure-reason']).toBe('host-key-unknown');
    expect(refused.stdout + refused.stderr).toContain('db1');
  });
});

describe('bad input through the action front', () => {
  it('turns inventory problems into error annotations on the file, and connects nowhere', async () => {
    const dir = tempDir('bad-action');
    writeFileSync(join(dir, 'ha.yml'), 'version: 1\nenvironments:\n  lab:\n    hosts:\n      - { name: db1, adress: 10.231.0.11, roles: [db] }\n');
    const before = acceptedLogins('db1');
    const run = await runAction(state, inputs(), { workspace: dir });
    expect(run.outputs['failure-reason']).toBe('invalid-inventory');
    expect(run.annotations.some((a) => /^::error .*file=ha\.yml,line=5,col=\d+/.test(a) && a.includes('adress'))).toBe(true);
    expect(run.summary).toContain('adress');
    expect(acceptedLogins('db1')).toBe(before);
  });
});

describe('the CLI front', () => {
  it('runs preflight with the same code and exits 0', async () => {
    const run = await runCli(state, ['preflight', '--environment', 'lab', '--json'], {
      workspace,
      env: { LMS_HA_SSH_KEY: state.sshKey, LMS_HA_KNOWN_HOSTS: state.knownHosts },
    });
    expect(run.stderr).not.toContain('    at ');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).status).toBe('ok');
  });

  it('exits 2 with file:line:col on a bad inventory and opens no connection', async () => {
    const dir = tempDir('bad-inventory');
    writeFileSync(join(dir, 'ha.yml'), 'version: 1\nenvironments:\n  lab:\n    hosts:\n      - { name: db1, adress: 10.231.0.11, roles: [db] }\n');
    const before = acceptedLogins('db1');
    const run = await runCli(state, ['preflight', '-e', 'lab'], {
      workspace: dir,
      env: { LMS_HA_SSH_KEY: state.sshKey, LMS_HA_KNOWN_HOSTS: state.knownHosts },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/ha\.yml:5:\d+: /);
    expect(acceptedLogins('db1')).toBe(before);
  });
});

function writeDirectInventory(address: string): string {
  const dir = tempDir('direct');
  writeFileSync(
    join(dir, 'ha.yml'),
    `version: 1\nenvironments:\n  direct:\n    ssh: { user: root, connect_timeout: 3 }\n    hosts:\n      - { name: priv1, address: ${address}, roles: [web] }\n`,
  );
  return dir;
}
