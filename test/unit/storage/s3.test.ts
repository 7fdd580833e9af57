import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRcloneCheckOutput, classifyRcloneExit, newRcloneCheckTally, parseSourceFiles, sourceFilesCommand, tallyReport, parseRcloneCheck, parseRcloneSize, rcloneCheckCommand, rcloneCopyCommand, rcloneEnvDisplay, rcloneEnvScript, rcloneErrorLine, rcloneSizeCommand, remotePath, s3Verdict, validateS3Target, type S3Target } from '../../../src/components/s3/rclone.js';
import { DeployError } from '../../../src/errors.js';

const target: S3Target = {
  bucket: 'lms-files',
  prefix: 'openedx/uploads',
  provider: 'Other',
  endpoint: 'http://127.0.0.1:4568',
  region: 'us-east-1',
  accessKeySecret: 'S3_ACCESS_KEY',
  secretKeySecret: 'S3_SECRET_KEY',
};
const SECRET = `wJalr XUtnFEMI/K7MDENG/bPxRfiCY$HOME'"\`x`;
const secrets = { S3_ACCESS_KEY: 'AKIAIOSFODNN7EXAMPLE', S3_SECRET_KEY: SECRET };

// Recorded from rclone 1.60.1 (Debian 12) against an S3-compatible server (s3rver 3.7.1).
const CHECK_CLEAN = '= link\n= a file.txt\n= sub/ü.pdf\n= big.bin\n';
const CHECK_DIRTY = '+ new.txt\n- sub/ü.pdf\n* a file.txt\n* link\n= big.bin\n';
const SIZE_JSON = '{"count":4,"bytes":30000004,"sizeless":0}\n';
const BAD_KEY_STDERR = '2026/11/23 19:55:35 Failed to size: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.\n\tstatus code: 403, request id: , host id: \n';
const REFUSED_STDERR =
  '2026/11/23 19:55:35 Failed to size: RequestError: send request failed\ncaused by: Get "http://127.0.0.1:1/lms-files?delimiter=&max-keys=1000&prefix=": dial tcp 127.0.0.1:1: connect: connection refused\n';

describe('target validation', () => {
  it('accepts the example and names each problem otherwise', () => {
    expect(() => validateS3Target(target)).not.toThrow();
    expect(remotePath(target)).toBe('lmsha:lms-files/openedx/uploads');
    expect(remotePath({ ...target, prefix: undefined })).toBe('lmsha:lms-files');
    const bad = { ...target, bucket: 'Bad_Bucket', prefix: '/abs/../x', endpoint: 'ftp://x', accessKeySecret: 'has-dash' };
    expect(() => validateS3Target(bad)).toThrow(DeployError);
    try {
      validateS3Target(bad);
    } catch (e) {
      const m = (e as Error).message;
      expect(m).toMatch(/bucket "Bad_Bucket"/);
      expect(m).toMatch(/prefix/);
      expect(m).toMatch(/endpoint/);
      expect(m).toMatch(/secret name "has-dash"/);
    }
  });
});

describe('credentials', () => {
  it('go to stdin as NAME=value lines; plans show only their names', () => {
    const env = rcloneEnvScript(target, secrets);
    expect(env).toContain(`RCLONE_CONFIG_LMSHA_SECRET_ACCESS_KEY=${SECRET}\n`);
    expect(env).toContain('RCLONE_CONFIG_LMSHA_ENV_AUTH=false\n');
    const shown = rcloneEnvDisplay(target);
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(shown).toContain('RCLONE_CONFIG_LMSHA_SECRET_ACCESS_KEY=<secret S3_SECRET_KEY>');
  });
  it('never appear in a command line', () => {
    for (const c of [rcloneCopyCommand('/edx/var/uploads', target), rcloneCheckCommand('/edx/var/uploads', target), rcloneSizeCommand(target)]) {
      expect(c).not.toContain(SECRET);
      expect(c).not.toContain('AKIA');
    }
  });
  it('refuses a missing or multi-line secret', () => {
    expect(() => rcloneEnvScript(target, { S3_ACCESS_KEY: 'a' })).toThrow(/secret S3_SECRET_KEY has no value/);
    expect(() => rcloneEnvScript(target, { S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'x\ny' })).toThrow(DeployError);
  });
});

