/**
 * An in-memory HA platform for verify-ha: three web+db+brick nodes (the
 * Moodle seed), two HAProxy load balancers with a VIP, a replica-3 GlusterFS
 * volume. Each fake host answers the scripts verify-ha sends with what the
 * real tools print (mariadb -N -B, `show stat` CSV, `ip -o addr`, the
 * clustercheck HTTP answer, gluster --xml, /proc/mounts), derived from one
 * mutable state, so a test injects a fault by changing the state.
 */
import { readFileSync } from 'node:fs';
import { planHashKeyFrom } from '../../../src/engine/plan.js';
import { join } from 'node:path';
import type { CheckResult } from '../../../src/check.js';
import type { CommandContext } from '../../../src/commands/context.js';
import { Redactor } from '../../../src/engine/redact.js';
import { loadInventory, resolveSecrets, selectEnvironment } from '../../../src/inventory/index.js';
import { MemoryLogger } from '../../support/memory-logger.js';
import { PassThrough } from 'node:stream';
import type { RemoteHost, RemoteProcess, RunOptions, RunResult, SpawnOptions } from '../../../src/ssh/types.js';
import { FRESH_OPTIONS, U1, U2, U3, healSummaryXml, volumeInfoXml } from '../storage/fixtures.js';

export const DB = ['moodle1', 'moodle2', 'moodle3'] as const;
export const LB = ['lb1', 'lb2'] as const;
export const ADDRESS: Record<string, string> = {
  moodle1: '10.0.0.11',
  moodle2: '10.0.0.12',
  moodle3: '10.0.0.13',
  lb1: '10.0.0.21',
  lb2: '10.0.0.22',
};
const UUID: Record<string, string> = { moodle1: U1, moodle2: U2, moodle3: U3 };
export const VIP = '10.0.0.100';
export const CLUSTER_UUID = '8d1a6c6e-4b7f-11ef-9a3e-2f0c4b5d6e7f';

export const INVENTORY = `version: 1
environments:
  prod:
    hosts:
      - { name: moodle1, address: 10.0.0.11, roles: [db, storage, web] }
      - { name: moodle2, address: 10.0.0.12, roles: [db, storage, web] }
      - { name: moodle3, address: 10.0.0.13, roles: [db, storage, web] }
      - { name: lb1, address: 10.0.0.21, roles: [lb] }
      - { name: lb2, address: 10.0.0.22, roles: [lb] }
    app:
      preset: moodle
      users:
        - { name: moodle, password: { env: MOODLE_DB_PASSWORD }, databases: [moodle] }
    database: { cluster_name: moodle, gcache_size: 1G }
    load_balancer:
      kind: haproxy
      vip: 10.0.0.100/24
      interface: eth0
      virtual_router_id: 51
      auth_password: { env: KEEPALIVED_PASSWORD }
    storage: { kind: glusterfs, volume: moodledata, brick_path: /storage/brick, mount_path: /var/www/moodledata }
`;

export const PROXYSQL_INVENTORY = INVENTORY.replace(
  '      kind: haproxy\n',
  '      kind: proxysql\n      proxysql: { admin_password: { env: PROXYSQL_ADMIN_PASSWORD }, monitor_password: { env: PROXYSQL_MONITOR_PASSWORD } }\n',
);

export const SECRETS = {
  PROXYSQL_ADMIN_PASSWORD: 'proxysql-admin-pw',
  PROXYSQL_MONITOR_PASSWORD: 'proxysql-monitor-pw', MOODLE_DB_PASSWORD: 'app-secret-pw', KEEPALIVED_PASSWORD: 'vrrp-pw1' };

