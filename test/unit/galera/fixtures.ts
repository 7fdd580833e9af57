import type { GaleraHostFacts } from '../../../src/facts/galera.js';
import { parseGrastate, parseWsrepStatus } from '../../../src/components/galera/index.js';
import type { RetiringNode } from '../../../src/components/galera/membership.js';

/** Facts of a running member, Primary and Synced in a cluster of `size`, with `config` as its option file. */
export function syncedMemberFacts(options: { config: string; size: number; uuid: string; installed: string }): GaleraHostFacts {
  const { config, size, uuid, installed } = options;
  return {
    packages: { 'mariadb-server': installed, 'galera-4': '26.4.20-0+deb12u1', 'mariadb-backup': installed },
    running: true,
    enabled: true,
    config,
    status: parseWsrepStatus(
      `wsrep_cluster_status\tPrimary\nwsrep_local_state\t4\nwsrep_local_state_comment\tSynced\nwsrep_ready\tON\nwsrep_connected\tON\nwsrep_cluster_size\t${size}\nwsrep_cluster_state_uuid\t${uuid}\nwsrep_cluster_conf_id\t${size}\n`,
    ),
    wsrepActive: true,
    grastate: parseGrastate(`version: 2.1\nuuid: ${uuid}\nseqno: -1\nsafe_to_bootstrap: 0\n`),
    sstAuthFile: null,
    aptPin: null,
  };
}

/** A host listed for removal, as gathered: by default reachable, running, enabled and still a member. */
export function retiringNode(name: string, address: string, over: Partial<RetiringNode> = {}): RetiringNode {
  return { name, address, reachable: true, installed: true, running: true, enabled: true, inView: true, ...over };
}
