/**
 * Pure: who is in the cluster as its running members see it, compared with the
 * inventory, and what taking retired nodes out of it takes.
 *
 * A node that is no longer a db host is never dropped silently: either it is
 * listed for removal (database.remove_nodes, the host kept under hosts: so it
 * can be reached) and the plan says how it leaves, or deploy-db refuses to
 * apply while it is still a member.
 */
import { parseBatchRows } from './table.js';

/**
 * Names and incoming addresses of the members (MariaDB 10.4+, Galera 4). Read
 * with wsrep_sync_wait off: it must answer even while a causality wait would block.
 */
export const CLUSTER_MEMBERS_SQL =
  'SET SESSION wsrep_sync_wait = 0; SELECT node_name, node_incoming_address FROM mysql.wsrep_cluster_members';

/** What the running members say the cluster is made of. */
export interface ClusterView {
  size: number;
  /** wsrep_node_name of each member (empty when the table could not be read). */
  names: string[];
  /** Host part of each entry of wsrep_incoming_addresses. */
  addresses: string[];
}

export interface KnownNode {
  name: string;
  address: string;
}

/** The host of `10.0.0.1:3306` or `[fd00::1]:3306`; null for AUTO or an empty entry. */
function hostOf(entry: string): string | null {
  const text = entry.trim();
  if (text === '' || text.toUpperCase() === 'AUTO') return null;
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (v6) return v6[1]!;
  const colons = text.split(':').length - 1;
  if (colons === 1) return text.slice(0, text.indexOf(':'));
  return text;
}

/** `wsrep_incoming_addresses` ("10.0.0.1:3306,10.0.0.2:3306") as hosts. */
export function parseIncomingAddresses(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map(hostOf)
    .filter((h): h is string => h !== null);
}

/** Rows of CLUSTER_MEMBERS_SQL: name and (when not AUTO) incoming address. */
export function parseClusterMembers(text: string): { name: string; address: string | null }[] {
  return parseBatchRows(text)
    .filter((row) => row.length >= 1 && (row[0] ?? '').trim() !== '')
    .map((row) => ({ name: row[0]!.trim(), address: hostOf(row[1] ?? '') }));
}

export function clusterView(size: number, members: { name: string; address: string | null }[], incoming: string[]): ClusterView {
  const addresses = [...incoming];
  for (const m of members) if (m.address !== null && !addresses.includes(m.address)) addresses.push(m.address);
  return { size, names: members.map((m) => m.name), addresses };
}

/** The node is a member as the others see it (by its node name, or by its address). */
export function isInView(view: ClusterView, node: KnownNode): boolean {
  return view.names.includes(node.name) || view.addresses.includes(node.address);
}

/**
 * Members that are neither db hosts nor listed for removal, described for the
 * operator: `db5 (10.0.0.15)` when the names table paired them, `a node at
 * 10.0.0.15` when only the address is known.
 */
export function unlistedMembers(view: ClusterView, known: KnownNode[]): string[] {
  const names = view.names.filter((n) => !known.some((k) => k.name === n));
  const addresses = view.addresses.filter((a) => !known.some((k) => k.address === a));
  if (view.names.length === 0) return addresses.map((a) => `a node at ${a}`);
  // The table's addresses are usually AUTO, so pair by elimination when that is unambiguous.
  if (names.length === 1 && addresses.length === 1) return [`${names[0]} (${addresses[0]})`];
  return [...names, ...(names.length === 0 ? addresses.map((a) => `a node at ${a}`) : [])];
}

export interface RetiringNode extends KnownNode {
  /** Preflight reached it over SSH. */
  reachable: boolean;
  /** mariadb-server is installed (only meaningful when reachable). */
  installed: boolean;
  running: boolean;
  /** `systemctl is-enabled mariadb`: it would start (and rejoin) at boot. */
  enabled: boolean;
  /** The remaining members list it (name or address). */
  inView: boolean;
}

export interface RemovalInput {
  /** The db hosts of the inventory: the cluster after the removal. */
  remaining: string[];
  /** Hosts with the arbitrator role (a vote each). */
  arbitrators: number;
  /** wsrep_cluster_size seen by the remaining members; null when none runs. */
  clusterSize: number | null;
  retiring: RetiringNode[];
  /** The operator's override of the size and majority rules (option force-remove=true). */
  force: boolean;
  /** The node the load balancers send writes to, when it could be read, and where it was read. */
  lbWriter?: { name: string; source: string };
}

