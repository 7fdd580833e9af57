/**
 * The Galera health endpoint HAProxy checks on every db node (port 9200, the clustercheck convention).
 *
 * Pure rendering only: the script, its two systemd units, the MariaDB account it
 * logs in as, and a parser for its answer (used by verify-ha). Nothing here
 * touches a host; deploy-lb writes what these functions return.
 *
 * Shape (OSA's `mariadbcheck` pattern, research §1c): systemd listens on the port
 * with `Accept=yes` and starts one short-lived instance of the script per
 * connection, with the connection on stdin/stdout. The script asks the local
 * MariaDB over the unix socket as `clustercheck`@localhost IDENTIFIED VIA
 * unix_socket, so no password exists anywhere, and the account needs no grant
 * at all: SHOW GLOBAL STATUS / SHOW GLOBAL VARIABLES need no privilege in
 * MariaDB (the PROCESS grant in olafz/percona-clustercheck is a MySQL 5.x need).
 */
import { DeployError } from '../../errors.js';

export const CLUSTERCHECK_USER = 'clustercheck';
export const CLUSTERCHECK_SOCKET_UNIT = 'lms-ha-clustercheck.socket';
export const CLUSTERCHECK_SERVICE_UNIT = 'lms-ha-clustercheck@.service';
export const CLUSTERCHECK_DEFAULT_PORT = 9200;
/** The nftables table (family inet) that fences the check; lms-ha touches no other table. */
export const CLUSTERCHECK_NFT_TABLE = 'lms_ha_clustercheck';
/** The oneshot unit that loads the fence at boot and again whenever nftables.service flushes the ruleset. */
export const CLUSTERCHECK_FIREWALL_UNIT = 'lms-ha-clustercheck-firewall.service';
/** Touch this file on a db node to drain it from HAProxy (the check answers 503). */
export const DEFAULT_MAINTENANCE_FILE = '/etc/lms-ha/maintenance';
export const DEFAULT_CLUSTERCHECK_SCRIPT = '/usr/local/lib/lms-ha/clustercheck';
export const DEFAULT_MYSQL_SOCKET = '/run/mysqld/mysqld.sock';
export const DEFAULT_MYSQL_BINARY = '/usr/bin/mysql';

export interface ClustercheckModel {
  /** This db node's own address: the socket binds to it, not to every interface. */
  listenAddress: string;
  /** Default 9200, clustercheck's usual port. */
  port?: number;
  /** Load balancer addresses: the only remote peers allowed to connect. */
  allowedSources: string[];
  /**
   * Answer 200 for a node in state 2 (Donor/Desynced) while it serves an SST.
   * Default false, as in every anchor (CHK, OSA, PG). A node desynced on purpose
   * (`wsrep_desync=ON`) is never available, whatever this says.
   */
  availableWhenDonor?: boolean;
  maintenanceFile?: string;
  mysqlSocket?: string;
  /** Absolute path of the mysql client; tests point it at a stub. */
  mysqlBinary?: string;
  scriptPath?: string;
}

export interface RenderedFile {
  path: string;
  content: string;
  /** Octal mode, e.g. 0o755. */
  mode: number;
  owner: string;
  group: string;
}

interface Resolved {
  listenAddress: string;
  port: number;
  allowedSources: string[];
  availableWhenDonor: boolean;
  maintenanceFile: string;
  mysqlSocket: string;
  mysqlBinary: string;
  scriptPath: string;
}

const ADDRESS = /^[0-9A-Fa-f:.]+$/;
const SAFE_PATH = /^\/[A-Za-z0-9._\/-]+$/;

function invalid(message: string, hint: string): never {
  throw new DeployError('invalid-inventory', message, { hint });
}

function resolve(model: ClustercheckModel): Resolved {
  const port = model.port ?? CLUSTERCHECK_DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    invalid(`clustercheck port ${port} is not a TCP port`, 'Use a port between 1 and 65535 (default 9200).');
  }
  if (!ADDRESS.test(model.listenAddress)) {
    invalid(
      `clustercheck listen address "${model.listenAddress}" is not an IP address`,
      'The health check binds to the db node address from the inventory; give hosts IP addresses.',
    );
  }
  if (model.allowedSources.length === 0) {
    invalid('clustercheck has no allowed source', 'List the load balancer addresses: only they may query the check.');
  }
  for (const source of model.allowedSources) {
    if (!ADDRESS.test(source.replace(/\/\d{1,3}$/, ''))) {
      invalid(`clustercheck allowed source "${source}" is not an IP address or prefix`, 'Use load balancer IP addresses.');
    }
  }
  const resolved: Resolved = {
    listenAddress: model.listenAddress,
    port,
    allowedSources: [...model.allowedSources],
    availableWhenDonor: model.availableWhenDonor ?? false,
    maintenanceFile: model.maintenanceFile ?? DEFAULT_MAINTENANCE_FILE,
    mysqlSocket: model.mysqlSocket ?? DEFAULT_MYSQL_SOCKET,
    mysqlBinary: model.mysqlBinary ?? DEFAULT_MYSQL_BINARY,
    scriptPath: model.scriptPath ?? DEFAULT_CLUSTERCHECK_SCRIPT,
  };
  for (const [what, path] of [
    ['maintenance file', resolved.maintenanceFile],
    ['mysql socket', resolved.mysqlSocket],
    ['mysql binary', resolved.mysqlBinary],
    ['script path', resolved.scriptPath],
  ] as const) {
    // These land unquoted in unit files and single-quoted in bash: keep them plain.
    if (!SAFE_PATH.test(path)) invalid(`clustercheck ${what} "${path}" is not a plain absolute path`, 'Use letters, digits, ".", "_", "-" and "/" only.');
  }
  return resolved;
}

