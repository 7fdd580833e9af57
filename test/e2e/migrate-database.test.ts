import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { labExec, readLabState, REPO_ROOT, runAction, tempDir, type ActionRun, type LabState } from './lab.js';
import { labDbEnvironment, writeLabInventory } from './inventory.js';

// migrate-storage, database part: a generated single-server MariaDB
// on x01 (a host without roles) is refused while it has tables Galera cannot
// replicate, then copied with conversion into the 3-node cluster through the
// writer, verified by the command, and checked here independently on every node.

const DB_HOSTS = ['db1', 'db2', 'db3'];
const SOURCE = 'x01';
const APP_PASSWORD = `app-${randomBytes(6).toString('hex')}`;
// The source is read by a password account, so the password path (stdin -> MYSQL_PWD) runs for real.
const SOURCE_PASSWORD = `src '"$\`${randomBytes(6).toString('hex')}`;
const S3_KEY = `s3key-${randomBytes(6).toString('hex')}`; // no S3 server here: only its shape is checked

let state: LabState;
let workspace: string;
let key: string;
let knownHosts: string;
const runs: ActionRun[] = [];

function inventory(convert: boolean): void {
  const address = (h: string) => state.hosts.find((x) => x.name === h)!.address;
  const env = labDbEnvironment(state, 'lab-migrate')
    .replace(/(      - \{ name: db3,[^\n]*\n)/, `$1      - { name: ${SOURCE}, address: ${address(SOURCE)}, roles: [] }\n`)
    .concat(
      // migrate-storage needs a storage section; S3 without migrate.files copies no files.
      `    storage:
      kind: s3
      s3: { bucket: lms-files, endpoint: 'http://${state.runnerAddress}:4568', access_key_id: { env: LAB_S3_KEY }, secret_access_key: { env: LAB_S3_SECRET } }
    migrate:
      database:
        source_host: ${SOURCE}
        user: migrator
        password: { env: LAB_SOURCE_DB_PASSWORD }
        databases: [moodle]
${convert ? '        convert_tables: true\n' : ''}`,
    );
  writeLabInventory(state, workspace, env);
}

async function run(command: string, mode: 'plan' | 'apply'): Promise<ActionRun> {
  const r = await runAction(
    state,
    { command, mode, inventory: 'ha.yml', environment: 'lab-migrate', 'ssh-private-key': key, 'known-hosts': knownHosts, parallelism: '10' },
    { workspace, env: { LAB_APP_DB_PASSWORD: APP_PASSWORD, LAB_SOURCE_DB_PASSWORD: SOURCE_PASSWORD, LAB_S3_KEY: S3_KEY, LAB_S3_SECRET: S3_KEY } },
  );
  runs.push(r);
  return r;
}

function sql(host: string, query: string): string {
  return labExec(host, 'mariadb -N -B', { input: query }).stdout;
}

// The source: several tables of some thousands of rows, one MyISAM, one
// without a primary key (with duplicate rows), awkward values (NULLs, unicode,
// tabs, a TIMESTAMP), a view and a trigger.
const SOURCE_SQL = `
SET NAMES utf8mb4;
CREATE DATABASE moodle CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE moodle;
CREATE TABLE mdl_user (id BIGINT AUTO_INCREMENT PRIMARY KEY, username VARCHAR(100) NOT NULL, email VARCHAR(200), created TIMESTAMP NOT NULL DEFAULT '2020-01-01 00:00:00', score DECIMAL(10,2)) ENGINE=InnoDB;
INSERT INTO mdl_user (username, email, created, score)
  SELECT CONCAT('user', seq, IF(seq % 7 = 0, ' ünïcødé 😀', '')), IF(seq % 5 = 0, NULL, CONCAT('u', seq, '@example.test')),
         FROM_UNIXTIME(1600000000 + seq * 3600), seq / 3 FROM seq_1_to_3000;
CREATE TABLE mdl_log (id INT AUTO_INCREMENT PRIMARY KEY, userid BIGINT, action VARCHAR(50), info TEXT) ENGINE=MyISAM;
INSERT INTO mdl_log (userid, action, info) SELECT seq % 300, ELT(1 + seq % 3, 'view', 'edit', 'delete'), CONCAT('line\\twith tab ', seq) FROM seq_1_to_2000;
CREATE TABLE mdl_stats (userid BIGINT, day DATE, hits INT) ENGINE=InnoDB;
INSERT INTO mdl_stats SELECT seq % 500, DATE('2024-01-01') + INTERVAL (seq % 30) DAY, seq % 4 FROM seq_1_to_1500;
INSERT INTO mdl_stats VALUES (1, '2024-01-01', 0), (1, '2024-01-01', 0);
CREATE TABLE mdl_config (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, value LONGTEXT) ENGINE=InnoDB;
INSERT INTO mdl_config SELECT seq, CONCAT('setting_', seq), IF(seq % 10 = 0, NULL, REPEAT('x', seq % 200)) FROM seq_1_to_500;
CREATE VIEW mdl_active_users AS SELECT id, username FROM mdl_user WHERE email IS NOT NULL;
CREATE TABLE mdl_audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100)) ENGINE=InnoDB;
CREATE TRIGGER mdl_user_audit AFTER INSERT ON mdl_user FOR EACH ROW INSERT INTO mdl_audit (note) VALUES (CONCAT('new user ', NEW.username));
CREATE USER 'migrator'@'localhost' IDENTIFIED BY '${SOURCE_PASSWORD.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}';
GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT, RELOAD, PROCESS ON *.* TO 'migrator'@'localhost';
`;

const TABLES: Record<string, string> = {
  mdl_user: 'id, username, email, created, score',
  mdl_log: 'id, userid, action, info',
  mdl_stats: 'userid, day, hits',
  mdl_config: 'id, name, value',
  mdl_audit: 'id, note',
};

/** The table's rows in a fixed order, as text, hashed: the same on both sides or the copy is wrong. */
function digest(host: string, table: string): string {
  const cols = TABLES[table]!;
  return labExec(host, `mariadb -N -B -e "SET time_zone = '+00:00'; SELECT ${cols} FROM moodle.${table} ORDER BY ${cols}" | md5sum`).stdout.trim();
}

function count(host: string, table: string): number {
  return Number(sql(host, `SELECT COUNT(*) FROM moodle.${table};`).trim());
}

beforeAll(async () => {
  execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up', '--extra', '1'], { stdio: 'ignore', timeout: 600_000 });
  state = readLabState();
  if (!state.hosts.some((h) => h.name === SOURCE)) throw new Error(`the lab has no ${SOURCE}: this suite needs lab.sh up --extra 1`);
  workspace = tempDir('migrate-db');
  key = readFileSync(state.sshKey, 'utf8');
  knownHosts = readFileSync(state.knownHosts, 'utf8');
  inventory(false);
  // The cluster, by the product; the single server, as its operator would have it.
  const deploy = await runAction(
    state,
    { command: 'deploy-db', mode: 'apply', inventory: 'ha.yml', environment: 'lab-migrate', 'ssh-private-key': key, 'known-hosts': knownHosts, parallelism: '10' },
    { workspace, env: { LAB_APP_DB_PASSWORD: APP_PASSWORD, LAB_SOURCE_DB_PASSWORD: SOURCE_PASSWORD, LAB_S3_KEY: S3_KEY, LAB_S3_SECRET: S3_KEY } },
  );
  if (deploy.code !== 0) throw new Error(`deploy-db failed: ${deploy.stdout.slice(-3000)}`);
  labExec(SOURCE, 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && apt-get install -y -q mariadb-server >/dev/null && systemctl start mariadb');
  labExec(SOURCE, 'mariadb', { input: SOURCE_SQL });
}, 900_000);

// Issue 6: in one CI run the apply hung with the dump finished on x01 and the
// import on db1 waiting for its end of input (not reproduced since, in 70 applies
// with that run's bundle). The import now gets its end of input when the dump's
// output ends, and every way the step could wait forever is bounded and stops
// both processes (runStep and StreamLimits in src/commands/migrate-storage/database.ts).
describe('migrate-storage: a single-server database into Galera', () => {
  it('plans nothing and refuses while tables cannot be replicated, naming each one', async () => {
    const r = await run('migrate-storage', 'plan');
    expect(r.outputs['failure-reason']).toBe('preflight-failed');
    expect(r.code).not.toBe(0);
    expect(r.summary).toContain('moodle.mdl_log: engine MyISAM (Galera replicates only InnoDB)');
    expect(r.summary).toContain('moodle.mdl_stats: no primary key');
    expect(r.summary).toContain('migrate.database.convert_tables');
    expect(r.summary).not.toContain('mdl_user:');
    // Nothing reached the cluster.
    expect(sql('db1', "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'moodle';").trim()).toBe('0');
  });

  it('with conversion asked for, the plan shows every table and its rows before anything moves', async () => {
    inventory(true);
    const r = await run('migrate-storage', 'plan');
    expect(r.outputs['failure-reason']).toBe('');
    expect(r.outputs.changed).toBe('true');
    const result = JSON.parse(r.outputs.result);
    const details = r.summary;
    expect(result.changes[0].summary).toContain('copy moodle (5 tables, 7002 rows) from x01');
    expect(details).toContain('moodle.mdl_user (InnoDB): 3000 rows');
    expect(details).toContain('moodle.mdl_log (MyISAM): 2000 rows [converted]');
    expect(details).toContain('moodle.mdl_stats (InnoDB, no primary key): 1502 rows [converted]');
    expect(result.changes.map((c: { id: string }) => c.id.split(':').pop())).toEqual(['schema', 'convert', 'data', 'programs']);
    expect(sql('db1', "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'moodle';").trim()).toBe('0');
  });

  it('copies, converts and verifies; every node holds the same rows as the source', async () => {
    const r = await run('migrate-storage', 'apply');
    expect(r.outputs['failure-reason'], r.summary + r.stdout.slice(-3000)).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/verified 5 tables, 7002 rows: row counts and checksums equal on db1, db2, db3/);
    // The figures of the run, for the record.
    console.log(r.stdout.split('\n').filter((l) => /streamed from|: done in|verified/.test(l)).join('\n'));
    for (const table of Object.keys(TABLES)) {
      const expected = digest(SOURCE, table);
      for (const node of DB_HOSTS) {
        expect(count(node, table), `${table} on ${node}`).toBe(count(SOURCE, table));
        expect(digest(node, table), `${table} on ${node}`).toBe(expected);
      }
    }
    // Converted: every table InnoDB with a primary key, on every node.
    for (const node of DB_HOSTS) {
      const bad = sql(
        node,
        "SELECT TABLE_NAME FROM information_schema.TABLES t WHERE TABLE_SCHEMA = 'moodle' AND TABLE_TYPE = 'BASE TABLE' AND (ENGINE <> 'InnoDB' OR NOT EXISTS " +
          "(SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'PRIMARY KEY'));",
      );
      expect(bad.trim(), node).toBe('');
    }
    // The view and the trigger came along, and the trigger was not fired by the load (mdl_audit was empty on the source).
    expect(count('db3', 'mdl_audit')).toBe(0);
    expect(sql('db2', "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'moodle' AND TABLE_NAME = 'mdl_active_users';").trim()).toBe('1');
    expect(sql('db2', "SELECT ACTION_TIMING, EVENT_MANIPULATION FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'moodle';").trim()).toBe('AFTER\tINSERT');
    // A write through another node replicates into the converted table.
    sql('db3', "INSERT INTO moodle.mdl_stats (userid, day, hits) VALUES (999, '2025-01-01', 1);");
    expect(sql('db1', 'SET SESSION wsrep_sync_wait = 1; SELECT COUNT(*) FROM moodle.mdl_stats WHERE userid = 999;').trim()).toBe('1');
    sql('db3', 'DELETE FROM moodle.mdl_stats WHERE userid = 999;');
  });

  it('a second apply finds the copy identical and changes nothing', async () => {
    const r = await run('migrate-storage', 'apply');
    expect(r.outputs['failure-reason']).toBe('');
    expect(r.outputs.changed).toBe('false');
    expect(JSON.parse(r.outputs.result).changes).toHaveLength(0);
  });

  it('a row changed on the cluster is found, and the import is refused instead of overwriting', async () => {
    sql('db2', "UPDATE moodle.mdl_config SET value = 'tampered' WHERE id = 42;");
    const r = await run('migrate-storage', 'plan');
    expect(r.outputs['failure-reason']).toBe('preflight-failed');
    expect(r.summary).toContain('moodle.mdl_config');
    expect(r.summary).toMatch(/differ from the source/);
    expect(r.summary).not.toContain('moodle.mdl_user:');
  });

  it('never shows the passwords', () => {
    for (const r of runs) {
      // ::add-mask:: is how the runner is told to mask the value; nothing else may carry it.
      const stdout = r.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
      const text = stdout + r.stderr + r.summary + JSON.stringify(r.outputs);
      expect(text).not.toContain(SOURCE_PASSWORD);
      expect(text).not.toContain(APP_PASSWORD);
    }
  });
});
