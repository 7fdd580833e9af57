/**
 * The environment a run works on, with every default filled in, so components
 * never repeat `?? 22` and never disagree about a default. The shapes keep the
 * inventory's snake_case keys and its paths to secret references, so a value
 * here can still be traced to its line in the file.
 */
import { DeployError } from '../errors.js';
import {
  DEFAULTS,
  defaultBrickPath,
  defaultSstUser,
  type AppPreset,
  type AppUserSpec,
  type DatabaseSpec,
  type EnvironmentSpec,
  type Inventory,
  type LoadBalancerSpec,
  type MigrateSpec,
  type ProvisionSpec,
  type Role,
  type SecretRef,
  type StorageSpec,
} from './schema.js';
import { parseCidr4 } from './net.js';
import { didYouMean } from './paths.js';
import { PRESET_DATABASES, presetDefinition } from './presets.js';
import { detachedSource, originOf, rememberSource } from './source.js';

export interface HostSsh {
  user: string;
  port: number;
  /** Seconds. */
  connect_timeout: number;
  /** Jump host to connect through; absent for the bastion itself and when there is none. */
  bastion?: string;
}

export interface Host {
  name: string;
  address: string;
  roles: Role[];
  ssh: HostSsh;
  labels: Record<string, string>;
}

export interface AppDatabase {
  name: string;
  charset: string;
  collation: string;
}

export type AppUser = AppUserSpec & Required<Pick<AppUserSpec, 'privileges' | 'hosts'>>;

export interface App {
  preset: AppPreset;
  /** The preset's databases followed by app.databases, each once. */
  databases: AppDatabase[];
  users: AppUser[];
}

export type Database = DatabaseSpec &
  Required<Pick<DatabaseSpec, 'version' | 'sst_method' | 'sst_user' | 'sync_wait' | 'port' | 'bind_address' | 'options'>>;

interface LoadBalancerCommon {
  vip: string;
  /** The VIP without its prefix, e.g. 10.0.0.100. */
  vip_address: string;
  vip_prefix: number;
  interface: string;
  virtual_router_id: number;
  auth_password: SecretRef;
  cloud_vip_hook?: string;
}

export interface HaproxyLoadBalancer extends LoadBalancerCommon {
  kind: 'haproxy';
  ports: { writer: number; reader: number; web?: number };
  clustercheck_port: number;
  haproxy: { maxconn: number; timeout_seconds: number; web_backend_port: number };
}

export interface ProxysqlLoadBalancer extends LoadBalancerCommon {
  kind: 'proxysql';
  ports: { mysql: number; admin: number };
  proxysql: NonNullable<LoadBalancerSpec['proxysql']>;
}

export type LoadBalancer = HaproxyLoadBalancer | ProxysqlLoadBalancer;

export interface GlusterStorage {
  kind: 'glusterfs';
  volume: string;
  brick_path: string;
  mount_path: string;
  owner: string;
  group: string;
  mode: string;
  arbiter?: string;
  force_root_brick: boolean;
}

export interface S3Storage {
  kind: 's3';
  s3: NonNullable<StorageSpec['s3']>;
}

export interface NoStorage {
  kind: 'none';
}

export type Storage = GlusterStorage | S3Storage | NoStorage;

type MigrateDatabaseSpec = NonNullable<MigrateSpec['database']>;
export interface Migrate {
  files?: NonNullable<MigrateSpec['files']>;
  database?: MigrateDatabaseSpec & Required<Pick<MigrateDatabaseSpec, 'port' | 'user'>>;
}

export interface Provision {
  vip_name: string;
  firewall: {
    enabled: boolean;
    policy: 'fence' | 'drop';
    ssh_from: string[];
    client_networks: string[];
    confirm_seconds: number;
  };
  time: { max_skew_ms: number };
  packages: { source: 'distro' | 'mirror' | 'push'; mirror_url?: string; directory?: string; downloads?: { url: string; sha256: string }[] };
  /** The plan-only login; undefined when the inventory gives no plan key. */
  plan_account?: { user: string; public_key: string };
}

/** One environment of the inventory, defaults applied. */
export interface Environment {
  name: string;
  protected: boolean;
  ssh: HostSsh;
  hosts: Host[];
  app: App;
  database?: Database;
  load_balancer?: LoadBalancer;
  storage: Storage;
  migrate?: Migrate;
  provision: Provision;
}

