/**
 * verify-ha's verdicts, computed from gathered facts only (pure, unit-tested).
 *
 * Rule that shapes this file: one fault fails the checks that name it, and
 * nothing downstream. A stopped or desynced db node fails its own checks (and
 * the cluster size, which really is smaller); the load balancers are then
 * judged on whether they AGREE with the db nodes' own state (a DOWN server for
 * a stopped node is correct), not on whether every server is UP. Likewise the
 * VIP's writer-port answer is only tested when exactly one LB holds the VIP,
 * and the storage checks come from glusterfs/health.ts, which already keeps
 * follow-on signals (heal backlog while a brick is down) at `warn`.
 */
import type { CheckResult, CheckStatus } from '../../check.js';
import { LOCAL_STATE_NAMES, type NodeStatus } from '../../components/galera/status.js';
import { parseProviderOptions } from '../../components/galera/config.js';
import { parseSize } from '../../components/galera/model.js';
import { HAPROXY_READER_LISTENER, HAPROXY_WRITER_LISTENER, writerOf, type HaproxyStats } from '../../components/haproxy/index.js';
import { configurationDifferences, PROXYSQL_HOSTGROUPS, type ProxysqlRuntime } from '../../components/proxysql/index.js';
import {
  brickChecks,
  bricksNotOnline,
  disconnectedMembers,
  healChecks,
  mountChecks,
  peerChecks,
  volumeChecks,
  type BrickHealSummary,
  type BrickSplitBrain,
  type GlusterVolumeModel,
  type PeerInfo,
  type VolumeInfo,
  type VolumeStatus,
} from '../../components/glusterfs/index.js';
import { parseCidr } from '../../components/keepalived/ipaddr.js';
import type { CausalityResult, DbFacts, GlusterClientFacts, LbFacts } from '../../facts/health.js';

export const LAYER = { galera: 'galera', lb: 'load balancer', vip: 'vip', causality: 'causality', storage: 'storage' } as const;

/** Thresholds; a node above them is lagging (ProxySQL's max_transactions_behind idea). */
export const THRESHOLDS = {
  /** wsrep_local_recv_queue above this: the node applies slower than the cluster writes, now. */
  recvQueue: 10,
  /**
   * wsrep_flow_control_paused above this: replication was paused this share
   * of the time since the node started or the last FLUSH STATUS. A fraction
   * over all that time, not a reading of now, so it warns rather than fails:
   * one busy hour would otherwise fail every night after it.
   */
  flowControlPaused: 0.1,
  /** gcache should hold this many hours of writes, else a node away that long needs a full SST (research §2.1). */
  gcacheWindowHours: 4,
};

/** What a gatherer could not learn on a host (command failed, connection lost). */
export interface Unreachable {
  unreachable: string;
}
export function isUnreachable(x: unknown): x is Unreachable {
  return typeof x === 'object' && x !== null && 'unreachable' in x;
}

function row(layer: string, host: string, check: string, expected: string, observed: string, status: CheckStatus, hint?: string): CheckResult {
  const r: CheckResult = { layer, host, check, expected, observed, status };
  if (hint !== undefined && status !== 'ok') r.hint = hint;
  return r;
}

// ---------------------------------------------------------------------------
// Galera

export interface NamedNode {
  name: string;
  address: string;
}

/** The node may take traffic: what a correct clustercheck/HAProxy/ProxySQL should conclude. */
export function nodeHealthy(f: DbFacts | Unreachable | undefined): boolean {
  if (!f || isUnreachable(f) || !f.running || !f.status) return false;
  const s = f.status;
  return s.clusterStatus === 'Primary' && s.localState === 4 && s.ready && s.desync !== true;
}

function stateText(s: NodeStatus): string {
  return `${s.localState} ${s.localStateComment || LOCAL_STATE_NAMES[s.localState] || ''}`.trim();
}

