import { describe, expect, it } from 'vitest';
import { planDatabaseMigration, type DatabaseGathered, type DatabaseMigrationSetting } from '../../../src/commands/migrate-storage/database.js';
import { planS3Migration, type S3Gathered, type S3MigrationSetting } from '../../../src/commands/migrate-storage/s3.js';
import { DeployError } from '../../../src/errors.js';
import type { Host } from '../../../src/inventory/index.js';

// The plans of migrate-storage's database and S3 parts, from gathered facts
// (the I/O is covered by the e2e tests against real hosts).

const host = (name: string, address: string, roles: Host['roles'] = []): Host => ({ name, address, roles, ssh: { user: 'root', port: 22, connect_timeout: 10 }, labels: {} });

const db: DatabaseMigrationSetting = {
  source: host('old1', '10.0.0.5'),
  writer: host('db1', '10.0.0.11', ['db']),
  readers: [host('db2', '10.0.0.12', ['db']), host('db3', '10.0.0.13', ['db'])],
  schemas: ['moodle'],
  convert: false,
  conn: { user: 'root', port: 3306, password: false },
  password: undefined,
};

function gathered(over: Partial<DatabaseGathered> = {}): DatabaseGathered {
  return {
    remotes: new Map(),
    sourceVersion: '10.11.6-MariaDB-0+deb12u1',
    dumpTool: '/usr/bin/mariadb-dump',
    tables: [
      { schema: 'moodle', table: 'mdl_user', engine: 'InnoDB', hasPrimaryKey: true, autoIncrementColumn: 'id', estimatedRows: 2990 },
      { schema: 'moodle', table: 'mdl_log', engine: 'MyISAM', hasPrimaryKey: true, autoIncrementColumn: 'id', estimatedRows: 2000 },
      { schema: 'moodle', table: 'mdl_stats', engine: 'InnoDB', hasPrimaryKey: false, autoIncrementColumn: null, estimatedRows: 1400 },
    ],
    columns: new Map([
      ['moodle.mdl_user', ['id', 'username']],
      ['moodle.mdl_log', ['id', 'action']],
      ['moodle.mdl_stats', ['userid', 'hits']],
    ]),
    rows: new Map([
      ['moodle.mdl_user', 3000],
      ['moodle.mdl_log', 2000],
      ['moodle.mdl_stats', 1502],
    ]),
    bytes: new Map([['moodle', 1_572_864]]),
    targetTables: [],
    writerState: 'Primary/Synced/size 3',
    writerReady: true,
    ...over,
  };
}

const sums = (rows: string, crc = '123') => [
  { schema: 'moodle', table: 'mdl_user', rows, crcSum: crc, md5Xor: '9' },
  { schema: 'moodle', table: 'mdl_log', rows: '2000', crcSum: '5', md5Xor: '6' },
  { schema: 'moodle', table: 'mdl_stats', rows: '1502', crcSum: '7', md5Xor: '8' },
];

