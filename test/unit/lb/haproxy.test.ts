import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type HaproxyModel,
  parseHaproxyStat,
  renderHaproxyConfig,
  serverState,
  writerOf,
} from '../../../src/components/haproxy/index.js';
import { DeployError } from '../../../src/errors.js';

const nodes = [
  { name: 'node1', address: '10.0.0.11' },
  { name: 'node2', address: '10.0.0.12' },
  { name: 'node3', address: '10.0.0.13' },
];
const moodle: HaproxyModel = { dbNodes: nodes, web: { servers: nodes } };

const GLOBAL_AND_DEFAULTS = [
  '# Rendered by lms-ha (deploy-lb); local edits are overwritten.',
  'global',
  '    log /dev/log local0',
  '    log /dev/log local1 notice',
  '    chroot /var/lib/haproxy',
  '    stats socket /run/haproxy/admin.sock mode 660 level admin',
  '    stats timeout 30s',
  '    user haproxy',
  '    group haproxy',
  '    daemon',
  '    maxconn 4096',
  '',
  'defaults',
  '    log global',
  '    mode tcp',
  '    option tcplog',
  '    option dontlognull',
  '    timeout connect 2s',
  '    timeout client 8h',
  '    timeout server 8h',
  '    timeout check 2s',
  '',
];

const WRITER = [
  '# Single writer: the first db node; the others take over in inventory order.',
  'listen galera_writer',
  '    bind *:3307',
  '    mode tcp',
  '    option tcpka',
  '    option httpchk',
  '    http-check expect status 200',
  '    retries 1',
  '    option redispatch',
  '    default-server port 9200 inter 1s fastinter 250ms downinter 1s fall 2 rise 3 observe layer4 error-limit 1 on-error mark-down on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions',
  '    server node1 10.0.0.11:3306 check',
  '    server node2 10.0.0.12:3306 check backup',
  '    server node3 10.0.0.13:3306 check backup',
  '',
];

const READER_ALL = [
  '# Readers: every synced node, fewest connections first.',
  'listen galera_reader',
  '    bind *:3308',
  '    mode tcp',
  '    balance leastconn',
  '    option tcpka',
  '    option httpchk',
  '    http-check expect status 200',
  '    retries 1',
  '    option redispatch',
  '    default-server port 9200 inter 1s fastinter 250ms downinter 1s fall 2 rise 3 observe layer4 error-limit 1 on-error mark-down on-marked-down shutdown-sessions',
  '    server node1 10.0.0.11:3306 check',
  '    server node2 10.0.0.12:3306 check',
  '    server node3 10.0.0.13:3306 check',
  '',
];

const WEB = [
  '# Web farm (seed 004): plain HTTP to the web hosts; 2xx/3xx on the check path is healthy.',
  'frontend web',
  '    bind *:80',
  '    mode http',
  '    option httplog',
  '    option forwardfor',
  '    timeout client 5m',
  '    timeout http-request 10s',
  '    default_backend web_farm',
  '',
  'backend web_farm',
  '    mode http',
  '    balance roundrobin',
  '    option httpchk GET /',
  '    timeout server 5m',
  '    default-server inter 2s fall 2 rise 3',
  '    server node1 10.0.0.11:80 check',
  '    server node2 10.0.0.12:80 check',
  '    server node3 10.0.0.13:80 check',
  '',
];

const STATS = [
  '# Stats page for keepalived and operators on this host only.',
  'listen stats',
  '    bind 127.0.0.1:8404',
  '    mode http',
  '    option httplog',
  '    option dontlog-normal',
  '    timeout client 30s',
  '    stats enable',
  '    stats uri /',
  '    stats refresh 10s',
  '',
];

