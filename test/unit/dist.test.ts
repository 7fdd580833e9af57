import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');

function listFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => !f.endsWith('/')).sort();
}

// That dist/ matches a fresh build is checked by scripts/check-dist.mjs, a step
// of the test command: a full rebuild is too slow for a unit test on a busy machine.
describe('dist/', () => {
  it('ships no native addon and the bundled dependencies\' licenses', () => {
    const files = listFiles(join(root, 'dist'));
    expect(files.filter((f) => f.endsWith('.node'))).toEqual([]);
    // The same bundle whether or not ssh2's addon was compiled on this machine:
    // a built one would be an asset reference, a missing one ncc's not-found stub.
    const code = readFileSync(join(root, 'dist', 'index.js'), 'utf8');
    expect(code).not.toMatch(/__nccwpck_require__\.ab \+ "[^"]*\.node"/);
    expect(code).not.toContain('eval("require")');
    expect(code).toContain('require("./crypto/build/Release/sshcrypto.node")');
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
