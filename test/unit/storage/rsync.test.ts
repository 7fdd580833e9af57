import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyRsyncExit, compareManifests, manifestCommand, parseManifest, parseRsyncServerHeader, parseRsyncStats, rsyncClientArgs, rsyncReceiverCommand, rsyncSenderCommand, splitBridgeHeader } from '../../../src/components/migrate/files.js';
import { DeployError } from '../../../src/errors.js';

// Headers as rsync 3.5.0 (Debian 12 security update) sends them for each option set.
const HEADER = 'rsync --server -lHogDtpre.iLsfxCIvu --stats --partial . .';

describe('rsync client command', () => {
  it('copies the contents with -aH, --update, --partial and the bridge as remote shell', () => {
    expect(rsyncClientArgs({ source: '/var/www/moodledata' })).toEqual([
      'rsync',
      '-aH',
      '--update',
      '--partial',
      '--stats',
      `--rsh=sh -c 'shift; printf "%s\\n" "$*" >&3; exec 5<&0; cat <&5 >&3 & exec cat <&4' lms-ha-bridge`,
      './',
      'lms-ha-bridge:.',
    ]);
    expect(rsyncSenderCommand({ source: '/var/www/moodledata' })).toMatch(
      /^cd -- \/var\/www\/moodledata && exec 3>&1 4<&0 && LC_ALL=C exec rsync -aH --update --partial --stats '--rsh=.*' \.\/ lms-ha-bridge:\. <\/dev\/null >&2$/,
    );
  });
  it('maps options: ids, owner, ACLs/xattrs, bandwidth, anchored excludes', () => {
    const a = rsyncClientArgs({ source: '/d', numericIds: true, chown: { user: 'www-data', group: 'www-data' }, acls: true, xattrs: true, bandwidthLimitKiB: 20000, exclude: ['cache', 'temp'] });
    expect(a.slice(0, 10)).toEqual(['rsync', '-aHAX', '--update', '--partial', '--stats', '--numeric-ids', '--chown=www-data:www-data', '--bwlimit=20000', '--exclude=/cache', '--exclude=/temp']);
  });
  it('refuses bad owners, limits and excludes', () => {
    expect(() => rsyncClientArgs({ source: '/d', chown: { user: 'a;b', group: 'x' } })).toThrow(DeployError);
    expect(() => rsyncClientArgs({ source: '/d', bandwidthLimitKiB: 0 })).toThrow(DeployError);
    expect(() => rsyncClientArgs({ source: '/d', exclude: ['*'] })).toThrow(DeployError);
    expect(() => rsyncClientArgs({ source: 'd' })).toThrow(DeployError);
  });
});

describe('rsync server header', () => {
  it('accepts what stock rsync sends, undoing its backslash escapes', () => {
    expect(parseRsyncServerHeader(HEADER).options).toEqual(['-lHogDtpre.iLsfxCIvu', '--stats', '--partial']);
    expect(parseRsyncServerHeader('rsync --server -lHogDtpre.iLsfxCIvu --stats --partial --usermap=\\*:www-data --groupmap=\\*:www-data . .').options).toEqual([
      '-lHogDtpre.iLsfxCIvu',
      '--stats',
      '--partial',
      '--usermap=*:www-data',
      '--groupmap=*:www-data',
    ]);
    expect(parseRsyncServerHeader('rsync --server -lHogDtpAXre.iLsfxCIvu --bwlimit=1000 --stats --partial --numeric-ids . .').options).toHaveLength(5);
  });
  it('refuses anything else', () => {
    for (const bad of [
      'sh -c "rm -rf /"',
      'rsync --server --sender -logDtpr . .',
      'rsync --server -logDtpr --delete . .',
      'rsync --server -logDtpr --rsync-path=evil . .',
      'rsync --server -logDtpr . /etc',
      'rsync --server -logDtpr;reboot . .',
      'rsync --server -logDtpr $(reboot) . .',
    ]) {
      expect(() => parseRsyncServerHeader(bad), bad).toThrow(DeployError);
    }
  });
  it('builds the receiver in the destination from validated tokens only', () => {
    expect(rsyncReceiverCommand('/var/www/moodledata', parseRsyncServerHeader(HEADER))).toBe(
      'cd -- /var/www/moodledata && LC_ALL=C exec rsync --server -lHogDtpre.iLsfxCIvu --stats --partial . .',
    );
    expect(rsyncReceiverCommand('/srv/a b', { options: ['--usermap=*:www-data'] })).toBe("cd -- '/srv/a b' && LC_ALL=C exec rsync --server '--usermap=*:www-data' . .");
  });
  it('splits the header from protocol bytes that follow it in the same chunk', () => {
    expect(splitBridgeHeader(Buffer.from('rsync --ser'))).toBeNull();
    const s = splitBridgeHeader(Buffer.concat([Buffer.from(`${HEADER}\n`), Buffer.from([0x1f, 0x00, 0x00, 0x00])]))!;
    expect(s.header).toBe(HEADER);
    expect([...s.rest]).toEqual([0x1f, 0, 0, 0]);
    expect(() => splitBridgeHeader(Buffer.alloc(5000, 0x41))).toThrow(DeployError);
  });
});