export function galeraNodeChecks(name: string, f: DbFacts | Unreachable): CheckResult[] {
  const L = LAYER.galera;
  if (isUnreachable(f)) return [row(L, name, 'facts gathered', 'answered', f.unreachable, 'fail', `Check SSH to ${name}.`)];
  if (!f.running) {
    return [
      row(L, name, 'mariadb running', 'running', `stopped${f.unit ? ` (mariadb.service ${f.unit})` : ''}`, 'fail', `Start it (systemctl start mariadb) so it rejoins by IST/SST; if every node is down, run lms-ha recover.`),
    ];
  }
  if (!f.status) {
    return [
      row(L, name, 'mariadb running', 'running', 'running', 'ok'),
      row(L, name, 'wsrep status readable', 'wsrep status over the unix socket', f.sqlError ?? 'no wsrep status', 'fail', `mariadb runs but did not answer as root over its socket with Galera status: check the error log (journalctl -u mariadb) and that wsrep_on=ON.`),
    ];
  }
  const s = f.status;
  const out: CheckResult[] = [row(L, name, 'mariadb running', 'running', 'running', 'ok')];
  out.push(
    row(L, name, 'wsrep_cluster_status', 'Primary', s.clusterStatus, s.clusterStatus === 'Primary' ? 'ok' : 'fail', `${name} is not in the Primary component: it lost quorum or is cut off from its peers.`),
  );
  const desync = s.desync === true;
  out.push(
    row(
      L,
      name,
      'wsrep_local_state',
      '4 Synced',
      stateText(s),
      s.localState === 4 ? 'ok' : 'fail',
      s.localState === 2
        ? desync
          ? `Desynced on purpose (wsrep_desync=ON); when that work is done: SET GLOBAL wsrep_desync=OFF.`
          : `Donor of a state transfer: wait until it is Synced again.`
        : `Not Synced: see the error log of ${name}.`,
    ),
  );
  out.push(row(L, name, 'wsrep_ready', 'ON', s.ready ? 'ON' : 'OFF', s.ready ? 'ok' : 'fail', `${name} does not accept queries.`));
  out.push(row(L, name, 'wsrep_connected', 'ON', s.connected ? 'ON' : 'OFF', s.connected ? 'ok' : 'fail', `${name} has no group connection: check ports 4567/4568/4444 between the nodes.`));
  out.push(
    row(L, name, 'wsrep_desync', 'OFF', s.desync === null ? 'unknown' : desync ? 'ON' : 'OFF', desync ? 'fail' : 'ok', `SET GLOBAL wsrep_desync=OFF on ${name} once the backup (or other work) that set it is done; not while an SST runs.`),
  );
  out.push(
    row(
      L,
      name,
      'recv queue',
      `<= ${THRESHOLDS.recvQueue}`,
      // The average is since start or FLUSH STATUS: context, not the verdict.
      `${s.localRecvQueue} (avg ${s.localRecvQueueAvg} since start or FLUSH STATUS)`,
      s.localRecvQueue <= THRESHOLDS.recvQueue ? 'ok' : 'fail',
      `${name} applies write-sets slower than they arrive: check its disk and CPU, and wsrep_slave_threads.`,
    ),
  );
  out.push(
    row(
      L,
      name,
      'flow control paused',
      `<= ${THRESHOLDS.flowControlPaused}`,
      `${s.flowControlPaused.toFixed(3)} (share of the time since start or FLUSH STATUS)`,
      s.flowControlPaused <= THRESHOLDS.flowControlPaused ? 'ok' : 'warn',
      `Replication was paused ${(s.flowControlPaused * 100).toFixed(0)}% of the time since ${name} started or its status was last flushed: the slowest node held the whole cluster back. If that was a past load, FLUSH STATUS on ${name} starts the count again.`,
    ),
  );
  return out;
}

function groupBy(values: Array<{ node: string; value: string }>): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const v of values) m.set(v.value, [...(m.get(v.value) ?? []), v.node]);
  return m;
}

function describeGroups(groups: Map<string, string[]>): string {
  return [...groups].map(([value, nodes]) => `${value} (${nodes.join(', ')})`).join('; ');
}

