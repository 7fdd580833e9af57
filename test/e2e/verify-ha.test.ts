import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAB_STATE_PATH, labExec, labHost, readLabState, runAction, tempDir, type LabState } from './lab.js';
import { writeLabInventory } from './inventory.js';

// verify-ha against the lab, READ-ONLY: whatever the
// other commands have deployed must pass, with each deployed layer's checks
// in the table. Layers that are not deployed (yet) are left out of the
// inventory, so this suite can run at any stage of the lab and never changes
// a host. Fault injection (test 2) and drills (test 3) come in their own
// suites, which own the lab while they run.

const VOLUME = process.env.LMS_HA_E2E_VOLUME ?? 'files';
const MOUNT = process.env.LMS_HA_E2E_MOUNT ?? '/srv/files';
const DBS = ['db1', 'db2', 'db3'];
const LBS = ['lb1', 'lb2'];

let state: LabState | undefined;
let layers: { database: boolean; lb: boolean; storage: boolean } = { database: false, lb: false, storage: false };

const active = (host: string, unit: string) => labExec(host, `systemctl is-active ${unit}`, { allowFailure: true }).stdout.trim() === 'active';

beforeAll(() => {
  if (!existsSync(LAB_STATE_PATH)) return;
  state = readLabState();
  layers = {
    database: DBS.every((h) => active(h, 'mariadb')),
    lb: LBS.every((h) => active(h, 'haproxy') && active(h, 'keepalived')),
    storage: DBS.every((h) => active(h, 'glusterd')) && labExec('db1', `gluster --mode=script volume info ${VOLUME}`, { allowFailure: true }).code === 0,
  };
});

function inventory(s: LabState, dir: string): string {
  const sections: string[] = [];
  if (layers.database) sections.push('    database: { cluster_name: lab, sst_method: rsync }');
  if (layers.lb) {
    sections.push(`    load_balancer:
      kind: haproxy
      vip: ${s.vip}/24
      interface: eth0
      virtual_router_id: 51
      auth_password: { env: KEEPALIVED_PASSWORD }`);
  }
  if (layers.storage) sections.push(`    storage: { kind: glusterfs, volume: ${VOLUME}, mount_path: ${MOUNT} }`);
  const roles = layers.storage ? '[db, storage, web]' : '[db]';
  const extra = `  lab-verify:
    ssh: { user: root }
    hosts:
${DBS.map((h) => `      - { name: ${h}, address: ${labHost(s, h).address}, roles: ${roles} }`).join('\n')}
${LBS.map((h) => `      - { name: ${h}, address: ${labHost(s, h).address}, roles: [lb] }`).join('\n')}
${sections.join('\n')}
`;
  return writeLabInventory(s, dir, extra);
}

describe('verify-ha on the lab (read-only)', () => {
  it('passes on what is deployed, with every deployed layer in the table', async (ctx) => {
    if (!state) return ctx.skip();
    if (!layers.database && !layers.lb && !layers.storage) return ctx.skip();
    const workspace = tempDir('verify-ha');
    inventory(state, workspace);
    const run = await runAction(
      state,
      {
        command: 'verify-ha',
        mode: 'plan',
        inventory: 'ha.yml',
        environment: 'lab-verify',
        'ssh-private-key': readFileSync(state.sshKey, 'utf8'),
        'known-hosts': readFileSync(state.knownHosts, 'utf8'),
      },
      { workspace, env: { KEEPALIVED_PASSWORD: 'unused-by-verify' } },
    );
    expect(run.stderr).not.toContain('    at ');
    const result = JSON.parse(run.outputs.result);
    const failed = result.checks.filter((c: { status: string }) => c.status === 'fail');
    expect(failed).toEqual([]);
    expect(run.outputs['failure-reason']).toBe('');
    const seen = new Set(result.checks.map((c: { layer: string }) => c.layer));
    if (layers.database) expect(seen).toContain('galera');
    if (layers.lb) {
      expect(seen).toContain('load balancer');
      expect(seen).toContain('vip');
    } else expect(seen).not.toContain('vip');
    if (layers.storage) expect(seen).toContain('storage');
    else expect(seen).not.toContain('storage');
  });
});
