import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labExec, labHost, readLabState, runAction, tempDir, type ActionRun, type LabState } from './lab.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';

// ProxySQL on the lab (the Open edX and Chamilo topologies): deploy-lb with
// the vendor's .deb, then what a real ProxySQL 2.7 must show. ProxySQL cannot
// be installed on this machine (not in Debian, the vendor unreachable), so the
// suite runs only when LMS_HA_PROXYSQL_DEB names the .deb (a path, or an
// http(s) URL); the project's CI job proxysql-e2e fetches the pinned package
// and sets it. Without it the suite prints one "skipped" line.

const DEB = process.env.LMS_HA_PROXYSQL_DEB;
if (!DEB) console.log('skipped: deploy-lb (ProxySQL) e2e: no ProxySQL package on this machine (set LMS_HA_PROXYSQL_DEB to a .deb path or URL to run it)');

const LBS = ['lb1', 'lb2'];
const APP_PASSWORD = `canary-${randomBytes(6).toString('hex')}`;
const VRRP_PASSWORD = `vrrp${randomBytes(6).toString('hex')}`;
const PROXYSQL_ADMIN = `adm-${randomBytes(6).toString('hex')}`;
const PROXYSQL_MONITOR = `mon-${randomBytes(6).toString('hex')}`;
const SECRETS = [APP_PASSWORD, VRRP_PASSWORD, VRRP_PASSWORD.slice(0, 8), PROXYSQL_ADMIN, PROXYSQL_MONITOR];
const MONITOR_USER = 'lms_ha_monitor';
const PORT = 6033;
const ENV = 'lab-proxysql';

let state: LabState;
let workspace: string;
let key: string;
let knownHosts: string;
let server: ChildProcess | undefined;
const runs: ActionRun[] = [];

const secretEnv = {
  LAB_APP_DB_PASSWORD: APP_PASSWORD,
  LAB_VRRP_PASSWORD: VRRP_PASSWORD,
  LAB_PROXYSQL_ADMIN_PASSWORD: PROXYSQL_ADMIN,
  LAB_PROXYSQL_MONITOR_PASSWORD: PROXYSQL_MONITOR,
};

function environment(s: LabState, deb: { url: string; sha256: string }): string {
  const db = labDbEnvironment(s, ENV);
  const lbs = LBS.map((h) => `      - { name: ${h}, address: ${labHost(s, h).address}, roles: [lb] }`).join('\n');
  return `${db.replace(/(      - \{ name: db3[^\n]*\n)/, `$1${lbs}\n`)}    load_balancer:
      kind: proxysql
      vip: ${s.vip}/24
      interface: eth0
      virtual_router_id: 52
      auth_password: { env: LAB_VRRP_PASSWORD }
      proxysql:
        admin_password: { env: LAB_PROXYSQL_ADMIN_PASSWORD }
        monitor_password: { env: LAB_PROXYSQL_MONITOR_PASSWORD }
        package: { url: '${deb.url}', sha256: ${deb.sha256} }
`;
}

async function action(command: string, mode: 'plan' | 'apply', extra: Record<string, string> = {}, environmentName = ENV): Promise<ActionRun> {
  const run = await runAction(
    state,
    { command, mode, inventory: 'ha.yml', environment: environmentName, 'ssh-private-key': key, 'known-hosts': knownHosts, parallelism: '10', ...extra },
    { workspace, env: secretEnv },
  );
  runs.push(run);
  if (run.outputs['failure-reason']) console.log(`${command} ${mode} failed: ${run.annotations.join('\n')}`);
  return run;
}

