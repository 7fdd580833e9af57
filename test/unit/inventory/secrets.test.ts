import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import { findSecretReferences, loadInventory, resolveSecrets, selectEnvironment } from '../../../src/inventory/index.js';
import { resolveEnvironment } from '../../../src/inventory/environment.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MOODLE = 'examples/moodle.yml';
const moodle = () => selectEnvironment(loadInventory(readFileSync(`${ROOT}${MOODLE}`, 'utf8'), MOODLE), 'production', MOODLE);

const MOODLE_VARS = {
  MOODLE_DB_PASSWORD: 'm00dle-db-pw',
  GALERA_SST_PASSWORD: 'sst-pw-fake',
  KEEPALIVED_PASSWORD: 'vrrp-pw1',
};

function missingError(run: () => unknown): DeployError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DeployError);
    return error as DeployError;
  }
  throw new Error('expected a DeployError');
}

describe('findSecretReferences', () => {
  test('finds every reference by the schema, in document order', () => {
    expect(findSecretReferences(moodle()).map((ref) => [ref.name, ref.path.join('.')])).toEqual([
      ['MOODLE_DB_PASSWORD', 'app.users.0.password'],
      ['GALERA_SST_PASSWORD', 'database.sst_password'],
      ['KEEPALIVED_PASSWORD', 'load_balancer.auth_password'],
    ]);
  });

  test('a label that looks like a reference is not one', () => {
    const path = 'test/fixtures/inventory/full.yml';
    const env = selectEnvironment(loadInventory(readFileSync(`${ROOT}${path}`, 'utf8'), path), 'production', path);
    expect(env.hosts[1]!.labels).toEqual({ zone: 'a', env: 'production' });
    expect(findSecretReferences(env).map((ref) => ref.name)).toEqual([
      'CHAMILO_DB_PASSWORD',
      'REPORTS_DB_PASSWORD',
      'GALERA_SST_PASSWORD',
      'KEEPALIVED_PASSWORD',
      'PROXYSQL_ADMIN_PASSWORD',
      'PROXYSQL_MONITOR_PASSWORD',
      'LEGACY_DB_PASSWORD',
    ]);
  });
});

