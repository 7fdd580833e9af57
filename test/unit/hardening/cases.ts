/**
 * Bad inputs, as a hostile or careless operator writes them. Each is one
 * change to a valid inventory (or to the arguments, inputs or environment of
 * a valid run), with what lms-ha must answer: the failure reason, where in
 * the file (the line of `at` in the changed text) and a fragment of the
 * message. `NET` is replaced by the case's own 10.255.X network.
 */

export const BASE_INVENTORY = `version: 1
environments:
  prod:
    ssh: { port: 2222 }
    hosts:
      - { name: db1, address: NET.11, roles: [db] }
      - { name: db2, address: NET.12, roles: [db] }
      - { name: db3, address: NET.13, roles: [db] }
      - { name: lb1, address: NET.21, roles: [lb] }
      - { name: lb2, address: NET.22, roles: [lb] }
      - { name: old, address: NET.31, roles: [] }
    app:
      preset: openedx
      users:
        - name: edxapp
          password: { env: EDXAPP_DB_PASSWORD }
          databases: [edxapp]
    database:
      cluster_name: prod
      sst_password: { env: GALERA_SST_PASSWORD }
      options:
        max_allowed_packet: 64M
    load_balancer:
      kind: proxysql
      vip: NET.100/24
      interface: eth0
      virtual_router_id: 51
      auth_password: { env: KEEPALIVED_PASSWORD }
      proxysql:
        admin_password: { env: PROXYSQL_ADMIN_PASSWORD }
        monitor_password: { env: PROXYSQL_MONITOR_PASSWORD }
    storage:
      kind: s3
      s3:
        bucket: lms-files
        region: eu-west-1
        endpoint: https://s3.example.test
        access_key_id: { env: S3_ACCESS_KEY_ID }
        secret_access_key: { env: S3_SECRET_ACCESS_KEY }
    migrate:
      database:
        source_host: old
        password: { env: LEGACY_DB_PASSWORD }
        databases: [edxapp]
  moodle:
    ssh: { port: 2222 }
    hosts:
      - { name: node1, address: NET.41, roles: [db, storage, web] }
      - { name: node2, address: NET.42, roles: [db, storage, web] }
      - { name: node3, address: NET.43, roles: [db, storage, web] }
      - { name: lbm1, address: NET.51, roles: [lb] }
      - { name: lbm2, address: NET.52, roles: [lb] }
      - { name: legacy, address: NET.61, roles: [] }
    app:
      preset: moodle
      users:
        - name: moodle
          password: { env: MOODLE_DB_PASSWORD }
          databases: [moodle]
    database:
      cluster_name: moodle
    load_balancer:
      kind: haproxy
      vip: NET.200/24
      interface: eth0
      virtual_router_id: 52
      auth_password: { env: KEEPALIVED_PASSWORD }
    storage:
      kind: glusterfs
      volume: moodledata
      mount_path: /var/moodledata
    migrate:
      files:
        source_host: legacy
        source_path: /var/www/moodledata
`;

/** Every secret the inventory names. */
export const SECRET_NAMES = [
  'EDXAPP_DB_PASSWORD',
  'GALERA_SST_PASSWORD',
  'KEEPALIVED_PASSWORD',
  'PROXYSQL_ADMIN_PASSWORD',
  'PROXYSQL_MONITOR_PASSWORD',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
  'LEGACY_DB_PASSWORD',
  'MOODLE_DB_PASSWORD',
] as const;

export type Front = 'cli' | 'action';

export interface BadInput {
  name: string;
  /** Which front runs it; inventory and secret cases alternate between the two. */
  front?: Front;
  environment?: 'prod' | 'moodle';
  /** [from, to] replacements on the base inventory, in order (first occurrence each). */
  edit?: [string, string][];
  /** The whole inventory text instead (after NET substitution). */
  text?: string;
  /** Secret variables overridden (undefined: unset). */
  vars?: Record<string, string | undefined>;
  /** CLI: arguments after the command and inventory/environment (or replacing them with `argv`). */
  args?: string[];
  argv?: string[];
  /** CLI environment variables besides the secrets. */
  cliEnv?: Record<string, string | undefined>;
  /** Action: inputs overridden. */
  inputs?: Record<string, string>;
  reason: 'invalid-inventory' | 'invalid-input' | 'missing-secret' | 'host-key-unknown';
  /** Substring of the changed inventory whose line the problem must name; null: no file position. */
  at: string | null;
  fragment: string | RegExp;
}

