import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateFiles, verifyCopy, type FilesSetting } from '../../../src/commands/migrate-storage/files.js';
import { DeployError } from '../../../src/errors.js';
import type { GlusterStorage, Host } from '../../../src/inventory/index.js';
import { MemoryLogger } from '../../../src/report/log.js';
import type { RemoteHost, RemoteProcess, RunResult } from '../../../src/ssh/types.js';

// The command's own bridge code (bridgeRsync, manifests, verification) with
// two local shells standing in for the SSH channels of the source and target
// hosts: the plumbing is tested here; the lab e2e test runs it over SSH.

const hasRsync = spawnSync('rsync', ['--version']).status === 0;

function localHost(name: string): RemoteHost {
  return {
    name,
    address: '127.0.0.1',
    run: async (command, options): Promise<RunResult> => {
      const r = spawnSync('sh', ['-c', command], { input: options.stdin, encoding: 'utf8' });
      const result = { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
      if (result.code !== 0 && !options.allowFailure) throw new DeployError('command-failed', `${name}: ${options.purpose} failed: ${r.stderr}`);
      return result;
    },
    spawn: async (command): Promise<RemoteProcess> => {
      const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const done = new Promise<RunResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? 128, stdout: '', stderr })));
      return { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, done, kill: () => child.kill('SIGKILL') };
    },
    readFile: async () => null,
    writeFile: async () => undefined,
  };
}

const group = hasRsync ? execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim() : 'root';
const user = hasRsync ? execFileSync('id', ['-un'], { encoding: 'utf8' }).trim() : 'root';
let dir: string;
let setting: FilesSetting;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lms-ha-bridge-'));
  const src = join(dir, 'src');
  mkdirSync(join(src, 'course files', 'ünï'), { recursive: true });
  for (let i = 0; i < 300; i++) writeFileSync(join(src, 'course files', 'ünï', `f ${i}`), `content ${i}\n`.repeat(i));
  writeFileSync(join(src, 'new\nline'), 'x');
  symlinkSync('course files', join(src, 'latest'));
  writeFileSync(join(src, 'big.bin'), Buffer.alloc(3 << 20, 7));
  mkdirSync(join(dir, 'dst'));
  const host = (name: string): Host => ({ name, address: '127.0.0.1', roles: [], ssh: {} as Host['ssh'], labels: {} });
  const storage: GlusterStorage = { kind: 'glusterfs', volume: 'v', brick_path: '/b', mount_path: join(dir, 'dst'), owner: user, group, mode: '0770', force_root_brick: false };
  setting = { source: host('old'), sourcePath: src, target: host('web1'), storage };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasRsync)('file copy through the bridge (local shells as the two hosts)', () => {
  it('copies, puts the volume root back to the inventory owner and mode, and verifies', async () => {
    const logger = new MemoryLogger();
    const cmp = await migrateFiles(localHost('old'), localHost('web1'), setting, logger);
    expect(cmp.ok).toBe(true);
    expect(cmp.files).toBe(302);
    expect(readFileSync(join(dir, 'dst', 'course files', 'ünï', 'f 7'), 'utf8')).toBe('content 7\n'.repeat(7));
    expect(statSync(join(dir, 'dst')).mode & 0o7777).toBe(0o770);
    expect(logger.lines.join('\n')).toMatch(/verified 302 files, 3\.\d MiB, 305 entries/);
  });

  it('names a target file whose content differs with the same size and time', async () => {
    const victim = join(dir, 'dst', 'course files', 'ünï', 'f 9');
    const before = statSync(victim);
    writeFileSync(victim, 'X'.repeat(before.size));
    utimesSync(victim, before.atime, before.mtime);
    const error = await verifyCopy(localHost('old'), localHost('web1'), setting, new MemoryLogger()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).reason).toBe('verify-failed');
    expect((error as DeployError).message).toContain('"course files/ünï/f 9 (sha256: ');
  });

  it('a failing sender is an error naming the source host, not a hang', async () => {
    const broken = { ...setting, sourcePath: join(dir, 'missing') };
    const error = await migrateFiles(localHost('old'), localHost('web1'), broken, new MemoryLogger()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).message).toMatch(/^old: rsync ended before it asked for a receiver/);
  });
});