describe('commands', () => {
  it('copies (never sync) by checksum, following links, with JSON logs', () => {
    const c = rcloneCopyCommand('/edx/var/uploads', { ...target, caCertFile: '/etc/ssl/private-ca.pem' }, { exclude: ['cache'], transfers: 8 });
    expect(c.startsWith('unset AWS_CA_BUNDLE; while IFS= read -r l; do case "$l" in RCLONE_CONFIG_LMSHA_*=*) export "$l";; esac; done && exec rclone copy ')).toBe(true);
    expect(c).toContain(
      "rclone copy /edx/var/uploads lmsha:lms-files/openedx/uploads --checksum --copy-links --fast-list --use-json-log --log-level=INFO --stats=0 --ca-cert=/etc/ssl/private-ca.pem '--exclude=/cache/**' --transfers=8",
    );
    expect(c).not.toMatch(/\bsync\b/);
  });
  it('checks with a combined report on stdout, and sizes with short timeouts', () => {
    expect(rcloneCheckCommand('/edx/var/uploads', target)).toContain('rclone check /edx/var/uploads lmsha:lms-files/openedx/uploads --combined=- --copy-links --fast-list --log-level=ERROR');
    expect(rcloneCheckCommand('/edx/var/uploads', target, { download: true })).toMatch(/ --download$/);
    expect(rcloneSizeCommand(target, 15)).toContain('rclone size lmsha:lms-files/openedx/uploads --json --fast-list --timeout=15s --contimeout=10s --retries=1 --low-level-retries=1 --log-level=ERROR');
    expect(() => rcloneCopyCommand('relative', target)).toThrow(DeployError);
    expect(() => rcloneCopyCommand('/x', target, { exclude: ['../up'] })).toThrow(DeployError);
  });
});

describe('the commands in a real shell, with a stand-in rclone', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lmsha-rclone-'));
    // Prints its arguments and the RCLONE_/AWS_ environment it was given.
    writeFileSync(join(dir, 'rclone'), '#!/bin/sh\nfor a in "$@"; do printf "arg:%s\\n" "$a"; done\nenv | grep -E "^(RCLONE_|AWS_CA)" | sort\n');
    chmodSync(join(dir, 'rclone'), 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exports every variable exactly, special characters included, and drops AWS_CA_BUNDLE', () => {
    const r = spawnSync('sh', ['-c', rcloneSizeCommand(target)], {
      input: `${rcloneEnvScript(target, secrets)}EVIL=1\n`,
      encoding: 'utf8',
      env: { PATH: `${dir}:/usr/bin:/bin`, AWS_CA_BUNDLE: '/etc/ssl/some.pem' },
    });
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain(`RCLONE_CONFIG_LMSHA_SECRET_ACCESS_KEY=${SECRET}`);
    expect(lines).toContain('RCLONE_CONFIG_LMSHA_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE');
    expect(lines).toContain('RCLONE_CONFIG_LMSHA_ENDPOINT=http://127.0.0.1:4568');
    expect(lines.some((l) => l.startsWith('AWS_CA_BUNDLE'))).toBe(false);
    expect(lines.filter((l) => l.startsWith('arg:'))).toEqual([
      'arg:size',
      'arg:lmsha:lms-files/openedx/uploads',
      'arg:--json',
      'arg:--fast-list',
      'arg:--timeout=30s',
      'arg:--contimeout=10s',
      'arg:--retries=1',
      'arg:--low-level-retries=1',
      'arg:--log-level=ERROR',
    ]);
    // Lines that are not ours are not exported.
    expect(r.stdout).not.toContain('EVIL');
  });
});

