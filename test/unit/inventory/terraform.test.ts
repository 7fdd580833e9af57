import { describe, expect, it } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import { mergeTerraformHosts, parseTerraformHosts } from '../../../src/inventory/terraform.js';
import { loadInventory, selectEnvironment } from '../../../src/inventory/index.js';

// As `terraform output -json` writes it: every output with sensitive, type and value.
const OUTPUT = `{
  "lms_ha_hosts": {
    "sensitive": false,
    "type": ["tuple", [["object", {"address": "string", "name": "string", "roles": ["list", "string"]}]]],
    "value": [
      { "name": "db1", "address": "10.0.0.11", "roles": ["db"] },
      { "name": "db2", "address": "10.0.0.12", "roles": ["db"], "labels": { "zone": "b" } },
      { "name": "db3", "address": "10.0.0.13", "roles": ["db"] }
    ]
  },
  "vpc_id": { "sensitive": false, "type": "string", "value": "vpc-1" }
}
`;

const INVENTORY = `version: 1
environments:
  prod:
    # the jump host is written by hand and kept
    ssh: { bastion: jump }
    hosts:
      - { name: jump, address: 203.0.113.5, roles: [bastion] }
      - { name: db1, address: 192.0.2.1, roles: [db] }
`;

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    return ((error as DeployError).problems ?? []).map((p) => `${p.line}:${p.column}: ${p.message}`);
  }
  throw new Error('expected an error');
}

describe('Terraform output import', () => {
  it('reads the list form and the map form', () => {
    expect(parseTerraformHosts(OUTPUT, 'tf.json').map((h) => `${h.name} ${h.address} ${h.roles.join(',')}`)).toEqual(['db1 10.0.0.11 db', 'db2 10.0.0.12 db', 'db3 10.0.0.13 db']);
    const map = '{"lms_ha_hosts": {"value": {"lb1": {"address": "10.0.0.21", "roles": ["lb"]}}}}';
    expect(parseTerraformHosts(map, 'tf.json')).toEqual([{ name: 'lb1', address: '10.0.0.21', roles: ['lb'] }]);
  });

  it('merges into the environment, keeps hand-written hosts and comments, and gives a valid inventory', () => {
    const merged = mergeTerraformHosts(INVENTORY, 'ha.yml', 'prod', parseTerraformHosts(OUTPUT, 'tf.json'));
    expect(merged.replaced).toEqual(['db1']);
    expect(merged.added).toEqual(['db2', 'db3']);
    expect(merged.text).toContain('# the jump host is written by hand and kept');
    const env = selectEnvironment(loadInventory(merged.text, 'ha.yml'), 'prod', 'ha.yml');
    expect(env.hosts.map((h) => `${h.name}=${h.address}`)).toEqual(['jump=203.0.113.5', 'db1=10.0.0.11', 'db2=10.0.0.12', 'db3=10.0.0.13']);
    expect(env.hosts[2]!.labels).toEqual({ zone: 'b' });
  });

  it('creates the inventory when there is none', () => {
    const merged = mergeTerraformHosts(null, 'ha.yml', 'staging', parseTerraformHosts(OUTPUT, 'tf.json'));
    expect(Object.keys(loadInventory(merged.text, 'ha.yml').environments)).toEqual(['staging']);
  });

  it('points at the position of malformed JSON', () => {
    const broken = OUTPUT.replace('"10.0.0.12", "roles"', '"10.0.0.12" "roles"');
    const found = problems(() => parseTerraformHosts(broken, 'tf.json'));
    expect(found.length).toBeGreaterThan(0);
    expect(found).toEqual([expect.stringMatching(/^7:\d+: not valid JSON: /)]);
  });

  it('points at the host field that is wrong', () => {
    const bad = OUTPUT.replace('"roles": ["db"] },\n      { "name": "db2"', '"roles": ["database"] },\n      { "name": "db2"').replace('"name": "db3"', '"name": "DB 3"');
    expect(problems(() => parseTerraformHosts(bad, 'tf.json'))).toEqual([
      '6:58: host "db1": role "database" is not one of db, lb, storage, web, bastion, arbitrator',
      '8:17: host name "DB 3" must be a short name of lowercase letters, digits and "-" (like db1)',
    ]);
    expect(problems(() => parseTerraformHosts('{"other": {"value": 1}}', 'tf.json'))[0]).toBe('1:1: has no output "lms_ha_hosts" of the form { "value": ... } (outputs: other)');
  });

  it('refuses a merge that makes the inventory invalid, before anything is written', () => {
    const dup = '{"lms_ha_hosts": {"value": [{"name": "db9", "address": "203.0.113.5", "roles": ["db"]}]}}';
    expect(() => mergeTerraformHosts(INVENTORY, 'ha.yml', 'prod', parseTerraformHosts(dup, 'tf.json'))).toThrow(/duplicate address "203.0.113.5"/);
  });
});
