/**
 * In-memory hosts for deploy-lb: each fake host keeps packages, system users,
 * directories, files (with owner and mode), unit states and the tools on its
 * PATH, answers deploy-lb's fact script from them, and carries out the
 * commands deploy-lb applies (apt-get install, useradd, install -d,
 * haproxy -c, mv, systemctl, the mariadb client, the ProxySQL admin client,
 * the host lock). Anything else it is sent is an error, so a test sees every
 * command deploy-lb invents. writeFile refuses a path whose directory does
 * not exist, as the real one does.
 */
import { createHash } from 'node:crypto';
import { planHashKeyFrom } from '../../../src/engine/plan.js';
import type { CommandContext } from '../../../src/commands/context.js';
import { Redactor } from '../../../src/engine/redact.js';
import { loadInventory, resolveSecrets, selectEnvironment } from '../../../src/inventory/index.js';
import { MemoryLogger } from '../../support/memory-logger.js';
import type { RemoteHost, RunOptions, RunResult, WriteFileOptions } from '../../../src/ssh/types.js';
import { toDeployError } from '../../../src/errors.js';
import {
  desiredProxysqlState,
  mysqlNativePasswordHash,
  PROXYSQL_SECTIONS,
  type ProxysqlModel,
  type ProxysqlSection,
} from '../../../src/components/proxysql/index.js';

export const ADDRESS: Record<string, string> = {
  db1: '10.0.0.11',
  db2: '10.0.0.12',
  db3: '10.0.0.13',
  lb1: '10.0.0.21',
  lb2: '10.0.0.22',
};
export const DB = ['db1', 'db2', 'db3'] as const;
export const LB = ['lb1', 'lb2'] as const;

/** Longer than 8 characters: keepalived.conf carries only the first 8, which must stay hidden too. */
export const SECRETS = {
  KEEPALIVED_PASSWORD: 'Kp9xQ7zW-rest-of-it',
  APP_DB_PASSWORD: 'app-Secret-9137',
  PROXYSQL_ADMIN_PASSWORD: 'adm-Secret-5521',
  PROXYSQL_MONITOR_PASSWORD: 'mon-Secret-7730',
};
export const ALL_SECRET_FORMS = [...Object.values(SECRETS), SECRETS.KEEPALIVED_PASSWORD.slice(0, 8)];

export const DEB = { url: 'https://example.invalid/proxysql_2.6.3-debian12_amd64.deb', sha256: createHash('sha256').update('fake proxysql deb').digest('hex') };

export function inventory(options: { vip?: string; writerPort?: number; kind?: 'haproxy' | 'proxysql'; deb?: boolean } = {}): string {
  const kind = options.kind ?? 'haproxy';
  const lbExtra =
    kind === 'haproxy'
      ? options.writerPort
        ? `      ports: { writer: ${options.writerPort} }\n`
        : ''
      : `      proxysql:\n        admin_password: { env: PROXYSQL_ADMIN_PASSWORD }\n        monitor_password: { env: PROXYSQL_MONITOR_PASSWORD }\n` +
        (options.deb ? `        package: { url: '${DEB.url}', sha256: ${DEB.sha256} }\n` : '');
  return `version: 1
environments:
  prod:
    hosts:
${DB.map((n) => `      - { name: ${n}, address: ${ADDRESS[n]}, roles: [db] }`).join('\n')}
${LB.map((n) => `      - { name: ${n}, address: ${ADDRESS[n]}, roles: [lb] }`).join('\n')}
    app:
      preset: moodle
      users:
        - { name: moodle, password: { env: APP_DB_PASSWORD }, databases: [moodle] }
    database: { cluster_name: moodle }
    load_balancer:
      kind: ${kind}
      vip: ${options.vip ?? '10.0.0.100/24'}
      interface: eth0
      virtual_router_id: 51
      auth_password: { env: KEEPALIVED_PASSWORD }
${lbExtra}`;
}

interface FakeFile {
  content: Buffer;
  mode: number;
  owner: string;
  group: string;
}

interface Unit {
  enabled: string;
  active: string;
}

export interface Sent {
  host: string;
  command: string;
  stdin?: string;
}