describe('renderHaproxyConfig', () => {
  it('renders the Moodle layout (writer 3307, readers 3308, web 80) line by line', () => {
    expect(renderHaproxyConfig(moodle)).toBe([...GLOBAL_AND_DEFAULTS, ...WRITER, ...READER_ALL, ...WEB, ...STATS].join('\n'));
  });

  it('leaves out the web farm when there is none', () => {
    expect(renderHaproxyConfig({ dbNodes: nodes })).toBe([...GLOBAL_AND_DEFAULTS, ...WRITER, ...READER_ALL, ...STATS].join('\n'));
  });

  it("keeps reads off the writer with readers: 'non-writer-first'", () => {
    const text = renderHaproxyConfig({ dbNodes: nodes, readers: 'non-writer-first' });
    const reader = text.slice(text.indexOf('listen galera_reader'), text.indexOf('listen stats'));
    expect(reader).toContain('    server node1 10.0.0.11:3306 check backup\n    server node2 10.0.0.12:3306 check\n    server node3 10.0.0.13:3306 check\n');
    expect(text).toContain('# Readers: the nodes other than the writer; the writer only when none of them is up.');
  });

  it('a single db node is never a backup of itself', () => {
    const text = renderHaproxyConfig({ dbNodes: [nodes[0]], readers: 'non-writer-first' });
    expect(text).not.toMatch(/check backup/);
  });

  it('applies ports, check port, stats port, bind address, web check path and server ports', () => {
    const text = renderHaproxyConfig({
      dbNodes: [{ name: 'db1', address: '10.1.0.11', port: 3316 }],
      writerPort: 4407,
      readerPort: 4408,
      checkPort: 9201,
      statsPort: 9000,
      bindAddress: '10.1.0.100',
      maxConnections: 2000,
      web: { port: 8080, checkPath: '/login/index.php', servers: [{ name: 'web1', address: '10.1.0.31', port: 8081 }] },
    });
    for (const line of [
      '    maxconn 2000',
      '    bind 10.1.0.100:4407',
      '    bind 10.1.0.100:4408',
      '    bind 10.1.0.100:8080',
      '    option redispatch',
      '    default-server port 9201 inter 1s fastinter 250ms downinter 1s fall 2 rise 3 observe layer4 error-limit 1 on-error mark-down on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions',
      '    server db1 10.1.0.11:3316 check',
      '    option httpchk GET /login/index.php',
      '    server web1 10.1.0.31:8081 check',
      '    bind 127.0.0.1:9000',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
  });

  it('is deterministic and never mentions mysql-check', () => {
    const a = renderHaproxyConfig(moodle);
    expect(renderHaproxyConfig(structuredClone(moodle))).toBe(a);
    expect(a).not.toContain('mysql-check');
  });

  it('refuses broken models with invalid-inventory', () => {
    const bad: HaproxyModel[] = [
      { dbNodes: [] },
      { dbNodes: [nodes[0], nodes[0]] },
      { dbNodes: [{ name: 'bad name', address: '10.0.0.1' }] },
      { dbNodes: [{ name: 'n', address: '10.0.0.1\n    server evil 6.6.6.6:3306' }] },
      { dbNodes: nodes, writerPort: 3308 },
      { dbNodes: nodes, web: { servers: nodes, port: 3307 } },
      { dbNodes: nodes, readerPort: 0 },
      { dbNodes: nodes, web: { servers: nodes, checkPath: 'no-slash' } },
      { dbNodes: nodes, web: { servers: [] } },
    ];
    for (const m of bad) {
      let reason = '';
      try {
        renderHaproxyConfig(m);
      } catch (e) {
        reason = e instanceof DeployError ? e.reason : 'other';
      }
      expect(reason, JSON.stringify(m)).toBe('invalid-inventory');
    }
  });

  const haproxy = spawnSync('haproxy', ['-v']).status === 0;
  it.skipIf(!haproxy)('is accepted by haproxy -c without warnings (when haproxy is installed)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lms-ha-haproxy-'));
    try {
      const file = join(dir, 'haproxy.cfg');
      writeFileSync(file, renderHaproxyConfig(moodle));
      const result = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
      expect(`${result.stdout}${result.stderr}`).not.toMatch(/WARNING|ALERT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Captured from HAProxy 2.6.12 (Debian 12) running the rendered writer/reader
// listeners against three health endpoints: node1 answering 503, node2 and
// node3 200, and node3 disabled in the reader (`disable server`).
const SAMPLE = readFileSync(new URL('./fixtures/haproxy-2.6-show-stat.csv', import.meta.url), 'utf8');

describe('parseHaproxyStat', () => {
  it('reads backends, servers, roles and check results from a real show stat', () => {
    const stats = parseHaproxyStat(SAMPLE);
    expect(stats.backends.map((b) => [b.name, b.state])).toEqual([
      ['galera_writer', 'UP'],
      ['galera_reader', 'UP'],
      ['stats', 'UP'],
    ]);
    expect(stats.frontends).toEqual({ galera_writer: 'OPEN', galera_reader: 'OPEN', stats: 'OPEN' });
    const writer = stats.backends[0];
    expect(writer.servers.map((s) => [s.name, s.state, s.backup, s.checkStatus, s.address])).toEqual([
      ['node1', 'DOWN', false, 'L7STS', '127.0.0.1:13306'],
      ['node2', 'UP', true, 'L7OK', '127.0.0.2:13306'],
      ['node3', 'UP', true, 'L7OK', '127.0.0.3:13306'],
    ]);
    expect(writer.servers[0].lastChangeSeconds).toBe(11);
    const reader = stats.backends[1];
    expect(reader.servers.map((s) => [s.name, s.state, s.backup])).toEqual([
      ['node1', 'DOWN', false],
      ['node2', 'UP', false],
      ['node3', 'MAINT', false],
    ]);
  });

  it('finds the writer: the first UP backup while the active server is down', () => {
    expect(writerOf(parseHaproxyStat(SAMPLE))?.name).toBe('node2');
  });

  it('finds the writer: the active server once it is UP again', () => {
    const recovered = SAMPLE.replace(/^(galera_writer,node1,(?:[^,]*,){15})DOWN,/m, '$1UP,');
    expect(writerOf(parseHaproxyStat(recovered))?.name).toBe('node1');
  });

  it('prefers an UP active server over UP backups whatever the order', () => {
    const csv = ['# pxname,svname,status,bck,sid', 'galera_writer,node2,UP,1,1', 'galera_writer,node1,UP,0,2', 'galera_writer,BACKEND,UP,,0', ''].join('\n');
    expect(writerOf(parseHaproxyStat(csv))?.name).toBe('node1');
    const backupsOnly = csv.replace('galera_writer,node1,UP,0,2', 'galera_writer,node1,DOWN,0,2');
    expect(writerOf(parseHaproxyStat(backupsOnly))?.name).toBe('node2');
  });

  it('finds no writer when nothing is UP, and none for an unknown listener', () => {
    const allDown = SAMPLE.replace(/^(galera_writer,node[23],(?:[^,]*,){15})UP,/gm, '$1DOWN,');
    expect(writerOf(parseHaproxyStat(allDown))).toBeNull();
    expect(writerOf(parseHaproxyStat(SAMPLE), 'nope')).toBeNull();
  });

  it('maps every status HAProxy prints', () => {
    expect(
      ['UP', 'UP 1/3', 'DOWN', 'DOWN 1/2', 'MAINT', 'MAINT (via galera_writer/node1)', 'MAINT (resolution)', 'NOLB', 'DRAIN', 'no check', 'OPEN'].map(serverState),
    ).toEqual(['UP', 'UP', 'DOWN', 'DOWN', 'MAINT', 'MAINT', 'MAINT', 'NOLB', 'DRAIN', 'NO_CHECK', 'OTHER']);
  });

  it('finds columns by name and copes with quoted fields', () => {
    const csv = [
      '# svname,pxname,status,bck,check_desc',
      'node1,galera_writer,UP,0,"Layer7 check passed, really"',
      'node2,galera_writer,UP,1,"said ""ok"""',
      '',
    ].join('\n');
    const stats = parseHaproxyStat(csv.replace('# svname,pxname', '# pxname,svname').replace(/^node(\d),galera_writer/gm, 'galera_writer,node$1'));
    expect(stats.backends[0].servers.map((s) => [s.name, s.backup])).toEqual([
      ['node1', false],
      ['node2', true],
    ]);
  });

  it('rejects output without the CSV header', () => {
    expect(() => parseHaproxyStat('Unknown command\n')).toThrow(/no "# pxname/);
  });
});
