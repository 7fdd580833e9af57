// verify-ha (read-only, no drills) wall time on the 5-host lab platform
// (Galera on db1-3 by deploy-db, HAProxy + Keepalived on lb1/lb2 by
// deploy-lb), and the same run with 50 sshd-only hosts added to the
// environment, where verify-ha's connectivity and OS layer (preflight: SSH,
// sudo, OS, disk, clock of every host) covers 55 hosts. verify-ha refuses an
// environment with no layer to verify, so the 50 hosts ride along with the
// platform (under its own VRRP id only because the inventory check wants one
// per environment on a network; verify-ha does not compare it). Alternating,
// so that load on the machine affects both sides alike.
// Targets (issue 5): 5-host platform < 2 s; 50 hosts <= 2 x the 5-host figure.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLab, median, ROUNDS, runCli } from './lib.mjs';

export async function bench() {
  const state = ensureLab(50);
  const address = (name) => state.hosts.find((h) => h.name === name).address;
  const extras = state.hosts.filter((h) => /^x\d+$/.test(h.name)).sort((a, b) => a.name.localeCompare(b.name)).slice(0, 50);
  const dir = mkdtempSync(join(tmpdir(), 'lms-ha-bench-'));
  const platformEnvironment = `  platform:
    ssh: { user: root }
    hosts:
${['db1', 'db2', 'db3'].map((h) => `      - { name: ${h}, address: ${address(h)}, roles: [db] }`).join('\n')}
${['lb1', 'lb2'].map((h) => `      - { name: ${h}, address: ${address(h)}, roles: [lb] }`).join('\n')}
    app:
      preset: moodle
      users:
        - { name: moodle, password: { env: BENCH_APP_PASSWORD }, databases: [moodle], hosts: ['10.231.0.%'] }
    database: { cluster_name: lab, buffer_pool_size: 128M, gcache_size: 64M }
    load_balancer:
      kind: haproxy
      vip: ${state.vip}/24
      interface: eth0
      virtual_router_id: 51
      auth_password: { env: BENCH_VRRP_PASSWORD }
`;
  writeFileSync(
    join(dir, 'ha.yml'),
    `version: 1
environments:
${platformEnvironment}${platformEnvironment.replace('  platform:', '  fifty:').replace('virtual_router_id: 51', 'virtual_router_id: 58').replace('    app:', `${extras.map((h) => `      - { name: ${h.name}, address: ${h.address}, roles: [web] }`).join('\n')}\n    app:`)}`,
  );
  const env = { BENCH_APP_PASSWORD: `bench-${randomBytes(6).toString('hex')}`, BENCH_VRRP_PASSWORD: `b${randomBytes(3).toString('hex')}` };
  const verify = (name, allowFailure = false, parallelism = []) => runCli(state, ['verify-ha', '-e', name, '--json', ...parallelism], { cwd: dir, env, allowFailure });

  // The platform: deployed unless verify-ha already passes on it.
  if (verify('platform', true).run.status !== 0) {
    console.error('bench: deploying the platform (deploy-db, deploy-lb)');
    runCli(state, ['deploy-db', '-e', 'platform', '--mode', 'apply'], { cwd: dir, env });
    runCli(state, ['deploy-lb', '-e', 'platform', '--mode', 'apply'], { cwd: dir, env });
    const deadline = Date.now() + 60_000;
    while (verify('platform', true).run.status !== 0) {
      if (Date.now() > deadline) throw new Error(`verify-ha does not pass on the freshly deployed platform: ${verify('platform', true).run.stdout.slice(-3000)}`);
    }
  }
  const checksOf = (r) => JSON.parse(r.run.stdout).checks.length;
  const platformChecks = checksOf(verify('platform')); // also warms caches
  const fiftyChecks = checksOf(verify('fifty'));

  // The machine's own floor: OpenSSH opening one session per host, all at once
  // (the lab's hosts and the runner share this machine's cores, so SSH
  // handshakes on 55 hosts cost CPU that no client can avoid).
  const sshFloor = (hosts) => {
    const started = process.hrtime.bigint();
    const r = spawnSync('ip', ['netns', 'exec', state.runnerNamespace, 'xargs', '-P', '64', '-I{}', 'ssh', '-i', state.sshKey, '-o', `UserKnownHostsFile=${state.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', 'root@{}', 'true'], { input: hosts.join('\n'), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`OpenSSH floor failed: ${r.stderr}`);
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const platformAddresses = ['db1', 'db2', 'db3', 'lb1', 'lb2'].map(address);
  const allAddresses = [...platformAddresses, ...extras.map((h) => h.address)];
  const floor5 = [];
  const floor55 = [];

  // Also with one connection per host at once (the default parallelism is 20,
  // so 55 hosts take three waves of SSH handshakes).
  const wide = ['--parallelism', '64'];
  const five = [];
  const fifty = [];
  const fiftyWide = [];
  for (let i = 0; i < ROUNDS; i++) {
    five.push(verify('platform').ms);
    fifty.push(verify('fifty').ms);
    fiftyWide.push(verify('fifty', false, wide).ms);
    floor5.push(sshFloor(platformAddresses));
    floor55.push(sshFloor(allAddresses));
  }
  const ratio = median(fifty) / median(five);
  const result = {
    platform5_ms: Math.round(median(five)),
    platform5_checks: platformChecks,
    target_platform5_ms: 2000,
    hosts50_ms: Math.round(median(fifty)),
    hosts50_checks: fiftyChecks,
    ratio: Number(ratio.toFixed(2)),
    hosts50_parallelism64_ms: Math.round(median(fiftyWide)),
    ratio_parallelism64: Number((median(fiftyWide) / median(five)).toFixed(2)),
    openssh_hosts5_ms: Math.round(median(floor5)),
    openssh_hosts55_ms: Math.round(median(floor55)),
    target_ratio: 2,
    rounds: ROUNDS,
    samples_platform5_ms: five.map(Math.round),
    samples_hosts50_ms: fifty.map(Math.round),
  };
  const line =
    `verify-ha: 5-host platform ${result.platform5_ms} ms (${platformChecks} checks; target < 2000 ms: ${result.platform5_ms < 2000 ? 'met' : 'NOT met'}); ` +
    `with 50 sshd-only hosts added ${result.hosts50_ms} ms (${fiftyChecks} checks), ratio ${result.ratio} (target <= 2): ${ratio <= 2 ? 'met' : 'NOT met'}; ` +
    `with --parallelism 64: ${result.hosts50_parallelism64_ms} ms, ratio ${result.ratio_parallelism64}; ` +
    `OpenSSH sessions alone (ssh HOST true, all at once): 5 hosts ${result.openssh_hosts5_ms} ms, 55 hosts ${result.openssh_hosts55_ms} ms`;
  return { result, line };
}