const inv = (name: string, edit: [string, string][], at: string, fragment: string | RegExp, environment?: 'prod' | 'moodle'): BadInput => ({
  name,
  edit,
  at,
  fragment,
  reason: 'invalid-inventory',
  ...(environment ? { environment } : {}),
});
const moodle = (name: string, edit: [string, string][], at: string, fragment: string | RegExp) => inv(name, edit, at, fragment, 'moodle');

const OPTION_LINE = '        max_allowed_packet: 64M';
const option = (key: string, value = 'OFF') => inv(`managed option ${key}`, [[OPTION_LINE, `${OPTION_LINE}\n        ${key}: ${value}`]], `${key}:`, 'remove it from options');

const MOUNT = 'mount_path: /var/moodledata';
const mount = (path: string, fragment: string | RegExp = 'system directory') => moodle(`mount at ${path}`, [[MOUNT, `mount_path: ${path}`]], `mount_path: ${path}`, fragment);
const brick = (path: string, fragment: string | RegExp = 'system directory') =>
  moodle(`brick at ${path}`, [[MOUNT, `${MOUNT}\n      brick_path: ${path}`]], `brick_path: ${path}`, fragment);
const SOURCE = 'source_path: /var/www/moodledata';
const source = (path: string, fragment: string | RegExp) => moodle(`migration source ${path}`, [[SOURCE, `source_path: ${path}`]], `source_path: ${path}`, fragment);
const OCTETS: Record<string, number> = { db1: 11, db2: 12, db3: 13, lb1: 21, lb2: 22, node1: 41, lbm1: 51 };
const address = (host: string, value: string, fragment: string | RegExp, environment: 'prod' | 'moodle' = 'prod') =>
  inv(`address of ${host}: ${value}`, [[`name: ${host}, address: NET.${OCTETS[host]}`, `name: ${host}, address: ${value}`]], `name: ${host}, address: ${value}`, fragment, environment);

