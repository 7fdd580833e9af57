/**
 * The inventory format, defined once. Everything else derives from this file:
 * the TypeScript types (`Static<>`), validation (src/inventory/validate.ts walks
 * these schemas, and TypeBox's own checker double-checks the result), the
 * defaults (selectEnvironment reads DEFAULTS, which the schema also publishes as
 * `default` annotations) and schema/inventory.schema.json for editors.
 *
 * Two non-standard keywords are used because VS Code's and yaml-language-server's
 * JSON support understand them too, so editors and the CLI say the same thing:
 * - `errorMessage`: replaces the generic "must be a string" for this node;
 * - `patternErrorMessage`: explains a `pattern` in words.
 * Both are phrased to follow the name of the field: `"port" ${errorMessage}`.
 */
import { Type, type Static, type TLiteral } from '@sinclair/typebox';

/** Defaults applied by selectEnvironment; also written into the JSON Schema as `default`. */
export const DEFAULTS = {
  ssh: { user: 'root', port: 22, connect_timeout: 10 },
  database: {
    version: '10.11',
    sst_method: 'mariabackup',
    // Without sst_password, mariabackup SST logs in over the unix socket as the
    // OS user mysqld runs as, so the account must be "mysql" (nothing to leak).
    // With a password, a dedicated account is used.
    sst_user_socket: 'mysql',
    sst_user_password: 'sst',
    sync_wait: 1,
    port: 3306,
    // Galera peers and the load balancers must reach every node; the firewall set
    // up by `provision` is what limits who can connect, not the bind address.
    bind_address: '0.0.0.0',
  },
  appDatabase: { charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' },
  appUser: { privileges: 'ALL', hosts: ['%'] },
  haproxy: {
    ports: { writer: 3307, reader: 3308 },
    clustercheck_port: 9200,
    maxconn: 4096,
    // Matches MariaDB's default wait_timeout, so HAProxy never cuts an idle
    // connection the server itself would have kept.
    timeout_seconds: 28800,
    web_backend_port: 80,
  },
  proxysql: { ports: { mysql: 6033, admin: 6032 } },
  storage: { owner: 'root', mode: '0755', force_root_brick: false },
  migrateDatabase: { port: 3306, user: 'root' },
  provision: {
    vip_name: 'lms-ha-vip',
    firewall: { enabled: true, policy: 'fence', confirm_seconds: 60 },
    time: { max_skew_ms: 500 },
    packages: { source: 'distro' },
    plan_account: { user: 'lms-ha-plan' },
  },
} as const;

/** The SST account when `database.sst_user` is not given. */
export function defaultSstUser(database: { sst_password?: unknown }): string {
  return database.sst_password === undefined ? DEFAULTS.database.sst_user_socket : DEFAULTS.database.sst_user_password;
}

/** Where a GlusterFS brick lives when `storage.brick_path` is not given. */
export function defaultBrickPath(volume: string): string {
  return `/srv/gluster/${volume}`;
}

// ---------------------------------------------------------------------------
// Building blocks

/** Marks the SecretRef schema so the validator can refuse plain values without echoing them. */
export const SECRET_REF_TITLE = 'SecretRef';

const strict = { additionalProperties: false } as const;

function pattern(regex: string, patternErrorMessage: string, extra: Record<string, unknown> = {}) {
  return Type.String({ pattern: regex, patternErrorMessage, ...extra });
}

/** One of a fixed set of words; published as `anyOf` of `const`s, which editors offer as completions. */
function literals<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) {
  return Type.Union(values.map((value) => Type.Literal(value)) as TLiteral<T[number]>[], options);
}

const Port = (description: string, defaultValue?: number) =>
  Type.Integer({
    minimum: 1,
    maximum: 65535,
    description,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });

const AbsolutePath = (description: string) =>
  pattern(
    '^/[A-Za-z0-9._/-]*$',
    'must be an absolute path of letters, digits, ".", "_", "-" and "/" (no spaces)',
    { description },
  );

const UnixUser = (description: string) =>
  pattern('^[a-z_][a-z0-9_-]{0,31}$', 'must be a Unix user or group name (lowercase letters, digits, "_" and "-", like deploy)', {
    description,
  });

