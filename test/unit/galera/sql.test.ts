import { describe, expect, it } from 'vitest';
import {
  type ActualAccount,
  type ParsedPrivilegeGrant,
  appAccounts,
  diffAccounts,
  diffDatabases,
  escapeGrantDatabase,
  galeraModel,
  grantSql,
  listAccountsSql,
  nativePasswordHash,
  parseAccounts,
  parseDatabases,
  parseGrantLine,
  parseSchemaProblems,
  parseShowGrants,
  quoteAccount,
  quoteIdent,
  quoteString,
  schemaProblemsSql,
  sstAccount,
  sstPrivileges,
  toStdinSql,
  createDatabaseSql,
  createUserSql,
  type AppUserSpec,
  type DesiredDatabase,
  type SqlStatement,
} from '../../../src/components/galera/index.js';

/** A statement as a reader checks it: secrets by name only. */
function toDisplaySql(statement: SqlStatement): string {
  return statement.parts.map((p) => (typeof p === 'string' ? p : `<secret ${p.secret}>`)).join('');
}

/** The accounts and databases the inventory's presets give (src/inventory/presets.ts). */
function presetUser(preset: 'moodle' | 'openedx', opts: { hosts: string[]; passwordSecret: string }): AppUserSpec {
  const databases = preset === 'moodle' ? ['moodle'] : ['edxapp', 'edxapp_csmh'];
  return { user: preset === 'moodle' ? 'moodle' : 'edxapp001', hosts: opts.hosts, passwordSecret: opts.passwordSecret, databases };
}

