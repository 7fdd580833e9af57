import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import { DEFAULTS, hostsWithRole, loadInventory, selectEnvironment, type Environment } from '../../../src/inventory/index.js';
import { yaml } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const load = (path: string) => loadInventory(readFileSync(`${ROOT}${path}`, 'utf8'), path);

const MINIMAL = yaml`
  version: 1
  environments:
    prod:
      hosts:
        - { name: db1, address: 10.0.0.11, roles: [db] }
        - { name: db2, address: 10.0.0.12, roles: [db] }
        - { name: db3, address: 10.0.0.13, roles: [db, web] }
        - { name: lb1, address: 10.0.0.21, roles: [lb] }
        - { name: lb2, address: 10.0.0.22, roles: [lb] }
      database: { cluster_name: c1, sst_password: { env: SST } }
      load_balancer: { kind: haproxy, vip: 10.0.0.100/24, interface: eth0, virtual_router_id: 9, auth_password: { env: VRRP } }
`;

describe('selectEnvironment', () => {
  test('applies every default to a minimal environment', () => {
    const env = selectEnvironment(loadInventory(MINIMAL, 'ha.yml'), 'prod', 'ha.yml');
    expect(env.name).toBe('prod');
    expect(env.protected).toBe(false);
    expect(env.ssh).toEqual({ user: 'root', port: 22, connect_timeout: 10 });
    expect(env.hosts[0]).toEqual({
      name: 'db1',
      address: '10.0.0.11',
      roles: ['db'],
      ssh: { user: 'root', port: 22, connect_timeout: 10 },
      labels: {},
    });
    expect(env.app).toEqual({ preset: 'custom', databases: [], users: [] });
    expect(env.database).toEqual({
      cluster_name: 'c1',
      sst_password: { env: 'SST' },
      version: '10.11',
      sst_method: 'mariabackup',
      // A password is given, so a dedicated account; without one it is "mysql" over the socket.
      sst_user: 'sst',
      sync_wait: 1,
      port: 3306,
      bind_address: '0.0.0.0',
      options: {},
    });
    expect(env.load_balancer).toEqual({
      kind: 'haproxy',
      vip: '10.0.0.100/24',
      vip_address: '10.0.0.100',
      vip_prefix: 24,
      interface: 'eth0',
      virtual_router_id: 9,
      auth_password: { env: 'VRRP' },
      ports: { writer: 3307, reader: 3308 },
      clustercheck_port: 9200,
      haproxy: { maxconn: 4096, timeout_seconds: 28800, web_backend_port: 80 },
    });
    expect(env.storage).toEqual({ kind: 'none' });
    expect(env.migrate).toBeUndefined();
  });

  test('the defaults are the ones the schema publishes', () => {
    const schema = JSON.parse(readFileSync(`${ROOT}schema/inventory.schema.json`, 'utf8'));
    const environment = schema.properties.environments.patternProperties['^(.*)$'];
    expect(environment.properties.ssh.properties.port.default).toBe(DEFAULTS.ssh.port);
    expect(environment.properties.database.properties.sync_wait.default).toBe(DEFAULTS.database.sync_wait);
    expect(environment.properties.database.properties.version.default).toBe(DEFAULTS.database.version);
    expect(environment.properties.load_balancer.properties.clustercheck_port.default).toBe(DEFAULTS.haproxy.clustercheck_port);
  });

  test('keeps what the file says, resolves per-host SSH and the bastion (moodle example)', () => {
    const env = selectEnvironment(load('examples/moodle.yml'), 'production', 'examples/moodle.yml');
    expect(env.protected).toBe(true);
    expect(env.ssh).toEqual({ user: 'deploy', port: 22, connect_timeout: 10, bastion: 'jump' });
    const jump = env.hosts.find((host) => host.name === 'jump')!;
    // The bastion itself is reached directly, with its own user.
    expect(jump.ssh).toEqual({ user: 'ops', port: 22, connect_timeout: 10 });
    expect(env.hosts.find((host) => host.name === 'lb1')!.ssh).toEqual({ user: 'deploy', port: 22, connect_timeout: 10, bastion: 'jump' });
    expect(env.app.databases).toEqual([{ name: 'moodle', charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' }]);
    expect(env.app.users).toEqual([
      { name: 'moodle', password: { env: 'MOODLE_DB_PASSWORD' }, databases: ['moodle'], privileges: 'ALL', hosts: ['10.0.0.%'] },
    ]);
    expect(env.load_balancer).toMatchObject({ kind: 'haproxy', ports: { writer: 3307, reader: 3308, web: 80 }, clustercheck_port: 9200 });
    expect(env.storage).toEqual({
      kind: 'glusterfs',
      volume: 'moodledata',
      brick_path: '/srv/gluster/moodledata',
      mount_path: '/var/www/moodledata',
      owner: 'www-data',
      group: 'www-data',
      mode: '0770',
      force_root_brick: false,
    });
  });

  test('proxysql and s3 (openedx example)', () => {
    const env = selectEnvironment(load('examples/openedx.yml'), 'staging', 'examples/openedx.yml');
    expect(env.app.databases.map((database) => database.name)).toEqual(['edxapp', 'edxapp_csmh']);
    expect(env.load_balancer).toMatchObject({
      kind: 'proxysql',
      ports: { mysql: 6033, admin: 6032 },
      proxysql: { admin_password: { env: 'PROXYSQL_ADMIN_PASSWORD' }, monitor_password: { env: 'PROXYSQL_MONITOR_PASSWORD' } },
    });
    expect(env.load_balancer).not.toHaveProperty('clustercheck_port');
    expect(env.storage).toEqual({
      kind: 's3',
      s3: {
        bucket: 'openedx-uploads',
        region: 'eu-west-1',
        access_key_id: { env: 'S3_ACCESS_KEY_ID' },
        secret_access_key: { env: 'S3_SECRET_ACCESS_KEY' },
      },
    });
  });

  test('every setting of the full fixture', () => {
    const inventory = load('test/fixtures/inventory/full.yml');
    const env = selectEnvironment(inventory, 'production', 'full.yml');
    expect(env.hosts.find((host) => host.name === 'db1')!).toEqual({
      name: 'db1',
      address: '10.2.0.11',
      roles: ['db'],
      ssh: { user: 'deploy', port: 2222, connect_timeout: 20, bastion: 'jump' },
      labels: { zone: 'a', env: 'production' },
    });
    expect(env.app.databases).toEqual([
      { name: 'chamilo', charset: 'utf8mb4', collation: 'utf8mb4_general_ci' },
      { name: 'reporting', charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' },
    ]);
    expect(env.app.users[1]).toMatchObject({ privileges: ['SELECT', 'SHOW VIEW'], hosts: ['10.2.0.%'] });
    expect(env.database).toMatchObject({ version: '11.4', sst_user: 'sst', sync_wait: 3, bind_address: '::', buffer_pool_size: 4294967296 });
    expect(env.storage).toMatchObject({ kind: 'glusterfs', brick_path: '/srv/gluster/chamilo-data', arbiter: 'garb', force_root_brick: true });
    expect(env.migrate).toEqual({
      files: { source_host: 'legacy', source_path: '/var/www/chamilo-old/app/upload' },
      database: { source_host: 'legacy', port: 3307, user: 'dumper', password: { env: 'LEGACY_DB_PASSWORD' }, databases: ['chamilo'] },
    });

    const lab = selectEnvironment(inventory, 'lab', 'full.yml');
    expect(lab.load_balancer).toMatchObject({ ports: { writer: 3307, reader: 3308, web: 8080 }, haproxy: { maxconn: 2000, timeout_seconds: 3600 } });
    expect(lab.storage).toMatchObject({ brick_path: '/data/files', owner: 'root', group: 'root', mode: '0755' });
    expect(lab.database).toMatchObject({ sst_method: 'rsync', sst_user: 'mysql' });
  });

  test('returns a copy: changing it does not change the loaded inventory', () => {
    const inventory = loadInventory(MINIMAL, 'ha.yml');
    const env = selectEnvironment(inventory, 'prod', 'ha.yml');
    env.hosts[0]!.roles.push('web');
    expect(inventory.environments.prod!.hosts[0]!.roles).toEqual(['db']);
    expect(selectEnvironment(inventory, 'prod', 'ha.yml').hosts[0]!.roles).toEqual(['db']);
  });

  test('an unknown environment lists the defined ones, pointing at "environments"', () => {
    const inventory = load('test/fixtures/inventory/full.yml');
    let error: DeployError | undefined;
    try {
      selectEnvironment(inventory, 'prodution', 'test/fixtures/inventory/full.yml');
    } catch (caught) {
      error = caught as DeployError;
    }
    expect(error).toBeInstanceOf(DeployError);
    expect(error!.reason).toBe('invalid-inventory');
    const message = 'environment "prodution" is not defined in test/fixtures/inventory/full.yml; it defines: production, lab; did you mean "production"?';
    expect(error!.message).toBe(message);
    expect(error!.problems).toEqual([{ file: 'test/fixtures/inventory/full.yml', line: 4, column: 1, message }]);
  });

  test('an environment that is not the object prototype', () => {
    const inventory = loadInventory(MINIMAL, 'ha.yml');
    expect(() => selectEnvironment(inventory, 'toString', 'ha.yml')).toThrow('environment "toString" is not defined in ha.yml; it defines: prod');
  });
});

describe('hostsWithRole', () => {
  test('returns the hosts with the role, in inventory order', () => {
    const env: Environment = selectEnvironment(loadInventory(MINIMAL, 'ha.yml'), 'prod', 'ha.yml');
    expect(hostsWithRole(env, 'db').map((host) => host.name)).toEqual(['db1', 'db2', 'db3']);
    expect(hostsWithRole(env, 'lb').map((host) => host.name)).toEqual(['lb1', 'lb2']);
    expect(hostsWithRole(env, 'web').map((host) => host.name)).toEqual(['db3']);
    expect(hostsWithRole(env, 'storage')).toEqual([]);
    // Role is the closed set of the schema, not any string.
    // @ts-expect-error "dbs" is not a role
    expect(hostsWithRole(env, 'dbs')).toEqual([]);
  });
});
