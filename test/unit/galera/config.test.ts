import { describe, expect, it } from 'vitest';
import {
  classifyConfigChange,
  compareGaleraConfig,
  galeraModel,
  parseOptionFile,
  parseSize,
  renderGaleraConfig,
  renderSstAuthFile,
  serverOptions,
  setGlobalValue,
  validateGaleraModel,
  versionAtLeast,
} from '../../../src/components/galera/index.js';
import { DeployError } from '../../../src/errors.js';

const nodes = [
  { name: 'db1', address: '10.0.0.11' },
  { name: 'db2', address: '10.0.0.12' },
  { name: 'db3', address: '10.0.0.13' },
];

const model = galeraModel({ clusterName: 'moodle', nodes });

describe('renderGaleraConfig', () => {
  it('renders the exact file for a node with the defaults', () => {
    expect(renderGaleraConfig(model, 'db2')).toBe(
      [
        '# managed by lms-ha: changes made here are overwritten by the next deploy-db.',
        '# Galera node db2 of cluster moodle.',
        '[mariadb]',
        'wsrep_on = ON',
        'wsrep_provider = /usr/lib/galera/libgalera_smm.so',
        'wsrep_cluster_name = moodle',
        'wsrep_cluster_address = gcomm://10.0.0.11,10.0.0.12,10.0.0.13',
        'wsrep_node_address = 10.0.0.12',
        'wsrep_node_name = db2',
        'wsrep_sst_method = mariabackup',
        'wsrep_sst_auth = mysql:',
        'wsrep_provider_options = "gcache.size=1G; evs.inactive_check_period=PT0.25S; evs.join_retrans_period=PT0.5S; evs.keepalive_period=PT0.5S; evs.suspect_timeout=PT2S"',
        'wsrep_sync_wait = 1',
        'binlog_format = ROW',
        'default_storage_engine = InnoDB',
        'innodb_autoinc_lock_mode = 2',
        'bind-address = 0.0.0.0',
        'port = 3306',
        'innodb_buffer_pool_size = 1G',
        'max_connections = 500',
        '',
      ].join('\n'),
    );
  });

  it('sorts extra and provider options, renders booleans as ON/OFF, and is deterministic', () => {
    const m = galeraModel({
      clusterName: 'edx',
      nodes,
      gcacheSize: '2G',
      syncWait: 3,
      providerOptions: { 'gcs.fc_limit': '160', 'evs.suspect_timeout': 'PT10S' },
      extra: { slow_query_log: true, 'max-allowed-packet': '64M', innodb_flush_log_at_trx_commit: 2 },
    });
    const text = renderGaleraConfig(m, 'db1');
    expect(text).toContain('wsrep_provider_options = "gcache.size=2G; evs.inactive_check_period=PT0.25S; evs.join_retrans_period=PT0.5S; evs.keepalive_period=PT0.5S; evs.suspect_timeout=PT10S; gcs.fc_limit=160"\n');
    expect(text).toContain('wsrep_sync_wait = 3\n');
    expect(text.endsWith(
      [
        '# extra options from the inventory',
        'innodb_flush_log_at_trx_commit = 2',
        'max-allowed-packet = 64M',
        'slow_query_log = ON',
        '',
      ].join('\n'),
    )).toBe(true);
    expect(renderGaleraConfig(m, 'db1')).toBe(text);
  });

  it('uses the per-node bind address and leaves the SST password out of the file', () => {
    const m = galeraModel({
      clusterName: 'c',
      nodes: [{ ...nodes[0]!, bindAddress: '10.0.0.11' }, nodes[1]!, nodes[2]!],
      sst: { auth: 'password', user: 'sst', passwordSecret: 'SST_PW' },
    });
    const text = renderGaleraConfig(m, 'db1');
    expect(text).toContain('bind-address = 10.0.0.11\n');
    expect(text).not.toContain('wsrep_sst_auth');
    expect(renderGaleraConfig(m, 'db3')).toContain('bind-address = 0.0.0.0\n');
  });

  it('omits wsrep_sst_auth for rsync', () => {
    const m = galeraModel({ clusterName: 'c', nodes, sst: { method: 'rsync' } });
    const text = renderGaleraConfig(m, 'db1');
    expect(text).toContain('wsrep_sst_method = rsync\n');
    expect(text).not.toContain('wsrep_sst_auth');
  });

  it('refuses an invalid model with every problem listed', () => {
    const bad = galeraModel({
      clusterName: 'bad name',
      nodes: [nodes[0]!, { name: 'db1', address: '10.0.0.11' }, nodes[2]!],
      gcacheSize: 'lots',
      syncWait: 16,
      extra: { max_connections: 10, 'x\ny': 'a' },
    });
    const problems = validateGaleraModel(bad);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('clusterName'),
        expect.stringContaining('"db1" is used twice'),
        expect.stringContaining('address 10.0.0.11 is used by another node'),
        expect.stringContaining('gcacheSize'),
        expect.stringContaining('syncWait'),
        expect.stringContaining('"max_connections" is managed by lms-ha'),
      ]),
    );
    expect(() => renderGaleraConfig(bad, 'db1')).toThrow(DeployError);
  });

  it('rejects 2 nodes, unix_socket with another user, and password auth without a secret', () => {
    expect(validateGaleraModel(galeraModel({ clusterName: 'c', nodes: nodes.slice(0, 2) }))).toEqual([
      expect.stringContaining('2 database nodes cannot keep quorum'),
    ]);
    expect(validateGaleraModel(galeraModel({ clusterName: 'c', nodes, sst: { auth: 'unix_socket', user: 'sst' } }))).toEqual([
      expect.stringContaining('cannot use unix_socket'),
    ]);
    expect(validateGaleraModel(galeraModel({ clusterName: 'c', nodes, sst: { auth: 'password' } }))).toEqual([
      expect.stringContaining('needs sst.passwordSecret'),
    ]);
  });
});

