import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { labExec, labHost, readLabState, runAction, tempDir, type ActionRun, type LabState } from './lab.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';

// deploy-lb e2e (issue 4), run exactly as the Actions runner runs the bundle,
// against the Galera cluster deploy-db builds on db1-3 and two bare load
// balancers lb1/lb2. These suites change the lab (they stop proxies and db
// nodes), so they need it to themselves.

const DBS = ['db1', 'db2', 'db3'];
const LBS = ['lb1', 'lb2'];
const APP_PASSWORD = `canary-${randomBytes(6).toString('hex')}`;
const VRRP_PASSWORD = `vrrp${randomBytes(6).toString('hex')}`;
const PROXYSQL_ADMIN = `adm-${randomBytes(6).toString('hex')}`;
const PROXYSQL_MONITOR = `mon-${randomBytes(6).toString('hex')}`;
const SECRETS = [APP_PASSWORD, VRRP_PASSWORD, VRRP_PASSWORD.slice(0, 8), PROXYSQL_ADMIN, PROXYSQL_MONITOR];

let state: LabState;
let workspace: string | undefined;
let key: string;
let knownHosts: string;
const runs: ActionRun[] = [];

const secretEnv = {
  LAB_APP_DB_PASSWORD: APP_PASSWORD,
  LAB_VRRP_PASSWORD: VRRP_PASSWORD,
  LAB_PROXYSQL_ADMIN_PASSWORD: PROXYSQL_ADMIN,
  LAB_PROXYSQL_MONITOR_PASSWORD: PROXYSQL_MONITOR,
};