/** SQL through the VIP's port 6033 as the app user (password on stdin, never on a command line). */
function viaVip(from: string, sql: string): { code: number; out: string; err: string } {
  const r = labExec(from, `MYSQL_PWD="$(cat)" timeout 20 mariadb -h ${state.vip} -P ${PORT} -u moodle --connect-timeout=3 -N -B -e ${JSON.stringify(sql)}`, { input: APP_PASSWORD, allowFailure: true });
  return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** SQL on a load balancer's admin interface (127.0.0.1:6032) with the inventory's admin secret. */
function admin(lb: string, sql: string): string {
  return labExec(lb, `MYSQL_PWD="$(cat)" timeout 20 mariadb -h127.0.0.1 -P6032 -uadmin -N -B -e ${JSON.stringify(sql)}`, { input: PROXYSQL_ADMIN }).stdout.trim();
}

/** What lms-ha configures, as ProxySQL reports it at runtime (placement by the monitor left out). */
function configuredRuntime(lb: string): string {
  return [
    'SELECT hostname, port, weight, max_connections FROM runtime_mysql_servers GROUP BY hostname, port ORDER BY hostname',
    'SELECT * FROM runtime_mysql_galera_hostgroups',
    'SELECT rule_id, active, match_digest, destination_hostgroup, apply FROM runtime_mysql_query_rules ORDER BY rule_id',
    'SELECT username, password, default_hostgroup, transaction_persistent FROM runtime_mysql_users ORDER BY username, frontend',
    "SELECT variable_name, variable_value FROM runtime_global_variables WHERE variable_name LIKE 'mysql-monitor%' OR variable_name IN ('admin-mysql_ifaces', 'admin-admin_credentials') ORDER BY variable_name",
  ]
    .map((q) => admin(lb, q))
    .join('\n--\n');
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - started;
}

function log(run: ActionRun): string {
  return run.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
}

describe.skipIf(!DEB)('deploy-lb (ProxySQL) on the lab', () => {
  beforeAll(async () => {
    state = readLabState();
    workspace = tempDir('deploy-lb-proxysql');
    key = readFileSync(state.sshKey, 'utf8');
    knownHosts = readFileSync(state.knownHosts, 'utf8');
    let deb: { url: string; sha256: string };
    if (/^https?:\/\//.test(DEB!)) {
      const bytes = Buffer.from(await (await fetch(DEB!)).arrayBuffer());
      deb = { url: DEB!, sha256: createHash('sha256').update(bytes).digest('hex') };
    } else {
      if (!existsSync(DEB!)) throw new Error(`LMS_HA_PROXYSQL_DEB=${DEB}: no such file`);
      // Served on the runner namespace's loopback: the action downloads it from there.
      const port = 18000 + Math.floor(Math.random() * 1000);
      server = spawn('ip', ['netns', 'exec', state.runnerNamespace, 'python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dirname(DEB!)], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 1000));
      deb = { url: `http://127.0.0.1:${port}/${basename(DEB!)}`, sha256: createHash('sha256').update(readFileSync(DEB!)).digest('hex') };
    }
    writeLabInventory(state, workspace, labDbEnvironment(state) + environment(state, deb));
    const db = await action('deploy-db', 'apply', {}, 'lab-db');
    expect(db.outputs['failure-reason']).toBe('');
  });

  afterAll(() => {
    server?.kill();
  });

  it('converges on the first apply (the admin port opens ~0.6 s after systemctl start returns), then reports 0 changes', async () => {
    const plan = await action('deploy-lb', 'plan');
    expect(plan.outputs['failure-reason']).toBe('');
    const apply = await action('deploy-lb', 'apply', { 'plan-hash': plan.outputs['plan-hash']! });
    expect(apply.outputs['failure-reason']).toBe('');
    const again = await action('deploy-lb', 'apply');
    expect(again.outputs['failure-reason']).toBe('');
    expect(again.outputs.changed).toBe('false');
    await waitFor('ProxySQL answering through the VIP', () => viaVip('db2', 'SELECT 1').code === 0);
  });

  it('splits reads and writes per query: writes and locking reads on the writer, plain SELECTs on the others', async () => {
    const writer = labExec('db1', 'hostname').stdout.trim();
    expect(viaVip('db2', 'CREATE TABLE IF NOT EXISTS moodle.lms_ha_split (id INT PRIMARY KEY AUTO_INCREMENT, host VARCHAR(64), note VARCHAR(16))').code).toBe(0);
    expect(viaVip('db2', "INSERT INTO moodle.lms_ha_split (host, note) VALUES (@@hostname, 'insert')").code).toBe(0);
    expect(viaVip('db2', "UPDATE moodle.lms_ha_split SET note = 'update', host = @@hostname WHERE note = 'insert'").code).toBe(0);
    expect(viaVip('db2', "SELECT host FROM moodle.lms_ha_split WHERE note = 'update'").out).toBe(writer);
    // A locking read inside a transaction: the writer.
    expect(viaVip('db2', 'BEGIN; SELECT @@hostname FROM moodle.lms_ha_split LIMIT 1 FOR UPDATE; COMMIT').out).toBe(writer);
    // Plain SELECTs: the two other nodes, never the writer.
    const readers = new Set<string>();
    for (let i = 0; i < 30; i++) readers.add(viaVip('db2', 'SELECT @@hostname').out);
    expect([...readers].sort()).toEqual(['db2', 'db3']);
    // Both load balancers route the same way: their query digests name the same hostgroups.
    for (const lb of LBS) {
      const rows = admin(lb, "SELECT hostgroup, digest_text FROM stats_mysql_query_digest WHERE digest_text LIKE '%lms_ha_split%' OR digest_text LIKE 'SELECT @@hostname%'");
      if (!rows) continue; // this LB did not hold the VIP: no traffic
      for (const line of rows.split('\n')) {
        const [hostgroup, text] = line.split('\t');
        const expected = /^SELECT/i.test(text!) && !/FOR UPDATE/i.test(text!) ? '30' : '10';
        expect(`${lb} ${text} → ${hostgroup}`).toBe(`${lb} ${text} → ${expected}`);
      }
    }
  });

  it('keeps the admin interface off the network and off admin:admin; the monitor has no privilege', () => {
    expect(labExec('db1', `timeout 3 bash -c 'exec 3<>/dev/tcp/${labHost(state, 'lb1').address}/6032'`, { allowFailure: true }).code).not.toBe(0);
    for (const lb of LBS) {
      expect(labExec(lb, 'MYSQL_PWD=admin mariadb -h127.0.0.1 -P6032 -uadmin -N -e "SELECT 1"', { allowFailure: true }).code).not.toBe(0);
      expect(admin(lb, "SELECT variable_value FROM runtime_global_variables WHERE variable_name = 'admin-mysql_ifaces'")).toBe('127.0.0.1:6032');
      const grants = labExec('db1', `mariadb -N -B -e "SHOW GRANTS FOR '${MONITOR_USER}'@'${labHost(state, lb).address}'"`).stdout.trim();
      expect(grants).toMatch(/^GRANT USAGE ON \*\.\* TO `lms_ha_monitor`@`[0-9.]+` IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}'$/);
      // The monitor sees every node: no connect or ping errors in the last checks.
      const errors = admin(lb, 'SELECT COUNT(*) FROM monitor.mysql_server_connect_log WHERE time_start_us > (SELECT MAX(time_start_us) FROM monitor.mysql_server_connect_log) - 10000000 AND connect_error IS NOT NULL');
      expect(errors).toBe('0');
    }
  });

  it('holds the same configuration on both load balancers, and keeps it across a restart', async () => {
    expect(configuredRuntime('lb2')).toBe(configuredRuntime('lb1'));
    const before = configuredRuntime('lb1');
    labExec('lb1', 'systemctl restart proxysql');
    await waitFor('the admin port of lb1 after the restart', () => labExec('lb1', 'ss -Hltn "sport = :6032"', { allowFailure: true }).stdout.trim() !== '');
    await waitFor('lb1 configured after the restart', () => {
      try {
        return configuredRuntime('lb1') === before;
      } catch {
        return false;
      }
    });
    const plan = await action('deploy-lb', 'plan');
    expect(plan.outputs.changed).toBe('false');
  });

  it('names what differs when one load balancer drifts (verify-ha), and deploy-lb puts it back', async () => {
    admin('lb2', "UPDATE global_variables SET variable_value = '5000' WHERE variable_name = 'mysql-monitor_galera_healthcheck_interval'; LOAD MYSQL VARIABLES TO RUNTIME");
    const verify = await action('verify-ha', 'plan');
    const checks = JSON.parse(verify.outputs.result!).checks as Array<{ check: string; status: string; observed: string }>;
    const same = checks.find((c) => c.check === 'ProxySQL configuration identical on all LBs');
    expect(same?.status).toBe('fail');
    expect(same?.observed).toContain('mysql-monitor_galera_healthcheck_interval');
    const apply = await action('deploy-lb', 'apply');
    expect(apply.outputs['failure-reason']).toBe('');
    expect(configuredRuntime('lb2')).toBe(configuredRuntime('lb1'));
  });

  it('keeps a long-lived client connection committing after the writer is killed (failed statements counted)', async () => {
    const script = `MYSQL_PWD="$(cat)"; export MYSQL_PWD
{ for i in $(seq 1 160); do echo "INSERT INTO moodle.lms_ha_split (host, note) VALUES ('held', 'held'); SELECT 'ok', $i;"; sleep 0.05; done; } |
  mariadb --skip-reconnect --force -h ${state.vip} -P ${PORT} -u moodle -N -B 2>&1`;
    const child = spawn('bash', [`${process.cwd()}/test/lab/lab.sh`, 'exec', 'db3', '--', 'bash', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin.end(APP_PASSWORD);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const done = new Promise<void>((r) => child.on('close', () => r()));
    await new Promise((r) => setTimeout(r, 2000));
    labExec('db1', 'systemctl kill --kill-who=main --signal=SIGKILL mariadb');
    await done;
    const oks = out.split('\n').filter((l) => l.startsWith('ok\t'));
    const errors = out.split('\n').filter((l) => l.startsWith('ERROR'));
    console.log(`ProxySQL, one held connection: ${errors.length} failed statements of ${2 * 160}; ${oks.length} iterations committed${errors[0] ? `; first error: ${errors[0]}` : ''}`);
    // Outside a transaction ProxySQL keeps the client's connection and moves it to the new writer.
    expect(oks.at(-1)).toBe('ok\t160');
    expect(errors.filter((e) => /gone away|Lost connection/i.test(e))).toEqual([]);
    await waitFor('db1 synced again', () => labExec('db1', "mariadb -N -B -e \"SHOW STATUS LIKE 'wsrep_local_state_comment'\"", { allowFailure: true }).stdout.includes('Synced'), 180_000);
  });

  it('never shows a secret', () => {
    for (const run of runs) for (const secret of SECRETS) expect(log(run) + run.stderr + run.summary + JSON.stringify(run.outputs)).not.toContain(secret);
  });
});
