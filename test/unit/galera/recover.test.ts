import { describe, expect, it } from 'vitest';
import {
  NULL_UUID,
  type RecoveryDecision,
  type RecoveryNodeFacts,
  type RecoveryPlan,
  type RecoveryRefusal,
  decideRecovery,
  nodesNeedingWsrepRecover,
  parseGrastate,
  parseRecoveredPosition,
  setSafeToBootstrap,
} from '../../../src/components/galera/index.js';
import { DeployError } from '../../../src/errors.js';

const UUID = '9c2f1f2e-6b1a-11ef-8f0d-2b6e5b0c1a77';
const OTHER = '1111aaaa-6b1a-11ef-8f0d-2b6e5b0c1a77';

function grastate(seqno: number, safe: 0 | 1 = 0, uuid = UUID): string {
  return `# GALERA saved state\nversion: 2.1\nuuid:    ${uuid}\nseqno:   ${seqno}\nsafe_to_bootstrap: ${safe}\n`;
}

/** A realistic tail of `mariadbd --wsrep-recover` output. */
function recoverLog(position: string): string {
  return [
    '2024-09-01 10:14:25 0 [Note] Starting MariaDB 10.11.8-MariaDB-0ubuntu0.24.04.1 source revision 3a069644682e336e445039e48baae9693f9a08ee as process 4242',
    '2024-09-01 10:14:25 0 [Note] InnoDB: Initializing buffer pool, total size = 1.000GiB, chunk size = 16.000MiB',
    "2024-09-01 10:14:26 0 [Note] Server socket created on IP: '0.0.0.0'.",
    `2024-09-01 10:14:26 0 [Note] WSREP: Recovered position: ${position}`,
    'Warning: Memory not freed: 280',
  ].join('\n');
}

function node(name: string, over: Partial<RecoveryNodeFacts> = {}): RecoveryNodeFacts {
  return { name, reachable: true, running: false, grastate: grastate(100), recovered: null, ...over };
}

function plan(d: RecoveryDecision): RecoveryPlan {
  if (d.kind !== 'bootstrap') throw new Error(`expected a bootstrap plan, got refusal: ${d.error.message}`);
  return d;
}

function refusal(d: RecoveryDecision): RecoveryRefusal {
  if (d.kind !== 'refuse') throw new Error(`expected a refusal, got bootstrap of ${d.bootstrap}`);
  return d;
}

describe('parseGrastate', () => {
  it('reads the fields, tolerating the header comment and extra spaces', () => {
    expect(parseGrastate(grastate(1234, 1))).toEqual({ version: '2.1', uuid: UUID, seqno: 1234, safeToBootstrap: true });
    expect(parseGrastate(grastate(-1))).toMatchObject({ seqno: -1, safeToBootstrap: false });
  });

  it('treats a missing safe_to_bootstrap (old Galera) as 0 and rejects torn files', () => {
    expect(parseGrastate(`version: 2.1\nuuid: ${UUID}\nseqno: 5\n`)).toMatchObject({ safeToBootstrap: false });
    expect(parseGrastate(`version: 2.1\nuuid: ${UUID}\n`)).toBeNull();
    expect(parseGrastate(`version: 2.1\nuuid: foo\nseqno: 5\n`)).toBeNull();
    expect(parseGrastate(`version: 2.1\nuuid: ${UUID}\nseqno: x\n`)).toBeNull();
    expect(parseGrastate('')).toBeNull();
  });
});

describe('setSafeToBootstrap', () => {
  it('changes only that line, or appends it', () => {
    expect(setSafeToBootstrap(grastate(7, 0), true)).toBe(grastate(7, 1));
    expect(setSafeToBootstrap(grastate(7, 1), false)).toBe(grastate(7, 0));
    expect(setSafeToBootstrap(`version: 2.1\nuuid: ${UUID}\nseqno: 5`, true)).toBe(
      `version: 2.1\nuuid: ${UUID}\nseqno: 5\nsafe_to_bootstrap: 1\n`,
    );
  });
});