const SqlUserName = (description: string) =>
  pattern('^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$', 'must be a database user name of letters, digits, "_", "." and "-" (at most 80)', {
    description,
  });

export const DatabaseNameSchema = pattern(
  '^[A-Za-z0-9_]{1,64}$',
  'must be a database name of letters, digits and "_" (at most 64 characters)',
  { description: 'Name of a database (schema) on the Galera cluster.' },
);

const Size = (description: string) =>
  Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[1-9][0-9]*[KMGT]$' })], {
    description,
    errorMessage: 'must be a size like 512M or 2G (a whole number followed by K, M, G or T), or a number of bytes',
  });

// ---------------------------------------------------------------------------
// Secrets

export const SecretRefSchema = Type.Object(
  {
    env: pattern(
      '^[A-Z_][A-Z0-9_]*$',
      'must be the name of an environment variable: capital letters, digits and "_", not starting with a digit (like MOODLE_DB_PASSWORD)',
      { description: 'Environment variable that holds the secret at run time (for example filled from a GitHub secret).' },
    ),
  },
  {
    ...strict,
    title: SECRET_REF_TITLE,
    description: 'A secret, referenced by the environment variable that holds it. Secrets are never written in the inventory.',
    errorMessage:
      'must be a secret reference { env: NAME }: never write secrets in the inventory; put the value in an environment variable (for example from a GitHub secret) and name it here',
  },
);

// ---------------------------------------------------------------------------
// Hosts and SSH

export const ROLES = ['db', 'lb', 'storage', 'web', 'bastion', 'arbitrator'] as const;
export const RoleSchema = literals(ROLES, {
  description:
    'db: Galera node; lb: load balancer holding the VIP; storage: GlusterFS brick; web: application server (GlusterFS client, web backend); bastion: SSH jump host; arbitrator: Galera arbitrator (garbd), a vote without data.',
});

export const HostNameSchema = pattern(
  '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$',
  'must be a short host name of lowercase letters, digits and "-" (like db1)',
  { description: 'Short name, unique in the environment: used in logs, /etc/hosts and as the Galera node name.' },
);

export const EnvironmentSshSchema = Type.Object(
  {
    user: Type.Optional(UnixUser(`Login user for every host; a non-root user needs passwordless sudo. Default ${DEFAULTS.ssh.user}.`)),
    port: Type.Optional(Port('SSH port for every host.', DEFAULTS.ssh.port)),
    bastion: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Name of a host with the bastion role: every other host is reached through it (jump host).',
      }),
    ),
    connect_timeout: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 300, default: DEFAULTS.ssh.connect_timeout, description: 'Seconds to wait for an SSH connection.' }),
    ),
  },
  { ...strict, description: 'SSH settings for the whole environment; a host can override user and port.' },
);

export const HostSshSchema = Type.Object(
  {
    user: Type.Optional(UnixUser('Login user for this host.')),
    port: Type.Optional(Port('SSH port for this host.')),
  },
  { ...strict, description: 'SSH settings for this host only.' },
);

export const HostSchema = Type.Object(
  {
    name: HostNameSchema,
    address: Type.String({
      minLength: 1,
      maxLength: 253,
      description: 'IPv4 or IPv6 address (without brackets) or DNS name the runner and the other hosts reach this host at.',
    }),
    roles: Type.Array(RoleSchema, {
      uniqueItems: true,
      description: 'What runs on this host. A host without roles is only a migration source.',
    }),
    ssh: Type.Optional(HostSshSchema),
    labels: Type.Optional(
      Type.Record(Type.String(), Type.String(), { ...strict, description: 'Free-form key/value labels (not interpreted).' }),
    ),
  },
  { ...strict, description: 'One machine reached over SSH.' },
);

// ---------------------------------------------------------------------------
// Application

export const APP_PRESETS = ['moodle', 'openedx', 'chamilo', 'custom'] as const;

export const DB_PRIVILEGES = [
  'ALTER',
  'ALTER ROUTINE',
  'CREATE',
  'CREATE ROUTINE',
  'CREATE TEMPORARY TABLES',
  'CREATE VIEW',
  'DELETE',
  'DELETE HISTORY',
  'DROP',
  'EVENT',
  'EXECUTE',
  'INDEX',
  'INSERT',
  'LOCK TABLES',
  'REFERENCES',
  'SELECT',
  'SHOW VIEW',
  'TRIGGER',
  'UPDATE',
] as const;

