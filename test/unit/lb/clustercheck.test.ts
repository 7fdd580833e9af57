import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClustercheckModel,
  clustercheckAccountSql,
  parseClustercheckResponse,
  renderClustercheckFiles,
  renderClustercheckNftables,
  renderClustercheckFirewallUnit,
  renderNftablesServiceDropIn,
  renderClustercheckScript,
  renderClustercheckServiceUnit,
  renderClustercheckSocketUnit,
} from '../../../src/components/clustercheck/index.js';
import { DeployError } from '../../../src/errors.js';

const model: ClustercheckModel = { listenAddress: '10.0.0.11', allowedSources: ['10.0.0.21', '10.0.0.22'] };

describe('clustercheck systemd units', () => {
  it('renders the socket unit: bound to the node, Accept=yes, only the LBs, the node and localhost allowed', () => {
    expect(renderClustercheckSocketUnit(model)).toBe(
      [
        '# Rendered by lms-ha (deploy-lb); local edits are overwritten.',
        '[Unit]',
        'Description=lms-ha Galera health check for the load balancers (HTTP 9200)',
        '',
        '[Socket]',
        'ListenStream=10.0.0.11:9200',
        '# The address may not be up yet when sockets start at boot.',
        'FreeBind=yes',
        'Accept=yes',
        'MaxConnections=32',
        'IPAddressDeny=any',
        'IPAddressAllow=localhost 10.0.0.11 10.0.0.21 10.0.0.22',
        '',
        '[Install]',
        'WantedBy=sockets.target',
        '',
      ].join('\n'),
    );
  });

  it('renders the per-connection service: unprivileged, socket on stdin/stdout, runtime limit', () => {
    expect(renderClustercheckServiceUnit(model)).toBe(
      [
        '# Rendered by lms-ha (deploy-lb); local edits are overwritten.',
        '[Unit]',
        'Description=lms-ha Galera health check (one request)',
        '',
        '[Service]',
        'ExecStart=/usr/local/lib/lms-ha/clustercheck',
        'User=clustercheck',
        'Group=clustercheck',
        'StandardInput=socket',
        'StandardOutput=socket',
        'StandardError=journal',
        'RuntimeMaxSec=10',
        '# Failed instances (a timeout) are garbage-collected instead of piling up.',
        'CollectMode=inactive-or-failed',
        'NoNewPrivileges=yes',
        'PrivateTmp=yes',
        'ProtectSystem=full',
        'ProtectHome=yes',
        '# The script talks to MariaDB over its unix socket only. This list does not',
        '# apply to the accepted connection passed in by the socket unit.',
        'IPAddressDeny=any',
        '',
      ].join('\n'),
    );
  });

  it('brackets IPv6 listen addresses and honours a custom port', () => {
    const unit = renderClustercheckSocketUnit({ listenAddress: 'fd00::11', port: 9201, allowedSources: ['fd00::21'] });
    expect(unit).toContain('ListenStream=[fd00::11]:9201\n');
    expect(unit).toContain('IPAddressAllow=localhost fd00::11 fd00::21\n');
  });

  it('lists the files with owners and modes (script executable, units world-readable)', () => {
    const files = renderClustercheckFiles(model);
    expect(files.map((f) => [f.path, f.mode.toString(8), f.owner])).toEqual([
      ['/usr/local/lib/lms-ha/clustercheck', '755', 'root'],
      ['/etc/systemd/system/lms-ha-clustercheck.socket', '644', 'root'],
      ['/etc/systemd/system/lms-ha-clustercheck@.service', '644', 'root'],
    ]);
  });

  it('is deterministic', () => {
    expect(renderClustercheckFiles(model)).toEqual(renderClustercheckFiles({ ...model, allowedSources: [...model.allowedSources] }));
  });

  it('refuses unusable input with invalid-inventory', () => {
    const bad: ClustercheckModel[] = [
      { ...model, listenAddress: 'db1; rm -rf /' },
      { ...model, allowedSources: [] },
      { ...model, allowedSources: ['everyone'] },
      { ...model, port: 70000 },
      { ...model, maintenanceFile: "/etc/x' y" },
    ];
    for (const m of bad) {
      expect(() => renderClustercheckSocketUnit(m)).toThrow(DeployError);
      let reason = '';
      try {
        renderClustercheckScript(m);
      } catch (e) {
        reason = (e as DeployError).reason;
      }
      expect(reason, JSON.stringify(m)).toBe('invalid-inventory');
    }
  });
});