describe('parseRecoveredPosition', () => {
  it('parses the plain form', () => {
    expect(parseRecoveredPosition(recoverLog(`${UUID}:1234`))).toEqual({ uuid: UUID, seqno: 1234, gtid: null });
  });

  it('parses the MariaDB GTID suffix (wsrep_gtid_mode=ON): uuid:seqno,domain-server-seqno', () => {
    expect(parseRecoveredPosition(recoverLog(`${UUID}:48451,201-2001-48431`))).toEqual({
      uuid: UUID,
      seqno: 48451,
      gtid: '201-2001-48431',
    });
  });

  it('parses the GTID-first order mariadb-operator also handles', () => {
    expect(parseRecoveredPosition(recoverLog(`${UUID}:0-1-1234,1234`))).toEqual({ uuid: UUID, seqno: 1234, gtid: '0-1-1234' });
  });

  it('takes the last position when the log holds several runs', () => {
    const log = `${recoverLog(`${UUID}:1`)}\n${recoverLog(`${UUID}:3,0-1-3`)}`;
    expect(parseRecoveredPosition(log)).toMatchObject({ seqno: 3 });
  });

  it('accepts the PXC 8 bracketed form, -1 and the null UUID (the decision rejects them, not the parser)', () => {
    expect(parseRecoveredPosition(`2024-01-01T00:00:00Z 0 [Note] [MY-000000] [WSREP] Recovered position: ${UUID}:77`)).toMatchObject({ seqno: 77 });
    expect(parseRecoveredPosition(recoverLog(`${NULL_UUID}:-1`))).toEqual({ uuid: NULL_UUID, seqno: -1, gtid: null });
  });

  it('returns null without a usable line', () => {
    expect(parseRecoveredPosition('2024-09-01 [ERROR] Aborting')).toBeNull();
    expect(parseRecoveredPosition(`WSREP: Position ${UUID}:5 given at startup, skipping position recovery`)).toBeNull();
    expect(parseRecoveredPosition('WSREP: Recovered position: foo:1')).toBeNull();
    expect(parseRecoveredPosition(`WSREP: Recovered position: ${UUID}:bar`)).toBeNull();
  });
});

describe('nodesNeedingWsrepRecover', () => {
  it('lists stopped, reachable nodes with seqno -1 or no usable grastate', () => {
    expect(
      nodesNeedingWsrepRecover([
        node('a'),
        node('b', { grastate: grastate(-1) }),
        node('c', { grastate: null }),
        node('d', { grastate: grastate(-1), reachable: false }),
        node('e', { grastate: 'garbage' }),
      ]),
    ).toEqual(['b', 'c', 'e']);
  });
});