describe('renderSstAuthFile', () => {
  it('is only for password auth, root:mysql 0640, escapes the value and has a redacted twin', () => {
    expect(renderSstAuthFile(model, 'x')).toBeNull();
    const m = galeraModel({ clusterName: 'c', nodes, sst: { auth: 'password', user: 'sst', passwordSecret: 'P' } });
    const f = renderSstAuthFile(m, 'p"a\\ss:wörd')!;
    expect(f.mode).toBe(0o640);
    expect(f.owner).toBe('root');
    expect(f.group).toBe('mysql');
    expect(f.content).toContain('wsrep_sst_auth = "sst:p\\"a\\\\ss:wörd"\n');
    expect(f.redacted).not.toContain('wörd');
    // What the server reads back is the original value.
    expect(serverOptions(f.content).get('wsrep_sst_auth')).toBe('sst:p"a\\ss:wörd');
  });
});

describe('parseOptionFile / serverOptions', () => {
  it('reads back what we render', () => {
    const opts = serverOptions(renderGaleraConfig(model, 'db1'));
    expect(opts.get('bind_address')).toBe('0.0.0.0');
    expect(opts.get('wsrep_provider_options')).toBe('gcache.size=1G; evs.inactive_check_period=PT0.25S; evs.join_retrans_period=PT0.5S; evs.keepalive_period=PT0.5S; evs.suspect_timeout=PT2S');
    expect(opts.get('wsrep_sst_auth')).toBe('mysql:');
    expect(opts.get('max_connections')).toBe('500');
  });

  it('handles comments, quotes, bare options, client groups and later groups winning', () => {
    const text = [
      'ignored_before_group = 1',
      '[client]',
      'port = 9999',
      '[mysqld]',
      'max_connections = 100 # old value',
      'skip-name-resolve',
      "; a comment",
      '!includedir /etc/mysql/conf.d/',
      '[galera]',
      "max_connections = '200'",
      'wsrep-sync-wait=0',
    ].join('\n');
    const parsed = parseOptionFile(text);
    expect(parsed.groups.get('client')?.get('port')).toBe('9999');
    const opts = serverOptions(parsed);
    expect(opts.get('port')).toBeUndefined();
    expect(opts.get('max_connections')).toBe('200');
    expect(opts.get('skip_name_resolve')).toBe('');
    expect(opts.get('wsrep_sync_wait')).toBe('0');
    expect(opts.has('ignored_before_group')).toBe(false);
  });
});