export interface PlatformState {
  mariadb: Record<string, { running: boolean; desync: boolean }>;
  keepalived: Record<string, boolean>;
  /** The proxy on each LB (haproxy, or proxysql with PROXYSQL_INVENTORY). */
  haproxy: Record<string, boolean>;
  /** LBs that have the VIP on eth0. */
  vipOn: Set<string>;
  glusterd: Record<string, boolean>;
  mounted: Record<string, boolean>;
  /** lms_ha.causality_probe exists. */
  probeTable: boolean;
  /** What the reader port returns for the probe row: the token just written, or a stale one. */
  staleReads: boolean;
  /** Nodes whose change HAProxy has seen but not yet confirmed (status "UP 1/2"). */
  haproxyCounting: Set<string>;
  /** Nodes HAProxy keeps UP whatever their state (a health check that does not work). */
  haproxyStuckUp: Set<string>;
  /** Scripts each host received, for assertions on what was sent. */
  sent: Array<{ host: string; command: string; stdin?: string }>;
  /** Drills: rows of lms_ha.drill_probe by run id, as committed. */
  drillRows: Map<string, Set<number>>;
  /** Drills: a write the fake acknowledges but loses (to prove the loss is caught). */
  loseWrite?: number;
  /** Drills: the proxy does not come back when started (a restore that does not work). */
  haproxyWontStart?: boolean;
  /** ProxySQL: nodes it has SHUNNED although MariaDB is fine (e.g. too many connection errors). */
  proxysqlShunned?: Set<string>;
  /** ProxySQL: the Galera monitor's last check of a node failed with this error; the node sits in the offline hostgroup. */
  proxysqlMonitorErrors?: Record<string, string>;
  /** ProxySQL: runtime_global_variables that differ on one LB (drift by hand). */
  proxysqlVariables?: Record<string, Record<string, string>>;
  /** ProxySQL: the writer one LB's monitor picked, when it differs from the others'. */
  proxysqlWriter?: Record<string, string>;
  /** ProxySQL: extra users in each LB's runtime (the drill's probe account). */
  proxysqlUsers?: Record<string, Set<string>>;
  /** The platform runs ProxySQL: the probe needs its account in the VIP holder's runtime users. */
  proxysql?: boolean;
}

export function healthyState(): PlatformState {
  return {
    mariadb: Object.fromEntries(DB.map((n) => [n, { running: true, desync: false }])),
    keepalived: { lb1: true, lb2: true },
    haproxy: { lb1: true, lb2: true },
    vipOn: new Set(['lb1']),
    glusterd: Object.fromEntries(DB.map((n) => [n, true])),
    mounted: Object.fromEntries(DB.map((n) => [n, true])),
    probeTable: false,
    staleReads: false,
    haproxyCounting: new Set(),
    haproxyStuckUp: new Set(),
    sent: [],
    drillRows: new Map(),
  };
}

const running = (s: PlatformState) => DB.filter((n) => s.mariadb[n]!.running);
const synced = (s: PlatformState, n: string) => s.mariadb[n]!.running && !s.mariadb[n]!.desync;

function wsrepRows(s: PlatformState, n: string): string {
  const me = s.mariadb[n]!;
  const size = running(s).length;
  const rows: Array<[string, string]> = [
    ['wsrep_local_state_uuid', CLUSTER_UUID],
    ['wsrep_last_committed', '48213'],
    ['wsrep_replicated_bytes', '52428800'],
    ['wsrep_received_bytes', '104857600'],
    ['wsrep_local_recv_queue_avg', '0.012'],
    ['wsrep_flow_control_paused', '0.000000'],
    ['wsrep_local_state', me.desync ? '2' : '4'],
    ['wsrep_local_state_comment', me.desync ? 'Donor/Desynced' : 'Synced'],
    ['wsrep_desync_count', me.desync ? '1' : '0'],
    ['wsrep_cluster_conf_id', String(3 + (3 - size))],
    ['wsrep_cluster_size', String(size)],
    ['wsrep_cluster_state_uuid', CLUSTER_UUID],
    ['wsrep_cluster_status', 'Primary'],
    ['wsrep_connected', 'ON'],
    ['wsrep_ready', 'ON'],
    ['Uptime', '86400'],
    ['read_only', 'OFF'],
    ['wsrep_cluster_name', 'moodle'],
    ['wsrep_desync', me.desync ? 'ON' : 'OFF'],
    ['wsrep_on', 'ON'],
    [
      'wsrep_provider_options',
      'base_dir = /var/lib/mysql/; base_host = 10.0.0.11; evs.suspect_timeout = PT5S; gcache.dir = /var/lib/mysql/; gcache.name = galera.cache; gcache.size = 1G; gmcast.listen_addr = tcp://0.0.0.0:4567',
    ],
    ['wsrep_sync_wait', '1'],
    ['lms_ha_probe_table', s.probeTable ? '1' : '0'],
    ['lms_ha_nopk', '0\t'],
  ];
  return rows.map((r) => r.join('\t')).join('\n');
}

