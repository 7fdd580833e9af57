import { describe, expect, test } from 'vitest';
import { installerCheckScript, installerCheckVerdict, parseInstallerCheck } from '../../../src/components/platform/installer-check.js';

const O = { user: 'moodle', database: 'moodle', token: 'ab12', writerPort: 3307, readerPort: 3308, syncWait: 1 };

describe('installer check', () => {
  test('the script writes on the writer port, reads on the reader port with the causality setting, then drops', () => {
    const s = installerCheckScript({ host: '10.0.0.100', writerPort: 3307, readerPort: 3308, database: 'moodle', syncWait: 1, token: 'ab12', client: '"$c"' });
    const [write, read, drop] = s.split('echo "@@').slice(1);
    expect(write).toContain('-P3307');
    expect(write).toContain('PRIMARY KEY');
    expect(read).toContain('-P3308');
    expect(read).toContain('SET SESSION wsrep_sync_wait=1');
    expect(drop).toContain('-P3307');
    expect(drop).toContain('DROP TABLE IF EXISTS `moodle`.`lms_ha_installer_check`');
    expect(() => installerCheckScript({ host: 'h', writerPort: 1, readerPort: 2, database: 'a;b', syncWait: 1, token: 'ab', client: 'c' })).toThrow(/identifier/);
  });

  test('own write read back: ok', () => {
    const r = parseInstallerCheck('@@write\nrc=0\n@@read\nab12\nrc=0\n@@drop\nrc=0\n');
    expect(installerCheckVerdict(r, O)).toMatchObject({ status: 'ok' });
  });

  test('access denied names the hosts and privileges to check', () => {
    const r = parseInstallerCheck("@@write\nERROR 1045 (28000): Access denied for user 'moodle'@'10.0.0.21'\nrc=1\n@@read\nrc=1\n@@drop\nrc=1\n");
    const v = installerCheckVerdict(r, O);
    expect(v.status).toBe('fail');
    expect(v.observed).toContain('Access denied');
    expect(v.hint).toContain("hosts admit the load balancers' addresses");
  });

  test('a stale read fails with causality on, warns with it off', () => {
    const r = parseInstallerCheck('@@write\nrc=0\n@@read\n\nrc=0\n@@drop\nrc=0\n');
    expect(installerCheckVerdict(r, O).status).toBe('fail');
    expect(installerCheckVerdict(r, { ...O, syncWait: 0 }).status).toBe('warn');
  });

  test('a table left behind is a warning', () => {
    const r = parseInstallerCheck("@@write\nrc=0\n@@read\nab12\nrc=0\n@@drop\nERROR 1142: DROP command denied\nrc=1\n");
    expect(installerCheckVerdict(r, O)).toMatchObject({ status: 'warn' });
  });
});