function resolveProvision(spec: ProvisionSpec | undefined): Provision {
  const d = DEFAULTS.provision;
  return {
    vip_name: spec?.vip_name ?? d.vip_name,
    firewall: {
      enabled: spec?.firewall?.enabled ?? d.firewall.enabled,
      policy: spec?.firewall?.policy ?? d.firewall.policy,
      ssh_from: [...(spec?.firewall?.ssh_from ?? [])],
      client_networks: [...(spec?.firewall?.client_networks ?? [])],
      confirm_seconds: spec?.firewall?.confirm_seconds ?? d.firewall.confirm_seconds,
    },
    time: { max_skew_ms: spec?.time?.max_skew_ms ?? d.time.max_skew_ms },
    packages: { ...(spec?.packages ?? { source: d.packages.source }) },
    ...(spec?.plan_account ? { plan_account: { user: spec.plan_account.user ?? d.plan_account.user, public_key: spec.plan_account.public_key.trim() } } : {}),
  };
}

function resolveApp(spec: EnvironmentSpec['app']): App {
  const preset = spec?.preset ?? 'custom';
  const databases = new Map<string, AppDatabase>();
  for (const name of PRESET_DATABASES[preset]) databases.set(name, { name, ...DEFAULTS.appDatabase });
  for (const database of spec?.databases ?? []) {
    databases.set(database.name, {
      name: database.name,
      charset: database.charset ?? DEFAULTS.appDatabase.charset,
      collation: database.collation ?? DEFAULTS.appDatabase.collation,
    });
  }
  const users = (spec?.users ?? []).map((user) => ({
    ...user,
    privileges: user.privileges ?? DEFAULTS.appUser.privileges,
    hosts: user.hosts ?? [...DEFAULTS.appUser.hosts],
  }));
  return { preset, databases: [...databases.values()], users };
}

function resolveDatabase(spec: DatabaseSpec): Database {
  const d = DEFAULTS.database;
  return {
    ...spec,
    version: spec.version ?? d.version,
    sst_method: spec.sst_method ?? d.sst_method,
    sst_user: spec.sst_user ?? defaultSstUser(spec),
    sync_wait: spec.sync_wait ?? d.sync_wait,
    port: spec.port ?? d.port,
    bind_address: spec.bind_address ?? d.bind_address,
    options: spec.options ?? {},
  };
}

function resolveLoadBalancer(spec: LoadBalancerSpec): LoadBalancer {
  const vip = parseCidr4(spec.vip)!;
  const common: LoadBalancerCommon = {
    vip: spec.vip,
    vip_address: vip.text,
    vip_prefix: vip.prefix,
    interface: spec.interface,
    virtual_router_id: spec.virtual_router_id,
    auth_password: spec.auth_password,
    ...(spec.cloud_vip_hook === undefined ? {} : { cloud_vip_hook: spec.cloud_vip_hook }),
  };
  const ports = spec.ports ?? {};
  if (spec.kind === 'proxysql') {
    return {
      ...common,
      kind: 'proxysql',
      ports: { mysql: ports.mysql ?? DEFAULTS.proxysql.ports.mysql, admin: ports.admin ?? DEFAULTS.proxysql.ports.admin },
      // The semantic checks refuse kind proxysql without this section.
      proxysql: spec.proxysql!,
    };
  }
  const h = DEFAULTS.haproxy;
  return {
    ...common,
    kind: 'haproxy',
    ports: {
      writer: ports.writer ?? h.ports.writer,
      reader: ports.reader ?? h.ports.reader,
      ...(ports.web === undefined ? {} : { web: ports.web }),
    },
    clustercheck_port: spec.clustercheck_port ?? h.clustercheck_port,
    haproxy: {
      maxconn: spec.haproxy?.maxconn ?? h.maxconn,
      timeout_seconds: spec.haproxy?.timeout_seconds ?? h.timeout_seconds,
      web_backend_port: spec.haproxy?.web_backend_port ?? h.web_backend_port,
    },
  };
}

