import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadInventory, parseInventory, resolveSecrets, selectEnvironment, type Environment } from '../../../src/inventory/index.js';
import { findSecretReferences } from '../../../src/inventory/secrets.js';
import { isConnection, platformConnection, type PlatformConnection } from '../../../src/components/platform/connection.js';
import { renderHaproxyConfig } from '../../../src/components/haproxy/config.js';
import { haproxyModelFor } from '../../../src/commands/deploy-lb/desired.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yml')).sort();

function example(file: string): Environment {
  const path = `examples/${file}`;
  const inventory = loadInventory(readFileSync(join(ROOT, path), 'utf8'), path);
  const [name] = Object.keys(inventory.environments);
  return selectEnvironment(inventory, name!, path);
}

function connectionOf(env: Environment): PlatformConnection {
  const c = platformConnection(env);
  if (!isConnection(c)) throw new Error(`no connection: ${c.reason}`);
  return c;
}

const hasPhp = spawnSync('php', ['--version']).status === 0;

function phpLint(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lms-ha-php-'));
  const file = join(dir, 'snippet.php');
  writeFileSync(file, text);
  return execFileSync('php', ['-l', file], { encoding: 'utf8' });
}

/** Runs the snippet with the secret variable set and prints what the platform would read. */
function phpEval(text: string, dump: string, env: Record<string, string>): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'lms-ha-php-'));
  const file = join(dir, 'snippet.php');
  writeFileSync(file, `${text}\necho json_encode(${dump});\n`);
  return JSON.parse(execFileSync('php', [file], { encoding: 'utf8', env: { ...process.env, ...env } }));
}

describe('examples', () => {
  test('there is one per seed topology', () => {
    expect(EXAMPLES).toEqual(['chamilo.yml', 'moodle.yml', 'openedx.yml']);
  });

  test.each(EXAMPLES)('%s validates and its connection settings can be rendered', (file) => {
    const path = `examples/${file}`;
    expect(parseInventory(readFileSync(join(ROOT, path), 'utf8'), path).problems).toEqual([]);
    const c = connectionOf(example(file));
    expect(c.preset).toBe(file.replace('.yml', ''));
  });
});

describe.each(EXAMPLES)('connection settings of %s', (file) => {
  const env = example(file);
  const c = connectionOf(env);
  const lb = env.load_balancer!;

  test('host and ports are those of the load balancer lms-ha deploys', () => {
    expect(c.database.host).toBe(lb.vip_address);
    if (lb.kind === 'haproxy') {
      // The listeners deploy-lb renders for this very environment.
      const config = renderHaproxyConfig(haproxyModelFor(env, lb));
      expect(config).toMatch(new RegExp(`listen [^\\n]*\\n\\s+bind \\*:${c.database.writerPort}\\n`));
      expect(config).toContain(`bind *:${c.database.readerPort}\n`);
      expect(c.database.writerPort).not.toBe(c.database.readerPort);
      expect(c.snippet.text).toContain(`'dbport'      => ${lb.ports.writer}`);
      expect(c.snippet.text).toContain(`'dbport' => ${lb.ports.reader}`);
    } else {
      expect(c.database.writerPort).toBe(lb.ports.mysql);
      expect(c.database.readerPort).toBe(lb.ports.mysql);
    }
    expect(c.snippet.text).toContain(lb.vip_address);
  });

  test('names where each secret lives, never a value', () => {
    const vars = Object.fromEntries(findSecretReferences(env).map((r) => [r.name, `canary-${r.name.toLowerCase()}-7f3a9c`]));
    const secrets = resolveSecrets(env, vars, () => {});
    const rendered = JSON.stringify(connectionOf(env));
    for (const value of Object.values(vars)) expect(rendered).not.toContain(value);
    expect(secrets).toBeDefined();
    expect(c.database.password.env).toBe(env.app.users[0]!.password.env);
    expect(c.snippet.text).toContain(c.database.password.env);
  });

  test.runIf(c.snippet.language === 'php' && hasPhp)('is valid PHP (php -l) that reads the password from its variable', () => {
    expect(phpLint(c.snippet.text)).toContain('No syntax errors');
    const password = 'canary-pw-81d2';
    if (c.preset === 'moodle') {
      const cfg = phpEval(c.snippet.text, '$CFG', { [c.database.password.env]: password }) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- PHP's arrays, read back as JSON
      expect(cfg).toMatchObject({ dbtype: 'mariadb', dbhost: c.database.host, dbname: 'moodle', dbuser: c.database.user, dbpass: password });
      expect(cfg.dboptions.dbport).toBe(c.database.writerPort);
      if (lb.kind === 'haproxy') {
        expect(cfg.dboptions.readonly.instance).toEqual([{ dbhost: c.database.host, dbport: c.database.readerPort, dbuser: c.database.user, dbpass: password }]);
      }
      if (c.files.kind === 'glusterfs') expect(cfg.dataroot).toBe(c.files.mountPath);
    } else {
      const conf = phpEval(c.snippet.text, '$_configuration', { [c.database.password.env]: password }) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- PHP's arrays, read back as JSON
      expect(conf).toMatchObject({ db_host: c.database.host, db_port: String(c.database.writerPort), main_database: 'chamilo', db_user: c.database.user, db_password: password });
    }
  });

  test.runIf(c.snippet.language === 'yaml')('is YAML Tutor reads: external MySQL on the VIP', () => {
    const settings = parseYaml(c.snippet.text) as Record<string, unknown>;
    expect(settings).toMatchObject({ RUN_MYSQL: false, MYSQL_HOST: c.database.host, MYSQL_PORT: c.database.writerPort, OPENEDX_MYSQL_USERNAME: c.database.user, OPENEDX_MYSQL_DATABASE: 'edxapp' });
    expect(Object.keys(settings).some((k) => /PASSWORD|SECRET/.test(k))).toBe(false);
    if (c.files.kind === 's3') expect(settings).toMatchObject({ S3_STORAGE_BUCKET: c.files.bucket });
  });
});

test('PHP is there to check the PHP snippets (CI installs php-cli)', () => {
  // Where php is missing the PHP tests above are skipped; say so loudly in CI.
  if (process.env.CI) expect(hasPhp).toBe(true);
});

describe('no connection', () => {
  test('custom preset says why', () => {
    const env = example('moodle.yml');
    const c = platformConnection({ ...env, app: { ...env.app, preset: 'custom' } });
    expect(isConnection(c)).toBe(false);
    expect('reason' in c && c.reason).toMatch(/custom/);
  });
});
