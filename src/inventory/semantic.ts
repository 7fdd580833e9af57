/**
 * Checks that need more than one field: the things a schema cannot say but that
 * would otherwise surface as a broken cluster (split brain, a VIP nobody can
 * hold, two services on one port). They run only on environments that passed
 * the schema, so every field has the type the schema promises.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { DEFAULTS, defaultBrickPath, defaultSstUser, type EnvironmentSpec, type HostSpec, type Inventory, type Role } from './schema.js';
import { checkAddress, isLoopback, formatIPv4, formatSubnet, parseCidr4, parseIPv4, reservedAddressOf, sameSubnet, subnetsOverlap, type Cidr4 } from './net.js';
import { describe, didYouMean, type Path, type PathProblem, type Target } from './paths.js';
import { PRESET_DATABASES, presetDefinition } from './presets.js';

export interface SemanticContext {
  /** 1-based line of the node at `path`, for messages like "first defined at line 12". */
  lineOf(path: Path): number;
}

/** Environment names end up in lock files, plan headers and GitHub environment names. */
const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Galera's own ports on every db node (replication, incremental and full state transfer). */
const GALERA_PORTS: { port: number; label: string }[] = [
  { port: 4567, label: 'the Galera replication port 4567' },
  { port: 4568, label: 'the Galera IST port 4568' },
  { port: 4444, label: 'the Galera SST port 4444' },
];

/**
 * [mysqld] settings that lms-ha writes itself. Setting them in `options` would
 * either be overwritten or break the cluster, so the operator is told where the
 * setting lives instead. Keys are normalized: MariaDB treats "-" and "_" alike.
 */
const MANAGED_OPTIONS: Record<string, string> = {
  wsrep_cluster_name: 'is set by "database.cluster_name"',
  wsrep_sst_method: 'is set by "database.sst_method"',
  wsrep_sync_wait: 'is set by "database.sync_wait"',
  bind_address: 'is set by "database.bind_address"',
  port: 'is set by "database.port"',
  max_connections: 'is set by "database.max_connections"',
  innodb_buffer_pool_size: 'is set by "database.buffer_pool_size"',
  wsrep_provider_options: 'is managed by lms-ha (gcache.size comes from "database.gcache_size")',
  wsrep_on: 'is managed by lms-ha',
  wsrep_provider: 'is managed by lms-ha',
  wsrep_cluster_address: 'is managed by lms-ha (from the hosts with the db role)',
  wsrep_node_address: 'is managed by lms-ha (from each host\'s address)',
  wsrep_node_name: 'is managed by lms-ha (from each host\'s name)',
  wsrep_sst_auth: 'is managed by lms-ha (from "database.sst_user" and "database.sst_password")',
  binlog_format: 'is managed by lms-ha: Galera requires ROW',
  default_storage_engine: 'is managed by lms-ha: Galera requires InnoDB',
  innodb_autoinc_lock_mode: 'is managed by lms-ha: Galera requires 2',
};

const OPTION_NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * The managed option an operator's option name would set, as MariaDB reads it:
 * "-" and "_" alike, a `loose-` prefix, then one of `skip-`, `enable-`,
 * `disable-`, `maximum-`, and any unambiguous abbreviation of a name
 * (`wsrep_cluster_addr`). The later value in the option files wins, so any of
 * these would override what lms-ha writes.
 */
export function managedOptionFor(name: string): { name: string; why: string } | undefined {
  let bare = name.toLowerCase().replace(/-/g, '_');
  bare = bare.replace(/^loose_/, '');
  bare = bare.replace(/^(skip|enable|disable|maximum)_/, '');
  if (Object.hasOwn(MANAGED_OPTIONS, bare)) return { name: bare, why: MANAGED_OPTIONS[bare]! };
  // Abbreviations: only the managed names this one is a prefix of (at least 4 characters, as MariaDB's shortest useful ones).
  if (bare.length >= 4 && !OPTIONS_THAT_ARE_PREFIXES.has(bare)) {
    const full = Object.keys(MANAGED_OPTIONS).find((managed) => managed.startsWith(bare));
    if (full !== undefined) return { name: full, why: MANAGED_OPTIONS[full]! };
  }
  return undefined;
}

/** Real MariaDB options whose name happens to begin a managed one; they mean themselves. */
const OPTIONS_THAT_ARE_PREFIXES = new Set(['innodb', 'wsrep', 'binlog']);
const GLUSTER_ONLY_KEYS = ['volume', 'brick_path', 'mount_path', 'owner', 'group', 'mode', 'arbiter', 'force_root_brick'] as const;
const RESERVED_DB_USERS = ['root', 'mysql', 'mariadb.sys'];

/** Directories a volume must not be mounted over (or contain), nor a brick be put in: the OS, the MariaDB datadir, GlusterFS's own state. */
const PROTECTED_DIRECTORIES = [
  '/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/proc', '/root', '/run', '/sbin', '/sys', '/usr',
  '/var/lib/mysql', '/var/lib/glusterd', '/var/lib/dpkg', '/var/lib/apt', '/var/log', '/tmp',
];
/** Never a migration source: the whole root, kernel views, device and runtime trees. */
const SOURCE_FORBIDDEN = ['/', '/proc', '/sys', '/dev', '/run', '/boot'];