describe('resolveSecrets', () => {
  test('resolves every reference and masks each value as it is read', () => {
    const masked: string[] = [];
    const secrets = resolveSecrets(moodle(), { ...MOODLE_VARS, UNRELATED: 'x' }, (value) => masked.push(value));
    expect(masked).toEqual(['m00dle-db-pw', 'sst-pw-fake', 'vrrp-pw1']);
    expect(secrets.names).toEqual(['MOODLE_DB_PASSWORD', 'GALERA_SST_PASSWORD', 'KEEPALIVED_PASSWORD']);
    const env = moodle();
    expect(secrets.valueOf(env.app.users[0]!.password)).toBe('m00dle-db-pw');
    expect(secrets.valueOf(env.load_balancer!.auth_password)).toBe('vrrp-pw1');
    expect(secrets.has('UNRELATED')).toBe(false);
  });

  test('masks before anything can fail: values read before a missing one are masked too', () => {
    const masked: string[] = [];
    missingError(() => resolveSecrets(moodle(), { MOODLE_DB_PASSWORD: 'm00dle-db-pw' }, (value) => masked.push(value)));
    expect(masked).toEqual(['m00dle-db-pw']);
  });

  test('reports every missing variable at once, with where it is referenced', () => {
    const error = missingError(() => resolveSecrets(moodle(), { GALERA_SST_PASSWORD: 'sst-pw-fake', KEEPALIVED_PASSWORD: '' }, () => {}));
    expect(error.reason).toBe('missing-secret');
    expect(error.problems).toEqual([
      {
        file: MOODLE,
        line: 25,
        column: 28,
        message: 'environment variable MOODLE_DB_PASSWORD is not set (or is empty); it holds "password" of app user "moodle"',
      },
      {
        file: MOODLE,
        line: 41,
        column: 29,
        message: 'environment variable KEEPALIVED_PASSWORD is not set (or is empty); it holds "load_balancer.auth_password"',
      },
    ]);
    expect(error.message).toBe(
      'missing secrets for environment "production": MOODLE_DB_PASSWORD, KEEPALIVED_PASSWORD\n' +
        `  ${MOODLE}:25:28: environment variable MOODLE_DB_PASSWORD is not set (or is empty); it holds "password" of app user "moodle"\n` +
        `  ${MOODLE}:41:29: environment variable KEEPALIVED_PASSWORD is not set (or is empty); it holds "load_balancer.auth_password"`,
    );
    expect(error.hint).toContain('${{ secrets.MOODLE_DB_PASSWORD }}');
  });

  test('a variable used twice is read once and reported at each place', () => {
    const text = readFileSync(`${ROOT}${MOODLE}`, 'utf8').replace('{ env: KEEPALIVED_PASSWORD }', '{ env: MOODLE_DB_PASSWORD }');
    const env = selectEnvironment(loadInventory(text, MOODLE), 'production', MOODLE);
    const masked: string[] = [];
    resolveSecrets(env, MOODLE_VARS, (value) => masked.push(value));
    expect(masked).toEqual(['m00dle-db-pw', 'sst-pw-fake']);
    const error = missingError(() => resolveSecrets(env, { GALERA_SST_PASSWORD: 'x' }, () => {}));
    expect(error.problems.map((p) => `${p.line}:${p.column}`)).toEqual(['25:28', '41:29']);
    expect(error.message.split('\n')[0]).toBe('missing secret for environment "production": MOODLE_DB_PASSWORD');
  });

  test('never puts a secret value in an error', () => {
    const vars = { MOODLE_DB_PASSWORD: 'TOP-SECRET-1', GALERA_SST_PASSWORD: 'TOP-SECRET-2' };
    const error = missingError(() => resolveSecrets(moodle(), vars, () => {}));
    const everything = JSON.stringify({ message: error.message, hint: error.hint, problems: error.problems });
    expect(everything).not.toContain('TOP-SECRET');
    expect(everything).toContain('KEEPALIVED_PASSWORD');
  });

  test('multi-line values are masked whole and line by line, then refused without being shown', () => {
    const masked: string[] = [];
    const error = missingError(() => resolveSecrets(moodle(), { ...MOODLE_VARS, MOODLE_DB_PASSWORD: 'line-one\nline-two\n' }, (value) => masked.push(value)));
    expect(masked.slice(0, 3)).toEqual(['line-one\nline-two\n', 'line-one', 'line-two']);
    expect(error.reason).toBe('invalid-input');
    expect(error.problems.map((p) => `${p.line}:${p.column}`)).toEqual(['25:28']);
    expect(error.message).toContain('contains a line break or NUL');
    expect(error.message).not.toContain('line-one');
  });

  test('the resolved secrets never print their values', () => {
    const secrets = resolveSecrets(moodle(), MOODLE_VARS, () => {});
    expect(JSON.stringify(secrets)).toBe('{"secrets":["MOODLE_DB_PASSWORD","GALERA_SST_PASSWORD","KEEPALIVED_PASSWORD"]}');
    expect(inspect(secrets)).toBe('Secrets(MOODLE_DB_PASSWORD, GALERA_SST_PASSWORD, KEEPALIVED_PASSWORD)');
    expect(`${inspect({ nested: secrets })}`).not.toContain('vrrp-pw1');
    expect(secrets.redact('user moodle / m00dle-db-pw via vrrp-pw1')).toBe('user moodle / *** via ***');
  });

  test('a reference this environment did not resolve is a bug, not a missing secret', () => {
    const secrets = resolveSecrets(moodle(), MOODLE_VARS, () => {});
    const error = missingError(() => secrets.valueOf({ env: 'OTHER' }));
    expect(error.reason).toBe('internal');
  });

  test('an environment built in code still reports its missing secrets, at line 1', () => {
    const env = resolveEnvironment('adhoc', {
      hosts: [{ name: 'db1', address: '10.0.0.11', roles: ['db'] }],
      database: { cluster_name: 'c', sst_password: { env: 'SST' } },
    });
    const error = missingError(() => resolveSecrets(env, {}, () => {}));
    expect(error.problems).toEqual([
      { file: 'inventory', line: 1, column: 1, message: 'environment variable SST is not set (or is empty); it holds "database.sst_password"' },
    ]);
  });
});