export function galeraClusterChecks(nodes: readonly NamedNode[], db: ReadonlyMap<string, DbFacts | Unreachable>, configuredSyncWait?: number): CheckResult[] {
  const L = LAYER.galera;
  const H = '(cluster)';
  const n = nodes.length;
  const live = nodes
    .map((x) => ({ node: x.name, f: db.get(x.name) }))
    .filter((x): x is { node: string; f: DbFacts & { status: NodeStatus } } => !!x.f && !isUnreachable(x.f) && x.f.running && x.f.status !== null);
  const primary = live.filter((x) => x.f.status.clusterStatus === 'Primary');
  const out: CheckResult[] = [];

  const sizes = groupBy(primary.map((x) => ({ node: x.node, value: String(x.f.status.clusterSize) })));
  const sizeOk = primary.length > 0 && [...sizes.keys()].every((v) => v === String(n));
  out.push(
    row(L, H, 'cluster size', `${n} (db nodes in the inventory)`, primary.length === 0 ? 'no node in a Primary component' : describeGroups(sizes), sizeOk ? 'ok' : 'fail', `A member is missing from the cluster (or one not in the inventory joined): see the per-node checks.`),
  );
  if (primary.length > 0) {
    const uuids = groupBy(primary.map((x) => ({ node: x.node, value: x.f.status.clusterStateUuid || '(none)' })));
    out.push(
      row(L, H, 'same cluster state UUID', 'one UUID on every node', uuids.size === 1 ? [...uuids.keys()][0]! : describeGroups(uuids), uuids.size === 1 ? 'ok' : 'fail', 'Nodes with another UUID are in another cluster (a second bootstrap?): do not write to them; rejoin them by SST.'),
    );
    const confs = groupBy(primary.map((x) => ({ node: x.node, value: x.f.status.clusterConfId || '(none)' })));
    out.push(
      row(L, H, 'same conf_id', 'one membership view', confs.size === 1 ? [...confs.keys()][0]! : describeGroups(confs), confs.size === 1 ? 'ok' : 'fail', 'The nodes do not share one membership view (partition, or a view change in progress): re-run in a moment.'),
    );
  }

  // Warnings, from one node that answered (schema and settings are cluster-wide).
  const first = primary[0] ?? live[0];
  if (first) {
    out.push(gcacheWindowCheck(first.node, first.f));
    const noPk = first.f.noPk;
    if (noPk) {
      out.push(
        row(L, H, 'tables without a primary key', '0', noPk.count === 0 ? '0' : `${noPk.count}: ${noPk.sample.join(', ')}${noPk.count > noPk.sample.length ? ', ...' : ''}`, noPk.count === 0 ? 'ok' : 'warn', 'Galera replicates row by row: DELETE/UPDATE on a table without a primary key is slow on every node and can diverge. Add a primary key.'),
      );
    }
    if (configuredSyncWait !== undefined) {
      const have = live.map((x) => ({ node: x.node, value: x.f.status.raw['wsrep_sync_wait'] ?? '(unset)' }));
      const groups = groupBy(have);
      const ok = groups.size === 1 && groups.has(String(configuredSyncWait));
      out.push(
        row(L, H, 'wsrep_sync_wait', `${configuredSyncWait} (inventory database.sync_wait)`, describeGroups(groups), ok ? 'ok' : 'warn', 'Reads may not see the latest writes made through another node: run deploy-db to apply database.sync_wait.'),
      );
    }
  }
  return out;
}

/** Hours of writes gcache can hold at the average write rate since start. */
export function gcacheWindowCheck(node: string, f: DbFacts & { status: NodeStatus }): CheckResult {
  const L = LAYER.galera;
  const raw = f.status.raw;
  const options = parseProviderOptions(raw['wsrep_provider_options'] ?? '');
  const sizeText = options.get('gcache.size');
  const size = sizeText ? parseSize(sizeText.replace(/B$/i, '')) : null;
  const bytes = Number(raw['wsrep_replicated_bytes'] ?? 0) + Number(raw['wsrep_received_bytes'] ?? 0);
  const uptime = f.uptime ?? 0;
  const expected = `>= ${THRESHOLDS.gcacheWindowHours} h of writes`;
  if (size === null) return row(L, '(cluster)', 'gcache window', expected, 'gcache.size unknown', 'warn', 'Could not read gcache.size from wsrep_provider_options.');
  if (uptime <= 0 || bytes <= 0) return row(L, '(cluster)', 'gcache window', expected, `gcache ${sizeText}, no writes measured yet`, 'ok');
  const perHour = (bytes / uptime) * 3600;
  const hours = size / perHour;
  return row(
    L,
    '(cluster)',
    'gcache window',
    expected,
    `~${hours >= 100 ? Math.round(hours) : hours.toFixed(1)} h (gcache ${sizeText}, ${(perHour / 1024 ** 2).toFixed(1)} MiB/h on ${node} since start)`,
    hours >= THRESHOLDS.gcacheWindowHours ? 'ok' : 'warn',
    'A node away longer than this needs a full SST instead of IST: raise database.gcache_size.',
  );
}

// ---------------------------------------------------------------------------
// Load balancers and VIP

