import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createDeployLb, deployLb } from '../../../src/commands/deploy-lb/deploy-lb.js';
import { HAPROXY_CANDIDATE_PATH, KEEPALIVED_CHECK_COMMAND, PROXYSQL_DEB_DIR } from '../../../src/commands/deploy-lb/desired.js';
import { changeAction, changeTarget, changeData } from '../../../src/engine/change.js';
import type { Plan } from '../../../src/engine/plan.js';
import { renderPlanMarkdown } from '../../../src/report/plan.js';
import { Redactor } from '../../../src/engine/redact.js';
import { renderPlanText } from '../../../src/report/console-reporter.js';
import { HAPROXY_CONFIG_PATH } from '../../../src/components/haproxy/index.js';
import { KEEPALIVED_CONFIG_PATH } from '../../../src/components/keepalived/index.js';
import { proxysqlModelFor } from '../../../src/commands/deploy-lb/desired.js';
import { mysqlNativePasswordHash } from '../../../src/components/proxysql/index.js';
import { ALL_SECRET_FORMS, DB, DEB, FakePlatform, fakeContext, inventory, LB } from './fake-lb-platform.js';

const rows = (plan: Plan) => plan.changes.map((c) => `${c.host} ${c.kind} ${changeAction(changeData(c))} ${changeTarget(changeData(c))}`);

async function run(platform: FakePlatform, mode: 'plan' | 'apply', text?: string, runner = deployLb) {
  const context = fakeContext(platform, mode, text);
  const report = await runner(context);
  return { report, context };
}

async function converge(platform: FakePlatform, text?: string) {
  const { report } = await run(platform, 'apply', text);
  expect(report.error).toBeUndefined();
  expect(report.apply?.error?.message).toBeUndefined();
  expect(report.apply?.status).toBe('ok');
  return report;
}

const DB_SETUP = (h: string) => [
  `${h} user create user clustercheck`,
  `${h} directory create /etc/lms-ha`,
  `${h} directory create /usr/local/lib/lms-ha`,
  // The fence before the socket: the port never listens unfenced.
  `${h} package install nftables`,
  `${h} file create /etc/lms-ha/clustercheck.nft`,
  `${h} file create /etc/systemd/system/lms-ha-clustercheck-firewall.service`,
  // After a flush by the operator's nftables.service (start, reload, stop), the fence again.
  `${h} directory create /etc/systemd/system/nftables.service.d`,
  `${h} file create /etc/systemd/system/nftables.service.d/lms-ha-clustercheck.conf`,
  `${h} service enable lms-ha-clustercheck-firewall.service`,
  `${h} service start lms-ha-clustercheck-firewall.service`,
  `${h} file create /usr/local/lib/lms-ha/clustercheck`,
  `${h} file create /etc/systemd/system/lms-ha-clustercheck.socket`,
  `${h} file create /etc/systemd/system/lms-ha-clustercheck@.service`,
  `${h} service enable lms-ha-clustercheck.socket`,
];
const LB_SETUP = (h: string) => [
  `${h} package install haproxy`,
  `${h} package install keepalived`,
  `${h} user create user keepalived_script`,
  `${h} file create /etc/haproxy/haproxy.cfg`,
  `${h} service enable haproxy`,
  `${h} service start haproxy`,
  `${h} directory create /etc/keepalived`,
  `${h} file create /etc/keepalived/lms-ha-check-proxy.sh`,
  `${h} file create /etc/keepalived/lms-ha-notify.sh`,
  `${h} file create /etc/keepalived/keepalived.conf`,
  `${h} service enable keepalived`,
  `${h} service start keepalived`,
];

