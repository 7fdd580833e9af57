// Failover times through the Keepalived VIP (issue 4), measured on the lab
// after deploy-db + deploy-lb (HAProxy), a few rounds each, medians:
//  (a) the VIP holder's proxy dies (haproxy stopped): time until a client gets
//      an answer through the VIP again. Target < 3 s.
//  (b) the writer db node dies: time until a write through the VIP's writer
//      port commits again. Target < 8 s. Two kinds of death: the MariaDB
//      process is SIGKILLed (the host stays up, so peers see the sockets close
//      and systemd restarts it), and the node drops off the network (link down:
//      nothing tells the peers, they must time out; the worst case).
// Every time is taken on one clock (the lab's hosts share the machine's
// kernel): from the moment the fault command ran on the host to the end of
// the first successful client request that started after it. Health is
// restored and waited for between rounds.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLab, LAB, median, runCli } from './lib.mjs';

const ROUNDS_LB = Number(process.env.BENCH_LB_ROUNDS ?? 3);
const WRITER_PORT = 3307;
const APP_PASSWORD = `bench-${randomBytes(6).toString('hex')}`;
const VRRP_PASSWORD = `ka${randomBytes(3).toString('hex')}`;

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

function inventory(state) {
  const a = (n) => state.hosts.find((h) => h.name === n).address;
  return `version: 1
environments:
  lab:
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
      kind: haproxy
      vip: ${state.vip}/24
      interface: eth0
      virtual_router_id: 51
      auth_password: { env: BENCH_VRRP_PASSWORD }
`;
}

/** Where the bench tells the client when the fault happened, so it can stop at its first success after it. */
const FAULT_AT = '/run/lms-ha-bench-fault-at';

/**
 * A client on `host` that runs `sql` through the VIP's writer port back to
 * back and prints one line per attempt: "ok|fail START END" (epoch ms). It
 * stops after its first success that started after the time in FAULT_AT, or
 * after `durationMs`. The password arrives on stdin.
 */
