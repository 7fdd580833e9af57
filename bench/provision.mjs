// provision on 5 hosts (sshd-only lab hosts x01..x05), beside preflight on the
// same hosts, alternating so load on the machine affects all sides alike.
// Targets (issue 11): plan under 2 s, a no-op apply under 3 s, on a quiet machine.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLab, median, ROUNDS, runCli } from './lib.mjs';

export async function bench() {
  const state = ensureLab(5);
  const extras = state.hosts.filter((h) => /^x\d+$/.test(h.name)).sort((a, b) => a.name.localeCompare(b.name)).slice(0, 5);
  const dir = mkdtempSync(join(tmpdir(), 'lms-ha-bench-'));
  writeFileSync(
    join(dir, 'ha.yml'),
    `version: 1\nenvironments:\n  five:\n    ssh: { user: root }\n    hosts:\n${extras.map((h) => `      - { name: ${h.name}, address: ${h.address}, roles: [web] }`).join('\n')}\n`,
  );
  const cli = (args) => runCli(state, [...args, '-e', 'five', '--json'], { cwd: dir });
  // First apply: /etc/hosts, nftables installed, the table loaded (not measured).
  cli(['provision', '--mode', 'apply']);
  const changes = (r) => JSON.parse(r.run.stdout).changes.length;
  const plan = [];
  const noop = [];
  const preflight = [];
  let noopChanges = 0;
  for (let i = 0; i < ROUNDS; i++) {
    plan.push(cli(['provision']).ms);
    const apply = cli(['provision', '--mode', 'apply']);
    noop.push(apply.ms);
    noopChanges = Math.max(noopChanges, changes(apply));
    preflight.push(cli(['preflight']).ms);
  }
  const result = {
    plan_ms: Math.round(median(plan)),
    noop_apply_ms: Math.round(median(noop)),
    noop_apply_changes: noopChanges,
    preflight_ms: Math.round(median(preflight)),
    target_plan_ms: 2000,
    target_noop_apply_ms: 3000,
    rounds: ROUNDS,
    samples_plan_ms: plan.map(Math.round),
    samples_noop_apply_ms: noop.map(Math.round),
  };
  const line =
    `provision (5 hosts): plan ${result.plan_ms} ms (target < 2000: ${result.plan_ms < 2000 ? 'met' : 'NOT met'}), ` +
    `no-op apply ${result.noop_apply_ms} ms with ${noopChanges} changes (target < 3000: ${result.noop_apply_ms < 3000 && noopChanges === 0 ? 'met' : 'NOT met'}); ` +
    `preflight on the same hosts ${result.preflight_ms} ms`;
  return { result, line };
}
