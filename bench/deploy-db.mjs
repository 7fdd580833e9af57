// deploy-db speed (issue 3), side by side in one run, on fresh lab hosts each:
// - cold: 3 bare hosts to a Synced cluster with lms-ha deploy-db apply, vs a
//   hand-written minimal shell sequence over OpenSSH doing the same steps
//   (install, stop, config, bootstrap, join one at a time, app database and
//   user). Target: lms-ha / shell <= 1.2.
// - no-op re-apply on the converged 3 hosts. Target: < 3 s wall.
// BENCH_DEPLOY_ROUNDS (default 1) cold pairs, alternating, each on fresh hosts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLab, median, runCli } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_DEPLOY_ROUNDS ?? 1);
const NOOP_ROUNDS = 3;
const DB = ['db1', 'db2', 'db3'];
const APP_PASSWORD = 'bench-not-a-secret';

function inventory(state) {
  const address = (n) => state.hosts.find((h) => h.name === n).address;
  return `version: 1
environments:
  lab-db:
    ssh: { user: root }
    hosts:
${DB.map((n) => `      - { name: ${n}, address: ${address(n)}, roles: [db] }`).join('\n')}
    app:
      preset: moodle
      users:
        - name: moodle
          password: { env: BENCH_APP_DB_PASSWORD }
          databases: [moodle]
          hosts: ['10.231.0.%']
    database:
      cluster_name: lab
      buffer_pool_size: 128M
      gcache_size: 64M
      max_connections: 200
`;
}

/** The minimal hand-written sequence: what an operator's shell script would do. */
function shellSequence(state) {
  const addr = (n) => state.hosts.find((h) => h.name === n).address;
  const ssh = `ssh -i ${state.sshKey} -o UserKnownHostsFile=${state.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`;
  const config = (n) => `[mariadb]
wsrep_on = ON
wsrep_provider = /usr/lib/galera/libgalera_smm.so
wsrep_cluster_name = lab
wsrep_cluster_address = gcomm://${DB.map(addr).join(',')}
wsrep_node_address = ${addr(n)}
wsrep_node_name = ${n}
wsrep_sst_method = mariabackup
wsrep_sst_auth = mysql:
wsrep_provider_options = "gcache.size=64M"
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
bind_address = 0.0.0.0
innodb_buffer_pool_size = 128M
max_connections = 200
`;
  const waitSynced = `for i in $(seq 600); do s=$(mariadb -N -B -e "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | cut -f2); [ "$s" = Synced ] && exit 0; sleep 0.25; done; exit 1`;
  const install = (n) => `${ssh} root@${addr(n)} 'set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null; apt-get install -y -q mariadb-server galera-4 mariadb-backup >/dev/null; systemctl stop mariadb; cat > /etc/mysql/mariadb.conf.d/60-galera.cnf' <<'EOF'
${config(n)}EOF`;
  return [
    'set -e',
    // install + config on every host at once
    'pids=""',
    ...DB.map((n) => `( ${install(n)}\n) & pids="$pids $!"`),
    'for p in $pids; do wait $p; done',
    `${ssh} root@${addr('db1')} 'galera_new_cluster; ${waitSynced.replace(/'/g, `'\\''`)}'`,
    `${ssh} root@${addr('db1')} 'mariadb' <<'EOF'
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'mysql'@'localhost';
CREATE DATABASE IF NOT EXISTS moodle CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'moodle'@'10.231.0.%' IDENTIFIED BY '${APP_PASSWORD}';
GRANT ALL PRIVILEGES ON moodle.* TO 'moodle'@'10.231.0.%';
EOF`,
    // join one at a time, as deploy-db does by default
    ...DB.slice(1).map((n) => `${ssh} root@${addr(n)} 'systemctl start mariadb; ${waitSynced.replace(/'/g, `'\\''`)}'`),
  ].join('\n');
}

function clusterSize(state) {
  const a = state.hosts.find((h) => h.name === 'db1').address;
  const r = spawnSync(
    'ip',
    ['netns', 'exec', state.runnerNamespace, 'ssh', '-i', state.sshKey, '-o', `UserKnownHostsFile=${state.knownHosts}`, '-o', 'BatchMode=yes', `root@${a}`, `mariadb -N -B -e "SHOW STATUS LIKE 'wsrep_cluster_size'"`],
    { encoding: 'utf8' },
  );
  return Number((r.stdout.split('\t')[1] ?? '').trim());
}

export async function bench() {
  const lms = [];
  const shell = [];
  const noop = [];
  for (let round = 0; round < ROUNDS; round++) {
    // lms-ha on fresh hosts
    let state = ensureLab(0, { fresh: true });
    const dir = mkdtempSync(join(tmpdir(), 'lms-ha-bench-db-'));
    writeFileSync(join(dir, 'ha.yml'), inventory(state));
    const env = { BENCH_APP_DB_PASSWORD: APP_PASSWORD };
    lms.push(runCli(state, ['deploy-db', '-e', 'lab-db', '-m', 'apply', '--json'], { cwd: dir, env }).ms);
    if (clusterSize(state) !== 3) throw new Error('bench: lms-ha deploy-db did not form a 3-node cluster');
    if (round === 0) {
      for (let i = 0; i < NOOP_ROUNDS; i++) {
        const { ms, run } = runCli(state, ['deploy-db', '-e', 'lab-db', '-m', 'apply', '--json'], { cwd: dir, env });
        if (JSON.parse(run.stdout).changed !== false) throw new Error('bench: the re-apply was not a no-op');
        noop.push(ms);
      }
    }

    // the shell sequence on fresh hosts
    state = ensureLab(0, { fresh: true });
    const started = process.hrtime.bigint();
    const r = spawnSync('ip', ['netns', 'exec', state.runnerNamespace, 'bash', '-c', shellSequence(state)], { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (r.status !== 0) throw new Error(`bench: shell sequence failed: ${r.stderr.slice(-2000)}`);
    if (clusterSize(state) !== 3) throw new Error('bench: the shell sequence did not form a 3-node cluster');
    shell.push(ms);
  }
  const ratio = median(lms) / median(shell);
  const result = {
    cold_lms_ha_ms: Math.round(median(lms)),
    cold_shell_ms: Math.round(median(shell)),
    ratio: Number(ratio.toFixed(2)),
    target_ratio: 1.2,
    noop_ms: Math.round(median(noop)),
    target_noop_ms: 3000,
    rounds: ROUNDS,
    samples_lms_ha_ms: lms.map(Math.round),
    samples_shell_ms: shell.map(Math.round),
    samples_noop_ms: noop.map(Math.round),
  };
  const line =
    `deploy-db: cold 3 bare hosts to Synced ${result.cold_lms_ha_ms} ms vs shell sequence ${result.cold_shell_ms} ms, ratio ${result.ratio} (target <= 1.2): ${ratio <= 1.2 ? 'met' : 'NOT met'}; ` +
    `no-op re-apply ${result.noop_ms} ms (target < 3000): ${result.noop_ms < 3000 ? 'met' : 'NOT met'}`;
  return { result, line };
}
