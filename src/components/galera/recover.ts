/**
 * Full-outage recovery decision (research ha-db-anchors.md §2.6 A): with every
 * node stopped, read grastate.dat, use `--wsrep-recover` where seqno is -1,
 * discard the null UUID and -1, require one common UUID, bootstrap the highest
 * seqno, join the rest one at a time. Anything else is refused with the table
 * of what was seen. Wrong-node bootstraps are the #1 cause of data loss users
 * report (mariadb-operator#1701, puppet-galera#116), so every doubt refuses.
 */
import { DeployError } from '../../errors.js';
import { formatTable } from './table.js';

export const NULL_UUID = '00000000-0000-0000-0000-000000000000';
export const GRASTATE_PATH = '/var/lib/mysql/grastate.dat';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Grastate {
  version: string;
  uuid: string;
  seqno: number;
  safeToBootstrap: boolean;
}

/** Parses grastate.dat. Returns null when a field is missing or malformed (a torn write). */
export function parseGrastate(text: string): Grastate | null {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    const colon = l.indexOf(':');
    if (colon < 0) continue;
    fields.set(l.slice(0, colon).trim(), l.slice(colon + 1).trim());
  }
  const version = fields.get('version');
  const uuid = fields.get('uuid');
  const seqno = fields.get('seqno');
  // Galera < 3.19 wrote no safe_to_bootstrap line: treat as 0, the safe reading.
  const stb = fields.get('safe_to_bootstrap') ?? '0';
  if (version === undefined || uuid === undefined || seqno === undefined) return null;
  if (!UUID_RE.test(uuid) || !/^-?\d+$/.test(seqno) || !/^[01]$/.test(stb)) return null;
  return { version, uuid: uuid.toLowerCase(), seqno: Number(seqno), safeToBootstrap: stb === '1' };
}

/**
 * grastate.dat with safe_to_bootstrap set to 0 or 1, everything else unchanged;
 * the line is appended if the file has none. Used to set it only on the chosen
 * node (Kolla lineinfile, PXCO sed) and clear it afterwards.
 */
export function setSafeToBootstrap(text: string, value: boolean): string {
  const v = value ? '1' : '0';
  if (/^safe_to_bootstrap:.*$/m.test(text)) return text.replace(/^safe_to_bootstrap:.*$/m, `safe_to_bootstrap: ${v}`);
  const sep = text.endsWith('\n') || text === '' ? '' : '\n';
  return `${text}${sep}safe_to_bootstrap: ${v}\n`;
}

export interface RecoveredPosition {
  uuid: string;
  seqno: number;
  /** MariaDB GTID (domain-server-seqno) printed after the comma when wsrep_gtid_mode=ON. */
  gtid: string | null;
}

// MariaDB prints `WSREP: Recovered position: <uuid>:<seqno>` and, with
// wsrep_gtid_mode=ON, `<uuid>:<seqno>,<domain>-<server>-<seqno>` (sql/wsrep_mysqld.cc
// wsrep_recover()). mariadb-operator also tests the GTID-first order
// `<uuid>:<gtid>,<seqno>`. PXC 8 logs `[WSREP] Recovered position:`.
const RECOVERED_RE = /Recovered position:\s*([0-9a-fA-F-]{36}):(\S+)/;

/**
 * The last `Recovered position` in the output of `mysqld --wsrep-recover`
 * (the log may hold several runs; the last is the current one). Null when no
 * such line or it does not parse.
 */
export function parseRecoveredPosition(output: string): RecoveredPosition | null {
  let found: RecoveredPosition | null = null;
  for (const line of output.split('\n')) {
    const m = RECOVERED_RE.exec(line);
    if (!m) continue;
    const uuid = m[1]!.toLowerCase();
    if (!UUID_RE.test(uuid)) continue;
    const parts = m[2]!.split(',').map((p) => p.trim()).filter((p) => p !== '');
    const seqPart = parts.find((p) => /^-?\d+$/.test(p));
    if (seqPart === undefined) continue;
    const gtid = parts.find((p) => /^\d+-\d+-\d+$/.test(p)) ?? null;
    found = { uuid, seqno: Number(seqPart), gtid };
  }
  return found;
}

