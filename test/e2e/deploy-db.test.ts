import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labExec, readLabState, REPO_ROOT, runAction, tempDir, type ActionRun, type LabState } from './lab.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';
import { expectClusterFormed, wsrep } from './galera.js';

// deploy-db e2e: bare Debian hosts to a Synced 3-node MariaDB Galera
// cluster, run exactly as the Actions runner runs the bundle. The suite starts
// from freshly re-created lab hosts, so it needs the lab to itself.

const DB_HOSTS = ['db1', 'db2', 'db3'];
const CANARY = `canary-${randomBytes(6).toString('hex')}`;

let state: LabState;
let workspace: string;
let key: string;
let knownHosts: string;
const runs: ActionRun[] = [];
let barePlanHash = '';

async function deployDb(mode: 'plan' | 'apply', env: Record<string, string> = {}, extraInputs: Record<string, string> = {}): Promise<ActionRun> {
  const run = await runAction(
    state,
    {
      command: 'deploy-db',
      mode,
      inventory: 'ha.yml',
      environment: 'lab-db',
      'ssh-private-key': key,
      'known-hosts': knownHosts,
      parallelism: '10',
      ...extraInputs,
    },
    { workspace, env: { LAB_APP_DB_PASSWORD: CANARY, ...env } },
  );
  runs.push(run);
  return run;
}

function installed(host: string, pkg: string): boolean {
  const r = labExec(host, `dpkg-query -W -f='\${Status}' ${pkg} 2>/dev/null`, { allowFailure: true });
  return r.code === 0 && r.stdout.includes('ok installed');
}

function log(run: ActionRun): string {
  return run.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
}

beforeAll(() => {
  // Bare hosts: the lab is re-created (about 10 s), with two sshd-only hosts
  // (x01, x02) that the growth test turns into db nodes 4 and 5 (an even
  // number of db nodes without an arbitrator is refused by the inventory).
  execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up', '--extra', '2'], { stdio: 'ignore', timeout: 600_000 });
  state = readLabState();
  workspace = tempDir('deploy-db');
  writeLabInventory(state, workspace, labDbEnvironment(state));
  key = readFileSync(state.sshKey, 'utf8');
  knownHosts = readFileSync(state.knownHosts, 'utf8');
});

// A client of the cluster during a rolling change, run on db1 (its mariadb
// restarts; the host and this loop do not): one INSERT per id, tried on the
// nodes in turn as a load balancer would; an id is acknowledged when the
// client says so. A monitor samples every node's state about 10 times a second.
const PROBE_PASSWORD = 'probe-not-a-secret';
function startWriteProbe(): void {
  const addresses = DB_HOSTS.map((h) => state.hosts.find((x) => x.name === h)!.address).join(' ');
  labExec(
    'db1',
    `mariadb -e "CREATE DATABASE IF NOT EXISTS rolling_probe; CREATE TABLE IF NOT EXISTS rolling_probe.acked (id INT PRIMARY KEY) ENGINE=InnoDB; ` +
      `DELETE FROM rolling_probe.acked; CREATE USER IF NOT EXISTS 'probe'@'10.231.0.%' IDENTIFIED BY '${PROBE_PASSWORD}'; GRANT INSERT, SELECT ON rolling_probe.* TO 'probe'@'10.231.0.%'"`,
  );
  const probe = `export MYSQL_PWD=${PROBE_PASSWORD}
i=0
while [ ! -e /tmp/probe.stop ]; do
  i=$((i+1))
  for a in ${addresses}; do
    if mariadb -h $a -u probe --connect-timeout=2 -N -B -e "INSERT INTO rolling_probe.acked (id) VALUES ($i)" >/dev/null 2>&1; then echo $i >> /tmp/probe.acked; continue 2; fi
  done
  echo $i >> /tmp/probe.failed
done
touch /tmp/probe.done
`;
  const monitor = `export MYSQL_PWD=${PROBE_PASSWORD}
while [ ! -e /tmp/probe.stop ]; do
  # The three nodes are read at once, not one after another: a sequential
  # sweep could see a node still Joined and, up to a second later, the next
  # one already stopped, which never were at the same time.
  i=0
  for a in ${addresses}; do
    i=$((i+1))
    ( s=$(mariadb -h $a -u probe --connect-timeout=1 -N -B -e "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | cut -f2 | tr ' ' '_'); echo "\${s:-down}" > /tmp/monitor.s$i ) &
  done
  wait
  line=""
  for j in $(seq $i); do line="$line $(cat /tmp/monitor.s$j)"; done
  echo "$line" >> /tmp/monitor.log
  sleep 0.1
done
touch /tmp/monitor.done
`;
  labExec('db1', 'rm -f /tmp/probe.* /tmp/monitor.*; cat > /tmp/probe.sh', { input: probe });
  labExec('db1', 'cat > /tmp/monitor.sh', { input: monitor });
  labExec('db1', 'setsid sh /tmp/probe.sh </dev/null >/dev/null 2>&1 & setsid sh /tmp/monitor.sh </dev/null >/dev/null 2>&1 &');
}

