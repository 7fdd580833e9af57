/** A realistic plan shared by the engine and report tests. */
import type { PlannedChange } from '../../../src/engine/change.js';
import { createPlan, type HostFacts, type Plan } from '../../../src/engine/plan.js';

export const SECRET = 'S3cr3t-p@ss "quoted" & more';

const noop = async () => {};

export function galeraConfig(nodes: string, extra = ''): string {
  return [
    '[galera]',
    'wsrep_on = ON',
    'wsrep_provider = /usr/lib/galera/libgalera_smm.so',
    `wsrep_cluster_address = gcomm://${nodes}`,
    'binlog_format = ROW',
    extra,
  ]
    .filter((l) => l !== '')
    .join('\n') + '\n';
}

export function sampleChanges(): PlannedChange[] {
  return [
    {
      kind: 'package',
      id: 'package:db1:mariadb-server',
      host: 'db1',
      summary: 'install mariadb-server 1:10.11.6-0+deb12u1',
      name: 'mariadb-server',
      from: null,
      to: '1:10.11.6-0+deb12u1',
      apply: noop,
    },
    {
      kind: 'file',
      id: 'file:db1:/etc/mysql/mariadb.conf.d/60-galera.cnf',
      host: 'db1',
      summary: 'update /etc/mysql/mariadb.conf.d/60-galera.cnf',
      path: '/etc/mysql/mariadb.conf.d/60-galera.cnf',
      before: { content: galeraConfig('10.0.0.11,10.0.0.12'), mode: 0o644, owner: 'root', group: 'root' },
      after: { content: galeraConfig('10.0.0.11,10.0.0.12,10.0.0.13'), mode: 0o644, owner: 'root', group: 'root' },
      sensitive: false,
      apply: noop,
    },
    {
      kind: 'file',
      id: 'file:db1:/etc/mysql/debian.cnf',
      host: 'db1',
      summary: 'update /etc/mysql/debian.cnf (credentials)',
      path: '/etc/mysql/debian.cnf',
      before: { content: '[client]\nuser = root\npassword = old-password\n', mode: 0o600, owner: 'root', group: 'root' },
      after: { content: `[client]\nuser = root\npassword = ${SECRET}\n`, mode: 0o600, owner: 'root', group: 'root' },
      sensitive: true,
      apply: noop,
    },
    {
      kind: 'service',
      id: 'service:db1:mariadb:restart',
      host: 'db1',
      summary: 'restart mariadb',
      unit: 'mariadb',
      action: 'restart',
      apply: noop,
    },
    {
      kind: 'sql',
      id: 'sql:db1:user:moodle',
      host: 'db1',
      summary: "alter user 'moodle'@'10.0.0.%'",
      scope: 'cluster',
      object: 'user',
      name: "'moodle'@'10.0.0.%'",
      action: 'alter',
      detail: 'password changed',
      fingerprint: 'hmac:0123456789abcdef',
      apply: noop,
    },
    {
      kind: 'cluster',
      id: 'cluster:db2:join',
      host: 'db2',
      summary: 'join db2 to the cluster',
      step: 'join',
      detail: 'waits for Synced and cluster size 3',
      apply: noop,
    },
  ];
}

export function sampleHosts(): HostFacts[] {
  return [
    { name: 'db2', address: '10.0.0.12', roles: ['db'], facts: { os: 'Debian 12', uptime: '3 days' } },
    { name: 'db1', address: '10.0.0.11', roles: ['db', 'storage'], facts: { os: 'Debian 12', mariadb: 'absent' } },
    { name: 'lb1', address: '10.0.0.21', roles: ['lb'], facts: { os: 'Ubuntu 24.04' } },
  ];
}

export function samplePlan(overrides: { changes?: PlannedChange[]; warnings?: string[] } = {}): Plan {
  return createPlan({
    command: 'deploy-db',
    environment: 'production',
    changes: overrides.changes ?? sampleChanges(),
    warnings: overrides.warnings ?? [],
    hosts: sampleHosts(),
    meta: { generatedAt: '2026-05-01T10:00:00Z', runner: 'runner-a' },
  });
}