describe('rsync results', () => {
  it('classifies exit codes into what to do next', () => {
    expect(classifyRsyncExit(0).outcome).toBe('ok');
    expect(classifyRsyncExit(24).outcome).toBe('warn');
    expect(classifyRsyncExit(23).outcome).toBe('fail');
    expect(classifyRsyncExit(12).outcome).toBe('retry');
    expect(classifyRsyncExit(30).outcome).toBe('retry');
    expect(classifyRsyncExit(11).message).toMatch(/full/);
    expect(classifyRsyncExit(99).outcome).toBe('fail');
  });
  it('reads --stats figures with thousands separators', () => {
    const text = `
Number of files: 10,234 (reg: 9,000, dir: 1,200, link: 34)
Number of created files: 10,233 (reg: 9,000, dir: 1,199, link: 34)
Number of deleted files: 0
Number of regular files transferred: 9,000
Total file size: 123,456,789 bytes
Total transferred file size: 123,456,789 bytes
Literal data: 123,456,789 bytes
Matched data: 0 bytes
File list size: 262,123
Total bytes sent: 123,789,012
Total bytes received: 180,123

sent 123,789,012 bytes  received 180,123 bytes  12,345,678.00 bytes/sec
total size is 123,456,789  speedup is 1.00
`;
    expect(parseRsyncStats(text)).toEqual({
      files: 10234,
      regularFilesTransferred: 9000,
      totalFileSize: 123456789,
      transferredFileSize: 123456789,
      bytesSent: 123789012,
      bytesReceived: 180123,
    });
  });
});

// ---------------------------------------------------------------------------
// The bridge for real: two local processes stand in for the two SSH channels,
// and this function does what the runner does between them.

interface BridgeResult {
  senderCode: number | null;
  receiverCode: number | null;
  senderStderr: string;
  receiverStderr: string;
}