function stopWriteProbe(): void {
  labExec('db1', 'touch /tmp/probe.stop; for i in $(seq 100); do [ -e /tmp/probe.done ] && [ -e /tmp/monitor.done ] && exit 0; sleep 0.1; done; exit 1');
}

/** Every acknowledged id is a row; with `eachNodeDown`, the monitor saw each db1..db3 go down, never two at once. */
function checkWriteProbe(options: { eachNodeDown: boolean } = { eachNodeDown: true }): void {
  const ids = (text: string) => text.split('\n').filter((l) => l !== '').map(Number);
  const acked = ids(labExec('db1', 'cat /tmp/probe.acked').stdout);
  const failed = ids(labExec('db1', 'cat /tmp/probe.failed 2>/dev/null || true').stdout);
  const rows = new Set(ids(labExec('db1', 'mariadb -N -B -e "SET SESSION wsrep_sync_wait=1; SELECT id FROM rolling_probe.acked"').stdout));
  // None lost; a row never acknowledged can only be a commit whose answer was cut off.
  expect(acked.length).toBeGreaterThan(20);
  expect(acked.filter((id) => !rows.has(id))).toEqual([]);
  const unacknowledged = [...rows].filter((id) => !acked.includes(id));
  expect(unacknowledged.every((id) => failed.includes(id))).toBe(true);
  console.log(`write probe through the ${options.eachNodeDown ? 'rolling restart' : 'removal'}: ${acked.length} acknowledged, ${rows.size} rows, ${failed.length} attempts failed on every node`);
  if (!options.eachNodeDown) return;

  const samples = labExec('db1', 'cat /tmp/monitor.log').stdout.trim().split('\n').map((l) => l.trim().split(' '));
  const up = (s: string) => s === 'Synced' || s === 'Donor/Desynced';
  expect(samples.length).toBeGreaterThan(20);
  const twoDown = samples.filter((states) => states.filter((s) => !up(s)).length >= 2);
  expect(twoDown).toEqual([]);
  // The monitor did see each node go down once: it would have seen two at once.
  DB_HOSTS.forEach((_h, i) => expect(samples.some((states) => !up(states[i]!))).toBe(true));
}

