import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hostStateScript, parseHostState, type HostStateQuery } from '../../../src/facts/host-state.js';
import { accountFactsSql, parseAccountFacts, proxysqlAdminScript } from '../../../src/commands/deploy-lb/facts.js';

describe('deploy-lb facts', () => {
  it('parses what the tools print, including units that do not exist and removed packages', () => {
    const q: HostStateQuery = {
      packages: ['haproxy', 'keepalived'],
      users: ['keepalived_script'],
      dirs: ['/etc/keepalived'],
      files: [
        { path: '/etc/haproxy/haproxy.cfg', read: true },
        { path: '/etc/keepalived/keepalived.conf', read: false },
      ],
      units: ['haproxy', 'keepalived'],
      commands: ['nft'],
    };
    const digest = createHash('sha256').update('global\n').digest('hex');
    const out = [
      '@@pkg',
      'haproxy\t2.6.12-1+deb12u1\tinstall ok installed',
      'keepalived\t1:2.2.7-1+b2\tdeinstall ok config-files',
      '@@user keepalived_script',
      'absent',
      '@@dir /etc/keepalived',
      '755 root root',
      '@@file /etc/haproxy/haproxy.cfg',
      '644 root root',
      digest,
      Buffer.from('global\n').toString('base64'),
      '@@file /etc/keepalived/keepalived.conf',
      '@absent',
      '@@unit haproxy',
      'enabled=enabled',
      'active=active',
      '@@unit keepalived',
      'enabled=',
      'active=inactive',
      '@@cmd nft',
      'absent',
      '',
    ].join('\n');
    expect(parseHostState(out, q)).toEqual({
      packages: { haproxy: '2.6.12-1+deb12u1' },
      users: { keepalived_script: false },
      dirs: { '/etc/keepalived': { mode: 0o755, owner: 'root', group: 'root' } },
      files: {
        '/etc/haproxy/haproxy.cfg': { mode: 0o644, owner: 'root', group: 'root', sha256: digest, content: 'global\n' },
        '/etc/keepalived/keepalived.conf': null,
      },
      units: { haproxy: { enabled: 'enabled', active: 'active' }, keepalived: { enabled: '', active: 'inactive' } },
      commands: { nft: false },
      probes: {},
    });
  });

  it('the script runs in a real shell, reads secret files by digest only, and changes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lms-ha-lbfacts-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'plain.cfg'), 'hello\n');
    writeFileSync(join(dir, 'secret.conf'), 'auth_pass s3cr3t\n');
    chmodSync(join(dir, 'secret.conf'), 0o600);
    const q: HostStateQuery = {
      packages: ['lms-ha-no-such-package'],
      users: ['root', 'lms_ha_no_such_user'],
      dirs: [join(dir, 'sub'), join(dir, 'missing')],
      files: [
        { path: join(dir, 'plain.cfg'), read: true },
        { path: join(dir, 'secret.conf'), read: false },
        { path: join(dir, 'absent.cfg'), read: true },
      ],
      units: ['lms-ha-no-such-unit.service'],
      commands: ['sh', 'lms-ha-no-such-command'],
      probes: [
        { name: 'lines', script: "printf 'table inet filter\\n\\ntable ip nat\\n@@user forged\\n'" },
        { name: 'fails', script: 'echo partial; lms-ha-no-such-command; exit 3' },
        { name: 'after', script: 'echo still-runs' },
      ],
    };
    const stdout = execFileSync('sh', ['-c', hostStateScript(q)], { encoding: 'utf8' });
    expect(stdout).not.toContain('s3cr3t');
    expect(stdout).not.toContain(Buffer.from('auth_pass s3cr3t\n').toString('base64'));
    const s = parseHostState(stdout, q);
    expect(s.packages).toEqual({});
    expect(s.users).toEqual({ root: true, lms_ha_no_such_user: false });
    expect(s.dirs[join(dir, 'sub')]).toMatchObject({ owner: expect.any(String) });
    expect(s.dirs[join(dir, 'missing')]).toBeNull();
    expect(s.files[join(dir, 'plain.cfg')]).toMatchObject({ content: 'hello\n', sha256: createHash('sha256').update('hello\n').digest('hex') });
    expect(s.files[join(dir, 'secret.conf')]).toMatchObject({ mode: 0o600, sha256: createHash('sha256').update('auth_pass s3cr3t\n').digest('hex') });
    expect(s.files[join(dir, 'secret.conf')]!.content).toBeUndefined();
    expect(s.files[join(dir, 'absent.cfg')]).toBeNull();
    expect(s.units['lms-ha-no-such-unit.service']!.enabled).toBe('');
    expect(s.commands).toEqual({ sh: true, 'lms-ha-no-such-command': false });
    // Probe output is lines; a failing probe keeps what it printed and cannot stop the script or forge a section.
    expect(s.probes).toEqual({ lines: ['table inet filter', 'table ip nat'], fails: ['partial'], after: ['still-runs'] });
    expect(s.users).not.toHaveProperty('forged');
  });

  it('refuses names that would need quoting in a section marker', () => {
    expect(() => hostStateScript({ packages: [], users: ['a b'], dirs: [], files: [], units: [], commands: [] })).toThrow();
    expect(() => hostStateScript({ packages: [], users: [], dirs: [], files: [{ path: '/etc/$(x)', read: true }], units: [], commands: [] })).toThrow();
  });

  it('reads the clustercheck and monitor accounts in one round trip', () => {
    const sql = accountFactsSql('lms_ha_monitor');
    expect(sql).toContain("GRANTEE='\\'clustercheck\\'@\\'localhost\\''");
    expect(parseAccountFacts('plugin\tunix_socket\nextra\t0\nmonitor\t10.0.0.21\t*ABC\n')).toEqual({
      account: { plugin: 'unix_socket', extraGrants: 0 },
      monitor: { hosts: { '10.0.0.21': '*ABC' } },
    });
    expect(parseAccountFacts('plugin\t@absent\nextra\t0\n').account.plugin).toBeNull();
  });

  it('the ProxySQL admin script is valid shell and keeps credentials off its command line', () => {
    const script = proxysqlAdminScript(6032);
    execFileSync('sh', ['-n', '-c', script]);
    expect(script).toContain('--defaults-extra-file="$cred"');
    expect(script).not.toMatch(/password=|--password|\s-p\S/);
  });
});
