import { describe, expect, it } from 'vitest';
import { assertReplicable, checksumScript, classifyTables, columnsQuery, compareTableChecksums, conversionStatements, dumpPlan, freeKeyColumnName, importCommand, inventoryQuery, parseRowCounts, parseSchemaSizes, passwordStdin, rowCountsQuery, schemaSizesQuery, sourceConnectionArgs, sourceQueryCommand, targetNotEmptyError, nonReplicableError, parseChecksums, parseColumns, parseTableInventory, tableChecksumSql } from '../../../src/components/migrate/database.js';
import { DeployError } from '../../../src/errors.js';

// `mariadb -N -B` output of inventoryQuery on a small Moodle-like source:
// one MyISAM log table, one table without a key, one MEMORY table with an
// AUTO_INCREMENT but no primary key, the rest fine.
const INVENTORY = [
  'moodle\tmdl_config\tInnoDB\t1\tid\t512',
  'moodle\tmdl_legacy_log\tMyISAM\t1\tid\t120345',
  'moodle\tmdl_stats_tmp\tInnoDB\t0\t\t3000',
  'moodle\tmdl_cache_mem\tMEMORY\t0\tseq\t10',
  'moodle\tmdl_user\tInnoDB\t1\tid\t2400',
  '',
].join('\n');

const COLUMNS = [
  'moodle\tmdl_config\tid',
  'moodle\tmdl_config\tname',
  'moodle\tmdl_config\tvalue',
  'moodle\tmdl_legacy_log\tid',
  'moodle\tmdl_legacy_log\ttime',
  'moodle\tmdl_legacy_log\tinfo',
  'moodle\tmdl_stats_tmp\tID',
  'moodle\tmdl_stats_tmp\tcourseid',
  'moodle\tmdl_stats_tmp\tstat\\tname',
  'moodle\tmdl_cache_mem\tseq',
  'moodle\tmdl_cache_mem\tv',
  'moodle\tmdl_user\tid',
  'moodle\tmdl_user\tusername',
  '',
].join('\n');

const tables = parseTableInventory(INVENTORY);
const columns = parseColumns(COLUMNS);

describe('inventory', () => {
  it('asks for base tables of the named schemas only', () => {
    const q = inventoryQuery(['moodle', "we'ird"]);
    expect(q).toContain("t.TABLE_SCHEMA IN ('moodle', 'we\\'ird')");
    expect(q).toContain("t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')");
    expect(q).toContain("CONSTRAINT_TYPE = 'PRIMARY KEY'");
    expect(columnsQuery(['moodle'])).toContain('ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION');
  });
  it('never touches system schemas', () => {
    for (const s of ['mysql', 'information_schema', 'Performance_Schema', 'sys']) expect(() => inventoryQuery([s])).toThrow(DeployError);
    expect(() => inventoryQuery([])).toThrow(DeployError);
  });
  it('parses tables and columns (batch escapes undone)', () => {
    expect(tables[1]).toEqual({ schema: 'moodle', table: 'mdl_legacy_log', engine: 'MyISAM', hasPrimaryKey: true, autoIncrementColumn: 'id', estimatedRows: 120345 });
    expect(tables[2]!.autoIncrementColumn).toBeNull();
    expect(columns.get('moodle.mdl_stats_tmp')).toEqual(['ID', 'courseid', 'stat\tname']);
  });
});

describe('refusal and conversion', () => {
  it('classifies each problem table with its reasons', () => {
    expect(classifyTables(tables)).toEqual([
      { schema: 'moodle', table: 'mdl_legacy_log', reasons: ['engine'], engine: 'MyISAM' },
      { schema: 'moodle', table: 'mdl_stats_tmp', reasons: ['no-primary-key'], engine: 'InnoDB' },
      { schema: 'moodle', table: 'mdl_cache_mem', reasons: ['engine', 'no-primary-key'], engine: 'MEMORY' },
    ]);
  });

  it('refuses naming every table and the option to set', () => {
    let err: DeployError | undefined;
    try {
      assertReplicable(tables, false);
    } catch (e) {
      err = e as DeployError;
    }
    expect(err).toBeInstanceOf(DeployError);
    expect(err!.reason).toBe('preflight-failed');
    expect(err!.message).toBe(
      '3 table(s) cannot be replicated by Galera as they are:\n' +
        '  moodle.mdl_legacy_log: engine MyISAM (Galera replicates only InnoDB)\n' +
        '  moodle.mdl_stats_tmp: no primary key\n' +
        '  moodle.mdl_cache_mem: engine MEMORY (Galera replicates only InnoDB), no primary key',
    );
    expect(err!.hint).toMatch(/^Set migrate\.database\.convert_tables: true/);
    expect(err!.host).toBeUndefined();
    expect(() => assertReplicable(tables, false, undefined, 'old1')).toThrow(expect.objectContaining({ host: 'old1' }));
    expect(nonReplicableError(classifyTables(tables), 'convert-tables').hint).toMatch(/^Set convert-tables: true/);
  });

  it('passes when conversion is asked for, or when nothing is wrong', () => {
    expect(assertReplicable(tables, true)).toHaveLength(3);
    expect(assertReplicable([tables[0]!, tables[4]!], false)).toEqual([]);
  });

  it('picks a key column name that does not clash, case-insensitively', () => {
    expect(freeKeyColumnName(['a', 'b'])).toBe('id');
    expect(freeKeyColumnName(['ID', 'b'])).toBe('lmsha_id');
    expect(freeKeyColumnName(['id', 'LMSHA_ID', 'lmsha_id_2'])).toBe('lmsha_id_3');
  });

  it('writes one ALTER per table: engine, an added key, or the AUTO_INCREMENT column as key', () => {
    const c = conversionStatements(tables, columns);
    expect(c.map((x) => x.sql)).toEqual([
      'ALTER TABLE `moodle`.`mdl_legacy_log` ENGINE=InnoDB;',
      'ALTER TABLE `moodle`.`mdl_stats_tmp` ADD COLUMN `lmsha_id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY;',
      'ALTER TABLE `moodle`.`mdl_cache_mem` ENGINE=InnoDB, ADD PRIMARY KEY (`seq`);',
    ]);
    expect(c[1]!.addedColumn).toBe('lmsha_id');
    expect(c[2]!.addedColumn).toBeUndefined();
    expect(c[2]!.summary).toBe('moodle.mdl_cache_mem: engine MEMORY -> InnoDB; primary key on its AUTO_INCREMENT column seq');
  });
});

