import { describe, expect, it } from 'vitest';
import { DeployError } from '../../../src/errors.js';
import { loadInventory, selectEnvironment } from '../../../src/inventory/index.js';

const base = (provision: string) => `version: 1
environments:
  prod:
    hosts:
      - { name: web1, address: 10.0.0.31, roles: [web] }
    provision:
${provision}`;

function problems(text: string): string[] {
  try {
    loadInventory(text, 'ha.yml');
  } catch (error) {
    return ((error as DeployError).problems ?? []).map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`);
  }
  return [];
}

describe('inventory: provision section', () => {
  it('fills the defaults', () => {
    const env = selectEnvironment(loadInventory(base('      vip_name: db-vip\n'), 'ha.yml'), 'prod', 'ha.yml');
    expect(env.provision).toEqual({
      vip_name: 'db-vip',
      firewall: { enabled: true, policy: 'fence', ssh_from: [], client_networks: [], confirm_seconds: 60 },
      time: { max_skew_ms: 500 },
      packages: { source: 'distro' },
    });
  });

  it('points at a network with host bits, an impossible prefix and a missing mirror URL', () => {
    const text = base(`      firewall:
        ssh_from: [10.0.0.1/8, 10.0.0.0/33, 10.0.0.0/24]
      packages: { source: mirror }
`);
    expect(problems(text)).toEqual([
      'ha.yml:8:20: "provision.firewall.ssh_from" entry "10.0.0.1/8" has host bits set; the network is 10.0.0.0/8',
      'ha.yml:8:32: "provision.firewall.ssh_from" entry "10.0.0.0/33" has a prefix length above 32',
      'ha.yml:9:7: "provision.packages" with source mirror needs "mirror_url" (the apt mirror to use)',
    ]);
  });

  it('refuses a push directory outside the workspace and an unknown policy', () => {
    expect(problems(base('      packages: { source: push, directory: ../debs }\n'))).toEqual([
      'ha.yml:7:44: "provision.packages.directory" must be a path inside the workspace (relative, without "..")',
    ]);
    expect(problems(base('      firewall: { policy: open }\n'))[0]).toMatch(/^ha\.yml:7:27: /);
  });
});