export interface LbInput {
  kind: 'haproxy' | 'proxysql';
  vip: string;
  writerPort: number;
  lbs: readonly NamedNode[];
  facts: ReadonlyMap<string, LbFacts | Unreachable>;
}

/** Which LBs hold the VIP. */
export function vipHolders(lb: LbInput): string[] {
  const vip = parseCidr(lb.vip)?.address;
  return lb.lbs.filter((h) => {
    const f = lb.facts.get(h.name);
    return f && !isUnreachable(f) && f.addresses.some((a) => a.address === vip);
  }).map((h) => h.name);
}

function serviceCheck(layer: string, host: string, service: string, active: boolean, state: string, hint: string): CheckResult {
  return row(layer, host, `${service} running`, 'active', state || 'unknown', active ? 'ok' : 'fail', hint);
}

function haproxyListenerCheck(lbName: string, listener: string, stats: HaproxyStats, nodes: readonly NamedNode[], db: ReadonlyMap<string, DbFacts | Unreachable>): CheckResult {
  const backend = stats.backends.find((b) => b.name === listener);
  const healthy = nodes.filter((x) => nodeHealthy(db.get(x.name))).map((x) => x.name);
  const expected = `UP: ${healthy.join(', ') || '(none)'}; others DOWN`;
  if (!backend) return row(LAYER.lb, lbName, `listener ${listener}`, expected, 'no such listener in haproxy', 'fail', 'Is this HAProxy configured for Galera (deploy-lb)?');
  const wrong: string[] = [];
  for (const node of nodes) {
    const server = backend.servers.find((s) => s.name === node.name || s.address?.startsWith(`${node.address}:`));
    if (!server) {
      wrong.push(`${node.name} missing`);
      continue;
    }
    const shouldBeUp = healthy.includes(node.name);
    // "UP 1/2" (going down) and "DOWN 1/3" (coming up): HAProxy has seen the change
    // and is counting fall/rise checks; a verdict now would only race it.
    const inTransition = /^(UP|DOWN) \d+\/\d+$/.test(server.rawStatus.trim());
    if (!inTransition && (shouldBeUp ? server.state !== 'UP' : server.state === 'UP')) wrong.push(`${node.name} ${server.rawStatus}`);
    else if (server.state === 'MAINT' || server.state === 'DRAIN') wrong.push(`${node.name} ${server.rawStatus} (by hand)`);
  }
  const observed = backend.servers.map((s) => `${s.name} ${s.rawStatus}${s.backup ? ' (backup)' : ''}`).join(', ');
  return row(
    LAYER.lb,
    lbName,
    `listener ${listener}`,
    expected,
    wrong.length === 0 ? observed : `${observed} — disagrees: ${wrong.join(', ')}`,
    wrong.length === 0 ? 'ok' : 'fail',
    'HAProxy disagrees with the node state: check the clustercheck on port 9200 of those nodes, and `show servers state` for servers put in MAINT by hand.',
  );
}

