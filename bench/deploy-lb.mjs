// Failover and overhead of the load balancer tier, measured on the lab after
// deploy-db + deploy-lb, side by side for each proxy in one run: HAProxy
// always; ProxySQL too when LMS_HA_PROXYSQL_DEB names its .deb (it cannot be
// installed here otherwise). For each proxy, medians of a few rounds:
//  (a) the VIP holder's proxy dies (its unit stopped): time until a client
//      gets an answer through the VIP again. Target < 2 s.
//  (b) the writer db node dies: time until a write through the VIP commits
//      again. Target < 3 s. The mariadbd process SIGKILLed (systemd restarts
//      it) and a clean stop (the node leaves the cluster by itself); with
//      BENCH_LB_FAULTS=kill,stop,link also the node dropping off the network.
//  (c) a long-lived client: one connection through the VIP that commits every
//      50 ms while the writer is killed; how many of its statements failed
//      afterwards and whether it was committing again at the end (a Moodle
//      cron or backup holds one connection and does not reconnect).
//  (d) throughput of a read/write mix (1 INSERT + 4 primary-key SELECTs) on
//      one connection through the VIP, against the same directly on the
//      writer: the proxy's overhead as a ratio.
// Every time is taken on one clock (the lab's hosts share the machine's
// kernel): from the moment the fault command ran on the host to the end of
// the first successful client request that started after it. Health is
// restored and waited for between rounds. BENCH_LB_TRACE=1 prints each
// client attempt and the proxy's and Galera's log lines around a writer fault.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { ensureLab, LAB, median, runCli } from './lib.mjs';

const ROUNDS_LB = Number(process.env.BENCH_LB_ROUNDS ?? 3);
const FAULTS = (process.env.BENCH_LB_FAULTS ?? 'kill,stop').split(',');
const TRACE = Boolean(process.env.BENCH_LB_TRACE);
const APP_PASSWORD = `bench-${randomBytes(6).toString('hex')}`;
const VRRP_PASSWORD = `ka${randomBytes(3).toString('hex')}`;
const PROXYSQL_ADMIN = `adm-${randomBytes(6).toString('hex')}`;
const PROXYSQL_MONITOR = `mon-${randomBytes(6).toString('hex')}`;
const TABLE = 'moodle.lms_ha_bench';

const PROXIES = {
  haproxy: { unit: 'haproxy', port: 3307, environment: 'lab' },
  proxysql: { unit: 'proxysql', port: 6033, environment: 'labp' },
};