describe('database migration plan', () => {
  it('refuses tables Galera cannot replicate, naming the source host and the option', () => {
    expect(() => planDatabaseMigration(db, gathered())).toThrow(DeployError);
    try {
      planDatabaseMigration(db, gathered());
    } catch (e) {
      const err = e as DeployError;
      expect(err.host).toBe('old1');
      expect(err.message).toContain('moodle.mdl_log: engine MyISAM');
      expect(err.message).toContain('moodle.mdl_stats: no primary key');
      expect(err.hint).toMatch(/^Set migrate\.database\.convert_tables: true/);
    }
  });

  it('with conversion: phased steps on the writer, every table and its rows shown, the last step verifying on every node', () => {
    const p = planDatabaseMigration({ ...db, convert: true }, gathered());
    expect(p.changes.map((c) => c.id)).toEqual([
      'cluster:db1:migrate-database:schema',
      'cluster:db1:migrate-database:convert',
      'cluster:db1:migrate-database:data',
      'cluster:db1:migrate-database:programs',
    ]);
    expect(p.changes.every((c) => c.host === 'db1')).toBe(true);
    expect(p.changes[0]!.summary).toMatch(/^copy moodle \(3 tables, 6502 rows\) from old1: /);
    const detail = p.changes.map((c) => (c.kind === 'cluster' ? c.detail : '')).join('\n');
    expect(detail).toContain('- moodle.mdl_stats (InnoDB, no primary key): 1502 rows [converted]');
    expect(detail).toContain('- moodle.mdl_user (InnoDB): 3000 rows\n');
    expect(detail).toContain('verifies row counts and content checksums of every table on db1, db2, db3');
    // A non-InnoDB table: a global read lock, said in a warning.
    expect(p.warnings.join('\n')).toMatch(/global read lock/);
    expect(p.warnings[0]).toMatch(/^2 table\(s\) will be converted on the cluster \(the source is not changed\): moodle.mdl_log: engine MyISAM -> InnoDB; moodle.mdl_stats: new primary key column id/);
    expect(p.facts!.find((f) => f.name === 'old1')!.facts).toMatchObject({ tables: '3', rows: '6502', size: '1.5 MiB' });
  });

  it('all InnoDB with keys: one snapshot dump, no lock warning', () => {
    const g = gathered();
    g.tables = g.tables.slice(0, 1);
    const p = planDatabaseMigration(db, g);
    expect(p.changes.map((c) => c.id)).toEqual(['cluster:db1:migrate-database:full']);
    expect(p.warnings).toEqual([]);
  });

  it('an identical copy already on the cluster: nothing to do', () => {
    const g = gathered({ targetTables: ['moodle.mdl_log', 'moodle.mdl_stats', 'moodle.mdl_user'], existing: { sourceSums: sums('3000'), targetSums: sums('3000') } });
    const p = planDatabaseMigration({ ...db, convert: true }, g);
    expect(p.changes).toEqual([]);
    expect(p.facts!.find((f) => f.name === 'old1')!.facts['migrated']).toBe('yes: 3 tables identical on db1');
  });

  it('other content on the cluster is refused, never overwritten, with the differing table named', () => {
    const g = gathered({ targetTables: ['moodle.mdl_log', 'moodle.mdl_stats', 'moodle.mdl_user'], existing: { sourceSums: sums('3000'), targetSums: sums('2999', '1') } });
    try {
      planDatabaseMigration({ ...db, convert: true }, g);
      expect.unreachable();
    } catch (e) {
      const err = e as DeployError;
      expect(err.reason).toBe('preflight-failed');
      expect(err.host).toBe('db1');
      expect(err.message).toMatch(/they differ from the source: moodle\.mdl_user: 2999 rows, checksum 1\/9 vs 3000 rows, checksum 123\/9/);
    }
  });

  it('refuses a writer that is not Synced, and a source without tables', () => {
    expect(() => planDatabaseMigration({ ...db, convert: true }, gathered({ writerReady: false, writerState: 'non-Primary/Initialized/size 1' }))).toThrow(/not ready.*non-Primary/);
    expect(() => planDatabaseMigration(db, gathered({ tables: [] }))).toThrow(/no tables in moodle/);
  });
});

const s3: S3MigrationSetting = {
  source: host('old1', '10.0.0.5'),
  dir: '/srv/uploads',
  target: { bucket: 'lms-files', provider: 'Other', endpoint: 'http://10.0.0.9:9000', accessKeySecret: 'S3_KEY', secretKeySecret: 'S3_SECRET' },
  secrets: { S3_KEY: 'AKIAEXAMPLE', S3_SECRET: 'not-shown' },
};

describe('S3 migration plan', () => {
  const base: S3Gathered = { remotes: new Map(), rclone: null, source: { files: 203, bytes: 3_004_000 } };

  it('installs rclone and copies when rclone is missing, showing the remote without secrets', () => {
    const p = planS3Migration(s3, base);
    expect(p.changes.map((c) => c.summary)).toEqual([
      'install rclone (copies and verifies the files in S3)',
      'copy /srv/uploads (203 files, 3004000 bytes) to s3://lms-files, then verify every file',
    ]);
    const detail = p.changes[1]!.kind === 'cluster' ? p.changes[1]!.detail : '';
    expect(detail).toContain('RCLONE_CONFIG_LMSHA_SECRET_ACCESS_KEY=<secret S3_SECRET>');
    expect(JSON.stringify(p)).not.toContain('not-shown');
  });

  it('nothing to do when every file is identical in the bucket; otherwise says how many are missing or different', () => {
    const done: S3Gathered = { ...base, rclone: '1.60.1+dfsg-2+b5', bucket: { count: 205, bytes: 3_100_000 }, check: { matching: 203, missing: [], extra: ['old/a', 'old/b'], differing: [], errors: [] } };
    const p = planS3Migration(s3, done);
    expect(p.changes).toEqual([]);
    expect(p.warnings).toEqual(['s3://lms-files has 2 object(s) that are not in old1:/srv/uploads; the copy leaves them alone']);
    const partial = planS3Migration(s3, { ...done, check: { matching: 201, missing: ['x'], extra: [], differing: ['y'], errors: [] } });
    expect(partial.changes.map((c) => c.summary)).toEqual(['copy /srv/uploads (203 files, 3004000 bytes; 2 not yet in the bucket or different) to s3://lms-files, then verify every file']);
  });
});