describe('deploy-db', () => {
  it('plans on bare hosts: packages, config, bootstrap and joins, and leaves the hosts bare', async () => {
    const run = await deployDb('plan');
    expect(run.stderr).not.toContain('    at ');
    expect(run.outputs['failure-reason']).toBe('');
    expect(run.code).toBe(0);
    expect(run.outputs.changed).toBe('true');
    const result = JSON.parse(run.outputs.result);
    const kinds = new Set(result.changes.map((c: { kind: string }) => c.kind));
    for (const kind of ['package', 'service', 'file', 'cluster', 'sql']) expect(kinds).toContain(kind);
    const summaries: string[] = result.changes.map((c: { summary: string }) => c.summary);
    expect(summaries.filter((s) => s.startsWith('bootstrap'))).toHaveLength(1);
    expect(summaries.filter((s) => s.startsWith('join'))).toHaveLength(2);
    expect(run.summary).toContain('wsrep_cluster_address = gcomm://');
    expect(run.outputs['plan-hash']).toMatch(/^[0-9a-f]{64}$/);
    barePlanHash = run.outputs['plan-hash'];
    for (const host of DB_HOSTS) {
      expect(installed(host, 'mariadb-server')).toBe(false);
      expect(installed(host, 'galera-4')).toBe(false);
      expect(labExec(host, 'test -e /etc/mysql/mariadb.conf.d/60-galera.cnf', { allowFailure: true }).code).not.toBe(0);
    }
  });

  it('applies the reviewed plan: bare hosts to a Synced 3-node cluster with the app database and user', async () => {
    // Apply proves it runs what was reviewed: the bare-host plan's hash.
    const run = await deployDb('apply', {}, { 'plan-hash': barePlanHash });
    expect(run.stderr).not.toContain('    at ');
    expect(run.outputs['failure-reason']).toBe('');
    expect(run.code).toBe(0);
    expect(run.outputs.changed).toBe('true');
    expect(run.outputs['plan-hash']).toBe(barePlanHash);
    console.log(`cold deploy-db (3 bare hosts to Synced): ${(run.durationMs / 1000).toFixed(1)} s`);

    expectClusterFormed(DB_HOSTS, 3);

    // Replicated to every node, and the app user logs in over TCP from another host.
    for (const host of DB_HOSTS) {
      expect(labExec(host, `mariadb -N -B -e "SHOW DATABASES LIKE 'moodle'"`).stdout.trim()).toBe('moodle');
    }
    const db1 = state.hosts.find((h) => h.name === 'db1')!.address;
    const login = labExec('db2', `mariadb -h ${db1} -u moodle -N -B -e "SELECT 1"`, { allowFailure: true });
    // The password goes through the client's environment (read from stdin), not its command line.
    const viaEnv = labExec('db2', `MYSQL_PWD="$(cat)" mariadb -h ${db1} -u moodle -N -B -e "SELECT CURRENT_USER(); SELECT 'ok'"`, {
      input: CANARY,
    });
    expect(login.code).not.toBe(0); // no password: refused
    expect(viaEnv.stdout).toContain("moodle@10.231.0.%");
    expect(viaEnv.stdout).toContain('ok');

    // verify-ha's causality probe: the app user may REPLACE into and read the probe table.
    const token = randomBytes(6).toString('hex');
    const probe = labExec(
      'db2',
      `MYSQL_PWD="$(cat)" mariadb -h ${db1} -u moodle -N -B -e "REPLACE INTO lms_ha.causality_probe (id, token) VALUES ('e2e', '${token}'); SELECT token FROM lms_ha.causality_probe WHERE id = 'e2e'"`,
      { input: CANARY },
    );
    expect(probe.stdout.trim()).toBe(token);
  });

  it('a second apply reports zero changes, fast; plan on the converged cluster has no changes', async () => {
    const again = await deployDb('apply');
    expect(again.outputs['failure-reason']).toBe('');
    expect(again.outputs.changed).toBe('false');
    expect(JSON.parse(again.outputs.result).changes).toHaveLength(0);
    console.log(`no-op re-apply on 3 hosts: ${(again.durationMs / 1000).toFixed(1)} s`);

    const plan = await deployDb('plan');
    expect(plan.outputs['failure-reason']).toBe('');
    expect(plan.outputs.changed).toBe('false');
    expect(JSON.parse(plan.outputs.result).changes).toHaveLength(0);

    // A stale reviewed plan (the bare-host one) is refused, and nothing is done.
    const stale = await deployDb('apply', {}, { 'plan-hash': barePlanHash });
    expect(stale.outputs['failure-reason']).toBe('plan-changed');
    expect(stale.outputs.changed).toBe('false');
  });

  it('a changed password shows as "password changed" only', async () => {
    const other = `canary-${randomBytes(6).toString('hex')}`;
    const plan = await deployDb('plan', { LAB_APP_DB_PASSWORD: other });
    expect(plan.outputs.changed).toBe('true');
    const result = JSON.parse(plan.outputs.result);
    expect(result.changes.map((c: { summary: string }) => c.summary)).toEqual(["password changed for 'moodle'@'10.231.0.%'"]);
    expect(log(plan) + plan.stderr + plan.summary + JSON.stringify(plan.outputs)).not.toContain(other);
  });

  it('never shows the secret, and leaves it in no file readable by others', () => {
    for (const run of runs) {
      expect(log(run) + run.stderr + run.summary + JSON.stringify(run.outputs)).not.toContain(CANARY);
    }
    for (const host of DB_HOSTS) {
      const inEtc = labExec(host, `grep -rl -F '${CANARY}' /etc /root /tmp /var/log /var/tmp 2>/dev/null || true`).stdout.trim();
      expect(inEtc).toBe('');
      const worldReadable = labExec(
        host,
        `find / -xdev -type f -perm -o=r \\( -path /proc -o -path /sys \\) -prune -o -type f -perm -o=r -size -20M -print0 2>/dev/null | xargs -0 grep -l -F '${CANARY}' 2>/dev/null || true`,
      ).stdout.trim();
      expect(worldReadable).toBe('');
    }
  });

  it('refuses to change a cluster with a stopped node, names it and says what to run', async () => {
    labExec('db3', 'systemctl stop mariadb');
    try {
      const run = await deployDb('apply');
      expect(run.code).not.toBe(0);
      expect(run.outputs['failure-reason']).toBe('cluster-unhealthy');
      const text = log(run) + run.stderr;
      expect(text).toContain('db3');
      expect(text).toMatch(/systemctl start mariadb/);
      expect(run.summary).toContain('db3');
      // Nothing was changed.
      expect(run.outputs.changed).toBe('false');
    } finally {
      labExec('db3', 'systemctl start mariadb');
    }
    const s = wsrep('db3');
    expect(s.wsrep_local_state_comment).toBe('Synced');
  });

  it('names tables Galera cannot replicate safely, as plan warnings', async () => {
    labExec('db1', 'mariadb -e "CREATE TABLE moodle.nopk (a INT) ENGINE=InnoDB"');
    const plan = await deployDb('plan');
    expect(plan.outputs.changed).toBe('false');
    expect(plan.summary).toContain('`moodle`.`nopk`');
    expect(plan.summary).toContain('no primary key');
    expect(log(plan)).toContain('nopk');
    labExec('db1', 'mariadb -e "DROP TABLE moodle.nopk"');
  });

  it('applies a dynamic setting live with SET GLOBAL on every node, without a restart', async () => {
    const uptime = () => DB_HOSTS.map((h) => Number(labExec(h, `mariadb -N -B -e "SHOW STATUS LIKE 'Uptime'"`).stdout.split('\t')[1]));
    const before = uptime();
    writeLabInventory(state, workspace, labDbEnvironment(state).replace('max_connections: 200', 'max_connections: 300'));
    const run = await deployDb('apply');
    expect(run.outputs['failure-reason']).toBe('');
    const steps: { summary: string }[] = JSON.parse(run.outputs.result).changes;
    expect(steps.filter((c) => c.summary.startsWith('SET GLOBAL max_connections = 300'))).toHaveLength(3);
    expect(steps.some((c) => c.summary.startsWith('restart'))).toBe(false);
    for (const host of DB_HOSTS) expect(labExec(host, 'mariadb -N -B -e "SELECT @@max_connections"').stdout.trim()).toBe('300');
    const after = uptime();
    after.forEach((u, i) => expect(u).toBeGreaterThanOrEqual(before[i]!));
  });

  it('applies a static setting by a rolling restart, one node at a time, writer last, losing no acknowledged write', async () => {
    writeLabInventory(
      state,
      workspace,
      labDbEnvironment(state).replace('max_connections: 200', 'max_connections: 300').replace('gcache_size: 64M', 'gcache_size: 96M'),
    );
    startWriteProbe();
    let run: ActionRun;
    try {
      run = await deployDb('apply');
    } finally {
      stopWriteProbe();
    }
    expect(run.outputs['failure-reason']).toBe('');
    checkWriteProbe();
    const changes: { summary: string; host: string; kind: string }[] = JSON.parse(run.outputs.result).changes;
    const restarts = changes.filter((c) => c.kind === 'cluster');
    expect(restarts.map((c) => c.host)).toEqual(['db2', 'db3', 'db1']);
    for (const host of DB_HOSTS) {
      const s = wsrep(host);
      expect(s.wsrep_local_state_comment).toBe('Synced');
      expect(s.wsrep_cluster_size).toBe('3');
      expect(labExec(host, `mariadb -N -B -e "SELECT @@wsrep_provider_options"`).stdout).toContain('gcache.size = 96M');
    }
    const again = await deployDb('apply');
    expect(again.outputs.changed).toBe('false');
  });

  it('pins the package version: plan shows it; another version is a reviewed rolling upgrade that fails before stopping anything when the sources lack it', async () => {
    const settled = labDbEnvironment(state).replace('max_connections: 200', 'max_connections: 300').replace('gcache_size: 64M', 'gcache_size: 96M');
    const installedVersion = labExec('db1', "dpkg-query -W -f='${Version}' mariadb-server").stdout.trim();
    writeLabInventory(state, workspace, `${settled}      package_version: "${installedVersion}"\n`);
    // The pin equal to what runs: only the apt pin file on each node, no package, no restart.
    const pinOnly = await deployDb('plan');
    expect(pinOnly.outputs['failure-reason']).toBe('');
    const pinChanges: { summary: string; host: string; kind: string }[] = JSON.parse(pinOnly.outputs.result).changes;
    expect(pinChanges.map((c) => `${c.host} ${c.kind} ${c.summary.split(' (')[0]}`)).toEqual(DB_HOSTS.map((h) => `${h} file write /etc/apt/preferences.d/lms-ha-mariadb.pref`));
    expect((await deployDb('apply', {}, { 'plan-hash': pinOnly.outputs['plan-hash'] })).outputs['failure-reason']).toBe('');
    const same = await deployDb('plan');
    expect(same.outputs['failure-reason']).toBe('');
    expect(same.outputs.changed).toBe('false');
    expect(log(same)).toContain(`pinned to ${installedVersion}; installed: db1 ${installedVersion}`);

    const missing = '1:10.11.99-0+deb12u1';
    writeLabInventory(state, workspace, `${settled}      package_version: "${missing}"\n`);
    const plan = await deployDb('plan');
    expect(plan.outputs['failure-reason']).toBe('');
    const changes: { summary: string; host: string; kind: string }[] = JSON.parse(plan.outputs.result).changes;
    const upgrades = changes.filter((c) => c.kind === 'package' && c.summary.startsWith('upgrade mariadb-server'));
    expect(upgrades.map((c) => c.host)).toEqual(['db2', 'db3', 'db1']);
    expect(upgrades[0]!.summary).toContain(`${installedVersion} -> ${missing}`);
    const uptime = () => DB_HOSTS.map((h) => Number(labExec(h, `mariadb -N -B -e "SHOW STATUS LIKE 'Uptime'"`).stdout.split('\t')[1]));
    const before = uptime();
    const run = await deployDb('apply', {}, { 'plan-hash': plan.outputs['plan-hash'] });
    expect(run.stderr).not.toContain('    at ');
    expect(run.outputs['failure-reason']).toBe('command-failed');
    expect(log(run) + run.stderr).toContain(`db2: mariadb-server ${missing} is not in the package sources`);
    // Nothing was stopped.
    uptime().forEach((u, i) => expect(u).toBeGreaterThanOrEqual(before[i]!));
    for (const host of DB_HOSTS) expect(wsrep(host).wsrep_local_state_comment).toBe('Synced');
    // db2's pin was not moved to the missing version: its check comes first.
    expect(labExec('db2', 'cat /etc/apt/preferences.d/lms-ha-mariadb.pref').stdout).toContain(`Pin: version ${installedVersion}`);
    writeLabInventory(state, workspace, settled);
    // Unpinned again: the pin files go, the packages stay.
    const unpin = await deployDb('apply');
    expect(unpin.outputs['failure-reason']).toBe('');
    for (const host of DB_HOSTS) expect(labExec(host, 'test -e /etc/apt/preferences.d/lms-ha-mariadb.pref', { allowFailure: true }).code).toBe(1);
  });

  it('grows the cluster: two new db hosts join by SST one at a time, the others only get the new cluster address, no restart', async (ctx) => {
    const NEW = ['x01', 'x02'];
    const added = NEW.map((n) => state.hosts.find((h) => h.name === n));
    if (added.some((h) => h === undefined)) return ctx.skip();
    const uptime = () => DB_HOSTS.map((h) => Number(labExec(h, `mariadb -N -B -e "SHOW STATUS LIKE 'Uptime'"`).stdout.split('\t')[1]));
    const before = uptime();
    const env = labDbEnvironment(state)
      .replace('max_connections: 200', 'max_connections: 300')
      .replace('gcache_size: 64M', 'gcache_size: 96M')
      .replace(/(      - \{ name: db3, [^\n]*\n)/, `$1${added.map((h) => `      - { name: ${h!.name}, address: ${h!.address}, roles: [db] }\n`).join('')}`);
    writeLabInventory(state, workspace, env);
    const run = await deployDb('apply');
    expect(run.stderr).not.toContain('    at ');
    expect(run.outputs['failure-reason']).toBe('');
    console.log(`grow from 3 to 5 nodes (install + SST of x01, x02): ${(run.durationMs / 1000).toFixed(1)} s`);
    const changes: { summary: string; host: string; kind: string }[] = JSON.parse(run.outputs.result).changes;
    for (const host of DB_HOSTS) {
      // The old members: only the option file (wsrep_cluster_address), which needs no restart.
      expect(changes.filter((c) => c.host === host).map((c) => c.kind)).toEqual(['file']);
    }
    expect(changes.filter((c) => c.kind === 'cluster').map((c) => [c.host, c.summary.split(' ')[0]])).toEqual([
      ['x01', 'join'],
      ['x02', 'join'],
    ]);
    const after = uptime();
    after.forEach((u, i) => expect(u).toBeGreaterThanOrEqual(before[i]!));
    expectClusterFormed([...DB_HOSTS, ...NEW], 5);
    for (const host of NEW) expect(labExec(host, `mariadb -N -B -e "SHOW DATABASES LIKE 'moodle'"`).stdout.trim()).toBe('moodle');
    const again = await deployDb('apply');
    expect(again.outputs.changed).toBe('false');
  });

  it('removes nodes only when listed: unlisted members are named and apply refuses; listed ones leave cleanly, 5 -> 3, nothing lost', async (ctx) => {
    const NEW = ['x01', 'x02'];
    const added = NEW.map((n) => state.hosts.find((h) => h.name === n));
    if (added.some((h) => h === undefined) || wsrep('db1').wsrep_cluster_size !== '5') return ctx.skip();
    const settled = labDbEnvironment(state).replace('max_connections: 200', 'max_connections: 300').replace('gcache_size: 64M', 'gcache_size: 96M');

    // x01 and x02 dropped from the inventory: named, and apply refuses, touching nothing.
    writeLabInventory(state, workspace, settled);
    const silent = await deployDb('plan');
    expect(silent.outputs['failure-reason']).toBe('');
    console.log(log(silent).split('\n').filter((l) => l.includes('not in the inventory')).join('\n'));
    // With its address when the members table pairs them, else by name.
    for (const h of added) expect(log(silent)).toMatch(new RegExp(`${h!.name}( \\(${h!.address.replace(/\./g, '\\.')}\\))? is in the cluster but not in the inventory`));
    const refused = await deployDb('apply');
    expect(refused.stderr).not.toContain('    at ');
    expect(refused.outputs['failure-reason']).toBe('invalid-inventory');
    expect(refused.outputs.changed).toBe('false');
    expect(log(refused) + refused.stderr).toContain('database.remove_nodes');
    expect(wsrep('db1').wsrep_cluster_size).toBe('5');

    // Listed for removal, their host entries kept without the db role: a reviewed plan.
    const removing = settled.replace(
      /(      - \{ name: db3, [^\n]*\n)/,
      `$1${added.map((h) => `      - { name: ${h!.name}, address: ${h!.address}, roles: [] }\n`).join('')}`,
    ) + '      remove_nodes: [x01, x02]\n';
    writeLabInventory(state, workspace, removing);
    const plan = await deployDb('plan');
    expect(plan.outputs['failure-reason']).toBe('');
    const planned: { summary: string; host: string; kind: string }[] = JSON.parse(plan.outputs.result).changes;
    console.log(planned.map((c) => `${c.host}: ${c.summary}`).join('\n'));
    expect(planned.filter((c) => c.kind === 'cluster').map((c) => [c.host, c.summary.replace(/.*size /, '')])).toEqual([
      ['x01', '4'],
      ['x02', '3'],
    ]);
    for (const host of DB_HOSTS) {
      expect(planned.filter((c) => c.host === host).map((c) => c.summary)).toEqual([
        expect.stringContaining('wsrep_cluster_address: read only when mariadb starts, so no restart'),
      ]);
    }
    expect(NEW.every((n) => labExec(n, 'systemctl is-active mariadb', { allowFailure: true }).stdout.trim() === 'active')).toBe(true);

    const uptime = () => DB_HOSTS.map((h) => Number(labExec(h, `mariadb -N -B -e "SHOW STATUS LIKE 'Uptime'"`).stdout.split('\t')[1]));
    const before = uptime();
    startWriteProbe();
    let run: ActionRun;
    try {
      run = await deployDb('apply', {}, { 'plan-hash': plan.outputs['plan-hash'] });
    } finally {
      stopWriteProbe();
    }
    expect(run.stderr).not.toContain('    at ');
    expect(run.outputs['failure-reason']).toBe('');
    expect(run.outputs['plan-hash']).toBe(plan.outputs['plan-hash']);
    console.log(`remove 2 of 5 nodes (x01, x02 leave one at a time): ${(run.durationMs / 1000).toFixed(1)} s`);
    checkWriteProbe({ eachNodeDown: false });
    expectClusterFormed(DB_HOSTS, 3);
    uptime().forEach((u, i) => expect(u).toBeGreaterThanOrEqual(before[i]!));
    for (const host of DB_HOSTS) {
      expect(labExec(host, 'grep wsrep_cluster_address /etc/mysql/mariadb.conf.d/60-galera.cnf').stdout).not.toMatch(/10\.231\.0\.10[12]/);
    }
    for (const host of NEW) {
      expect(labExec(host, 'systemctl is-active mariadb', { allowFailure: true }).stdout.trim()).toBe('inactive');
      expect(labExec(host, 'systemctl is-enabled mariadb', { allowFailure: true }).stdout.trim()).toBe('disabled');
    }

    const again = await deployDb('apply');
    expect(again.outputs['failure-reason']).toBe('');
    expect(again.outputs.changed).toBe('false');
    expect(log(again)).toContain('x01: already out of the cluster (mariadb stopped and disabled)');

    // A listed host that cannot be reached any more: preflight does not stop the run, and
    // since the remaining members do not list it, it is treated as gone.
    labExec('x02', 'systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh');
    try {
      const unreachable = await deployDb('apply');
      expect(unreachable.stderr).not.toContain('    at ');
      expect(unreachable.outputs['failure-reason']).toBe('');
      expect(unreachable.outputs.changed).toBe('false');
      expect(log(unreachable)).toMatch(/x02 \(10\.231\.0\.\d+\) cannot be reached and the remaining members do not list it \(cluster size 3\): treated as already gone/);
    } finally {
      labExec('x02', 'systemctl start ssh');
    }

    // verify-ha (the Galera checks: this environment has no load balancers) agrees with the new size.
    // No FLUSH STATUS first: the write probe's burst is still in the averages
    // since start, and verify-ha must judge the cluster as it is now.
    const verify = await runAction(
      state,
      { command: 'verify-ha', mode: 'plan', inventory: 'ha.yml', environment: 'lab-db', 'ssh-private-key': key, 'known-hosts': knownHosts },
      { workspace, env: { LAB_APP_DB_PASSWORD: CANARY } },
    );
    runs.push(verify);
    expect(verify.stderr).not.toContain('    at ');
    const checks: { check: string; status: string; observed: string }[] = JSON.parse(verify.outputs.result).checks;
    expect(checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(checks.find((c) => c.check === 'cluster size')).toMatchObject({ status: 'ok' });
    writeLabInventory(state, workspace, settled);
  });
});

describe('deploy-db with a password SST account', () => {
  const SST_CANARY = `sstcanary-${randomBytes(6).toString('hex')}`;

  it('builds the cluster with SST by a dedicated account whose password is only in a root:mysql 0640 file', async () => {
    execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up'], { stdio: 'ignore', timeout: 600_000 });
    // Re-created hosts have new host keys.
    state = readLabState();
    key = readFileSync(state.sshKey, 'utf8');
    knownHosts = readFileSync(state.knownHosts, 'utf8');
    writeLabInventory(state, workspace, labDbEnvironment(state, 'lab-db', { sstPassword: true }));
    const env = { LAB_SST_PASSWORD: SST_CANARY };
    const run = await deployDb('apply', env);
    expect(run.outputs['failure-reason']).toBe('');
    expect(run.code).toBe(0);
    const summaries: string[] = JSON.parse(run.outputs.result).changes.map((c: { summary: string }) => c.summary);
    // The SST account exists before the first joiner asks a donor for a copy.
    const firstJoin = summaries.findIndex((s) => s.startsWith('join'));
    expect(summaries.findIndex((s) => s.startsWith("create user 'sst'@'localhost'"))).toBeLessThan(firstJoin);
    for (const host of DB_HOSTS) {
      const s = wsrep(host);
      expect(s.wsrep_local_state_comment).toBe('Synced');
      expect(s.wsrep_cluster_size).toBe('3');
      expect(labExec(host, 'stat -c "%a %U %G" /etc/mysql/mariadb.conf.d/61-galera-sst.cnf').stdout.trim()).toBe('640 root mysql');
      expect(labExec(host, `grep -c -F '${SST_CANARY}' /etc/mysql/mariadb.conf.d/60-galera.cnf || true`).stdout.trim()).toBe('0');
      // Anywhere else it is only in files of root/mysql that others cannot read.
      const found = labExec(
        host,
        `grep -rl -F '${SST_CANARY}' / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | while read f; do stat -c '%n %a %U %G' "$f"; done`,
      ).stdout.trim().split('\n');
      for (const line of found.filter((l) => l !== '')) {
        const [, mode, owner, group] = line.split(' ');
        expect(['root', 'mysql']).toContain(owner);
        expect(['root', 'mysql']).toContain(group);
        expect(Number.parseInt(mode!, 8) & 0o007).toBe(0);
      }
    }
    const again = await deployDb('apply', env);
    expect(again.outputs.changed).toBe('false');
    for (const r of [run, again]) expect(log(r) + r.stderr + r.summary + JSON.stringify(r.outputs)).not.toContain(SST_CANARY);
  });
});