export const INVENTORY_CASES: BadInput[] = [
  // --- Managed settings through database.options, in every spelling MariaDB accepts.
  option('wsrep_on'),
  option('wsrep-on'),
  option('loose_wsrep_on'),
  option('loose-wsrep-on'),
  option('loose-wsrep-cluster-address', 'gcomm://'),
  option('skip-wsrep-on', 'true'),
  option('enable-wsrep-on', 'true'),
  option('disable-wsrep-on', 'true'),
  option('maximum-max-connections', '10'),
  option('wsrep_cluster_addr', 'gcomm://'),
  option('WSREP_ON'.toLowerCase().replace('on', 'provider'), '/tmp/x.so'),
  option('binlog_format', 'STATEMENT'),
  option('loose_binlog_format', 'MIXED'),
  option('bind-address', '127.0.0.1'),
  option('port', '3307'),
  option('innodb_autoinc_lock_mode', '1'),
  option('loose-default-storage-engine', 'MyISAM'),
  option('wsrep_sst_auth', 'root:x'),
  option('wsrep_node_address', '10.9.9.9'),
  option('wsrep-sync-wait', '0'),
  inv('option value with a line break', [[OPTION_LINE, `${OPTION_LINE}\n        sql_mode: "A\\nB"`]], 'sql_mode:', 'must be a single line'),
  inv('option name with a space', [[OPTION_LINE, `${OPTION_LINE}\n        "bad name": 1`]], '"bad name"', 'must be lowercase letters'),

  // --- Paths: dot segments, system directories, sources.
  mount('/var/moodledata/../../etc', /without "\.", "\.\." or empty segments/),
  mount('/srv/./data', /without "\.", "\.\." or empty segments/),
  mount('/srv//data', /without "\.", "\.\." or empty segments/),
  mount('/etc'),
  mount('/usr'),
  mount('/usr/local/data'),
  mount('/var/lib/mysql'),
  mount('/var/lib/mysql/moodle'),
  mount('/var'),
  mount('/var/lib'),
  mount('/'),
  mount('/proc/data'),
  mount('/sys'),
  mount('/boot'),
  mount('/dev/shm'),
  mount('/run/moodle'),
  mount('/root'),
  mount('/var/lib/glusterd'),
  mount('/tmp'),
  mount('relative/path', 'must be an absolute path'),
  mount('/srv/moodle data', 'must be an absolute path'),
  mount('/srv/moodle@data', 'must be an absolute path'),
  mount('/srv/moodle+data', 'must be an absolute path'),
  brick('/etc/gluster'),
  brick('/var/moodledata/../brick', /without "\.", "\.\." or empty segments/),
  brick('/var/moodledata/brick', 'is inside the mounted volume'),
  brick('/var/lib/mysql/brick'),
  brick('/srv/../etc/brick', /without "\.", "\.\." or empty segments/),
  source('/', 'root filesystem'),
  source('/proc', 'kernel or system directory'),
  source('/sys/fs', 'kernel or system directory'),
  source('/dev', 'kernel or system directory'),
  source('/var/moodledata', 'overlaps the volume'),
  source('/var/moodledata/old', 'overlaps the volume'),
  source('/var', 'overlaps the volume'),
  source('/var/www/../moodledata', /without "\.", "\.\." or empty segments/),
  source('moodledata', 'must be an absolute path'),

  // --- Addresses.
  address('db1', '127.0.0.1', 'loopback'),
  address('db2', '127.1.2.3', 'loopback'),
  address('db3', '::1', 'loopback'),
  address('db1', 'localhost', 'loopback'),
  address('lb1', 'db.localhost', 'loopback'),
  address('lb1', 'lb1.example.test', 'must be an IPv4 address'),
  address('lb2', '2001:db8::22', 'is IPv6 but "load_balancer.vip" is IPv4'),
  address('lbm1', 'lbm1.lan', 'must be an IPv4 address', 'moodle'),
  address('node1', '127.0.0.1', 'loopback', 'moodle'),
  address('db1', '0.0.0.0', 'any address'),
  address('db1', '224.0.0.5', 'multicast'),
  address('db1', '10.0.0.300', 'not a valid IPv4'),
  address('db1', 'root@10.0.0.1', 'must not include a user name'),
  address('db1', '10.0.0.1:22', 'must not include a port'),
  address('db1', 'http://db1', 'not a URL'),
  address('db1', '[2001:db8::1]', 'without brackets'),
  address('db1', 'fe80::1%eth0', 'zone id'),
  address('db1', 'db_1.lan', 'not a valid IP address or DNS name'),
  inv('duplicate address', [['name: db2, address: NET.12', 'name: db2, address: NET.11']], 'name: db2, address: NET.11', 'duplicate address'),
  inv('VIP outside the load balancers subnet', [['vip: NET.100/24', 'vip: 10.254.0.100/24']], 'vip: 10.254.0.100/24', 'is not in the subnet'),
  inv('VIP is a host address', [['vip: NET.100/24', 'vip: NET.21/24']], 'vip: NET.21/24', 'the VIP must be an address no host uses'),
  inv('VIP is the network address', [['vip: NET.100/24', 'vip: NET.0/24']], 'vip: NET.0/24', 'network address'),
  inv('VIP written as IPv6', [['vip: NET.100/24', 'vip: 2001:db8::100/64']], 'vip: 2001:db8::100/64', 'must be an IPv4 address with the prefix'),

  // --- Names.
  moodle('volume starting with a dash', [['volume: moodledata', 'volume: -moodledata']], 'volume: -moodledata', 'not starting with "-"'),
  moodle('volume with a space', [['volume: moodledata', 'volume: "moodle data"']], 'volume: "moodle data"', 'must be a volume name'),
  inv('bucket shaped like an IP', [['bucket: lms-files', 'bucket: 192.168.5.4']], 'bucket: 192.168.5.4', 'shaped like an IP address'),
  inv('bucket with two dots', [['bucket: lms-files', 'bucket: lms..files']], 'bucket: lms..files', '".."'),
  inv('bucket with dot-dash', [['bucket: lms-files', 'bucket: lms.-files']], 'bucket: lms.-files', '".-"'),
  inv('bucket with a reserved prefix', [['bucket: lms-files', 'bucket: xn--lms-files']], 'bucket: xn--lms-files', 'reserves'),
  inv('bucket in capitals', [['bucket: lms-files', 'bucket: LMS-Files']], 'bucket: LMS-Files', 'must be an S3 bucket name'),
  inv('endpoint with a path', [['endpoint: https://s3.example.test', 'endpoint: https://s3.example.test/bucket']], 'endpoint: https://s3.example.test/bucket', 'without a path'),
  inv('endpoint with credentials', [['endpoint: https://s3.example.test', 'endpoint: https://AKIDCANARY:sEcReTcAnArY@s3.example.test']], 'endpoint: https://AKIDCANARY', 'a secret written inline'),
  inv('package URL with credentials', [['        monitor_password: { env: PROXYSQL_MONITOR_PASSWORD }', `        monitor_password: { env: PROXYSQL_MONITOR_PASSWORD }\n        package: { url: "https://user:pAsSwOrDcAnArY@pkgs.example.test/proxysql.deb", sha256: ${'a'.repeat(64)} }`]], 'package: { url:', 'a secret written inline'),
  inv('endpoint not http', [['endpoint: https://s3.example.test', 'endpoint: ftp://s3.example.test']], 'endpoint: ftp://', 'must be an http(s) URL'),
  inv('environment name with a space', [['  moodle:\n', '  "mood le":\n']], '"mood le"', 'environment name'),
  inv('host name with capitals', [['name: db1, address', 'name: DB1, address']], 'name: DB1', 'must be a short host name'),
  inv('host name with a leading dash', [['name: db1, address', 'name: -db1, address']], 'name: -db1', 'must be a short host name'),
  inv('duplicate host name', [['name: db2, address', 'name: db1, address']], 'name: db1, address: NET.12', 'duplicate host name'),
  inv('app user reserved', [['name: edxapp\n', 'name: root\n']], 'name: root', 'reserved for MariaDB'),
  inv('app user with a quote', [['name: edxapp\n', "name: \"edx'app\"\n"]], 'name: "edx', 'must be a database user name'),
  inv('database name with a dash', [['databases: [edxapp]\n    database:', 'databases: [edx-app]\n    database:']], 'databases: [edx-app]', 'not declared'),
  inv('cluster name with a space', [['cluster_name: prod', 'cluster_name: "prod cluster"']], 'cluster_name: "prod cluster"', 'must be letters, digits'),
  inv('interface name too long', [['interface: eth0', 'interface: averyveryverylongifname']], 'interface: averyvery', 'network interface name'),

  // --- Prototype keys: never skip a subtree, never crash.
  inv('environment named constructor', [['  moodle:\n', '  constructor:\n']], 'constructor:', /./),
  inv('environment named __proto__', [['  moodle:\n', '  __proto__:\n']], '__proto__:', /./),
  inv('environment named toString', [['  moodle:\n', '  toString:\n']], 'toString:', /./),
  inv('host key constructor', [['{ name: db1, address: NET.11, roles: [db] }', '{ name: db1, address: NET.11, roles: [db], constructor: 1 }']], 'constructor: 1', 'unknown key "constructor"'),
  inv('database key toString', [['cluster_name: prod', 'cluster_name: prod\n      toString: x']], 'toString: x', 'unknown key "toString"'),
  inv('option named constructor', [[OPTION_LINE, `${OPTION_LINE}\n        __proto__: 1`]], '__proto__: 1', /./),
  inv('load balancer key hasOwnProperty', [['interface: eth0', 'interface: eth0\n      hasOwnProperty: 1']], 'hasOwnProperty: 1', 'unknown key "hasOwnProperty"'),

  // --- Secrets written inline or malformed references.
  inv('password written inline', [['password: { env: EDXAPP_DB_PASSWORD }', 'password: hunter2-inline-canary']], 'password: hunter2', 'never write secrets in the inventory'),
  inv('password as a map key', [['password: { env: EDXAPP_DB_PASSWORD }', 'password: { hunter2-inline-canary: 1 }']], 'hunter2-inline-canary: 1', 'never write secrets in the inventory'),
  inv('secret reference to a lowercase name', [['{ env: GALERA_SST_PASSWORD }', '{ env: galera_sst }']], '{ env: galera_sst }', 'must be the name of an environment variable'),
  inv('root_password is gone', [['cluster_name: prod', 'cluster_name: prod\n      root_password: { env: GALERA_SST_PASSWORD }']], 'root_password', 'unknown key "root_password"'),

  // --- YAML shapes that used to read badly.
  inv('undefined alias', [['cluster_name: prod', 'cluster_name: *nope']], '*nope', 'refers to no anchor'),
  inv('alias inside its own anchor', [['options:\n        max_allowed_packet: 64M', 'options: &loop\n        max_allowed_packet: 64M\n        again: *loop']], '*loop', /alias|anchor|map/),
  inv('alias bomb', [['version: 1\n', `version: 1\n${bomb()}`]], 'l9:', 'alias bomb'),
  inv('deep nesting', [['version: 1\n', `version: 1\ndeep: ${'['.repeat(3000)}${']'.repeat(3000)}\n`]], 'deep:', /nests/),
  inv('deep block nesting', [['version: 1\n', `version: 1\n${deepBlock(80)}`]], 'k70:', /nests deeper than/),
  inv('key with a line break', [['cluster_name: prod', 'cluster_name: prod\n      "bad\\nkey": 1']], '"bad\\nkey"', 'unknown key "bad\\nkey"'),
  inv('key with a tab', [['cluster_name: prod', 'cluster_name: prod\n      "bad\\tkey": 1']], '"bad\\tkey"', 'unknown key "bad\\tkey"'),
  inv('duplicate key', [['cluster_name: prod', 'cluster_name: prod\n      cluster_name: again']], 'cluster_name: again', 'duplicate key'),
  inv('two documents', [['version: 1\n', 'version: 1\n---\nversion: 1\n']], '---', 'single YAML document'),
  inv('tab indentation', [['    app:\n', '    app:\n\t\n']], '\t', /YAML/),
  inv('unclosed flow map', [['{ name: db1, address: NET.11, roles: [db] }', '{ name: db1, address: NET.11, roles: [db]']], '{ name: db1, address: NET.11, roles: [db]\n', /YAML/),
  inv('merge key with a wrong type', [['{ name: db1, address: NET.11, roles: [db] }', '{ <<: { port: nope }, name: db1, address: NET.11, roles: [db] }']], '<<:', /unknown key "port"/),
  inv('version 2', [['version: 1', 'version: 2']], 'version: 2', 'must be 1'),
  inv('version as a string', [['version: 1', 'version: "1"']], 'version: "1"', 'must be 1'),
  inv('no environments', [[BASE_INVENTORY.slice(BASE_INVENTORY.indexOf('environments:')), 'environments: {}\n']], 'environments: {}', 'must not be empty'),

  // --- Cluster shape.
  inv('two db nodes', [['      - { name: db3, address: NET.13, roles: [db] }\n', '      - { name: db3, address: NET.13, roles: [] }\n']], '    database:', 'even number of votes'),
  inv('one load balancer', [['name: lb2, address: NET.22, roles: [lb]', 'name: lb2, address: NET.22, roles: [db]']], 'load_balancer:', 'at least two hosts with the lb role'),
  inv('port collision', [['ssh: { port: 2222 }', 'ssh: { port: 3306 }']], 'port: 3306', 'collides'),
  inv('proxysql without its section', [['      proxysql:\n        admin_password: { env: PROXYSQL_ADMIN_PASSWORD }\n        monitor_password: { env: PROXYSQL_MONITOR_PASSWORD }\n', '']], 'load_balancer:', 'needs a "proxysql" section'),
  inv('virtual router id 0', [['virtual_router_id: 51', 'virtual_router_id: 0']], 'virtual_router_id: 0', 'from 1 to 255'),
  inv('unknown role', [['roles: [db] }', 'roles: [dbs] }']], 'roles: [dbs]', 'did you mean "db"'),
  inv('migration source not a host', [['source_host: old', 'source_host: olde']], 'source_host: olde', 'not defined'),
  moodle('replica 2 without arbiter', [['name: node3, address: NET.43, roles: [db, storage, web]', 'name: node3, address: NET.43, roles: [db, web]'], ['name: lbm2, address: NET.52, roles: [lb]', 'name: lbm2, address: NET.52, roles: [lb, arbitrator]']], 'storage:', 'split brain'),
  moodle('mode unquoted', [[MOUNT, `${MOUNT}\n      mode: 0770`]], 'mode: 0770', 'quoted octal mode'),
  moodle('owner with capitals', [[MOUNT, `${MOUNT}\n      owner: WWW`]], 'owner: WWW', 'Unix user'),
];