export interface RecoveryNodeFacts {
  name: string;
  reachable: boolean;
  /** Is mysqld/mariadbd running on it? (meaningless when unreachable) */
  running: boolean;
  /** Text of grastate.dat, null when the file is absent. */
  grastate: string | null;
  /** Output of `mysqld --wsrep-recover` (log lines), null when it was not run. */
  recovered: string | null;
  /** Why it is unreachable, for the table. */
  detail?: string;
}

export interface RecoveryRow {
  node: string;
  uuid: string | null;
  seqno: number | null;
  source: 'grastate' | 'wsrep-recover' | '-';
  safeToBootstrap: boolean | null;
  note: string;
}

export interface RecoveryPlan {
  kind: 'bootstrap';
  bootstrap: string;
  /** The others, one at a time, in this order (most advanced first, then name). */
  joinOrder: string[];
  /** Unreachable nodes left out (only possible with an override). */
  skipped: string[];
  overridden: boolean;
  uuid: string;
  seqno: number;
  rows: RecoveryRow[];
  table: string;
  /** The §2.6 A steps still to do, in words for the plan. */
  steps: string[];
}

export interface RecoveryRefusal {
  kind: 'refuse';
  error: DeployError;
  rows: RecoveryRow[];
  table: string;
  /** Nodes on which `--wsrep-recover` must run before deciding (seqno -1 in grastate). */
  needsWsrepRecover: string[];
}

export type RecoveryDecision = RecoveryPlan | RecoveryRefusal;

export interface RecoveryOptions {
  /** Operator override: bootstrap this node. Logged as such in the table. */
  override?: string;
  recoverCommand?: string;
}

/**
 * Nodes whose position must come from `--wsrep-recover`: no usable grastate,
 * or seqno -1 there (unclean stop). Run it on these (and only these: PXCO skips
 * it when grastate has a seqno) before calling `decideRecovery`.
 */
export function nodesNeedingWsrepRecover(nodes: RecoveryNodeFacts[]): string[] {
  return nodes
    .filter((n) => n.reachable && !n.running)
    .filter((n) => {
      const g = n.grastate === null ? null : parseGrastate(n.grastate);
      return g === null || g.seqno === -1;
    })
    .map((n) => n.name);
}

interface Position {
  uuid: string | null;
  seqno: number | null;
  source: RecoveryRow['source'];
  safe: boolean | null;
  /** Why this node cannot be a bootstrap candidate; null = candidate. */
  excluded: string | null;
  /** Facts missing or contradictory: recovery cannot decide. */
  blocking: string | null;
  note: string[];
}

function positionOf(n: RecoveryNodeFacts): Position {
  const g = n.grastate === null ? null : parseGrastate(n.grastate);
  const p: Position = { uuid: null, seqno: null, source: '-', safe: g?.safeToBootstrap ?? null, excluded: null, blocking: null, note: [] };
  if (n.grastate !== null && g === null) p.note.push('grastate.dat unreadable');
  if (n.grastate === null) p.note.push('no grastate.dat');

  if (g !== null && g.seqno !== -1) {
    p.uuid = g.uuid;
    p.seqno = g.seqno;
    p.source = 'grastate';
  } else if (n.recovered !== null) {
    const r = parseRecoveredPosition(n.recovered);
    if (r === null) {
      p.blocking = 'no "Recovered position" line in the --wsrep-recover output';
      return p;
    }
    if (g !== null && g.uuid !== NULL_UUID && g.uuid !== r.uuid) {
      p.blocking = `grastate.dat says ${g.uuid} but --wsrep-recover says ${r.uuid}`;
      return p;
    }
    p.uuid = r.uuid;
    p.seqno = r.seqno;
    p.source = 'wsrep-recover';
    if (r.gtid) p.note.push(`gtid ${r.gtid}`);
  } else {
    p.uuid = g?.uuid ?? null;
    p.seqno = g?.seqno ?? null;
    p.source = g ? 'grastate' : '-';
    p.blocking = 'seqno -1 (unclean stop): run --wsrep-recover on it first';
    return p;
  }
  // §2.6 A step 4 (mariadb-operator PR #1816): such a node has no state to offer.
  if (p.uuid === NULL_UUID) p.excluded = 'null cluster UUID (no state): will join by SST';
  else if (p.seqno === -1) p.excluded = 'seqno -1 even after --wsrep-recover: will join by SST';
  return p;
}