export type RemovalStep =
  | {
      node: string;
      action: 'leave';
      /** wsrep_cluster_size the remaining members must report once it has left. */
      sizeAfter: number;
      /** The remaining members list it, so its leaving shrinks the cluster. */
      inView: boolean;
      /** It is the load balancers' writer (warned about). */
      lbWriter: boolean;
    }
  | { node: string; action: 'disable' };

export interface RemovalDecision {
  steps: RemovalStep[];
  /** Reasons not to apply (empty: safe). */
  refusals: string[];
  /** What the plan says about nodes it does nothing to, and risks it accepts. */
  notes: string[];
  /** wsrep_cluster_size once every step is done (null when no member runs). */
  finalSize: number | null;
}

export const FORCE_REMOVE_OPTION = 'force-remove';

/**
 * One node at a time: a node leaves by a clean shutdown (it announces its
 * departure, so the others shrink the component instead of suspecting a
 * failure), then is disabled so a reboot cannot bring it back into the cluster.
 */
export function decideRemoval(input: RemovalInput): RemovalDecision {
  const steps: RemovalStep[] = [];
  const refusals: string[] = [];
  const notes: string[] = [];
  const leaving = input.retiring.filter((r) => r.inView);
  let size = input.clusterSize;
  const force = input.force ? ' (overridden: force-remove=true)' : '';

  if (leaving.length > 0 && input.clusterSize !== null) {
    const after = input.clusterSize - leaving.length;
    const votes = input.remaining.length + input.arbitrators;
    if (votes < 3) {
      const text = `removing ${leaving.map((r) => r.name).join(', ')} would leave ${input.remaining.length} db node(s)${input.arbitrators > 0 ? ` and ${input.arbitrators} arbitrator(s)` : ''}: a Galera cluster needs 3 votes to survive the loss of one`;
      if (input.force) notes.push(text + force);
      else refusals.push(`${text}; add a db node first, or set the option ${FORCE_REMOVE_OPTION}=true if this is intended`);
    }
    if (after * 2 <= input.clusterSize) {
      const text = `removing ${leaving.length} of the ${input.clusterSize} current members at once would leave ${after}, not a majority of the cluster as it is now`;
      if (input.force) notes.push(text + force);
      else refusals.push(`${text}; remove fewer nodes per run, or set the option ${FORCE_REMOVE_OPTION}=true if this is intended`);
    }
  }

  for (const r of input.retiring) {
    if (!r.reachable) {
      if (r.inView) {
        refusals.push(
          `${r.name} (${r.address}) cannot be reached over SSH, but the remaining members still list it in the cluster: it is running and deploy-db cannot stop it. Restore SSH to ${r.name}, or stop mariadb on it from its console, then re-run`,
        );
      } else {
        notes.push(
          `${r.name} (${r.address}) cannot be reached and the remaining members do not list it (cluster size ${input.clusterSize ?? 'unknown'}): treated as already gone, nothing is done to it. If it comes back, disable mariadb there before it boots, or it rejoins the cluster`,
        );
      }
      continue;
    }
    if (r.running) {
      if (r.inView && size !== null) size -= 1;
      steps.push({
        node: r.name,
        action: 'leave',
        sizeAfter: size ?? 0,
        inView: r.inView,
        lbWriter: input.lbWriter?.name === r.name,
      });
      if (input.lbWriter?.name === r.name) {
        notes.push(
          `${r.name} is the writer of the load balancers (${input.lbWriter.source}): when it stops they move new writes to the next node and cut the sessions open on ${r.name}. Run deploy-lb afterwards so they no longer list it`,
        );
      }
      continue;
    }
    if (r.inView) {
      refusals.push(`${r.name}: the remaining members list it, but mariadb is not active there: wait until it has left or joined, then re-run`);
      continue;
    }
    if (r.installed && r.enabled) {
      steps.push({ node: r.name, action: 'disable' });
      continue;
    }
    notes.push(
      `${r.name}: already out of the cluster (mariadb ${r.installed ? 'stopped and disabled' : 'not installed'}); it can now be deleted from hosts: and database.remove_nodes`,
    );
  }
  return { steps, refusals, notes, finalSize: size };
}