function dbAnswer(s: PlatformState, n: string): string {
  if (!s.mariadb[n]!.running) {
    return "@@mysqld\nstopped\n@@unit\ninactive\n@@sql\nERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)\n@@sqlrc\n1\n";
  }
  return `@@mysqld\nrunning\n@@unit\nactive\n@@sql\n${wsrepRows(s, n)}\n@@sqlrc\n0\n`;
}

const STAT_HEADER = readFileSync(join(__dirname, '..', 'lb', 'fixtures', 'haproxy-2.6-show-stat.csv'), 'utf8').split('\n')[0]!;

function statRow(fields: Record<string, string>): string {
  const cols = STAT_HEADER.slice(2).split(',');
  return cols.map((c) => fields[c] ?? '').join(',');
}

/** HAProxy's view, which follows the clustercheck of each node (fall/rise already elapsed). */
function showStat(s: PlatformState): string {
  const lines = [STAT_HEADER];
  for (const listener of ['galera_writer', 'galera_reader']) {
    lines.push(statRow({ pxname: listener, svname: 'FRONTEND', status: 'OPEN', type: '0' }));
    DB.forEach((n, i) => {
      const up = synced(s, n) || s.haproxyStuckUp.has(n);
      lines.push(
        statRow({
          pxname: listener,
          svname: n,
          status: s.haproxyCounting.has(n) ? (up ? 'DOWN 1/3' : 'UP 1/2') : up ? 'UP' : 'DOWN',
          act: listener === 'galera_writer' && i > 0 ? '0' : '1',
          bck: listener === 'galera_writer' && i > 0 ? '1' : '0',
          sid: String(i + 1),
          type: '2',
          check_status: up ? 'L7OK' : 'L7STS',
          lastchg: '3600',
          scur: '0',
          addr: `${ADDRESS[n]}:3306`,
        }),
      );
    });
    lines.push(statRow({ pxname: listener, svname: 'BACKEND', status: DB.some((n) => synced(s, n)) ? 'UP' : 'DOWN', type: '1' }));
  }
  return lines.join('\n') + '\n';
}

function clustercheck(s: PlatformState, n: string): string {
  const m = s.mariadb[n]!;
  const [code, text, body] = !m.running
    ? [503, 'Service Unavailable', 'mysql unreachable or too slow']
    : m.desync
      ? [503, 'Service Unavailable', 'desynced on purpose (wsrep_desync=ON)']
      : [200, 'OK', 'synced'];
  return `HTTP/1.1 ${code} ${text}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${body.length + 2}\r\n\r\n${body}\r\n`;
}

function ipAddr(s: PlatformState, lb: string): string {
  const lines = [
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    `2: eth0    inet ${ADDRESS[lb]}/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever`,
  ];
  if (s.vipOn.has(lb)) lines.push(`2: eth0    inet ${VIP}/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever`);
  return lines.join('\n');
}

/**
 * ProxySQL's runtime tables as `mysql -N -B` prints them for PROXYSQL_RUNTIME_QUERY
 * + PROXYSQL_MONITOR_QUERY, as its Galera monitor leaves them: the first
 * synced node in the writer hostgroup 10, the other synced nodes in the reader
 * hostgroup 30 (writer_is_also_reader=2), the rest in the offline hostgroup
 * 9999; the configuration deploy-lb writes; the monitor's last check per node.
 */
