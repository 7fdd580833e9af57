// npm run bench: speed targets, measured side by side in one run on this
// machine (shared and noisy, so ratios are reported, not absolute limits).
//
// Preflight wall time on 5 and on 20 hosts (sshd-only lab hosts x01..x20),
// alternating so that load on the machine affects both sides alike.
// Target (issue 2): 20 hosts cost at most 1.5 times 5 hosts.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const STATE = '/run/lms-ha-lab/state.json';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function labState() {
  return existsSync(STATE) ? JSON.parse(readFileSync(STATE, 'utf8')) : undefined;
}

let state = labState();
if (!state || state.hosts.filter((h) => /^x\d+$/.test(h.name)).length < 20) {
  console.error('bench: starting the lab with 20 extra sshd-only hosts');
  execFileSync('bash', [join(root, 'test/lab/lab.sh'), 'up', '--extra', '20'], { stdio: 'inherit' });
  state = labState();
}
if (!existsSync(join(root, 'dist/index.js'))) execFileSync('node', [join(root, 'scripts/bundle.mjs')], { stdio: 'inherit' });

const extras = state.hosts.filter((h) => /^x\d+$/.test(h.name)).sort((a, b) => a.name.localeCompare(b.name));
const dir = mkdtempSync(join(tmpdir(), 'lms-ha-bench-'));
const environment = (name, hosts) =>
  `  ${name}:\n    ssh: { user: root }\n    hosts:\n${hosts.map((h) => `      - { name: ${h.name}, address: ${h.address}, roles: [web] }`).join('\n')}\n`;
writeFileSync(join(dir, 'ha.yml'), `version: 1\nenvironments:\n${environment('five', extras.slice(0, 5))}${environment('twenty', extras.slice(0, 20))}`);

function preflight(env) {
  const started = process.hrtime.bigint();
  const run = spawnSync(
    'ip',
    ['netns', 'exec', state.runnerNamespace, process.execPath, join(root, 'dist/index.js'), 'preflight', '-e', env, '--json'],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, LMS_HA_SSH_KEY: state.sshKey, LMS_HA_KNOWN_HOSTS: state.knownHosts } },
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0) throw new Error(`preflight on ${env} failed (${run.status}): ${run.stderr}`);
  return ms;
}

// The same work done by the OpenSSH client (one ssh per host, all at once):
// the lab's hosts share this machine's 2 cores with the runner, so part of
// any growth with host count belongs to the machine, not to lms-ha.
function opensshBaseline(hosts) {
  const script = hosts
    .map((h) => `ssh -i ${state.sshKey} -o UserKnownHostsFile=${state.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes root@${h.address} 'hostname; cat /etc/os-release; df -Pk / /var/lib; id -u; date +%s.%N' >/dev/null &`)
    .join('\n');
  const started = process.hrtime.bigint();
  const run = spawnSync('ip', ['netns', 'exec', state.runnerNamespace, 'bash', '-c', `${script}\nwait`], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssh baseline failed: ${run.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
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
const opensshRatio = median(ssh20) / median(ssh5);
const result = {
  preflight: {
    hosts5_ms: Math.round(median(five)),
    hosts20_ms: Math.round(median(twenty)),
    ratio: Number(ratio.toFixed(2)),
    target_ratio: 1.5,
    rounds: ROUNDS,
    samples5_ms: five.map(Math.round),
    samples20_ms: twenty.map(Math.round),
    openssh_hosts5_ms: Math.round(median(ssh5)),
    openssh_hosts20_ms: Math.round(median(ssh20)),
    openssh_ratio: Number(opensshRatio.toFixed(2)),
  },
};
console.log(JSON.stringify(result, null, 2));
console.log(
  `preflight: 5 hosts ${result.preflight.hosts5_ms} ms, 20 hosts ${result.preflight.hosts20_ms} ms, ratio ${result.preflight.ratio} (target <= 1.5): ${ratio <= 1.5 ? 'met' : 'NOT met'}; ` +
    `OpenSSH doing the same reads: ${result.preflight.openssh_hosts5_ms} ms / ${result.preflight.openssh_hosts20_ms} ms, ratio ${result.preflight.openssh_ratio}`,
);
