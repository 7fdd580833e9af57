import { expect } from 'vitest';
import { labExec } from './lab.js';

/** The node's wsrep status variables, read as root on the host. */
export function wsrep(host: string): Record<string, string> {
  const out = labExec(host, `mariadb -N -B -e "SHOW STATUS LIKE 'wsrep_%'"`).stdout;
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('\t') as [string, string]),
  );
}

/** Every host Primary and Synced in one cluster (one state UUID) of `size` members. */
export function expectClusterFormed(hosts: string[], size: number): void {
  const statuses = hosts.map(wsrep);
  for (const s of statuses) {
    expect(s.wsrep_cluster_status).toBe('Primary');
    expect(s.wsrep_local_state_comment).toBe('Synced');
    expect(s.wsrep_cluster_size).toBe(String(size));
  }
  expect(new Set(statuses.map((s) => s.wsrep_cluster_state_uuid)).size).toBe(1);
}