function databases(...names: string[]): DesiredDatabase[] {
  return names.map((name) => ({ name, charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' }));
}
import { DeployError } from '../../../src/errors.js';

const nodes = [
  { name: 'db1', address: '10.0.0.11' },
  { name: 'db2', address: '10.0.0.12' },
  { name: 'db3', address: '10.0.0.13' },
];

describe('escaping', () => {
  it('quotes string literals: quotes, backslashes, control characters, unicode', () => {
    expect(quoteString("O'Brien")).toBe("'O\\'Brien'");
    expect(quoteString('a\\b')).toBe("'a\\\\b'");
    expect(quoteString('say "hi"')).toBe("'say \\\"hi\\\"'");
    expect(quoteString('l1\nl2\r\0\x1a')).toBe("'l1\\nl2\\r\\0\\Z'");
    expect(quoteString('pässwörd-日本-🔑')).toBe("'pässwörd-日本-🔑'");
    // The classic injection stays one literal.
    expect(quoteString("x'; DROP DATABASE moodle; --")).toBe("'x\\'; DROP DATABASE moodle; --'");
    expect(quoteString("\\'")).toBe("'\\\\\\''");
  });

  it('quotes identifiers with backticks and doubles backticks', () => {
    expect(quoteIdent('moodle')).toBe('`moodle`');
    expect(quoteIdent('we`ird')).toBe('`we``ird`');
    expect(quoteIdent('ünïcode')).toBe('`ünïcode`');
    expect(() => quoteIdent('')).toThrow();
    expect(() => quoteIdent('x'.repeat(65))).toThrow();
    expect(() => quoteIdent('trailing ')).toThrow();
  });

  it('quotes accounts and escapes grant wildcards in database names', () => {
    expect(quoteAccount('moodle', '10.0.0.%')).toBe("'moodle'@'10.0.0.%'");
    expect(escapeGrantDatabase('edxapp_csmh')).toBe('edxapp\\_csmh');
    expect(grantSql(['ALL'], 'edxapp_csmh', undefined, 'edxapp001', '10.0.0.%')).toEqual({
      parts: ["GRANT ALL PRIVILEGES ON `edxapp\\_csmh`.* TO 'edxapp001'@'10.0.0.%'"],
    });
  });
});

describe('secrets travel only in the stdin script', () => {
  const s = createUserSql('moodle', '10.0.0.%', { kind: 'password', secret: 'MOODLE_DB_PASSWORD' });

  it('shows the secret by name in plans', () => {
    expect(toDisplaySql(s)).toBe("CREATE USER IF NOT EXISTS 'moodle'@'10.0.0.%' IDENTIFIED BY <secret MOODLE_DB_PASSWORD>");
  });

  it('substitutes the escaped value for stdin, after a preamble that makes the escaping valid', () => {
    const script = toStdinSql([s, createDatabaseSql({ name: 'moodle', charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' })], {
      MOODLE_DB_PASSWORD: "p'w\\ö",
    });
    const lines = script.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SET SESSION sql_mode = .*NO_BACKSLASH_ESCAPES.*;$/);
    expect(lines[0]).not.toContain('\\');
    expect(lines[1]).toBe('SET NAMES utf8mb4;');
    expect(lines[2]).toBe("CREATE USER IF NOT EXISTS 'moodle'@'10.0.0.%' IDENTIFIED BY 'p\\'w\\\\ö';");
    expect(lines[3]).toBe('CREATE DATABASE IF NOT EXISTS `moodle` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;');
  });

  it('fails with missing-secret when the value is absent', () => {
    try {
      toStdinSql([s], {});
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DeployError);
      expect((e as DeployError).reason).toBe('missing-secret');
      expect((e as DeployError).message).toContain('MOODLE_DB_PASSWORD');
    }
  });
});

describe('SST account', () => {
  it('grants what mariadb-backup needs, per version', () => {
    expect(sstPrivileges('10.11')).toEqual(['RELOAD', 'PROCESS', 'LOCK TABLES', 'BINLOG MONITOR', 'SLAVE MONITOR']);
    expect(sstPrivileges('10.5')).toEqual(['RELOAD', 'PROCESS', 'LOCK TABLES', 'BINLOG MONITOR']);
    expect(sstPrivileges('10.4')).toEqual(['RELOAD', 'PROCESS', 'LOCK TABLES', 'REPLICATION CLIENT']);
  });

  it('unix_socket: mysql@localhost, created if missing, never revoked', () => {
    const acct = sstAccount(galeraModel({ clusterName: 'c', nodes }))!;
    expect(acct).toMatchObject({ user: 'mysql', host: 'localhost', auth: { kind: 'unix_socket' }, exactGrants: false });
    const fresh = diffAccounts([acct], [], {});
    expect(fresh.map((c) => c.description)).toEqual([
      "create user 'mysql'@'localhost' (unix_socket, no password)",
      "grant RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR on *.* to 'mysql'@'localhost'",
    ]);
    expect(fresh.flatMap((c) => c.statements.map(toDisplaySql))).toEqual([
      "CREATE USER IF NOT EXISTS 'mysql'@'localhost' IDENTIFIED VIA unix_socket",
      "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'mysql'@'localhost'",
    ]);
    // What the 10.11 installer already created: nothing to do.
    const installed: ActualAccount = {
      user: 'mysql',
      host: 'localhost',
      grants: parseShowGrants(
        "GRANT ALL PRIVILEGES ON *.* TO `mysql`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION\n",
      ),
    };
    expect(diffAccounts([acct], [installed], {})).toEqual([]);
  });

  it('password auth on 10.4 uses REPLICATION CLIENT', () => {
    const acct = sstAccount(galeraModel({ clusterName: 'c', nodes, version: '10.4', sst: { auth: 'password', user: 'sst', passwordSecret: 'SST_PW' } }))!;
    const changes = diffAccounts([acct], [], { SST_PW: 'x' }, { version: '10.4' });
    expect(changes.flatMap((c) => c.statements.map(toDisplaySql))).toEqual([
      "CREATE USER IF NOT EXISTS 'sst'@'localhost' IDENTIFIED BY <secret SST_PW>",
      "GRANT RELOAD, PROCESS, LOCK TABLES, REPLICATION CLIENT ON *.* TO 'sst'@'localhost'",
    ]);
  });

  it('rsync needs no account', () => {
    expect(sstAccount(galeraModel({ clusterName: 'c', nodes, sst: { method: 'rsync' } }))).toBeNull();
  });
});

describe('SHOW GRANTS parsing', () => {
  it('parses a native-password account with a database grant', () => {
    const [usage, db] = parseShowGrants(
      [
        "GRANT USAGE ON *.* TO `moodle`@`10.0.0.%` IDENTIFIED BY PASSWORD '*94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29'",
        'GRANT ALL PRIVILEGES ON `moodle`.* TO `moodle`@`10.0.0.%`',
      ].join('\n'),
    ) as ParsedPrivilegeGrant[];
    expect(usage).toMatchObject({
      kind: 'privileges',
      user: 'moodle',
      host: '10.0.0.%',
      privileges: ['USAGE'],
      db: '*',
      table: '*',
      auth: { plugins: [{ plugin: 'mysql_native_password', data: '*94BDCEBE19083CE2A1F959FD02F964C7AF4CFC29' }] },
    });
    expect(db).toMatchObject({ privileges: ['ALL PRIVILEGES'], db: 'moodle', table: '*', grantOption: false, auth: null });
  });

  it('undoes mysql -B escaping so wildcard escapes survive', () => {
    const [g] = parseShowGrants('GRANT ALL PRIVILEGES ON `edxapp\\\\_csmh`.* TO `edxapp001`@`%`\n') as ParsedPrivilegeGrant[];
    expect(g!.db).toBe('edxapp\\_csmh');
  });

  it('parses table and column grants, aliases, grant option, proxy and role lines', () => {
    const t = parseGrantLine('GRANT SELECT, INSERT ON `shop`.`orders` TO `app`@`localhost` WITH GRANT OPTION') as ParsedPrivilegeGrant;
    expect(t).toMatchObject({ privileges: ['SELECT', 'INSERT'], db: 'shop', table: 'orders', grantOption: true });
    const c = parseGrantLine('GRANT SELECT (`id`, `name`), UPDATE (`name`) ON `shop`.`users` TO `app`@`%`') as ParsedPrivilegeGrant;
    expect(c.privileges).toEqual(['SELECT (id, name)', 'UPDATE (name)']);
    const a = parseGrantLine('GRANT REPLICATION CLIENT, REPLICA MONITOR ON *.* TO `m`@`localhost`') as ParsedPrivilegeGrant;
    expect(a.privileges).toEqual(['BINLOG MONITOR', 'SLAVE MONITOR']);
    expect(parseGrantLine("GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION").kind).toBe('proxy');
    expect(parseGrantLine('GRANT `app_role` TO `app`@`%`').kind).toBe('role');
    expect(parseGrantLine('nonsense').kind).toBe('unparsed');
    const q = parseGrantLine("GRANT USAGE ON *.* TO `o'k`@`h``x` IDENTIFIED VIA ed25519 USING 'abc\\'d'") as ParsedPrivilegeGrant;
    expect(q).toMatchObject({ user: "o'k", host: 'h`x', auth: { plugins: [{ plugin: 'ed25519', data: "abc'd" }] } });
  });
});

describe('diffAccounts', () => {
  const secrets = { MOODLE_DB_PASSWORD: 's3cr3t-ü' };
  const spec = presetUser('moodle', { hosts: ['10.0.0.%', '192.168.30.111'], passwordSecret: 'MOODLE_DB_PASSWORD' });
  const desired = appAccounts(spec);

  function existing(host: string, password: string, dbLine = 'GRANT ALL PRIVILEGES ON `moodle`.* TO `moodle`@`HOST`'): ActualAccount {
    return {
      user: 'moodle',
      host,
      grants: parseShowGrants(
        [`GRANT USAGE ON *.* TO \`moodle\`@\`${host}\` IDENTIFIED BY PASSWORD '${nativePasswordHash(password)}'`, dbLine.replace('HOST', host)].join('\n'),
      ),
    };
  }

  it('computes the native hash MariaDB stores', () => {
    // PASSWORD('password') in MariaDB/MySQL.
    expect(nativePasswordHash('password')).toBe('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
  });

  it('creates users per host pattern with their grants', () => {
    const changes = diffAccounts(desired, [], secrets);
    expect(changes.map((c) => c.description)).toEqual([
      "create user 'moodle'@'10.0.0.%'",
      "grant ALL PRIVILEGES on `moodle`.* to 'moodle'@'10.0.0.%'",
      "create user 'moodle'@'192.168.30.111'",
      "grant ALL PRIVILEGES on `moodle`.* to 'moodle'@'192.168.30.111'",
    ]);
    expect(JSON.stringify(changes)).not.toContain('s3cr3t');
  });

  it('reports nothing when users, passwords and grants match', () => {
    expect(diffAccounts(desired, [existing('10.0.0.%', secrets.MOODLE_DB_PASSWORD), existing('192.168.30.111', secrets.MOODLE_DB_PASSWORD)], secrets)).toEqual([]);
  });

  it('says "password changed" without the value', () => {
    const changes = diffAccounts(desired, [existing('10.0.0.%', 'old'), existing('192.168.30.111', secrets.MOODLE_DB_PASSWORD)], secrets);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ kind: 'password-changed', description: "password changed for 'moodle'@'10.0.0.%'", destructive: false });
    expect(toDisplaySql(changes[0]!.statements[0]!)).toBe("ALTER USER 'moodle'@'10.0.0.%' IDENTIFIED BY <secret MOODLE_DB_PASSWORD>");
    expect(JSON.stringify(changes)).not.toContain('s3cr3t');
    expect(JSON.stringify(changes)).not.toContain(nativePasswordHash(secrets.MOODLE_DB_PASSWORD));
  });

  it('grants only what is missing and revokes extras on an exact account', () => {
    const partial = existing('10.0.0.%', secrets.MOODLE_DB_PASSWORD, 'GRANT SELECT, INSERT ON `moodle`.* TO `moodle`@`HOST`');
    partial.grants.push(parseGrantLine('GRANT SELECT ON `other`.* TO `moodle`@`10.0.0.%` WITH GRANT OPTION'));
    const changes = diffAccounts([desired[0]!], [partial], secrets);
    expect(changes.map((c) => [c.kind, c.description, c.destructive])).toEqual([
      ['grant', "grant ALL PRIVILEGES on `moodle`.* to 'moodle'@'10.0.0.%'", false],
      ['revoke', "revoke SELECT on `other`.* from 'moodle'@'10.0.0.%'", true],
      ['revoke', "revoke GRANT OPTION on `other`.* from 'moodle'@'10.0.0.%'", true],
    ]);
  });

  it('narrows an existing ALL to a privilege list (revoke, then grant)', () => {
    const d = appAccounts({ ...spec, hosts: ['10.0.0.%'], privileges: ['SELECT', 'INSERT'] });
    const changes = diffAccounts(d, [existing('10.0.0.%', secrets.MOODLE_DB_PASSWORD)], secrets);
    expect(changes.flatMap((c) => c.statements.map(toDisplaySql))).toEqual([
      "REVOKE ALL PRIVILEGES ON `moodle`.* FROM 'moodle'@'10.0.0.%'",
      "GRANT SELECT, INSERT ON `moodle`.* TO 'moodle'@'10.0.0.%'",
    ]);
  });

  it('matches escaped wildcard database names (Open edX edxapp_csmh)', () => {
    const edx = appAccounts(presetUser('openedx', { hosts: ['%'], passwordSecret: 'EDX' }));
    const actual: ActualAccount = {
      user: 'edxapp001',
      host: '%',
      grants: parseShowGrants(
        [
          `GRANT USAGE ON *.* TO \`edxapp001\`@\`%\` IDENTIFIED BY PASSWORD '${nativePasswordHash('e')}'`,
          'GRANT ALL PRIVILEGES ON `edxapp`.* TO `edxapp001`@`%`',
          'GRANT ALL PRIVILEGES ON `edxapp\\\\_csmh`.* TO `edxapp001`@`%`',
        ].join('\n'),
      ),
    };
    expect(diffAccounts(edx, [actual], { EDX: 'e' })).toEqual([]);
    // An unescaped (wildcard) grant is a different object: replaced by the exact one.
    actual.grants[2] = parseGrantLine('GRANT ALL PRIVILEGES ON `edxapp_csmh`.* TO `edxapp001`@`%`');
    expect(diffAccounts(edx, [actual], { EDX: 'e' }).map((c) => c.description)).toEqual([
      "grant ALL PRIVILEGES on `edxapp_csmh`.* to 'edxapp001'@'%'",
      "revoke ALL PRIVILEGES on `edxapp_csmh`.* from 'edxapp001'@'%'",
    ]);
    expect(diffAccounts(edx, [actual], { EDX: 'e' })[1]!.statements.map(toDisplaySql)).toEqual([
      "REVOKE ALL PRIVILEGES ON `edxapp_csmh`.* FROM 'edxapp001'@'%'",
    ]);
  });

  it('drops hosts no longer in the inventory only for managed users', () => {
    const stale = existing('172.16.0.5', secrets.MOODLE_DB_PASSWORD);
    const current = [existing('10.0.0.%', secrets.MOODLE_DB_PASSWORD), existing('192.168.30.111', secrets.MOODLE_DB_PASSWORD), stale];
    expect(diffAccounts(desired, current, secrets)).toEqual([]);
    const changes = diffAccounts(desired, current, secrets, { managedUsers: ['moodle'] });
    expect(changes).toEqual([
      {
        kind: 'drop-user',
        description: "drop user 'moodle'@'172.16.0.5' (host no longer in the inventory)",
        statements: [{ parts: ["DROP USER IF EXISTS 'moodle'@'172.16.0.5'"] }],
        destructive: true,
      },
    ]);
  });

  it('needs the secret to compare passwords', () => {
    expect(() => diffAccounts(desired, [existing('10.0.0.%', 'x')], {})).toThrow(/MOODLE_DB_PASSWORD/);
  });

  it('switches an account to unix_socket when it authenticates otherwise', () => {
    const acct = sstAccount(galeraModel({ clusterName: 'c', nodes }))!;
    const pw: ActualAccount = {
      user: 'mysql',
      host: 'localhost',
      grants: parseShowGrants("GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO `mysql`@`localhost` IDENTIFIED BY PASSWORD '*AAAA'"),
    };
    expect(diffAccounts([acct], [pw], {}).map((c) => c.kind)).toEqual(['auth-changed']);
  });
});

describe('databases', () => {
  it('creates missing databases and fixes a wrong default charset', () => {
    const actual = parseDatabases('edxapp\tutf8\tutf8_general_ci\n');
    const changes = diffDatabases(databases('edxapp', 'edxapp_csmh'), actual);
    expect(changes.map((c) => [c.kind, toDisplaySql(c.statements[0]!)])).toEqual([
      ['alter-database', 'ALTER DATABASE `edxapp` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci'],
      ['create-database', 'CREATE DATABASE IF NOT EXISTS `edxapp_csmh` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci'],
    ]);
    expect(diffDatabases(databases('moodle'), parseDatabases('moodle\tutf8mb4\tutf8mb4_unicode_ci\n'))).toEqual([]);
  });
});

describe('fact queries', () => {
  it('lists accounts with escaped names', () => {
    expect(listAccountsSql(['moodle', "o'k"])).toBe(
      "SELECT User, Host FROM mysql.user WHERE User IN ('moodle', 'o\\'k') ORDER BY User, Host",
    );
    expect(parseAccounts('moodle\t10.0.0.%\nmoodle\tlocalhost\n')).toEqual([
      { user: 'moodle', host: '10.0.0.%' },
      { user: 'moodle', host: 'localhost' },
    ]);
  });

  it('finds tables without a primary key or not InnoDB outside the system schemas', () => {
    const q = schemaProblemsSql();
    expect(q).toContain("t.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')");
    expect(q).toContain("t.TABLE_TYPE = 'BASE TABLE'");
    expect(q).toContain("CONSTRAINT_TYPE = 'PRIMARY KEY'");
    expect(q).toContain("IFNULL(t.ENGINE, '') <> 'InnoDB'");
    expect(schemaProblemsSql(['moodle'])).toContain("t.TABLE_SCHEMA IN ('moodle')");
    expect(parseSchemaProblems('moodle\tmdl_log\tMyISAM\t1\nmoodle\tmdl_tmp\tInnoDB\t0\n')).toEqual([
      { schema: 'moodle', table: 'mdl_log', engine: 'MyISAM', hasPrimaryKey: true, problems: [expect.stringContaining('engine MyISAM')] },
      { schema: 'moodle', table: 'mdl_tmp', engine: 'InnoDB', hasPrimaryKey: false, problems: ['no primary key (Galera needs one on every table)'] },
    ]);
  });
});
