import { describe, expect, it } from 'vitest';
import { planHashKeyFrom } from '../../../src/engine/plan.js';
import { classifyCluster } from '../../../src/components/galera/cluster-state.js';
import type { GaleraHostFacts } from '../../../src/facts/galera.js';
import { MARIADB_PIN_PATH, renderMariadbPin } from '../../../src/components/galera/apt-pin.js';
import { parseGrastate, parseWsrepStatus, renderGaleraConfig } from '../../../src/components/galera/index.js';
import { computePlan, desiredAccounts, galeraModelFor, type Gathered } from '../../../src/commands/deploy-db/deploy-db.js';
import type { CommandContext } from '../../../src/commands/context.js';
import { loadInventory, resolveSecrets, selectEnvironment, type Host } from '../../../src/inventory/index.js';
import type { RemoteHost } from '../../../src/ssh/types.js';
import type { SqlChange } from '../../../src/engine/change.js';

// deploy-db's plan against gathered facts of a healthy 3-node cluster, no host
// involved: the causality probe table and grants, and the version pin.

const UUID = 'ee244a52-e77e-11f1-ba32-87af0a2a59e6';
const INSTALLED = '1:10.11.14-0+deb12u2';

function inventory(databaseExtra = ''): string {
  return `version: 1
environments:
  lab:
    ssh: { user: root }
    hosts:
      - { name: db1, address: 10.0.0.11, roles: [db] }
      - { name: db2, address: 10.0.0.12, roles: [db] }
      - { name: db3, address: 10.0.0.13, roles: [db] }
    app:
      preset: moodle
      users:
        - name: moodle
          password: { env: APP_PW }
          databases: [moodle]
          hosts: ['10.0.0.%']
    database:
      cluster_name: lab
${databaseExtra}`;
}

