import { describe, expect, test } from 'vitest';
import { DeployError } from '../../../src/errors';
import { COMMANDS, commandToRun } from '../../../src/commands/registry';
import { checkCommandNeeds, loadInventory, requiredRoles, selectEnvironment, type Environment } from '../../../src/inventory';
import { yaml } from './helpers';

const TEXT = yaml`
  version: 1
  environments:
    web-only:
      hosts:
        - { name: web1, address: 10.0.0.31, roles: [web] }
    db-only:
      hosts:
        - { name: db1, address: 10.0.0.11, roles: [db] }
        - { name: db2, address: 10.0.0.12, roles: [db] }
        - { name: db3, address: 10.0.0.13, roles: [db] }
      database: { cluster_name: c1, sst_method: rsync }
    roles-only:
      hosts:
        - { name: n1, address: 10.0.0.11, roles: [db, lb] }
      storage: { kind: none }
    s3:
      hosts:
        - { name: web1, address: 10.0.0.31, roles: [web] }
      storage: { kind: s3, s3: { bucket: files, access_key_id: { env: A }, secret_access_key: { env: B } } }
    db-move:
      hosts:
        - { name: db1, address: 10.0.0.11, roles: [db] }
        - { name: db2, address: 10.0.0.12, roles: [db] }
        - { name: db3, address: 10.0.0.13, roles: [db] }
        - { name: legacy, address: 10.0.0.5, roles: [] }
      database: { cluster_name: c1, sst_method: rsync }
      app: { preset: moodle }
      migrate:
        database: { source_host: legacy, databases: [moodle] }
`;

// Each command's needs are in its descriptor (src/commands/registry.ts).
function checkRolesForCommand(inventory: ReturnType<typeof loadInventory>, environment: string | Environment, command: string): void {
  checkCommandNeeds(inventory, environment, command, commandToRun(command).needs);
}

function requiredRolesFor(command: string, environment?: Parameters<typeof requiredRoles>[1]) {
  return requiredRoles(commandToRun(command).needs, environment);
}

function problemsFor(environment: string, command: string): string[] {
  const inventory = loadInventory(TEXT, 'ha.yml');
  try {
    checkRolesForCommand(inventory, environment, command);
  } catch (error) {
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).reason).toBe('invalid-inventory');
    return (error as DeployError).problems.map((p) => `${p.line}:${p.column}: ${p.message}`);
  }
  return [];
}

describe('requiredRolesFor', () => {
  test('the roles each command needs, whatever the environment', () => {
    const built = COMMANDS.filter((c) => !('planned' in c));
    const table = Object.fromEntries(built.map((command) => [command.name, requiredRolesFor(command.name)]));
    expect(table).toEqual({
      preflight: [],
      'deploy-db': ['db'],
      recover: ['db'],
      'deploy-lb': ['lb', 'db'],
      'migrate-storage': [],
      'verify-ha': [],
      unlock: [],
    });
  });

  test('roles that depend on the environment', () => {
    const inventory = loadInventory(TEXT, 'ha.yml');
    expect(requiredRolesFor('verify-ha', inventory.environments['db-only'])).toEqual(['db']);
    expect(requiredRolesFor('migrate-storage', inventory.environments.s3)).toEqual([]);
    const gluster = { hosts: [], storage: { kind: 'glusterfs' as const }, migrate: { database: { source_host: 'x', databases: ['a'] } } };
    expect(requiredRolesFor('migrate-storage', gluster)).toEqual(['storage', 'db']);
    expect(requiredRolesFor('verify-ha', { hosts: [], storage: { kind: 'glusterfs' }, load_balancer: undefined })).toEqual(['storage']);
  });
});

describe('checkRolesForCommand', () => {
  test('preflight and unlock only need hosts', () => {
    for (const command of ['preflight', 'unlock'] as const) expect(problemsFor('web-only', command)).toEqual([]);
  });

  test('deploy-db without a database section or db hosts', () => {
    expect(problemsFor('web-only', 'deploy-db')).toEqual([
      '3:3: deploy-db needs a "database" section in environment "web-only"',
      '4:5: deploy-db needs a host with the db role, but no host in environment "web-only" has it; add db to the roles of the hosts that should run it',
    ]);
    expect(problemsFor('db-only', 'deploy-db')).toEqual([]);
    expect(problemsFor('db-only', 'recover')).toEqual([]);
  });

  test('deploy-lb reports every missing piece at once', () => {
    expect(problemsFor('db-only', 'deploy-lb')).toEqual([
      '6:3: deploy-lb needs a "load_balancer" section in environment "db-only"',
      '7:5: deploy-lb needs a host with the lb role, but no host in environment "db-only" has it; add lb to the roles of the hosts that should run it',
    ]);
  });

  test('roles alone are not enough: the sections must be there too', () => {
    expect(problemsFor('roles-only', 'deploy-lb')).toEqual([
      '12:3: deploy-lb needs a "database" section in environment "roles-only"',
      '12:3: deploy-lb needs a "load_balancer" section in environment "roles-only"',
    ]);
  });

  test('migrate-storage needs storage that is not "none"', () => {
    expect(problemsFor('web-only', 'migrate-storage')).toEqual(['3:3: migrate-storage needs a "storage" section (or migrate.database) in environment "web-only"']);
    expect(problemsFor('roles-only', 'migrate-storage')).toEqual([
      '15:5: migrate-storage needs "storage" of kind glusterfs or s3 (or migrate.database) in environment "roles-only"; this one is none',
    ]);
    expect(problemsFor('s3', 'migrate-storage')).toEqual([]);
  });

  test('a database-only migration needs no storage tier', () => {
    expect(problemsFor('db-move', 'migrate-storage')).toEqual([]);
  });

  test('verify-ha needs something to verify', () => {
    expect(problemsFor('web-only', 'verify-ha')).toEqual([
      '3:3: verify-ha has nothing to verify in environment "web-only": it has no database, load_balancer or storage section',
    ]);
    expect(problemsFor('db-only', 'verify-ha')).toEqual([]);
    expect(problemsFor('s3', 'verify-ha')).toEqual([]);
  });

  test('accepts the selected environment as well as its name', () => {
    const inventory = loadInventory(TEXT, 'ha.yml');
    const env = selectEnvironment(inventory, 'web-only', 'ha.yml');
    expect(() => checkRolesForCommand(inventory, env, 'deploy-db')).toThrow(/^deploy-db cannot run on environment "web-only":\n  ha.yml:3:3: /);
    expect(() => checkRolesForCommand(inventory, 'nope', 'preflight')).toThrow('environment "nope" is not defined in ha.yml');
  });
});
