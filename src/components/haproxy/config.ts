/**
 * haproxy.cfg for a load balancer of the HAProxy path (seed 004), for HAProxy 2.6
 * (Debian 12). Pure: the same model always gives the same bytes, so a second
 * deploy-lb sees no change.
 *
 * Decisions (docs/deploy-lb.md tells the operator's side):
 * - Listeners bind to all addresses (`*:port`), not to the VIP: no
 *   `net.ipv4.ip_nonlocal_bind=1` is needed, the standby already listens when
 *   the VIP arrives (no restart on failover), and keepalived's probe can reach
 *   HAProxy on 127.0.0.1. The ports also answer on the LB's own address; the
 *   provision firewall keeps them to the application hosts. A specific bind
 *   address (the model's `bindAddress`) would need the sysctl on the standby.
 * - Writer (3307): the first db node active, the others `backup`. Without
 *   `option allbackups` HAProxy sends everything to the first usable backup, so
 *   the writer order is the inventory order on both LBs. `on-marked-down
 *   shutdown-sessions` kills sessions to a node that failed; `on-marked-up
 *   shutdown-backup-sessions` moves everyone back when the first node returns
 *   (failback is expected; rise 3 x 2 s keeps a flapping node out).
 * - Reader (3308): `balance leastconn` over all nodes by default, as Moodle's
 *   reference HA layout does. With three nodes, dropping the writer would leave one reader after
 *   a single failure; Galera nodes all hold all data, and Moodle never writes
 *   through its read-only connection. `readers: 'non-writer-first'` keeps reads
 *   off the writer while another node is up (the writer becomes a `backup`).
 * - Health: HTTP on the clustercheck port (9200), never `mysql-check`, which
 *   makes MariaDB count aborted handshakes towards `max_connect_errors` and
 *   eventually block the load balancer (research §3.10, crowbar-openstack#1123).
 * - Failover timing (target: writes back through the VIP within 3 s of the
 *   writer dying). Measured in the lab with the old `inter 2s fall 2`: the
 *   writer was marked DOWN 4.3 s after mariadbd was killed (two checks 2 s
 *   apart), while every client connection in between was refused by the dead
 *   node. Now: a check every 1 s and, once one failed, the next 250 ms later
 *   (`fastinter`), still two failures in a row (`fall 2`), so one slow check
 *   never takes a node out; and a connection the node refuses marks it DOWN at
 *   once (`observe layer4 error-limit 1 on-error mark-down`: a refused TCP
 *   connection is a dead server, not a slow one) and is retried on the next
 *   server (`retries 1` + `option redispatch`, safe because nothing was sent
 *   on a connection that never opened). `timeout check 2s` bounds a check that
 *   hangs; the check script gives up on MariaDB before that and answers 503.
 * - Client/server timeouts 8 h = MariaDB's default `wait_timeout` (28800 s), so
 *   HAProxy never cuts an idle pooled connection the server would have kept.
 * - Stats: admin socket /run/haproxy/admin.sock (Debian's path, mode 660, level
 *   admin) and a page on 127.0.0.1 only (used by keepalived's probe).
 */
import { DeployError } from '../../errors.js';

export interface HaproxyServer {
  /** Inventory host name; becomes the HAProxy server name (shown in stats). */
  name: string;
  address: string;
  /** Default 3306 for db nodes, 80 for web hosts. */
  port?: number;
}

export interface HaproxyWebFarm {
  /** Default 80. */
  port?: number;
  servers: HaproxyServer[];
  /** Path of the HTTP health check. Default "/"; 2xx and 3xx count as healthy. */
  checkPath?: string;
}

export type ReaderPolicy = 'all' | 'non-writer-first';