function hasDotSegment(path: string): boolean {
  return path.split('/').some((segment) => segment === '.' || segment === '..');
}

function normalizePath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** Is `child` the directory `parent` or below it (paths already normalized, no dot segments)? */
function inside(child: string, parent: string): boolean {
  const c = normalizePath(child);
  const p = normalizePath(parent);
  return c === p || p === '/' || c.startsWith(`${p}/`);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function names(hosts: readonly HostSpec[]): string {
  return hosts.map((host) => host.name).join(', ');
}

class EnvironmentChecker {
  readonly problems: PathProblem[] = [];
  private readonly base: Path;
  private readonly hostsByName = new Map<string, { host: HostSpec; index: number }>();

  constructor(
    private readonly name: string,
    private readonly env: EnvironmentSpec,
    private readonly root: unknown,
    private readonly context: SemanticContext,
  ) {
    this.base = ['environments', name];
    env.hosts.forEach((host, index) => {
      if (!this.hostsByName.has(host.name)) this.hostsByName.set(host.name, { host, index });
    });
  }

  private report(path: Path, target: Target, message: string): void {
    this.problems.push({ path: [...this.base, ...path], target, message });
  }

  private describe(path: Path): string {
    return describe([...this.base, ...path], this.root);
  }

  private line(path: Path): number {
    return this.context.lineOf([...this.base, ...path]);
  }

  private withRole(role: Role): HostSpec[] {
    return this.env.hosts.filter((host) => host.roles.includes(role));
  }

  /** `"ssh.bastion" names host "x", which is not defined in environment "prod"; did you mean "y"?` */
  private checkHostReference(path: Path, hostName: string): HostSpec | undefined {
    const found = this.hostsByName.get(hostName);
    if (found) return found.host;
    const defined = [...this.hostsByName.keys()];
    const hint = didYouMean(hostName, defined) || `; defined hosts: ${defined.join(', ')}`;
    this.report(path, 'value', `${this.describe(path)} names host "${hostName}", which is not defined in environment "${this.name}"${hint}`);
    return undefined;
  }

  run(): PathProblem[] {
    this.checkName();
    this.checkHosts();
    this.checkBastion();
    this.checkDatabase();
    this.checkLoadBalancer();
    this.checkPorts();
    this.checkStorage();
    this.checkApp();
    this.checkMigrate();
    this.checkProvision();
    return this.problems;
  }

  /** Networks the firewall opens ports to, and the settings each package source needs. */
  private checkProvision(): void {
    const provision = this.env.provision;
    if (!provision) return;
    for (const key of ['ssh_from', 'client_networks'] as const) {
      (provision.firewall?.[key] ?? []).forEach((text, index) => {
        const problem = networkProblem(text);
        if (problem) this.report(['provision', 'firewall', key, index], 'value', `"provision.firewall.${key}" entry ${JSON.stringify(text)} ${problem}`);
      });
    }
    const packages = provision.packages;
    if (!packages) return;
    if (packages.source === 'mirror' && packages.mirror_url === undefined) {
      this.report(['provision', 'packages'], 'key', '"provision.packages" with source mirror needs "mirror_url" (the apt mirror to use)');
    }
    if (packages.source === 'push' && packages.directory === undefined) {
      this.report(['provision', 'packages'], 'key', '"provision.packages" with source push needs "directory" (the .deb files on the runner)');
    }
    if (packages.source !== 'mirror' && packages.mirror_url !== undefined) {
      this.report(['provision', 'packages', 'mirror_url'], 'key', `"provision.packages.mirror_url" is only for source mirror; this source is ${packages.source}`);
    }
    if (packages.source !== 'push' && packages.directory !== undefined) {
      this.report(['provision', 'packages', 'directory'], 'key', `"provision.packages.directory" is only for source push; this source is ${packages.source}`);
    }
    if (packages.directory !== undefined && (packages.directory.startsWith('/') || packages.directory.split('/').includes('..'))) {
      this.report(['provision', 'packages', 'directory'], 'value', '"provision.packages.directory" must be a path inside the workspace (relative, without "..")');
    }
  }

  private checkName(): void {
    if (!ENVIRONMENT_NAME.test(this.name)) {
      this.report([], 'key', `environment name "${this.name}" may only contain letters, digits, ".", "_" and "-", starting with a letter or digit`);
    }
  }

  private checkHosts(): void {
    const firstByName = new Map<string, number>();
    const firstByAddress = new Map<string, number>();
    const migrationSources = new Set([this.env.migrate?.files?.source_host, this.env.migrate?.database?.source_host]);
    // A db node being retired keeps its entry (deploy-db reaches it to stop it) without a role.
    const retiring = new Set(this.env.database?.remove_nodes ?? []);

    this.env.hosts.forEach((host, index) => {
      const first = firstByName.get(host.name);
      if (first !== undefined) {
        this.report(['hosts', index, 'name'], 'value', `duplicate host name "${host.name}" (first defined at line ${this.line(['hosts', first])})`);
      } else {
        firstByName.set(host.name, index);
      }

      const address = checkAddress(host.address);
      const clusterRoles = host.roles.filter((role) => role !== 'bastion');
      if (!address.ok) {
        this.report(['hosts', index, 'address'], 'value', `${this.describe(['hosts', index, 'address'])} ${address.problem}`);
      } else if (clusterRoles.length > 0 && isLoopback(address)) {
        this.report(
          ['hosts', index, 'address'],
          'value',
          `${this.describe(['hosts', index, 'address'])} is a loopback address, which every host reads as itself; host "${host.name}" has the ${clusterRoles.join(', ')} role(s), which other hosts must reach: give its network address`,
        );
      } else if (host.roles.includes('lb') && this.env.load_balancer && address.kind !== 'ipv4') {
        this.report(
          ['hosts', index, 'address'],
          'value',
          address.kind === 'dns'
            ? `${this.describe(['hosts', index, 'address'])} must be an IPv4 address: keepalived's peers and the ProxySQL monitor account are written with the load balancers' addresses, not names`
            : `${this.describe(['hosts', index, 'address'])} is IPv6 but "load_balancer.vip" is IPv4: keepalived moves the VIP within one address family; give the load balancer its IPv4 address`,
        );
      } else {
        const owner = firstByAddress.get(address.canonical);
        if (owner !== undefined) {
          const other = this.env.hosts[owner]!;
          this.report(
            ['hosts', index, 'address'],
            'value',
            `duplicate address "${host.address}": host "${other.name}" (line ${this.line(['hosts', owner])}) already uses it`,
          );
        } else {
          firstByAddress.set(address.canonical, index);
        }
      }

      if (host.roles.length === 0 && !migrationSources.has(host.name) && !retiring.has(host.name)) {
        this.report(
          ['hosts', index, 'roles'],
          'value',
          `host "${host.name}" has no roles; give it roles, or name it as a migration source (migrate.files.source_host or migrate.database.source_host)`,
        );
      }
      if (host.roles.includes('db') && host.roles.includes('arbitrator')) {
        this.report(
          ['hosts', index, 'roles', host.roles.indexOf('arbitrator')],
          'value',
          `host "${host.name}" has both the db and the arbitrator role; an arbitrator is a vote without data and must run on its own host`,
        );
      }
    });
  }

  private checkBastion(): void {
    const bastion = this.env.ssh?.bastion;
    if (bastion !== undefined) {
      const host = this.checkHostReference(['ssh', 'bastion'], bastion);
      if (host && !host.roles.includes('bastion')) {
        this.report(['ssh', 'bastion'], 'value', `"ssh.bastion" names host "${bastion}", which does not have the bastion role; add bastion to its roles`);
      }
      return;
    }
    this.env.hosts.forEach((host, index) => {
      const role = host.roles.indexOf('bastion');
      if (role === -1) return;
      this.report(
        ['hosts', index, 'roles', role],
        'value',
        `host "${host.name}" has the bastion role but "ssh.bastion" is not set, so no host would be reached through it; set ssh.bastion: ${host.name}`,
      );
    });
  }

  /**
   * Quorum needs a strict majority of votes, so an even number of votes can
   * split into two halves that both stop. A single db node is refused too: it
   * would pass every health check while having no redundancy, which is exactly
   * what this tool exists to prevent. Environments that only need preflight or
   * provision can leave the database section out.
   */
  private checkDatabase(): void {
    const database = this.env.database;
    if (!database) return;
    const dbHosts = this.withRole('db');
    const arbitrators = this.withRole('arbitrator').filter((host) => !host.roles.includes('db'));

    if (dbHosts.length === 0) {
      this.report(['database'], 'key', '"database" is configured but no host has the db role; add db to the roles of the Galera nodes');
    } else if (dbHosts.length === 1) {
      this.report(
        ['database'],
        'key',
        `a single db node (${dbHosts[0]!.name}) is not highly available: Galera needs at least 3 db nodes, or 2 plus a host with the arbitrator role`,
      );
    } else if ((dbHosts.length + arbitrators.length) % 2 === 0) {
      const message =
        arbitrators.length === 0
          ? `${plural(dbHosts.length, 'db node')} (${names(dbHosts)}) and no arbitrator: an even number of votes loses quorum when the cluster splits in half; add a db node or a host with the arbitrator role`
          : `${plural(dbHosts.length, 'db node')} and ${plural(arbitrators.length, 'arbitrator')} make ${dbHosts.length + arbitrators.length} votes, an even number that loses quorum when the cluster splits in half; add a db node or remove an arbitrator`;
      this.report(['database'], 'key', message);
    }

    (database.remove_nodes ?? []).forEach((name, index) => {
      const path: Path = ['database', 'remove_nodes', index];
      const host = this.checkHostReference(path, name);
      if (host?.roles.includes('db')) {
        this.report(
          path,
          'value',
          `"database.remove_nodes" lists "${name}", which still has the db role; take db out of its roles (keep the host entry so deploy-db can reach it and stop mariadb there)`,
        );
      }
    });

    const socketAuth = database.sst_password === undefined;
    const socketUser = DEFAULTS.database.sst_user_socket;
    if ((database.sst_method ?? DEFAULTS.database.sst_method) === 'mariabackup' && socketAuth && database.sst_user !== undefined && database.sst_user !== socketUser) {
      this.report(
        ['database', 'sst_user'],
        'value',
        `"database.sst_user" ${database.sst_user} needs "sst_password": without a password SST logs in over the unix socket as the OS user mysqld runs as, so the account must be "${socketUser}"`,
      );
    }

    if (database.bind_address !== undefined) {
      const text = database.bind_address;
      const path: Path = ['database', 'bind_address'];
      const address = checkAddress(text);
      const wildcard = text === '0.0.0.0' || text === '::';
      if (!wildcard && (!address.ok || address.kind === 'dns')) {
        this.report(path, 'value', `"database.bind_address" must be 0.0.0.0 or ::, got ${JSON.stringify(text)}`);
      } else if (!wildcard) {
        this.report(
          path,
          'value',
          `"database.bind_address" ${text} would be the same on every db node; use 0.0.0.0 (the firewall from provision limits who can connect) or leave it out`,
        );
      }
    }

    for (const [key, value] of Object.entries(database.options ?? {})) {
      const path: Path = ['database', 'options', key];
      if (!OPTION_NAME.test(key)) {
        this.report(path, 'key', `option name "${key}" in "database.options" must be lowercase letters, digits, "_" and "-"`);
        continue;
      }
      const managed = managedOptionFor(key);
      if (managed !== undefined) {
        const alias = managed.name === key.replace(/-/g, '_') ? '' : ` (MariaDB reads "${key}" as ${managed.name})`;
        this.report(path, 'key', `"database.options.${key}"${alias} ${managed.why}; remove it from options`);
        continue;
      }
      if (typeof value === 'string' && /[\r\n]/.test(value)) {
        this.report(path, 'value', `"database.options.${key}" must be a single line`);
      }
    }
  }

  private checkLoadBalancer(): void {
    const lb = this.env.load_balancer;
    if (!lb) return;
    const lbHosts = this.withRole('lb');

    if (!this.env.database) {
      this.report(['load_balancer'], 'key', '"load_balancer" needs a "database" section: it balances the Galera nodes');
    }
    if (lbHosts.length < 2) {
      const found = lbHosts.length === 0 ? 'found none' : `found 1 (${lbHosts[0]!.name})`;
      this.report(['load_balancer'], 'key', `"load_balancer" needs at least two hosts with the lb role to move the VIP between; ${found}`);
    }

    const vip = parseCidr4(lb.vip);
    if (vip) this.checkVip(vip, lbHosts);
    if (lb.proxysql?.package !== undefined) this.checkUrlCredentials(['load_balancer', 'proxysql', 'package', 'url'], lb.proxysql.package.url);

    const other = lb.kind === 'haproxy' ? 'proxysql' : 'haproxy';
    if (lb[other] !== undefined) {
      this.report(['load_balancer', other], 'key', `"load_balancer.${other}" is only for kind ${other}; this load balancer is ${lb.kind}`);
    }
    if (lb.kind === 'proxysql' && lb.proxysql === undefined) {
      this.report(['load_balancer'], 'key', '"load_balancer" of kind proxysql needs a "proxysql" section with admin_password and monitor_password');
    }
    if (lb.kind === 'proxysql' && lb.clustercheck_port !== undefined) {
      this.report(['load_balancer', 'clustercheck_port'], 'key', '"load_balancer.clustercheck_port" is only for kind haproxy (ProxySQL monitors the nodes itself)');
    }
    const portsOfKind = lb.kind === 'haproxy' ? ['writer', 'reader', 'web'] : ['mysql', 'admin'];
    for (const port of Object.keys(lb.ports ?? {})) {
      if (portsOfKind.includes(port)) continue;
      this.report(
        ['load_balancer', 'ports', port],
        'key',
        `"load_balancer.ports.${port}" is for kind ${other}; ${lb.kind} uses ports ${portsOfKind.join(', ')}`,
      );
    }
    if (lb.kind === 'proxysql') {
      // ProxySQL binds its client port (mysql-interfaces) only when it starts, and
      // a fresh package listens for admin on 6032, where lms-ha first logs in: a
      // port moved here would be printed in the connection settings and the
      // firewall while ProxySQL still listens on its own.
      for (const [port, fixed] of [['mysql', DEFAULTS.proxysql.ports.mysql], ['admin', DEFAULTS.proxysql.ports.admin]] as const) {
        const value = lb.ports?.[port];
        if (value === undefined || value === fixed) continue;
        this.report(
          ['load_balancer', 'ports', port],
          'value',
          `"load_balancer.ports.${port}" must stay ${fixed} with kind proxysql (ProxySQL reads its listening ports only when it starts, and lms-ha does not restart it to move them); leave the key out`,
        );
      }
    }
    if (lb.kind === 'haproxy' && lb.ports?.web !== undefined && this.withRole('web').length === 0) {
      this.report(['load_balancer', 'ports', 'web'], 'value', '"load_balancer.ports.web" is set but no host has the web role to send the traffic to');
    }
  }

  private checkVip(vip: Cidr4, lbHosts: HostSpec[]): void {
    const path: Path = ['load_balancer', 'vip'];
    const reserved = reservedAddressOf(vip);
    if (reserved) {
      this.report(path, 'value', `"load_balancer.vip" ${vip.text} is the ${reserved} address of ${formatSubnet(vip)}; pick an unused host address`);
      return;
    }
    const owner = this.env.hosts.find((host) => parseIPv4(host.address) === vip.address);
    if (owner) {
      this.report(path, 'value', `"load_balancer.vip" ${vip.text} is the address of host "${owner.name}"; the VIP must be an address no host uses`);
      return;
    }
    // Only IP literals can be checked without resolving names, and a bad inventory must not touch the network.
    for (const host of lbHosts) {
      const address = parseIPv4(host.address);
      if (address !== undefined && !sameSubnet(address, vip.address, vip.prefix)) {
        this.report(path, 'value', `"load_balancer.vip" ${vip.text} is not in the subnet of load balancer "${host.name}" (${host.address}/${vip.prefix})`);
      }
    }
  }

  /** Every port a host will listen on, with where it comes from, so collisions can be named. */
  private portClaims(host: HostSpec, index: number): { port: number; label: string; path?: Path }[] {
    const claims: { port: number; label: string; path?: Path }[] = [];
    const configured = (path: Path, label: string, value: number | undefined, fallback: number) =>
      claims.push(value === undefined ? { port: fallback, label: `${label} (default ${fallback})` } : { port: value, label, path });

    if (host.ssh?.port !== undefined) {
      claims.push({ port: host.ssh.port, label: `"ssh.port" of host "${host.name}"`, path: ['hosts', index, 'ssh', 'port'] });
    } else {
      configured(['ssh', 'port'], '"ssh.port"', this.env.ssh?.port, DEFAULTS.ssh.port);
    }
    const { database, load_balancer: lb } = this.env;
    if (database && host.roles.includes('db')) {
      configured(['database', 'port'], '"database.port"', database.port, DEFAULTS.database.port);
      for (const galera of GALERA_PORTS) claims.push({ port: galera.port, label: galera.label });
      if (lb?.kind === 'haproxy') {
        configured(['load_balancer', 'clustercheck_port'], '"load_balancer.clustercheck_port"', lb.clustercheck_port, DEFAULTS.haproxy.clustercheck_port);
      }
    }
    if (database && host.roles.includes('arbitrator') && !host.roles.includes('db')) {
      claims.push({ port: 4567, label: 'the Galera arbitrator port 4567' });
    }
    if (lb && host.roles.includes('lb')) {
      const ports = lb.ports ?? {};
      const lbPort = (name: 'writer' | 'reader' | 'mysql' | 'admin', fallback: number) =>
        configured(['load_balancer', 'ports', name], `"load_balancer.ports.${name}"`, ports[name], fallback);
      if (lb.kind === 'haproxy') {
        lbPort('writer', DEFAULTS.haproxy.ports.writer);
        lbPort('reader', DEFAULTS.haproxy.ports.reader);
        if (ports.web !== undefined) claims.push({ port: ports.web, label: '"load_balancer.ports.web"', path: ['load_balancer', 'ports', 'web'] });
      } else {
        lbPort('mysql', DEFAULTS.proxysql.ports.mysql);
        lbPort('admin', DEFAULTS.proxysql.ports.admin);
      }
    }
    if (lb?.kind === 'haproxy' && lb.ports?.web !== undefined && host.roles.includes('web')) {
      configured(
        ['load_balancer', 'haproxy', 'web_backend_port'],
        '"load_balancer.haproxy.web_backend_port"',
        lb.haproxy?.web_backend_port,
        DEFAULTS.haproxy.web_backend_port,
      );
    }
    return claims;
  }

  private checkPorts(): void {
    const reported = new Set<string>();
    this.env.hosts.forEach((host, index) => {
      const claims = this.portClaims(host, index);
      claims.forEach((later, j) => {
        const earlier = claims.slice(0, j).find((claim) => claim.port === later.port);
        if (!earlier) return;
        // Point at a setting the operator wrote; a collision between two defaults cannot happen.
        const [blamed, other] = later.path ? [later, earlier] : [earlier, later];
        if (!blamed.path) return;
        const key = `${blamed.label}|${other.label}`;
        if (reported.has(key)) return;
        reported.add(key);
        this.report(
          blamed.path,
          'value',
          `port ${later.port} of ${blamed.label} collides with ${other.label} on host "${host.name}"; pick another port`,
        );
      });
    });
  }

  private checkStorage(): void {
    const storage = this.env.storage;
    if (!storage) return;

    this.env.hosts.forEach((host, index) => {
      const role = host.roles.indexOf('storage');
      if (role !== -1 && storage.kind !== 'glusterfs') {
        this.report(
          ['hosts', index, 'roles', role],
          'value',
          `host "${host.name}" has the storage role, but "storage.kind" is ${storage.kind}; only glusterfs uses storage hosts`,
        );
      }
    });

    if (storage.kind !== 'glusterfs') {
      for (const key of GLUSTER_ONLY_KEYS) {
        if (storage[key] !== undefined) {
          this.report(['storage', key], 'key', `"storage.${key}" is only for kind glusterfs; this storage is ${storage.kind}`);
        }
      }
    }
    if (storage.kind !== 's3' && storage.s3 !== undefined) {
      this.report(['storage', 's3'], 'key', `"storage.s3" is only for kind s3; this storage is ${storage.kind}`);
    }
    if (storage.kind === 's3' && storage.s3 === undefined) {
      this.report(['storage'], 'key', '"storage" of kind s3 needs an "s3" section with bucket, access_key_id and secret_access_key');
    }
    if (storage.kind === 'glusterfs') this.checkGlusterfs();
    if (storage.kind === 's3' && storage.s3 !== undefined) this.checkS3(storage.s3);
  }

  /** What S3 itself (and rclone's endpoint setting) would refuse after connecting. */
  private checkS3(s3: NonNullable<NonNullable<EnvironmentSpec['storage']>['s3']>): void {
    const bucket = s3.bucket;
    const bucketPath: Path = ['storage', 's3', 'bucket'];
    if (/^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/.test(bucket)) {
      this.report(bucketPath, 'value', `"storage.s3.bucket" ${bucket} is shaped like an IP address, which S3 refuses as a bucket name`);
    } else if (/\.\.|\.-|-\./.test(bucket)) {
      this.report(bucketPath, 'value', `"storage.s3.bucket" ${bucket} has "..", ".-" or "-." which S3 refuses in a bucket name`);
    } else if (bucket.startsWith('xn--') || bucket.endsWith('-s3alias') || bucket.endsWith('--ol-s3')) {
      this.report(bucketPath, 'value', `"storage.s3.bucket" ${bucket} uses a prefix or suffix S3 reserves (xn--, -s3alias, --ol-s3)`);
    }
    if (s3.endpoint !== undefined) {
      const endpointPath: Path = ['storage', 's3', 'endpoint'];
      if (!this.checkUrlCredentials(endpointPath, s3.endpoint) && !/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/?$/.test(s3.endpoint)) {
        this.report(endpointPath, 'value', '"storage.s3.endpoint" must be http(s)://host[:port] without a path; the bucket is "storage.s3.bucket"');
      }
    }
  }

  /**
   * `https://user:pass@host` is a secret written inline. Refused without
   * repeating the URL. Returns true when it reported a problem.
   */
  private checkUrlCredentials(path: Path, url: string): boolean {
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)) return false;
    this.report(
      path,
      'value',
      `"${path.join('.')}" has a user name or password in the URL (value not shown): that is a secret written inline in the inventory; remove the "user:password@" part and remove the credential from the file's history`,
    );
    return true;
  }

  /**
   * Replica 2 without an arbiter is refused: when the two copies disagree
   * neither can win, which is GlusterFS's classic split brain. Three copies, or
   * two plus an arbiter brick (metadata only), always leave a majority.
   */
  private checkGlusterfs(): void {
    const storage = this.env.storage!;
    if (storage.volume === undefined) {
      this.report(['storage'], 'key', '"storage" of kind glusterfs needs "volume" (the GlusterFS volume name)');
    }
    if (storage.mount_path === undefined && !presetDefinition(this.env.app?.preset ?? 'custom')?.files) {
      this.report(['storage'], 'key', '"storage" of kind glusterfs needs "mount_path" (where the volume is mounted; the moodle and chamilo presets default it)');
    }

    const arbiter = storage.arbiter === undefined ? undefined : this.checkHostReference(['storage', 'arbiter'], storage.arbiter);
    const dataHosts = this.withRole('storage').filter((host) => host.name !== storage.arbiter);
    if (storage.arbiter !== undefined) {
      if (arbiter && dataHosts.length !== 2) {
        const message =
          dataHosts.length < 2
            ? `GlusterFS with an arbiter needs 2 storage hosts besides the arbiter; found ${dataHosts.length}${dataHosts.length ? ` (${names(dataHosts)})` : ''}`
            : `"storage.arbiter" is for a volume with 2 data copies; with ${dataHosts.length} storage hosts (${names(dataHosts)}) remove the arbiter`;
        this.report(['storage', 'arbiter'], 'value', message);
      }
    } else if (dataHosts.length === 2) {
      this.report(
        ['storage'],
        'key',
        `GlusterFS replica 2 (${names(dataHosts)}) is refused: two copies without an arbiter can split brain; add a third host with the storage role or name an arbiter host in "storage.arbiter"`,
      );
    } else if (dataHosts.length < 2) {
      const found = dataHosts.length === 0 ? 'found none' : `found 1 (${names(dataHosts)})`;
      this.report(['storage'], 'key', `GlusterFS needs at least 3 hosts with the storage role (or 2 plus "storage.arbiter"); ${found}`);
    }

    if (storage.brick_path !== undefined) this.checkPath(['storage', 'brick_path'], storage.brick_path, 'place');
    if (storage.mount_path !== undefined) this.checkPath(['storage', 'mount_path'], storage.mount_path, 'mount');

    const brick = storage.brick_path ?? (storage.volume === undefined ? undefined : defaultBrickPath(storage.volume));
    const mount = storage.mount_path;
    if (brick === undefined || mount === undefined) return;
    if (hasDotSegment(brick) || hasDotSegment(mount)) return;
    if (inside(brick, mount)) {
      const path: Path = storage.brick_path === undefined ? ['storage', 'mount_path'] : ['storage', 'brick_path'];
      this.report(path, 'value', `the brick ${brick} is inside the mounted volume ${mount}; keep the brick (GlusterFS's own copy) outside "storage.mount_path"`);
    } else if (inside(mount, brick)) {
      this.report(['storage', 'mount_path'], 'value', `"storage.mount_path" ${mount} is inside the brick ${brick}; mount the volume outside the brick directory`);
    }
  }

  /**
   * Paths are compared as strings elsewhere, so "." and ".." segments (which
   * would defeat the brick-inside-mount check) are refused, as are system
   * directories: a volume mounted over /etc or the MariaDB datadir (the db
   * hosts are also web hosts in the Moodle layout) would hide them on every
   * node. Returns true when the path is acceptable.
   */
  private checkPath(path: Path, value: string, use: 'mount' | 'place' | 'source'): boolean {
    const field = `"${path.join('.')}"`;
    if (hasDotSegment(value) || value.includes('//')) {
      this.report(path, 'value', `${field} must be a plain absolute path without ".", ".." or empty segments, got ${JSON.stringify(value)}`);
      return false;
    }
    const normal = normalizePath(value);
    if (use === 'source') {
      const system = SOURCE_FORBIDDEN.find((dir) => normal === dir || (dir !== '/' && inside(normal, dir)));
      if (system !== undefined) {
        this.report(path, 'value', `${field} ${normal} is ${normal === '/' ? 'the whole root filesystem' : `a kernel or system directory (${system})`}; name the directory that holds the platform's files`);
        return false;
      }
      return true;
    }
    const clash = PROTECTED_DIRECTORIES.find((dir) => inside(normal, dir) || inside(dir, normal));
    if (clash !== undefined) {
      const what = use === 'mount' ? 'mounting the volume there would hide' : 'a brick there would write into';
      this.report(path, 'value', `${field} ${normal} is or contains a system directory (${clash}); ${what} it on every host; use a directory of its own such as /srv/...`);
      return false;
    }
    return true;
  }

  private declaredDatabases(): string[] {
    const preset = this.env.app?.preset ?? 'custom';
    const own = (this.env.app?.databases ?? []).map((database) => database.name);
    return [...new Set([...PRESET_DATABASES[preset], ...own])];
  }

  private checkDatabaseReference(path: Path, what: string, database: string): void {
    const declared = this.declaredDatabases();
    if (declared.includes(database)) return;
    const list = declared.length === 0 ? 'no databases are declared' : `declared: ${declared.join(', ')}`;
    const hint = didYouMean(database, declared) || `; declare it in "app.databases" (${list})`;
    this.report(path, 'value', `${what} refers to database "${database}", which is not declared${hint}`);
  }

  private checkApp(): void {
    const app = this.env.app;
    if (!app) return;
    const databases = app.databases ?? [];
    const users = app.users ?? [];

    if (!this.env.database) {
      for (const key of ['databases', 'users'] as const) {
        if ((app[key] ?? []).length > 0) {
          this.report(['app', key], 'key', `"app.${key}" needs a "database" section (the cluster to create them in)`);
        }
      }
    }

    const firstDatabase = new Map<string, number>();
    databases.forEach((database, index) => {
      const first = firstDatabase.get(database.name);
      if (first === undefined) firstDatabase.set(database.name, index);
      else this.report(['app', 'databases', index, 'name'], 'value', `duplicate app database "${database.name}" (first declared at line ${this.line(['app', 'databases', first])})`);
    });

    const sstUser = this.env.database ? (this.env.database.sst_user ?? defaultSstUser(this.env.database)) : undefined;
    const firstUser = new Map<string, number>();
    users.forEach((user, index) => {
      const namePath: Path = ['app', 'users', index, 'name'];
      const first = firstUser.get(user.name);
      if (first === undefined) firstUser.set(user.name, index);
      else this.report(namePath, 'value', `duplicate app user "${user.name}" (first defined at line ${this.line(['app', 'users', first])})`);

      if (RESERVED_DB_USERS.includes(user.name)) {
        this.report(namePath, 'value', `app user "${user.name}" is reserved for MariaDB itself; give the application its own user`);
      } else if (user.name === sstUser) {
        this.report(namePath, 'value', `app user "${user.name}" is the SST user ("database.sst_user"); give the application its own user`);
      }
      user.databases.forEach((database, j) => {
        this.checkDatabaseReference(['app', 'users', index, 'databases', j], `app user "${user.name}"`, database);
      });
    });
  }

  private checkMigrate(): void {
    const migrate = this.env.migrate;
    if (!migrate) return;
    if (migrate.files) {
      this.checkHostReference(['migrate', 'files', 'source_host'], migrate.files.source_host);
      const source = migrate.files.source_path;
      const sourcePath: Path = ['migrate', 'files', 'source_path'];
      if (this.checkPath(sourcePath, source, 'source')) {
        const mount = this.env.storage?.kind === 'glusterfs' ? this.env.storage.mount_path : undefined;
        if (mount !== undefined && !hasDotSegment(mount) && (inside(source, mount) || inside(mount, source))) {
          this.report(sourcePath, 'value', `"migrate.files.source_path" ${source} overlaps the volume's own mount ${mount}: the files would be copied into themselves; name the old directory`);
        }
      }
      const kind = this.env.storage?.kind ?? 'none';
      if (kind === 'none') {
        this.report(['migrate', 'files'], 'key', '"migrate.files" needs a "storage" section of kind glusterfs or s3 to copy the files into');
      }
    }
    if (migrate.database) {
      this.checkHostReference(['migrate', 'database', 'source_host'], migrate.database.source_host);
      if (!this.env.database) {
        this.report(['migrate', 'database'], 'key', '"migrate.database" needs a "database" section (the cluster to copy into)');
      }
      migrate.database.databases.forEach((database, index) => {
        this.checkDatabaseReference(['migrate', 'database', 'databases', index], '"migrate.database"', database);
      });
    }
  }
}