function startClient(state, host, sql, durationMs) {
  const script = `read -r MYSQL_PWD; export MYSQL_PWD
rm -f ${FAULT_AT}
end=$(( $(date +%s%3N) + ${durationMs} ))
while [ "$(date +%s%3N)" -lt "$end" ]; do
  s=$(date +%s%3N)
  if timeout 10 mariadb -h ${state.vip} -P ${WRITER_PORT} -u moodle --connect-timeout=2 -N -B -e "${sql}" >/dev/null 2>&1; then r=ok; else r=fail; fi
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

/** Runs `fault` (a host command that prints its epoch ms first) while a client polls; returns ms until service came back. */
async function measure(state, clientHost, sql, faultHost, fault, durationMs) {
  const client = startClient(state, clientHost, sql, durationMs);
  // Service must be up before the fault, or the round measures nothing.
  await waitFor('the client succeeding before the fault', () => parseAttempts(client.lines()).some((a) => a.ok), 15_000);
  const t0 = Number(exec(faultHost, `date +%s%3N; ${fault}`).stdout.trim().split('\n')[0]);
  exec(clientHost, `echo ${t0} > ${FAULT_AT}`);
  const attempts = parseAttempts(await client.done);
  const after = attempts.filter((a) => a.start >= t0);
  if (process.env.BENCH_LB_TRACE) {
    console.error(`trace: fault at ${t0} on ${faultHost}: ${attempts.filter((a) => a.end >= t0).map((a) => `${a.ok ? 'ok' : 'FAIL'} +${a.start - t0}..+${a.end - t0}`).join(', ')}`);
  }
  const firstOk = after.find((a) => a.ok);
  const failed = after.filter((a) => !a.ok).length;
  if (!firstOk) throw new Error(`bench deploy-lb: no successful request within ${durationMs} ms of the fault on ${faultHost} (${failed} failed)`);
  return { ms: firstOk.end - t0, failedAttempts: failed };
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

async function healthy(state, what) {
  await waitFor(`${what}: every db node synced`, () => ['db1', 'db2', 'db3'].every((d) => clustercheckOk(state, 'lb1', d)));
  await waitFor(`${what}: both HAProxies see every server UP`, () => haproxyAllUp('lb1') && haproxyAllUp('lb2'));
  await waitFor(`${what}: one LB holding the VIP`, () => ['lb1', 'lb2'].filter((h) => holdsVip(state, h)).length === 1);
}

export async function bench() {
  const state = ensureLab(0);
  const dir = mkdtempSync(join(tmpdir(), 'lms-ha-bench-lb-'));
  writeFileSync(join(dir, 'ha.yml'), inventory(state));
  const env = { BENCH_APP_DB_PASSWORD: APP_PASSWORD, BENCH_VRRP_PASSWORD: VRRP_PASSWORD };
  // Both converge (a no-op when the lab already runs them with this inventory).
  // A node still rejoining (a donor, a joiner) from whatever ran before: deploy-db refuses until it is synced.
  let db = runCli(state, ['deploy-db', '-e', 'lab', '-m', 'apply', '--json'], { cwd: dir, env, allowFailure: true });
  for (let i = 0; i < 12 && db.run.status !== 0 && db.run.stdout.includes('"failureReason": "cluster-unhealthy"'); i++) {
    await sleep(10_000);
    db = runCli(state, ['deploy-db', '-e', 'lab', '-m', 'apply', '--json'], { cwd: dir, env, allowFailure: true });
  }
  if (db.run.status !== 0) throw new Error(`bench deploy-lb: deploy-db failed: ${db.run.stderr}${db.run.stdout.slice(-2000)}`);
  const lb = runCli(state, ['deploy-lb', '-e', 'lab', '-m', 'apply', '--json'], { cwd: dir, env });
  console.error(`bench deploy-lb: deploy-db ${Math.round(db.ms)} ms, deploy-lb ${Math.round(lb.ms)} ms`);
  exec('db1', 'mariadb -e "CREATE DATABASE IF NOT EXISTS moodle; CREATE TABLE IF NOT EXISTS moodle.lms_ha_bench (id INT AUTO_INCREMENT PRIMARY KEY, at BIGINT) ENGINE=InnoDB"');
  await healthy(state, 'after deploy');

  // (a) the proxy on the VIP holder dies.
  const vip = [];
  for (let i = 0; i < ROUNDS_LB; i++) {
    const holder = ['lb1', 'lb2'].find((h) => holdsVip(state, h));
    const r = await measure(state, 'db3', 'SELECT 1', holder, 'systemctl stop haproxy', 10_000);
    vip.push(r.ms);
    console.error(`bench deploy-lb: (a) round ${i + 1}: haproxy stopped on ${holder}, VIP serving again after ${r.ms} ms (${r.failedAttempts} failed attempts)`);
    exec(holder, 'systemctl start haproxy');
    await healthy(state, `(a) round ${i + 1}`);
  }

  // (b) the writer db node dies: which node HAProxy sends writes to now.
  const writerNow = () => exec('db3', `read -r MYSQL_PWD; export MYSQL_PWD; mariadb -h ${state.vip} -P ${WRITER_PORT} -u moodle -N -B -e "SELECT @@hostname"`, { input: `${APP_PASSWORD}\n` }).stdout.trim();
  const insert = 'INSERT INTO moodle.lms_ha_bench (at) VALUES (UNIX_TIMESTAMP(NOW(3)) * 1000)';
  const faults = {
    // mariadbd killed; systemd restarts it (Restart=on-abort), the node rejoins by IST.
    kill: { fault: 'systemctl kill --kill-who=main --signal=SIGKILL mariadb', restore: () => {} },
    // The node falls off the network; back with its link.
    link: { fault: 'ip link set eth0 down', restore: (w) => exec(w, 'ip link set eth0 up') },
    // A clean stop: the node leaves the cluster by itself.
    stop: { fault: 'systemctl stop mariadb', restore: (w) => exec(w, 'systemctl start mariadb') },
  };
  const chosen = (process.env.BENCH_LB_FAULTS ?? 'kill,link').split(',');
  for (const k of Object.keys(faults)) if (!chosen.includes(k)) delete faults[k];
  const writes = {};
  for (const [kind, { fault, restore }] of Object.entries(faults)) {
    writes[kind] = [];
    for (let i = 0; i < ROUNDS_LB; i++) {
      const writer = writerNow();
      if (writer === 'db3') throw new Error('bench deploy-lb: the writer is db3, the client host');
      const r = await measure(state, 'db3', insert, writer, fault, 25_000);
      writes[kind].push(r.ms);
      console.error(`bench deploy-lb: (b/${kind}) round ${i + 1}: writer ${writer} down, writes through the VIP again after ${r.ms} ms (${r.failedAttempts} failed attempts)`);
      if (process.env.BENCH_LB_TRACE) {
        const holder = ['lb1', 'lb2'].find((h) => holdsVip(state, h));
        console.error(exec(holder, `journalctl -u haproxy -o short-precise --no-pager --since '-40s' | grep -v ' Connect from' | tail -30`, { allowFailure: true }).stdout);
        console.error(exec('db3', `journalctl -u mariadb -o short-precise --no-pager --since '-40s' | grep -Ei 'view|suspect|evs|partition|declar|inactive|Synced|state transfer' | tail -30`, { allowFailure: true }).stdout);
      }
      restore(writer);
      await healthy(state, `(b/${kind}) round ${i + 1}`);
    }
  }

  const result = {
    rounds: ROUNDS_LB,
    vip_after_proxy_death_ms: median(vip),
    vip_target_ms: 3000,
    vip_samples_ms: vip,
    writes_after_writer_kill_ms: median(writes.kill),
    writes_after_writer_link_down_ms: median(writes.link),
    writes_target_ms: 8000,
    writes_kill_samples_ms: writes.kill,
    writes_link_down_samples_ms: writes.link,
  };
  const met = (v, t) => (v < t ? 'met' : 'NOT met');
  const line =
    `deploy-lb: VIP serving again ${result.vip_after_proxy_death_ms} ms after the holder's proxy died (target < 3000: ${met(result.vip_after_proxy_death_ms, 3000)}); ` +
    `writes through the VIP again ${result.writes_after_writer_kill_ms} ms after the writer's mariadbd was killed, ${result.writes_after_writer_link_down_ms} ms after the writer fell off the network (target < 8000: ${met(result.writes_after_writer_kill_ms, 8000)} / ${met(result.writes_after_writer_link_down_ms, 8000)}); medians of ${ROUNDS_LB}`;
  return { result, line };
}
