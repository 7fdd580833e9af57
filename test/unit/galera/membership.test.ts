import { describe, expect, it } from 'vitest';
import {
  clusterView,
  decideRemoval,
  isInView,
  parseClusterMembers,
  parseIncomingAddresses,
  unlistedMembers,
  type RemovalInput,
} from '../../../src/components/galera/membership.js';
import { configuredWriter } from '../../../src/components/haproxy/configured-writer.js';
import { renderHaproxyConfig } from '../../../src/components/haproxy/index.js';
import { retiringNode } from './fixtures.js';

// Who is in the cluster compared with the inventory, and the removal rules:
// never below 3 votes or a majority of the current members unless forced, a
// running node one cannot reach blocks, an unreachable node the cluster no
// longer lists is treated as gone.

describe('cluster view', () => {
  it('reads wsrep_incoming_addresses, IPv4 and IPv6, and skips AUTO and empty entries', () => {
    expect(parseIncomingAddresses('10.0.0.11:3306,10.0.0.12:3306,[fd00::13]:3306')).toEqual(['10.0.0.11', '10.0.0.12', 'fd00::13']);
    expect(parseIncomingAddresses('AUTO,,10.0.0.11:3306')).toEqual(['10.0.0.11']);
    expect(parseIncomingAddresses(undefined)).toEqual([]);
  });

  it('reads the members table, with AUTO addresses as unknown', () => {
    expect(parseClusterMembers('db1\tAUTO\ndb2\t10.0.0.12:3306\n')).toEqual([
      { name: 'db1', address: null },
      { name: 'db2', address: '10.0.0.12' },
    ]);
  });

  it('knows a member by its node name or by its address', () => {
    const view = clusterView(3, parseClusterMembers('db1\tAUTO\ndb2\tAUTO\n'), ['10.0.0.11', '10.0.0.12', '10.0.0.15']);
    expect(isInView(view, { name: 'db2', address: '10.0.0.99' })).toBe(true);
    expect(isInView(view, { name: 'old5', address: '10.0.0.15' })).toBe(true);
    expect(isInView(view, { name: 'db3', address: '10.0.0.13' })).toBe(false);
  });

  it('names a member that is neither a db host nor listed for removal, with its address when it can be paired', () => {
    const known = [
      { name: 'db1', address: '10.0.0.11' },
      { name: 'db2', address: '10.0.0.12' },
      { name: 'db3', address: '10.0.0.13' },
    ];
    const incoming = ['10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.15'];
    const named = clusterView(4, parseClusterMembers('db1\tAUTO\ndb2\tAUTO\ndb3\tAUTO\ndb5\tAUTO\n'), incoming);
    expect(unlistedMembers(named, known)).toEqual(['db5 (10.0.0.15)']);
    // Without the names table, by address only.
    expect(unlistedMembers(clusterView(4, [], incoming), known)).toEqual(['a node at 10.0.0.15']);
    // Listed for removal: known, so not unlisted.
    expect(unlistedMembers(named, [...known, { name: 'db5', address: '10.0.0.15' }])).toEqual([]);
  });
});

const running = retiringNode;

function input(over: Partial<RemovalInput>): RemovalInput {
  return { remaining: ['db1', 'db2', 'db3'], arbitrators: 0, clusterSize: 5, retiring: [], force: false, ...over };
}