describe('clustercheck account and firewall', () => {
  it('creates the account with unix_socket and no grant', () => {
    const sql = clustercheckAccountSql();
    expect(sql).toBe(
      "CREATE USER IF NOT EXISTS 'clustercheck'@'localhost' IDENTIFIED VIA unix_socket;\n" +
        "ALTER USER 'clustercheck'@'localhost' IDENTIFIED VIA unix_socket;\n",
    );
    expect(sql).not.toMatch(/GRANT|PASSWORD|IDENTIFIED BY/i);
  });

  it('renders the unit that loads the fence early and again whenever nftables.service flushes the ruleset', () => {
    const unit = renderClustercheckFirewallUnit('/etc/lms-ha/clustercheck.nft');
    const lines = unit.split('\n');
    // Before the socket listens, without the default After=basic.target (which comes after sockets: a cycle).
    expect(lines).toContain('DefaultDependencies=no');
    expect(lines).toContain('Before=network-pre.target lms-ha-clustercheck.socket shutdown.target');
    expect(lines).toContain('WantedBy=sysinit.target');
    // After the operator's nftables.service (its start flushes the ruleset), but never stopped with it:
    // a stop propagated from it would delete the table and open the port.
    expect(lines).toContain('After=local-fs.target nftables.service');
    expect(unit).not.toMatch(/PartOf|BindsTo|Requires/);
    // It only ever loads its file and deletes its own table: never `flush ruleset`.
    expect(lines.filter((l) => l.startsWith('Exec'))).toEqual([
      'ExecStart=/usr/sbin/nft -f /etc/lms-ha/clustercheck.nft',
      'ExecReload=/usr/sbin/nft -f /etc/lms-ha/clustercheck.nft',
      'ExecStop=-/usr/sbin/nft delete table inet lms_ha_clustercheck',
    ]);
    expect(() => renderClustercheckFirewallUnit('/etc/$(x).nft')).toThrow(/plain absolute path/);
  });

  it("renders the nftables.service drop-in that loads the fence again after each flush of the operator's ruleset", () => {
    const dropIn = renderNftablesServiceDropIn('/etc/lms-ha/clustercheck.nft');
    // Appended to the operator's unit (Exec lists add up in drop-ins), after start, reload and stop;
    // "-" so a missing file never fails the operator's firewall.
    expect(dropIn.split('\n').filter((l) => /^\[|^Exec/.test(l))).toEqual([
      '[Service]',
      'ExecStartPost=-/usr/sbin/nft -f /etc/lms-ha/clustercheck.nft',
      'ExecReload=-/usr/sbin/nft -f /etc/lms-ha/clustercheck.nft',
      'ExecStopPost=-/usr/sbin/nft -f /etc/lms-ha/clustercheck.nft',
    ]);
    expect(dropIn.split('\n').filter((l) => l.startsWith('Exec') && /flush|delete/.test(l))).toEqual([]);
    expect(() => renderNftablesServiceDropIn('/tmp/a b.nft')).toThrow(/plain absolute path/);
  });

  it('renders nftables rules in a table of its own', () => {
    expect(renderClustercheckNftables(model)).toBe(
      [
        '# Rendered by lms-ha (deploy-lb): only the load balancers reach the Galera health check.',
        '# Replaces the table inet lms_ha_clustercheck only; every other table is left as it is.',
        'table inet lms_ha_clustercheck',
        'delete table inet lms_ha_clustercheck',
        'table inet lms_ha_clustercheck {',
        '  chain input {',
        '    type filter hook input priority filter; policy accept;',
        '    tcp dport 9200 iif "lo" accept',
        '    tcp dport 9200 ip saddr { 10.0.0.11, 10.0.0.21, 10.0.0.22 } accept',
        '    tcp dport 9200 drop',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });
});

describe('clustercheck script (run for real with a stub mysql client)', () => {
  let dir: string;
  let script: string;
  let scriptDonor: string;
  const stub = (): string => join(dir, 'mysql');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lms-ha-clustercheck-'));
    // The stub records its arguments and prints what the test asks for.
    writeFileSync(
      stub(),
      `#!/bin/bash\nprintf '%s\\n' "$@" > "${dir}/args"\n[ -n "\${STUB_SLEEP:-}" ] && sleep "$STUB_SLEEP"\nprintf '%b' "\${STUB_OUT:-}"\nexit "\${STUB_RC:-0}"\n`,
    );
    chmodSync(stub(), 0o755);
    const m: ClustercheckModel = { ...model, mysqlBinary: stub(), maintenanceFile: join(dir, 'maintenance') };
    script = join(dir, 'clustercheck');
    writeFileSync(script, renderClustercheckScript(m));
    chmodSync(script, 0o755);
    scriptDonor = join(dir, 'clustercheck-donor');
    writeFileSync(scriptDonor, renderClustercheckScript({ ...m, availableWhenDonor: true }));
    chmodSync(scriptDonor, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const status = (vars: Record<string, string>): string =>
    `${Object.entries(vars)
      .map(([k, v]) => `${k}\\t${v}`)
      .join('\\n')}\\n`;
  const synced = { wsrep_cluster_status: 'Primary', wsrep_local_state: '4', wsrep_ready: 'ON', wsrep_desync: 'OFF', wsrep_reject_queries: 'NONE' };

  function run(path: string, env: Record<string, string>): Promise<{ stdout: string; ms: number }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = execFile('bash', [path], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 15000 }, (err, stdout) => {
        if (err) reject(err);
        else resolve({ stdout, ms: Date.now() - started });
      });
      child.stdin?.end('OPTIONS / HTTP/1.0\r\n\r\n');
    });
  }

  it('passes bash -n', () => {
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
  });

  it('answers 200 with a well-formed HTTP response when synced, and asks MariaDB the right way', async () => {
    const { stdout } = await run(script, { STUB_OUT: status(synced) });
    expect(stdout).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 8\r\n\r\nsynced\r\n');
    const args = readFileSync(join(dir, 'args'), 'utf8').split('\n');
    expect(args[0]).toBe('--no-defaults');
    expect(args).toContain('--protocol=socket');
    expect(args).toContain('--socket=/run/mysqld/mysqld.sock');
    expect(args).toContain('--user=clustercheck');
    expect(args).toContain('--connect-timeout=1');
    expect(args.find((a) => a.startsWith('--execute='))).toMatch(/^--execute=SET SESSION wsrep_sync_wait=0; SHOW GLOBAL STATUS/);
    expect(args.join(' ')).not.toMatch(/password/i);
  });

  const cases: [string, Record<string, string>, RegExp][] = [
    ['non-Primary', { ...synced, wsrep_cluster_status: 'non-Primary' }, /not in the primary component \(wsrep_cluster_status=non-Primary\)/],
    ['not ready', { ...synced, wsrep_ready: 'OFF' }, /wsrep not ready \(wsrep_ready=OFF\)/],
    ['donor', { ...synced, wsrep_local_state: '2' }, /donor\/desynced \(wsrep_local_state=2\)/],
    ['desynced on purpose', { ...synced, wsrep_local_state: '2', wsrep_desync: 'ON' }, /desynced on purpose/],
    ['joining', { ...synced, wsrep_local_state: '1' }, /not synced \(wsrep_local_state=1\)/],
    ['rejecting queries', { ...synced, wsrep_reject_queries: 'ALL' }, /rejecting queries \(wsrep_reject_queries=ALL\)/],
    ['not a Galera node', {}, /wsrep status unavailable/],
  ];
  for (const [name, vars, reason] of cases) {
    it(`answers 503 when ${name}`, async () => {
      const { stdout } = await run(script, { STUB_OUT: status(vars) });
      const answer = parseClustercheckResponse(stdout);
      expect(answer.status).toBe(503);
      expect(answer.healthy).toBe(false);
      expect(answer.reason).toMatch(reason);
      const body = stdout.slice(stdout.indexOf('\r\n\r\n') + 4);
      expect(stdout).toContain(`Content-Length: ${Buffer.byteLength(body)}\r\n`);
    });
  }

  it('accepts a real donor only when allowed, never a deliberately desynced node', async () => {
    expect(parseClustercheckResponse((await run(scriptDonor, { STUB_OUT: status({ ...synced, wsrep_local_state: '2' }) })).stdout).status).toBe(200);
    expect(
      parseClustercheckResponse((await run(scriptDonor, { STUB_OUT: status({ ...synced, wsrep_local_state: '2', wsrep_desync: 'ON' }) })).stdout).status,
    ).toBe(503);
  });

  it('answers 503 in maintenance without asking MariaDB', async () => {
    writeFileSync(join(dir, 'maintenance'), '');
    rmSync(join(dir, 'args'), { force: true });
    try {
      const answer = parseClustercheckResponse((await run(script, { STUB_OUT: status(synced) })).stdout);
      expect(answer.status).toBe(503);
      expect(answer.reason).toBe(`maintenance: ${join(dir, 'maintenance')} exists`);
      expect(() => readFileSync(join(dir, 'args'))).toThrow();
    } finally {
      rmSync(join(dir, 'maintenance'));
    }
  });

  it('answers 503 when mysql fails', async () => {
    const answer = parseClustercheckResponse((await run(script, { STUB_OUT: '', STUB_RC: '1' })).stdout);
    expect(answer).toEqual({ status: 503, reason: 'mysql unreachable or too slow', healthy: false });
  });

  it('cannot hang: a stuck server gets 503 within the hard timeout', async () => {
    const { stdout, ms } = await run(script, { STUB_OUT: status(synced), STUB_SLEEP: '20' });
    expect(parseClustercheckResponse(stdout).status).toBe(503);
    expect(ms).toBeLessThan(6000);
  }, 15000);

  it('keeps server-provided values short and printable in the answer', async () => {
    const { stdout } = await run(script, { STUB_OUT: status({ ...synced, wsrep_cluster_status: 'non-Primary<script>$(x)' }) });
    expect(parseClustercheckResponse(stdout).reason).toBe('not in the primary component (wsrep_cluster_status=non-Primaryscriptx)');
  });
});

describe('parseClustercheckResponse', () => {
  it('parses 200 and 503 answers', () => {
    expect(parseClustercheckResponse('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsynced\r\n')).toEqual({ status: 200, reason: 'synced', healthy: true });
    expect(parseClustercheckResponse('HTTP/1.1 503 Service Unavailable\r\n\r\nmaintenance: x exists\r\n').healthy).toBe(false);
  });

  it('rejects something that is not HTTP', () => {
    expect(() => parseClustercheckResponse('curl: (7) Failed to connect')).toThrow(/did not answer with HTTP/);
  });
});