function proxysqlChecks(lbName: string, runtime: ProxysqlRuntime, nodes: readonly NamedNode[], db: ReadonlyMap<string, DbFacts | Unreachable>): { checks: CheckResult[]; writer: string | null } {
  const L = LAYER.lb;
  const nameOf = (hostname: string) => nodes.find((x) => x.address === hostname || x.name === hostname)?.name ?? hostname;
  const writers = runtime.servers.filter((s) => s.hostgroup_id === PROXYSQL_HOSTGROUPS.writer && s.status === 'ONLINE').map((s) => nameOf(s.hostname));
  const healthy = nodes.filter((x) => nodeHealthy(db.get(x.name))).map((x) => x.name);
  const checks: CheckResult[] = [];
  const writerOk = writers.length === 1 && healthy.includes(writers[0]!);
  checks.push(
    row(L, lbName, 'writer hostgroup', `exactly 1 ONLINE, a synced node`, writers.length === 0 ? 'none ONLINE' : writers.join(', '), writerOk ? 'ok' : 'fail', 'ProxySQL picks the writer from its Galera monitor: see monitor.mysql_server_galera_log on this LB.'),
  );
  const readerRows = runtime.servers.filter((s) => s.hostgroup_id === PROXYSQL_HOSTGROUPS.reader);
  const onlineReaders = readerRows.filter((s) => s.status === 'ONLINE').map((s) => nameOf(s.hostname));
  const missing = healthy.filter((x) => !onlineReaders.includes(x) && !writers.includes(x));
  const unhealthyOnline = [...onlineReaders, ...writers].filter((x) => !healthy.includes(x));
  const bad = runtime.servers
    .filter((s) => (s.hostgroup_id === PROXYSQL_HOSTGROUPS.writer || s.hostgroup_id === PROXYSQL_HOSTGROUPS.reader) && s.status !== 'ONLINE')
    .map((s) => `${nameOf(s.hostname)} ${s.status} in ${s.hostgroup_id}`);
  const readersOk = missing.length === 0 && unhealthyOnline.length === 0 && bad.length === 0;
  checks.push(
    row(
      L,
      lbName,
      'reader hostgroup',
      'every other synced node ONLINE, nothing SHUNNED',
      [`ONLINE: ${onlineReaders.join(', ') || '(none)'}`, ...(missing.length ? [`missing: ${missing.join(', ')}`] : []), ...(unhealthyOnline.length ? [`not synced but ONLINE: ${unhealthyOnline.join(', ')}`] : []), ...bad].join('; '),
      readersOk ? 'ok' : 'fail',
      'SHUNNED or missing readers: check the monitor user and monitor.mysql_server_galera_log.',
    ),
  );
  const hg = PROXYSQL_HOSTGROUPS;
  const galera = runtime.galeraHostgroups;
  const galeraRow = galera.find((g) => g.writer_hostgroup === hg.writer);
  const galeraOk =
    galera.length === 1 &&
    galeraRow !== undefined &&
    galeraRow.backup_writer_hostgroup === hg.backupWriter &&
    galeraRow.reader_hostgroup === hg.reader &&
    galeraRow.offline_hostgroup === hg.offline &&
    galeraRow.active === 1 &&
    galeraRow.max_writers === 1;
  checks.push(
    row(
      L,
      lbName,
      'galera hostgroups',
      `one active row: writer ${hg.writer}, backup ${hg.backupWriter}, reader ${hg.reader}, offline ${hg.offline}, max_writers 1`,
      galera.length === 0
        ? 'none (the Galera monitor places no server)'
        : galera.map((g) => `writer ${g.writer_hostgroup}, backup ${g.backup_writer_hostgroup}, reader ${g.reader_hostgroup}, offline ${g.offline_hostgroup}, active ${g.active}, max_writers ${g.max_writers}`).join('; '),
      galeraOk ? 'ok' : 'fail',
      'runtime_mysql_galera_hostgroups is not what deploy-lb writes: run deploy-lb.',
    ),
  );
  if (runtime.monitor) {
    const failing = nodes
      .map((n) => {
        const last = runtime.monitor!.find((m) => m.hostname === n.address || m.hostname === n.name);
        return last === undefined ? `${n.name}: never checked` : last.error !== null ? `${n.name}: ${last.error.slice(0, 120)}` : null;
      })
      .filter((x): x is string => x !== null);
    checks.push(
      row(
        L,
        lbName,
        'galera monitor',
        'the last check of every db node passed',
        failing.length === 0 ? `all ${nodes.length} passed` : failing.join('; '),
        failing.length === 0 ? 'ok' : 'fail',
        'The monitor cannot read a node: check the monitor account (deploy-lb creates it on the db nodes) and that this LB reaches port 3306; see monitor.mysql_server_galera_log.',
      ),
    );
  }
  return { checks, writer: writers.length === 1 ? writers[0]! : null };
}

/** Every ProxySQL holds the same configuration as the first readable one; names what differs. */
function proxysqlAgreementCheck(lb: LbInput): CheckResult | null {
  const runtimes = lb.lbs
    .map((h) => {
      const f = lb.facts.get(h.name);
      return f && !isUnreachable(f) && f.proxysql?.runtime ? { name: h.name, runtime: f.proxysql.runtime } : null;
    })
    .filter((x): x is { name: string; runtime: ProxysqlRuntime } => x !== null);
  if (runtimes.length < 2) return null;
  const [first, ...others] = runtimes;
  const differences = others
    .map((o) => ({ name: o.name, items: configurationDifferences(first!.runtime, o.runtime) }))
    .filter((d) => d.items.length > 0);
  return row(
    LAYER.lb,
    '(lbs)',
    'ProxySQL configuration identical on all LBs',
    'servers, Galera hostgroups, users, query rules and variables equal',
    differences.length === 0 ? `equal on ${runtimes.map((r) => r.name).join(', ')}` : differences.map((d) => `${d.name} differs from ${first!.name}: ${d.items.slice(0, 8).join(', ')}${d.items.length > 8 ? ` (+${d.items.length - 8})` : ''}`).join('; '),
    differences.length === 0 ? 'ok' : 'fail',
    'The load balancers would route differently after a VIP move: run deploy-lb, which writes the same configuration to each.',
  );
}

