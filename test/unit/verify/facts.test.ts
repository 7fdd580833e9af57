import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  causalityScript,
  clientOptionFile,
  dbFactsScript,
  glusterClientScript,
  glusterPeerScript,
  glusterVolumeScript,
  lbFactsScript,
  parseCausality,
  parseDbFacts,
  parseGlusterClientFacts,
  parseLbFacts,
  withCredentialsFile,
} from '../../../src/facts/health.js';
import { wrapCommand } from '../../../src/ssh/quote.js';

const scripts = {
  db: dbFactsScript(),
  haproxy: lbFactsScript({ kind: 'haproxy', vip: '10.0.0.100', writerPort: 3307, clustercheckPort: 9200, dbNodes: [{ name: 'db1', address: '10.0.0.11' }] }),
  proxysql: lbFactsScript({ kind: 'proxysql', vip: '10.0.0.100', writerPort: 6033, dbNodes: [], adminPort: 6032 }),
  glusterPeers: glusterPeerScript(),
  glusterVolume: glusterVolumeScript('moodledata'),
  glusterClient: glusterClientScript('/var/www/moodle data'),
  causality: causalityScript({ vip: '10.0.0.100', writerPort: 3307, readerPort: 3308, syncWait: 1, id: 'verify-ha', token: 'abc123' }),
};

describe('fact scripts', () => {
  it.each(Object.entries(scripts))('%s is valid POSIX sh, also as sent (sh -c under sudo/timeout)', (_name, script) => {
    execFileSync('sh', ['-n', '-c', script]);
    execFileSync('sh', ['-n', '-c', wrapCommand(script, { user: 'deploy', sudo: true, timeoutSeconds: 30 })]);
  });

  it('puts no secret on the command line: credentials come from stdin into a 0600 temp file', () => {
    expect(scripts.proxysql).toContain('umask 077');
    expect(scripts.proxysql).toContain('--defaults-extra-file="$cred"');
    expect(clientOptionFile('moodle', 'p"w\\x')).toBe('[client]\nuser="moodle"\npassword="p\\"w\\\\x"\n');
  });

  it('copies exactly the credential lines and leaves the rest of stdin to the client', () => {
    const script = withCredentialsFile(3, 'cat "$cred" | wc -l; cat');
    const out = execFileSync('sh', ['-c', script], { input: '[client]\nuser="a"\npassword="b"\nSELECT 1;\n' }).toString();
    expect(out).toBe('3\nSELECT 1;\n');
  });

  it('the write probe and causality script run as scripts do (local smoke, no network needed)', () => {
    // Without a client the causality script fails cleanly with both sections present.
    const out = execFileSync('sh', ['-c', scripts.causality.replace('c=$(command -v mariadb || command -v mysql)', 'c=/nonexistent/client')], {
      input: clientOptionFile('u', 'p'),
    }).toString();
    const r = parseCausality(out);
    expect(r.wrote).toBe(false);
    expect(r.readValue).toBeNull();
  });
});

describe('parsers', () => {
  it('a stopped server', () => {
    const f = parseDbFacts("@@mysqld\nstopped\n@@unit\ninactive\n@@sql\nERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)\n@@sqlrc\n1\n");
    expect(f).toMatchObject({ running: false, status: null, unit: 'inactive' });
    expect(f.sqlError).toContain('ERROR 2002');
  });

  it('a server that hangs: the timeout is named', () => {
    const f = parseDbFacts('@@mysqld\nrunning\n@@unit\nactive\n@@sql\n@@sqlrc\n124\n');
    expect(f).toMatchObject({ running: true, status: null, sqlError: 'timed out after 5 s' });
  });

  it('a plain MariaDB without wsrep: running, but no Galera status', () => {
    const f = parseDbFacts(
      "@@mysqld\nrunning\n@@unit\nactive\n@@sql\nERROR 1193 (HY000) at line 1: Unknown system variable 'wsrep_sync_wait'\nUptime\t100\nlms_ha_probe_table\t0\nlms_ha_nopk\t2\tapp.a,app.b\n@@sqlrc\n1\n",
    );
    expect(f.status).toBeNull();
    expect(f.sqlError).toContain('1193');
  });

  it('tables without a primary key and the probe table', () => {
    const f = parseDbFacts(
      '@@mysqld\nrunning\n@@unit\nactive\n@@sql\nwsrep_cluster_status\tPrimary\nwsrep_local_state\t4\nwsrep_local_state_comment\tSynced\nwsrep_ready\tON\nwsrep_connected\tON\nwsrep_cluster_size\t3\nwsrep_cluster_state_uuid\tu\nwsrep_cluster_conf_id\t3\nlms_ha_probe_table\t1\nlms_ha_nopk\t2\tmoodle.a,moodle.b\n@@sqlrc\n0\n',
    );
    expect(f.probeTable).toBe(true);
    expect(f.noPk).toEqual({ count: 2, sample: ['moodle.a', 'moodle.b'] });
    expect(f.status?.clusterSize).toBe(3);
  });

  it('the VIP greeting, a refused connection and a timeout', () => {
    const base = '@@ipaddr\n@@keepalived\nactive\n@@haproxy\nactive\n@@stat\n\n@@vipconnect\n';
    expect(parseLbFacts(`${base}  91   0   0   0  10\nrc=0\n`, 'haproxy').vipAnswer).toEqual({ ok: true, detail: 'MySQL greeting (protocol 10)' });
    expect(parseLbFacts(`${base}bash: connect: Connection refused\nbash: line 1: /dev/tcp/10.0.0.100/3307: Connection refused\nrc=1\n`, 'haproxy').vipAnswer).toEqual({ ok: false, detail: 'Connection refused' });
    expect(parseLbFacts(`${base}rc=124\n`, 'haproxy').vipAnswer).toEqual({ ok: false, detail: 'timed out after 3 s' });
  });

  it('a clustercheck that does not answer HTTP, and stats that are not CSV', () => {
    const f = parseLbFacts('@@ipaddr\n@@keepalived\nactive\n@@vipconnect\nrc=1\n@@haproxy\nactive\n@@stat\nsocat: E connect(): No such file or directory\n@@cc db1\nbash: connect: Connection refused\nbash: line 1: /dev/tcp/10.0.0.11/9200: Connection refused\n', 'haproxy');
    expect(f.clustercheck?.get('db1')).toEqual({ error: 'Connection refused' });
    expect(f.haproxy?.stats).toBeNull();
    expect(f.haproxy?.statsError).toContain('socat');
  });

  it('a client whose probe failed', () => {
    const f = parseGlusterClientFacts('@@mounts\nlocalhost:/v /m fuse.glusterfs rw 0 0\n@@probe\nsh: 1: cannot create /m/.lms-ha-probe.x.1: Read-only file system\nrc=2\n');
    expect(f.probe).toEqual({ ok: false, detail: 'sh: 1: cannot create /m/.lms-ha-probe.x.1: Read-only file system' });
  });
});