/**
 * The check script. Bash only needs coreutils' `timeout` and the mysql client, both
 * present on a MariaDB host. It must answer within HAProxy's check timeout (2 s) and can
 * never hang: the client has a connect timeout, the whole query a hard timeout, and
 * the service unit a runtime limit on top.
 */
export function renderClustercheckScript(model: ClustercheckModel): string {
  const r = resolve(model);
  return `#!/bin/bash
# Rendered by lms-ha (deploy-lb); local edits are overwritten.
# Galera health check for HAProxy: one HTTP request on stdin, one answer on stdout
# (systemd ${CLUSTERCHECK_SOCKET_UNIT}, Accept=yes). 200 only when this node may take
# traffic; 503 with the reason otherwise.
set -u
export LC_ALL=C

MAINTENANCE_FILE='${r.maintenanceFile}'
MYSQL_BIN='${r.mysqlBinary}'
MYSQL_SOCKET='${r.mysqlSocket}'
AVAILABLE_WHEN_DONOR=${r.availableWhenDonor ? 1 : 0}

respond() {
  local code=$1 text=$2 body="$3"$'\\r\\n'
  printf 'HTTP/1.1 %s %s\\r\\nContent-Type: text/plain\\r\\nConnection: close\\r\\nContent-Length: %d\\r\\n\\r\\n%s' \\
    "$code" "$text" "\${#body}" "$body"
  exit 0
}
unavailable() { respond 503 'Service Unavailable' "$1"; }

# Values from the server end up in the answer: keep them short and printable.
clean() { local v=\${1//[^A-Za-z0-9_.-]/}; printf '%s' "\${v:0:40}"; }

# Read the request head first: closing a socket with unread data resets the
# connection, and HAProxy could lose the answer.
while IFS= read -r -t 1 line; do
  line=\${line%$'\\r'}
  [ -z "$line" ] && break
done

if [ -e "$MAINTENANCE_FILE" ]; then
  unavailable "maintenance: $MAINTENANCE_FILE exists"
fi

# wsrep_sync_wait=0: a health probe must never wait for causality (research 2.1).
# 1.5 s in all: HAProxy gives a check 2 s (timeout check), and a 503 from here
# counts the same as its timeout without holding its check slot as long.
out=$(timeout -k 1 1.5 "$MYSQL_BIN" --no-defaults --protocol=socket --socket="$MYSQL_SOCKET" \\
  --user=${CLUSTERCHECK_USER} --connect-timeout=1 --batch --skip-column-names \\
  --execute="SET SESSION wsrep_sync_wait=0; SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state','wsrep_cluster_status','wsrep_ready'); SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_desync','wsrep_reject_queries')" \\
  2>/dev/null) || unavailable 'mysql unreachable or too slow'

state='' cluster='' ready='' desync='' reject=''
while IFS=$'\\t' read -r name value; do
  case "\${name,,}" in
    wsrep_local_state) state=$(clean "$value") ;;
    wsrep_cluster_status) cluster=$(clean "$value") ;;
    wsrep_ready) ready=$(clean "$value") ;;
    wsrep_desync) desync=$(clean "$value") ;;
    wsrep_reject_queries) reject=$(clean "$value") ;;
  esac
done <<< "$out"

[ -n "$cluster" ] || unavailable 'wsrep status unavailable (is this a Galera node?)'
[ "$cluster" = Primary ] || unavailable "not in the primary component (wsrep_cluster_status=$cluster)"
[ "$ready" = ON ] || unavailable "wsrep not ready (wsrep_ready=$ready)"
if [ -n "$reject" ] && [ "$reject" != NONE ]; then
  unavailable "rejecting queries (wsrep_reject_queries=$reject)"
fi
case "$state" in
  4) respond 200 OK 'synced' ;;
  2)
    if [ "$desync" = ON ]; then
      unavailable 'desynced on purpose (wsrep_desync=ON)'
    elif [ "$AVAILABLE_WHEN_DONOR" = 1 ]; then
      respond 200 OK 'donor (allowed by availableWhenDonor)'
    else
      unavailable 'donor/desynced (wsrep_local_state=2)'
    fi
    ;;
  *) unavailable "not synced (wsrep_local_state=\${state:-unknown})" ;;
esac
`;
}

