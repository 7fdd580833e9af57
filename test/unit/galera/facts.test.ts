import { describe, expect, it } from 'vitest';
import { classifyCluster } from '../../../src/components/galera/cluster-state.js';
import { galeraFactsScript, isClusterMember, parseGaleraFacts, type GaleraHostFacts } from '../../../src/facts/galera.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

const SYNCED = [
  'wsrep_cluster_status\tPrimary',
  'wsrep_local_state\t4',
  'wsrep_local_state_comment\tSynced',
  'wsrep_ready\tON',
  'wsrep_connected\tON',
  'wsrep_cluster_size\t3',
  'wsrep_cluster_state_uuid\tee244a52-e77e-11f1-ba32-87af0a2a59e6',
  'wsrep_cluster_conf_id\t3',
].join('\n');

const GRASTATE = '# GALERA saved state\nversion: 2.1\nuuid:    ee244a52-e77e-11f1-ba32-87af0a2a59e6\nseqno:   -1\nsafe_to_bootstrap: 0\n';

function output(parts: { packages?: string; active?: string; config?: string | null; grastate?: string | null; status?: string }): string {
  return [
    '@@packages',
    parts.packages ?? '',
    '@@active',
    parts.active ?? 'inactive',
    '@@config',
    parts.config == null ? '@absent' : b64(parts.config),
    '@@grastate',
    parts.grastate == null ? '@absent' : b64(parts.grastate),
    '@@status',
    parts.status ?? '',
  ].join('\n');
}

describe('galera facts', () => {
  it('reads a bare host: nothing installed, stopped, no files', () => {
    const f = parseGaleraFacts(output({}));
    expect(f).toMatchObject({ packages: {}, running: false, config: null, status: null, wsrepActive: false, grastate: null });
    expect(isClusterMember(f)).toBe(false);
  });

  it('reads a Synced member with its packages, config and grastate', () => {
    const f = parseGaleraFacts(
      output({
        packages: 'mariadb-server\t1:10.11.6-0+deb12u1\tinstall ok installed\ngalera-4\t26.4.14-1\tinstall ok installed\nmariadb-backup\t1:10.11.6-0+deb12u1\tdeinstall ok config-files',
        active: 'active',
        config: '[mariadb]\nwsrep_on = ON\n',
        grastate: GRASTATE,
        status: SYNCED,
      }),
    );
    expect(f.packages).toEqual({ 'mariadb-server': '1:10.11.6-0+deb12u1', 'galera-4': '26.4.14-1' });
    expect(f.config).toBe('[mariadb]\nwsrep_on = ON\n');
    expect(f.wsrepActive).toBe(true);
    expect(f.status?.clusterSize).toBe(3);
    expect(f.grastate?.seqno).toBe(-1);
    expect(isClusterMember(f)).toBe(true);
  });

  it('a server just installed runs without Galera and is not a member', () => {
    const f = parseGaleraFacts(output({ active: 'active', status: 'wsrep_on\tOFF' }));
    expect(f.running).toBe(true);
    expect(f.wsrepActive).toBe(false);
    expect(isClusterMember(f)).toBe(false);
  });

  it('keeps the status query off the command line (it is read from stdin)', () => {
    expect(galeraFactsScript()).not.toContain('SHOW GLOBAL STATUS');
    expect(galeraFactsScript()).toContain('mariadb -N -B');
  });
});

describe('classifyCluster', () => {
  const bare = parseGaleraFacts(output({}));
  const synced = parseGaleraFacts(output({ active: 'active', grastate: GRASTATE, status: SYNCED }));
  const stoppedMember = parseGaleraFacts(output({ grastate: GRASTATE }));
  const justInstalled = parseGaleraFacts(output({ active: 'active', status: 'wsrep_on\tOFF' }));
  const facts = (entries: Array<[string, GaleraHostFacts]>) => new Map(entries);

  it('no node has a cluster state: fresh, and servers left running by the package must stop', () => {
    const s = classifyCluster(['db1', 'db2', 'db3'], facts([['db1', bare], ['db2', justInstalled], ['db3', bare]]));
    expect(s.kind).toBe('fresh');
    expect(s.members).toEqual([]);
    expect(s.runningWithoutGalera).toEqual(['db2']);
  });

  it('members and newcomers of an existing cluster; a stopped member is observed as stopped', () => {
    const s = classifyCluster(['db1', 'db2', 'db3', 'db4'], facts([['db1', synced], ['db2', synced], ['db3', stoppedMember], ['db4', bare]]));
    expect(s.kind).toBe('existing');
    expect(s.members).toEqual(['db1', 'db2', 'db3']);
    expect(s.newcomers).toEqual(['db4']);
    expect(s.observations.get('db3')).toEqual({ stopped: 'mariadb is stopped' });
  });

  it('all members stopped (full outage) is still an existing cluster, never fresh: no second bootstrap', () => {
    const s = classifyCluster(['db1', 'db2', 'db3'], facts([['db1', stoppedMember], ['db2', stoppedMember], ['db3', stoppedMember]]));
    expect(s.kind).toBe('existing');
  });
});