describe('decideRemoval', () => {
  it('5 -> 3: each node leaves in turn, the size expected after each', () => {
    const d = decideRemoval(input({ retiring: [running('db4', '10.0.0.14'), running('db5', '10.0.0.15')] }));
    expect(d.refusals).toEqual([]);
    expect(d.steps).toEqual([
      { node: 'db4', action: 'leave', sizeAfter: 4, inView: true, lbWriter: false },
      { node: 'db5', action: 'leave', sizeAfter: 3, inView: true, lbWriter: false },
    ]);
    expect(d.finalSize).toBe(3);
  });

  it('refuses to go below 3 votes unless forced; an arbitrator counts as a vote', () => {
    const twoLeft = input({ remaining: ['db1', 'db2'], clusterSize: 3, retiring: [running('db3', '10.0.0.13')] });
    const refused = decideRemoval(twoLeft);
    expect(refused.refusals.join('\n')).toMatch(/would leave 2 db node\(s\): a Galera cluster needs 3 votes/);
    expect(refused.refusals.join('\n')).toContain('force-remove=true');
    const forced = decideRemoval({ ...twoLeft, force: true });
    expect(forced.refusals).toEqual([]);
    expect(forced.steps).toHaveLength(1);
    expect(forced.notes.join('\n')).toContain('overridden: force-remove=true');
    expect(decideRemoval({ ...twoLeft, arbitrators: 1 }).refusals).toEqual([]);
  });

  it('refuses to remove half or more of the current members at once unless forced', () => {
    const d = decideRemoval(
      input({
        remaining: ['db1', 'db2', 'db3'],
        arbitrators: 0,
        clusterSize: 6,
        retiring: [running('db4', '10.0.0.14'), running('db5', '10.0.0.15'), running('db6', '10.0.0.16')],
      }),
    );
    expect(d.refusals.join('\n')).toMatch(/removing 3 of the 6 current members at once would leave 3, not a majority/);
    expect(decideRemoval(input({ clusterSize: 6, retiring: [running('db4', 'a'), running('db5', 'b'), running('db6', 'c')], force: true })).refusals).toEqual([]);
  });

  it('an unreachable node still in the cluster blocks; one the cluster no longer lists is treated as gone', () => {
    const blocked = decideRemoval(input({ clusterSize: 4, retiring: [running('db4', '10.0.0.14', { reachable: false })] }));
    expect(blocked.refusals.join('\n')).toMatch(/db4 \(10\.0\.0\.14\) cannot be reached over SSH, but the remaining members still list it/);
    expect(blocked.steps).toEqual([]);
    const gone = decideRemoval(input({ clusterSize: 3, retiring: [running('db4', '10.0.0.14', { reachable: false, inView: false })] }));
    expect(gone.refusals).toEqual([]);
    expect(gone.steps).toEqual([]);
    expect(gone.notes.join('\n')).toMatch(/db4 \(10\.0\.0\.14\) cannot be reached and the remaining members do not list it \(cluster size 3\): treated as already gone/);
  });

  it('a stopped node is only disabled; a stopped and disabled one needs nothing', () => {
    const stopped = decideRemoval(input({ clusterSize: 3, retiring: [running('db4', 'a', { running: false, inView: false })] }));
    expect(stopped.steps).toEqual([{ node: 'db4', action: 'disable' }]);
    const done = decideRemoval(input({ clusterSize: 3, retiring: [running('db4', 'a', { running: false, enabled: false, inView: false })] }));
    expect(done.steps).toEqual([]);
    expect(done.notes.join('\n')).toContain('db4: already out of the cluster (mariadb stopped and disabled)');
  });

  it('a node listed by the cluster whose mariadb is not active blocks (its state is in flux)', () => {
    const d = decideRemoval(input({ clusterSize: 4, retiring: [running('db4', 'a', { running: false })] }));
    expect(d.refusals.join('\n')).toContain('db4: the remaining members list it, but mariadb is not active');
  });

  it('warns when the node leaving is the load balancers\' writer', () => {
    const d = decideRemoval(
      input({ clusterSize: 4, retiring: [running('db4', '10.0.0.14')], lbWriter: { name: 'db4', source: 'haproxy.cfg on lb1' } }),
    );
    expect(d.steps[0]).toMatchObject({ node: 'db4', action: 'leave', lbWriter: true });
    expect(d.notes.join('\n')).toMatch(/db4 is the writer of the load balancers \(haproxy\.cfg on lb1\).*Run deploy-lb afterwards/);
  });
});

describe('configuredWriter', () => {
  it('reads the first non-backup server of the writer listener from a rendered haproxy.cfg', () => {
    const cfg = renderHaproxyConfig({
      dbNodes: [
        { name: 'db4', address: '10.0.0.14' },
        { name: 'db1', address: '10.0.0.11' },
        { name: 'db2', address: '10.0.0.12' },
      ],
    });
    expect(configuredWriter(cfg)).toBe('db4');
    expect(configuredWriter('global\n    daemon\n')).toBeNull();
  });
});