export function lbChecks(lb: LbInput, nodes: readonly NamedNode[], db: ReadonlyMap<string, DbFacts | Unreachable>, clustercheckPort = 9200): CheckResult[] {
  const out: CheckResult[] = [];
  const writers = new Map<string, string>();
  for (const h of lb.lbs) {
    const f = lb.facts.get(h.name);
    if (!f || isUnreachable(f)) {
      out.push(row(LAYER.lb, h.name, 'facts gathered', 'answered', f ? f.unreachable : 'no facts', 'fail', `Check SSH to ${h.name}.`));
      continue;
    }
    out.push(serviceCheck(LAYER.vip, h.name, 'keepalived', f.keepalived.active, f.keepalived.state, `Start keepalived on ${h.name} (systemctl start keepalived): without it this LB cannot take the VIP over.`));
    if (lb.kind === 'haproxy' && f.haproxy) {
      out.push(serviceCheck(LAYER.lb, h.name, 'haproxy', f.haproxy.active, f.haproxy.state, `Start haproxy on ${h.name}; see journalctl -u haproxy.`));
      if (!f.haproxy.stats) {
        if (f.haproxy.active) out.push(row(LAYER.lb, h.name, 'haproxy stats', 'readable (stats socket or page)', f.haproxy.statsError ?? 'unreadable', 'fail', 'Enable `stats socket /run/haproxy/admin.sock` in haproxy.cfg and install socat.'));
      } else {
        const stats = f.haproxy.stats;
        const writer = writerOf(stats, HAPROXY_WRITER_LISTENER);
        const backend = stats.backends.find((b) => b.name === HAPROXY_WRITER_LISTENER);
        const activeUp = backend?.servers.filter((s) => s.state === 'UP' && !s.backup) ?? [];
        const anyHealthy = nodes.some((x) => nodeHealthy(db.get(x.name)));
        const writerOk = backend !== undefined && activeUp.length <= 1 && (writer !== null || !anyHealthy);
        out.push(
          row(
            LAYER.lb,
            h.name,
            'single writer',
            'exactly one server takes writes',
            !backend ? `no ${HAPROXY_WRITER_LISTENER} listener` : writer ? `${writer.name}${writer.backup ? ' (backup: the first active server is down)' : ''}${activeUp.length > 1 ? `; ${activeUp.length} active servers UP` : ''}` : 'none UP',
            writerOk ? 'ok' : 'fail',
            'The writer listener must have exactly one active server and the others as backup (deploy-lb renders this).',
          ),
        );
        if (writer) writers.set(h.name, writer.name);
        if (backend) out.push(haproxyListenerCheck(h.name, HAPROXY_WRITER_LISTENER, stats, nodes, db));
        if (stats.backends.some((b) => b.name === HAPROXY_READER_LISTENER)) out.push(haproxyListenerCheck(h.name, HAPROXY_READER_LISTENER, stats, nodes, db));
      }
      for (const node of nodes) {
        const answer = f.clustercheck?.get(node.name);
        const healthy = nodeHealthy(db.get(node.name));
        const expected = healthy ? '200 (node synced)' : '503 (node not synced)';
        if (!answer || 'error' in answer) {
          out.push(row(LAYER.lb, h.name, `clustercheck ${node.name}`, expected, answer ? `no HTTP answer: ${answer.error}` : 'not asked', 'fail', `The health check on ${node.address}:${clustercheckPort} must answer this LB (deploy-lb installs it; check the firewall).`));
          continue;
        }
        const agrees = answer.healthy === healthy;
        out.push(row(LAYER.lb, h.name, `clustercheck ${node.name}`, expected, `${answer.status} ${answer.reason}`, agrees ? 'ok' : 'fail', `The health check on ${node.name} answers against the node's own wsrep state: check its script and the clustercheck account.`));
      }
    } else if (lb.kind === 'proxysql' && f.proxysql) {
      out.push(serviceCheck(LAYER.lb, h.name, 'proxysql', f.proxysql.active, f.proxysql.state, `Start proxysql on ${h.name}; see journalctl -u proxysql.`));
      if (!f.proxysql.runtime) {
        if (f.proxysql.active) out.push(row(LAYER.lb, h.name, 'proxysql admin', 'runtime_mysql_servers readable', f.proxysql.error ?? 'unreadable', 'fail', 'Check the admin password secret and admin-mysql_ifaces (127.0.0.1:6032).'));
      } else {
        const r = proxysqlChecks(h.name, f.proxysql.runtime, nodes, db);
        out.push(...r.checks);
        if (r.writer) writers.set(h.name, r.writer);
      }
    }
  }
  if (lb.kind === 'proxysql') {
    const agreement = proxysqlAgreementCheck(lb);
    if (agreement) out.push(agreement);
  }
  if (lb.lbs.length > 1) {
    const groups = groupBy([...writers].map(([node, value]) => ({ node, value })));
    if (writers.size > 1 || groups.size > 1) {
      out.push(
        row(LAYER.lb, '(lbs)', 'writer agreed by all LBs', 'one writer', describeGroups(groups) || 'none', groups.size === 1 ? 'ok' : 'fail', 'The load balancers send writes to different nodes: concurrent writes on two nodes raise certification conflicts (deadlocks). Make their server lists and order identical.'),
      );
    }
  }
  out.push(...vipChecks(lb));
  return out;
}