function proxysqlRuntime(s: PlatformState, lb: string): string {
  const errors = s.proxysqlMonitorErrors ?? {};
  const placeable = DB.filter((n) => synced(s, n) && errors[n] === undefined);
  const writer = s.proxysqlWriter?.[lb] ?? placeable[0];
  const rows: string[] = ['lms-ha:section servers'];
  DB.forEach((n, i) => {
    // writer_is_also_reader=2: the other placeable nodes are backup writers (20) and readers (30).
    const groups = n === writer ? [10] : placeable.includes(n) ? [20, 30] : [9999];
    const status = s.proxysqlShunned?.has(n) ? 'SHUNNED' : 'ONLINE';
    for (const hg of groups) rows.push([hg, ADDRESS[n], 3306, status, 1000 - 10 * i, 1000].join('\t'));
  });
  rows.push('lms-ha:section galera', [10, 20, 30, 9999, 1, 1, 2, 100].join('\t'));
  rows.push(
    'lms-ha:section rules',
    ['1', '1', 'NULL', '^SELECT.*FOR UPDATE', 'NULL', '10', '1'].join('\t'),
    ['2', '1', 'NULL', '^SELECT.*LOCK IN SHARE MODE', 'NULL', '10', '1'].join('\t'),
    ['3', '1', 'NULL', '^SELECT', 'NULL', '30', '1'].join('\t'),
  );
  rows.push('lms-ha:section users');
  for (const [fe, be] of [[0, 1], [1, 0]]) rows.push(['moodle', '*5B0E2C5C7E5B1D0F7B1B4F5A8B9C0D1E2F3A4B5C', 1, 10, 'NULL', 1, 10000, fe, be].join('\t'));
  const variables: Record<string, string> = {
    'admin-admin_credentials': 'admin:proxysql-admin-pw',
    'admin-mysql_ifaces': '127.0.0.1:6032',
    'mysql-monitor_galera_healthcheck_interval': '500',
    'mysql-monitor_galera_healthcheck_max_timeout_count': '3',
    'mysql-monitor_galera_healthcheck_timeout': '400',
    'mysql-monitor_password': 'proxysql-monitor-pw',
    'mysql-monitor_username': 'lms_ha_monitor',
    ...(s.proxysqlVariables?.[lb] ?? {}),
  };
  rows.push('lms-ha:section variables', ...Object.keys(variables).sort().map((k) => `${k}\t${variables[k]}`));
  rows.push('lms-ha:section monitor');
  for (const n of [...DB].sort((a, b) => ADDRESS[a]!.localeCompare(ADDRESS[b]!))) {
    const error = !s.mariadb[n]!.running ? `Can't connect to MySQL server on '${ADDRESS[n]}' (115)` : (errors[n] ?? 'NULL');
    rows.push([ADDRESS[n], 3306, error].join('\t'));
  }
  return rows.join('\n');
}

function lbAnswer(s: PlatformState, lb: string, command = ''): string {
  if (command.includes('@@runtime')) {
    const answers = s.vipOn.size > 0;
    return [
      '@@runtime',
      s.haproxy[lb] ? proxysqlRuntime(s, lb) : "ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (115)",
      '@@ipaddr',
      ipAddr(s, lb),
      '@@keepalived',
      s.keepalived[lb] ? 'active' : 'inactive',
      '@@vipconnect',
      answers ? '  91   0   0   0  10' : 'bash: connect: No route to host',
      `rc=${answers ? 0 : 1}`,
      '@@proxysql',
      s.haproxy[lb] ? 'active' : 'inactive',
    ].join('\n') + '\n';
  }
  const holders = [...s.vipOn];
  // A greeting comes back when one LB holds the VIP and its haproxy runs (two holders: ARP decides; say it works).
  const answers = holders.length > 0 && holders.some((h) => s.haproxy[h]);
  const out = [
    '@@ipaddr',
    ipAddr(s, lb),
    '@@keepalived',
    s.keepalived[lb] ? 'active' : 'inactive',
    '@@vipconnect',
    answers ? '  91   0   0   0  10' : `bash: connect: No route to host\nbash: line 1: /dev/tcp/${VIP}/3307: No route to host`,
    `rc=${answers ? 0 : 1}`,
    '@@haproxy',
    s.haproxy[lb] ? 'active' : 'inactive',
    '@@stat',
    s.haproxy[lb] ? showStat(s) : '2024/01/01 socat[1] E connect(5, AF=1 "/run/haproxy/admin.sock", 25): Connection refused',
  ];
  for (const n of DB) out.push(`@@cc ${n}`, clustercheck(s, n));
  return out.join('\n') + '\n';
}