describe('dump plan', () => {
  it('is one consistent-snapshot dump when nothing needs converting', () => {
    const p = dumpPlan({ schemas: ['moodle'], lockAllTables: false, convert: false });
    expect(p).toHaveLength(1);
    expect(p[0]!.name).toBe('full');
    expect(p[0]!.source).toBe(
      'LC_ALL=C exec "$(command -v mariadb-dump || command -v mysqldump)" --default-character-set=utf8mb4 --skip-add-locks --single-transaction --quick --routines --triggers --events --databases moodle',
    );
    expect(p[0]!.target).toBe('exec "$(command -v mariadb || command -v mysql)" --default-character-set=utf8mb4 --batch');
  });

  it('locks all tables when a non-transactional table is dumped', () => {
    const p = dumpPlan({ schemas: ['moodle'], lockAllTables: true, convert: false });
    expect(p[0]!.source).toContain('--lock-all-tables');
    expect(p[0]!.source).not.toContain('--single-transaction');
  });

  it('phases schema, conversion, data with column names, then triggers and events', () => {
    const conv = conversionStatements(tables, columns);
    const p = dumpPlan({ schemas: ['moodle', 'moodle_extra'], lockAllTables: true, convert: true, source: { user: 'dumper', port: 3306, password: true } }, conv);
    expect(p.map((s) => s.name)).toEqual(['schema', 'convert', 'data', 'programs']);
    // The password is read from stdin into the environment, never put on the command line.
    expect(p[0]!.source).toMatch(/^IFS= read -r MYSQL_PWD && export MYSQL_PWD && LC_ALL=C exec "\$\(command -v mariadb-dump \|\| command -v mysqldump\)" --user=dumper --default-character-set=utf8mb4/);
    expect(p[0]!.source).toContain('--no-data --skip-triggers --routines --databases moodle moodle_extra');
    expect(p[1]!.source).toBeUndefined();
    expect(p[1]!.sql).toBe(`${conv.map((c) => c.sql).join('\n')}\n`);
    expect(p[2]!.source).toContain('--no-create-info --no-create-db --skip-triggers --complete-insert');
    expect(p[3]!.source).toContain('--no-data --no-create-info --no-create-db --triggers --events');
    expect(p[3]!.source).not.toContain('--routines');
    expect(p[2]!.target).toBe(importCommand());
  });

  it('reaches a source on another port over loopback TCP, and keeps passwords off command lines', () => {
    const conn = { user: 'root', port: 3307, password: false };
    expect(sourceConnectionArgs(conn)).toEqual(['--user=root', '--protocol=tcp', '--host=127.0.0.1', '--port=3307']);
    expect(sourceQueryCommand(conn)).toBe('exec "$(command -v mariadb || command -v mysql)" --user=root --protocol=tcp --host=127.0.0.1 --port=3307 --default-character-set=utf8mb4 --batch -N');
    expect(passwordStdin(conn, 'ignored')).toBe('');
    const withPw = { user: 'dumper', port: 3306, password: true };
    expect(sourceQueryCommand(withPw)).toMatch(/^IFS= read -r MYSQL_PWD && export MYSQL_PWD && exec /);
    expect(passwordStdin(withPw, `p a$'s"`)).toBe(`p a$'s"\n`);
    expect(() => passwordStdin(withPw, 'two\nlines')).toThrow(DeployError);
    expect(() => passwordStdin(withPw, undefined)).toThrow(/password is missing/);
  });

  it('refuses to import over existing tables, naming them', () => {
    expect(targetNotEmptyError(['moodle.mdl_user']).message).toMatch(/already has 1 table\(s\).*moodle\.mdl_user/);
    const e = targetNotEmptyError(['moodle.a', 'moodle.b'], 'db1', ['moodle.a: 3 rows vs 2']);
    expect(e.host).toBe('db1');
    expect(e.message).toBe('the cluster already has 2 table(s) in the target databases (moodle.a, moodle.b); they differ from the source: moodle.a: 3 rows vs 2; the import would drop and replace them');
    expect(e.hint).toMatch(/DROP DATABASE/);
  });

  it('counts rows exactly in one query and reads sizes per schema', () => {
    expect(rowCountsQuery([{ schema: 'moodle', table: 'a' }, { schema: 'moodle', table: 'b`c' }])).toBe(
      "SELECT 'moodle', 'a', COUNT(*) FROM `moodle`.`a`\nUNION ALL SELECT 'moodle', 'b`c', COUNT(*) FROM `moodle`.`b``c`;",
    );
    expect(rowCountsQuery([])).toBe('');
    expect(parseRowCounts('moodle\ta\t12\nmoodle\tb`c\t0\n')).toEqual(new Map([['moodle.a', 12], ['moodle.b`c', 0]]));
    expect(() => parseRowCounts('moodle\ta\n')).toThrow(/unexpected/);
    expect(schemaSizesQuery(['moodle'])).toContain("WHERE TABLE_SCHEMA IN ('moodle') GROUP BY TABLE_SCHEMA");
    expect(parseSchemaSizes('moodle\t16384\n')).toEqual(new Map([['moodle', 16384]]));
  });
});