export function vipChecks(lb: LbInput): CheckResult[] {
  const holders = vipHolders(lb);
  const out: CheckResult[] = [
    row(
      LAYER.vip,
      '(lbs)',
      `VIP ${lb.vip} holder`,
      'exactly one LB',
      holders.length === 0 ? 'none' : holders.join(', '),
      holders.length === 1 ? 'ok' : 'fail',
      holders.length === 0
        ? 'No LB holds the VIP: check keepalived on both (journalctl -u keepalived) and its proxy probe.'
        : 'Two LBs hold the VIP (split brain): VRRP adverts do not pass between them (unicast_peer, firewall proto 112), or the address was added by hand. Remove it from the one that should not have it.',
    ),
  ];
  const check = `VIP answers on ${lb.writerPort}`;
  if (holders.length !== 1) {
    out.push(row(LAYER.vip, '(lbs)', check, 'MySQL greeting', `not tested: the VIP is held by ${holders.length} LBs (see the holder check)`, 'warn'));
    return out;
  }
  // From a host that does not hold the VIP when possible: that goes over the network.
  const results = lb.lbs
    .map((h) => ({ h: h.name, f: lb.facts.get(h.name) }))
    .filter((x): x is { h: string; f: LbFacts } => !!x.f && !isUnreachable(x.f))
    .sort((a, b) => Number(holders.includes(a.h)) - Number(holders.includes(b.h)));
  const best = results.find((r) => r.f.vipAnswer.ok) ?? results[0];
  out.push(
    row(
      LAYER.vip,
      '(lbs)',
      check,
      'MySQL greeting',
      best ? `${best.f.vipAnswer.detail} (from ${best.h})` : 'not tested',
      best?.f.vipAnswer.ok ? 'ok' : 'fail',
      `Nothing answers on ${lb.vip}:${lb.writerPort}: check the proxy on ${holders[0]} and that it listens on all addresses.`,
    ),
  );
  return out;
}

// ---------------------------------------------------------------------------
// Causality

export type CausalityOutcome =
  | { kind: 'skipped'; reason: string }
  | { kind: 'ran'; from: string; user: string; syncWait: number; token: string; result: CausalityResult | Unreachable };