function setup(databaseExtra = '', over: Partial<Gathered> = {}, factsOver: Partial<GaleraHostFacts> = {}) {
  const environment = selectEnvironment(loadInventory(inventory(databaseExtra), 'ha.yml'), 'lab', 'ha.yml');
  const secrets = resolveSecrets(environment, { APP_PW: 'fake-app-password' }, () => {});
  const noop = () => {};
  const context = {
    request: { options: {}, privateKey: undefined, planHashKey: planHashKeyFrom('unit-test-plan-hash-key-0123456789abcdef') },
    environment,
    secrets,
    logger: { info: noop, warn: noop, debug: noop, group: (_t: string, fn: () => Promise<unknown>) => fn() },
  } as unknown as CommandContext;
  const model = galeraModelFor(environment);
  const dbHosts = environment.hosts as Host[];
  const facts = new Map<string, GaleraHostFacts>();
  for (const h of dbHosts) {
    facts.set(h.name, {
      packages: { 'mariadb-server': INSTALLED, 'galera-4': '26.4.20-0+deb12u1', 'mariadb-backup': INSTALLED },
      running: true,
      enabled: true,
      config: renderGaleraConfig(model, h.name),
      status: parseWsrepStatus(
        `wsrep_cluster_status\tPrimary\nwsrep_local_state\t4\nwsrep_local_state_comment\tSynced\nwsrep_ready\tON\nwsrep_connected\tON\nwsrep_cluster_size\t3\nwsrep_cluster_state_uuid\t${UUID}\nwsrep_cluster_conf_id\t3\n`,
      ),
      wsrepActive: true,
      grastate: parseGrastate(`version: 2.1\nuuid: ${UUID}\nseqno: -1\nsafe_to_bootstrap: 0\n`),
      sstAuthFile: null,
      aptPin: null,
      ...factsOver,
    });
  }
  const g: Gathered = {
    dbHosts,
    remotes: new Map(dbHosts.map((h) => [h.name, { name: h.name } as RemoteHost])),
    facts,
    accounts: [],
    databases: [{ name: 'moodle', charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' }],
    situation: classifyCluster(dbHosts.map((h) => h.name), facts),
    schemaProblems: [],
    probeTable: false,
    retiring: [],
    view: null,
    ...over,
  };
  return computePlan(context, model, desiredAccounts(environment, model), g);
}

describe('deploy-db plan: the causality probe table', () => {
  it('creates lms_ha.causality_probe when it is missing, before the app user is granted what the probe does on it', () => {
    const plan = setup();
    const summaries = plan.changes.map((c) => c.summary);
    const create = summaries.findIndex((s) => s.startsWith('create database `lms_ha` and table `causality_probe`'));
    const grant = summaries.findIndex((s) => s === "grant SELECT, INSERT, UPDATE, DELETE on `lms_ha`.`causality_probe` to 'moodle'@'10.0.0.%'");
    expect(create).toBeGreaterThanOrEqual(0);
    expect(grant).toBeGreaterThan(create);
    const change = plan.changes[create] as SqlChange;
    expect(change).toMatchObject({ host: 'db1', scope: 'cluster', object: 'database', action: 'create' });
    expect(change.detail).toContain('CREATE TABLE IF NOT EXISTS `lms_ha`.`causality_probe`');
  });

  it('leaves an existing probe table alone', () => {
    const plan = setup('', { probeTable: true });
    expect(plan.changes.some((c) => c.summary.includes('causality_probe') && c.summary.startsWith('create database'))).toBe(false);
  });
});

describe('deploy-db plan: the package version pin', () => {
  it('a pin equal to what is installed, with its apt pin file in place, changes nothing and shows in the host facts', () => {
    const plan = setup(`      package_version: "${INSTALLED}"\n`, { probeTable: true }, { aptPin: renderMariadbPin(INSTALLED) });
    // (The fixture has no accounts: only SQL changes are planned.)
    expect(plan.changes.filter((c) => c.kind !== 'sql')).toEqual([]);
    expect(plan.hosts.map((h) => h.facts.pinned)).toEqual([INSTALLED, INSTALLED, INSTALLED]);
  });

  it('holds every MariaDB package at the pin with an apt preferences record for the source package, written where it is missing', () => {
    const plan = setup(`      package_version: "${INSTALLED}"\n`, { probeTable: true });
    expect(plan.changes.filter((c) => c.kind === 'package')).toEqual([]);
    const pins = plan.changes.filter((c) => c.kind === 'file' && c.path === MARIADB_PIN_PATH);
    expect(pins.map((c) => c.host)).toEqual(['db1', 'db2', 'db3']);
    const content = pins[0]!.kind === 'file' ? pins[0]!.after?.content : undefined;
    expect(content).toMatch(/^Package: src:mariadb$/m);
    expect(content).toMatch(/^Pin-Priority: 1001$/m);
    expect(content?.split('\n')).toContain(`Pin: version ${INSTALLED}`);
  });

  it('a pin dropped from the inventory removes the pin file and leaves the packages alone', () => {
    const plan = setup('', { probeTable: true }, { aptPin: renderMariadbPin(INSTALLED) });
    expect(plan.changes.filter((c) => c.kind !== 'sql').map((c) => [c.host, c.kind, c.kind === 'file' ? c.after : 'x'])).toEqual([
      ['db1', 'file', null],
      ['db2', 'file', null],
      ['db3', 'file', null],
    ]);
  });

  it('another version on running members is a rolling upgrade, one node at a time, the writer last', () => {
    const wanted = '1:10.11.15-0+deb12u1';
    const plan = setup(`      package_version: "${wanted}"\n`, { probeTable: true });
    const packages = plan.changes.filter((c) => c.kind === 'package');
    expect(packages.map((c) => [c.host, c.kind === 'package' ? c.name : ''])).toEqual([
      ['db2', 'mariadb-server'],
      ['db2', 'mariadb-backup'],
      ['db3', 'mariadb-server'],
      ['db3', 'mariadb-backup'],
      ['db1', 'mariadb-server'],
      ['db1', 'mariadb-backup'],
    ]);
    // Each node's pin moves in its own turn, right before its upgrade: a
    // failed upgrade leaves the nodes after it pinned where they are.
    const steps = plan.changes.filter((c) => c.kind === 'package' || (c.kind === 'file' && c.path === MARIADB_PIN_PATH)).map((c) => `${c.host} ${c.kind}`);
    expect(steps).toEqual(['db2 file', 'db2 package', 'db2 package', 'db3 file', 'db3 package', 'db3 package', 'db1 file', 'db1 package', 'db1 package']);
    expect(packages[0]!.summary).toContain(`upgrade mariadb-server ${INSTALLED} -> ${wanted}`);
    expect(packages[0]!.summary).toContain('rolling');
  });

  it('the inventory refuses a version that is not a Debian version, naming the line', () => {
    expect(() => setup('      package_version: "latest please"\n')).toThrow(/ha\.yml:\d+:\d+: .*package_version.*Debian package version/);
  });
});
