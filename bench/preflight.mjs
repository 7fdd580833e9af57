// Preflight wall time on 5 and on 20 hosts (sshd-only lab hosts x01..x20),
// alternating so that load on the machine affects both sides alike.
// Target (issue 2): 20 hosts cost at most 1.5 times 5 hosts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLab, median, ROUNDS, runCli } from './lib.mjs';

export async function bench() {
  const state = ensureLab(20);
  const extras = state.hosts.filter((h) => /^x\d+$/.test(h.name)).sort((a, b) => a.name.localeCompare(b.name));
  const dir = mkdtempSync(join(tmpdir(), 'lms-ha-bench-'));
  const environment = (name, hosts) =>
    `  ${name}:\n    ssh: { user: root }\n    hosts:\n${hosts.map((h) => `      - { name: ${h.name}, address: ${h.address}, roles: [web] }`).join('\n')}\n`;
  writeFileSync(join(dir, 'ha.yml'), `version: 1\nenvironments:\n${environment('five', extras.slice(0, 5))}${environment('twenty', extras.slice(0, 20))}`);
  const preflight = (env) => runCli(state, ['preflight', '-e', env, '--json'], { cwd: dir }).ms;

  // The same work done by the OpenSSH client (one ssh per host, all at once):
  // the lab's hosts share this machine's 2 cores with the runner, so part of
  // any growth with host count belongs to the machine, not to lms-ha.
  const opensshBaseline = (hosts) => {
    const script = hosts
      .map((h) => `ssh -i ${state.sshKey} -o UserKnownHostsFile=${state.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes root@${h.address} 'hostname; cat /etc/os-release; df -Pk / /var/lib; id -u; date +%s.%N' >/dev/null &`)
      .join('\n');
    const started = process.hrtime.bigint();
    const run = spawnSync('ip', ['netns', 'exec', state.runnerNamespace, 'bash', '-c', `${script}\nwait`], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`openssh baseline failed: ${run.stderr}`);
    return Number(process.hrtime.bigint() - started) / 1e6;
  };

  preflight('five'); // warm the page cache and the hosts' sshd
  const five = [];
  const twenty = [];
  const ssh5 = [];
  const ssh20 = [];
  for (let i = 0; i < ROUNDS; i++) {
    five.push(preflight('five'));
    twenty.push(preflight('twenty'));
    ssh5.push(opensshBaseline(extras.slice(0, 5)));
    ssh20.push(opensshBaseline(extras.slice(0, 20)));
  }
  const ratio = median(twenty) / median(five);
  const result = {
    hosts5_ms: Math.round(median(five)),
    hosts20_ms: Math.round(median(twenty)),
    ratio: Number(ratio.toFixed(2)),
    target_ratio: 1.5,
    rounds: ROUNDS,
    samples5_ms: five.map(Math.round),
    samples20_ms: twenty.map(Math.round),
    openssh_hosts5_ms: Math.round(median(ssh5)),
    openssh_hosts20_ms: Math.round(median(ssh20)),
    openssh_ratio: Number((median(ssh20) / median(ssh5)).toFixed(2)),
  };
  const line =
    `preflight: 5 hosts ${result.hosts5_ms} ms, 20 hosts ${result.hosts20_ms} ms, ratio ${result.ratio} (target <= 1.5): ${ratio <= 1.5 ? 'met' : 'NOT met'}; ` +
    `OpenSSH doing the same reads: ${result.openssh_hosts5_ms} ms / ${result.openssh_hosts20_ms} ms, ratio ${result.openssh_ratio}`;
  return { result, line };
}
