import { describe, expect, it } from 'vitest';
import {
  type NodeObservation,
  type NodeStatus,
  evaluateGate,
  parseWsrepStatus,
  rollingRestartOrder,
  rollingWaitReason,
} from '../../../src/components/galera/index.js';

const UUID = '9c2f1f2e-6b1a-11ef-8f0d-2b6e5b0c1a77';
const OTHER = '1111aaaa-6b1a-11ef-8f0d-2b6e5b0c1a77';

/** `mysql -N -B` output as a real 10.11 node prints it (a subset of the ~70 rows). */
function statusText(over: Record<string, string> = {}): string {
  const rows: Record<string, string> = {
    wsrep_local_state_uuid: UUID,
    wsrep_last_committed: '1234',
    wsrep_flow_control_paused: '0.00153',
    wsrep_local_recv_queue_avg: '0.0625',
    wsrep_local_state: '4',
    wsrep_local_state_comment: 'Synced',
    wsrep_desync_count: '0',
    wsrep_cluster_conf_id: '3',
    wsrep_cluster_size: '3',
    wsrep_cluster_state_uuid: UUID,
    wsrep_cluster_status: 'Primary',
    wsrep_connected: 'ON',
    wsrep_ready: 'ON',
    wsrep_provider_name: 'Galera',
    ...over,
  };
  return `${Object.entries(rows)
    .map(([k, v]) => `${k}\t${v}`)
    .join('\n')}\n`;
}

const synced = (over: Record<string, string> = {}): NodeStatus => parseWsrepStatus(statusText(over));
const names = ['db1', 'db2', 'db3'];

function gate(obs: Record<string, NodeObservation>) {
  return evaluateGate(names, new Map(Object.entries(obs)));
}

describe('parseWsrepStatus', () => {
  it('types every field', () => {
    const s = parseWsrepStatus(`${statusText()}wsrep_desync\tOFF\n`);
    expect(s).toMatchObject({
      clusterStatus: 'Primary',
      localState: 4,
      localStateComment: 'Synced',
      ready: true,
      connected: true,
      clusterSize: 3,
      clusterStateUuid: UUID,
      clusterConfId: '3',
      desync: false,
      desyncCount: 0,
      localRecvQueueAvg: 0.0625,
      flowControlPaused: 0.00153,
      lastCommitted: 1234,
      missing: [],
    });
  });

  it('keeps a huge conf_id exactly and reports missing variables', () => {
    const s = parseWsrepStatus('wsrep_cluster_conf_id\t18446744073709551615\nwsrep_cluster_status\tnon-Primary\r\n');
    expect(s.clusterConfId).toBe('18446744073709551615');
    expect(s.clusterStatus).toBe('non-Primary');
    expect(s.desync).toBeNull();
    expect(s.missing).toContain('wsrep_local_state');
    expect(s.ready).toBe(false);
  });

  it('reports wsrep off when nothing comes back', () => {
    expect(parseWsrepStatus('').missing).toContain('wsrep_cluster_status');
  });
});