function poolListXml(s: PlatformState, observer: string): string {
  const peer = (n: string, local: boolean) => `    <peer>
      <uuid>${UUID[n]}</uuid>
      <hostname>${local ? 'localhost' : ADDRESS[n]}</hostname>${local ? '' : `\n      <hostnames>\n        <hostname>${ADDRESS[n]}</hostname>\n      </hostnames>`}
      <connected>${local || s.glusterd[n] ? 1 : 0}</connected>
      <state>3</state>
      <stateStr>Peer in Cluster</stateStr>
    </peer>`;
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <peerStatus>
${DB.filter((n) => n !== observer).map((n) => peer(n, false)).join('\n')}
${peer(observer, true)}
  </peerStatus>
</cliOutput>
`;
}

const GLUSTERD_DOWN = 'Connection failed. Please check if gluster daemon is operational.';

function volumeStatusXml(s: PlatformState): string {
  // Bricks of a peer whose glusterd is down are not listed; the brick processes themselves keep running.
  const nodes = DB.filter((n) => s.glusterd[n]).map(
    (n, i) => `        <node>
          <hostname>${ADDRESS[n]}</hostname>
          <path>/storage/brick</path>
          <peerid>${UUID[n]}</peerid>
          <status>1</status>
          <port>49152</port>
          <ports>
            <tcp>49152</tcp>
            <rdma>N/A</rdma>
          </ports>
          <pid>${1400 + i}</pid>
          <sizeTotal>53660876800</sizeTotal>
          <sizeFree>41221225472</sizeFree>
          <device>/dev/sdb1</device>
          <blockSize>4096</blockSize>
          <mntOptions>rw,relatime</mntOptions>
          <fsName>ext4</fsName>
        </node>`,
  );
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volStatus>
    <volumes>
      <volume>
        <volName>moodledata</volName>
        <nodeCount>${nodes.length}</nodeCount>
${nodes.join('\n')}
        <tasks/>
      </volume>
    </volumes>
  </volStatus>
</cliOutput>
`;
}

