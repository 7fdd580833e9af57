import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { DeployError } from '../../../src/errors';
import { loadInventory, parseInventory } from '../../../src/inventory';
import { problemsOf, yaml } from './helpers';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

describe('loadInventory', () => {
  test.each(['examples/moodle.yml', 'examples/openedx.yml', 'test/fixtures/inventory/full.yml'])('%s loads without problems', (path) => {
    expect(parseInventory(read(path), path).problems).toEqual([]);
    const inventory = loadInventory(read(path), path);
    expect(inventory.version).toBe(1);
    expect(Object.keys(inventory.environments).length).toBeGreaterThan(0);
  });

  test('returns the data as written, without defaults', () => {
    const inventory = loadInventory(read('examples/openedx.yml'), 'examples/openedx.yml');
    const staging = inventory.environments.staging!;
    expect(staging.hosts.map((host) => host.name)).toEqual(['db1', 'db2', 'db3', 'proxy1', 'proxy2', 'app1']);
    expect(staging.database).toEqual({ cluster_name: 'openedx', sst_password: { env: 'GALERA_SST_PASSWORD' } });
    expect(staging.load_balancer?.ports).toEqual({ mysql: 6033, admin: 6032 });
  });

  test('one problem: the message is the compiler-style line itself', () => {
    const text = yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, adress: 10.0.0.31, roles: [web] }
    `;
    let error: DeployError | undefined;
    try {
      loadInventory(text, 'ha.yml');
    } catch (caught) {
      error = caught as DeployError;
    }
    expect(error?.reason).toBe('invalid-inventory');
    expect(error?.problems).toEqual([
      { file: 'ha.yml', line: 5, column: 9, message: 'missing required key "address" in host "web1"' },
      { file: 'ha.yml', line: 5, column: 23, message: 'unknown key "adress" in host "web1"; did you mean "address"?' },
    ]);
    expect(error?.message).toBe(
      'invalid inventory: 2 problems in ha.yml:\n' +
        '  ha.yml:5:9: missing required key "address" in host "web1"\n' +
        '  ha.yml:5:23: unknown key "adress" in host "web1"; did you mean "address"?',
    );
    expect(error?.hint).toContain('schema/inventory.schema.json');
  });

  test('a single problem is reported on one line', () => {
    expect(() => loadInventory('version: 1\nenvironments: {}\n', 'ha.yml')).toThrow(
      /^invalid inventory: ha.yml:2:1: "environments" must not be empty$/,
    );
  });

  test('anchors and aliases are followed, and problems inside them point at the anchor', () => {
    const text = yaml`
      version: 1
      environments:
        prod:
          hosts:
            - &web { name: web1, address: 10.0.0.31, roles: [web] }
        staging:
          hosts: [*web]
    `;
    expect(problemsOf(text)).toEqual([]);
    const broken = text.replace('roles: [web]', 'roles: [webb]');
    // Both environments reach the anchored host: one position, so one problem.
    expect(problemsOf(broken)).toEqual([
      '5:56: "roles[0]" of host "web1" must be one of db, lb, storage, web, bastion, arbitrator, got "webb"; did you mean "web"?',
    ]);
  });

  test('an alias bomb is refused instead of expanded', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    const problems = problemsOf(`${lines.join('\n')}\nversion: 1\n`);
    expect(problems).toHaveLength(1);
    // At the alias that pushes the expansion over the bound, not at 1:1.
    expect(problems[0]).toMatch(/^6:\d+: the inventory expands \(through its aliases\) to more than \d+ values/);
  });

  test('one anchor reused many times is fine: the bound is on the expanded size, not the alias count', () => {
    const hosts = Array.from({ length: 150 }, (_, i) => `      - { name: h${i}, address: 10.1.${Math.floor(i / 200)}.${(i % 200) + 1}, roles: [web], ssh: *ssh }`);
    const text = `version: 1\nenvironments:\n  prod:\n    ssh: &ssh { user: deploy }\n    hosts:\n${hosts.join('\n')}\n`;
    const reused = text.replace('    ssh: &ssh { user: deploy }\n', '').replace('    hosts:\n', '    hosts:\n      - { name: anchor, address: 10.9.9.9, roles: [web], ssh: &ssh { user: deploy } }\n');
    expect(reused.match(/\*ssh/g)).toHaveLength(150);
    expect(problemsOf(reused)).toEqual([]);
  });

  test('problems from several environments and layers are all collected', () => {
    const text = yaml`
      version: 3
      environments:
        a:
          hosts:
            - { name: web1, address: 10.0.0.300, roles: [web] }
        b:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [wbe] }
    `;
    expect(problemsOf(text)).toEqual([
      '1:10: "version" must be 1 (the only inventory format this lms-ha reads), got 3',
      '5:32: "address" of host "web1" is not a valid IPv4 address (four numbers from 0 to 255, without leading zeros), got "10.0.0.300"',
      '8:51: "roles[0]" of host "web1" must be one of db, lb, storage, web, bastion, arbitrator, got "wbe"; did you mean "web"?',
    ]);
  });

  test('never throws anything but a DeployError for bad input', () => {
    for (const text of ['{', ': :', '!!binary x', 'version: [', '\u0000', 'a: *missing']) {
      expect(() => loadInventory(text, 'x.yml')).toThrow(DeployError);
    }
  });
});
