/**
 * Pure: from the facts of every db node, what kind of deployment this is.
 * - `fresh`: no node has ever been in a cluster: bootstrap the first, join the rest.
 * - `existing`: some nodes are members: the gate decides; non-members join.
 */
import type { GaleraHostFacts } from '../../facts/galera.js';
import { isClusterMember } from '../../facts/galera.js';
import type { NodeObservation } from './status.js';

export interface ClusterSituation {
  kind: 'fresh' | 'existing';
  /** Nodes that are (or were) members, in inventory order. */
  members: string[];
  /** Nodes to join (not members), in inventory order. */
  newcomers: string[];
  /** Nodes whose server runs without Galera (just installed): stop before the config is written. */
  runningWithoutGalera: string[];
  /** For the gate: members' observations. */
  observations: Map<string, NodeObservation>;
}

export function classifyCluster(nodes: string[], facts: Map<string, GaleraHostFacts>): ClusterSituation {
  const members = nodes.filter((n) => {
    const f = facts.get(n);
    return f !== undefined && isClusterMember(f);
  });
  const observations = new Map<string, NodeObservation>();
  for (const n of members) {
    const f = facts.get(n)!;
    if (f.running && f.status !== null) observations.set(n, f.status);
    else observations.set(n, { stopped: f.running ? 'mariadb runs but does not answer' : 'mariadb is stopped' });
  }
  return {
    kind: members.length === 0 ? 'fresh' : 'existing',
    members,
    newcomers: nodes.filter((n) => !members.includes(n)),
    runningWithoutGalera: nodes.filter((n) => {
      const f = facts.get(n);
      return f !== undefined && f.running && !f.wsrepActive && !members.includes(n);
    }),
    observations,
  };
}