/** What the cluster (MariaDB accounts) and the platform as a whole hold. */
export class FakePlatform {
  readonly hosts = new Map<string, FakeHost>();
  readonly sent: Sent[] = [];
  readonly writes: Array<{ host: string; path: string }> = [];
  mariadbUp = true;
  /** 'clustercheck'@'localhost': plugin and extra privileges; absent until created. */
  clustercheck: { plugin: string; extra: number } | null = null;
  /** Monitor account rows: host → password hash. */
  monitor: Record<string, string> = {};
  /** Make `haproxy -c` fail. */
  haproxyRejects = false;
  /**
   * How long after `systemctl start proxysql` returns its admin port opens:
   * the unit is Type=forking, and a real ProxySQL 2.7.1 took 0.6 s.
   */
  proxysqlAdminDelayMs = 0;

  constructor() {
    for (const n of [...DB, ...LB]) this.hosts.set(n, new FakeHost(n, ADDRESS[n]!, this));
    for (const n of DB) {
      const h = this.hosts.get(n)!;
      h.packages['mariadb-server'] = '1:10.11.6-0+deb12u1';
      h.units['mariadb'] = { enabled: 'enabled', active: 'active' };
    }
  }

  host(name: string): FakeHost {
    return this.hosts.get(name)!;
  }

  /** Every command line sent anywhere (not stdin). */
  commands(): string[] {
    return this.sent.map((s) => s.command);
  }
}

const BASE_DIRS = ['/', '/etc', '/etc/systemd', '/etc/systemd/system', '/usr', '/usr/local', '/usr/local/lib', '/var', '/var/cache', '/run'];

export class FakeHost implements RemoteHost {
  packages: Record<string, string> = {};
  users = new Set<string>(['root']);
  dirs = new Map<string, { mode: number; owner: string; group: string }>(BASE_DIRS.map((d) => [d, { mode: 0o755, owner: 'root', group: 'root' }]));
  files = new Map<string, FakeFile>();
  units: Record<string, Unit> = {};
  commandsOnPath = new Set<string>(['bash', 'systemctl']);
  /** ProxySQL: the admin password that works, and which sections are live. */
  proxysqlAdmin = 'admin';
  proxysqlLive = new Set<ProxysqlSection>();
  proxysqlModel?: ProxysqlModel;
  /** nftables tables loaded by someone else (the operator), e.g. "inet filter". */
  operatorTables: string[] = [];
  /** `nft -j list ruleset` as the host prints it (one line); '' when no test sets it. */
  rulesetJson = '';
  /** Whether the fence table is loaded: set by loading the firewall unit, cleared by a test (a flush). */
  fenceLoaded = false;
  /** The VIP is on this host's interface. */
  holdsVip = false;
  /** Make `keepalived -t` fail. */
  keepalivedRejects = false;
  /** When proxysql was last started (its admin port opens proxysqlAdminDelayMs later). */
  proxysqlStartedAt = 0;

  constructor(
    readonly name: string,
    readonly address: string,
    private readonly platform: FakePlatform,
  ) {}

  file(path: string): string | undefined {
    return this.files.get(path)?.content.toString('utf8');
  }

  async readFile(path: string): Promise<Buffer | null> {
    return this.files.get(path)?.content ?? null;
  }

  async writeFile(path: string, content: string | Buffer, options: WriteFileOptions): Promise<void> {
    const dir = path.replace(/\/[^/]+$/, '') || '/';
    if (!this.dirs.has(dir)) throw new Error(`write ${path}: no such directory ${dir}`);
    this.platform.writes.push({ host: this.name, path });
    this.files.set(path, {
      content: Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8'),
      mode: options.mode,
      owner: options.owner ?? 'root',
      group: options.group ?? 'root',
    });
  }

  async run(command: string, options: RunOptions): Promise<RunResult> {
    const stdin = options.stdin === undefined ? undefined : options.stdin.toString();
    this.platform.sent.push({ host: this.name, command, ...(stdin !== undefined ? { stdin } : {}) });
    const r = this.execute(command, stdin ?? '');
    if (r.code !== 0 && !options.allowFailure) throw new Error(`${this.name}: ${options.purpose} failed (${r.code}): ${r.stderr}`);
    return r;
  }