function splitBrainXml(): string {
  const b = (n: string) => `      <brick hostUuid="${UUID[n]}">
        <name>${ADDRESS[n]}:/storage/brick</name>
        <status>Connected</status>
        <numberOfEntries>0</numberOfEntries>
      </brick>`;
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <healInfo>
    <bricks>
${DB.map(b).join('\n')}
    </bricks>
  </healInfo>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
</cliOutput>
`;
}

const QUORUM: Array<[string, string]> = [
  ['cluster.quorum-type', 'auto'],
  ['cluster.server-quorum-type', 'server'],
  ['network.ping-timeout', '20'],
];

function glusterAnswer(s: PlatformState, host: string, command: string): string {
  if (command.includes('@@glusterd')) {
    return `@@glusterd\n${s.glusterd[host] ? 'active' : 'inactive'}\n@@pool\n${s.glusterd[host] ? poolListXml(s, host) : GLUSTERD_DOWN}\n`;
  }
  if (!s.glusterd[host]) return ['@@info', GLUSTERD_DOWN, '@@status', GLUSTERD_DOWN, '@@heal', GLUSTERD_DOWN, '@@splitbrain', GLUSTERD_DOWN].join('\n') + '\n';
  return [
    '@@info',
    volumeInfoXml({ options: [...FRESH_OPTIONS, ...QUORUM] }),
    '@@status',
    volumeStatusXml(s),
    '@@heal',
    healSummaryXml(),
    '@@splitbrain',
    splitBrainXml(),
  ].join('\n');
}

function clientAnswer(s: PlatformState, host: string): string {
  const base = [
    'proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0',
    '/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0',
    '/dev/sdb1 /storage ext4 rw,relatime 0 0',
  ];
  if (s.mounted[host]) base.push('localhost:/moodledata /var/www/moodledata fuse.glusterfs rw,relatime,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072 0 0');
  return `@@mounts\n${base.join('\n')}\n@@probe\n${s.mounted[host] ? 'lms-ha-probe-ok\nrc=0' : 'skipped'}\n`;
}

function causalityAnswer(s: PlatformState, command: string): string {
  const token = /VALUES \W+verify-ha\W+([0-9a-f]{24})/.exec(command)?.[1] ?? '';
  const denied = "ERROR 1142 (42000) at line 1: INSERT command denied to user 'moodle'@'10.0.0.21' for table `lms_ha`.`causality_probe`";
  if (!s.probeTable) return `@@write\n${denied}\nrc=1\n@@read\n${denied}\nrc=1\n`;
  return `@@write\nrc=0\n@@read\n${s.staleReads ? 'e3b0c44298fc1c149afbf4c8' : token}\nrc=0\n`;
}

/** The platform's installer check as the app user: the table is created, its row read back, then dropped. */
function installerCheckAnswer(command: string): string {
  const token = /VALUES \(1, \W*([0-9a-f]+)\W*\)/.exec(command)?.[1] ?? '';
  return `@@write\nrc=0\n@@read\n${token}\nrc=0\n@@drop\nrc=0\n`;
}

/** What the drills run besides the fact scripts: the lock, services, the VIP, root SQL. */
function drillAnswer(s: PlatformState, host: string, command: string, stdin: string): string | null {
  if (command.startsWith('# lms-ha-lock acquire')) return 'acquired\n';
  if (command.startsWith('# lms-ha-lock release')) return 'released\n';
  if (command === 'ip -o addr show') return ipAddr(s, host);
  // ProxySQL's admin interface: the drill adds and removes its probe account (runtime only).
  if (command.includes('-P6032') && command.includes('--defaults-extra-file="$cred"')) {
    if (!s.haproxy[host]) return null;
    const users = (s.proxysqlUsers ??= {});
    const set = (users[host] ??= new Set());
    if (!stdin.includes('LOAD MYSQL USERS TO RUNTIME')) return null;
    if (/INSERT INTO mysql_users .*'lms_ha_drill'/.test(stdin)) set.add('lms_ha_drill');
    else set.delete('lms_ha_drill');
    return '';
  }
  if (command === "ss -Hltn 'sport = :6032'") return s.haproxy[host] ? 'LISTEN 0 1024 127.0.0.1:6032 0.0.0.0:*\n' : '';
  if (command === 'systemctl stop proxysql') {
    s.haproxy[host] = false;
    // A stopped ProxySQL forgets everything it was not told to save to disk.
    s.proxysqlUsers?.[host]?.delete('lms_ha_drill');
    s.vipOn = new Set(LB.filter((l) => l !== host && s.haproxy[l] && s.keepalived[l]));
    return '';
  }
  if (command === 'systemctl start proxysql') {
    s.haproxy[host] = true;
    return '';
  }
  if (command === 'systemctl stop haproxy') {
    s.haproxy[host] = false;
    // keepalived's proxy probe fails: the VIP moves to the other LB.
    s.vipOn = new Set(LB.filter((l) => l !== host && s.haproxy[l] && s.keepalived[l]));
    return '';
  }
  if (command === 'systemctl start haproxy') {
    if (!s.haproxyWontStart) s.haproxy[host] = true;
    return '';
  }
  if (command === 'systemctl stop mariadb' || command === 'systemctl kill --signal=KILL mariadb') {
    s.mariadb[host]!.running = false;
    return '';
  }
  if (command === 'systemctl start mariadb') {
    s.mariadb[host]!.running = true;
    return '';
  }
  if (command.includes('command -v mariadb || command -v mysql) && timeout')) {
    const run = /WHERE run='([a-z0-9]+)'/.exec(stdin)?.[1];
    if (stdin.includes('SELECT seq') && run) return [...(s.drillRows.get(run) ?? [])].map((n) => `${n}\n`).join('');
    if (stdin.includes('DELETE FROM') && run) s.drillRows.delete(run);
    return '';
  }
  return null;
}

export class FakeHost implements RemoteHost {
  readonly address: string;
  constructor(
    readonly name: string,
    private readonly state: PlatformState,
  ) {
    this.address = ADDRESS[name]!;
  }

  async run(command: string, options: RunOptions): Promise<RunResult> {
    this.state.sent.push({ host: this.name, command, stdin: typeof options.stdin === 'string' ? options.stdin : options.stdin?.toString() });
    const s = this.state;
    let stdout: string;
    if (command.includes('@@mysqld')) stdout = dbAnswer(s, this.name);
    else if (command.includes('@@ipaddr')) stdout = lbAnswer(s, this.name, command);
    else if (command.includes('@@glusterd') || command.includes('@@info')) stdout = glusterAnswer(s, this.name, command);
    else if (command.includes('@@mounts')) stdout = clientAnswer(s, this.name);
    else if (command.includes('lms_ha_installer_check')) stdout = installerCheckAnswer(command);
    else if (command.includes('@@write')) stdout = causalityAnswer(s, command);
    else {
      const drill = drillAnswer(s, this.name, command, typeof options.stdin === 'string' ? options.stdin : '');
      if (drill === null) throw new Error(`fake ${this.name}: unexpected command ${command.slice(0, 80)}`);
      stdout = drill;
    }
    return { code: 0, stdout, stderr: '' };
  }

  /**
   * The drills' write probe: one attempt every few ms through the VIP, acknowledged
   * when exactly one LB holds the VIP with its proxy running and a db node runs;
   * the row lands in `drillRows` (unless it is `loseWrite`). Stops on a stdin line.
   */
  async spawn(command: string, options: SpawnOptions): Promise<RemoteProcess> {
    this.state.sent.push({ host: this.name, command });
    const s = this.state;
    const run = /VALUES \('\\''([a-z0-9]+)'\\''/.exec(command)?.[1] ?? 'unknown';
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let seq = 0;
    let resolveDone!: (r: RunResult) => void;
    const done = new Promise<RunResult>((r) => (resolveDone = r));
    const timer = setInterval(() => {
      seq++;
      const now = BigInt(Date.now()) * 1_000_000n;
      const holders = [...s.vipOn];
      const writer = DB.find((n) => synced(s, n));
      // Through ProxySQL, a user it does not know is refused at the frontend.
      const known = !s.proxysql || (holders.length === 1 && s.proxysqlUsers?.[holders[0]!]?.has('lms_ha_drill'));
      if (holders.length === 1 && s.haproxy[holders[0]!] && writer && known) {
        if (seq !== s.loseWrite) s.drillRows.set(run, (s.drillRows.get(run) ?? new Set()).add(seq));
        stdout.write(`ok ${seq} ${now} ${now + 1_000_000n} ${writer}\n`);
      } else {
        stdout.write(`fail ${seq} ${now} ${now + 1_000_000n} rc=1 ERROR 2003 (HY000): Can't connect to MySQL server on '${VIP}' (111)\n`);
      }
    }, 3);
    let lines = '';
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      stdout.end(`end ${seq}\n`);
      stderr.end();
      resolveDone({ code: 0, stdout: '', stderr: '' });
    };
    stdin.on('data', (d: Buffer) => {
      lines += d.toString();
      // The first 3 lines are the option file; any line after them stops the probe.
      if (lines.split('\n').length > 4) stop();
    });
    void options;
    return { stdin, stdout, stderr, done, kill: stop };
  }

  async readFile(): Promise<Buffer | null> {
    throw new Error('verify-ha must not read files through readFile in this fake');
  }

  async writeFile(): Promise<void> {
    throw new Error('verify-ha is read-only: it must never write a file');
  }
}

