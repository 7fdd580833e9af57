import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');

function listFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => !f.endsWith('/')).sort();
}

describe('dist/', () => {
  it('matches a fresh build of the sources (rebuild with `npm run build` and commit dist/)', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'lms-ha-dist-'));
    execFileSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--out', fresh], { cwd: root, stdio: 'pipe' });
    const committed = join(root, 'dist');
    expect(listFiles(committed)).toEqual(listFiles(fresh));
    for (const file of listFiles(fresh)) {
      const same = readFileSync(join(fresh, file)).equals(readFileSync(join(committed, file)));
      expect(same, `dist/${file} differs from a fresh build`).toBe(true);
    }
  }, 120_000);

  it('ships no native addon and the bundled dependencies\' licenses', () => {
    const files = listFiles(join(root, 'dist'));
    expect(files.filter((f) => f.endsWith('.node'))).toEqual([]);
    const licenses = readFileSync(join(root, 'dist', 'licenses.txt'), 'utf8');
    expect(licenses).toContain('ssh2');
    expect(licenses).toContain('yaml');
  });

  it('loads as the CLI and prints its usage', () => {
    const run = spawnSync(process.execPath, [join(root, 'dist', 'index.js'), '--help'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('usage: lms-ha <command>');
  });

  it('loads as the action and reports a bad input through the outputs, without a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lms-ha-action-'));
    const output = join(dir, 'output');
    writeFileSync(output, '');
    const run = spawnSync(process.execPath, [join(root, 'dist', 'index.js')], {
      encoding: 'utf8',
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        GITHUB_ACTIONS: 'true',
        GITHUB_OUTPUT: output,
        INPUT_COMMAND: 'deploy-everything',
        INPUT_ENVIRONMENT: 'production',
        INPUT_MODE: 'plan',
      },
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('::error');
    expect(run.stdout).toContain('deploy-everything');
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(output, 'utf8')).toMatch(/failure-reason<<\S+\ninvalid-input\n/);
  });
});
