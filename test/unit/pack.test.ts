import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The CLI outside a clone: `npm pack`, then `npx ./lms-ha-X.tgz --help`, as the
 * README says. --offline with an empty npm cache proves the tarball needs
 * nothing from a registry (the bundle in dist/ carries every dependency).
 */
describe('the packed CLI', () => {
  it('npx ./lms-ha-X.tgz --help prints the usage, offline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lms-ha-pack-'));
    execFileSync('npm', ['pack', '--pack-destination', dir], { cwd: ROOT, stdio: 'pipe' });
    const [tarball] = readdirSync(dir).filter((f) => /^lms-ha-.*\.tgz$/.test(f));
    expect(tarball).toBeDefined();
    const listing = execFileSync('tar', ['-tzf', join(dir, tarball!)], { encoding: 'utf8' });
    expect(listing).toContain('package/dist/index.js');
    expect(listing).not.toContain('package/src/');
    const out = execFileSync('npx', ['--yes', '--offline', `./${tarball}`, '--help'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false' },
    });
    expect(out).toMatch(/^usage: lms-ha <command> --environment NAME/);
    expect(out).toContain('verify-ha');
  }, 120_000);
});