/** A CommandContext over the fake platform, as executeRun would build it after preflight. */
export function fakeContext(
  state: PlatformState,
  inventory = INVENTORY,
  preflightChecks: CheckResult[] = [],
  request: Partial<CommandContext['request']> = {},
): CommandContext {
  const inv = loadInventory(inventory, 'ha.yml');
  const environment = selectEnvironment(inv, 'prod', 'ha.yml');
  const secrets = resolveSecrets(environment, SECRETS, () => {});
  const hosts = new Map<string, FakeHost>();
  const host = (name: string) => {
    let h = hosts.get(name);
    if (!h) hosts.set(name, (h = new FakeHost(name, state)));
    return h;
  };
  return {
    request: { mode: 'plan', options: {}, runId: 'unit.1', repository: 'acme/platform', planHashKey: planHashKeyFrom('unit-test-plan-hash-key-0123456789abcdef'), ...request } as CommandContext['request'],
    inventory: inv,
    environment,
    secrets,
    logger: new MemoryLogger(),
    redactor: new Redactor(),
    host: async (name) => host(name),
    forEachHost: async (list, fn) =>
      Promise.all(
        list.map(async (h) => {
          try {
            return { host: h.name, ok: true as const, value: await fn(host(h.name), h) };
          } catch (error) {
            const { toDeployError } = await import('../../../src/errors.js');
            return { host: h.name, ok: false as const, error: toDeployError(error) };
          }
        }),
      ),
    facts: new Map(),
    preflightChecks,
  };
}