function listenStream(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * The listening socket. IPAddressAllow/Deny on the socket unit filter the
 * accepted connections themselves (systemd.resource-control(5): "the IP access
 * list configured on the socket unit applies to all sockets associated with it
 * directly"). The node's own address is allowed so verify-ha can curl it from
 * the node. These lists rely on cgroup eBPF: where the kernel or container
 * manager lacks it they do nothing (same man page), so the nftables rules below
 * exist as a second, independent fence.
 */
export function renderClustercheckSocketUnit(model: ClustercheckModel): string {
  const r = resolve(model);
  const allow = unique(['localhost', r.listenAddress, ...r.allowedSources]);
  return `# Rendered by lms-ha (deploy-lb); local edits are overwritten.
[Unit]
Description=lms-ha Galera health check for the load balancers (HTTP ${r.port})

[Socket]
ListenStream=${listenStream(r.listenAddress, r.port)}
# The address may not be up yet when sockets start at boot.
FreeBind=yes
Accept=yes
MaxConnections=32
IPAddressDeny=any
IPAddressAllow=${allow.join(' ')}

[Install]
WantedBy=sockets.target
`;
}

/** One instance per connection: short, unprivileged, and killed if it ever hangs. */
export function renderClustercheckServiceUnit(model: ClustercheckModel): string {
  const r = resolve(model);
  return `# Rendered by lms-ha (deploy-lb); local edits are overwritten.
[Unit]
Description=lms-ha Galera health check (one request)

[Service]
ExecStart=${r.scriptPath}
User=${CLUSTERCHECK_USER}
Group=${CLUSTERCHECK_USER}
StandardInput=socket
StandardOutput=socket
StandardError=journal
RuntimeMaxSec=10
# Failed instances (a timeout) are garbage-collected instead of piling up.
CollectMode=inactive-or-failed
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
ProtectHome=yes
# The script talks to MariaDB over its unix socket only. This list does not
# apply to the accepted connection passed in by the socket unit.
IPAddressDeny=any
`;
}

/** Everything deploy-lb writes on a db node for the check, with owners and modes. */
export function renderClustercheckFiles(model: ClustercheckModel): RenderedFile[] {
  const r = resolve(model);
  return [
    { path: r.scriptPath, content: renderClustercheckScript(model), mode: 0o755, owner: 'root', group: 'root' },
    {
      path: `/etc/systemd/system/${CLUSTERCHECK_SOCKET_UNIT}`,
      content: renderClustercheckSocketUnit(model),
      mode: 0o644,
      owner: 'root',
      group: 'root',
    },
    {
      path: `/etc/systemd/system/${CLUSTERCHECK_SERVICE_UNIT}`,
      content: renderClustercheckServiceUnit(model),
      mode: 0o644,
      owner: 'root',
      group: 'root',
    },
  ];
}

/**
 * The MariaDB account the script logs in as: unix_socket authentication maps the
 * system user `clustercheck` to it, so there is no password to keep. No GRANT:
 * USAGE (the implicit "no privileges") is enough to read wsrep status and
 * variables. Idempotent; run it once on any Synced node (Galera replicates it).
 */
export function clustercheckAccountSql(): string {
  return [
    `CREATE USER IF NOT EXISTS '${CLUSTERCHECK_USER}'@'localhost' IDENTIFIED VIA unix_socket;`,
    `ALTER USER '${CLUSTERCHECK_USER}'@'localhost' IDENTIFIED VIA unix_socket;`,
    '',
  ].join('\n');
}

/**
 * The fence of the check in nftables: the socket unit's IP lists rely on cgroup
 * eBPF, which containers (and some kernels) lack, so these rules are what
 * really keeps other hosts out. A table of its own, so it never touches anyone
 * else's rules: `nft -f` applies the file as one transaction, and the leading
 * add+delete makes it replace only this table, atomically, on every run.
 * Accepting here does not open the port past another table's drop; a drop here
 * is final.
 */
export function renderClustercheckNftables(model: ClustercheckModel): string {
  const r = resolve(model);
  const v4 = unique([r.listenAddress, ...r.allowedSources].filter((a) => !a.includes(':')));
  const v6 = unique([r.listenAddress, ...r.allowedSources].filter((a) => a.includes(':')));
  const table = `inet ${CLUSTERCHECK_NFT_TABLE}`;
  const lines = [
    '# Rendered by lms-ha (deploy-lb): only the load balancers reach the Galera health check.',
    `# Replaces the table ${table} only; every other table is left as it is.`,
    `table ${table}`,
    `delete table ${table}`,
    `table ${table} {`,
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    tcp dport ${r.port} iif "lo" accept`,
  ];
  if (v4.length > 0) lines.push(`    tcp dport ${r.port} ip saddr { ${v4.join(', ')} } accept`);
  if (v6.length > 0) lines.push(`    tcp dport ${r.port} ip6 saddr { ${v6.join(', ')} } accept`);
  lines.push(`    tcp dport ${r.port} drop`, '  }', '}', '');
  return lines.join('\n');
}

/**
 * The unit that loads the fence at boot. Early and without default
 * dependencies (like nftables.service) so the port is fenced before the socket
 * listens: default dependencies would order it after basic.target, which comes
 * after the socket, a cycle systemd breaks by dropping a job at boot. After
 * nftables.service, whose start flushes the ruleset. Keeping the table loaded
 * when an operator's nftables.service flushes it later is the drop-in's job
 * (renderNftablesServiceDropIn): systemd can propagate a restart or a reload
 * to this unit, but a stop only as a stop, which would leave the port open.
 */
export function renderClustercheckFirewallUnit(nftPath: string): string {
  if (!SAFE_PATH.test(nftPath)) invalid(`nftables file "${nftPath}" is not a plain absolute path`, 'Use letters, digits, ".", "_", "-" and "/" only.');
  return `# Rendered by lms-ha (deploy-lb); local edits are overwritten.
[Unit]
Description=lms-ha: only the load balancers reach the Galera health check (nftables table inet ${CLUSTERCHECK_NFT_TABLE})
DefaultDependencies=no
Wants=network-pre.target
After=local-fs.target nftables.service
Before=network-pre.target ${CLUSTERCHECK_SOCKET_UNIT} shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f ${nftPath}
ExecReload=/usr/sbin/nft -f ${nftPath}
# Only this table; "-": already gone when nftables.service flushed the ruleset first.
ExecStop=-/usr/sbin/nft delete table inet ${CLUSTERCHECK_NFT_TABLE}

[Install]
WantedBy=sysinit.target
`;
}

/** Drop-in of Debian's nftables.service: the fence again after each flush of the ruleset. */
export const NFTABLES_DROP_IN_PATH = '/etc/systemd/system/nftables.service.d/lms-ha-clustercheck.conf';

/**
 * Debian's nftables.service (an operator's own firewall) runs `nft -f
 * /etc/nftables.conf`, which starts with `flush ruleset`, on start and reload,
 * and `nft flush ruleset` on stop: each would drop the fence's table too and
 * leave the health check open to everyone. These lines run after each of them
 * and load the fence again ("-": a missing file or nft never fails the
 * operator's unit). Harmless where nftables.service is not installed.
 */
export function renderNftablesServiceDropIn(nftPath: string): string {
  if (!SAFE_PATH.test(nftPath)) invalid(`nftables file "${nftPath}" is not a plain absolute path`, 'Use letters, digits, ".", "_", "-" and "/" only.');
  return `# Rendered by lms-ha (deploy-lb); local edits are overwritten.
# nftables.service flushes the whole ruleset on start, reload and stop: load the
# health-check fence (table inet ${CLUSTERCHECK_NFT_TABLE}) again after each.
[Service]
ExecStartPost=-/usr/sbin/nft -f ${nftPath}
ExecReload=-/usr/sbin/nft -f ${nftPath}
ExecStopPost=-/usr/sbin/nft -f ${nftPath}
`;
}

export interface ClustercheckAnswer {
  status: number;
  /** The reason line of the body ("synced", "maintenance: ...", ...). */
  reason: string;
  healthy: boolean;
}

/** Parses what the endpoint answered (e.g. `curl -si http://node:9200/`), for verify-ha. */
export function parseClustercheckResponse(raw: string): ClustercheckAnswer {
  const match = /^HTTP\/1\.[01] (\d{3})[^\n]*\n/.exec(raw);
  if (!match) {
    throw new DeployError('verify-failed', 'the Galera health check did not answer with HTTP', {
      hint: `Expected "HTTP/1.1 200 OK" or "HTTP/1.1 503 ...", got: ${JSON.stringify(raw.slice(0, 80))}`,
    });
  }
  const status = Number(match[1]);
  const split = raw.indexOf('\r\n\r\n');
  const body = split >= 0 ? raw.slice(split + 4) : raw.slice(raw.indexOf('\n\n') + 2);
  return { status, reason: body.trim(), healthy: status === 200 };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