export const AppDatabaseSchema = Type.Object(
  {
    name: DatabaseNameSchema,
    charset: Type.Optional(
      pattern('^[a-z0-9]+$', 'must be a character set name like utf8mb4', { default: DEFAULTS.appDatabase.charset }),
    ),
    collation: Type.Optional(
      pattern('^[a-z0-9_]+$', 'must be a collation name like utf8mb4_unicode_ci', { default: DEFAULTS.appDatabase.collation }),
    ),
  },
  { ...strict, description: 'A database the application needs (presets already declare theirs).' },
);

export const AppUserSchema = Type.Object(
  {
    name: SqlUserName('Database user the application connects as.'),
    password: SecretRefSchema,
    databases: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      uniqueItems: true,
      description: 'Databases this user gets privileges on; each must be declared (by the preset or app.databases).',
    }),
    privileges: Type.Optional(
      Type.Union(
        [
          Type.Literal('ALL'),
          Type.Array(literals(DB_PRIVILEGES), { minItems: 1, uniqueItems: true }),
        ],
        {
          default: DEFAULTS.appUser.privileges,
          description: 'ALL, or a list of privileges granted on each of the databases.',
          errorMessage: 'must be ALL or a list of privileges like [SELECT, INSERT, UPDATE, DELETE]',
        },
      ),
    ),
    hosts: Type.Optional(
      Type.Array(
        pattern('^[A-Za-z0-9%_.:/-]+$', 'must be a MariaDB host pattern like %, localhost or 10.0.0.%'),
        {
          minItems: 1,
          uniqueItems: true,
          default: DEFAULTS.appUser.hosts,
          description:
            "Where the user may connect from, as MariaDB sees it. Behind the load balancers that is the load balancers' addresses (HAProxy and ProxySQL connect on the platform's behalf), not the web servers': list them or a pattern such as 10.0.0.%. deploy-db's plan warns when a load balancer is not admitted.",
        },
      ),
    ),
  },
  { ...strict, description: 'A database user for the application.' },
);

export const AppSchema = Type.Object(
  {
    preset: Type.Optional(
      literals(APP_PRESETS, {
        description:
          'The platform. A preset declares its databases (moodle: moodle; openedx: edxapp, edxapp_csmh; chamilo: chamilo; app.databases is then only for more), sets skip_name_resolve and single-writer auto-increment on the cluster, defaults the file mount, and makes deploy-lb and verify-ha print the platform\'s connection settings.',
        default: 'custom',
      }),
    ),
    databases: Type.Optional(Type.Array(AppDatabaseSchema)),
    users: Type.Optional(Type.Array(AppUserSchema)),
  },
  { ...strict, description: 'What the learning platform needs from the data tier.' },
);

// ---------------------------------------------------------------------------
// Database (MariaDB Galera)

