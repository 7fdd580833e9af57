import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findBlockedPorts, GALERA_PEER_PORTS } from '../../../src/components/nftables/index.js';

// Fixtures: `nft -j list ruleset` printed by nftables 1.0.6 (Debian 12, a lab
// host) for the ruleset of the same name in fixtures/nft/*.nft, loaded in an
// empty network namespace.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/nft/${name}.json`, import.meta.url), 'utf8');
const summary = (json: string, ignore: string[] = []) => findBlockedPorts(json, GALERA_PEER_PORTS, ignore).map((b) => `${b.table} ${b.chain} ${b.port}: ${b.how}`);

describe('findBlockedPorts', () => {
  it("finds the operator's rule that drops the SST port for everyone, not lms-ha's own fence", () => {
    const found = summary(fixture('operator'), ['inet lms_ha_clustercheck']);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^inet operator_filter input 4444: rule \d+ drops it$/);
    // The fence's own drop of 9200 is not a Galera port, and its table is ignored anyway.
    expect(findBlockedPorts(fixture('operator'), [{ port: 9200, label: 'check' }], ['inet lms_ha_clustercheck'])).toEqual([]);
    // Without the ignore list, the fence's drop of 9200 (after its accepts for the LBs) is not "for every source".
    expect(findBlockedPorts(fixture('operator'), [{ port: 9200, label: 'check' }])).toEqual([]);
  });

  it('a drop policy that accepts only ssh blocks every Galera port (established/related and loopback accepts do not count)', () => {
    expect(summary(fixture('ssh-only'))).toEqual([
      'inet filter input 4567: policy drop, no rule accepts it',
      'inet filter input 4568: policy drop, no rule accepts it',
      'inet filter input 4444: policy drop, no rule accepts it',
    ]);
  });

  it('a drop policy that lets the peers in is fine', () => {
    expect(summary(fixture('fenced'))).toEqual([]);
  });

  it('named sets and ranges are resolved; reject counts as drop', () => {
    const found = summary(fixture('sets'));
    expect(found.map((f) => f.replace(/rule \d+/, 'rule N'))).toEqual([
      'ip fw input 4567: rule N drops it',
      'ip fw input 4568: rule N drops it',
      'ip fw input 4444: rule N drops it',
    ]);
  });

  it('rules narrowed by source, UDP rules, accepts before drops and negated port sets are not reported', () => {
    expect(summary(fixture('narrowed'))).toEqual([]);
  });

  it('a jump may accept: not reported; a port the jump does not cover falls to the drop policy', () => {
    expect(summary(fixture('jump'))).toEqual(['inet fw input 4568: policy drop, no rule accepts it']);
  });

  it('nothing known, nothing reported', () => {
    expect(findBlockedPorts('')).toEqual([]);
    expect(findBlockedPorts('not json')).toEqual([]);
    expect(findBlockedPorts('{"nftables":[{"metainfo":{"version":"1.0.6"}}]}')).toEqual([]);
  });
});