export interface HaproxyModel {
  /** In inventory order: the first one is the writer while it is healthy. */
  dbNodes: HaproxyServer[];
  /** Default 3307 (the writer port of the Moodle layout). */
  writerPort?: number;
  /** Default 3308 (the reader port of the Moodle layout). */
  readerPort?: number;
  /** Default "*" (all addresses). */
  bindAddress?: string;
  /** Port of the clustercheck on the db nodes. Default 9200. */
  checkPort?: number;
  /** Default "all". */
  readers?: ReaderPolicy;
  /** Optional web frontend to the web hosts (port 80 in the Moodle layout). */
  web?: HaproxyWebFarm;
  /** Port of the stats page on 127.0.0.1. Default 8404. */
  statsPort?: number;
  /** Global connection limit. Default 4096. */
  maxConnections?: number;
}

export const HAPROXY_CONFIG_PATH = '/etc/haproxy/haproxy.cfg';
export const HAPROXY_STATS_SOCKET = '/run/haproxy/admin.sock';
export const HAPROXY_WRITER_LISTENER = 'galera_writer';
export const HAPROXY_READER_LISTENER = 'galera_reader';
export const HAPROXY_WEB_FRONTEND = 'web';
export const HAPROXY_WEB_BACKEND = 'web_farm';
export const HAPROXY_DEFAULTS = {
  writerPort: 3307,
  readerPort: 3308,
  checkPort: 9200,
  statsPort: 8404,
  webPort: 80,
  maxConnections: 4096,
} as const;

const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const ADDRESS = /^[A-Za-z0-9][A-Za-z0-9.:-]*$/;
const URL_PATH = /^\/[A-Za-z0-9._~\/?=&%-]*$/;

function invalid(message: string, hint: string): never {
  throw new DeployError('invalid-inventory', message, { hint });
}

function checkPort(what: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) invalid(`${what} ${port} is not a TCP port`, 'Use a port between 1 and 65535.');
  return port;
}

function checkServers(what: string, servers: HaproxyServer[]): void {
  if (servers.length === 0) invalid(`HAProxy ${what} list is empty`, `The inventory needs at least one ${what} host.`);
  const names = new Set<string>();
  for (const s of servers) {
    if (!SERVER_NAME.test(s.name)) invalid(`"${s.name}" cannot be an HAProxy server name`, 'Host names may use letters, digits, ".", "_", "-".');
    if (!ADDRESS.test(s.address)) invalid(`address "${s.address}" of ${s.name} is not usable in haproxy.cfg`, 'Give the host an IP address.');
    if (names.has(s.name)) invalid(`${s.name} is listed twice among the ${what} hosts`, 'Each host appears once.');
    names.add(s.name);
    if (s.port !== undefined) checkPort(`port of ${s.name}`, s.port);
  }
}

function serverAddress(address: string, port: number): string {
  // IPv6 needs no brackets in HAProxy: the last colon separates the port.
  return `${address}:${port}`;
}