  private execute(command: string, stdin: string): RunResult {
    if (command.startsWith('# lms-ha-lock')) {
      const op = /^# lms-ha-lock (\w+)/.exec(command)![1];
      return ok(op === 'acquire' ? 'acquired\n' : op === 'release' ? 'released\n' : 'absent\n');
    }
    if (command.includes('echo "@@')) return ok(this.facts(command));
    if (command === 'mariadb --batch -N') return this.mariadb(stdin);
    if (command.includes('--defaults-extra-file="$cred"')) return this.proxysqlAdmin_(stdin);
    if (command.includes('apt-get install')) {
      const pkgs = /--force-confold (.*)$/m.exec(command)![1]!.split(' ');
      for (const p of pkgs) this.install(p);
      return ok('');
    }
    let m: RegExpExecArray | null;
    if ((m = /useradd .* (\S+)$/.exec(command))) {
      this.users.add(m[1]!);
      return ok('');
    }
    if ((m = /^install -d -m 0755 -o root -g root (\S+)$/.exec(command))) {
      this.dirs.set(m[1]!, { mode: 0o755, owner: 'root', group: 'root' });
      return ok('');
    }
    if ((m = /^haproxy -c -q -f (\S+)$/.exec(command))) {
      if (!this.files.has(m[1]!)) return { code: 1, stdout: '', stderr: `[ALERT] Could not open configuration file ${m[1]}` };
      if (this.platform.haproxyRejects) return { code: 1, stdout: '', stderr: "[ALERT] parsing [haproxy.cfg:12]: unknown keyword 'bogus'" };
      return ok('');
    }
    if ((m = /^setsid -w sh -c "trap '' TERM; exec keepalived -t -l -f (\S+)"$/.exec(command))) {
      if (!this.packages['keepalived']) return { code: 127, stdout: '', stderr: 'keepalived: command not found' };
      if (!this.files.has(m[1]!)) return { code: 1, stdout: '', stderr: `Configuration file '${m[1]}' does not exist` };
      if (this.keepalivedRejects) return { code: 1, stdout: '', stderr: "Unknown keyword 'bogus'" };
      return ok('');
    }
    if ((m = /^nft -c -f (\S+)$/.exec(command))) {
      if (!this.packages['nftables']) return { code: 127, stdout: '', stderr: 'nft: command not found' };
      return this.files.has(m[1]!) ? ok('') : { code: 1, stdout: '', stderr: `Error: Could not process rule: No such file or directory` };
    }
    if ((m = /^rm -f -- (\S+)$/.exec(command))) {
      this.files.delete(m[1]!);
      return ok('');
    }
    if ((m = /^mv -f -- (\S+) (\S+)$/.exec(command))) {
      const f = this.files.get(m[1]!);
      if (!f) return { code: 1, stdout: '', stderr: 'mv: cannot stat' };
      this.files.delete(m[1]!);
      this.files.set(m[2]!, f);
      return ok('');
    }
    if ((m = /^sha256sum (\S+) \| cut -d' ' -f1$/.exec(command))) {
      const f = this.files.get(m[1]!);
      return ok(f ? `${createHash('sha256').update(f.content).digest('hex')}\n` : '');
    }
    if ((m = /^systemctl is-active (\S+) \|\| true(?:; ss -Hltn 'sport = :(\d+)')?$/.exec(command))) {
      const state = this.units[m[1]!]?.active ?? 'inactive';
      const listening = m[2] !== undefined && state === 'active' && (m[1] !== 'proxysql' || this.proxysqlAdminOpen());
      return ok(`${state}\n${listening ? `LISTEN 0      128        127.0.0.1:${m[2]}       0.0.0.0:*\n` : ''}`);
    }
    if (command.startsWith('systemctl ')) {
      for (const part of command.split(' && ')) this.systemctl(part.trim());
      return ok('');
    }
    throw new Error(`fake host ${this.name}: unexpected command: ${command}`);
  }

