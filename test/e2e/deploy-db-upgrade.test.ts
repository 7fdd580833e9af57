import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labExec, readLabState, REPO_ROOT, runAction, tempDir, type ActionRun, type LabState } from './lab.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';
import { expectClusterFormed, wsrep } from './galera.js';

// deploy-db e2e: `database.package_version` for real. The lab's
// package repository holds two MariaDB 10.11 releases (bookworm's and the
// newer one from bookworm-security, see test/lab/lab.sh), so a pin to the
// older one has to win over the newer candidate on bare hosts, and moving the
// pin to the newer one is a rolling upgrade: one node at a time, the writer
// (db1) last, the data kept. Fresh lab hosts, so it needs the lab to itself.

const DB_HOSTS = ['db1', 'db2', 'db3'];
const CANARY = `canary-${randomBytes(6).toString('hex')}`;
/** Every binary package built from MariaDB's source that a db node has. */
const MARIADB_BINARIES = ['mariadb-server', 'mariadb-server-core', 'mariadb-client', 'mariadb-client-core', 'mariadb-backup', 'mariadb-common', 'libmariadb3'];

let state: LabState;
let workspace: string;
let versions: { older: string; newer: string } | null = null;
const runs: ActionRun[] = [];

function log(run: ActionRun): string {
  return run.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
}

async function deployDb(mode: 'plan' | 'apply', pin: string, extraInputs: Record<string, string> = {}): Promise<ActionRun> {
  writeLabInventory(state, workspace, `${labDbEnvironment(state)}      package_version: "${pin}"\n`);
  const run = await runAction(
    state,
    {
      command: 'deploy-db',
      mode,
      inventory: 'ha.yml',
      environment: 'lab-db',
      'ssh-private-key': readFileSync(state.sshKey, 'utf8'),
      'known-hosts': readFileSync(state.knownHosts, 'utf8'),
      parallelism: '10',
      ...extraInputs,
    },
    { workspace, env: { LAB_APP_DB_PASSWORD: CANARY } },
  );
  runs.push(run);
  return run;
}

/** Installed version of each MariaDB binary package on a host. */
function mariadbVersions(host: string): Record<string, string> {
  const out = labExec(host, `dpkg-query -W -f='\${Package}\\t\${Version}\\n' ${MARIADB_BINARIES.join(' ')} 2>/dev/null || true`).stdout;
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
}

/** When mariadb last entered "active" on a host (monotonic µs; the hosts share one clock). */
function startedAt(host: string): number {
  return Number(labExec(host, 'systemctl show mariadb -p ActiveEnterTimestampMonotonic --value').stdout.trim());
}

beforeAll(() => {
  execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up'], { stdio: 'ignore', timeout: 600_000 });
  state = readLabState();
  workspace = tempDir('deploy-db-upgrade');
  // Newest first, as apt-cache madison lists them.
  const listed = labExec('db1', 'apt-get update -q >/dev/null 2>&1; apt-cache madison mariadb-server | cut -d"|" -f2 | tr -d " "').stdout.trim().split('\n').filter(Boolean);
  if (listed.length >= 2) versions = { newer: listed[0]!, older: listed[listed.length - 1]! };
  else console.log(`skipped: the lab repository has one MariaDB version only (${listed.join(', ') || 'none'}); the upgrade tests need two`);
});

describe('deploy-db: version pin and rolling upgrade', () => {
  it('installs the pinned older release on bare hosts although a newer one is in the sources, all of MariaDB at that version', async (ctx) => {
    if (!versions) return ctx.skip();
    const { older } = versions;
    const run = await deployDb('apply', older);
    expect(run.code, log(run).slice(-3000)).toBe(0);
    expect(run.stderr).not.toContain('    at ');
    for (const host of DB_HOSTS) {
      const installed = mariadbVersions(host);
      // Not only the two named packages: their siblings from the same source
      // must match, or mariadb-server's exact dependencies would not hold.
      for (const pkg of MARIADB_BINARIES) expect(`${host} ${pkg} ${installed[pkg]}`).toBe(`${host} ${pkg} ${older}`);
    }
    expectClusterFormed(DB_HOSTS, 3);
    // An unattended `apt-get upgrade` must not move a pinned node either.
    expect(labExec('db2', 'apt-get -s upgrade 2>/dev/null | grep -c "^Inst mariadb" || true').stdout.trim()).toBe('0');
    const again = await deployDb('apply', older);
    expect(again.outputs.changed, log(again).slice(-2000)).toBe('false');
  });

  it('a newer pin is a reviewed rolling upgrade: db2, db3, then the writer db1, one at a time, every row kept', async (ctx) => {
    if (!versions) return ctx.skip();
    const { older, newer } = versions;
    labExec('db1', `mariadb -e "CREATE DATABASE IF NOT EXISTS upgrade_probe; USE upgrade_probe; CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t SELECT seq, 'row' FROM seq_1_to_500"`);

    const plan = await deployDb('plan', newer);
    expect(plan.code, log(plan).slice(-3000)).toBe(0);
    const changes: { summary: string; host: string; kind: string }[] = JSON.parse(plan.outputs.result!).changes;
    const upgrades = changes.filter((c) => c.kind === 'package' && c.summary.startsWith('upgrade mariadb-server '));
    expect(upgrades.map((c) => c.host)).toEqual(['db2', 'db3', 'db1']);
    expect(upgrades[0]!.summary).toContain(`${older} -> ${newer}`);
    // Plan mode changed nothing.
    for (const host of DB_HOSTS) expect(mariadbVersions(host)['mariadb-server']).toBe(older);

    const before = Object.fromEntries(DB_HOSTS.map((h) => [h, startedAt(h)]));
    const run = await deployDb('apply', newer, { 'plan-hash': plan.outputs['plan-hash']! });
    expect(run.code, log(run).slice(-3000)).toBe(0);
    const after = Object.fromEntries(DB_HOSTS.map((h) => [h, startedAt(h)]));
    for (const host of DB_HOSTS) {
      expect(after[host]).toBeGreaterThan(before[host]!);
      const installed = mariadbVersions(host);
      for (const pkg of MARIADB_BINARIES) expect(`${host} ${pkg} ${installed[pkg]}`).toBe(`${host} ${pkg} ${newer}`);
      expect(wsrep(host).wsrep_local_state_comment).toBe('Synced');
      expect(labExec(host, 'mariadb -N -B -e "SELECT COUNT(*) FROM upgrade_probe.t"').stdout.trim()).toBe('500');
    }
    // One at a time, in the planned order (the writer last).
    expect(after.db2!).toBeLessThan(after.db3!);
    expect(after.db3!).toBeLessThan(after.db1!);
    expectClusterFormed(DB_HOSTS, 3);
    const again = await deployDb('apply', newer);
    expect(again.outputs.changed, log(again).slice(-2000)).toBe('false');
    for (const r of runs) {
      expect(log(r)).not.toContain(CANARY);
      expect(r.summary).not.toContain(CANARY);
    }
  });
});