describe('decideRecovery', () => {
  it('bootstraps the highest seqno and joins the rest most-advanced first', () => {
    const p = plan(decideRecovery([node('a', { grastate: grastate(90) }), node('b', { grastate: grastate(120) }), node('c', { grastate: grastate(100) })]));
    expect(p.bootstrap).toBe('b');
    expect(p.joinOrder).toEqual(['c', 'a']);
    expect(p).toMatchObject({ uuid: UUID, seqno: 120, overridden: false, skipped: [] });
    expect(p.rows.find((r) => r.node === 'b')!.note).toBe('BOOTSTRAP: highest seqno');
    expect(p.steps[0]).toContain('safe_to_bootstrap: 1');
    expect(p.steps[0]).toContain('on b only');
  });

  it('A stopped, B stopped later, C killed -9 with the most writes → C', () => {
    const d = decideRecovery([
      node('A', { grastate: grastate(100) }),
      node('B', { grastate: grastate(150) }),
      node('C', { grastate: grastate(-1), recovered: recoverLog(`${UUID}:200,0-1-200`) }),
    ]);
    const p = plan(d);
    expect(p.bootstrap).toBe('C');
    expect(p.joinOrder).toEqual(['B', 'A']);
    const c = p.rows.find((r) => r.node === 'C')!;
    expect(c).toMatchObject({ seqno: 200, source: 'wsrep-recover', safeToBootstrap: false });
    expect(c.note).toContain('gtid 0-1-200');
    expect(p.table).toMatch(/\| C +\| 9c2f1f2e-6b1a-11ef-8f0d-2b6e5b0c1a77 \| 200 +\| wsrep-recover \|/);
  });

  it('does not choose a stale node with safe_to_bootstrap: 1 and a lower seqno', () => {
    const p = plan(
      decideRecovery([
        node('a', { grastate: grastate(100, 1) }),
        node('b', { grastate: grastate(-1), recovered: recoverLog(`${UUID}:101`) }),
        node('c', { grastate: grastate(-1), recovered: recoverLog(`${UUID}:99`) }),
      ]),
    );
    expect(p.bootstrap).toBe('b');
    expect(p.joinOrder).toEqual(['a', 'c']);
  });

  it('breaks a tie by safe_to_bootstrap, then by name', () => {
    expect(
      plan(decideRecovery([node('a', { grastate: grastate(50) }), node('b', { grastate: grastate(50, 1) }), node('c', { grastate: grastate(10) })])).bootstrap,
    ).toBe('b');
    const p = plan(decideRecovery([node('c', { grastate: grastate(50) }), node('b', { grastate: grastate(50) }), node('a', { grastate: grastate(49) })]));
    expect(p.bootstrap).toBe('b');
    expect(p.rows.find((r) => r.node === 'b')!.note).toContain('tie broken');
    expect(p.joinOrder).toEqual(['c', 'a']);
  });

  it('refuses when a node runs, even with an override', () => {
    const nodes = [node('a', { grastate: grastate(90) }), node('b', { running: true, grastate: grastate(-1) }), node('c')];
    for (const d of [decideRecovery(nodes), decideRecovery(nodes, { override: 'a' })]) {
      const r = refusal(d);
      expect(r.error).toBeInstanceOf(DeployError);
      expect(r.error.reason).toBe('unsafe-bootstrap');
      expect(r.error.message).toContain('mysqld is running on b');
      expect(r.error.host).toBe('b');
      expect(r.error.hint).toMatch(/running node is the cluster/);
      expect(r.rows.find((x) => x.node === 'b')!.note).toBe('mysqld is RUNNING');
    }
  });

  it('refuses when a node is unreachable, and accepts an override that is logged as such', () => {
    const nodes = [
      node('a', { grastate: grastate(90) }),
      node('b', { reachable: false, grastate: null, detail: 'ssh: connect timed out' }),
      node('c', { grastate: grastate(95) }),
    ];
    const r = refusal(decideRecovery(nodes));
    expect(r.error.message).toContain('b cannot be reached');
    expect(r.table).toContain('unreachable: ssh: connect timed out');

    const p = plan(decideRecovery(nodes, { override: 'c' }));
    expect(p).toMatchObject({ bootstrap: 'c', joinOrder: ['a'], skipped: ['b'], overridden: true });
    expect(p.rows.find((x) => x.node === 'c')!.note).toBe('BOOTSTRAP: chosen by override');
    expect(p.rows.find((x) => x.node === 'b')!.note).toContain('must never be bootstrapped');
  });

  it('logs an override that discards a more advanced node', () => {
    const p = plan(decideRecovery([node('a', { grastate: grastate(90) }), node('b', { grastate: grastate(95) }), node('c', { grastate: grastate(99) })], { override: 'a' }));
    expect(p.bootstrap).toBe('a');
    expect(p.rows.find((x) => x.node === 'a')!.note).toMatch(/chosen by override \(b is ahead \(seqno 95\), c is ahead \(seqno 99\)/);
    expect(p.table).toContain('chosen by override');
  });

  it('refuses an override naming an unknown node, an unreachable node or one with no state', () => {
    const nodes = [node('a'), node('b', { grastate: grastate(-1), recovered: recoverLog(`${NULL_UUID}:-1`) }), node('c', { reachable: false })];
    expect(refusal(decideRecovery(nodes, { override: 'zz' })).error.message).toContain('not a database node');
    expect(refusal(decideRecovery(nodes, { override: 'c' })).error.message).toContain('cannot be reached');
    expect(refusal(decideRecovery(nodes, { override: 'b' })).error.message).toContain('cannot be bootstrapped');
  });

  it('excludes the null UUID and seqno -1 after recovery, and refuses when nothing is left', () => {
    const p = plan(
      decideRecovery([
        node('a', { grastate: grastate(-1, 1, NULL_UUID), recovered: recoverLog(`${NULL_UUID}:-1`) }),
        node('b', { grastate: grastate(-1), recovered: recoverLog(`${UUID}:-1`) }),
        node('c', { grastate: grastate(10) }),
      ]),
    );
    expect(p.bootstrap).toBe('c');
    expect(p.rows.find((x) => x.node === 'a')!.note).toContain('null cluster UUID');
    expect(p.rows.find((x) => x.node === 'b')!.note).toContain('seqno -1 even after --wsrep-recover');

    const r = refusal(
      decideRecovery([
        node('a', { grastate: grastate(-1, 1, NULL_UUID), recovered: recoverLog(`${NULL_UUID}:-1`) }),
        node('b', { grastate: null, recovered: recoverLog(`${NULL_UUID}:-1`) }),
      ]),
    );
    expect(r.error.message).toContain('no node has a usable position');
  });

  it('never bootstraps a null-UUID node that claims safe_to_bootstrap: 1 (mariadb-operator#1701)', () => {
    const p = plan(
      decideRecovery([
        node('a', { grastate: grastate(-1, 1, NULL_UUID), recovered: recoverLog(`${NULL_UUID}:-1`) }),
        node('b', { grastate: grastate(3) }),
      ]),
    );
    expect(p.bootstrap).toBe('b');
  });

  it('requires one common UUID; an override may pick a side', () => {
    const nodes = [node('a', { grastate: grastate(90) }), node('b', { grastate: grastate(500, 0, OTHER) }), node('c', { grastate: grastate(95) })];
    const r = refusal(decideRecovery(nodes));
    expect(r.error.message).toContain('do not share one cluster UUID');
    const p = plan(decideRecovery(nodes, { override: 'c' }));
    expect(p.rows.find((x) => x.node === 'c')!.note).toContain('b has another UUID');
  });

  it('refuses while a seqno -1 node has not been through --wsrep-recover, and says which', () => {
    const r = refusal(decideRecovery([node('a'), node('b', { grastate: grastate(-1) }), node('c', { grastate: null })]));
    expect(r.needsWsrepRecover).toEqual(['b', 'c']);
    expect(r.error.message).toContain('b: seqno -1 (unclean stop): run --wsrep-recover on it first');
    expect(r.error.host).toBe('b');
  });

  it('refuses when --wsrep-recover printed no position, or contradicts grastate', () => {
    expect(refusal(decideRecovery([node('a'), node('b', { grastate: grastate(-1), recovered: '[ERROR] Aborting' })])).error.message).toContain(
      'no "Recovered position" line',
    );
    expect(
      refusal(decideRecovery([node('a'), node('b', { grastate: grastate(-1), recovered: recoverLog(`${OTHER}:900`) })])).error.message,
    ).toContain(`grastate.dat says ${UUID} but --wsrep-recover says ${OTHER}`);
  });

  it('prefers grastate when it has a seqno (no wsrep-recover needed)', () => {
    const p = plan(decideRecovery([node('a', { grastate: grastate(10), recovered: recoverLog(`${UUID}:999`) }), node('b', { grastate: grastate(20) })]));
    expect(p.bootstrap).toBe('b');
    expect(p.rows.find((x) => x.node === 'a')!.source).toBe('grastate');
  });

  it('puts the table of what it saw into the refusal message', () => {
    const r = refusal(decideRecovery([node('a'), node('b', { running: true })]));
    expect(r.error.message).toContain('| node | uuid');
    expect(r.table.split('\n')).toHaveLength(4);
  });
});
