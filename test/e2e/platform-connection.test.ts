import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labExec, readLabState, REPO_ROOT, runAction, tempDir, type ActionRun, type LabState } from './lab.js';

/**
 * The Moodle example, deployed into freshly re-created lab hosts as `npm run
 * demo` does (the same scripts/demo-inventory.mjs mapping and the same chain:
 * provision, deploy-db, deploy-lb, migrate-storage, then verify-ha; issue 11
 * test 6), each step converging (its re-plan shows no change), then used the way Moodle would use it:
 * the settings are read out of the config.php snippet lms-ha prints (run by
 * PHP, as Moodle reads it), and a client with exactly those settings writes
 * through the writer port and reads its row back through the reader port.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECRETS = { MOODLE_DB_PASSWORD: `canary-moodle-${process.pid}`, GALERA_SST_PASSWORD: `canary-sst-${process.pid}`, KEEPALIVED_PASSWORD: 'kaf00d12' };
const hasPhp = spawnSync('php', ['--version']).status === 0;
/** The demo's chain after provision (scripts/demo.sh), each applied then re-planned. */
const CHAIN = ['provision', 'deploy-db', 'deploy-lb', 'migrate-storage'];
const DB_HOSTS = ['db1', 'db2', 'db3'];
const ALL_HOSTS = [...DB_HOSTS, 'lb1', 'lb2'];

interface MoodleCfg {
  dbtype: string;
  dbhost: string;
  dbname: string;
  dbuser: string;
  dbpass: string;
  dataroot: string;
  dboptions: { dbport: number; readonly: { instance: { dbhost: string; dbport: number; dbuser: string; dbpass: string }[] } };
}

let state: LabState;
let workspace: string;
const runs: ActionRun[] = [];

let planKey: string;

async function action(command: string, mode: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  const run = await runAction(
    state,
    { command, mode, inventory: 'ha.yml', environment: 'lab', 'ssh-private-key': readFileSync(state.sshKey, 'utf8'), 'known-hosts': readFileSync(state.knownHosts, 'utf8'), ...extra },
    { workspace, env: SECRETS },
  );
  runs.push(run);
  return run;
}

const changes = (run: ActionRun): { host: string; summary: string }[] => JSON.parse(run.outputs['result'] ?? '{}').changes ?? [];

function tail(run: ActionRun): string {
  return run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).slice(-25).join('\n');
}