/** The lb environment: the lab-db cluster plus lb1/lb2, HAProxy or ProxySQL. */
function lbEnvironment(s: LabState, kind: 'haproxy' | 'proxysql', deb?: { url: string; sha256: string }): string {
  const db = labDbEnvironment(s, `lab-${kind}`);
  const lbs = LBS.map((h) => `      - { name: ${h}, address: ${labHost(s, h).address}, roles: [lb] }`).join('\n');
  const withLbs = db.replace(/(      - \{ name: db3[^\n]*\n)/, `$1${lbs}\n`);
  const proxysql =
    kind === 'proxysql'
      ? `      proxysql:
        admin_password: { env: LAB_PROXYSQL_ADMIN_PASSWORD }
        monitor_password: { env: LAB_PROXYSQL_MONITOR_PASSWORD }
${deb ? `        package: { url: '${deb.url}', sha256: ${deb.sha256} }\n` : ''}`
      : '';
  return `${withLbs}    load_balancer:
      kind: ${kind}
      vip: ${s.vip}/24
      interface: eth0
      virtual_router_id: ${kind === 'haproxy' ? 51 : 52}
      auth_password: { env: LAB_VRRP_PASSWORD }
${proxysql}`;
}

async function action(command: string, mode: 'plan' | 'apply', environment: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  const run = await runAction(
    state,
    { command, mode, inventory: 'ha.yml', environment, 'ssh-private-key': key, 'known-hosts': knownHosts, parallelism: '10', ...extra },
    { workspace: workspace!, env: secretEnv },
  );
  runs.push(run);
  // What went wrong, in the test output (the error annotations carry the message and the hint).
  if (run.outputs['failure-reason']) console.log(`${command} ${mode} failed: ${run.annotations.join('\n')}`);
  return run;
}

/** A query through the VIP with the app account; the password goes through the client's environment, read from stdin. */
function viaVip(from: string, port: number, sql: string): { code: number; out: string } {
  const r = labExec(from, `MYSQL_PWD="$(cat)" timeout 10 mariadb -h ${state.vip} -P ${port} -u moodle --connect-timeout=3 -N -B -e ${JSON.stringify(sql)}`, {
    input: APP_PASSWORD,
    allowFailure: true,
  });
  return { code: r.code, out: r.stdout.trim() };
}

function holdsVip(host: string): boolean {
  return labExec(host, 'ip -o addr show dev eth0', { allowFailure: true }).stdout.includes(` ${state.vip}/`);
}

function clustercheck(from: string, db: string): string {
  const address = labHost(state, db).address;
  const r = labExec(from, `timeout 3 bash -c 'exec 3<>/dev/tcp/${address}/9200 && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3'`, { allowFailure: true });
  return r.code === 0 ? (r.stdout.split('\n')[0] ?? '').trim() : `unreachable (${r.code})`;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}

/**
 * An operator's own firewall on db1, loaded by Debian's nftables.service: deploy-lb must leave it alone.
 * `peers` is what the SST port lets in: none at first (a real mistake: a state
 * transfer to db1 then fails after ~2 min, "State transfer to db1 failed: Broken
 * pipe", which the plan must warn about), then the other db nodes.
 */
function operatorNftables(peers: string[]): string {
  const rule = peers.length > 0 ? `tcp dport 4444 ip saddr != { ${peers.join(', ')} } counter drop` : 'tcp dport 4444 counter drop';
  return `#!/usr/sbin/nft -f
flush ruleset
table inet operator_filter {
  chain input {
    type filter hook input priority filter; policy accept;
    ${rule}
  }
}
`;
}

function nftTables(host: string): string[] {
  return labExec(host, 'nft list tables', { allowFailure: true }).stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort();
}

/** Digest of every file deploy-lb manages, per host: plan mode must leave them as they are. */
function managedDigest(): string {
  const paths = '/etc/haproxy/haproxy.cfg /etc/keepalived /usr/local/lib/lms-ha /etc/systemd/system/lms-ha-clustercheck.socket /etc/lms-ha';
  return [...DBS, ...LBS].map((h) => labExec(h, `find ${paths} -type f -exec sha256sum {} + 2>/dev/null | sort; systemctl is-active haproxy keepalived 2>/dev/null`, { allowFailure: true }).stdout).join('\n');
}

function log(run: ActionRun): string {
  return run.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
}

/** Shared setup, from each suite's beforeAll (never at file level: a skipped suite must not touch the lab). */
async function setup(): Promise<void> {
  if (workspace) return;
  state = readLabState();
  workspace = tempDir('deploy-lb');
  writeLabInventory(state, workspace, labDbEnvironment(state) + lbEnvironment(state, 'haproxy'));
  key = readFileSync(state.sshKey, 'utf8');
  knownHosts = readFileSync(state.knownHosts, 'utf8');
  // deploy-lb balances the cluster deploy-db builds: converge it first (a no-op when it is there).
  const db = await action('deploy-db', 'apply', 'lab-db');
  expect(db.outputs['failure-reason']).toBe('');
}

describe('deploy-lb (HAProxy) on the lab', () => {
  beforeAll(setup);

  it('plan mode changes nothing; apply converges; a second apply reports 0 changes', async () => {
    // db1 already has nftables and the operator's own ruleset (enabled at boot); db2/db3 have no nft at all.
    labExec('db1', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables </dev/null >/dev/null && cat > /etc/nftables.conf && systemctl enable --now nftables && systemctl reload nftables', { input: operatorNftables([]) });
    expect(nftTables('db1')).toEqual(['table inet operator_filter']);
    const before = managedDigest();
    const plan = await action('deploy-lb', 'plan', 'lab-haproxy');
    expect(plan.stderr).not.toContain('    at ');
    expect(plan.outputs['failure-reason']).toBe('');
    expect(plan.outputs.changed).toBe('true');
    expect(managedDigest()).toBe(before);
    // The plan shows the fence: nftables installed where missing, its own table, the operator's kept.
    expect(plan.summary).toContain('install nftables');
    expect(plan.summary).toContain('load nftables table inet lms_ha_clustercheck (other tables kept as they are: inet operator_filter)');
    // The operator's table drops the SST port for everyone: the plan says so, with what to open.
    expect(plan.summary).toMatch(/db1: nftables table inet operator_filter, chain input, drops tcp port 4444 \(Galera SST: rule \d+ drops it\) for every source\. A state transfer to db1 then fails/);
    expect(plan.summary).not.toMatch(/db[23]: nftables table/);
    // The operator fixes it (the peers only); facts are not part of the reviewed plan, so its hash still applies.
    labExec('db1', 'cat > /etc/nftables.conf && systemctl reload nftables', { input: operatorNftables(['db2', 'db3'].map((h) => labHost(state, h).address)) });

    const apply = await action('deploy-lb', 'apply', 'lab-haproxy', { 'plan-hash': plan.outputs['plan-hash']! });
    expect(apply.outputs['failure-reason']).toBe('');
    expect(apply.outputs.changed).toBe('true');
    console.log(`cold deploy-lb (2 bare LBs + clustercheck on 3 nodes): ${(apply.durationMs / 1000).toFixed(1)} s`);

    const again = await action('deploy-lb', 'apply', 'lab-haproxy');
    expect(again.outputs['failure-reason']).toBe('');
    expect(again.outputs.changed).toBe('false');
    expect(JSON.parse(again.outputs.result!).changes).toHaveLength(0);
    // Both start as BACKUP with nopreempt: one becomes MASTER after a few adverts.
    await waitFor('one LB holding the VIP', () => LBS.filter(holdsVip).length === 1, 15_000);
    expect(LBS.filter(holdsVip)).toHaveLength(1);
    expect(labExec('lb1', 'stat -c "%a %U %G" /etc/keepalived/keepalived.conf').stdout.trim()).toBe('600 root root');
  });

  it('through the VIP: the writer port always lands on one node, the reader port spreads', async () => {
    await waitFor('the writer answering through the VIP', () => viaVip('db1', 3307, 'SELECT 1').code === 0);
    const writers = new Set(Array.from({ length: 10 }, () => viaVip('db2', 3307, 'SELECT @@hostname').out));
    expect(writers.size).toBe(1);
    const readers = new Set(Array.from({ length: 12 }, () => viaVip('db2', 3308, 'SELECT @@hostname').out));
    expect(readers.size).toBeGreaterThan(1);
  });

  it('a Keepalived change reaches the standby first and the VIP holder last, by reload: the VIP stays put', async () => {
    const holder = LBS.find(holdsVip)!;
    const standby = LBS.find((h) => h !== holder)!;
    const withPrefix = (prefix: number) => labDbEnvironment(state) + lbEnvironment(state, 'haproxy').replace(`vip: ${state.vip}/24`, `vip: ${state.vip}/${prefix}`);
    // A client through the VIP the whole time: a reload must not drop the address.
    let failures = 0;
    let tries = 0;
    const poll = setInterval(() => {
      tries++;
      if (viaVip('db2', 3307, 'SELECT 1').code !== 0) failures++;
    }, 300);
    try {
      for (const prefix of [25, 24]) {
        writeLabInventory(state, workspace!, withPrefix(prefix));
        const apply = await action('deploy-lb', 'apply', 'lab-haproxy');
        expect(apply.outputs['failure-reason']).toBe('');
        const changes = JSON.parse(apply.outputs.result!).changes as Array<{ host: string; kind: string }>;
        expect(changes.map((c) => `${c.host} ${c.kind}`)).toEqual([`${standby} file`, `${standby} service`, `${holder} file`, `${holder} service`]);
        expect(JSON.stringify(changes[1])).toContain('reload keepalived');
        expect(JSON.stringify(changes[3])).toContain('holds the VIP now, so it goes last');
        expect(labExec(holder, 'ip -o addr show dev eth0').stdout).toContain(` ${state.vip}/${prefix} `);
        expect(holdsVip(standby)).toBe(false);
      }
    } finally {
      clearInterval(poll);
      // Whatever happened, later tests get the /24 VIP back.
      writeLabInventory(state, workspace!, withPrefix(24));
    }
    console.log(`keepalived reloaded twice on both LBs: ${failures} of ${tries} queries through the VIP failed meanwhile`);
    expect(failures).toBe(0);
    // Transitions are logged by the notify script.
    expect(labExec(holder, 'journalctl -t lms-ha-keepalived --no-pager').stdout).toMatch(/is now MASTER/);
  });

  it('clustercheck: 200 when synced, 503 when desynced, in maintenance or stopped; HAProxy follows', async () => {
    expect(clustercheck('lb1', 'db3')).toMatch(/^HTTP\/1\.1 200/);
    labExec('db3', `mariadb -e "SET GLOBAL wsrep_desync=ON"`);
    try {
      expect(clustercheck('lb1', 'db3')).toMatch(/^HTTP\/1\.1 503/);
    } finally {
      labExec('db3', `mariadb -e "SET GLOBAL wsrep_desync=OFF"`);
    }
    await waitFor('db3 synced again', () => clustercheck('lb1', 'db3').startsWith('HTTP/1.1 200'));

    labExec('db3', 'touch /etc/lms-ha/maintenance');
    try {
      expect(clustercheck('lb1', 'db3')).toMatch(/^HTTP\/1\.1 503/);
      const downIn = await waitFor('HAProxy marking db3 down', () =>
        labExec('lb1', `echo "show stat" | python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect("/run/haproxy/admin.sock"); s.sendall(b"show stat\\n"); print(b"".join(iter(lambda: s.recv(65536), b"")).decode())'`).stdout.split('\n').some((l) => l.startsWith('galera_reader,db3,') && l.includes(',DOWN,')),
      );
      console.log(`HAProxy saw db3 in maintenance after ${downIn} ms`);
    } finally {
      labExec('db3', 'rm -f /etc/lms-ha/maintenance');
    }

    labExec('db3', 'systemctl stop mariadb');
    try {
      expect(clustercheck('lb1', 'db3')).toMatch(/^HTTP\/1\.1 503/);
    } finally {
      labExec('db3', 'systemctl start mariadb');
    }
    await waitFor('db3 back', () => clustercheck('lb1', 'db3').startsWith('HTTP/1.1 200'), 120_000);
  });

  // The old writer must rejoin afterwards, by IST or by a full SST (db3 was
  // restarted above): this is what failed while the operator's ruleset on db1
  // dropped the SST port 4444 for every source (donor's socat timed out after
  // ~136 s, "State transfer to db1 failed: Broken pipe").
  it('the VIP moves when the proxy on its holder dies; the writer moves when the writer node dies', async () => {
    const holder = LBS.find(holdsVip)!;
    const other = LBS.find((h) => h !== holder)!;
    labExec(holder, 'systemctl stop haproxy');
    try {
      const moved = await waitFor('the VIP on the other LB', () => holdsVip(other), 10_000);
      const serving = await waitFor('the writer answering through the VIP', () => viaVip('db2', 3307, 'SELECT 1').code === 0, 10_000);
      console.log(`VIP moved in ${moved} ms; writes through the VIP again after ${moved + serving} ms (target < 3 s)`);
    } finally {
      labExec(holder, 'systemctl start haproxy');
    }

    const writer = viaVip('db2', 3307, 'SELECT @@hostname').out;
    labExec(writer, 'systemctl stop mariadb');
    try {
      const elapsed = await waitFor('a new writer', () => {
        const r = viaVip('db2', 3307, 'SELECT @@hostname');
        return r.code === 0 && r.out !== writer;
      }, 20_000);
      console.log(`writer moved off ${writer} in ${elapsed} ms (target < 8 s)`);
    } finally {
      const started = labExec(writer, 'systemctl start mariadb', { allowFailure: true });
      if (started.code !== 0) {
        // Say why before failing: the unit's journal is gone with the lab.
        const journal = labExec(writer, 'journalctl -u mariadb --no-pager -n 60; tail -n 40 /var/lib/mysql/*.err 2>/dev/null', { allowFailure: true });
        // eslint-disable-next-line no-unsafe-finally -- a writer left stopped would break every later suite: this failure must win
        throw new Error(`mariadb did not start again on ${writer}: ${started.stderr}\n${journal.stdout}`);
      }
    }
    await waitFor('the cluster and both LBs healthy again', () => DBS.every((d) => clustercheck('lb1', d).startsWith('HTTP/1.1 200')), 180_000);
    // HAProxy marks a returning server UP only after `rise` good checks; poll verify-ha until it agrees.
    let verify = await action('verify-ha', 'plan', 'lab-haproxy');
    for (let i = 0; i < 15 && verify.outputs['failure-reason'] !== ''; i++) {
      await new Promise((r) => setTimeout(r, 2000));
      verify = await action('verify-ha', 'plan', 'lab-haproxy');
    }
    expect(verify.outputs['failure-reason']).toBe('');
  });

  // The socket unit's IPAddressAllow/Deny does nothing in the lab (no cgroup eBPF in
  // nspawn): what keeps other hosts out here is deploy-lb's nftables table.
  it("the stats page and the health endpoint are closed to hosts that are not allowed; the operator's ruleset survives", () => {
    // Stats: 127.0.0.1 only on the LB.
    const stats = labExec('db1', `timeout 3 bash -c 'exec 3<>/dev/tcp/${labHost(state, 'lb1').address}/8404'`, { allowFailure: true });
    expect(stats.code).not.toBe(0);
    expect(labExec('lb1', `timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8404'`, { allowFailure: true }).code).toBe(0);
    // Health check: the LBs only (db2 and db3 are not LBs).
    expect(clustercheck('db2', 'db1')).toMatch(/^unreachable/);
    expect(clustercheck('db3', 'db2')).toMatch(/^unreachable/);
    expect(clustercheck('lb1', 'db1')).toMatch(/^HTTP\/1\.1 200/);
    expect(clustercheck('lb2', 'db1')).toMatch(/^HTTP\/1\.1 200/);
    // The node itself (verify-ha's own view) still reaches its check.
    expect(clustercheck('db1', 'db1')).toMatch(/^HTTP\/1\.1 200/);

    // db1: the operator's table next to the fence, and both come back whenever the
    // operator reloads or restarts their firewall (which flushes the whole ruleset).
    const both = ['table inet lms_ha_clustercheck', 'table inet operator_filter'];
    expect(nftTables('db1')).toEqual(both);
    for (const verb of ['reload', 'restart']) {
      labExec('db1', `systemctl ${verb} nftables`);
      expect(nftTables('db1'), `after systemctl ${verb} nftables`).toEqual(both);
      expect(clustercheck('db2', 'db1')).toMatch(/^unreachable/);
    }
    // Stopping the operator's firewall flushes the ruleset too: the fence is loaded again at once, its unit still active.
    labExec('db1', 'systemctl stop nftables');
    expect(nftTables('db1'), 'after systemctl stop nftables').toEqual(['table inet lms_ha_clustercheck']);
    expect(clustercheck('db2', 'db1')).toMatch(/^unreachable/);
    expect(labExec('db1', 'systemctl is-active lms-ha-clustercheck-firewall.service', { allowFailure: true }).stdout.trim()).toBe('active');
    labExec('db1', 'systemctl start nftables');
    expect(nftTables('db1')).toEqual(both);
    // Loaded at boot: enabled, before the socket, and systemd finds no ordering problem in it.
    for (const db of DBS) {
      expect(labExec(db, 'systemctl is-enabled lms-ha-clustercheck-firewall.service').stdout.trim()).toBe('enabled');
      const verify = labExec(db, 'systemd-analyze verify lms-ha-clustercheck-firewall.service lms-ha-clustercheck.socket 2>&1', { allowFailure: true });
      expect(verify.stdout).not.toMatch(/cycle|lms-ha.*(error|invalid)/i);
    }
    expect(labExec('db2', 'systemctl list-dependencies --after --plain lms-ha-clustercheck.socket').stdout).toContain('lms-ha-clustercheck-firewall.service');
    // What boot does (sysinit.target wants it): with the table gone, starting the target loads it again.
    labExec('db2', 'systemctl stop lms-ha-clustercheck-firewall.service');
    expect(nftTables('db2')).toEqual([]);
    labExec('db2', 'systemctl start sysinit.target');
    expect(nftTables('db2')).toEqual(['table inet lms_ha_clustercheck']);
    expect(clustercheck('db3', 'db2')).toMatch(/^unreachable/);
  });

  it('never shows a secret', () => {
    for (const run of runs) {
      for (const secret of SECRETS) expect(log(run) + run.stderr + run.summary + JSON.stringify(run.outputs)).not.toContain(secret);
    }
  });
});

// ProxySQL: test/e2e/deploy-lb-proxysql.test.ts (runs when LMS_HA_PROXYSQL_DEB names the .deb).