describe('verification', () => {
  it('builds an engine-independent checksum from the source column list', () => {
    expect(tableChecksumSql('moodle', 'mdl_config', ['id', 'name'])).toBe(
      "SELECT 'moodle', 'mdl_config', COUNT(*), COALESCE(SUM(CRC32(r)), 0), COALESCE(BIT_XOR(CAST(CONV(LEFT(MD5(r), 16), 16, 10) AS UNSIGNED)), 0) " +
        "FROM (SELECT CONCAT_WS('#', IFNULL(LENGTH(CAST(`id` AS BINARY)), -1), CAST(`id` AS BINARY), IFNULL(LENGTH(CAST(`name` AS BINARY)), -1), CAST(`name` AS BINARY)) AS r FROM `moodle`.`mdl_config`) AS lmsha_rows;",
    );
    expect(() => tableChecksumSql('moodle', 't', [])).toThrow();
  });

  it('reads timestamps in UTC and can wait for causality on Galera', () => {
    const s = checksumScript([{ schema: 'moodle', table: 'mdl_config' }], columns, { syncWait: true });
    expect(s.split('\n').slice(0, 2)).toEqual(["SET SESSION time_zone = '+00:00';", 'SET SESSION wsrep_sync_wait = 1;']);
    expect(() => checksumScript([{ schema: 'moodle', table: 'nope' }], columns)).toThrow(/no column list/);
  });

  const SRC = 'moodle\tmdl_config\t512\t1098765432101\t9876543210987654321\nmoodle\tmdl_legacy_log\t120345\t258000000000000\t1234\nmoodle\tmdl_user\t2400\t10\t20\n';

  it('passes an identical target and fails on missing rows or content', () => {
    const s = parseChecksums(SRC);
    const ok = compareTableChecksums(s, parseChecksums(SRC), { sourceHost: 'old', targetHost: 'db1' });
    expect(ok.every((r) => r.status === 'ok' && r.layer === 'migrate')).toBe(true);
    expect(ok[0]).toMatchObject({ check: 'table moodle.mdl_config', expected: '512 rows, checksum 1098765432101/9876543210987654321 (from old)' });

    const bad = parseChecksums(
      'moodle\tmdl_config\t512\t1098765432102\t9876543210987654321\nmoodle\tmdl_legacy_log\t120344\t258000000000000\t1234\nmoodle\tmdl_extra\t1\t1\t1\n',
    );
    const r = compareTableChecksums(s, bad, { sourceHost: 'old', targetHost: 'db1' });
    expect(r.map((x) => [x.check, x.status])).toEqual([
      ['table moodle.mdl_config', 'fail'],
      ['table moodle.mdl_legacy_log', 'fail'],
      ['table moodle.mdl_user', 'fail'],
      ['table moodle.mdl_extra', 'warn'],
    ]);
    expect(r[0]!.hint).toMatch(/Same row count but different content/);
    expect(r[2]!.observed).toBe('missing');
  });

  it('treats big numbers as exact decimal strings', () => {
    const a = parseChecksums('s\tt\t9007199254740993\t18446744073709551615\t0\n');
    const b = parseChecksums('s\tt\t9007199254740992\t18446744073709551615\t0\n');
    expect(compareTableChecksums(a, b, { sourceHost: 'x', targetHost: 'y' })[0]!.status).toBe('fail');
  });
});