  private systemctl(cmd: string): void {
    const words = cmd.split(' ');
    if (words[0] !== 'systemctl') throw new Error(`fake host ${this.name}: unexpected ${cmd}`);
    const verb = words[1]!;
    const unit = words[words.length - 1]!;
    if (verb === 'daemon-reload') return;
    const u = (this.units[unit] ??= { enabled: '', active: 'inactive' });
    switch (verb) {
      case 'enable':
        u.enabled = 'enabled';
        if (words.includes('--now')) u.active = 'active';
        return;
      case 'start':
      case 'restart':
      case 'reload-or-restart':
        u.active = 'active';
        if (unit === 'proxysql') this.proxysqlStartedAt = Date.now();
        if (unit === 'lms-ha-clustercheck-firewall.service') {
          if (!this.files.has('/etc/lms-ha/clustercheck.nft') || !this.packages['nftables']) throw new Error(`${this.name}: nft -f of a missing file or without nft`);
          this.fenceLoaded = true;
        }
        return;
      case 'reload':
        if (u.active !== 'active') throw new Error(`${unit} is not active, cannot reload`);
        return;
      default:
        throw new Error(`fake host ${this.name}: unexpected ${cmd}`);
    }
  }

  private proxysqlAdminOpen(): boolean {
    return Date.now() >= this.proxysqlStartedAt + this.platform.proxysqlAdminDelayMs;
  }

  private install(pkg: string): void {
    const name = pkg.startsWith('/') ? 'proxysql' : pkg;
    this.packages[name] = '1.0-fake';
    if (name === 'haproxy') {
      this.users.add('haproxy');
      this.dirs.set('/etc/haproxy', { mode: 0o755, owner: 'root', group: 'root' });
      this.files.set('/etc/haproxy/haproxy.cfg', { content: Buffer.from('global\n    daemon\n# Debian default\n'), mode: 0o644, owner: 'root', group: 'root' });
      this.units['haproxy'] = { enabled: 'enabled', active: 'active' };
    } else if (name === 'keepalived') {
      this.dirs.set('/etc/keepalived', { mode: 0o755, owner: 'root', group: 'root' });
      // Debian: enabled, but ConditionFileNotEmpty keeps it from starting without a config.
      this.units['keepalived'] = { enabled: 'enabled', active: 'inactive' };
    } else if (name === 'proxysql') {
      if (!pkg.startsWith('/') || !this.files.has(pkg)) throw new Error(`${this.name}: no package file ${pkg}`);
      // The vendor's postinst (2.7.1, Debian 12): a proxysql user owning /var/lib/proxysql,
      // /etc/proxysql.cnf root:proxysql 0640, the service enabled but not started.
      this.users.add('proxysql');
      this.dirs.set('/var/lib/proxysql', { mode: 0o755, owner: 'proxysql', group: 'proxysql' });
      this.files.set('/etc/proxysql.cnf', { content: Buffer.from('datadir="/var/lib/proxysql"\n'), mode: 0o640, owner: 'root', group: 'proxysql' });
      this.units['proxysql'] = { enabled: 'enabled', active: 'inactive' };
    } else if (name === 'mariadb-client') {
      this.commandsOnPath.add('mariadb');
    } else if (name === 'nftables') {
      this.commandsOnPath.add('nft');
    }
  }