describe('evaluateGate', () => {
  it('passes a healthy cluster', () => {
    const r = gate({ db1: synced(), db2: synced(), db3: synced() });
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([]);
    expect(r.rows.map((x) => x.verdict)).toEqual(['ok', 'ok', 'ok']);
    expect(r.table).toContain('| db1  | yes       | Primary | 4 Synced |');
  });

  it('fails on an unreachable node and names it', () => {
    const r = gate({ db1: synced(), db2: { unreachable: 'connect ETIMEDOUT' }, db3: synced() });
    expect(r.ok).toBe(false);
    expect(r.rows[1]).toMatchObject({ node: 'db2', reachable: false, verdict: 'unreachable: connect ETIMEDOUT' });
    expect(r.problems).toEqual([expect.stringMatching(/^db2: cannot be reached \(connect ETIMEDOUT\)/)]);
  });

  it('treats a node without facts as unreachable', () => {
    const r = gate({ db1: synced(), db2: synced() });
    expect(r.ok).toBe(false);
    expect(r.rows[2]).toMatchObject({ node: 'db3', reachable: false, verdict: 'unreachable: no facts gathered' });
  });

  it('fails on a stopped node and says to start it', () => {
    const r = gate({ db1: synced(), db2: synced({ wsrep_cluster_size: '2' }), db3: { stopped: 'mariadb.service inactive' } });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^db3: mysqld is not running .*systemctl start mariadb/)]),
    );
  });

  it('fails on a non-Primary node', () => {
    const r = gate({ db1: synced(), db2: synced(), db3: synced({ wsrep_cluster_status: 'non-Primary', wsrep_cluster_size: '1' }) });
    expect(r.ok).toBe(false);
    expect(r.rows[2]!.verdict).toBe('non-Primary');
    expect(r.problems).toEqual([expect.stringMatching(/^db3: not in the Primary component/)]);
  });

  it('tells an operator desync to run SET GLOBAL wsrep_desync=OFF', () => {
    const r = gate({
      db1: synced(),
      db2: parseWsrepStatus(
        `${statusText({ wsrep_local_state: '2', wsrep_local_state_comment: 'Donor/Desynced', wsrep_desync_count: '1' })}wsrep_desync\tON\n`,
      ),
      db3: synced(),
    });
    expect(r.ok).toBe(false);
    expect(r.rows[1]!.verdict).toBe('desynced by operator');
    expect(r.problems[0]).toMatch(/^db2: .*SET GLOBAL wsrep_desync=OFF/);
  });

  it('tells a donor during SST to wait (not to clear desync)', () => {
    const r = gate({
      db1: parseWsrepStatus(
        `${statusText({ wsrep_local_state: '2', wsrep_local_state_comment: 'Donor/Desynced' })}wsrep_desync\tOFF\n`,
      ),
      db2: synced(),
      db3: synced(),
    });
    expect(r.rows[0]!.verdict).toBe('donor (state transfer)');
    expect(r.problems[0]).toMatch(/^db1: is a donor .*wait until it is Synced/);
    expect(r.problems[0]).not.toMatch(/wsrep_desync=OFF/);
  });

  it('tells a joining node to be waited for', () => {
    const r = gate({ db1: synced(), db2: synced(), db3: synced({ wsrep_local_state: '1', wsrep_local_state_comment: 'Joining' }) });
    expect(r.rows[2]!.verdict).toBe('joining (Joining)');
    expect(r.problems[0]).toMatch(/^db3: is still joining/);
  });

  it('fails when wsrep_ready or wsrep_connected is OFF', () => {
    expect(gate({ db1: synced({ wsrep_ready: 'OFF' }), db2: synced(), db3: synced() }).rows[0]!.verdict).toBe('wsrep_ready=OFF');
    expect(gate({ db1: synced(), db2: synced({ wsrep_connected: 'OFF' }), db3: synced() }).rows[1]!.verdict).toBe(
      'wsrep_connected=OFF',
    );
  });

  it('fails when a node sees the wrong cluster size', () => {
    const r = gate({ db1: synced({ wsrep_cluster_size: '4' }), db2: synced(), db3: synced() });
    expect(r.ok).toBe(false);
    expect(r.rows[0]!.verdict).toBe('size 4, expected 3');
    expect(r.problems[0]).toMatch(/^db1: sees 4 node\(s\), expected 3/);
  });

  it('fails the node whose cluster UUID differs from the majority', () => {
    const r = gate({
      db1: synced(),
      db2: synced({ wsrep_cluster_state_uuid: OTHER }),
      db3: synced(),
    });
    expect(r.ok).toBe(false);
    expect(r.rows.map((x) => x.verdict)).toEqual(['ok', 'different cluster UUID', 'ok']);
    expect(r.problems[0]).toMatch(new RegExp(`^db2: cluster state UUID ${OTHER} differs from ${UUID}`));
  });

  it('fails the node whose conf_id differs', () => {
    const r = gate({ db1: synced(), db2: synced(), db3: synced({ wsrep_cluster_conf_id: '7' }) });
    expect(r.ok).toBe(false);
    expect(r.rows[2]!.verdict).toBe('conf_id 7 != 3');
  });

  it('sends a full outage to recover', () => {
    const r = gate({ db1: { stopped: 'inactive' }, db2: { stopped: 'inactive' }, db3: { stopped: 'failed' } });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.stringMatching(/every node is stopped.*Run `lms-ha recover`/)]);
  });

  it('uses the caller-provided recover command and mentions unreachable hosts in an outage', () => {
    const r = evaluateGate(
      names,
      new Map<string, NodeObservation>([
        ['db1', { stopped: 'inactive' }],
        ['db2', { unreachable: 'no route' }],
        ['db3', { stopped: 'inactive' }],
      ]),
      { recoverCommand: 'lms-ha recover --environment prod' },
    );
    expect(r.problems).toEqual([expect.stringMatching(/no node is running and 1 cannot be reached.*`lms-ha recover --environment prod`/)]);
  });

  it('recognises lost quorum', () => {
    const np = { wsrep_cluster_status: 'non-Primary', wsrep_cluster_size: '1', wsrep_cluster_conf_id: '18446744073709551615' };
    const r = gate({ db1: synced(np), db2: synced(np), db3: { stopped: 'killed' } });
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/^no reachable node is in a Primary component: the cluster has lost quorum/);
  });

  it('reports a running mysqld without wsrep', () => {
    const r = gate({ db1: parseWsrepStatus(''), db2: synced(), db3: synced() });
    expect(r.rows[0]!.verdict).toBe('wsrep not active');
  });
});

describe('rolling helpers', () => {
  it('waits for Primary, Synced, ready, connected and the full size', () => {
    expect(rollingWaitReason(synced(), 3)).toBeNull();
    expect(rollingWaitReason(synced({ wsrep_cluster_size: '2' }), 3)).toBe('cluster size 2 of 3');
    expect(rollingWaitReason(synced({ wsrep_local_state: '3', wsrep_local_state_comment: 'Joined' }), 3)).toBe('state 3 Joined');
    expect(rollingWaitReason(synced({ wsrep_cluster_status: 'non-Primary' }), 3)).toBe('cluster status non-Primary');
    expect(rollingWaitReason(synced({ wsrep_ready: 'OFF' }), 3)).toBe('wsrep_ready=OFF');
  });

  it('puts the writer last', () => {
    expect(rollingRestartOrder(names, 'db1')).toEqual(['db2', 'db3', 'db1']);
    expect(rollingRestartOrder(names)).toEqual(names);
    expect(rollingRestartOrder(names, 'nope')).toEqual(names);
  });
});
