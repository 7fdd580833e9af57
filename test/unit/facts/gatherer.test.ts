import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GATHERER_PATH, gathererScript, gathererVersion, rootRouteForGatherer } from '../../../src/facts/gatherer.js';
import { HOST_FACTS_SCRIPT } from '../../../src/facts/host.js';
import { packagesSnippet } from '../../../src/facts/packages.js';
import { FACTS } from '../../../src/facts/registry.js';
import { lockPath } from '../../../src/engine/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'gatherer-'));
const path = join(dir, 'gather');
writeFileSync(path, gathererScript(), { mode: 0o755 });
const gather = (...args: string[]) => spawnSync('sh', [path, ...args], { encoding: 'utf8' });

describe('the plan gatherer script', () => {
  it('names its version and refuses another', () => {
    expect(gather('--version').stdout.trim()).toBe(gathererVersion());
    const other = gather('0000000000000000', 'host');
    expect(other.status).toBe(3);
    expect(other.stderr).toContain(`this host has plan gatherer version ${gathererVersion()}, the plan needs 0000000000000000`);
  });

  it('runs a registered fact by name, with plain-word arguments only', () => {
    const v = gathererVersion();
    const ok = gather(v, 'packages', 'dpkg-no-such-package');
    expect(ok.status).toBe(0);
    for (const bad of ['-x', 'a;b', '$(id)', '../../etc/shadow', '']) {
      const r = gather(v, 'packages', bad);
      expect(r.status, bad).toBe(4);
    }
    const unknown = gather(v, 'causality');
    expect(unknown.status).toBe(5);
    expect(unknown.stderr).toContain('no read-only fact named causality');
  });

  it('contains only read-only facts', () => {
    const script = gathererScript();
    for (const f of Object.values(FACTS)) {
      const arm = new RegExp(`^  ${f.name}\\)$`, 'm').test(script);
      expect(arm, f.name).toBe(f.readOnly && f.gather !== undefined);
    }
    expect(script).not.toContain('  causality)');
    expect(script).not.toContain('  gluster-client)');
  });
});

describe('the root route of the plan account', () => {
  const route = rootRouteForGatherer();
  const v = gathererVersion();

  it('sends a registered fact to the gatherer through sudo', () => {
    expect(route({ script: HOST_FACTS_SCRIPT })).toMatchObject({ command: `sudo -n -- ${GATHERER_PATH} ${v} host` });
    expect(route({ script: packagesSnippet(['mariadb-server', 'galera-4']) })).toMatchObject({ command: `sudo -n -- ${GATHERER_PATH} ${v} packages mariadb-server galera-4` });
    expect(route({ readPath: lockPath({ environment: 'prod' }) })).toMatchObject({ command: `sudo -n -- ${GATHERER_PATH} ${v} lock prod` });
  });

  it('refuses everything else, before it reaches a host', () => {
    expect(route({ script: 'systemctl stop mariadb' })).toMatchObject({ refused: 'that command is not one of its facts' });
    expect(route({ script: `${HOST_FACTS_SCRIPT}; rm -rf /` })).toHaveProperty('refused');
    expect(route({ readPath: '/etc/shadow' })).toMatchObject({ refused: 'reading /etc/shadow is not one of its facts' });
    // A fact with a fixed stdin is refused with any other stdin (the gatherer would not send it anyway).
    expect(route({ script: FACTS.healthDb.snippet(), stdin: 'DROP DATABASE moodle;' })).toHaveProperty('refused');
    expect(route({ script: FACTS.healthDb.snippet(), stdin: FACTS.healthDb.gather!.stdin })).toHaveProperty('command');
  });
});