function rowsTable(rows: RecoveryRow[]): string {
  return formatTable(
    ['node', 'uuid', 'seqno', 'source', 'safe_to_bootstrap', 'note'],
    rows.map((r) => [
      r.node,
      r.uuid ?? '-',
      r.seqno === null ? '-' : String(r.seqno),
      r.source,
      r.safeToBootstrap === null ? '-' : r.safeToBootstrap ? '1' : '0',
      r.note,
    ]),
  );
}

/**
 * Decides which node to bootstrap after a full outage, or refuses. Pure: the
 * caller gathered `nodes` (stopping nothing) and, for `nodesNeedingWsrepRecover`,
 * ran `mysqld --wsrep-recover`.
 */
export function decideRecovery(nodes: RecoveryNodeFacts[], options: RecoveryOptions = {}): RecoveryDecision {
  const recover = options.recoverCommand ?? 'lms-ha recover';
  const override = options.override;
  const byName = [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const pos = new Map<string, Position>();
  for (const n of byName) if (n.reachable && !n.running) pos.set(n.name, positionOf(n));

  const running = byName.filter((n) => n.reachable && n.running).map((n) => n.name);
  const unreachable = byName.filter((n) => !n.reachable).map((n) => n.name);
  const candidates = byName.filter((n) => {
    const p = pos.get(n.name);
    return p !== undefined && p.excluded === null && p.blocking === null && p.uuid !== null && p.seqno !== null;
  });
  const uuids = [...new Set(candidates.map((n) => pos.get(n.name)!.uuid!))];

  const baseRows = (chosen: string | null, chosenNote: string): RecoveryRow[] =>
    byName.map((n) => {
      if (!n.reachable) {
        return { node: n.name, uuid: null, seqno: null, source: '-', safeToBootstrap: null, note: `unreachable${n.detail ? `: ${n.detail}` : ''}` };
      }
      if (n.running) {
        return { node: n.name, uuid: null, seqno: null, source: '-', safeToBootstrap: null, note: 'mysqld is RUNNING' };
      }
      const p = pos.get(n.name)!;
      const notes = [...p.note];
      if (p.blocking) notes.push(p.blocking);
      if (p.excluded) notes.push(p.excluded);
      if (n.name === chosen) notes.unshift(chosenNote);
      return { node: n.name, uuid: p.uuid, seqno: p.seqno, source: p.source, safeToBootstrap: p.safe, note: notes.join('; ') };
    });

  const refuse = (message: string, hint: string, host?: string): RecoveryRefusal => {
    const rows = baseRows(null, '');
    const table = rowsTable(rows);
    return {
      kind: 'refuse',
      rows,
      table,
      needsWsrepRecover: nodesNeedingWsrepRecover(nodes.filter((n) => n.recovered === null)),
      error: new DeployError('unsafe-bootstrap', `refusing to bootstrap: ${message}\n${table}`, {
        hint,
        ...(host !== undefined ? { host } : {}),
      }),
    };
  };

  if (override !== undefined && !nodes.some((n) => n.name === override)) {
    return refuse(`the override names "${override}", which is not a database node`, `Name one of: ${byName.map((n) => n.name).join(', ')}.`);
  }
  // A running node is the cluster (or a piece of it): never bootstrap beside it. No override for this.
  if (running.length > 0) {
    return refuse(
      `mysqld is running on ${running.join(', ')}`,
      `A running node is the cluster: do not bootstrap another. If it is Primary, start mysqld on the other nodes so they join it; if it is non-Primary, stop it first and re-run \`${recover}\`.`,
      running[0],
    );
  }
  if (unreachable.length > 0 && override === undefined) {
    return refuse(
      `${unreachable.join(', ')} cannot be reached, so its position (and whether it runs) is unknown`,
      `Restore SSH access and re-run, or, if the host is lost for good and verified not to run mysqld, name the node to bootstrap: \`${recover}\` with the bootstrap override.`,
      unreachable[0],
    );
  }
  const blocked = byName.filter((n) => pos.get(n.name)?.blocking);
  if (blocked.length > 0 && override === undefined) {
    const first = blocked[0]!;
    return refuse(
      blocked.map((n) => `${n.name}: ${pos.get(n.name)!.blocking}`).join('; '),
      `Every node's position must be known before choosing. Check the error log of ${first.name}; once its position is known re-run \`${recover}\`.`,
      first.name,
    );
  }

  let chosen: RecoveryNodeFacts;
  let chosenNote: string;
  if (override !== undefined) {
    const target = nodes.find((n) => n.name === override)!;
    const p = pos.get(override);
    if (!target.reachable || p === undefined) {
      return refuse(`the override names ${override}, which cannot be reached`, 'Bootstrap a node that can be reached.', override);
    }
    if (p.blocking || p.excluded || p.uuid === null || p.seqno === null) {
      return refuse(
        `the override names ${override}, whose state cannot be bootstrapped (${p.blocking ?? p.excluded ?? 'unknown position'})`,
        'Bootstrapping a node without a recovered position starts an empty cluster (mariadb-operator#1701). Name a node with a known position.',
        override,
      );
    }
    chosen = target;
    const ahead = candidates.filter((c) => c.name !== override && pos.get(c.name)!.seqno! > p.seqno!);
    const otherUuid = candidates.filter((c) => pos.get(c.name)!.uuid !== p.uuid);
    const warn = [
      ...ahead.map((c) => `${c.name} is ahead (seqno ${pos.get(c.name)!.seqno})`),
      ...otherUuid.map((c) => `${c.name} has another UUID`),
    ];
    chosenNote = `BOOTSTRAP: chosen by override${warn.length ? ` (${warn.join(', ')}: their extra transactions are discarded by SST)` : ''}`;
  } else {
    if (candidates.length === 0) {
      return refuse(
        'no node has a usable position (all null UUID or seqno -1)',
        'No node holds recoverable state. If the data is gone, restore from backup; a new empty cluster is a deploy, not a recovery.',
      );
    }
    if (uuids.length > 1) {
      return refuse(
        `the nodes do not share one cluster UUID (${uuids.join(', ')})`,
        `Nodes from different clusters (or a second bootstrap) cannot be merged. Decide which history is right and name its node with the bootstrap override; the others will be overwritten by SST.`,
      );
    }
    // Highest seqno; ties: safe_to_bootstrap=1, then name. A stale node with
    // safe_to_bootstrap=1 and a lower seqno loses on seqno first.
    const ranked = [...candidates].sort((a, b) => {
      const pa = pos.get(a.name)!;
      const pb = pos.get(b.name)!;
      if (pa.seqno !== pb.seqno) return pb.seqno! - pa.seqno!;
      if (pa.safe !== pb.safe) return pa.safe ? -1 : 1;
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    chosen = ranked[0]!;
    const top = pos.get(chosen.name)!;
    const tied = ranked.filter((c) => pos.get(c.name)!.seqno === top.seqno).length > 1;
    chosenNote = `BOOTSTRAP: highest seqno${tied ? ' (tie broken by safe_to_bootstrap, then name)' : ''}`;
  }

  const cp = pos.get(chosen.name)!;
  const others = byName.filter((n) => n.name !== chosen.name && n.reachable);
  const joinOrder = others
    .sort((a, b) => {
      const sa = pos.get(a.name)?.seqno ?? -1;
      const sb = pos.get(b.name)?.seqno ?? -1;
      if (sa !== sb) return sb - sa;
      return a.name < b.name ? -1 : 1;
    })
    .map((n) => n.name);
  const rows = baseRows(chosen.name, chosenNote);
  for (const r of rows) {
    if (unreachable.includes(r.node)) r.note += '; skipped: it must never be bootstrapped, only joined once it is back';
  }
  const table = rowsTable(rows);
  return {
    kind: 'bootstrap',
    bootstrap: chosen.name,
    joinOrder,
    skipped: unreachable,
    overridden: override !== undefined,
    uuid: cp.uuid!,
    seqno: cp.seqno!,
    rows,
    table,
    steps: [
      `set safe_to_bootstrap: 1 in ${GRASTATE_PATH} on ${chosen.name} only`,
      `start ${chosen.name} as a new cluster (galera_new_cluster) and wait until it is Primary and Synced`,
      ...joinOrder.map((j) => `start ${j} (joins by IST/SST) and wait until it is Synced and the cluster size grows`),
      `make sure the bootstrap flag is gone (no _WSREP_NEW_CLUSTER in \`systemctl show-environment\`; galera_new_cluster unsets it) so a later restart of ${chosen.name} joins instead of bootstrapping`,
    ],
  };
}