export const DatabaseSchema = Type.Object(
  {
    cluster_name: pattern('^[A-Za-z0-9_-]{1,32}$', 'must be letters, digits, "_" and "-" (at most 32)', {
      description: 'wsrep_cluster_name; nodes only join a cluster of the same name.',
    }),
    version: Type.Optional(
      Type.String({
        pattern: '^[0-9]{2}\\.[0-9]{1,2}$',
        default: DEFAULTS.database.version,
        description: 'MariaDB series, quoted.',
        errorMessage: 'must be a quoted MariaDB series like "10.11" (unquoted, YAML reads 10.10 as the number 10.1)',
      }),
    ),
    package_version: Type.Optional(
      Type.String({
        pattern: '^([0-9]+:)?[0-9][0-9A-Za-z.+~-]*$',
        description:
          'Exact Debian package version of mariadb-server and mariadb-backup, quoted (e.g. "1:10.11.6-0+deb12u1"); it must be in the hosts\' package sources. Left out: whatever the sources offer, and installed versions are left alone. A running node with another version is upgraded one node at a time, as a reviewed change.',
        errorMessage: 'must be a quoted Debian package version like "1:10.11.6-0+deb12u1"',
      }),
    ),
    sst_method: Type.Optional(
      literals(['mariabackup', 'rsync'], {
        default: DEFAULTS.database.sst_method,
        description: 'How a joining node receives a full copy: mariabackup keeps the donor writable; rsync blocks it.',
      }),
    ),
    sst_user: Type.Optional(
      SqlUserName(
        `Database account mariabackup SST logs in as. Default ${DEFAULTS.database.sst_user_socket} (unix socket, no password) or ${DEFAULTS.database.sst_user_password} when sst_password is set.`,
      ),
    ),
    sst_password: Type.Optional({
      ...SecretRefSchema,
      description: 'Password of sst_user. Not needed: left out (recommended), mariabackup SST authenticates over the unix socket and there is no password to leak.',
    }),
    gcache_size: Type.Optional(Size('Galera gcache size: how much history a node can miss and still catch up by IST.')),
    buffer_pool_size: Type.Optional(Size('innodb_buffer_pool_size.')),
    max_connections: Type.Optional(Type.Integer({ minimum: 10, maximum: 100000 })),
    sync_wait: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 15,
        default: DEFAULTS.database.sync_wait,
        description: 'wsrep_sync_wait bitmask, set globally on every node; 1 makes reads wait for writes already committed elsewhere (causality), which is what the presets expect.',
      }),
    ),
    bind_address: Type.Optional(
      Type.String({ minLength: 1, default: DEFAULTS.database.bind_address, description: 'Address MariaDB listens on: 0.0.0.0 or ::.' }),
    ),
    port: Type.Optional(Port('MariaDB client port on the db nodes.', DEFAULTS.database.port)),
    options: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        ...strict,
        description: 'Extra [mysqld] settings (name: value). Settings lms-ha manages cannot be set here.',
        errorMessage: 'must be a map of MariaDB option names to values',
      }),
    ),
    remove_nodes: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        uniqueItems: true,
        description:
          'Nodes to take out of the Galera cluster, by host name. Each stays under hosts: without the db role (so deploy-db can reach it): deploy-db stops mariadb there (a clean leave), disables it, and waits until the db hosts are Synced with the smaller size. A member that is neither a db host nor listed here makes deploy-db apply refuse.',
      }),
    ),
  },
  { ...strict, description: 'The MariaDB Galera cluster formed by the hosts with the db role.' },
);

// ---------------------------------------------------------------------------
// Load balancer (HAProxy or ProxySQL) + Keepalived VIP

const IPV4_OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';

export const LoadBalancerSchema = Type.Object(
  {
    kind: literals(['haproxy', 'proxysql'], { description: 'haproxy: writer/reader listeners; proxysql: read/write split on one port.' }),
    vip: pattern(
      `^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}/(3[0-2]|[12][0-9]|[89])$`,
      'must be an IPv4 address with the prefix length of its subnet, like 10.0.0.100/24',
      { description: 'Virtual IP moved by Keepalived between the load balancers, with its subnet prefix.' },
    ),
    interface: pattern(
      '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$',
      'must be a network interface name like eth0 (at most 15 characters)',
      { description: 'Network interface on the load balancers that carries the VIP (the one on the VIP\'s subnet, e.g. eth0; see `ip -br addr` on a load balancer).' },
    ),
    virtual_router_id: Type.Integer({
      minimum: 1,
      maximum: 255,
      description: 'VRRP router id; must differ from every other VRRP group on the same network.',
    }),
    auth_password: { ...SecretRefSchema, description: 'VRRP password shared by the load balancers; VRRP uses at most 8 characters.' },
    ports: Type.Optional(
      Type.Object(
        {
          writer: Type.Optional(Port('HAProxy: single-writer listener.', DEFAULTS.haproxy.ports.writer)),
          reader: Type.Optional(Port('HAProxy: readers listener.', DEFAULTS.haproxy.ports.reader)),
          web: Type.Optional(Port('HAProxy: optional HTTP frontend for the hosts with the web role.')),
          mysql: Type.Optional(Port('ProxySQL: client port; stays 6033 (ProxySQL binds it only when it starts).', DEFAULTS.proxysql.ports.mysql)),
          admin: Type.Optional(Port('ProxySQL: admin port (local only); stays 6032.', DEFAULTS.proxysql.ports.admin)),
        },
        { ...strict, description: 'Listening ports; writer/reader/web are for haproxy, mysql/admin for proxysql.' },
      ),
    ),
    clustercheck_port: Type.Optional(
      Port('HAProxy: HTTP health check served by each db node (clustercheck).', DEFAULTS.haproxy.clustercheck_port),
    ),
    proxysql: Type.Optional(
      Type.Object(
        {
          admin_password: SecretRefSchema,
          monitor_password: SecretRefSchema,
          package: Type.Optional(
            Type.Object(
              {
                url: pattern('^https?://[^\\s]+$', 'must be an http(s) URL'),
                sha256: pattern('^[A-Fa-f0-9]{64}$', 'must be the 64 hex digits of a SHA-256 checksum'),
              },
              { ...strict, description: 'Install ProxySQL from this package (pinned by checksum) instead of a repository.' },
            ),
          ),
        },
        { ...strict, description: 'ProxySQL settings (kind proxysql).' },
      ),
    ),
    haproxy: Type.Optional(
      Type.Object(
        {
          maxconn: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000000, default: DEFAULTS.haproxy.maxconn })),
          timeout_seconds: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 86400,
              default: DEFAULTS.haproxy.timeout_seconds,
              description: 'Idle timeout of client and server connections.',
            }),
          ),
          web_backend_port: Type.Optional(Port('Port the web hosts serve HTTP on, behind ports.web.', DEFAULTS.haproxy.web_backend_port)),
        },
        { ...strict, description: 'HAProxy settings (kind haproxy).' },
      ),
    ),
    cloud_vip_hook: Type.Optional(
      AbsolutePath('Script on the load balancers that Keepalived runs when a host takes the VIP (for clouds that must move the address through an API).'),
    ),
  },
  { ...strict, description: 'Two or more load balancers behind a Keepalived virtual IP.' },
);

