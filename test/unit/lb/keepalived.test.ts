import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import {
  type KeepalivedModel,
  expandIPv6,
  holdsVip,
  keepalivedAuthPass,
  keepalivedPriority,
  parseCidr,
  parseIpAddrShow,
  renderKeepalivedCheckScript,
  renderKeepalivedConfig,
  renderKeepalivedNotifyScript,
  validateVirtualRouterIds,
} from '../../../src/components/keepalived/index.js';

const moodle: KeepalivedModel = {
  lbs: [
    { name: 'lb1', address: '10.0.0.21' },
    { name: 'lb2', address: '10.0.0.22' },
  ],
  vip: '10.0.0.100/24',
  interface: 'eth0',
  virtualRouterId: 51,
  authPassword: 's3cret',
  probe: { kind: 'haproxy', statsPort: 8404 },
};

function expected(self: { name: string; address: string; priority: number }, peer: string, pass = 's3cret'): string {
  return [
    '# Rendered by lms-ha (deploy-lb); local edits are overwritten.',
    '# Holds the auth password: keep this file root-only (0600).',
    'global_defs {',
    `    router_id ${self.name}`,
    '    enable_script_security',
    '    script_user keepalived_script',
    '    vrrp_garp_master_refresh 60',
    '}',
    '',
    'vrrp_script chk_proxy {',
    '    script "/etc/keepalived/lms-ha-check-proxy.sh"',
    '    interval 1',
    '    timeout 3',
    '    fall 1',
    '    rise 2',
    '}',
    '',
    'vrrp_instance LMS_HA_VIP {',
    '    state BACKUP',
    '    nopreempt',
    '    interface eth0',
    '    virtual_router_id 51',
    `    priority ${self.priority}`,
    '    advert_int 1',
    `    unicast_src_ip ${self.address}`,
    '    unicast_peer {',
    `        ${peer}`,
    '    }',
    '    authentication {',
    '        auth_type PASS',
    `        auth_pass ${pass}`,
    '    }',
    '    virtual_ipaddress {',
    '        10.0.0.100/24 dev eth0',
    '    }',
    '    track_script {',
    '        chk_proxy',
    '    }',
    '    notify "/etc/keepalived/lms-ha-notify.sh"',
    '}',
    '',
  ].join('\n');
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof DeployError ? e.reason : `not a DeployError: ${String(e)}`;
  }
  return 'no error';
}