function bind(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function renderHaproxyConfig(model: HaproxyModel): string {
  checkServers('db', model.dbNodes);
  const writerPort = checkPort('writer port', model.writerPort ?? HAPROXY_DEFAULTS.writerPort);
  const readerPort = checkPort('reader port', model.readerPort ?? HAPROXY_DEFAULTS.readerPort);
  const healthPort = checkPort('clustercheck port', model.checkPort ?? HAPROXY_DEFAULTS.checkPort);
  const statsPort = checkPort('stats port', model.statsPort ?? HAPROXY_DEFAULTS.statsPort);
  const maxConnections = model.maxConnections ?? HAPROXY_DEFAULTS.maxConnections;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) invalid(`maxConnections ${maxConnections} is not a positive integer`, 'Leave it out for 4096.');
  const bindAddress = model.bindAddress ?? '*';
  if (bindAddress !== '*' && !ADDRESS.test(bindAddress)) invalid(`bind address "${bindAddress}" is not an IP address`, 'Use "*" (default) or an IP address.');
  const readers = model.readers ?? 'all';
  const ports = [writerPort, readerPort];
  if (model.web) ports.push(model.web.port ?? HAPROXY_DEFAULTS.webPort);
  if (new Set(ports).size !== ports.length) invalid(`HAProxy listener ports collide (${ports.join(', ')})`, 'Writer, reader and web ports must differ.');

  const out: string[] = [];
  out.push(
    '# Rendered by lms-ha (deploy-lb); local edits are overwritten.',
    'global',
    '    log /dev/log local0',
    '    log /dev/log local1 notice',
    '    chroot /var/lib/haproxy',
    `    stats socket ${HAPROXY_STATS_SOCKET} mode 660 level admin`,
    '    stats timeout 30s',
    '    user haproxy',
    '    group haproxy',
    '    daemon',
    `    maxconn ${maxConnections}`,
    '',
    'defaults',
    '    log global',
    '    mode tcp',
    '    option tcplog',
    '    option dontlognull',
    // A LAN peer answers a SYN in milliseconds; a host that is gone should not hold a client for long.
    '    timeout connect 2s',
    '    timeout client 8h',
    '    timeout server 8h',
    '    timeout check 2s',
    '',
  );

  const dbChecks = `port ${healthPort} inter 1s fastinter 250ms downinter 1s fall 2 rise 3 observe layer4 error-limit 1 on-error mark-down`;
  const dbServer = (s: HaproxyServer, backup: boolean): string =>
    `    server ${s.name} ${serverAddress(s.address, s.port ?? 3306)} check${backup ? ' backup' : ''}`;

  out.push(
    '# Single writer: the first db node; the others take over in inventory order.',
    `listen ${HAPROXY_WRITER_LISTENER}`,
    `    bind ${bind(bindAddress, writerPort)}`,
    '    mode tcp',
    '    option tcpka',
    '    option httpchk',
    '    http-check expect status 200',
    '    retries 1',
    '    option redispatch',
    `    default-server ${dbChecks} on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions`,
    ...model.dbNodes.map((s, i) => dbServer(s, i > 0)),
    '',
  );

  out.push(
    readers === 'all'
      ? '# Readers: every synced node, fewest connections first.'
      : '# Readers: the nodes other than the writer; the writer only when none of them is up.',
    `listen ${HAPROXY_READER_LISTENER}`,
    `    bind ${bind(bindAddress, readerPort)}`,
    '    mode tcp',
    '    balance leastconn',
    '    option tcpka',
    '    option httpchk',
    '    http-check expect status 200',
    '    retries 1',
    '    option redispatch',
    `    default-server ${dbChecks} on-marked-down shutdown-sessions`,
    ...model.dbNodes.map((s, i) => dbServer(s, readers === 'non-writer-first' && i === 0 && model.dbNodes.length > 1)),
    '',
  );

  if (model.web) {
    checkServers('web', model.web.servers);
    const webPort = model.web.port ?? HAPROXY_DEFAULTS.webPort;
    const checkPath = model.web.checkPath ?? '/';
    if (!URL_PATH.test(checkPath)) invalid(`web check path "${checkPath}" is not a plain URL path`, 'Use a path such as "/" or "/login/index.php".');
    out.push(
      '# Web farm (seed 004): plain HTTP to the web hosts; 2xx/3xx on the check path is healthy.',
      `frontend ${HAPROXY_WEB_FRONTEND}`,
      `    bind ${bind(bindAddress, webPort)}`,
      '    mode http',
      '    option httplog',
      '    option forwardfor',
      '    timeout client 5m',
      '    timeout http-request 10s',
      `    default_backend ${HAPROXY_WEB_BACKEND}`,
      '',
      `backend ${HAPROXY_WEB_BACKEND}`,
      '    mode http',
      '    balance roundrobin',
      `    option httpchk GET ${checkPath}`,
      '    timeout server 5m',
      '    default-server inter 2s fall 2 rise 3',
      ...model.web.servers.map((s) => `    server ${s.name} ${serverAddress(s.address, s.port ?? 80)} check`),
      '',
    );
  }

  out.push(
    '# Stats page for keepalived and operators on this host only.',
    'listen stats',
    `    bind 127.0.0.1:${statsPort}`,
    '    mode http',
    '    option httplog',
    // keepalived polls every second: log only errors, not each poll.
    '    option dontlog-normal',
    '    timeout client 30s',
    '    stats enable',
    '    stats uri /',
    '    stats refresh 10s',
    '',
  );
  return out.join('\n');
}
