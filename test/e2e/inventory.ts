import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabState } from './lab.js';

/**
 * Inventories for the lab, written as an operator would write them. Each e2e
 * suite picks the environment that fits; the addresses come from the lab state
 * so the tests never name an address that is not a lab host.
 */
export function writeLabInventory(state: LabState, dir: string, extra = ''): string {
  const address = (name: string): string => {
    const host = state.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`lab has no host ${name}`);
    return host.address;
  };
  const extraHosts = state.hosts.filter((h) => /^x\d+$/.test(h.name));
  const text = `version: 1
environments:
  lab:
    ssh: { user: root }
    hosts:
      - { name: db1, address: ${address('db1')}, roles: [db, storage, web] }
      - { name: db2, address: ${address('db2')}, roles: [db, storage, web] }
      - { name: db3, address: ${address('db3')}, roles: [db, storage, web] }
      - { name: lb1, address: ${address('lb1')}, roles: [lb] }
      - { name: lb2, address: ${address('lb2')}, roles: [lb] }
  lab-sudo:
    ssh: { user: ${state.sudoUser} }
    hosts:
      - { name: db1, address: ${address('db1')}, roles: [db] }
      - { name: lb1, address: ${address('lb1')}, roles: [lb] }
  lab-password-sudo:
    ssh: { user: ${state.passwordSudoUser} }
    hosts:
      - { name: db1, address: ${address('db1')}, roles: [db] }
  lab-bastion:
    ssh: { user: root, bastion: bastion }
    hosts:
      - { name: bastion, address: ${address('bastion')}, roles: [bastion] }
      - { name: priv1, address: ${address('priv1')}, roles: [web] }
${
  extraHosts.length > 0
    ? `  lab-scale:
    ssh: { user: root }
    hosts:
${extraHosts.map((h) => `      - { name: ${h.name}, address: ${h.address}, roles: [web] }`).join('\n')}
`
    : ''
}${extra}`;
  const path = join(dir, 'ha.yml');
  writeFileSync(path, text);
  return path;
}

/**
 * A Galera environment on db1-3 (append with writeLabInventory's `extra`):
 * small memory settings, an app database and a user limited to the lab segment.
 */
export function labDbEnvironment(state: LabState, name = 'lab-db', options: { sstPassword?: boolean } = {}): string {
  const address = (host: string): string => state.hosts.find((h) => h.name === host)!.address;
  return `  ${name}:
    ssh: { user: root }
    hosts:
      - { name: db1, address: ${address('db1')}, roles: [db] }
      - { name: db2, address: ${address('db2')}, roles: [db] }
      - { name: db3, address: ${address('db3')}, roles: [db] }
    app:
      preset: moodle
      users:
        - name: moodle
          password: { env: LAB_APP_DB_PASSWORD }
          databases: [moodle]
          hosts: ['10.231.0.%']
    database:
      cluster_name: lab
      buffer_pool_size: 128M
      gcache_size: 64M
      max_connections: 200
${options.sstPassword ? '      sst_password: { env: LAB_SST_PASSWORD }\n' : ''}`;
}