describe('parsers and verdicts', () => {
  it('reads the combined check report', () => {
    expect(parseRcloneCheck(CHECK_CLEAN)).toEqual({ matching: 4, missing: [], extra: [], differing: [], errors: [] });
    expect(parseRcloneCheck(CHECK_DIRTY)).toEqual({ matching: 1, missing: ['new.txt'], extra: ['sub/ü.pdf'], differing: ['a file.txt', 'link'], errors: [] });
    expect(parseRcloneCheck('! broken.pdf\n').errors).toEqual(['broken.pdf']);
  });
  it('reads size JSON (with or without "sizeless") and JSON logs', () => {
    expect(parseRcloneSize(SIZE_JSON)).toEqual({ count: 4, bytes: 30000004 });
    expect(parseRcloneSize('{"count":0,"bytes":0}')).toEqual({ count: 0, bytes: 0 });
    expect(() => parseRcloneSize('Failed to size')).toThrow(/no JSON/);
  });
  it('passes a clean copy and fails missing, differing and unreadable files', () => {
    const ok = s3Verdict(parseRcloneCheck(CHECK_CLEAN), { host: 'app1', source: '/edx/var/uploads', target }, { files: 4, bytes: 30000004 }, { count: 4, bytes: 30000004 });
    expect(ok.every((r) => r.status === 'ok')).toBe(true);
    expect(ok[0]!.check).toBe('objects in s3://lms-files/openedx/uploads');
    const bad = s3Verdict(parseRcloneCheck(CHECK_DIRTY), { host: 'app1', source: '/edx/var/uploads', target }, { files: 4, bytes: 30000004 }, { count: 4, bytes: 30000004 });
    expect(bad.map((r) => [r.check.split(' ')[0], r.status])).toEqual([
      ['objects', 'ok'],
      ['identical', 'fail'],
      ['missing', 'fail'],
      ['differing', 'fail'],
      ['unreadable', 'ok'],
      ['extra', 'warn'],
    ]);
  });
  it('names the line of rclone\'s stderr that says what went wrong', () => {
    expect(rcloneErrorLine(BAD_KEY_STDERR)).toBe('Failed to size: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.');
    expect(rcloneErrorLine(REFUSED_STDERR)).toMatch(/^Failed to size: RequestError: send request failed \(caused by: .*connection refused\)$/);
  });
  it('classifies exit codes', () => {
    expect(classifyRcloneExit(0).outcome).toBe('ok');
    expect(classifyRcloneExit(5).outcome).toBe('retry');
    expect(classifyRcloneExit(6).outcome).toBe('fail');
    expect(classifyRcloneExit(7).message).toMatch(/credentials/);
  });
});

describe('large reports and the source count', () => {
  it('tallies a check report fed in arbitrary chunks, keeping only a sample of paths', () => {
    const lines = ['= a', '+ new 1', '* changed', '- old', '! unreadable', ...Array.from({ length: 150 }, (_, i) => `+ many/${i}`), '= ü z.txt'];
    const text = `${lines.join('\n')}\n`;
    const tally = newRcloneCheckTally();
    // Cut in the middle of lines (bytes are decoded before this, by the stream's utf8 decoder).
    for (let i = 0; i < text.length; i += 7) addRcloneCheckOutput(tally, text.slice(i, i + 7), { cap: 20 });
    addRcloneCheckOutput(tally, '', { final: true, cap: 20 });
    expect(tally.report.matching).toBe(2);
    expect(tally.counts).toEqual({ missing: 151, extra: 1, differing: 1, errors: 1 });
    expect(tally.report.missing).toHaveLength(20);
    expect(tally.report.missing.slice(0, 2)).toEqual(['new 1', 'many/0']);
    const report = tallyReport(tally);
    expect(report.missing).toHaveLength(151);
    expect(report.differing).toEqual(['changed']);
    // The verdict counts every missing file, and names the sample.
    const rows = s3Verdict(report, { host: 'old1', source: 'old1:/srv/files', target });
    expect(rows.find((r) => r.check.startsWith('missing'))!.observed).toMatch(/^151: "new 1", "many\/0", .* and 141 more$/);
    // A last line without a newline only counts once the stream has ended.
    const t2 = addRcloneCheckOutput(newRcloneCheckTally(), '= x\n= y');
    expect(t2.report.matching).toBe(1);
    expect(addRcloneCheckOutput(t2, '', { final: true }).report.matching).toBe(2);
  });

  describe('counting the source files in a real shell', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'lms-ha-s3src-'));
      spawnSync('sh', ['-c', `cd ${dir} && mkdir -p 'odd dir/ü' cache && printf 12345 > 'odd dir/ü/f 1' && printf abc > top && printf 1234567890 > cache/skip && ln -s top link`]);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('counts regular files and bytes, following symlinks as the copy does, without the excluded paths', () => {
      const run = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
      expect(parseSourceFiles(run(sourceFilesCommand(dir)).stdout)).toEqual({ files: 4, bytes: 21 });
      expect(parseSourceFiles(run(sourceFilesCommand(dir, ['cache'])).stdout)).toEqual({ files: 3, bytes: 11 });
      const empty = mkdtempSync(join(tmpdir(), 'lms-ha-s3empty-'));
      expect(parseSourceFiles(run(sourceFilesCommand(empty)).stdout)).toEqual({ files: 0, bytes: 0 });
      rmSync(empty, { recursive: true });
      expect(run(sourceFilesCommand(join(dir, 'absent'))).status).toBe(3);
      expect(() => sourceFilesCommand('relative/path')).toThrow(DeployError);
      expect(() => sourceFilesCommand(dir, ['../up'])).toThrow(DeployError);
      expect(() => parseSourceFiles('find: permission denied')).toThrow(/unexpected/);
    });
  });
});