function bridge(senderCmd: string, destination: string, opts: { killAfterBytes?: number } = {}): Promise<BridgeResult> {
  return new Promise((resolve, reject) => {
    const a = spawn('sh', ['-c', senderCmd], { stdio: ['pipe', 'pipe', 'pipe'] });
    let b: ReturnType<typeof spawn> | null = null;
    let head = Buffer.alloc(0);
    let forwarded = 0;
    const res: BridgeResult = { senderCode: null, receiverCode: null, senderStderr: '', receiverStderr: '' };
    let pending = 2;
    const done = () => {
      if (--pending === 0) resolve(res);
    };
    a.stderr.on('data', (d: Buffer) => (res.senderStderr += d.toString()));
    a.stdout.on('data', (d: Buffer) => {
      if (b) {
        forwarded += d.length;
        if (opts.killAfterBytes !== undefined && forwarded > opts.killAfterBytes) {
          // A dropped connection mid-transfer.
          a.kill('SIGKILL');
          b.kill('SIGKILL');
          return;
        }
        b.stdin!.write(d);
        return;
      }
      head = Buffer.concat([head, d]);
      let split;
      try {
        split = splitBridgeHeader(head);
        if (!split) return;
        b = spawn('sh', ['-c', rsyncReceiverCommand(destination, parseRsyncServerHeader(split.header))], { stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (e) {
        a.kill('SIGKILL');
        reject(e);
        return;
      }
      b.stderr!.on('data', (x: Buffer) => (res.receiverStderr += x.toString()));
      b.stdout!.on('data', (x: Buffer) => a.stdin.write(x));
      b.stdout!.on('end', () => a.stdin.end());
      b.stdin!.on('error', () => undefined);
      b.on('close', (code) => {
        res.receiverCode = code;
        done();
      });
      if (split.rest.length > 0) b.stdin!.write(split.rest);
    });
    a.stdin.on('error', () => undefined);
    a.stdout.on('end', () => b?.stdin!.end());
    a.on('close', (code) => {
      res.senderCode = code;
      if (!b) pending--;
      done();
    });
  });
}

const hasRsync = spawnSync('sh', ['-c', 'command -v rsync']).status === 0;

describe.skipIf(!hasRsync)('rsync through the bridge (local rsync)', () => {
  let dir: string;
  let src: string;
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  const manifest = (root: string) => parseManifest(sh(manifestCommand(root, { hash: true })));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lmsha-rsync-'));
    src = join(dir, 'src');
    mkdirSync(join(src, 'filedir/0c/5f'), { recursive: true });
    for (let i = 0; i < 200; i++) writeFileSync(join(src, 'filedir/0c/5f', `f${i}`), `content ${i}\n`.repeat(i));
    writeFileSync(join(src, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    writeFileSync(join(src, 'sp ace & "quotes" \'s'), 'q');
    writeFileSync(join(src, 'new\nline'), 'nl');
    writeFileSync(join(src, 'ünï-日本'), 'u');
    writeFileSync(Buffer.from(join(src, 'bad-\xff'), 'latin1'), 'b');
    writeFileSync(join(src, 'setuid'), 's');
    chmodSync(join(src, 'setuid'), 0o4750);
    symlinkSync('filedir/0c/5f/f1', join(src, 'link'));
    symlinkSync('/does/not/exist', join(src, 'dangling'));
    linkSync(join(src, 'ünï-日本'), join(src, 'hardlink'));
    mkdirSync(join(src, 'cache'));
    writeFileSync(join(src, 'cache/volatile'), 'v');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('copies everything faithfully, verified by manifests, and preserves hard links', async () => {
    const dst = join(dir, 'dst1');
    mkdirSync(dst);
    const r = await bridge(rsyncSenderCommand({ source: src }), dst);
    expect(r.receiverStderr).toBe('');
    expect(r).toMatchObject({ senderCode: 0, receiverCode: 0 });
    // 214 entries plus the root directory itself.
    expect(parseRsyncStats(r.senderStderr).files).toBe(215);
    const cmp = compareManifests(manifest(src), manifest(dst));
    expect(cmp.problems).toEqual([]);
    expect(cmp.missing).toEqual([]);
    expect(cmp.differing).toEqual([]);
    expect(cmp.ok).toBe(true);
    expect(sh(`stat -c %h ${JSON.stringify(join(dst, 'hardlink'))}`).toString().trim()).toBe('2');
  }, 30_000);

  it('resumes after a dropped connection and ends identical', async () => {
    const dst = join(dir, 'dst2');
    mkdirSync(dst);
    const first = await bridge(rsyncSenderCommand({ source: src }), dst, { killAfterBytes: 1024 * 1024 });
    expect(first.senderCode).not.toBe(0);
    expect(compareManifests(manifest(src), manifest(dst)).ok).toBe(false);
    const second = await bridge(rsyncSenderCommand({ source: src }), dst);
    expect(second).toMatchObject({ senderCode: 0, receiverCode: 0 });
    expect(compareManifests(manifest(src), manifest(dst)).ok).toBe(true);
  }, 30_000);

  it('keeps a file that is newer on the target (written after the cutover), replaces an older one', async () => {
    const dst = join(dir, 'dst4');
    mkdirSync(dst);
    expect(await bridge(rsyncSenderCommand({ source: src }), dst)).toMatchObject({ senderCode: 0, receiverCode: 0 });
    const newer = join(dst, 'filedir/0c/5f/f5');
    const older = join(dst, 'filedir/0c/5f/f6');
    writeFileSync(newer, 'written by the application after the cutover');
    writeFileSync(older, 'stale');
    const now = Date.now() / 1000;
    utimesSync(newer, now + 3600, now + 3600);
    utimesSync(older, 1_000_000_000, 1_000_000_000);
    expect(await bridge(rsyncSenderCommand({ source: src }), dst)).toMatchObject({ senderCode: 0, receiverCode: 0 });
    expect(readFileSync(newer, 'utf8')).toBe('written by the application after the cutover');
    expect(readFileSync(older, 'utf8')).toBe('content 6\n'.repeat(6));
    expect(compareManifests(manifest(src), manifest(dst)).differing.map((d) => `${d.path}:${d.field}`)).toEqual(['filedir/0c/5f/f5:size', 'filedir/0c/5f/f5:mtime', 'filedir/0c/5f/f5:sha256']);
  }, 30_000);

  it('honours excludes and --chown, which the verification then expects', async () => {
    const dst = join(dir, 'dst3');
    mkdirSync(dst);
    const asRoot = process.getuid?.() === 0;
    const spec = { source: src, exclude: ['cache'], ...(asRoot ? { chown: { user: 'nobody', group: 'nogroup' } } : {}) };
    const r = await bridge(rsyncSenderCommand(spec), dst);
    expect(r).toMatchObject({ senderCode: 0, receiverCode: 0 });
    const s = parseManifest(sh(manifestCommand(src, { hash: true, exclude: ['cache'] })));
    const cmp = compareManifests(s, manifest(dst), asRoot ? { expectedOwner: { user: 'nobody', group: 'nogroup' } } : {});
    expect(cmp.ok).toBe(true);
  }, 30_000);
});