  private facts(script: string): string {
    const out: string[] = [];
    const pkgs = /\\n' (.*?) 2>\/dev\/null \|\| true/.exec(script);
    if (pkgs) {
      out.push('@@pkg');
      for (const p of pkgs[1]!.split(' ')) {
        if (this.packages[p]) out.push(`${p}\t${this.packages[p]}\tinstall ok installed`);
      }
    }
    for (const m of script.matchAll(/echo "@@(user|dir|file|unit|cmd|probe) ([^"]+)"/g)) {
      const [, kind, arg] = m as unknown as [string, string, string];
      out.push(`@@${kind} ${arg}`);
      switch (kind) {
        case 'user':
          out.push(this.users.has(arg) ? 'present' : 'absent');
          break;
        case 'dir': {
          const d = this.dirs.get(arg);
          out.push(d ? `${d.mode.toString(8)} ${d.owner} ${d.group}` : '@absent');
          break;
        }
        case 'file': {
          const f = this.files.get(arg);
          if (!f) {
            out.push('@absent');
            break;
          }
          out.push(`${f.mode.toString(8)} ${f.owner} ${f.group}`, createHash('sha256').update(f.content).digest('hex'));
          // base64 only when the script asks for it for this path.
          if (script.includes(`base64 -w0 ${arg};`)) out.push(f.content.toString('base64'));
          break;
        }
        case 'unit': {
          const u = this.units[arg];
          out.push(`enabled=${u?.enabled ?? ''}`, `active=${u?.active ?? 'inactive'}`);
          break;
        }
        case 'cmd':
          out.push(this.commandsOnPath.has(arg) ? 'present' : 'absent');
          break;
        case 'probe':
          if (arg === 'addresses') {
            out.push('1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever', `2: eth0    inet ${this.address}/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever`);
            if (this.holdsVip) out.push('2: eth0    inet 10.0.0.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever');
          } else if (arg === 'nft-tables') {
            if (this.packages['nftables']) out.push(...[...this.operatorTables, ...(this.fenceLoaded ? ['inet lms_ha_clustercheck'] : [])].map((t) => `table ${t}`));
          } else if (arg === 'nft-ruleset') {
            if (this.packages['nftables'] && this.rulesetJson) out.push(this.rulesetJson);
          } else throw new Error(`fake host ${this.name}: unexpected probe ${arg}`);
          break;
      }
    }
    return `${out.join('\n')}\n`;
  }

  private mariadb(sql: string): RunResult {
    if (!(DB as readonly string[]).includes(this.name)) throw new Error(`${this.name} has no MariaDB`);
    if (!this.platform.mariadbUp) return { code: 1, stdout: '', stderr: "ERROR 2002 (HY000): Can't connect to local server through socket" };
    const p = this.platform;
    if (sql.includes("SELECT 'plugin'")) {
      const rows = [`plugin\t${p.clustercheck?.plugin ?? '@absent'}`, `extra\t${p.clustercheck?.extra ?? 0}`];
      if (sql.includes("SELECT 'monitor'")) for (const [host, hash] of Object.entries(p.monitor)) rows.push(`monitor\t${host}\t${hash}`);
      return ok(`${rows.join('\n')}\n`);
    }
    if (sql.includes("CREATE USER IF NOT EXISTS 'clustercheck'@'localhost' IDENTIFIED VIA unix_socket")) {
      p.clustercheck = { plugin: 'unix_socket', extra: sql.includes('REVOKE ALL') ? 0 : (p.clustercheck?.extra ?? 0) };
      return ok('');
    }
    let created = false;
    for (const m of sql.matchAll(/ALTER USER '(\w+)'@'([^']+)' IDENTIFIED BY '((?:[^'\\]|\\.)*)';/g)) {
      p.monitor[m[2]!] = mysqlNativePasswordHash(m[3]!.replace(/\\(.)/g, '$1'));
      created = true;
    }
    if (created) return ok('');
    throw new Error(`${this.name}: unexpected SQL ${sql}`);
  }

  /** The ProxySQL admin interface: login from the option file on stdin, then SELECTs or admin SQL. */
  private proxysqlAdmin_(stdin: string): RunResult {
    if (this.units['proxysql']?.active !== 'active' || !this.proxysqlAdminOpen()) {
      return { code: 1, stdout: '', stderr: "ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (115)" };
    }
    const lines = stdin.split('\n');
    const password = /^password="(.*)"$/.exec(lines[2] ?? '')?.[1];
    if (password !== this.proxysqlAdmin) return { code: 1, stdout: '', stderr: "ERROR 1045 (28000): ProxySQL Error: Access denied for user 'admin'" };
    const sql = lines.slice(3).join('\n');
    if (sql.includes("SELECT 'lms-ha:section servers'")) return ok(this.proxysqlRuntime());
    if (!this.proxysqlModel) throw new Error('test: set proxysqlModel on the fake host');
    for (const section of PROXYSQL_SECTIONS) {
      if (sql.includes(sectionMarker[section])) this.proxysqlLive.add(section);
    }
    if (sql.includes('LOAD ADMIN VARIABLES TO RUNTIME')) this.proxysqlAdmin = this.proxysqlModel.adminPassword;
    return ok('');
  }

  /** What `mysql -N -B` prints for PROXYSQL_RUNTIME_QUERY: the desired rows for live sections. */
  private proxysqlRuntime(): string {
    const live = this.proxysqlLive;
    const d = this.proxysqlModel ? desiredProxysqlState(this.proxysqlModel) : null;
    const out: string[] = ['lms-ha:section servers'];
    if (d && live.has('mysql_servers')) {
      for (const s of d.servers) out.push([s.hostgroup_id, s.hostname, s.port, 'ONLINE', s.weight, s.max_connections].join('\t'));
    }
    out.push('lms-ha:section galera');
    if (d && live.has('mysql_servers')) {
      for (const g of d.galeraHostgroups) {
        out.push([g.writer_hostgroup, g.backup_writer_hostgroup, g.reader_hostgroup, g.offline_hostgroup, g.active, g.max_writers, g.writer_is_also_reader, g.max_transactions_behind].join('\t'));
      }
    }
    out.push('lms-ha:section rules');
    if (d && live.has('mysql_query_rules')) {
      for (const r of d.queryRules) out.push([r.rule_id, r.active, 'NULL', r.match_digest, 'NULL', r.destination_hostgroup, r.apply].join('\t'));
    }
    out.push('lms-ha:section users');
    if (d && live.has('mysql_users')) {
      for (const u of d.users) {
        for (const [fe, be] of [
          [1, 0],
          [0, 1],
        ]) {
          out.push([u.username, u.password, u.active, u.default_hostgroup, u.default_schema ?? 'NULL', u.transaction_persistent, u.max_connections, fe, be].join('\t'));
        }
      }
    }
    out.push('lms-ha:section variables');
    const vars: Array<[string, string]> = [
      ['admin-admin_credentials', `admin:${this.proxysqlAdmin}`],
      ['admin-mysql_ifaces', '0.0.0.0:6032'],
    ];
    if (d && live.has('admin_variables')) {
      vars.length = 0;
      for (const v of d.adminVariables) vars.push([v.variable_name, v.variable_value]);
    }
    if (d && live.has('mysql_variables')) for (const v of d.mysqlVariables) vars.push([v.variable_name, v.variable_value]);
    for (const [k, v] of vars.sort()) out.push(`${k}\t${v}`);
    return `${out.join('\n')}\n`;
  }
}

