import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labExec, readLabState, REPO_ROOT, runAction, tempDir, type ActionRun, type LabState } from './lab.js';
import { writeLabInventory } from './inventory.js';

// migrate-storage, S3 part: a directory of x01 (a host without
// roles, the old server) copied into a bucket of a real S3-compatible server
// by rclone, which the product installs on x01 from Debian's package. The
// server is s3rver (npm, devDependency), run in the runner's namespace so the
// lab hosts reach it at the runner address and nothing leaves the machine.

const SOURCE = 'x01';
const DIR = '/srv/edx-uploads';
const BUCKET = 'lms-files';
const PORT = 4568;
// s3rver's fixed key pair: fake, and only valid for this server.
const S3_KEY = 'LABS3ACCESSKEY01';
const S3_SECRET = `lab-s3-secret-${randomBytes(12).toString('hex')}`;
// s3rver knows one fixed key pair (S3RVER/S3RVER, shorter than lms-ha's 8-character
// minimum for a secret): register the lab's generated pair on its dummy account, then
// start its own CLI with the remaining arguments.
const S3RVER_WITH_LAB_KEY = `
const [dir, id, secret, ...args] = process.argv.slice(1);
require(dir + '/lib/models/account.js').DUMMY_ACCOUNT.createKeyPair(id, secret);
process.argv = [process.argv[0], dir + '/bin/s3rver.js', ...args];
require(dir + '/bin/s3rver.js');
`;
const OBJECT_SUFFIX = '._S3rver_object';

let state: LabState;
let workspace: string;
let key: string;
let knownHosts: string;
let s3Dir: string;
let server: ChildProcess | undefined;
const runs: ActionRun[] = [];

async function run(mode: 'plan' | 'apply'): Promise<ActionRun> {
  const r = await runAction(
    state,
    { command: 'migrate-storage', mode, inventory: 'ha.yml', environment: 'lab-s3', 'ssh-private-key': key, 'known-hosts': knownHosts },
    { workspace, env: { LAB_S3_KEY: S3_KEY, LAB_S3_SECRET: S3_SECRET } },
  );
  runs.push(r);
  return r;
}

/** What the S3 server stores, read from its own files: key -> sha256. Independent of rclone. */
function bucketContents(): Map<string, string> {
  const root = join(s3Dir, BUCKET);
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(OBJECT_SUFFIX)) out.set(relative(root, path).slice(0, -OBJECT_SUFFIX.length), createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  walk(root);
  return out;
}

/** The source's files (symlinks followed, as the copy does): relative path -> sha256. */
function sourceContents(): Map<string, string> {
  const out = labExec(SOURCE, `cd '${DIR}' && find -L . -type f -print0 | xargs -0 sha256sum`).stdout;
  return new Map(
    out
      .trim()
      .split('\n')
      .map((l) => {
        const m = /^([0-9a-f]{64}) {2}\.\/(.*)$/.exec(l)!;
        return [m[2]!, m[1]!] as [string, string];
      }),
  );
}

/** rclone on x01 acting on the bucket directly (the product installed it), with the same fake keys. */
function rcloneOnSource(args: string): void {
  labExec(
    SOURCE,
    `RCLONE_CONFIG_T_TYPE=s3 RCLONE_CONFIG_T_PROVIDER=Other RCLONE_CONFIG_T_ACCESS_KEY_ID=${S3_KEY} RCLONE_CONFIG_T_SECRET_ACCESS_KEY=${S3_SECRET} ` +
      `RCLONE_CONFIG_T_ENDPOINT=http://${state.runnerAddress}:${PORT} RCLONE_CONFIG_T_REGION=us-east-1 rclone ${args}`,
  );
}