function resolveStorage(spec: StorageSpec | undefined, preset: AppPreset): Storage {
  if (!spec || spec.kind === 'none') return { kind: 'none' };
  if (spec.kind === 's3') return { kind: 's3', s3: spec.s3! };
  // volume is required for glusterfs by the semantic checks, mount_path unless the preset has one.
  const volume = spec.volume!;
  const files = presetDefinition(preset)?.files;
  const owner = spec.owner ?? files?.owner ?? DEFAULTS.storage.owner;
  return {
    kind: 'glusterfs',
    volume,
    brick_path: spec.brick_path ?? defaultBrickPath(volume),
    mount_path: spec.mount_path ?? files!.mountPath,
    owner,
    group: spec.group ?? owner,
    mode: spec.mode ?? DEFAULTS.storage.mode,
    ...(spec.arbiter === undefined ? {} : { arbiter: spec.arbiter }),
    force_root_brick: spec.force_root_brick ?? DEFAULTS.storage.force_root_brick,
  };
}

function resolveMigrate(spec: MigrateSpec): Migrate {
  return {
    ...(spec.files ? { files: spec.files } : {}),
    ...(spec.database
      ? {
          database: {
            ...spec.database,
            port: spec.database.port ?? DEFAULTS.migrateDatabase.port,
            user: spec.database.user ?? DEFAULTS.migrateDatabase.user,
          },
        }
      : {}),
  };
}

/** Applies every default to a checked environment spec. */
export function resolveEnvironment(name: string, original: EnvironmentSpec): Environment {
  // A copy, so nothing a command does to its environment can change the loaded inventory.
  const spec = structuredClone(original);
  const ssh: HostSsh = {
    user: spec.ssh?.user ?? DEFAULTS.ssh.user,
    port: spec.ssh?.port ?? DEFAULTS.ssh.port,
    connect_timeout: spec.ssh?.connect_timeout ?? DEFAULTS.ssh.connect_timeout,
    ...(spec.ssh?.bastion === undefined ? {} : { bastion: spec.ssh.bastion }),
  };
  const hosts: Host[] = spec.hosts.map((host) => ({
    name: host.name,
    address: host.address,
    roles: host.roles,
    ssh: {
      user: host.ssh?.user ?? ssh.user,
      port: host.ssh?.port ?? ssh.port,
      connect_timeout: ssh.connect_timeout,
      ...(ssh.bastion === undefined || ssh.bastion === host.name ? {} : { bastion: ssh.bastion }),
    },
    labels: host.labels ?? {},
  }));
  return {
    name,
    protected: spec.protected ?? false,
    ssh,
    hosts,
    app: resolveApp(spec.app),
    ...(spec.database ? { database: resolveDatabase(spec.database) } : {}),
    ...(spec.load_balancer ? { load_balancer: resolveLoadBalancer(spec.load_balancer) } : {}),
    storage: resolveStorage(spec.storage, spec.app?.preset ?? 'custom'),
    ...(spec.migrate ? { migrate: resolveMigrate(spec.migrate) } : {}),
    provision: resolveProvision(spec.provision),
  };
}

/**
 * The named environment with defaults applied. An unknown name is an
 * `invalid-inventory` error listing the environments the file defines, pointed
 * at its `environments` key.
 */
export function selectEnvironment(inventory: Inventory, name: string, file: string): Environment {
  const source = originOf(inventory)?.source ?? detachedSource(file);
  const spec = Object.hasOwn(inventory.environments, name) ? inventory.environments[name] : undefined;
  if (spec === undefined) {
    const defined = Object.keys(inventory.environments);
    const hint = didYouMean(name, defined);
    const message = `environment "${name}" is not defined in ${source.file}; it defines: ${defined.join(', ')}${hint}`;
    const problem = { ...source.position(['environments'], 'key'), message };
    throw new DeployError('invalid-inventory', message, {
      problems: [problem],
      hint: 'Pass one of the environments the inventory defines, or add this one to it.',
    });
  }
  const environment = resolveEnvironment(name, spec);
  rememberSource(environment, source, ['environments', name]);
  return environment;
}

/** Hosts that have `role`, in inventory order (the order bootstrap and rolling steps follow). */
export function hostsWithRole(environment: Pick<Environment, 'hosts'>, role: Role): Host[] {
  return environment.hosts.filter((host) => host.roles.includes(role));
}
