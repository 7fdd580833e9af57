import { describe, expect, it } from 'vitest';
import { allFacts, FACTS, factSnippet, factsGatheredBy, readFact } from '../../../src/facts/registry.js';
import type { RemoteHost, RunOptions } from '../../../src/ssh/types.js';

/** Snippet arguments a test inventory would give. */
const ARGS: Record<string, unknown> = {
  host: undefined,
  packages: ['mariadb-server', 'galera-4'],
  'host-state': { packages: ['haproxy'], users: ['keepalived_script'], dirs: ['/etc/lms-ha'], files: [{ path: '/etc/haproxy/haproxy.cfg', read: true }], units: ['haproxy'], commands: ['nft'] },
  galera: undefined,
  'health-db': undefined,
  'health-lb': { kind: 'haproxy', vip: '10.0.0.100/24', writerPort: 3306, clustercheckPort: 9200, dbNodes: [{ name: 'db1', address: '10.0.0.11' }] },
  'gluster-peers': undefined,
  'gluster-volume': 'moodledata',
  'gluster-client': '/var/www/moodledata',
  'gluster-server': { volume: 'moodledata', brickPath: '/storage/brick' },
  'gluster-mount-host': { mountPath: '/var/www/moodledata', owner: 'www-data', group: 'www-data' },
  rclone: undefined,
  causality: { table: 'lms_ha.causality_probe', token: 'x', writer: 'db1', reader: 'db2' },
  lock: 'prod',
};

// What a read-only snippet never does: write a file (other than /dev/null; `3<>/dev/tcp` is a socket), change a package, a user or a unit.
const WRITES = /(^|[^>2&<])>(?!\s*\/dev\/null|&)|\brm\b|\binstall -d\b|\buseradd\b|\bapt-get\b|systemctl (start|stop|restart|reload|enable|disable)\b/;

describe('the fact registry', () => {
  it('names every fact once', () => {
    const names = allFacts().map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(['host', 'packages', 'host-state', 'galera', 'health-db', 'health-lb', 'gluster-peers', 'gluster-volume', 'gluster-client', 'gluster-server', 'gluster-mount-host', 'rclone', 'causality', 'lock']);
  });

  it.each(allFacts().map((f) => [f.name, f] as const))('%s: a snippet that reads only, unless marked as writing', (name, f) => {
    const snippet = (f.snippet as (a: unknown) => string)(ARGS[name]);
    expect(snippet.length).toBeGreaterThan(0);
    if (f.readOnly) expect(snippet).not.toMatch(WRITES);
  });

  it('knows which command gathers what', () => {
    expect(factsGatheredBy('deploy-db').map((f) => f.name)).toEqual(['host', 'packages', 'galera', 'lock']);
    expect(factsGatheredBy('preflight').map((f) => f.name)).toEqual(['host', 'lock']);
    expect(FACTS.causality.readOnly).toBe(false);
  });

  it('runs a fact only for a command it is listed for', async () => {
    const ran: { command: string; options: RunOptions }[] = [];
    const host = { name: 'db1', run: async (command: string, options: RunOptions) => (ran.push({ command, options }), { code: 0, stdout: 'out', stderr: '' }) } as unknown as RemoteHost;
    const r = await readFact(host, 'migrate-storage', FACTS.rclone, undefined, { purpose: 'look for rclone' });
    expect(r.stdout).toBe('out');
    expect(ran).toEqual([{ command: FACTS.rclone.snippet(), options: { purpose: 'look for rclone' } }]);
    expect(() => factSnippet('deploy-lb', FACTS.galera, undefined)).toThrow('deploy-lb reads the galera fact, which src/facts/registry.ts does not list for it');
    expect(factSnippet('deploy-db', FACTS.galera, undefined)).toBe(FACTS.galera.snippet());
  });
});