beforeAll(async () => {
  execFileSync('bash', [join(REPO_ROOT, 'test', 'lab', 'lab.sh'), 'up', '--extra', '1'], { stdio: 'ignore', timeout: 600_000 });
  state = readLabState();
  if (!state.hosts.some((h) => h.name === SOURCE)) throw new Error(`the lab has no ${SOURCE}: this suite needs lab.sh up --extra 1`);
  workspace = tempDir('migrate-s3');
  s3Dir = tempDir('s3rver');
  key = readFileSync(state.sshKey, 'utf8');
  knownHosts = readFileSync(state.knownHosts, 'utf8');
  server = spawn(
    'ip',
    ['netns', 'exec', state.runnerNamespace, process.execPath, '-e', S3RVER_WITH_LAB_KEY, join(REPO_ROOT, 'node_modules', 's3rver'), S3_KEY, S3_SECRET, '-d', s3Dir, '-a', state.runnerAddress, '-p', String(PORT), '--silent', '--configure-bucket', BUCKET],
    { stdio: 'ignore' },
  );
  // Ready when a lab host gets an HTTP answer from it.
  labExec(SOURCE, `for i in $(seq 100); do bash -c 'exec 3<>/dev/tcp/${state.runnerAddress}/${PORT}' 2>/dev/null && exit 0; sleep 0.1; done; exit 1`);
  const address = state.hosts.find((h) => h.name === SOURCE)!.address;
  writeLabInventory(
    state,
    workspace,
    `  lab-s3:
    ssh: { user: root }
    hosts:
      - { name: ${SOURCE}, address: ${address}, roles: [] }
    storage:
      kind: s3
      s3: { bucket: ${BUCKET}, region: us-east-1, endpoint: 'http://${state.runnerAddress}:${PORT}', access_key_id: { env: LAB_S3_KEY }, secret_access_key: { env: LAB_S3_SECRET } }
    migrate:
      files: { source_host: ${SOURCE}, source_path: '${DIR}' }
`,
  );
  // Instructor uploads as an old server has them: nested, odd names, a symlink, one larger file.
  labExec(
    SOURCE,
    `set -e; mkdir -p '${DIR}'; cd '${DIR}'
for c in 1 2 3 4 5; do for u in $(seq 1 40); do d="course-v1:Org+C$c+2024/unit $u"; mkdir -p "$d"; printf 'submission %s of course %s\\n' $u $c > "$d/answer.txt"; done; done
mkdir -p 'ünïcødé dir'; printf 'café' > 'ünïcødé dir/naïve file (1).txt'
head -c 3000000 /dev/urandom > big.bin
ln -s big.bin 'link to big'`,
  );
}, 900_000);

afterAll(() => {
  server?.kill();
});

describe('migrate-storage: a directory into an S3 bucket', () => {
  it('plans rclone and the copy with the file count, touching nothing', async () => {
    const r = await run('plan');
    expect(r.outputs['failure-reason'], r.summary).toBe('');
    const summaries: string[] = JSON.parse(r.outputs.result).changes.map((c: { summary: string }) => c.summary);
    expect(summaries).toEqual([
      'install rclone (copies and verifies the files in S3)',
      `copy ${DIR} (203 files, ${sourceBytes()} bytes) to s3://${BUCKET}, then verify every file`,
    ]);
    expect(bucketContents().size).toBe(0);
    expect(labExec(SOURCE, 'command -v rclone', { allowFailure: true }).code).not.toBe(0);
  });

  it('copies and verifies; the bucket holds every file with the same bytes', async () => {
    const r = await run('apply');
    expect(r.outputs['failure-reason'], r.summary + r.stdout.slice(-3000)).toBe('');
    expect(r.stdout).toContain(`verified 203 files identical in s3://${BUCKET}`);
    console.log(r.stdout.split('\n').filter((l) => /rclone copy|verified/.test(l)).join('\n'));
    const source = sourceContents();
    expect(source.size).toBe(203);
    expect(bucketContents()).toEqual(source);
  });

  it('a second apply has nothing to do', async () => {
    const r = await run('apply');
    expect(r.outputs['failure-reason']).toBe('');
    expect(r.outputs.changed).toBe('false');
    expect(JSON.parse(r.outputs.result).changes).toHaveLength(0);
  });

  it('a changed and a deleted object are found and put right', async () => {
    rcloneOnSource(`deletefile 't:${BUCKET}/big.bin'`);
    labExec(SOURCE, `printf 'tampered' | RCLONE_CONFIG_T_TYPE=s3 RCLONE_CONFIG_T_PROVIDER=Other RCLONE_CONFIG_T_ACCESS_KEY_ID=${S3_KEY} RCLONE_CONFIG_T_SECRET_ACCESS_KEY=${S3_SECRET} RCLONE_CONFIG_T_ENDPOINT=http://${state.runnerAddress}:${PORT} RCLONE_CONFIG_T_REGION=us-east-1 rclone rcat 't:${BUCKET}/ünïcødé dir/naïve file (1).txt'`);
    expect(bucketContents()).not.toEqual(sourceContents());
    const plan = await run('plan');
    expect(plan.outputs.changed).toBe('true');
    expect(JSON.parse(plan.outputs.result).changes[0].summary).toContain('2 not yet in the bucket or different');
    const r = await run('apply');
    expect(r.outputs['failure-reason'], r.summary).toBe('');
    expect(bucketContents()).toEqual(sourceContents());
  });

  it('never shows the secret key', () => {
    for (const r of runs) {
      const stdout = r.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
      expect(stdout + r.stderr + r.summary + JSON.stringify(r.outputs)).not.toContain(S3_KEY);
    }
  });
});

function sourceBytes(): number {
  return Number(labExec(SOURCE, `find -L '${DIR}' -type f -printf '%s\\n' | awk '{ b += $1 } END { print b }'`).stdout.trim());
}
