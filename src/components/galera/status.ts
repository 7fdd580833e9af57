/**
 * Node status from `SHOW GLOBAL STATUS LIKE 'wsrep_%'`, and the gate every
 * change to an existing cluster must pass (as Kolla's lookup_cluster and
 * openstack-ansible's cluster-state check do): every node reachable, Primary,
 * Synced, same state UUID and conf_id, size N. Otherwise the table of what was
 * seen and, per failing node, what to run.
 */
import { formatTable, parseBatchRows } from './table.js';

/** The statement whose `mysql -N -B` output `parseWsrepStatus` reads. */
export const WSREP_STATUS_SQL =
  "SET SESSION wsrep_sync_wait = 0; SHOW GLOBAL STATUS LIKE 'wsrep_%'; SHOW GLOBAL VARIABLES LIKE 'wsrep_desync'";

export const LOCAL_STATE_NAMES: Record<number, string> = {
  0: 'Initialized',
  1: 'Joining',
  2: 'Donor/Desynced',
  3: 'Joined',
  4: 'Synced',
};

export interface NodeStatus {
  /** Primary | non-Primary | Disconnected */
  clusterStatus: string;
  localState: number;
  localStateComment: string;
  ready: boolean;
  connected: boolean;
  clusterSize: number;
  clusterStateUuid: string;
  /** Kept as text: a non-Primary node reports 18446744073709551615, beyond a JS number. */
  clusterConfId: string;
  /** The wsrep_desync variable when it was queried (operator desync, e.g. for a backup). */
  desync: boolean | null;
  /** wsrep_desync_count status: >0 while anything (operator, SST donor) holds a desync. */
  desyncCount: number;
  /** wsrep_local_recv_queue: write-sets waiting to be applied right now. */
  localRecvQueue: number;
  /** Averages and fractions below count since the node started or the last FLUSH STATUS. */
  localRecvQueueAvg: number;
  flowControlPaused: number;
  lastCommitted: number;
  /** Status names expected but absent (wsrep off, provider not loaded). */
  missing: string[];
  raw: Record<string, string>;
}

const REQUIRED = [
  'wsrep_cluster_status',
  'wsrep_local_state',
  'wsrep_local_state_comment',
  'wsrep_ready',
  'wsrep_connected',
  'wsrep_cluster_size',
  'wsrep_cluster_state_uuid',
  'wsrep_cluster_conf_id',
];

function num(v: string | undefined, fallback = 0): number {
  if (v === undefined || v.trim() === '') return fallback;
  const n = Number(v);
  return Number.isFinite(n) ? n : fallback;
}

function onOff(v: string | undefined): boolean {
  return v !== undefined && /^(ON|1|YES|TRUE)$/i.test(v.trim());
}

/** Parses name<TAB>value lines (status and variables may be concatenated). Names are case-insensitive. */
export function parseWsrepStatus(text: string): NodeStatus {
  const raw: Record<string, string> = {};
  for (const row of parseBatchRows(text)) {
    if (row.length < 2) continue;
    raw[row[0]!.trim().toLowerCase()] = row.slice(1).join('\t').trim();
  }
  const state = num(raw['wsrep_local_state'], 0);
  return {
    clusterStatus: raw['wsrep_cluster_status'] ?? 'Disconnected',
    localState: state,
    localStateComment: raw['wsrep_local_state_comment'] ?? LOCAL_STATE_NAMES[state] ?? String(state),
    ready: onOff(raw['wsrep_ready']),
    connected: onOff(raw['wsrep_connected']),
    clusterSize: num(raw['wsrep_cluster_size'], 0),
    clusterStateUuid: raw['wsrep_cluster_state_uuid'] ?? '',
    clusterConfId: raw['wsrep_cluster_conf_id'] ?? '',
    desync: raw['wsrep_desync'] === undefined ? null : onOff(raw['wsrep_desync']),
    desyncCount: num(raw['wsrep_desync_count'], 0),
    localRecvQueue: num(raw['wsrep_local_recv_queue'], 0),
    localRecvQueueAvg: num(raw['wsrep_local_recv_queue_avg'], 0),
    flowControlPaused: num(raw['wsrep_flow_control_paused'], 0),
    lastCommitted: num(raw['wsrep_last_committed'], -1),
    missing: REQUIRED.filter((k) => raw[k] === undefined),
    raw,
  };
}

/** What the fact gatherer reports for a node it could not query. */
export type NodeObservation = NodeStatus | { unreachable: string } | { stopped: string };

export interface GateRow {
  node: string;
  reachable: boolean;
  status: string;
  state: string;
  size: number | null;
  uuid: string | null;
  confId: string | null;
  /** `ok` or the reason this node fails the gate. */
  verdict: string;
}