function exec(host, script, { input, allowFailure = false } = {}) {
  const r = spawnSync('bash', [LAB, 'exec', host, '--', 'bash', '-c', script], { encoding: 'utf8', input, timeout: 300_000 });
  if (r.status !== 0 && !allowFailure) throw new Error(`lab exec on ${host} failed (${r.status}): ${script}\n${r.stderr}`);
  return { code: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, check, timeoutMs = 180_000) {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`bench deploy-lb: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

function environment(state, name, kind, deb) {
  const a = (n) => state.hosts.find((h) => h.name === n).address;
  const proxysql =
    kind === 'proxysql'
      ? `      proxysql:
        admin_password: { env: BENCH_PROXYSQL_ADMIN }
        monitor_password: { env: BENCH_PROXYSQL_MONITOR }
        package: { url: '${deb.url}', sha256: ${deb.sha256} }
`
      : '';
  return `  ${name}:
    ssh: { user: root }
    hosts:
      - { name: db1, address: ${a('db1')}, roles: [db] }
      - { name: db2, address: ${a('db2')}, roles: [db] }
      - { name: db3, address: ${a('db3')}, roles: [db] }
      - { name: lb1, address: ${a('lb1')}, roles: [lb] }
      - { name: lb2, address: ${a('lb2')}, roles: [lb] }
    app:
      preset: moodle
      users:
        - { name: moodle, password: { env: BENCH_APP_DB_PASSWORD }, databases: [moodle], hosts: ['10.231.0.%'] }
    database:
      cluster_name: lab
      buffer_pool_size: 128M
    load_balancer:
      kind: ${kind}
      vip: ${state.vip}/24
      interface: eth0
      virtual_router_id: 51
      auth_password: { env: BENCH_VRRP_PASSWORD }
${proxysql}`;
}

/** Where the bench tells the client when the fault happened, so it can stop at its first success after it. */
const FAULT_AT = '/run/lms-ha-bench-fault-at';

/**
 * A client on `host` that runs `sql` through the VIP back to back, one new
 * connection per attempt, and prints one line per attempt: "ok|fail START
 * END" (epoch ms). It stops after its first success that started after the
 * time in FAULT_AT, or after `durationMs`. The password arrives on stdin.
 */
function startClient(state, host, port, sql, durationMs) {
  const script = `read -r MYSQL_PWD; export MYSQL_PWD
rm -f ${FAULT_AT}
end=$(( $(date +%s%3N) + ${durationMs} ))
while [ "$(date +%s%3N)" -lt "$end" ]; do
  s=$(date +%s%3N)
  if timeout 10 mariadb -h ${state.vip} -P ${port} -u moodle --connect-timeout=2 -N -B -e "${sql}" >/dev/null 2>&1; then r=ok; else r=fail; fi
  echo "$r $s $(date +%s%3N)"
  if [ "$r" = ok ] && [ -s ${FAULT_AT} ] && [ "$s" -ge "$(cat ${FAULT_AT})" ]; then break; fi
  sleep 0.02
done`;
  const child = spawn('bash', [LAB, 'exec', host, '--', 'bash', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(`${APP_PASSWORD}\n`);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const done = new Promise((resolve) => child.on('close', () => resolve(out)));
  return { done, lines: () => out };
}

function parseAttempts(text) {
  return text
    .split('\n')
    .map((l) => l.trim().split(' '))
    .filter((p) => p.length === 3 && (p[0] === 'ok' || p[0] === 'fail'))
    .map(([r, s, e]) => ({ ok: r === 'ok', start: Number(s), end: Number(e) }));
}

/** Runs `fault` on `faultHost` (its epoch ms printed first) and returns it. */
function fault(faultHost, command) {
  return Number(exec(faultHost, `date +%s%3N; ${command}`).stdout.trim().split('\n')[0]);
}

/** Runs `faultCommand` while a client polls; returns ms until service came back. */
async function measure(state, port, clientHost, sql, faultHost, faultCommand, durationMs) {
  const client = startClient(state, clientHost, port, sql, durationMs);
  // Service must be up before the fault, or the round measures nothing.
  await waitFor('the client succeeding before the fault', () => parseAttempts(client.lines()).some((a) => a.ok), 15_000);
  const t0 = fault(faultHost, faultCommand);
  exec(clientHost, `echo ${t0} > ${FAULT_AT}`);
  const attempts = parseAttempts(await client.done);
  if (TRACE) console.error(`trace: fault at ${t0} on ${faultHost}: ${attempts.filter((a) => a.end >= t0).map((a) => `${a.ok ? 'ok' : 'FAIL'} +${a.start - t0}..+${a.end - t0}`).join(', ')}`);
  const after = attempts.filter((a) => a.start >= t0);
  const firstOk = after.find((a) => a.ok);
  const failed = after.filter((a) => !a.ok).length;
  if (!firstOk) throw new Error(`bench deploy-lb: no successful request within ${durationMs} ms of the fault on ${faultHost} (${failed} failed)`);
  return { ms: firstOk.end - t0, failedAttempts: failed, t0 };
}

/**
 * One connection through the VIP for `seconds`: an INSERT and a SELECT every
 * 50 ms, the client never reconnecting (--skip-reconnect, as PHP's mysqli),
 * going on after errors (--force). The writer is killed `faultAfterMs` in.
 * Counts the statements that failed after the fault and says whether the
 * connection was committing again at the end.
 */
async function longLived(state, port, clientHost, writer) {
  const seconds = 12;
  const faultAfterMs = 3000;
  // One line of input per iteration (mariadb's errors say "at line N": the iteration), its send time in the SELECT.
  const script = `read -r MYSQL_PWD; export MYSQL_PWD
{ end=$(( $(date +%s%3N) + ${seconds * 1000} )); i=0
  while [ "$(date +%s%3N)" -lt "$end" ]; do i=$((i+1)); t=$(date +%s%3N)
    echo "INSERT INTO ${TABLE} (at) VALUES ($t); SELECT 'ok', $i, $t;"; sleep 0.05; done; echo $i > /run/lms-ha-bench-fed; } |
  mariadb --skip-reconnect --force -h ${state.vip} -P ${port} -u moodle -N -B 2>&1
echo "fed $(cat /run/lms-ha-bench-fed)"`;
  const child = spawn('bash', [LAB, 'exec', clientHost, '--', 'bash', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(`${APP_PASSWORD}\n`);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const done = new Promise((resolve) => child.on('close', () => resolve(out)));
  await sleep(faultAfterMs);
  const t0 = fault(writer, 'systemctl kill --kill-who=main --signal=SIGKILL mariadb');
  const lines = (await done).split('\n').filter(Boolean);
  const fed = Number(/^fed (\d+)$/m.exec(lines.join('\n'))?.[1] ?? 0);
  const oks = lines.filter((l) => l.startsWith('ok\t')).map((l) => ({ i: Number(l.split('\t')[1]), at: Number(l.split('\t')[2]) }));
  const beforeFault = Math.max(0, ...oks.filter((o) => o.at < t0).map((o) => o.i));
  const errors = lines.filter((l) => /^ERROR/.test(l)).filter((l) => Number(/at line (\d+)/.exec(l)?.[1] ?? Infinity) > beforeFault);
  const sent = 2 * (fed - beforeFault);
  // Committing at the end: the last second of iterations all went through.
  const lastOk = Math.max(0, ...oks.map((o) => o.i));
  const committingAtEnd = fed > 0 && lastOk === fed;
  const firstError = errors[0]?.replace(/ at line \d+/, '') ?? null;
  return { statementsAfterKill: sent, failedAfterKill: errors.length, committingAtEnd, firstError };
}

/** Seconds for `iterations` x (1 INSERT + 4 PK SELECTs) on one connection to host:port. */
function mixSeconds(clientHost, host, port, iterations) {
  const r = exec(
    clientHost,
    `read -r MYSQL_PWD; export MYSQL_PWD
f=$(mktemp); for i in $(seq 1 ${iterations}); do echo "INSERT INTO ${TABLE} (at) VALUES ($i); SELECT at FROM ${TABLE} WHERE id = LAST_INSERT_ID(); SELECT at FROM ${TABLE} WHERE id = $i; SELECT at FROM ${TABLE} WHERE id = $((i + 1)); SELECT COUNT(*) FROM ${TABLE} WHERE id = $((i + 2));"; done > "$f"
s=$(date +%s%N); mariadb -h ${host} -P ${port} -u moodle -N -B < "$f" > /dev/null; e=$(date +%s%N); rm -f "$f"; echo $(( (e - s) / 1000000 ))`,
    { input: `${APP_PASSWORD}\n` },
  );
  return Number(r.stdout.trim()) / 1000;
}

const holdsVip = (state, host) => exec(host, 'ip -o addr show dev eth0', { allowFailure: true }).stdout.includes(` ${state.vip}/`);

function clustercheckOk(state, from, db) {
  const address = state.hosts.find((h) => h.name === db).address;
  const r = exec(from, `timeout 3 bash -c 'exec 3<>/dev/tcp/${address}/9200 && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && head -1 <&3'`, { allowFailure: true });
  return r.code === 0 && r.stdout.startsWith('HTTP/1.1 200');
}

/** HAProxy on `lb` sees every server of both listeners UP. */
function haproxyAllUp(lb) {
  const csv = exec(lb, `timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8404 && printf "GET /;csv HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3'`, { allowFailure: true }).stdout;
  const servers = csv.split('\n').filter((l) => /^galera_(writer|reader),db\d,/.test(l));
  return servers.length === 6 && servers.every((l) => l.split(',')[17]?.startsWith('UP'));
}

/** ProxySQL on `lb` has one ONLINE writer and every node ONLINE somewhere. */
function proxysqlAllOnline(state, lb) {
  const r = exec(lb, `MYSQL_PWD='${PROXYSQL_ADMIN}' mariadb -h127.0.0.1 -P6032 -uadmin -N -B -e "SELECT hostgroup_id, hostname, status FROM runtime_mysql_servers"`, { allowFailure: true });
  const rows = r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
  const writers = rows.filter(([hg, , st]) => hg === '10' && st === 'ONLINE');
  const online = new Set(rows.filter(([, , st]) => st === 'ONLINE').map(([, h]) => h));
  return writers.length === 1 && ['db1', 'db2', 'db3'].every((d) => online.has(state.hosts.find((h) => h.name === d).address));
}

async function healthy(state, kind, what) {
  await waitFor(`${what}: every db node synced`, () => ['db1', 'db2', 'db3'].every((d) => clustercheckOk(state, 'lb1', d)));
  if (kind === 'haproxy') await waitFor(`${what}: both HAProxies see every server UP`, () => haproxyAllUp('lb1') && haproxyAllUp('lb2'));
  else await waitFor(`${what}: both ProxySQLs see every node ONLINE`, () => proxysqlAllOnline(state, 'lb1') && proxysqlAllOnline(state, 'lb2'));
  await waitFor(`${what}: one LB holding the VIP`, () => ['lb1', 'lb2'].filter((h) => holdsVip(state, h)).length === 1);
}

function trace(state, faultHost, kind) {
  if (!TRACE) return;
  const holder = ['lb1', 'lb2'].find((h) => holdsVip(state, h)) ?? 'lb1';
  console.error(exec(holder, `journalctl -u ${kind} -o short-precise --no-pager --since '-40s' | grep -v ' Connect from' | grep -Ei 'DOWN|UP|shun|offline|writer' | tail -20`, { allowFailure: true }).stdout);
  const witness = ['db1', 'db2', 'db3'].find((d) => d !== faultHost && d !== 'db3') ?? 'db2';
  console.error(exec(witness, `journalctl -u mariadb -o short-precise --no-pager --since '-40s' | grep -Ei 'suspect|declaring inactive|view\\(' | tail -10`, { allowFailure: true }).stdout);
}

/** Every figure for one proxy (its environment already deployed and healthy). */
async function proxyFigures(state, kind) {
  const { unit, port } = PROXIES[kind];
  const tag = `bench deploy-lb (${kind})`;
  const vip = [];
  for (let i = 0; i < ROUNDS_LB; i++) {
    const holder = ['lb1', 'lb2'].find((h) => holdsVip(state, h));
    const r = await measure(state, port, 'db3', 'SELECT 1', holder, `systemctl stop ${unit}`, 10_000);
    vip.push(r.ms);
    console.error(`${tag}: (a) round ${i + 1}: ${unit} stopped on ${holder}, VIP serving again after ${r.ms} ms (${r.failedAttempts} failed attempts)`);
    exec(holder, `systemctl start ${unit}`);
    await healthy(state, kind, `(a) round ${i + 1}`);
  }

  const writerNow = () => exec('db3', `read -r MYSQL_PWD; export MYSQL_PWD; mariadb -h ${state.vip} -P ${port} -u moodle -N -B -e "BEGIN; SELECT @@hostname; COMMIT"`, { input: `${APP_PASSWORD}\n` }).stdout.trim();
  const insert = `INSERT INTO ${TABLE} (at) VALUES (UNIX_TIMESTAMP(NOW(3)) * 1000)`;
  const faults = {
    // mariadbd killed; systemd restarts it (Restart=on-abort), the node rejoins by IST.
    kill: { command: 'systemctl kill --kill-who=main --signal=SIGKILL mariadb', restore: () => {} },
    // A clean stop: the node leaves the cluster by itself.
    stop: { command: 'systemctl stop mariadb', restore: (w) => exec(w, 'systemctl start mariadb') },
    // The node falls off the network; back with its link.
    link: { command: 'ip link set eth0 down', restore: (w) => exec(w, 'ip link set eth0 up') },
  };
  const writes = {};
  for (const kindOfFault of FAULTS) {
    const { command, restore } = faults[kindOfFault];
    writes[kindOfFault] = [];
    for (let i = 0; i < ROUNDS_LB; i++) {
      const writer = writerNow();
      if (writer === 'db3') throw new Error(`${tag}: the writer is db3, the client host`);
      const r = await measure(state, port, 'db3', insert, writer, command, 25_000);
      writes[kindOfFault].push(r.ms);
      console.error(`${tag}: (b/${kindOfFault}) round ${i + 1}: writer ${writer} down, writes through the VIP again after ${r.ms} ms (${r.failedAttempts} failed attempts)`);
      trace(state, writer, kind);
      restore(writer);
      await healthy(state, kind, `(b/${kindOfFault}) round ${i + 1}`);
    }
  }

  const writer = writerNow();
  const held = await longLived(state, port, 'db3', writer);
  console.error(`${tag}: (c) one connection through the VIP: ${held.failedAfterKill} of ${held.statementsAfterKill} statements failed after ${writer} was killed; committing at the end: ${held.committingAtEnd}${held.firstError ? ` (first error: ${held.firstError})` : ''}`);
  await healthy(state, kind, '(c)');

  const writerAddress = state.hosts.find((h) => h.name === writerNow()).address;
  const viaVip = [];
  const direct = [];
  for (let i = 0; i < ROUNDS_LB; i++) {
    // Alternating, so load on the shared machine affects both sides alike.
    direct.push(mixSeconds('db3', writerAddress, 3306, 400));
    viaVip.push(mixSeconds('db3', state.vip, port, 400));
  }
  const ratio = Math.round((median(direct) / median(viaVip)) * 100) / 100;
  console.error(`${tag}: (d) 400 x (1 INSERT + 4 SELECT) on one connection: ${median(viaVip)} s through the VIP, ${median(direct)} s direct to the writer`);

  return {
    vip_after_proxy_death_ms: median(vip),
    vip_samples_ms: vip,
    ...Object.fromEntries(Object.entries(writes).flatMap(([k, v]) => [[`writes_after_writer_${k}_ms`, median(v)], [`writes_${k}_samples_ms`, v]])),
    long_lived_failed_statements: held.failedAfterKill,
    long_lived_statements_after_kill: held.statementsAfterKill,
    long_lived_committing_at_end: held.committingAtEnd,
    mix_seconds_via_vip: median(viaVip),
    mix_seconds_direct: median(direct),
    throughput_ratio_vip_to_direct: ratio,
  };
}

/** The ProxySQL .deb named by LMS_HA_PROXYSQL_DEB, served to the runner's namespace for deploy-lb to fetch. */
async function proxysqlPackage(state) {
  const path = process.env.LMS_HA_PROXYSQL_DEB;
  if (!path) return null;
  if (!existsSync(path)) throw new Error(`LMS_HA_PROXYSQL_DEB=${path}: no such file`);
  const port = 18000 + Math.floor(Math.random() * 1000);
  const server = spawn('ip', ['netns', 'exec', state.runnerNamespace, 'python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dirname(path)], { stdio: 'ignore' });
  await sleep(1000);
  return { url: `http://127.0.0.1:${port}/${basename(path)}`, sha256: createHash('sha256').update(readFileSync(path)).digest('hex'), server };
}

async function deploy(state, dir, env, name, withDb) {
  // A node still rejoining (a donor, a joiner) from whatever ran before: deploy-db refuses until it is synced.
  if (withDb) {
    let db = runCli(state, ['deploy-db', '-e', name, '-m', 'apply', '--json'], { cwd: dir, env, allowFailure: true });
    for (let i = 0; i < 12 && db.run.status !== 0 && db.run.stdout.includes('"failureReason": "cluster-unhealthy"'); i++) {
      await sleep(10_000);
      db = runCli(state, ['deploy-db', '-e', name, '-m', 'apply', '--json'], { cwd: dir, env, allowFailure: true });
    }
    if (db.run.status !== 0) throw new Error(`bench deploy-lb: deploy-db failed: ${db.run.stderr}${db.run.stdout.slice(-2000)}`);
    console.error(`bench deploy-lb: deploy-db ${Math.round(db.ms)} ms`);
  }
  const lb = runCli(state, ['deploy-lb', '-e', name, '-m', 'apply', '--json'], { cwd: dir, env });
  console.error(`bench deploy-lb: deploy-lb (${name}) ${Math.round(lb.ms)} ms`);
}

export async function bench() {
  const state = ensureLab(0);
  const dir = mkdtempSync(join(tmpdir(), 'lms-ha-bench-lb-'));
  const deb = await proxysqlPackage(state);
  writeFileSync(join(dir, 'ha.yml'), `version: 1\nenvironments:\n${environment(state, 'lab', 'haproxy')}${deb ? environment(state, 'labp', 'proxysql', deb) : ''}`);
  const env = { BENCH_APP_DB_PASSWORD: APP_PASSWORD, BENCH_VRRP_PASSWORD: VRRP_PASSWORD, BENCH_PROXYSQL_ADMIN: PROXYSQL_ADMIN, BENCH_PROXYSQL_MONITOR: PROXYSQL_MONITOR };
  const result = { rounds: ROUNDS_LB, vip_target_ms: 2000, writes_target_ms: 3000 };
  const lines = [];
  const met = (v, t) => (v < t ? 'met' : 'NOT met');
  try {
    for (const kind of deb ? ['haproxy', 'proxysql'] : ['haproxy']) {
      await deploy(state, dir, env, PROXIES[kind].environment, kind === 'haproxy');
      exec('db1', `mariadb -e "CREATE DATABASE IF NOT EXISTS moodle; CREATE TABLE IF NOT EXISTS ${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, at BIGINT) ENGINE=InnoDB"`);
      await healthy(state, kind, `after deploy (${kind})`);
      const r = await proxyFigures(state, kind);
      result[kind] = r;
      lines.push(
        `deploy-lb ${kind}: VIP back ${r.vip_after_proxy_death_ms} ms after the holder's proxy died (< 2000: ${met(r.vip_after_proxy_death_ms, 2000)}); ` +
          FAULTS.map((f) => `writes back ${r[`writes_after_writer_${f}_ms`]} ms after the writer ${f === 'kill' ? 'was killed' : f === 'stop' ? 'stopped cleanly' : 'fell off the network'} (< 3000: ${met(r[`writes_after_writer_${f}_ms`], 3000)})`).join('; ') +
          `; one held connection: ${r.long_lived_failed_statements} of ${r.long_lived_statements_after_kill} statements failed after the writer was killed, committing at the end: ${r.long_lived_committing_at_end ? 'yes' : 'no'}` +
          `; read/write mix through the VIP at ${r.throughput_ratio_vip_to_direct}x the throughput of the writer directly; medians of ${ROUNDS_LB}`,
      );
    }
    if (!deb) lines.push('deploy-lb proxysql: not measured (set LMS_HA_PROXYSQL_DEB to the vendor .deb to measure it side by side)');
  } finally {
    deb?.server.kill();
  }
  return { result, line: lines.join('\n') };
}
