import { describe, expect, it } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import {
  PROXYSQL_RUNTIME_QUERY,
  type ProxysqlModel,
  desiredProxysqlState,
  diffProxysqlRuntime,
  mariadbString,
  mysqlNativePasswordHash,
  parseBatchTsv,
  parseProxysqlRuntime,
  proxysqlMonitorAccountSql,
  proxysqlString,
  renderProxysqlAdminSql,
  sectionsToApply,
  unescapeBatchField,
} from '../../../src/components/proxysql/index.js';
import { SCRIPT_PREAMBLE } from '../../../src/components/galera/sql.js';

const openedx: ProxysqlModel = {
  dbNodes: [
    { name: 'db1', address: '10.1.0.11' },
    { name: 'db2', address: '10.1.0.12' },
    { name: 'db3', address: '10.1.0.13' },
  ],
  users: [{ name: 'edxapp001', password: 'app-secret', defaultSchema: 'edxapp' }],
  monitor: { username: 'monitor', password: "mon'secret" },
  adminPassword: 'admin-secret',
};
const APP_HASH = mysqlNativePasswordHash('app-secret');

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof DeployError ? e.reason : `not a DeployError: ${String(e)}`;
  }
  return 'no error';
}

describe('renderProxysqlAdminSql', () => {
  it('renders the whole admin script statement by statement', () => {
    expect(renderProxysqlAdminSql(openedx).sql).toBe(
      [
        '-- Rendered by lms-ha (deploy-lb) for the ProxySQL admin interface.',
        '-- Monitor account and Galera health check timing.',
        "UPDATE global_variables SET variable_value='monitor' WHERE variable_name='mysql-monitor_username';",
        "UPDATE global_variables SET variable_value='mon''secret' WHERE variable_name='mysql-monitor_password';",
        "UPDATE global_variables SET variable_value='1000' WHERE variable_name='mysql-monitor_galera_healthcheck_interval';",
        "UPDATE global_variables SET variable_value='800' WHERE variable_name='mysql-monitor_galera_healthcheck_timeout';",
        "UPDATE global_variables SET variable_value='3' WHERE variable_name='mysql-monitor_galera_healthcheck_max_timeout_count';",
        'LOAD MYSQL VARIABLES TO RUNTIME;',
        'SAVE MYSQL VARIABLES TO DISK;',
        '-- Backends (all in the writer hostgroup; the Galera monitor places them) and the Galera hostgroups.',
        'DELETE FROM mysql_servers;',
        "INSERT INTO mysql_servers (hostgroup_id,hostname,port,weight,max_connections,comment) VALUES (10,'10.1.0.11',3306,1000,1000,'lms-ha db1');",
        "INSERT INTO mysql_servers (hostgroup_id,hostname,port,weight,max_connections,comment) VALUES (10,'10.1.0.12',3306,990,1000,'lms-ha db2');",
        "INSERT INTO mysql_servers (hostgroup_id,hostname,port,weight,max_connections,comment) VALUES (10,'10.1.0.13',3306,980,1000,'lms-ha db3');",
        'DELETE FROM mysql_galera_hostgroups;',
        "INSERT INTO mysql_galera_hostgroups (writer_hostgroup,backup_writer_hostgroup,reader_hostgroup,offline_hostgroup,active,max_writers,writer_is_also_reader,max_transactions_behind,comment) VALUES (10,20,30,9999,1,1,2,100,'lms-ha');",
        'LOAD MYSQL SERVERS TO RUNTIME;',
        'SAVE MYSQL SERVERS TO DISK;',
        '-- Application users (password = mysql_native_password hash), writes by default.',
        'DELETE FROM mysql_users;',
        `INSERT INTO mysql_users (username,password,active,default_hostgroup,default_schema,transaction_persistent,max_connections,comment) VALUES ('edxapp001','${APP_HASH}',1,10,'edxapp',1,10000,'lms-ha');`,
        'LOAD MYSQL USERS TO RUNTIME;',
        'SAVE MYSQL USERS TO DISK;',
        '-- Read/write split: locking reads to the writer, other SELECTs to the readers.',
        'DELETE FROM mysql_query_rules;',
        "INSERT INTO mysql_query_rules (rule_id,active,match_digest,destination_hostgroup,apply,comment) VALUES (1,1,'^SELECT.*FOR UPDATE',10,1,'lms-ha: locking reads go to the writer');",
        "INSERT INTO mysql_query_rules (rule_id,active,match_digest,destination_hostgroup,apply,comment) VALUES (2,1,'^SELECT.*LOCK IN SHARE MODE',10,1,'lms-ha: locking reads go to the writer');",
        "INSERT INTO mysql_query_rules (rule_id,active,match_digest,destination_hostgroup,apply,comment) VALUES (3,1,'^SELECT',30,1,'lms-ha: other reads go to the readers');",
        'LOAD MYSQL QUERY RULES TO RUNTIME;',
        'SAVE MYSQL QUERY RULES TO DISK;',
        '-- Admin login off admin:admin, admin interface on loopback only (last: an earlier failure keeps the old login).',
        "UPDATE global_variables SET variable_value='admin:admin-secret' WHERE variable_name='admin-admin_credentials';",
        "UPDATE global_variables SET variable_value='127.0.0.1:6032' WHERE variable_name='admin-mysql_ifaces';",
        'LOAD ADMIN VARIABLES TO RUNTIME;',
        'SAVE ADMIN VARIABLES TO DISK;',
        '',
      ].join('\n'),
    );
  });

  it('loads each section to runtime, then saves it to disk, after its last change', () => {
    const lines = renderProxysqlAdminSql(openedx).sql.split('\n');
    const order = lines.filter((l) => /^(LOAD|SAVE) /.test(l));
    expect(order).toEqual([
      'LOAD MYSQL VARIABLES TO RUNTIME;',
      'SAVE MYSQL VARIABLES TO DISK;',
      'LOAD MYSQL SERVERS TO RUNTIME;',
      'SAVE MYSQL SERVERS TO DISK;',
      'LOAD MYSQL USERS TO RUNTIME;',
      'SAVE MYSQL USERS TO DISK;',
      'LOAD MYSQL QUERY RULES TO RUNTIME;',
      'SAVE MYSQL QUERY RULES TO DISK;',
      'LOAD ADMIN VARIABLES TO RUNTIME;',
      'SAVE ADMIN VARIABLES TO DISK;',
    ]);
    const last = (re: RegExp): number => lines.map((l, i) => (re.test(l) ? i : -1)).reduce((a, b) => Math.max(a, b));
    const first = (re: RegExp): number => lines.findIndex((l) => re.test(l));
    expect(last(/mysql_galera_hostgroups|INTO mysql_servers/)).toBeLessThan(first(/^LOAD MYSQL SERVERS/));
    expect(last(/mysql-monitor_/)).toBeLessThan(first(/^LOAD MYSQL VARIABLES/));
    expect(last(/admin-/)).toBeLessThan(first(/^LOAD ADMIN VARIABLES/));
    // The monitor can log in before it sees the servers; the admin login changes last.
    expect(first(/^LOAD MYSQL VARIABLES/)).toBeLessThan(first(/^LOAD MYSQL SERVERS/));
    expect(first(/admin-admin_credentials/)).toBeGreaterThan(first(/^SAVE MYSQL QUERY RULES/));
  });

  it('renders only the sections asked for, always in apply order', () => {
    const sql = renderProxysqlAdminSql(openedx, { sections: ['admin_variables', 'mysql_users'] }).sql;
    expect(sql.split('\n').filter((l) => /^(LOAD|SAVE) /.test(l))).toEqual([
      'LOAD MYSQL USERS TO RUNTIME;',
      'SAVE MYSQL USERS TO DISK;',
      'LOAD ADMIN VARIABLES TO RUNTIME;',
      'SAVE ADMIN VARIABLES TO DISK;',
    ]);
    expect(sql).not.toContain('mysql_servers');
  });

  it('redacts every secret (clear text, doubled quotes, hashes) in the printable copy', () => {
    const r = renderProxysqlAdminSql(openedx);
    expect(r.sql).toContain("'mon''secret'");
    for (const secret of ['app-secret', APP_HASH, "mon''secret", "mon'secret", 'admin-secret']) {
      expect(r.redacted).not.toContain(secret);
    }
    expect(r.redacted).toContain("variable_value='***' WHERE variable_name='mysql-monitor_password'");
    expect(r.redacted).toContain("variable_value='***' WHERE variable_name='admin-admin_credentials'");
    expect(r.redacted).toContain("VALUES ('edxapp001','***',1,10,'edxapp',1,10000,'lms-ha');");
    expect(r.secrets).toEqual(expect.arrayContaining(['app-secret', APP_HASH, "mon'secret", 'admin-secret', 'admin:admin-secret']));
  });

  it('never stores an application password in clear text', () => {
    expect(renderProxysqlAdminSql(openedx).sql).not.toContain('app-secret');
  });

  it('is deterministic', () => {
    expect(renderProxysqlAdminSql(structuredClone(openedx))).toEqual(renderProxysqlAdminSql(openedx));
  });

  it('hashes like MariaDB PASSWORD()', () => {
    expect(mysqlNativePasswordHash('password')).toBe('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
  });

  it('escapes quotes and refuses what the admin interface cannot take', () => {
    expect(proxysqlString("it's")).toBe("'it''s'");
    expect(reasonOf(() => proxysqlString('a\\b'))).toBe('invalid-input');
    expect(reasonOf(() => proxysqlString('a\nb'))).toBe('invalid-input');
    expect(reasonOf(() => renderProxysqlAdminSql({ ...openedx, monitor: { username: 'monitor', password: 'back\\slash' } }))).toBe('invalid-input');
    expect(reasonOf(() => renderProxysqlAdminSql({ ...openedx, adminPassword: 'a:b' }))).toBe('invalid-input');
    expect(reasonOf(() => renderProxysqlAdminSql({ ...openedx, adminPassword: 'a;b' }))).toBe('invalid-input');
    expect(reasonOf(() => renderProxysqlAdminSql({ ...openedx, adminPassword: '' }))).toBe('missing-secret');
    expect(reasonOf(() => renderProxysqlAdminSql({ ...openedx, users: [{ name: 'x', password: '' }] }))).toBe('missing-secret');
    // A backslash in an application password is fine: only its hash is sent.
    expect(reasonOf(() => renderProxysqlAdminSql({ ...openedx, users: [{ name: 'x', password: 'a\\b' }] }))).toBe('no error');
  });

  it('refuses broken models with invalid-inventory', () => {
    const bad: ProxysqlModel[] = [
      { ...openedx, dbNodes: [] },
      { ...openedx, dbNodes: [openedx.dbNodes[0], openedx.dbNodes[0]] },
      { ...openedx, dbNodes: [{ name: 'db1', address: "10.1.0.11'); DELETE FROM mysql_users; --" }] },
      { ...openedx, users: [{ name: "bob'", password: 'x' }] },
      { ...openedx, users: [openedx.users[0], openedx.users[0]] },
      { ...openedx, users: [{ name: 'monitor', password: 'x' }] },
      { ...openedx, adminInterface: '0.0.0.0' },
      { ...openedx, maxTransactionsBehind: -1 },
    ];
    for (const m of bad) expect(reasonOf(() => renderProxysqlAdminSql(m)), JSON.stringify(m)).toBe('invalid-inventory');
  });

  it('gives the writer the highest weight and the others descending weights', () => {
    expect(desiredProxysqlState(openedx).servers.map((s) => [s.hostname, s.weight])).toEqual([
      ['10.1.0.11', 1000],
      ['10.1.0.12', 990],
      ['10.1.0.13', 980],
    ]);
  });
});

describe('proxysqlMonitorAccountSql', () => {
  it('creates the monitor per load balancer, USAGE only, with MariaDB escaping', () => {
    const r = proxysqlMonitorAccountSql({ username: 'monitor', password: "a'b\\c" }, ['10.1.0.21', '10.1.0.22']);
    expect(r.sql).toBe(
      [
        '-- Rendered by lms-ha (deploy-lb): the ProxySQL monitor account, no privileges (USAGE).',
        ...SCRIPT_PREAMBLE.map((s) => `${s};`),
        "CREATE USER IF NOT EXISTS 'monitor'@'10.1.0.21' IDENTIFIED BY 'a\\'b\\\\c';",
        "ALTER USER 'monitor'@'10.1.0.21' IDENTIFIED BY 'a\\'b\\\\c';",
        "CREATE USER IF NOT EXISTS 'monitor'@'10.1.0.22' IDENTIFIED BY 'a\\'b\\\\c';",
        "ALTER USER 'monitor'@'10.1.0.22' IDENTIFIED BY 'a\\'b\\\\c';",
        '',
      ].join('\n'),
    );
    expect(r.sql).not.toMatch(/GRANT/);
    expect(r.redacted).not.toContain('a\\');
    expect(r.redacted).toContain("IDENTIFIED BY '***';");
    expect(mariadbString('x\ny\0')).toBe("'x\\ny\\0'");
  });

  it('refuses bad names and addresses', () => {
    expect(reasonOf(() => proxysqlMonitorAccountSql({ username: "m'", password: 'x' }, ['10.1.0.21']))).toBe('invalid-inventory');
    expect(reasonOf(() => proxysqlMonitorAccountSql({ username: 'm', password: 'x' }, ["10.1.0.21'"]))).toBe('invalid-inventory');
    expect(reasonOf(() => proxysqlMonitorAccountSql({ username: 'm', password: '' }, ['10.1.0.21']))).toBe('missing-secret');
  });
});

/** What `mysql -N -B` prints for PROXYSQL_RUNTIME_QUERY on a converged ProxySQL. */
function convergedOutput(overrides: { servers?: string[]; users?: string[]; rules?: string[]; galera?: string[]; variables?: string[] } = {}): string {
  const t = (...f: (string | number)[]): string => f.join('\t');
  const servers = overrides.servers ?? [
    // writer_is_also_reader=2: the writer only in 10, the others in 20 and 30.
    t(10, '10.1.0.11', 3306, 'ONLINE', 1000, 1000),
    t(20, '10.1.0.12', 3306, 'ONLINE', 990, 1000),
    t(20, '10.1.0.13', 3306, 'ONLINE', 980, 1000),
    t(30, '10.1.0.12', 3306, 'ONLINE', 990, 1000),
    t(30, '10.1.0.13', 3306, 'ONLINE', 980, 1000),
  ];
  const galera = overrides.galera ?? [t(10, 20, 30, 9999, 1, 1, 2, 100)];
  const rules = overrides.rules ?? [
    t(1, 1, 'NULL', '^SELECT.*FOR UPDATE', 'NULL', 10, 1),
    t(2, 1, 'NULL', '^SELECT.*LOCK IN SHARE MODE', 'NULL', 10, 1),
    t(3, 1, 'NULL', '^SELECT', 'NULL', 30, 1),
  ];
  const users = overrides.users ?? [
    t('edxapp001', APP_HASH, 1, 10, 'edxapp', 1, 10000, 0, 1),
    t('edxapp001', APP_HASH, 1, 10, 'edxapp', 1, 10000, 1, 0),
  ];
  const variables = overrides.variables ?? [
    t('admin-admin_credentials', 'admin:admin-secret'),
    t('admin-mysql_ifaces', '127.0.0.1:6032'),
    t('mysql-monitor_galera_healthcheck_interval', 1000),
    t('mysql-monitor_galera_healthcheck_max_timeout_count', 3),
    t('mysql-monitor_galera_healthcheck_timeout', 800),
    t('mysql-monitor_password', "mon'secret"),
    t('mysql-monitor_username', 'monitor'),
  ];
  return [
    'lms-ha:section servers',
    ...servers,
    'lms-ha:section galera',
    ...galera,
    'lms-ha:section rules',
    ...rules,
    'lms-ha:section users',
    ...users,
    'lms-ha:section variables',
    ...variables,
    '',
  ].join('\n');
}

describe('runtime: query and parsing', () => {
  it('asks each runtime table with explicit columns, behind a marker row', () => {
    for (const table of ['runtime_mysql_servers', 'runtime_mysql_galera_hostgroups', 'runtime_mysql_query_rules', 'runtime_mysql_users', 'runtime_global_variables']) {
      expect(PROXYSQL_RUNTIME_QUERY).toContain(` FROM ${table} `);
    }
    expect(PROXYSQL_RUNTIME_QUERY.split('\n').filter((l) => l.startsWith("SELECT 'lms-ha:section "))).toHaveLength(5);
    expect(PROXYSQL_RUNTIME_QUERY).not.toContain('SELECT *');
  });

  it('parses the batch output, NULLs and escapes included', () => {
    const runtime = parseProxysqlRuntime(convergedOutput());
    expect(runtime.servers).toHaveLength(5);
    expect(runtime.servers[0]).toEqual({ hostgroup_id: 10, hostname: '10.1.0.11', port: 3306, status: 'ONLINE', weight: 1000, max_connections: 1000 });
    expect(runtime.queryRules[0]).toEqual({
      rule_id: 1,
      active: 1,
      username: null,
      match_digest: '^SELECT.*FOR UPDATE',
      match_pattern: null,
      destination_hostgroup: 10,
      apply: 1,
    });
    expect(runtime.users.map((u) => [u.frontend, u.backend])).toEqual([
      [0, 1],
      [1, 0],
    ]);
    expect(runtime.variables['mysql-monitor_password']).toBe("mon'secret");
    expect(unescapeBatchField('a\\tb\\nc\\\\d')).toBe('a\tb\nc\\d');
    expect(unescapeBatchField('NULL')).toBeNull();
    expect(parseBatchTsv('a\tb\n\nc\\td\n')).toEqual([['a', 'b'], ['c\td']]);
  });
});

describe('diffProxysqlRuntime', () => {
  it('is empty when converged', () => {
    expect(diffProxysqlRuntime(openedx, parseProxysqlRuntime(convergedOutput()))).toEqual([]);
  });

  it('is still empty when the monitor moved nodes or marked them unhealthy (health, not configuration)', () => {
    const t = (...f: (string | number)[]): string => f.join('\t');
    const failedOver = convergedOutput({
      servers: [
        t(10, '10.1.0.12', 3306, 'ONLINE', 990, 1000),
        t(20, '10.1.0.13', 3306, 'ONLINE', 980, 1000),
        t(30, '10.1.0.13', 3306, 'SHUNNED', 980, 1000),
        t(9999, '10.1.0.11', 3306, 'ONLINE', 1000, 1000),
      ],
    });
    expect(diffProxysqlRuntime(openedx, parseProxysqlRuntime(failedOver))).toEqual([]);
  });

  it('lists exactly what differs, and never a secret', () => {
    const t = (...f: (string | number)[]): string => f.join('\t');
    const drifted = convergedOutput({
      servers: [
        t(10, '10.1.0.11', 3306, 'ONLINE', 1000, 1000),
        t(20, '10.1.0.12', 3306, 'ONLINE', 100, 1000),
        t(30, '10.1.0.12', 3306, 'ONLINE', 100, 1000),
        t(0, '10.1.0.99', 3306, 'ONLINE', 1, 1000),
      ],
      rules: [t(1, 1, 'NULL', '^SELECT.*FOR UPDATE', 'NULL', 10, 1), t(3, 1, 'NULL', '^SELECT', 'NULL', 10, 1), t(7, 1, 'NULL', '^UPDATE', 'NULL', 30, 1)],
      users: [t('edxapp001', '*0000000000000000000000000000000000000000', 1, 10, 'edxapp', 1, 10000, 0, 1), t('legacy', 'pw', 1, 0, 'NULL', 1, 10000, 1, 0)],
      variables: [
        t('admin-admin_credentials', 'admin:admin'),
        t('admin-mysql_ifaces', '0.0.0.0:6032'),
        t('mysql-monitor_galera_healthcheck_interval', 1000),
        t('mysql-monitor_galera_healthcheck_max_timeout_count', 3),
        t('mysql-monitor_galera_healthcheck_timeout', 800),
        t('mysql-monitor_password', 'monitor'),
        t('mysql-monitor_username', 'monitor'),
      ],
    });
    const changes = diffProxysqlRuntime(openedx, parseProxysqlRuntime(drifted));
    expect(changes).toEqual([
      { section: 'mysql_variables', action: 'modify', subject: 'mysql-monitor_password', detail: 'password changed' },
      { section: 'mysql_servers', action: 'remove', subject: 'server 10.1.0.99:3306', detail: 'in hostgroup 0, which lms-ha does not use' },
      { section: 'mysql_servers', action: 'modify', subject: 'server 10.1.0.12:3306', detail: 'weight 100 -> 990' },
      { section: 'mysql_servers', action: 'add', subject: 'server 10.1.0.13:3306', detail: 'weight 980' },
      { section: 'mysql_users', action: 'modify', subject: 'user edxapp001', detail: 'frontend/backend rows missing, password changed' },
      { section: 'mysql_users', action: 'remove', subject: 'user legacy', detail: 'not an application user of the inventory' },
      { section: 'mysql_query_rules', action: 'add', subject: 'rule 2', detail: '^SELECT.*LOCK IN SHARE MODE -> hostgroup 10' },
      { section: 'mysql_query_rules', action: 'modify', subject: 'rule 3', detail: 'destination_hostgroup 10 -> 30' },
      { section: 'mysql_query_rules', action: 'remove', subject: 'rule 7', detail: 'not a rule of lms-ha' },
      { section: 'admin_variables', action: 'modify', subject: 'admin-admin_credentials', detail: 'credentials changed' },
      { section: 'admin_variables', action: 'modify', subject: 'admin-mysql_ifaces', detail: '0.0.0.0:6032 -> 127.0.0.1:6032' },
    ]);
    const printed = JSON.stringify(changes);
    for (const secret of ["mon'secret", 'admin-secret', 'app-secret', APP_HASH, 'admin:admin']) expect(printed).not.toContain(secret);
    expect(sectionsToApply(changes)).toEqual(['mysql_variables', 'mysql_servers', 'mysql_users', 'mysql_query_rules', 'admin_variables']);
  });

  it('asks for one section when one thing drifted (minimal re-apply)', () => {
    const t = (...f: (string | number)[]): string => f.join('\t');
    const changes = diffProxysqlRuntime(openedx, parseProxysqlRuntime(convergedOutput({ galera: [t(10, 20, 30, 9999, 1, 1, 1, 100)] })));
    expect(changes).toEqual([{ section: 'mysql_servers', action: 'modify', subject: 'galera hostgroup 10', detail: 'writer_is_also_reader 1 -> 2' }]);
    expect(sectionsToApply(changes)).toEqual(['mysql_servers']);
    expect(renderProxysqlAdminSql(openedx, { sections: sectionsToApply(changes) }).sql).toContain('LOAD MYSQL SERVERS TO RUNTIME;');
  });

  it('sees a fresh ProxySQL (defaults, empty tables) as everything to add', () => {
    const fresh = parseProxysqlRuntime(
      [
        'lms-ha:section servers',
        'lms-ha:section galera',
        'lms-ha:section rules',
        'lms-ha:section users',
        'lms-ha:section variables',
        'admin-admin_credentials\tadmin:admin',
        'admin-mysql_ifaces\t0.0.0.0:6032',
        'mysql-monitor_password\tmonitor',
        'mysql-monitor_username\tmonitor',
        '',
      ].join('\n'),
    );
    const changes = diffProxysqlRuntime(openedx, fresh);
    expect(changes.filter((c) => c.action === 'add').map((c) => c.subject)).toEqual([
      'mysql-monitor_galera_healthcheck_interval',
      'mysql-monitor_galera_healthcheck_timeout',
      'mysql-monitor_galera_healthcheck_max_timeout_count',
      'server 10.1.0.11:3306',
      'server 10.1.0.12:3306',
      'server 10.1.0.13:3306',
      'galera hostgroup 10',
      'user edxapp001',
      'rule 1',
      'rule 2',
      'rule 3',
    ]);
    expect(sectionsToApply(changes)).toHaveLength(5);
  });

  it('accepts a precomputed desired state', () => {
    expect(diffProxysqlRuntime(desiredProxysqlState(openedx), parseProxysqlRuntime(convergedOutput()))).toEqual([]);
  });
});