// ---------------------------------------------------------------------------
// Shared files

export const StorageSchema = Type.Object(
  {
    kind: literals(['glusterfs', 's3', 'none'], { description: 'Where the platform files live.' }),
    volume: Type.Optional(pattern('^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$', 'must be a volume name of letters, digits, "_" and "-", not starting with "-"')),
    brick_path: Type.Optional(AbsolutePath('Directory holding the brick on each storage host. Default /srv/gluster/<volume>.')),
    mount_path: Type.Optional(AbsolutePath('Where the volume is mounted on the hosts with the web role (the storage hosts hold the bricks). Presets default it: moodle /var/www/moodledata, chamilo /var/www/chamilo-data.')),
    owner: Type.Optional(UnixUser('Owner of the mounted directory (the web server user). Presets moodle and chamilo default it to www-data.')),
    group: Type.Optional(UnixUser('Group of the mounted directory. Default: the owner.')),
    mode: Type.Optional(
      Type.String({
        pattern: '^0?[0-7]{3}$',
        default: DEFAULTS.storage.mode,
        errorMessage: 'must be a quoted octal mode like "0770" (YAML reads unquoted 0770 as the number 770)',
      }),
    ),
    arbiter: Type.Optional(
      Type.String({ minLength: 1, description: 'Host holding the arbiter brick of a replica-2 volume (metadata only).' }),
    ),
    force_root_brick: Type.Optional(
      Type.Boolean({
        default: DEFAULTS.storage.force_root_brick,
        description: 'Allow bricks on the root filesystem (GlusterFS refuses by default: a full brick fills the system disk).',
      }),
    ),
    s3: Type.Optional(
      Type.Object(
        {
          bucket: pattern('^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', 'must be an S3 bucket name (3-63 lowercase letters, digits, "." and "-")'),
          region: Type.Optional(pattern('^[a-z0-9-]+$', 'must be a region name like eu-west-1')),
          endpoint: Type.Optional(pattern('^https?://[^\\s]+$', 'must be an http(s) URL')),
          access_key_id: SecretRefSchema,
          secret_access_key: SecretRefSchema,
        },
        { ...strict, description: 'S3 bucket settings (kind s3).' },
      ),
    ),
  },
  { ...strict, description: 'Shared platform files: a replicated GlusterFS volume, S3, or none.' },
);

// ---------------------------------------------------------------------------
// Migration from an existing (single-server) installation

