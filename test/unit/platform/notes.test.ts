import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadInventory, selectEnvironment, type Environment } from '../../../src/inventory/index.js';
import { hostPatternAdmits, platformPlanNotes, userHostWarnings } from '../../../src/components/platform/notes.js';
import { renderGaleraConfig, serverOptions } from '../../../src/components/galera/index.js';
import { galeraModelFor } from '../../../src/commands/deploy-db/deploy-db.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MOODLE = 'examples/moodle.yml';

function moodle(edit: (text: string) => string = (t) => t): Environment {
  return selectEnvironment(loadInventory(edit(readFileSync(`${ROOT}${MOODLE}`, 'utf8')), MOODLE), 'production', MOODLE);
}

describe('host patterns', () => {
  test.each([
    ['%', '10.0.0.21', true],
    ['10.0.0.%', '10.0.0.21', true],
    ['10.0.0.%', '10.0.1.21', false],
    ['10.0.0.2_', '10.0.0.21', true],
    ['10.0.0.31', '10.0.0.21', false],
    ['10.0.0.0/255.255.255.0', '10.0.0.21', true],
    ['10.0.0.0/255.255.255.128', '10.0.0.200', false],
    ['web1.example.org', '10.0.0.21', false],
  ])('%s admits %s: %s', (pattern, address, admits) => {
    expect(hostPatternAdmits(pattern, address)).toBe(admits);
  });
});

describe('plan notes', () => {
  test('a user limited to the web servers is warned about: the database sees the load balancers', () => {
    const env = moodle((t) => t.replace('hosts: ["10.0.0.%"]', 'hosts: [10.0.0.11, 10.0.0.12, 10.0.0.13]'));
    const [warning, ...rest] = userHostWarnings(env);
    expect(rest).toEqual([]);
    expect(warning).toContain('do not admit lb1 (10.0.0.21), lb2 (10.0.0.22)');
    expect(warning).toContain("the database sees the load balancers' addresses");
    expect(warning).toContain('10.0.0.%');
  });

  test('no warning when the load balancers are admitted', () => {
    expect(userHostWarnings(moodle())).toEqual([]);
  });

  test('the preset settings and gcache sizing are named; an override in database.options drops the setting', () => {
    const notes = platformPlanNotes(moodle((t) => t.replace('gcache_size: 512M', 'gcache_size: 256M')));
    expect(notes.join('\n')).toContain('skip_name_resolve=ON');
    expect(notes.join('\n')).toContain('wsrep_auto_increment_control=OFF');
    expect(notes.join('\n')).toMatch(/gcache is 256M; start from database.gcache_size: 1G .*write rate x hours/);
    const overridden = platformPlanNotes(
      moodle((t) => t.replace('      sync_wait: 1\n', '      sync_wait: 1\n      options: { skip_name_resolve: "OFF" }\n').replace('gcache_size: 512M', 'gcache_size: 2G')),
    );
    expect(overridden.join('\n')).not.toContain('skip_name_resolve');
    expect(overridden.join('\n')).not.toContain('gcache');
  });
});

describe('Galera config from a preset', () => {
  test('renders the preset block; database.options wins over it', () => {
    const model = galeraModelFor(moodle());
    const text = renderGaleraConfig(model, model.nodes[0]!);
    const options = serverOptions(text);
    expect(options.get('skip_name_resolve')).toBe('ON');
    expect(options.get('wsrep_auto_increment_control')).toBe('OFF');
    expect(options.get('auto_increment_increment')).toBe('1');
    expect(text).toContain('# chosen by the moodle preset');
    const own = galeraModelFor(moodle((t) => t.replace('      sync_wait: 1\n', '      sync_wait: 1\n      options: { skip_name_resolve: "OFF" }\n')));
    const ownText = renderGaleraConfig(own, own.nodes[0]!);
    expect(ownText.match(/skip_name_resolve/g)).toHaveLength(1);
    expect(serverOptions(ownText).get('skip_name_resolve')).toBe('OFF');
  });

  test('a custom preset adds nothing', () => {
    const model = galeraModelFor(moodle((t) => t.replace('preset: moodle ', 'preset: custom ').replace('databases: [moodle]', 'databases: [app]').replace('    database:\n', '    database:\n').replace('      users:', '      databases: [{ name: app }]\n      users:')));
    expect(renderGaleraConfig(model, model.nodes[0]!)).not.toContain('skip_name_resolve');
  });
});

describe('preset file defaults', () => {
  test('moodle: mount path and owner come from the preset when the inventory leaves them out', () => {
    const env = moodle((t) => t.replace('      mount_path: /var/www/moodledata\n', '').replace('      owner: www-data\n', ''));
    expect(env.storage).toMatchObject({ kind: 'glusterfs', mount_path: '/var/www/moodledata', owner: 'www-data', group: 'www-data' });
  });
});
