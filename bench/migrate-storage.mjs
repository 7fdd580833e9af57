// File migration throughput (issue 6): migrate-storage copying a tree from the
// old server (x01) into the GlusterFS volume mounted on lb1 (rsync bridged
// through the runner, then SHA-256 manifests of both sides), against plain
// `rsync -a` of the same tree from x01 straight to lb1's mount over ssh, with
// a key made for the bench and removed at the end. Both write through the
// same FUSE mount into the same replica-3 volume on db1..db3; the target is
// emptied before every copy, and the two alternate so load affects both alike.
// Target: migrate-storage (copy + verification) at most 1.3 times plain rsync.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLab, median, ROUNDS, runCli, LAB } from './lib.mjs';

const MOUNT = '/var/www/moodledata';
const SOURCE = '/srv/bench-moodledata';
const FILES = Number(process.env.BENCH_STORAGE_FILES ?? 3000);

function labExec(host, script, input) {
  const r = spawnSync('bash', [LAB, 'exec', host, '--', 'sh', '-c', script], { encoding: 'utf8', input, maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`bench: on ${host}: ${script}\n${r.stderr}`);
  return r.stdout;
}

// Moodle-like: many small files in hashed directories, a few large ones.
const TREE = String.raw`
import os, sys
root = sys.argv[1]; n = int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, 'filedir', '%02x' % (i % 251), '%02x' % (i % 7))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'f%06d' % i), 'wb') as f: f.write(os.urandom(1024 + (i * 7919) % 16384))
for k in range(4):
    with open(os.path.join(root, 'backup%d.mbz' % k), 'wb') as f: f.write(os.urandom(16 << 20))
`;

export async function bench() {
  const state = ensureLab(1, { fresh: true });
  const a = (n) => state.hosts.find((h) => h.name === n).address;
  const dir = mkdtempSync(join(tmpdir(), 'lms-ha-bench-storage-'));
  const roles = { db1: 'storage', db2: 'storage', db3: 'storage', lb1: 'web', x01: '' };
  // x01 only where it is the migration source: a host without roles is refused otherwise.
  const hosts = (names) => `    ssh: { user: root }\n    hosts:\n${names.map((n) => `      - { name: ${n}, address: ${a(n)}, roles: [${roles[n]}] }\n`).join('')}`;
  const volumeHosts = hosts(['db1', 'db2', 'db3', 'lb1']);
  const copyHosts = hosts(Object.keys(roles));
  const storage = `    storage: { kind: glusterfs, volume: moodledata, mount_path: ${MOUNT}, owner: www-data, mode: "0770" }\n`;
  writeFileSync(join(dir, 'ha.yml'), `version: 1\nenvironments:\n  volume:\n${volumeHosts}${storage}  copy:\n${copyHosts}${storage}    migrate:\n      files: { source_host: x01, source_path: ${SOURCE} }\n`);

  // Setup, not timed: the volume and mount, rsync on both ends, the tree, a key x01 -> lb1.
  runCli(state, ['migrate-storage', '-e', 'volume', '--mode', 'apply'], { cwd: dir });
  for (const h of ['x01', 'lb1']) labExec(h, 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && apt-get install -y -q rsync >/dev/null');
  labExec('x01', `python3 - ${SOURCE} ${FILES}`, TREE);
  const bytes = Number(labExec('x01', `du -sb ${SOURCE} | cut -f1`).trim());
  console.error(`bench: migrate-storage: tree of ${FILES + 4} files, ${(bytes / 1e6).toFixed(0)} MB on x01`);
  labExec('x01', "rm -f /root/bench_key /root/bench_key.pub; ssh-keygen -q -t ed25519 -N '' -C lms-ha-bench -f /root/bench_key");
  const pub = labExec('x01', 'cat /root/bench_key.pub').trim();
  labExec('lb1', 'cat >> /root/.ssh/authorized_keys', `${pub}\n`);
  // Not timed. Every unlink through FUSE waits on the three bricks, so one
  // find -delete spends most of its time waiting (72 s for this tree, under
  // load): the second-level directories are removed in parallel first.
  const empty = () => labExec('lb1', `cd ${MOUNT} && find . -mindepth 2 -maxdepth 2 -print0 | xargs -0 -r -P 8 -n 8 rm -rf -- && find . -mindepth 1 -delete`);

  const plainRsync = () => {
    empty();
    const started = process.hrtime.bigint();
    labExec('x01', `rsync -a -e 'ssh -i /root/bench_key -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/root/bench_known_hosts' ${SOURCE}/ root@${a('lb1')}:${MOUNT}/`);
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const migrate = () => {
    empty();
    const { ms, run } = runCli(state, ['migrate-storage', '-e', 'copy', '--mode', 'apply'], { cwd: dir });
    const out = run.stdout + run.stderr;
    if (!/verified \d+ files/.test(out)) throw new Error(`bench: migrate-storage did not verify:\n${run.stdout.slice(-2000)}`);
    // The copy's own duration, as migrate-storage logs it; the rest is plan, verification and overhead.
    const copy = /rsync: .* in ([\d.]+) s/.exec(out);
    if (copy) copyMs.push(Number(copy[1]) * 1000);
    const verify = /verified \d+ files.*\(manifests in ([\d.]+) s\)/.exec(out);
    if (verify) verifyMs.push(Number(verify[1]) * 1000);
    return ms;
  };

  // Each copy of the tree into replica 3 takes a minute or more here: two rounds keep the section under 10 minutes.
  const rounds = Math.min(ROUNDS, Number(process.env.BENCH_STORAGE_ROUNDS ?? 2));
  const plain = [];
  const ours = [];
  const copyMs = [];
  const verifyMs = [];
  try {
    for (let i = 0; i < rounds; i++) {
      plain.push(plainRsync());
      console.error(`bench: migrate-storage round ${i + 1}: plain rsync -a ${Math.round(plain[i])} ms`);
      ours.push(migrate());
      console.error(
        `bench: migrate-storage round ${i + 1}: migrate-storage ${Math.round(ours[i])} ms (copy alone ${Math.round(copyMs[i] ?? NaN)} ms, verification manifests ${Math.round(verifyMs[i] ?? NaN)} ms)`,
      );
    }
  } finally {
    labExec('lb1', "grep -v ' lms-ha-bench$' /root/.ssh/authorized_keys > /root/.ssh/ak.tmp; mv /root/.ssh/ak.tmp /root/.ssh/authorized_keys");
    labExec('x01', 'rm -f /root/bench_key /root/bench_key.pub /root/bench_known_hosts');
  }
  const ratio = median(ours) / median(plain);
  const mb = bytes / 1e6;
  const result = {
    files: FILES + 4,
    bytes,
    rounds,
    plain_rsync_ms: Math.round(median(plain)),
    migrate_storage_ms: Math.round(median(ours)),
    plain_rsync_mb_s: Number((mb / (median(plain) / 1000)).toFixed(1)),
    migrate_storage_mb_s: Number((mb / (median(ours) / 1000)).toFixed(1)),
    ratio: Number(ratio.toFixed(2)),
    target_ratio: 1.3,
    samples_plain_ms: plain.map(Math.round),
    samples_migrate_ms: ours.map(Math.round),
    migrate_copy_only_ms: copyMs.length ? Math.round(median(copyMs)) : null,
    migrate_verify_manifests_ms: verifyMs.length ? Math.round(median(verifyMs)) : null,
  };
  const line =
    `migrate-storage: ${result.files} files, ${mb.toFixed(0)} MB into GlusterFS: plain rsync -a ${result.plain_rsync_ms} ms (${result.plain_rsync_mb_s} MB/s), ` +
    `migrate-storage with SHA-256 verification ${result.migrate_storage_ms} ms (${result.migrate_storage_mb_s} MB/s), ratio ${result.ratio} (target <= 1.3): ${ratio <= 1.3 ? 'met' : 'NOT met'}`;
  return { result, line };
}