describe('classifyConfigChange', () => {
  const base = serverOptions(renderGaleraConfig(model, 'db1'));

  it('reports nothing when nothing changed', () => {
    const c = classifyConfigChange(base, new Map(base));
    expect(c.changes).toEqual([]);
    expect(c.restartRequired).toBe(false);
    expect(c.setGlobal).toEqual([]);
  });

  it('applies max_connections, wsrep_sync_wait and the buffer pool live, in bytes', () => {
    const next = serverOptions(
      renderGaleraConfig(galeraModel({ clusterName: 'moodle', nodes, maxConnections: 800, syncWait: 7, bufferPoolSize: '2G' }), 'db1'),
    );
    const c = classifyConfigChange(base, next);
    expect(c.restartRequired).toBe(false);
    expect(c.changes.map((x) => [x.key, x.apply])).toEqual([
      ['innodb_buffer_pool_size', 'set-global'],
      ['max_connections', 'set-global'],
      ['wsrep_sync_wait', 'set-global'],
    ]);
    expect(c.setGlobal).toEqual([
      'SET GLOBAL innodb_buffer_pool_size = 2147483648',
      'SET GLOBAL max_connections = 800',
      'SET GLOBAL wsrep_sync_wait = 7',
    ]);
  });

  it('needs a rolling restart for gcache.size and names the sub-option', () => {
    const next = serverOptions(renderGaleraConfig(galeraModel({ clusterName: 'moodle', nodes, gcacheSize: '4G' }), 'db1'));
    const c = classifyConfigChange(base, next);
    expect(c.changes).toEqual([{ key: 'wsrep_provider_options.gcache.size', from: '1G', to: '4G', apply: 'restart' }]);
    expect(c.restartRequired).toBe(true);
    expect(c.restartBecause).toEqual(['wsrep_provider_options.gcache.size']);
    expect(c.setGlobal).toEqual([]);
  });

  it('treats a grown gcomm:// list as file-only (joining a node restarts no one)', () => {
    const grown = galeraModel({ clusterName: 'moodle', nodes: [...nodes, { name: 'db4', address: '10.0.0.14' }] });
    const c = classifyConfigChange(base, serverOptions(renderGaleraConfig(grown, 'db1')));
    expect(c.changes).toEqual([
      {
        key: 'wsrep_cluster_address',
        from: 'gcomm://10.0.0.11,10.0.0.12,10.0.0.13',
        to: 'gcomm://10.0.0.11,10.0.0.12,10.0.0.13,10.0.0.14',
        apply: 'file-only',
      },
    ]);
    expect(c.restartRequired).toBe(false);
  });

  it('restarts for unknown or static options and resets removed dynamic ones to DEFAULT', () => {
    const c = classifyConfigChange(
      { bind_address: '0.0.0.0', 'max-allowed-packet': '16M', wait_timeout: '600' },
      { 'bind-address': '10.0.0.1', max_allowed_packet: '64M', some_new_thing: 'x' },
    );
    expect(c.changes.map((x) => [x.key, x.apply])).toEqual([
      ['bind_address', 'restart'],
      ['max_allowed_packet', 'set-global'],
      ['some_new_thing', 'restart'],
      ['wait_timeout', 'set-global'],
    ]);
    expect(c.setGlobal).toEqual(['SET GLOBAL max_allowed_packet = 67108864', 'SET GLOBAL wait_timeout = DEFAULT']);
    expect(c.restartBecause).toEqual(['bind_address', 'some_new_thing']);
  });
});

describe('compareGaleraConfig', () => {
  it('says identical, changed, or missing', () => {
    const text = renderGaleraConfig(model, 'db1');
    expect(compareGaleraConfig(text, text)).toMatchObject({ identical: true, missing: false });
    expect(compareGaleraConfig(text, text.replace('max_connections = 500', 'max_connections = 10'))).toMatchObject({
      identical: false,
      classification: { restartRequired: false, setGlobal: ['SET GLOBAL max_connections = 500'] },
    });
    expect(compareGaleraConfig(text, null)).toMatchObject({ identical: false, missing: true });
  });
});

describe('small helpers', () => {
  it('parseSize, setGlobalValue, versionAtLeast', () => {
    expect(parseSize('512M')).toBe(536870912);
    expect(parseSize('3k')).toBe(3072);
    expect(parseSize('1.5G')).toBeNull();
    expect(setGlobalValue('on')).toBe('ON');
    expect(setGlobalValue("it's")).toBe("'it\\'s'");
    expect(setGlobalValue('-1')).toBe('-1');
    expect(versionAtLeast('10.11', '10.5.9')).toBe(true);
    expect(versionAtLeast('10.5', '10.5.9')).toBe(false);
    expect(versionAtLeast('10.4.30', '10.5')).toBe(false);
  });
});