describe('renderKeepalivedConfig', () => {
  it('renders lb1 (first in the inventory, priority 150) line by line', () => {
    const r = renderKeepalivedConfig(moodle, 'lb1');
    expect(r.files[0].content).toBe(expected({ name: 'lb1', address: '10.0.0.21', priority: 150 }, '10.0.0.22'));
    expect(r.warnings).toEqual([]);
  });

  it('renders lb2 with its own source, the other as peer, and priority 100', () => {
    const r = renderKeepalivedConfig(moodle, 'lb2');
    expect(r.files[0].content).toBe(expected({ name: 'lb2', address: '10.0.0.22', priority: 100 }, '10.0.0.21'));
  });

  it('writes keepalived.conf root-only and the scripts root-owned and not writable by others', () => {
    const r = renderKeepalivedConfig(moodle, 'lb1');
    expect(r.files.map((f) => [f.path, f.mode.toString(8), f.owner, f.group])).toEqual([
      ['/etc/keepalived/keepalived.conf', '600', 'root', 'root'],
      ['/etc/keepalived/lms-ha-check-proxy.sh', '755', 'root', 'root'],
      ['/etc/keepalived/lms-ha-notify.sh', '755', 'root', 'root'],
    ]);
  });

  it('reports the secret for redaction and is deterministic', () => {
    const a = renderKeepalivedConfig(moodle, 'lb1');
    expect(a.secrets).toContain('s3cret');
    expect(renderKeepalivedConfig(structuredClone(moodle), 'lb1')).toEqual(a);
  });

  it('gives priorities 150, 100, 90 ... by inventory order', () => {
    expect([0, 1, 2, 3].map(keepalivedPriority)).toEqual([150, 100, 90, 80]);
    const three = { ...moodle, lbs: [...moodle.lbs, { name: 'lb3', address: '10.0.0.23' }] };
    const lb3 = renderKeepalivedConfig(three, 'lb3').files[0].content;
    expect(lb3).toContain('    priority 90\n');
    expect(lb3).toContain('    unicast_peer {\n        10.0.0.21\n        10.0.0.22\n    }\n');
  });

  it('normalises a bare VIP to /32 on the given interface', () => {
    const text = renderKeepalivedConfig({ ...moodle, vip: '10.0.0.100', interface: 'ens18' }, 'lb1').files[0].content;
    expect(text).toContain('        10.0.0.100/32 dev ens18\n');
    expect(text).toContain('    interface ens18\n');
  });

  it('refuses broken models', () => {
    expect(reasonOf(() => renderKeepalivedConfig(moodle, 'lb9'))).toBe('invalid-inventory');
    expect(reasonOf(() => renderKeepalivedConfig({ ...moodle, virtualRouterId: 0 }, 'lb1'))).toBe('invalid-inventory');
    expect(reasonOf(() => renderKeepalivedConfig({ ...moodle, virtualRouterId: 256 }, 'lb1'))).toBe('invalid-inventory');
    expect(reasonOf(() => renderKeepalivedConfig({ ...moodle, vip: '10.0.0.21/24' }, 'lb1'))).toBe('invalid-inventory');
    expect(reasonOf(() => renderKeepalivedConfig({ ...moodle, vip: 'vip.example/24' }, 'lb1'))).toBe('invalid-inventory');
    expect(reasonOf(() => renderKeepalivedConfig({ ...moodle, interface: 'eth0 }' }, 'lb1'))).toBe('invalid-inventory');
    expect(reasonOf(() => renderKeepalivedConfig({ ...moodle, lbs: [moodle.lbs[0], { name: 'lb2', address: '10.0.0.21' }] }, 'lb1'))).toBe(
      'invalid-inventory',
    );
    expect(reasonOf(() => renderKeepalivedConfig({ ...moodle, cloudVipHook: 'relative/hook' }, 'lb1'))).toBe('invalid-inventory');
    expect(reasonOf(() => renderKeepalivedConfig({ ...moodle, probe: { kind: 'proxysql', mysqlPort: 0 } }, 'lb1'))).toBe('invalid-inventory');
  });

  const keepalived = spawnSync('keepalived', ['--version']).status === 0;
  // Printed when the keepalived_script user does not exist on the test machine
  // (deploy-lb creates it on the LBs).
  const KNOWN_WITHOUT_SCRIPT_USER = [
    /^\(Line \d+\) Error setting global script uid\/gid$/,
    /Unable to set default user for vrrp script chk_proxy - removing$/,
    /\(LMS_HA_VIP\) track script chk_proxy not found, ignoring\.\.\.$/,
  ];
  it.skipIf(!keepalived)('parses with keepalived --config-test without complaint (when keepalived is installed)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lms-ha-keepalived-'));
    try {
      for (const probe of [moodle.probe, { kind: 'proxysql', mysqlPort: 6033 } as const]) {
        const file = join(dir, 'keepalived.conf');
        writeFileSync(file, renderKeepalivedConfig({ ...moodle, probe, cloudVipHook: '/etc/lms-ha/vip-hook' }, 'lb1').files[0].content);
        const result = spawnSync('keepalived', ['--config-test', '-f', file], { encoding: 'utf8' });
        // keepalived 2.2 ends a config test that has scripts with SIGTERM to
        // itself; what matters is that it reported no problem.
        const complaints = `${result.stdout}${result.stderr}`
          .split('\n')
          .filter((l) => l.trim() !== '' && !KNOWN_WITHOUT_SCRIPT_USER.some((re) => re.test(l)));
        expect(complaints).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the 8-character auth_pass rule', () => {
  it('keeps a password of up to 8 characters as is', () => {
    expect(keepalivedAuthPass('12345678')).toEqual({ value: '12345678' });
    expect(keepalivedAuthPass('a')).toEqual({ value: 'a' });
  });

  it('renders only the first 8 characters of a longer secret, with a warning, the same on every LB', () => {
    const long = { ...moodle, authPassword: 'Sup3rLongGeneratedSecret' };
    const lb1 = renderKeepalivedConfig(long, 'lb1');
    const lb2 = renderKeepalivedConfig(long, 'lb2');
    expect(lb1.files[0].content).toContain('        auth_pass Sup3rLon\n');
    expect(lb2.files[0].content).toContain('        auth_pass Sup3rLon\n');
    expect(lb1.warnings).toHaveLength(1);
    expect(lb1.warnings[0]).toMatch(/only the first 8/);
    expect(lb1.warnings[0]).not.toContain('Sup3r');
    expect(lb1.secrets).toEqual(expect.arrayContaining(['Sup3rLon', 'Sup3rLongGeneratedSecret']));
  });

  it('refuses an empty secret as missing-secret, and characters keepalived.conf cannot carry as invalid-input', () => {
    expect(reasonOf(() => keepalivedAuthPass(''))).toBe('missing-secret');
    for (const bad of ['pa ss', 'pa#ss', 'pa!ss', 'pa"ss', "pa'ss", 'pa\\ss', 'pa{ss', 'pä', 'a\tb']) {
      expect(reasonOf(() => keepalivedAuthPass(bad)), bad).toBe('invalid-input');
    }
  });

  it('only judges the characters keepalived will use', () => {
    expect(keepalivedAuthPass('abcdefgh ### !!!').value).toBe('abcdefgh');
  });

  it('never puts the secret in an error message', () => {
    try {
      keepalivedAuthPass('bad#secret');
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('bad#secret');
      expect(String((e as DeployError).hint)).not.toContain('bad#secret');
    }
  });
});

describe('validateVirtualRouterIds', () => {
  it('accepts unique ids in range', () => {
    expect(
      validateVirtualRouterIds([
        { name: 'production', virtualRouterId: 51 },
        { name: 'staging', virtualRouterId: 52 },
      ]),
    ).toEqual([]);
  });

  it('reports duplicates, ids out of range and ids known to be taken', () => {
    expect(
      validateVirtualRouterIds(
        [
          { name: 'production', virtualRouterId: 51 },
          { name: 'staging', virtualRouterId: 51 },
          { name: 'lab', virtualRouterId: 0 },
          { name: 'edge', virtualRouterId: 256 },
          { name: 'dev', virtualRouterId: 7 },
          { name: 'frac', virtualRouterId: 1.5 },
        ],
        { taken: [7] },
      ),
    ).toEqual([
      'staging: virtual_router_id 51 is also used by production; every VIP needs its own id',
      'lab: virtual_router_id 0 is outside 1..255',
      'edge: virtual_router_id 256 is outside 1..255',
      'dev: virtual_router_id 7 is already used on the network; pick another',
      'frac: virtual_router_id 1.5 is outside 1..255',
    ]);
  });
});

// `ip -o addr show` from a Debian 12 LB holding the VIP (keepalived adds it as a
// secondary of the same subnet), with a veth peer suffix as in the lab.
const HOLDER = [
  '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
  '1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever',
  '2: eth0@if12    inet 10.0.0.21/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever',
  '2: eth0@if12    inet 10.0.0.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever',
  '2: eth0@if12    inet6 fe80::a8bb:ccff:fe00:21/64 scope link \\       valid_lft forever preferred_lft forever',
  '3: ens19    inet 192.168.5.4/24 brd 192.168.5.255 scope global ens19:vip\\       valid_lft forever preferred_lft forever',
  '',
].join('\n');
const STANDBY = [
  '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
  '2: eth0@if14    inet 10.0.0.22/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever',
  '',
].join('\n');

describe('VIP detection from ip -o addr', () => {
  it('parses every address with interface, prefix, scope, secondary flag and label', () => {
    const addrs = parseIpAddrShow(HOLDER);
    expect(addrs).toHaveLength(6);
    expect(addrs[3]).toEqual({
      index: 2,
      interface: 'eth0',
      family: 'inet',
      address: '10.0.0.100',
      prefix: 24,
      scope: 'global',
      secondary: true,
      label: undefined,
    });
    expect(addrs[2].secondary).toBe(false);
    expect(addrs[4]).toMatchObject({ family: 'inet6', address: 'fe80:0000:0000:0000:a8bb:ccff:fe00:0021', prefix: 64, scope: 'link' });
    expect(addrs[5].label).toBe('ens19:vip');
  });

  it('tells the holder from the standby', () => {
    expect(holdsVip(HOLDER, '10.0.0.100/24')).toBe(true);
    expect(holdsVip(HOLDER, '10.0.0.100')).toBe(true);
    expect(holdsVip(HOLDER, '10.0.0.100', 'eth0')).toBe(true);
    expect(holdsVip(HOLDER, '10.0.0.100', 'ens19')).toBe(false);
    expect(holdsVip(STANDBY, '10.0.0.100/24')).toBe(false);
    expect(holdsVip(HOLDER, '10.0.0.10')).toBe(false);
    expect(holdsVip(HOLDER, 'not-an-ip')).toBe(false);
    expect(holdsVip('', '10.0.0.100')).toBe(false);
  });

  it('compares IPv6 VIPs in any spelling', () => {
    const out = '2: eth0    inet6 fd00:0:0:0::100/64 scope global \\       valid_lft forever preferred_lft forever\n';
    expect(holdsVip(out, 'fd00::100/64')).toBe(true);
    expect(holdsVip(out, 'FD00:0000::0100')).toBe(true);
    expect(holdsVip(out, 'fd00::101')).toBe(false);
  });

  it('parses and normalises CIDRs', () => {
    expect(parseCidr('10.0.0.100/24')).toEqual({ address: '10.0.0.100', prefix: 24, family: 'inet' });
    expect(parseCidr('10.0.0.100')).toEqual({ address: '10.0.0.100', prefix: 32, family: 'inet' });
    expect(parseCidr('10.0.0.100/33')).toBeNull();
    expect(parseCidr('10.0.0.300/24')).toBeNull();
    expect(parseCidr('10.0.0.1/24/1')).toBeNull();
    expect(parseCidr('::1')).toEqual({ address: '0000:0000:0000:0000:0000:0000:0000:0001', prefix: 128, family: 'inet6' });
    expect(expandIPv6('::ffff:10.0.0.1')).toBe('0000:0000:0000:0000:0000:ffff:0a00:0001');
    expect(expandIPv6('nope')).toBeNull();
  });
});

describe('probe and notify scripts (run for real)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lms-ha-keepalived-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function runScript(content: string, args: string[] = [], env: Record<string, string> = {}): Promise<number> {
    const path = join(dir, `script-${Math.random().toString(36).slice(2)}.sh`);
    writeFileSync(path, content);
    chmodSync(path, 0o755);
    return new Promise((resolve) => {
      execFile('bash', [path, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 10000 }, (err) => {
        resolve(err ? (typeof err.code === 'number' ? err.code : 99) : 0);
      });
    });
  }

  function listen(server: net.Server): Promise<number> {
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  }

  function freePort(): Promise<number> {
    const s = net.createServer();
    return listen(s).then((port) => new Promise((resolve) => s.close(() => resolve(port))));
  }

  const SAMPLE = readFileSync(new URL('./fixtures/haproxy-2.6-show-stat.csv', import.meta.url), 'utf8');

  it('all scripts pass bash -n', () => {
    for (const content of [
      renderKeepalivedCheckScript({ kind: 'haproxy', statsPort: 8404 }),
      renderKeepalivedCheckScript({ kind: 'proxysql', mysqlPort: 6033 }),
      renderKeepalivedNotifyScript({ vip: '10.0.0.100', interface: 'eth0', cloudVipHook: '/etc/lms-ha/vip-hook' }),
    ]) {
      const path = join(dir, 'syntax.sh');
      writeFileSync(path, content);
      expect(spawnSync('bash', ['-n', path]).status).toBe(0);
    }
  });

  it('HAProxy probe: healthy when the stats page shows the writer backend UP, failing when DOWN or unreachable', async () => {
    let body = SAMPLE;
    let seen = '';
    const server = http.createServer((req, res) => {
      seen = req.url ?? '';
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(body);
    });
    server.on('connection', (s) => s.on('error', () => {}));
    const port = await listen(server);
    try {
      const script = renderKeepalivedCheckScript({ kind: 'haproxy', statsPort: port });
      expect(await runScript(script)).toBe(0);
      expect(seen).toBe('/;csv');
      body = SAMPLE.replace(/^galera_writer,BACKEND,((?:[^,]*,){15})UP,/m, 'galera_writer,BACKEND,$1DOWN,');
      expect(await runScript(script)).not.toBe(0);
      body = SAMPLE.replace(/galera_writer/g, 'other_listener');
      expect(await runScript(script)).not.toBe(0);
    } finally {
      server.close();
    }
    expect(await runScript(renderKeepalivedCheckScript({ kind: 'haproxy', statsPort: await freePort() }))).not.toBe(0);
  });

  it('ProxySQL probe: healthy on a protocol-10 handshake, failing on anything else', async () => {
    let greeting = Buffer.from([0x4a, 0x00, 0x00, 0x00, 0x0a, ...Buffer.from('5.5.30 (ProxySQL)\0')]);
    const server = net.createServer((socket) => {
      // The probe hangs up after 5 bytes: a reset here is expected.
      socket.on('error', () => {});
      socket.end(greeting);
    });
    const port = await listen(server);
    try {
      const script = renderKeepalivedCheckScript({ kind: 'proxysql', mysqlPort: port });
      expect(await runScript(script)).toBe(0);
      greeting = Buffer.from('HTTP/1.0 400 Bad Request\r\n\r\n');
      expect(await runScript(script)).not.toBe(0);
      greeting = Buffer.alloc(0);
      expect(await runScript(script)).not.toBe(0);
    } finally {
      server.close();
    }
    expect(await runScript(renderKeepalivedCheckScript({ kind: 'proxysql', mysqlPort: await freePort() }))).not.toBe(0);
  });

  it('a slow proxy is asked once more, a hung one fails, and one that answers the second time passes', async () => {
    const sockets: net.Socket[] = [];
    let answerFrom = Infinity;
    let connections = 0;
    const server = net.createServer((s) => {
      s.on('error', () => {});
      connections += 1;
      // Accepts; answers only from the answerFrom-th connection on.
      if (connections >= answerFrom) s.end(Buffer.from([0x4a, 0x00, 0x00, 0x00, 0x0a, ...Buffer.from('5.5.30 (ProxySQL)\0')]));
      else sockets.push(s);
    });
    const port = await listen(server);
    const script = renderKeepalivedCheckScript({ kind: 'proxysql', mysqlPort: port });
    try {
      expect(await runScript(script)).not.toBe(0);
      expect(connections).toBe(2);
      connections = 0;
      answerFrom = 2;
      expect(await runScript(script)).toBe(0);
      expect(connections).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('a proxy that is gone (connection refused) fails on the first try', async () => {
    const port = await freePort();
    // The script would connect a second time only after a timeout (exit 124): count the attempts by tracing bash.
    const path = join(dir, 'refused.sh');
    writeFileSync(path, renderKeepalivedCheckScript({ kind: 'haproxy', statsPort: port }));
    const r = spawnSync('bash', ['-x', path], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr.match(/\+ timeout 1 bash -c/g)?.length).toBe(1);
  });

  it('notify logs every transition and runs the cloud hook only on MASTER', async () => {
    const bin = join(dir, 'bin');
    spawnSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'logger'), `#!/bin/bash\nprintf '%s\\n' "$*" >> "${dir}/log"\n`);
    chmodSync(join(bin, 'logger'), 0o755);
    const hook = join(dir, 'vip-hook');
    writeFileSync(hook, `#!/bin/bash\nprintf '%s\\n' "$*" >> "${dir}/hook"\n`);
    chmodSync(hook, 0o755);
    const script = renderKeepalivedNotifyScript({ vip: '10.0.0.100', interface: 'eth0', cloudVipHook: hook });
    const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    expect(await runScript(script, ['INSTANCE', 'LMS_HA_VIP', 'BACKUP', '150'], env)).toBe(0);
    expect(await runScript(script, ['INSTANCE', 'LMS_HA_VIP', 'MASTER', '150'], env)).toBe(0);
    expect(await runScript(script, ['INSTANCE', 'LMS_HA_VIP', 'FAULT', '150'], env)).toBe(0);
    expect(readFileSync(join(dir, 'log'), 'utf8').split('\n')).toEqual([
      '-t lms-ha-keepalived -p daemon.notice vrrp instance LMS_HA_VIP is now BACKUP (priority 150, vip 10.0.0.100)',
      '-t lms-ha-keepalived -p daemon.notice vrrp instance LMS_HA_VIP is now MASTER (priority 150, vip 10.0.0.100)',
      '-t lms-ha-keepalived -p daemon.notice vrrp instance LMS_HA_VIP is now FAULT (priority 150, vip 10.0.0.100)',
      '',
    ]);
    expect(readFileSync(join(dir, 'hook'), 'utf8')).toBe('MASTER 10.0.0.100 eth0\n');
  });

  it('notify without a hook has no hook code', () => {
    const script = renderKeepalivedNotifyScript({ vip: '10.0.0.100', interface: 'eth0' });
    expect(script).not.toContain('hook');
    expect(script.trimEnd().split('\n').at(-1)).toBe('exit 0');
  });
});