export function causalityCheck(o: CausalityOutcome): CheckResult {
  const L = LAYER.causality;
  const check = 'write via writer, read via reader';
  const expected = 'the row just written';
  if (o.kind === 'skipped') return row(L, '(vip)', check, expected, `not tested: ${o.reason}`, 'warn', 'See the observed value.');
  const r = o.result;
  if (isUnreachable(r)) return row(L, o.from, check, expected, `probe did not run: ${r.unreachable}`, 'fail');
  const denied = (e: string | null) => e !== null && /\b(1142|1044|1143)\b/.test(e);
  if (!r.wrote) {
    return denied(r.writeError)
      ? row(L, o.from, check, expected, `not tested: ${o.user} may not write the probe table (${r.writeError})`, 'warn', `causality probe needs SELECT, INSERT, UPDATE, DELETE (REPLACE) on lms_ha.causality_probe for ${o.user} (deploy-db grants it).`)
      : row(L, o.from, check, expected, `write failed: ${r.writeError}`, 'fail', 'Writes through the VIP writer port fail: see the LB and galera checks.');
  }
  if (r.readValue === null) {
    return row(L, o.from, check, expected, `read failed: ${r.readError}`, denied(r.readError) ? 'warn' : 'fail', 'Reads through the VIP reader port fail: see the LB and galera checks.');
  }
  const ok = r.readValue === o.token;
  return row(L, o.from, check, expected, ok ? `read back with wsrep_sync_wait=${o.syncWait}` : `read "${r.readValue || '(no row)'}" instead (wsrep_sync_wait=${o.syncWait})`, ok ? 'ok' : 'fail', 'A read right after a write did not see it: set database.sync_wait to 1 (or more) and run deploy-db.');
}

// ---------------------------------------------------------------------------
// Storage

export interface GlusterPeerFacts {
  glusterd: { active: boolean; state: string };
  pool: PeerInfo[] | null;
  poolError: string | null;
}

export interface GlusterVolumeFacts {
  info: VolumeInfo | null;
  status: VolumeStatus | null;
  heal: BrickHealSummary[] | null;
  splitBrain: BrickSplitBrain[] | undefined;
  error: string | null;
}

export interface StorageInput {
  model: GlusterVolumeModel;
  members: readonly NamedNode[];
  peers: ReadonlyMap<string, GlusterPeerFacts | Unreachable>;
  observer: string | null;
  volume: GlusterVolumeFacts | null;
  mountPath: string;
  clients: ReadonlyMap<string, GlusterClientFacts | Unreachable>;
}

export function storageChecks(s: StorageInput): CheckResult[] {
  const L = LAYER.storage;
  const out: CheckResult[] = [];
  for (const m of s.members) {
    const p = s.peers.get(m.name);
    if (!p || isUnreachable(p)) {
      out.push(row(L, m.name, 'facts gathered', 'answered', p ? p.unreachable : 'no facts', 'fail'));
      continue;
    }
    out.push(serviceCheck(L, m.name, 'glusterd', p.glusterd.active, p.glusterd.state, `Start glusterd on ${m.name} (systemctl start glusterd).`));
  }
  const members = s.members.map((m) => ({ host: m.name, address: m.address }));
  const observerPeers = s.observer ? s.peers.get(s.observer) : undefined;
  if (!s.observer || !observerPeers || isUnreachable(observerPeers) || !observerPeers.pool) {
    out.push(row(L, '(storage)', `volume ${s.model.volume}`, 'readable from a storage host', 'no storage host with a running glusterd answered', 'fail', 'Start glusterd on the storage hosts.'));
  } else {
    const observer = members.find((m) => m.host === s.observer)!;
    out.push(...peerChecks(observer, members, observerPeers.pool));
    const v = s.volume;
    if (!v || v.error) {
      out.push(row(L, observer.host, `volume ${s.model.volume}`, 'exists, Started', `could not ask: ${v?.error ?? 'no answer'}`, 'fail', `gluster volume info ${s.model.volume}`));
    } else {
      out.push(...volumeChecks(observer.host, s.model, v.info));
      if (v.info && v.status) {
        const down = disconnectedMembers(members, observerPeers.pool);
        out.push(...brickChecks(observer.host, s.model, v.status, down));
        if (v.heal) out.push(...healChecks(observer.host, s.model, v.heal, bricksNotOnline(s.model, v.status), v.splitBrain));
      }
    }
  }
  for (const [host, c] of s.clients) {
    if (isUnreachable(c)) {
      out.push(row(L, host, 'facts gathered', 'answered', c.unreachable, 'fail'));
      continue;
    }
    out.push(...mountChecks(host, { volume: s.model.volume, mountPoint: s.mountPath }, c.mounts, c.probe));
  }
  return out;
}

/** S3 is not verified yet; shown so nobody mistakes silence for a pass. */
export function s3Check(bucket: string): CheckResult {
  return row(LAYER.storage, '(s3)', `s3 bucket ${bucket}`, 'reachable', 'not checked: verify-ha does not test S3 targets yet', 'warn', 'Check the bucket with the platform (e.g. rclone lsd) until verify-ha does.');
}

// ---------------------------------------------------------------------------
// Report