export const MigrateSchema = Type.Object(
  {
    files: Type.Optional(
      Type.Object(
        {
          source_host: Type.String({ minLength: 1, description: 'Inventory host the files are copied from.' }),
          source_path: AbsolutePath('Directory with the existing files (for Moodle, the old moodledata).'),
        },
        { ...strict, description: 'Copy existing files into the storage tier.' },
      ),
    ),
    database: Type.Optional(
      Type.Object(
        {
          source_host: Type.String({ minLength: 1, description: 'Inventory host running the existing MariaDB/MySQL server.' }),
          port: Type.Optional(Port('Port of the existing server.', DEFAULTS.migrateDatabase.port)),
          user: Type.Optional(SqlUserName('User to dump with. Default root (over the local socket when no password is given).')),
          password: Type.Optional(SecretRefSchema),
          databases: Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            uniqueItems: true,
            description: 'Databases to copy; each must be declared (by the preset or app.databases).',
          }),
          convert_tables: Type.Optional(
            Type.Boolean({
              default: false,
              description:
                'Convert tables Galera cannot replicate while copying them (non-InnoDB engines to InnoDB; a primary key for tables without one). Without it such tables are refused.',
            }),
          ),
        },
        { ...strict, description: 'Copy existing databases into the Galera cluster.' },
      ),
    ),
  },
  { ...strict, description: 'What migrate-storage moves from an existing installation.' },
);

// ---------------------------------------------------------------------------
// Host baseline (provision)

/** An IPv4/IPv6 address or network in CIDR notation; the semantic checks parse it. */
const Network = (description: string) =>
  pattern('^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$', 'must be an IP address or a network like 10.0.0.0/24', { description });

export const ProvisionSchema = Type.Object(
  {
    vip_name: Type.Optional(
      pattern('^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$', 'must be a host name of lowercase letters, digits, "." and "-"', {
        default: DEFAULTS.provision.vip_name,
        description: 'Name written into /etc/hosts for the load balancers\' virtual IP.',
      }),
    ),
    firewall: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean({ default: DEFAULTS.provision.firewall.enabled, description: 'Write the nftables table inet lms_ha_firewall.' })),
          policy: Type.Optional(
            literals(['fence', 'drop'], {
              default: DEFAULTS.provision.firewall.policy,
              description:
                'fence: only the cluster ports are closed to everyone but the hosts that need them, everything else is left to the operator\'s rules; drop: everything not listed is dropped (SSH stays open from ssh_from and the bastion).',
            }),
          ),
          ssh_from: Type.Optional(
            Type.Array(Network('Address or network allowed to SSH in.'), {
              uniqueItems: true,
              description: 'With policy drop: who may reach SSH (the runner\'s address or network). The bastion is always allowed. Left out: SSH stays open to everyone.',
            }),
          ),
          client_networks: Type.Optional(
            Type.Array(Network('Address or network of application clients.'), {
              uniqueItems: true,
              description: 'Besides the web hosts, who may reach the load balancers\' client ports (the application port on the VIP).',
            }),
          ),
          confirm_seconds: Type.Optional(
            Type.Integer({
              minimum: 10,
              maximum: 600,
              default: DEFAULTS.provision.firewall.confirm_seconds,
              description: 'Lock-out guard: a new ruleset is rolled back by itself unless a fresh SSH connection confirms it within this many seconds.',
            }),
          ),
        },
        { ...strict, description: 'Peers-only firewall in an nftables table of its own.' },
      ),
    ),
    time: Type.Optional(
      Type.Object(
        {
          max_skew_ms: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 600000,
              default: DEFAULTS.provision.time.max_skew_ms,
              description: 'provision refuses hosts whose clocks differ by more than this (Galera and the lock\'s timestamps need sane clocks).',
            }),
          ),
        },
        { ...strict, description: 'Time synchronisation.' },
      ),
    ),
    packages: Type.Optional(
      Type.Object(
        {
          source: literals(['distro', 'mirror', 'push'], {
            description: 'distro: the hosts\' own sources; mirror: an apt mirror URL; push: packages from a directory on the runner, copied over SFTP and served by a local repository.',
          }),
          mirror_url: Type.Optional(pattern('^https?://[^\\s]+$', 'must be an http(s) URL', { description: 'source mirror: the Debian/Ubuntu mirror.' })),
          directory: Type.Optional(
            Type.String({ minLength: 1, description: 'source push: directory of .deb files on the runner, relative to the workspace.' }),
          ),
          downloads: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  url: pattern('^https?://[^\\s]+/[A-Za-z0-9][A-Za-z0-9._+%~:-]*\\.deb$', 'must be an http(s) URL ending in a .deb file name', { description: 'Where the runner downloads the package.' }),
                  sha256: pattern('^[0-9a-fA-F]{64}$', 'must be the 64 hex characters of the file\'s SHA-256', { description: 'The pinned digest: any other file is refused.' }),
                },
                { ...strict, description: 'One package, downloaded on the runner (cached in its tool cache) and checked against its digest.' },
              ),
              { minItems: 1, description: 'source push: packages downloaded on the runner from pinned URLs, pushed with those of directory.' },
            ),
          ),
        },
        { ...strict, description: 'Where the hosts get packages from.' },
      ),
    ),
    plan_account: Type.Optional(
      Type.Object(
        {
          user: Type.Optional(UnixUser(`The plan-only login provision creates. Default ${DEFAULTS.provision.plan_account.user}.`)),
          public_key: pattern(
            '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com) [A-Za-z0-9+/]+={0,3}( [^\\n]*)?$',
            'must be one OpenSSH public key line, like "ssh-ed25519 AAAA... plan@ci" (the .pub file of the plan key)',
            { description: 'Public half of the key the pull-request plan job holds.' },
          ),
        },
        {
          ...strict,
          description:
            'A login that may run, as root, only the read-only fact gatherer provision installs: plans work with it (the `ssh-account: plan` input), applies are refused. Its key is the one a pull request\'s plan job holds.',
        },
      ),
    ),
  },
  { ...strict, description: 'The host baseline written by provision: /etc/hosts, firewall, time, package sources, the plan account.' },
);

