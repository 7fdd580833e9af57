import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { labExec, readLabState, runAction, tempDir, type ActionRun, type LabState } from './lab.js';

/**
 * The Moodle example, deployed into the lab as `npm run demo` does (the same
 * scripts/demo-inventory.mjs mapping), then used the way Moodle would use it:
 * the settings are read out of the config.php snippet lms-ha prints (run by
 * PHP, as Moodle reads it), and a client with exactly those settings writes
 * through the writer port and reads its row back through the reader port.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECRETS = { MOODLE_DB_PASSWORD: `canary-moodle-${process.pid}`, GALERA_SST_PASSWORD: `canary-sst-${process.pid}`, KEEPALIVED_PASSWORD: 'kaf00d12' };
const hasPhp = spawnSync('php', ['--version']).status === 0;

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

async function action(command: string, mode: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  const run = await runAction(
    state,
    { command, mode, inventory: 'ha.yml', environment: 'lab', 'ssh-private-key': readFileSync(state.sshKey, 'utf8'), 'known-hosts': readFileSync(state.knownHosts, 'utf8'), ...extra },
    { workspace, env: SECRETS },
  );
  runs.push(run);
  return run;
}

function tail(run: ActionRun): string {
  return run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).slice(-25).join('\n');
}

describe.skipIf(!hasPhp)('the Moodle example in the lab, used with exactly the settings lms-ha prints', () => {
  let cfg: MoodleCfg;
  let verify: ActionRun;

  beforeAll(async () => {
    state = readLabState();
    workspace = tempDir('platform');
    execFileSync(process.execPath, [join(ROOT, 'scripts/demo-inventory.mjs'), join(ROOT, 'examples/moodle.yml'), join('/run/lms-ha-lab', 'state.json'), join(workspace, 'ha.yml')]);
    for (const command of ['deploy-db', 'deploy-lb']) {
      const run = await action(command, 'apply');
      if (run.outputs['failure-reason'] !== '') throw new Error(`${command} failed: ${run.outputs['failure-reason']}\n${tail(run)}`);
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
  }, 600_000);

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
