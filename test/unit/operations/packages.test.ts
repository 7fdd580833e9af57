import { describe, expect, it } from 'vitest';
import { aptInstallScript, installPhase, packageChange } from '../../../src/operations/packages.js';
import type { RemoteHost, RunResult } from '../../../src/ssh/types.js';
import { MemoryLogger } from '../../support/memory-logger.js';

const HEAD = ['set -e', 'export DEBIAN_FRONTEND=noninteractive', 'apt-get update -q'];

describe('aptInstallScript: packages and flags → the script', () => {
  it.each([
    [['haproxy', 'keepalived'], {}, 'apt-get install -y -q -o Dpkg::Options::=--force-confold haproxy keepalived', []],
    [['rclone'], { noRecommends: true }, 'apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold rclone', []],
    [
      ['mariadb-server=1:10.11.6+maria~deb12', 'galera-4'],
      { allowDowngrades: true, then: ['systemctl stop mariadb'] },
      "apt-get install -y -q --allow-downgrades -o Dpkg::Options::=--force-confold 'mariadb-server=1:10.11.6+maria~deb12' galera-4",
      ['systemctl stop mariadb'],
    ],
    [['/var/cache/lms-ha/proxysql_0123.deb'], {}, 'apt-get install -y -q -o Dpkg::Options::=--force-confold /var/cache/lms-ha/proxysql_0123.deb', []],
    [['bad; rm -rf /'], {}, "apt-get install -y -q -o Dpkg::Options::=--force-confold 'bad; rm -rf /'", []],
  ])('%j %j', (packages, flags, install, after) => {
    expect(aptInstallScript(packages, flags).split('\n')).toEqual([...HEAD, install, ...after]);
  });
});

describe('installPhase', () => {
  function host(name: string, sent: string[], answer: RunResult = { code: 0, stdout: '', stderr: '' }): RemoteHost {
    return {
      name,
      address: '10.0.0.1',
      async run(command) {
        sent.push(`${name}: ${command.split('\n')[3]}`);
        return answer;
      },
      async readFile() {
        return null;
      },
      async writeFile() {},
    };
  }

  it('installs every host once, all of its packages in one run, however many package changes there are', async () => {
    const sent: string[] = [];
    const hosts = new Map([
      ['lb1', host('lb1', sent)],
      ['lb2', host('lb2', sent, { code: 100, stdout: '', stderr: 'E: Unable to locate package keepalived' })],
    ]);
    const phase = installPhase(
      new Map([
        ['lb1', ['haproxy', 'keepalived']],
        ['lb2', ['keepalived']],
      ]),
    );
    const changes = [packageChange('lb1', 'haproxy', phase), packageChange('lb1', 'keepalived', phase), packageChange('lb2', 'keepalived', phase)];
    const logger = new MemoryLogger();
    const results = await Promise.allSettled(changes.map((c) => c.apply({ host: hosts.get(c.host)!, hosts, logger, change: c })));
    expect(sent.sort()).toEqual([
      'lb1: apt-get install -y -q -o Dpkg::Options::=--force-confold haproxy keepalived',
      'lb2: apt-get install -y -q -o Dpkg::Options::=--force-confold keepalived',
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(((results[2] as PromiseRejectedResult).reason as Error).message).toBe('package installation failed on lb2: E: Unable to locate package keepalived');
  });
});