export interface GateResult {
  ok: boolean;
  rows: GateRow[];
  /** One line per failing node (or cluster-wide condition): what is wrong and what to run. */
  problems: string[];
  /** The rendered table, for the error and the summary. */
  table: string;
}

export interface GateOptions {
  /** How the operator runs a full-outage recovery, quoted in messages. */
  recoverCommand?: string;
  /**
   * wsrep_cluster_size every member must report, when the cluster holds more
   * than the expected nodes (members listed for removal have not left yet).
   */
  expectedSize?: number;
}

function isStatus(o: NodeObservation | undefined): o is NodeStatus {
  return o !== undefined && 'clusterStatus' in o;
}

/** The value most nodes agree on; ties go to the node first in inventory order. */
function majority(values: Array<string | null>): string | null {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | null = null;
  let bestCount = 0;
  for (const v of values) {
    if (!v) continue;
    const c = counts.get(v)!;
    if (c > bestCount) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

function stateLabel(s: NodeStatus): string {
  return `${s.localState} ${s.localStateComment}`;
}

/** Why a single node is not fit (cluster-wide agreement is checked separately). */
function nodeProblem(name: string, s: NodeStatus, expectedSize: number): { verdict: string; hint: string } | null {
  if (s.missing.includes('wsrep_cluster_status')) {
    return {
      verdict: 'wsrep not active',
      hint: `${name}: mysqld runs but reports no Galera status (wsrep off or provider not loaded): check /etc/mysql/mariadb.conf.d/60-galera.cnf and the error log`,
    };
  }
  if (s.clusterStatus !== 'Primary') {
    return {
      verdict: `${s.clusterStatus}`,
      hint: `${name}: not in the Primary component (${s.clusterStatus}): it has lost quorum or is cut off from its peers`,
    };
  }
  if (s.localState !== 4) {
    if (s.localState === 2) {
      return s.desync === true
        ? {
            verdict: 'desynced by operator',
            hint: `${name}: desynced by an operator (wsrep_desync=ON, e.g. a backup). When that work is done run on ${name}: SET GLOBAL wsrep_desync=OFF; do not clear it while an SST is running, it would abort the transfer`,
          }
        : {
            verdict: 'donor (state transfer)',
            hint: `${name}: is a donor for a state transfer (Donor/Desynced): wait until it is Synced again, then re-run`,
          };
    }
    if (s.localState === 1 || s.localState === 3) {
      return {
        verdict: `joining (${s.localStateComment})`,
        hint: `${name}: is still joining (${stateLabel(s)}): wait until it is Synced, then re-run`,
      };
    }
    return {
      verdict: `not synced (${stateLabel(s)})`,
      hint: `${name}: is ${stateLabel(s)}, not Synced: check its error log`,
    };
  }
  if (!s.ready) return { verdict: 'wsrep_ready=OFF', hint: `${name}: wsrep_ready is OFF: it does not accept queries` };
  if (!s.connected) return { verdict: 'wsrep_connected=OFF', hint: `${name}: wsrep_connected is OFF: no group connection` };
  if (s.clusterSize !== expectedSize) {
    return {
      verdict: `size ${s.clusterSize}, expected ${expectedSize}`,
      hint: `${name}: sees ${s.clusterSize} node(s), expected ${expectedSize}: a member is missing from the component, or one not in the inventory has joined`,
    };
  }
  return null;
}

/**
 * The gate. `expectedNodes` are the names that should already be members (a
 * node being added is not among them). A node absent from `statuses` counts as
 * unreachable: no facts, no decision.
 */
export function evaluateGate(
  expectedNodes: string[],
  statuses: Map<string, NodeObservation>,
  options: GateOptions = {},
): GateResult {
  const recover = options.recoverCommand ?? 'lms-ha recover';
  const n = expectedNodes.length;
  const size = options.expectedSize ?? n;
  const rows: GateRow[] = [];
  const problems: string[] = [];

  const live = expectedNodes.filter((name) => isStatus(statuses.get(name)));
  const primaries = live.filter((name) => (statuses.get(name) as NodeStatus).clusterStatus === 'Primary');
  // Agreement is judged among Primary nodes: a non-Primary node's UUID/conf_id are stale by definition.
  const refUuid = majority(primaries.map((x) => (statuses.get(x) as NodeStatus).clusterStateUuid));
  const refConf = majority(primaries.map((x) => (statuses.get(x) as NodeStatus).clusterConfId));

  let stoppedCount = 0;
  let unreachableCount = 0;
  for (const name of expectedNodes) {
    const o = statuses.get(name);
    if (!isStatus(o)) {
      const unreachable = o === undefined || 'unreachable' in o;
      const reason = o === undefined ? 'no facts gathered' : 'unreachable' in o ? o.unreachable : o.stopped;
      if (unreachable) unreachableCount++;
      else stoppedCount++;
      rows.push({
        node: name,
        reachable: !unreachable,
        status: unreachable ? 'unreachable' : 'stopped',
        state: '-',
        size: null,
        uuid: null,
        confId: null,
        verdict: unreachable ? `unreachable: ${reason}` : `mysqld not running: ${reason}`,
      });
      continue;
    }
    const base = {
      node: name,
      reachable: true,
      status: o.clusterStatus,
      state: stateLabel(o),
      size: o.clusterSize,
      uuid: o.clusterStateUuid || null,
      confId: o.clusterConfId || null,
    };
    const p = nodeProblem(name, o, size);
    if (p) {
      rows.push({ ...base, verdict: p.verdict });
      problems.push(p.hint);
      continue;
    }
    if (refUuid && o.clusterStateUuid !== refUuid) {
      rows.push({ ...base, verdict: 'different cluster UUID' });
      problems.push(
        `${name}: cluster state UUID ${o.clusterStateUuid} differs from ${refUuid} seen by the others: it is in another cluster (a second bootstrap?). Do not write to it; stop it, and rejoin it by SST`,
      );
      continue;
    }
    if (refConf && o.clusterConfId !== refConf) {
      rows.push({ ...base, verdict: `conf_id ${o.clusterConfId} != ${refConf}` });
      problems.push(
        `${name}: wsrep_cluster_conf_id ${o.clusterConfId} differs from ${refConf}: the nodes do not share one membership view (partition or a view change in progress): re-run in a moment`,
      );
      continue;
    }
    rows.push({ ...base, verdict: 'ok' });
  }

  // Cluster-wide conditions get their own, more useful, instruction.
  const down = stoppedCount + unreachableCount;
  if (down === n && n > 0) {
    problems.unshift(
      unreachableCount === 0
        ? `every node is stopped: this is a full outage. Run \`${recover}\`: it finds the most advanced node, bootstraps it and rejoins the others`
        : `no node is running and ${unreachableCount} cannot be reached: fix SSH to them, then run \`${recover}\` (or name the node to bootstrap with its override if a host is lost for good)`,
    );
  } else if (live.length > 0 && primaries.length === 0) {
    problems.unshift(
      `no reachable node is in a Primary component: the cluster has lost quorum. If the partition heals it re-forms by itself; if the missing nodes are dead, stop mysqld on every node and run \`${recover}\``,
    );
  }
  for (const row of rows) {
    if (row.status === 'stopped' && down < n) {
      problems.push(`${row.node}: mysqld is not running (${row.verdict.replace(/^mysqld not running: /, '')}): start it (systemctl start mariadb) so it rejoins, wait for Synced, then re-run`);
    } else if (row.status === 'unreachable' && down < n) {
      problems.push(`${row.node}: cannot be reached (${row.verdict.replace(/^unreachable: /, '')}): fix SSH access, then re-run`);
    }
  }

  const table = formatTable(
    ['node', 'reachable', 'status', 'state', 'size', 'uuid', 'conf_id', 'verdict'],
    rows.map((r) => [
      r.node,
      r.reachable ? 'yes' : 'no',
      r.status,
      r.state,
      r.size === null ? '-' : String(r.size),
      r.uuid ?? '-',
      r.confId ?? '-',
      r.verdict,
    ]),
  );
  return { ok: problems.length === 0 && rows.every((r) => r.verdict === 'ok'), rows, problems, table };
}

/** Why a rolling step must keep waiting (null = go on), for progress lines. */
export function rollingWaitReason(status: NodeStatus, expectedSize: number): string | null {
  if (status.clusterStatus !== 'Primary') return `cluster status ${status.clusterStatus}`;
  if (status.localState !== 4) return `state ${stateLabel(status)}`;
  if (!status.ready) return 'wsrep_ready=OFF';
  if (!status.connected) return 'wsrep_connected=OFF';
  if (status.clusterSize !== expectedSize) return `cluster size ${status.clusterSize} of ${expectedSize}`;
  return null;
}

/**
 * Rolling order: inventory order, the writer last (MDBO ReplicasFirstPrimaryLast,
 * PXCO SmartUpdate), so the node taking writes moves once, at the end.
 */
export function rollingRestartOrder(nodes: string[], writer?: string): string[] {
  if (writer === undefined || !nodes.includes(writer)) return [...nodes];
  return [...nodes.filter((x) => x !== writer), writer];
}