function bomb(): string {
  const lines = ['l0: &l0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++) lines.push(`l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

function deepBlock(levels: number): string {
  return `${Array.from({ length: levels }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n')} 1\n`;
}

/** Fresh canary values pass every shape rule; these break one each. */
export const SECRET_CASES: BadInput[] = [
  { name: 'unset secret', vars: { GALERA_SST_PASSWORD: undefined }, reason: 'missing-secret', at: '{ env: GALERA_SST_PASSWORD }', fragment: 'GALERA_SST_PASSWORD is not set' },
  { name: 'empty secret', vars: { EDXAPP_DB_PASSWORD: '' }, reason: 'missing-secret', at: '{ env: EDXAPP_DB_PASSWORD }', fragment: 'EDXAPP_DB_PASSWORD is not set' },
  { name: 'one-character secret', vars: { EDXAPP_DB_PASSWORD: 'p' }, reason: 'invalid-input', at: '{ env: EDXAPP_DB_PASSWORD }', fragment: 'shorter than 8 characters' },
  { name: 'seven-character secret', vars: { S3_ACCESS_KEY_ID: 'AKIA123' }, reason: 'invalid-input', at: '{ env: S3_ACCESS_KEY_ID }', fragment: 'shorter than 8 characters' },
  { name: 'whitespace-only secret', vars: { LEGACY_DB_PASSWORD: '          ' }, reason: 'invalid-input', at: '{ env: LEGACY_DB_PASSWORD }', fragment: 'only whitespace' },
  { name: 'secret with a newline', vars: { GALERA_SST_PASSWORD: 'first-line-canary\nDROP DATABASE mysql;' }, reason: 'invalid-input', at: '{ env: GALERA_SST_PASSWORD }', fragment: 'line break' },
  { name: 'secret with a carriage return', vars: { PROXYSQL_MONITOR_PASSWORD: 'monitor-canary\rx' }, reason: 'invalid-input', at: '{ env: PROXYSQL_MONITOR_PASSWORD }', fragment: 'line break' },
  { name: 'secret with a trailing newline', vars: { S3_SECRET_ACCESS_KEY: 'sEcReT-canary-key\n' }, reason: 'invalid-input', at: '{ env: S3_SECRET_ACCESS_KEY }', fragment: 'line break' },
  { name: 'keepalived password with a space', vars: { KEEPALIVED_PASSWORD: 'vr p-canary' }, reason: 'invalid-input', at: '{ env: KEEPALIVED_PASSWORD }', fragment: 'keepalived uses its first 8 characters' },
  { name: 'keepalived password with a hash', vars: { KEEPALIVED_PASSWORD: 'vrrp#canary' }, reason: 'invalid-input', at: '{ env: KEEPALIVED_PASSWORD }', fragment: 'keepalived uses its first 8 characters' },
  { name: 'keepalived password with a brace', vars: { KEEPALIVED_PASSWORD: '{vrrpcanary' }, reason: 'invalid-input', at: '{ env: KEEPALIVED_PASSWORD }', fragment: 'keepalived uses its first 8 characters' },
  { name: 'keepalived password non-ASCII', vars: { KEEPALIVED_PASSWORD: 'vrrpé-canary' }, reason: 'invalid-input', at: '{ env: KEEPALIVED_PASSWORD }', fragment: 'keepalived uses its first 8 characters' },
  { name: 'ProxySQL admin password with a colon', vars: { PROXYSQL_ADMIN_PASSWORD: 'admin:canary-pw' }, reason: 'invalid-input', at: '{ env: PROXYSQL_ADMIN_PASSWORD }', fragment: 'cannot carry ":", ";"' },
  { name: 'ProxySQL admin password with a semicolon', vars: { PROXYSQL_ADMIN_PASSWORD: 'admin;canary-pw' }, reason: 'invalid-input', at: '{ env: PROXYSQL_ADMIN_PASSWORD }', fragment: 'cannot carry ":", ";"' },
  { name: 'ProxySQL admin password with a backslash', vars: { PROXYSQL_ADMIN_PASSWORD: 'admin\\canary-pw' }, reason: 'invalid-input', at: '{ env: PROXYSQL_ADMIN_PASSWORD }', fragment: 'cannot carry ":", ";"' },
  { name: 'ProxySQL monitor password with a backslash', vars: { PROXYSQL_MONITOR_PASSWORD: 'monitor\\canary' }, reason: 'invalid-input', at: '{ env: PROXYSQL_MONITOR_PASSWORD }', fragment: 'backslash' },
  { name: 'short moodle secret', environment: 'moodle', vars: { MOODLE_DB_PASSWORD: 'moodle' }, reason: 'invalid-input', at: '{ env: MOODLE_DB_PASSWORD }', fragment: 'shorter than 8 characters' },
  { name: 'two bad secrets at once', vars: { EDXAPP_DB_PASSWORD: 'x', LEGACY_DB_PASSWORD: '\n' }, reason: 'invalid-input', at: '{ env: LEGACY_DB_PASSWORD }', fragment: 'line break' },
];

const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl canary@pub';

/** Arguments, inputs and files named by them: no file position unless the file is the inventory. */
export const ARGUMENT_CASES: BadInput[] = [
  { name: '-p 0x10', front: 'cli', args: ['-p', '0x10'], reason: 'invalid-input', at: null, fragment: 'must be a whole number from 1 to 256' },
  { name: '-p 1e2', front: 'cli', args: ['-p', '1e2'], reason: 'invalid-input', at: null, fragment: 'must be a whole number from 1 to 256' },
  { name: '-p 0', front: 'cli', args: ['-p', '0'], reason: 'invalid-input', at: null, fragment: 'must be a whole number from 1 to 256' },
  { name: '-p 257', front: 'cli', args: ['-p', '257'], reason: 'invalid-input', at: null, fragment: 'must be a whole number from 1 to 256' },
  { name: '-p " 5"', front: 'cli', args: ['-p', ' 5'], reason: 'invalid-input', at: null, fragment: 'must be a whole number from 1 to 256' },
  { name: '-p -1', front: 'cli', args: ['--parallelism=-1'], reason: 'invalid-input', at: null, fragment: 'must be a whole number from 1 to 256' },
  { name: 'parallelism input 0x10', front: 'action', inputs: { parallelism: '0x10' }, reason: 'invalid-input', at: null, fragment: 'must be a whole number from 1 to 256' },
  { name: 'parallelism input 1e1', front: 'action', inputs: { parallelism: '1e1' }, reason: 'invalid-input', at: null, fragment: 'must be a whole number from 1 to 256' },
  { name: 'malformed --plan-hash', front: 'cli', args: ['-m', 'apply', '--plan-hash', 'abc123'], reason: 'invalid-input', at: null, fragment: '64 hex characters' },
  { name: '--plan-hash of 63 digits', front: 'cli', args: ['-m', 'apply', '--plan-hash', 'a'.repeat(63)], reason: 'invalid-input', at: null, fragment: '64 hex characters' },
  { name: 'plan-hash input not hex', front: 'action', inputs: { mode: 'apply', 'plan-hash': 'z'.repeat(64) }, reason: 'invalid-input', at: null, fragment: '64 hex characters' },
  { name: 'plan-hash-key too short (CLI)', front: 'cli', cliEnv: { LMS_HA_PLAN_HASH_KEY: 'short-key' }, reason: 'invalid-input', at: null, fragment: 'at least 32 characters' },
  { name: 'plan-hash-key with a newline (action)', front: 'action', inputs: { 'plan-hash-key': `${'k'.repeat(40)}\n${'k'.repeat(40)}` }, reason: 'invalid-input', at: null, fragment: 'at least 32 characters' },
  { name: 'command not built (CLI)', front: 'cli', argv: ['provision'], reason: 'invalid-input', at: null, fragment: 'not available in this version' },
  { name: 'command not built (action)', front: 'action', inputs: { command: 'provision' }, reason: 'invalid-input', at: null, fragment: 'not available in this version' },
  { name: 'unknown command', front: 'cli', argv: ['deploy-everything'], reason: 'invalid-input', at: null, fragment: 'is not a command' },
  { name: 'unknown command (action)', front: 'action', inputs: { command: 'rm -rf /' }, reason: 'invalid-input', at: null, fragment: 'is not a command' },
  { name: 'bad mode', front: 'cli', args: ['-m', 'destroy'], reason: 'invalid-input', at: null, fragment: 'must be plan or apply' },
  { name: 'bad mode (action)', front: 'action', inputs: { mode: 'APPLY!' }, reason: 'invalid-input', at: null, fragment: 'must be plan or apply' },
  { name: 'unknown flag', front: 'cli', args: ['--inventroy', 'ha.yml'], reason: 'invalid-input', at: null, fragment: 'Unknown option' },
  { name: 'two commands', front: 'cli', argv: ['preflight', 'deploy-db'], reason: 'invalid-input', at: null, fragment: 'one command at a time' },
  { name: 'no environment', front: 'cli', argv: ['preflight', '-i', 'ha.yml'], reason: 'invalid-input', at: null, fragment: 'is required' },
  { name: 'environment not defined', front: 'action', inputs: { environment: 'staging' }, reason: 'invalid-inventory', at: 'environments:', fragment: 'is not defined' },
  { name: 'bad insecure flag (action)', front: 'action', inputs: { 'insecure-skip-host-key-check': 'yes' }, reason: 'invalid-input', at: null, fragment: 'must be true or false' },
  { name: '-i /dev/zero (bounded read)', front: 'cli', args: ['-i', '/dev/zero'], reason: 'invalid-input', at: null, fragment: 'larger than' },
  { name: 'inventory input /dev/zero', front: 'action', inputs: { inventory: '/dev/zero' }, reason: 'invalid-input', at: null, fragment: 'larger than' },
  { name: '-i a directory', front: 'cli', args: ['-i', '.'], reason: 'invalid-input', at: null, fragment: 'is a directory' },
  { name: '-i missing file', front: 'cli', args: ['-i', 'nope.yml'], reason: 'invalid-input', at: null, fragment: 'no such file' },
  { name: 'private key text in --ssh-key', front: 'cli', args: ['--ssh-key', '@PRIVATE_KEY@'], reason: 'invalid-input', at: null, fragment: 'looks like key text (not shown)' },
  { name: 'missing --ssh-key file', front: 'cli', args: ['--ssh-key', 'no-such-key'], reason: 'invalid-input', at: null, fragment: 'no such file' },
  { name: '--ssh-key /dev/zero', front: 'cli', args: ['--ssh-key', '/dev/zero'], reason: 'invalid-input', at: null, fragment: 'larger than' },
  { name: 'public key in LMS_HA_SSH_KEY', front: 'cli', cliEnv: { LMS_HA_SSH_KEY: PUBLIC_KEY }, reason: 'invalid-input', at: null, fragment: 'PUBLIC key' },
  { name: 'public key as the private key input', front: 'action', inputs: { 'ssh-private-key': PUBLIC_KEY }, reason: 'invalid-input', at: null, fragment: 'PUBLIC key' },
  { name: 'garbage as the private key input', front: 'action', inputs: { 'ssh-private-key': '-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----' }, reason: 'invalid-input', at: null, fragment: 'could not be read' },
  { name: 'known_hosts content in --known-hosts', front: 'cli', args: ['--known-hosts', '@KNOWN_HOSTS@'], reason: 'invalid-input', at: null, fragment: 'looks like known_hosts content' },
  { name: 'missing --known-hosts file', front: 'cli', args: ['--known-hosts', 'no-such-known-hosts'], reason: 'invalid-input', at: null, fragment: 'no such file' },
  { name: 'missing LMS_HA_KNOWN_HOSTS file', front: 'cli', cliEnv: { LMS_HA_KNOWN_HOSTS: '/nonexistent/known_hosts' }, reason: 'invalid-input', at: null, fragment: 'no such file' },
  { name: 'empty known-hosts (action)', front: 'action', inputs: { 'known-hosts': '' }, reason: 'invalid-input', at: null, fragment: 'is empty' },
  { name: 'known_hosts with only a DSA key', front: 'action', inputs: { 'known-hosts': '@DSA_KNOWN_HOSTS@' }, reason: 'host-key-unknown', at: null, fragment: 'no pinned host key' },
  { name: 'many-star known_hosts pattern (bounded lookup)', front: 'cli', cliEnv: { LMS_HA_KNOWN_HOSTS: '@STAR_KNOWN_HOSTS@' }, reason: 'host-key-unknown', at: null, fragment: 'no pinned host key' },
  { name: 'negated host in known_hosts', front: 'action', inputs: { 'known-hosts': '@NEGATED_KNOWN_HOSTS@' }, reason: 'host-key-unknown', at: null, fragment: 'no pinned host key for db1' },
  { name: 'malformed workflow secrets JSON', front: 'action', vars: { LMS_HA_INVENTORY_SECRETS: '{not json' }, reason: 'invalid-input', at: null, fragment: 'is not a JSON object' },
];