describe.skipIf(!hasPhp)('the Moodle example in the lab, used with exactly the settings lms-ha prints', () => {
  let cfg: MoodleCfg;
  let verify: ActionRun;
  /** Per command of the chain: what its re-plan after the apply still wanted to change. */
  const leftOver = new Map<string, string[]>();
  /** Plans run with the apply key and with the plan key (ssh-account plan), right after provision. */
  const byKey = new Map<string, { apply: ActionRun; plan: ActionRun }>();
  let applyWithPlanKey: ActionRun;

  beforeAll(async () => {
    // Fresh hosts, as a first rollout finds them (about 10 s).
    execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up'], { stdio: 'ignore', timeout: 600_000 });
    state = readLabState();
    workspace = tempDir('platform');
    execFileSync(process.execPath, [join(ROOT, 'scripts/demo-inventory.mjs'), join(ROOT, 'examples/moodle.yml'), join('/run/lms-ha-lab', 'state.json'), join(workspace, 'ha.yml')]);
    // The plan key (issue 11 test 4): its public half in the inventory, for provision's plan account.
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lms-ha-plan@e2e', '-f', join(workspace, 'plan_key')]);
    planKey = readFileSync(join(workspace, 'plan_key'), 'utf8');
    const inventory = parse(readFileSync(join(workspace, 'ha.yml'), 'utf8'));
    inventory.environments.lab.provision = { plan_account: { public_key: readFileSync(join(workspace, 'plan_key.pub'), 'utf8').trim() } };
    writeFileSync(join(workspace, 'ha.yml'), stringify(inventory));
    for (const command of CHAIN) {
      const run = await action(command, 'apply');
      if (run.outputs['failure-reason'] !== '') throw new Error(`${command} failed: ${run.outputs['failure-reason']}\n${tail(run)}`);
      const again = await action(command, 'plan');
      if (again.outputs['failure-reason'] !== '') throw new Error(`${command} re-plan failed: ${again.outputs['failure-reason']}\n${tail(again)}`);
      leftOver.set(command, changes(again).map((c) => `${c.host}: ${c.summary}`));
      if (command === 'provision') {
        // The fresh hosts now have the plan account: the same plans with either key, before anything else is deployed.
        for (const planned of ['preflight', 'deploy-db']) {
          byKey.set(planned, { apply: await action(planned, 'plan'), plan: await action(planned, 'plan', { 'ssh-private-key': planKey, 'ssh-account': 'plan' }) });
        }
        applyWithPlanKey = await action('deploy-db', 'apply', { 'ssh-private-key': planKey, 'ssh-account': 'plan' });
      }
    }
    // verify-ha polls until the freshly moved VIP and HAProxy's checks settle.
    for (let i = 0; i < 30; i++) {
      verify = await action('verify-ha', 'plan');
      if (verify.outputs['failure-reason'] === '') break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const connection = JSON.parse(verify.outputs.connection!);
    const snippet = join(workspace, 'config.php');
    writeFileSync(snippet, `${connection.snippet.text}\necho json_encode($CFG);\n`);
    // As Moodle reads it: PHP runs the block with the password in its variable.
    cfg = JSON.parse(execFileSync('php', [snippet], { encoding: 'utf8', env: { ...process.env, MOODLE_DB_PASSWORD: SECRETS.MOODLE_DB_PASSWORD } }));
  }, 1_200_000);

  afterAll(() => {
    if (!state) return;
    // provision's firewall table and boot unit; the next suites re-create the hosts they need bare.
    for (const h of ALL_HOSTS) {
      labExec(
        h,
        'nft delete table inet lms_ha_firewall 2>/dev/null; systemctl disable lms-ha-firewall.service 2>/dev/null; ' +
          'rm -f /etc/lms-ha/firewall.nft /etc/systemd/system/lms-ha-firewall.service /etc/systemd/system/nftables.service.d/lms-ha-firewall.conf; systemctl daemon-reload; true',
        { allowFailure: true },
      );
    }
  });

  it('the demo chain converges on fresh hosts: each of provision, deploy-db, deploy-lb, migrate-storage re-plans to no change', () => {
    expect(Object.fromEntries(leftOver)).toEqual(Object.fromEntries(CHAIN.map((c) => [c, []])));
    // provision's baseline is there: every host knows the others by name, and the cluster ports are fenced by its table.
    expect(labExec('db1', 'getent hosts db2 lb2').stdout).toMatch(/db2[\s\S]*lb2/);
    expect(labExec('db1', 'nft list table inet lms_ha_firewall').stdout).toContain('4567');
    // migrate-storage's volume is mounted where Moodle's files go.
    expect(labExec('db1', 'findmnt -n -o FSTYPE /var/www/moodledata').stdout.trim()).toBe('fuse.glusterfs');
  });

  it('the plan account: the same plans and plan hashes as with the apply key; apply with it is refused; sudo of anything but the gatherer fails', () => {
    for (const [command, { apply, plan }] of byKey) {
      expect(plan.outputs['failure-reason'], `${command} with the plan key: ${tail(plan)}`).toBe('');
      expect(apply.outputs['failure-reason'], `${command} with the apply key`).toBe('');
      expect(plan.outputs['plan-hash'], command).toBe(apply.outputs['plan-hash']);
      expect(changes(plan), command).toEqual(changes(apply));
    }
    expect(byKey.get('deploy-db')!.plan.outputs['plan-hash']).toMatch(/[0-9a-f]{64}/);
    expect(changes(byKey.get('deploy-db')!.plan).length).toBeGreaterThan(0);
    expect(applyWithPlanKey.outputs['failure-reason']).toBe('invalid-input');
    expect(applyWithPlanKey.annotations.join('\n')).toContain('plan can only plan');
    for (const h of DB_HOSTS) {
      const asPlan = (cmd: string) => labExec(h, `su -s /bin/sh lms-ha-plan -c ${JSON.stringify(cmd)}`, { allowFailure: true });
      expect(asPlan('sudo -n /usr/local/libexec/lms-ha/gather --version').code, h).toBe(0);
      for (const other of ['sudo -n id', 'sudo -n cat /etc/shadow', 'sudo -n sh -c id', 'sudo -n systemctl stop mariadb']) {
        const r = asPlan(other);
        expect(r.code, `${h}: ${other}`).not.toBe(0);
        expect(r.stdout).not.toContain('uid=0');
      }
      expect(labExec(h, 'stat -c "%U %a" /usr/local/libexec/lms-ha/gather /etc/sudoers.d/lms-ha-plan').stdout.trim().split('\n')).toEqual(['root 755', 'root 440']);
    }
  });

  it('prints the connection for the deployed load balancer, with the password only named', () => {
    expect(verify.outputs['failure-reason']).toBe('');
    expect(cfg).toMatchObject({ dbtype: 'mariadb', dbhost: state.vip, dbname: 'moodle', dbuser: 'moodle', dataroot: '/var/www/moodledata' });
    expect(cfg.dboptions.dbport).toBe(3307);
    expect(cfg.dboptions.readonly.instance).toHaveLength(1);
    expect(cfg.dboptions.readonly.instance[0]).toMatchObject({ dbhost: state.vip, dbport: 3308, dbuser: 'moodle' });
    expect(verify.summary).toContain('How the platform connects');
    expect(verify.summary).toContain("getenv('MOODLE_DB_PASSWORD')");
    for (const run of runs) {
      for (const secret of Object.values(SECRETS)) expect(`${run.stdout}${run.stderr}${run.summary}${JSON.stringify(run.outputs)}`.replaceAll(/::add-mask::.*\n/g, '')).not.toContain(secret);
    }
  });

  it("verify-ha's installer check passed as the Moodle user", () => {
    const result = JSON.parse(verify.outputs.result!) as { checks: { layer: string; status: string; observed: string }[] };
    const check = result.checks.find((c) => c.layer === 'platform');
    expect(check, 'a platform check row').toBeDefined();
    expect(check!.status).toBe('ok');
    expect(check!.observed).toContain('read its row back on port 3308');
  });

  it('a client with the snippet settings writes via the writer port and reads its row back via the reader port', () => {
    const reader = cfg.dboptions.readonly.instance[0]!;
    const token = `row-${Date.now()}`;
    const client = (host: string, port: number, user: string, password: string, sql: string) =>
      labExec('db1', `f=$(mktemp); cat > "$f"; mariadb --defaults-extra-file="$f" --protocol=TCP -h${host} -P${port} -N -B ${cfg.dbname} -e "${sql}"; rc=$?; rm -f "$f"; exit $rc`, {
        input: `[client]\nuser=${user}\npassword=${password}\n`,
        allowFailure: true,
      });
    const write = client(cfg.dbhost, cfg.dboptions.dbport, cfg.dbuser, cfg.dbpass, `CREATE TABLE IF NOT EXISTS mdl_lms_ha_e2e (id INT PRIMARY KEY, v VARCHAR(64)); REPLACE INTO mdl_lms_ha_e2e VALUES (1, '${token}'); SELECT @@hostname;`);
    expect(write.code, write.stderr).toBe(0);
    const read = client(reader.dbhost, reader.dbport, reader.dbuser, reader.dbpass, 'SELECT v, @@hostname FROM mdl_lms_ha_e2e WHERE id=1;');
    expect(read.code, read.stderr).toBe(0);
    const [value, readHost] = read.stdout.trim().split('\t');
    expect(value).toBe(token);
    console.log(`wrote on ${write.stdout.trim()} via ${cfg.dbhost}:${cfg.dboptions.dbport}, read back on ${readHost} via ${reader.dbhost}:${reader.dbport}`);
    client(cfg.dbhost, cfg.dboptions.dbport, cfg.dbuser, cfg.dbpass, 'DROP TABLE mdl_lms_ha_e2e;');
  });
});