// ---------------------------------------------------------------------------
// Environment and file

export const EnvironmentSchema = Type.Object(
  {
    protected: Type.Optional(
      Type.Boolean({ default: false, description: 'Failover drills and other disruptive actions refuse to run unless allowed explicitly.' }),
    ),
    ssh: Type.Optional(EnvironmentSshSchema),
    hosts: Type.Array(HostSchema, { minItems: 1 }),
    app: Type.Optional(AppSchema),
    database: Type.Optional(DatabaseSchema),
    load_balancer: Type.Optional(LoadBalancerSchema),
    storage: Type.Optional(StorageSchema),
    migrate: Type.Optional(MigrateSchema),
    provision: Type.Optional(ProvisionSchema),
  },
  { ...strict, description: 'One deployment target (e.g. staging, production).' },
);

export const InventorySchema = Type.Object(
  {
    version: Type.Literal(1, {
      description: 'Format version of this file.',
      errorMessage: 'must be 1 (the only inventory format this lms-ha reads)',
    }),
    environments: Type.Record(Type.String(), EnvironmentSchema, {
      ...strict,
      minProperties: 1,
      description: 'Environments by name.',
    }),
  },
  {
    ...strict,
    title: 'lms-ha inventory',
    description: 'Hosts and settings of the HA data tier of a learning platform, per environment.',
    errorMessage: 'must be a map with "version" and "environments"',
  },
);

// ---------------------------------------------------------------------------
// Types as written in the file

export type Inventory = Static<typeof InventorySchema>;
export type EnvironmentSpec = Static<typeof EnvironmentSchema>;
export type HostSpec = Static<typeof HostSchema>;
export type Role = Static<typeof RoleSchema>;
export type SecretRef = Static<typeof SecretRefSchema>;
export type AppPreset = (typeof APP_PRESETS)[number];
export type AppUserSpec = Static<typeof AppUserSchema>;
export type DatabaseSpec = Static<typeof DatabaseSchema>;
export type LoadBalancerSpec = Static<typeof LoadBalancerSchema>;
export type StorageSpec = Static<typeof StorageSchema>;
export type MigrateSpec = Static<typeof MigrateSchema>;
export type ProvisionSpec = Static<typeof ProvisionSchema>;

// ---------------------------------------------------------------------------
// Published JSON Schema

/** Where the published schema lives, relative to the repository root. */
export const JSON_SCHEMA_PATH = 'schema/inventory.schema.json';