const sectionMarker: Record<ProxysqlSection, string> = {
  mysql_variables: 'LOAD MYSQL VARIABLES TO RUNTIME',
  mysql_servers: 'LOAD MYSQL SERVERS TO RUNTIME',
  mysql_users: 'LOAD MYSQL USERS TO RUNTIME',
  mysql_query_rules: 'LOAD MYSQL QUERY RULES TO RUNTIME',
  admin_variables: 'LOAD ADMIN VARIABLES TO RUNTIME',
};

function ok(stdout: string): RunResult {
  return { code: 0, stdout, stderr: '' };
}

/** A CommandContext over the fake platform, as executeRun builds it after preflight. */
export function fakeContext(platform: FakePlatform, mode: 'plan' | 'apply', text = inventory()): CommandContext & { logger: MemoryLogger } {
  const inv = loadInventory(text, 'ha.yml');
  const environment = selectEnvironment(inv, 'prod', 'ha.yml');
  const redactor = new Redactor();
  const secrets = resolveSecrets(environment, SECRETS, (v) => redactor.add(v));
  return {
    request: {
      command: 'deploy-lb',
      mode,
      inventoryPath: 'ha.yml',
      environment: 'prod',
      privateKey: Buffer.from('fake private key'),
      planHashKey: planHashKeyFrom('unit-test-plan-hash-key-0123456789abcdef'),
      knownHosts: '',
      insecureSkipHostKeyCheck: false,
      parallelism: 10,
      breakLock: false,
      runId: '42',
      repository: 'org/lms',
      env: {},
      options: {},
    },
    inventory: inv,
    environment,
    secrets,
    logger: new MemoryLogger(),
    redactor,
    host: async (name) => platform.host(name),
    forEachHost: async (list, fn) =>
      Promise.all(
        list.map(async (h) => {
          try {
            return { host: h.name, ok: true as const, value: await fn(platform.host(h.name), h) };
          } catch (error) {
            return { host: h.name, ok: false as const, error: toDeployError(error) };
          }
        }),
      ),
    facts: new Map(),
    preflightChecks: [],
  };
}