/** Why `text` is not an address or a network like 10.0.0.0/24 (host bits zero), or undefined when it is one. */
export function networkProblem(text: string): string | undefined {
  const [address, prefixText, ...rest] = text.split('/');
  if (rest.length > 0 || address === undefined) return 'is not an address or a network like 10.0.0.0/24';
  const v4 = isIPv4(address);
  if (!v4 && !isIPv6(address)) return 'is not an IP address or a network like 10.0.0.0/24';
  if (prefixText === undefined) return undefined;
  const prefix = Number(prefixText);
  const max = v4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(prefixText) || prefix > max) return `has a prefix length above ${max}`;
  if (v4) {
    const value = parseIPv4(address)!;
    const size = 2 ** (32 - prefix);
    if (value % size !== 0) return `has host bits set; the network is ${formatIPv4(Math.floor(value / size) * size)}/${prefix}`;
  }
  return undefined;
}

/**
 * Two Keepalived groups with the same virtual_router_id on one network fight
 * over the VIP. Environments cannot see each other's networks, so overlapping
 * VIP subnets are taken as "the same network"; a false alarm costs a renumber,
 * a missed clash costs an outage.
 */
function checkRouterIds(inventory: Inventory, environments: readonly string[], context: SemanticContext): PathProblem[] {
  const problems: PathProblem[] = [];
  const seen: { name: string; id: number; vip: Cidr4 }[] = [];
  for (const name of environments) {
    const lb = inventory.environments[name]!.load_balancer;
    const vip = lb ? parseCidr4(lb.vip) : undefined;
    if (!lb || !vip) continue;
    const clash = seen.find((other) => other.id === lb.virtual_router_id && subnetsOverlap(other.vip, vip));
    if (clash) {
      const path = ['environments', name, 'load_balancer', 'virtual_router_id'];
      const line = context.lineOf(['environments', clash.name, 'load_balancer', 'virtual_router_id']);
      problems.push({
        path,
        target: 'value',
        message: `"load_balancer.virtual_router_id" ${lb.virtual_router_id} is also used by environment "${clash.name}" (line ${line}) on the same network ${formatSubnet(clash.vip)}; VRRP groups sharing a network need distinct ids`,
      });
    }
    seen.push({ name, id: lb.virtual_router_id, vip });
  }
  return problems;
}

/**
 * Semantic problems of the environments named in `valid` (those that passed the
 * schema), plus the checks across them.
 */
export function semanticProblems(inventory: Inventory, valid: readonly string[], context: SemanticContext): PathProblem[] {
  const problems: PathProblem[] = [];
  for (const name of valid) {
    problems.push(...new EnvironmentChecker(name, inventory.environments[name]!, inventory, context).run());
  }
  problems.push(...checkRouterIds(inventory, valid, context));
  return problems;
}