describe('deploy-lb (HAProxy path) against fake hosts', () => {
  it('plans on bare load balancers: every change, in order, and touches nothing', async () => {
    const platform = new FakePlatform();
    const { report } = await run(platform, 'plan');
    expect(report.error).toBeUndefined();
    expect(rows(report.plan!)).toEqual([
      ...DB_SETUP('db1'),
      ...DB_SETUP('db2'),
      ...DB_SETUP('db3'),
      "db1 sql create user 'clustercheck'@'localhost'",
      ...LB_SETUP('lb1'),
      ...LB_SETUP('lb2'),
    ]);
    expect(report.planHash).toMatch(/^[0-9a-f]{64}$/);
    // Plan mode: only the read-only fact scripts and the account SELECTs.
    expect(platform.writes).toEqual([]);
    for (const s of platform.sent) {
      expect(s.command.includes('echo "@@') || (s.command === 'mariadb --batch -N' && /^SET SESSION wsrep_sync_wait=0;\nSELECT /.test(s.stdin ?? ''))).toBe(true);
    }
    expect(report.plan!.warnings.some((w) => w.includes('only the first 8'))).toBe(true);
  });

  it('applies in order, then a second apply reports zero changes', async () => {
    const platform = new FakePlatform();
    const first = await converge(platform);
    expect(first.apply!.changed).toBe(true);
    expect(first.apply!.steps.every((s) => s.status === 'ok')).toBe(true);

    const lb1 = platform.host('lb1');
    expect(lb1.file(HAPROXY_CONFIG_PATH)).toContain('listen galera_writer');
    expect(lb1.files.has(HAPROXY_CANDIDATE_PATH)).toBe(false);
    expect(lb1.files.get(KEEPALIVED_CONFIG_PATH)).toMatchObject({ mode: 0o600, owner: 'root', group: 'root' });
    expect(lb1.units['haproxy']).toEqual({ enabled: 'enabled', active: 'active' });
    expect(lb1.units['keepalived']).toEqual({ enabled: 'enabled', active: 'active' });
    expect(platform.host('db2').units['lms-ha-clustercheck.socket']).toEqual({ enabled: 'enabled', active: 'active' });
    expect(platform.clustercheck).toEqual({ plugin: 'unix_socket', extra: 0 });
    // The account is created once, through the first db node (it replicates).
    expect(platform.sent.filter((s) => s.command === 'mariadb --batch -N' && (s.stdin ?? '').includes('CREATE USER')).map((s) => s.host)).toEqual(['db1']);
    // haproxy.cfg was checked before it became the live file.
    const lb1Cmds = platform.sent.filter((s) => s.host === 'lb1').map((s) => s.command);
    expect(lb1Cmds.indexOf(`haproxy -c -q -f ${HAPROXY_CANDIDATE_PATH}`)).toBeLessThan(lb1Cmds.indexOf(`mv -f -- ${HAPROXY_CANDIDATE_PATH} ${HAPROXY_CONFIG_PATH}`));

    const before = platform.sent.length;
    const second = await converge(platform);
    expect(second.plan!.changes).toEqual([]);
    expect(second.apply!.changed).toBe(false);
    // The second run wrote nothing and ran only reads (and the lock).
    expect(platform.sent.slice(before).every((s) => s.command.includes('echo "@@') || s.command.startsWith('# lms-ha-lock') || s.command === 'mariadb --batch -N')).toBe(true);
  });

  it('a changed VIP changes keepalived (reloaded, never restarted, the VIP holder last) and the fence that lets the VIP in', async () => {
    const platform = new FakePlatform();
    await converge(platform);
    platform.host('lb1').holdsVip = true;
    const { report } = await run(platform, 'plan', inventory({ vip: '10.0.0.100/25' }));
    expect(rows(report.plan!)).toEqual([
      'lb2 file update /etc/keepalived/keepalived.conf',
      'lb2 service reload keepalived',
      'lb1 file update /etc/keepalived/keepalived.conf',
      'lb1 service reload keepalived',
    ]);
    expect(report.plan!.changes.at(-1)!.summary).toContain('holds the VIP now, so it goes last');
    expect(report.plan!.hosts.find((h) => h.name === 'lb1')!.facts['vip']).toBe('held here');

    // The other way round when lb2 holds it. A new address also changes the
    // notify script, and the health check's fence lets the new VIP in first.
    platform.host('lb1').holdsVip = false;
    platform.host('lb2').holdsVip = true;
    const moved = await run(platform, 'apply', inventory({ vip: '10.0.0.101/24' }));
    expect(rows(moved.report.plan!)).toEqual([
      ...DB.flatMap((h) => [
        `${h} file update /etc/lms-ha/clustercheck.nft`,
        `${h} service reload lms-ha-clustercheck-firewall.service`,
        `${h} file update /etc/systemd/system/lms-ha-clustercheck.socket`,
        `${h} service restart lms-ha-clustercheck.socket`,
      ]),
      'lb1 file update /etc/keepalived/lms-ha-notify.sh',
      'lb1 file update /etc/keepalived/keepalived.conf',
      'lb1 service reload keepalived',
      'lb2 file update /etc/keepalived/lms-ha-notify.sh',
      'lb2 file update /etc/keepalived/keepalived.conf',
      'lb2 service reload keepalived',
    ]);
    // Each keepalived.conf was checked by keepalived -t before it replaced the live one.
    for (const h of LB) {
      const cmds = platform.sent.filter((s) => s.host === h).map((s) => s.command);
      const check = cmds.lastIndexOf(KEEPALIVED_CHECK_COMMAND);
      expect(check).toBeGreaterThan(-1);
      expect(check).toBeLessThan(cmds.lastIndexOf(`mv -f -- ${KEEPALIVED_CONFIG_PATH}.lms-ha-candidate ${KEEPALIVED_CONFIG_PATH}`));
      expect(platform.host(h).file(KEEPALIVED_CONFIG_PATH)).toContain('10.0.0.101/24 dev eth0');
    }
  });

  it('keeps the live keepalived.conf when keepalived -t rejects the new one', async () => {
    const platform = new FakePlatform();
    await converge(platform);
    const before = platform.host('lb1').file(KEEPALIVED_CONFIG_PATH);
    platform.host('lb1').keepalivedRejects = true;
    const { report } = await run(platform, 'apply', inventory({ vip: '10.0.0.101/24' }));
    expect(report.apply!.status).toBe('failed');
    expect(report.apply!.error!.message).toContain('keepalived -t rejected the new keepalived.conf on lb1');
    expect(platform.host('lb1').file(KEEPALIVED_CONFIG_PATH)).toBe(before);
    expect(platform.host('lb1').files.has(`${KEEPALIVED_CONFIG_PATH}.lms-ha-candidate`)).toBe(false);
    // The failed step stopped the run before keepalived was reloaded anywhere.
    expect(platform.commands()).not.toContain('systemctl reload keepalived');
  });

  it('reloads (never restarts) haproxy when only its configuration changed', async () => {
    const platform = new FakePlatform();
    await converge(platform);
    const { report } = await run(platform, 'plan', inventory({ writerPort: 3317 }));
    expect(rows(report.plan!)).toEqual([
      'lb1 file update /etc/haproxy/haproxy.cfg',
      'lb1 service reload haproxy',
      'lb2 file update /etc/haproxy/haproxy.cfg',
      'lb2 service reload haproxy',
    ]);
    const md = renderPlanMarkdown(report.plan!, { redactor: new Redactor() });
    expect(md).toContain('+    bind *:3317');
    expect(md).toContain('-    bind *:3307');
  });

  it('keeps the live haproxy.cfg when haproxy -c rejects the new one', async () => {
    const platform = new FakePlatform();
    platform.haproxyRejects = true;
    const { report } = await run(platform, 'apply');
    expect(report.apply!.status).toBe('failed');
    expect(report.apply!.error!.reason).toBe('apply-failed');
    expect(report.apply!.error!.message).toContain('haproxy -c rejected');
    const lb1 = platform.host('lb1');
    expect(lb1.file(HAPROXY_CONFIG_PATH)).toContain('# Debian default');
    expect(lb1.files.has(HAPROXY_CANDIDATE_PATH)).toBe(false);
    // Nothing after the failed step ran: lb2 was not touched.
    expect(platform.sent.some((s) => s.host === 'lb2' && s.command.startsWith('systemctl'))).toBe(false);
  });

  it('fixes a clustercheck account with a password plugin or extra grants', async () => {
    const platform = new FakePlatform();
    await converge(platform);
    platform.clustercheck = { plugin: 'mysql_native_password', extra: 2 };
    const { report } = await run(platform, 'plan');
    expect(rows(report.plan!)).toEqual(["db1 sql alter user 'clustercheck'@'localhost'"]);
    const c = report.plan!.changes[0]!;
    expect(c.kind === 'sql' && c.detail).toBe('authentication mysql_native_password -> unix_socket; revoke 2 extra privilege(s)');
    await converge(platform);
    expect(platform.clustercheck).toEqual({ plugin: 'unix_socket', extra: 0 });
  });

  it('warns and still plans the account when MariaDB does not answer', async () => {
    const platform = new FakePlatform();
    platform.mariadbUp = false;
    const { report } = await run(platform, 'plan');
    expect(report.plan!.warnings.some((w) => w.includes('could not read accounts on db1'))).toBe(true);
    expect(rows(report.plan!)).toContain("db1 sql create user 'clustercheck'@'localhost'");
  });

  it('installs nftables and fences the health check in a table of its own, next to the operator\'s tables', async () => {
    const platform = new FakePlatform();
    // db1 already runs nftables with the operator's own ruleset.
    platform.host('db1').packages['nftables'] = '1.0.6-2+deb12u2';
    platform.host('db1').operatorTables = ['inet filter', 'ip operator_nat'];
    const { report: plan } = await run(platform, 'plan');
    expect(rows(plan.plan!).filter((r) => r.startsWith('db1 package'))).toEqual([]);
    expect(rows(plan.plan!).filter((r) => r.includes('package install nftables')).map((r) => r.split(' ')[0])).toEqual(['db2', 'db3']);
    const load = plan.plan!.changes.find((c) => c.host === 'db1' && c.kind === 'service' && c.unit === 'lms-ha-clustercheck-firewall.service' && c.action === 'start')!;
    expect(load.summary).toBe('load nftables table inet lms_ha_clustercheck (other tables kept as they are: inet filter, ip operator_nat)');
    expect(plan.plan!.hosts.find((h) => h.name === 'db1')!.facts['nftables']).toBe('tables: inet filter, ip operator_nat');
    expect(plan.plan!.hosts.find((h) => h.name === 'db2')!.facts['nftables']).toBe('not installed');
    const md = renderPlanMarkdown(plan.plan!, { redactor: new Redactor() });
    // The VIP as well: the holder's checks leave from it when its prefix is longer than the subnet's.
    expect(md).toContain('tcp dport 9200 ip saddr { 10.0.0.11, 10.0.0.21, 10.0.0.22, 10.0.0.100 } accept');

    await converge(platform);
    const db1 = platform.host('db1');
    expect(db1.file('/etc/lms-ha/clustercheck.nft')).toContain('tcp dport 9200 drop');
    expect(db1.files.has('/etc/lms-ha/clustercheck.nft.lms-ha-candidate')).toBe(false);
    expect(db1.units['lms-ha-clustercheck-firewall.service']).toEqual({ enabled: 'enabled', active: 'active' });
    expect(db1.fenceLoaded).toBe(true);
    // The rules were checked by nft -c before they replaced the live file, and loaded before the socket started.
    const cmds = platform.sent.filter((s) => s.host === 'db1').map((s) => s.command);
    expect(cmds.indexOf('nft -c -f /etc/lms-ha/clustercheck.nft.lms-ha-candidate')).toBeGreaterThan(-1);
    expect(cmds.findIndex((c) => c.includes('reload-or-restart lms-ha-clustercheck-firewall.service'))).toBeLessThan(
      cmds.findIndex((c) => c.includes('enable --now lms-ha-clustercheck.socket')),
    );
    // Nothing deploy-lb sends could touch another table.
    expect(platform.commands().some((c) => /flush ruleset|nft (add|delete|flush)/.test(c))).toBe(false);
    expect((await run(platform, 'plan')).report.plan!.changes).toEqual([]);

    // Someone flushed the ruleset: the next run sees the missing table and loads it again.
    db1.fenceLoaded = false;
    const { report: drift } = await run(platform, 'plan');
    expect(rows(drift.plan!)).toEqual(['db1 service reload lms-ha-clustercheck-firewall.service']);
    expect(drift.plan!.changes[0]!.summary).toContain('the table is not loaded');
  });

  it("warns when the operator's ruleset drops a port the Galera peers or the load balancers need, and still changes nothing of it", async () => {
    const platform = new FakePlatform();
    const db1 = platform.host('db1');
    db1.packages['nftables'] = '1.0.6-2+deb12u2';
    db1.operatorTables = ['inet operator_filter'];
    // nft -j list ruleset of a table that drops 4444 for every source (fixture from a lab host).
    db1.rulesetJson = readFileSync(new URL('../lb/fixtures/nft/operator.json', import.meta.url), 'utf8').trim();
    const { report } = await run(platform, 'plan');
    const warnings = report.plan!.warnings.filter((w) => w.includes('nftables table'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^db1: nftables table inet operator_filter, chain input, drops tcp port 4444 \(Galera SST: rule \d+ drops it\) for every source\. A state transfer to db1 then fails: .*"State transfer to db1 failed: Broken pipe".* Let the other db nodes \(10\.0\.0\.12, 10\.0\.0\.13\) reach ports 4567, 4568, 4444 and the load balancers \(10\.0\.0\.21, 10\.0\.0\.22\) ports 3306 and 9200 in that table\.$/,
    );
    // The fence is still planned as usual; nothing touches the operator's table.
    expect(rows(report.plan!)).toContain('db1 file create /etc/lms-ha/clustercheck.nft');
    await converge(platform);
    expect(platform.commands().some((c) => /operator_filter|flush ruleset/.test(c))).toBe(false);
  });

  it('never puts a secret on a command line, in a log or in the rendered plan', async () => {
    const platform = new FakePlatform();
    const plan = await run(platform, 'plan');
    const apply = await run(platform, 'apply');
    const again = await run(platform, 'plan', inventory({ vip: '10.0.0.101/24' }));
    // A redactor that knows no secret: the plan itself must hold none.
    const blind = new Redactor();
    const rendered = [plan.report, apply.report, again.report].flatMap((r) => [
      renderPlanMarkdown(r.plan!, { redactor: blind }),
      renderPlanText(r.plan!),
      JSON.stringify(r.plan!.changes.map(changeData)),
    ]);
    const logs = [plan.context, apply.context, again.context].flatMap((c) => c.logger.lines);
    for (const secret of ALL_SECRET_FORMS) {
      for (const command of platform.commands()) expect(command).not.toContain(secret);
      for (const text of rendered) expect(text).not.toContain(secret);
      for (const line of logs) expect(line).not.toContain(secret);
    }
    // The secret reached the host only inside the 0600 file.
    expect(platform.host('lb1').file(KEEPALIVED_CONFIG_PATH)).toContain(`auth_pass ${ALL_SECRET_FORMS.at(-1)}`);
    const conf = again.report.plan!.changes.find((c) => c.kind === 'file' && c.path === KEEPALIVED_CONFIG_PATH)!;
    expect(conf.kind === 'file' && conf.sensitive).toBe(true);
    expect(renderPlanMarkdown(again.report.plan!, { redactor: blind })).toContain('sensitive');
  });
});

describe('deploy-lb (ProxySQL path) against fake hosts', () => {
  const text = inventory({ kind: 'proxysql', deb: true });

  function proxysqlPlatform(): FakePlatform {
    const platform = new FakePlatform();
    const context = fakeContext(platform, 'plan', text);
    const lb = context.environment.load_balancer!;
    if (lb.kind !== 'proxysql') throw new Error('test inventory is not proxysql');
    for (const n of LB) platform.host(n).proxysqlModel = proxysqlModelFor(context, lb);
    return platform;
  }

  it('plans the pinned package, the monitor account and every admin section on bare hosts', async () => {
    const platform = proxysqlPlatform();
    const { report } = await run(platform, 'plan', text);
    expect(report.error).toBeUndefined();
    const lbRows = (h: string) => [
      `${h} package install keepalived`,
      `${h} package install mariadb-client`,
      `${h} package install proxysql`,
      `${h} user create user keepalived_script`,
      `${h} service enable proxysql`,
      `${h} service start proxysql`,
      `${h} sql set variable mysql_variables`,
      `${h} sql set variable mysql_servers`,
      `${h} sql set user mysql_users`,
      `${h} sql set variable mysql_query_rules`,
      `${h} sql set variable admin_variables`,
      `${h} directory create /etc/keepalived`,
      `${h} file create /etc/keepalived/lms-ha-check-proxy.sh`,
      `${h} file create /etc/keepalived/lms-ha-notify.sh`,
      `${h} file create /etc/keepalived/keepalived.conf`,
      `${h} service enable keepalived`,
      `${h} service start keepalived`,
    ];
    expect(rows(report.plan!)).toEqual(["db1 sql create user 'lms_ha_monitor'@{10.0.0.21,10.0.0.22}", ...lbRows('lb1'), ...lbRows('lb2')]);
    const pkg = report.plan!.changes.find((c) => c.kind === 'package' && c.name === 'proxysql')!;
    expect(pkg.kind === 'package' && pkg.to).toBe(`${DEB.url} (sha256 ${DEB.sha256})`);
    expect(platform.writes).toEqual([]);
  });

  it('pushes the package fetched on the runner, configures through the admin SQL, then converges', async () => {
    const platform = proxysqlPlatform();
    let fetched = 0;
    const runner = createDeployLb({
      fetchPackage: async () => {
        fetched++;
        return Buffer.from('fake proxysql deb');
      },
    });
    const { report } = await run(platform, 'apply', text, runner);
    expect(report.apply?.error?.message).toBeUndefined();
    expect(report.apply!.status).toBe('ok');
    // Downloaded once on the runner, pushed to both LBs over the connection.
    expect(fetched).toBe(1);
    expect(platform.writes.filter((w) => w.path.startsWith(`${PROXYSQL_DEB_DIR}/`)).map((w) => w.host)).toEqual(['lb1', 'lb2']);
    expect(platform.host('lb1').packages['proxysql']).toBeDefined();
    expect(platform.host('lb1').proxysqlAdmin).toBe('adm-Secret-5521');
    expect(Object.keys(platform.monitor).sort()).toEqual(['10.0.0.21', '10.0.0.22']);
    // Admin credentials only ever on stdin; the plan shows none of them (not even the password hashes).
    const blind = new Redactor();
    const rendered = [renderPlanMarkdown(report.plan!, { redactor: blind }), JSON.stringify(report.plan!.changes.map(changeData)), renderPlanText(report.plan!)].join('\n');
    for (const secret of [...ALL_SECRET_FORMS, mysqlNativePasswordHash('app-Secret-9137'), mysqlNativePasswordHash('mon-Secret-7730')]) {
      for (const c of platform.commands()) expect(c).not.toContain(secret);
      expect(rendered).not.toContain(secret);
    }

    const second = await run(platform, 'apply', text, runner);
    expect(rows(second.report.plan!)).toEqual([]);
    expect(second.report.apply!.changed).toBe(false);
    expect(fetched).toBe(1);
  });

  it('converges on the first apply when the admin port opens 600 ms after the start returns (ProxySQL 2.7.1 is Type=forking)', async () => {
    const platform = proxysqlPlatform();
    platform.proxysqlAdminDelayMs = 600;
    const runner = createDeployLb({ fetchPackage: async () => Buffer.from('fake proxysql deb') });
    const { report } = await run(platform, 'apply', text, runner);
    expect(report.apply?.error?.message).toBeUndefined();
    expect(report.apply!.status).toBe('ok');
    for (const h of LB) {
      const sent = platform.sent.filter((s) => s.host === h).map((s) => s.command);
      const started = sent.indexOf('systemctl start proxysql');
      const probe = `systemctl is-active proxysql || true; ss -Hltn 'sport = :6032'`;
      const firstAdminSql = sent.findIndex((c, i) => i > started && c.includes('--defaults-extra-file="$cred"'));
      // Started, then asked until the port listened, and only then talked to.
      expect(started).toBeGreaterThan(-1);
      expect(sent.slice(started + 1, firstAdminSql).every((c) => c === probe)).toBe(true);
      expect(sent.slice(started + 1, firstAdminSql).length).toBeGreaterThan(1);
      expect(platform.host(h).proxysqlLive.size).toBe(5);
    }
  });

  it('re-applies only the admin section that drifted', async () => {
    const platform = proxysqlPlatform();
    const runner = createDeployLb({ fetchPackage: async () => Buffer.from('fake proxysql deb') });
    await run(platform, 'apply', text, runner);
    platform.host('lb2').proxysqlLive.delete('mysql_query_rules');
    const { report } = await run(platform, 'plan', text, runner);
    expect(rows(report.plan!)).toEqual(['lb2 sql set variable mysql_query_rules']);
  });

  it('stops when the package that arrived on the host does not have the pinned sha256', async () => {
    const platform = proxysqlPlatform();
    const runner = createDeployLb({ fetchPackage: async () => Buffer.from('cut short') });
    const { report } = await run(platform, 'apply', text, runner);
    expect(report.apply!.status).toBe('failed');
    expect(report.apply!.error!.message).toContain('the ProxySQL package pushed to lb1 does not have the pinned sha256');
    // Checked before dpkg saw it: nothing was installed.
    expect(platform.host('lb1').packages['proxysql']).toBeUndefined();
  });

  it('refuses a download whose sha256 is not the pinned one', async () => {
    const platform = proxysqlPlatform();
    const { fetchPinnedPackage } = await import('../../../src/commands/deploy-lb/fetch.js');
    expect(typeof fetchPinnedPackage).toBe('function');
    const runner = createDeployLb({
      fetchPackage: async () => {
        const { DeployError } = await import('../../../src/errors.js');
        throw new DeployError('invalid-input', 'the ProxySQL package has the wrong sha256');
      },
    });
    const { report } = await run(platform, 'apply', text, runner);
    expect(report.apply!.status).toBe('failed');
    expect(report.apply!.error!.reason).toBe('invalid-input');
  });
});
