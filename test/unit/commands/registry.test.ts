import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../../../src/cli-main.js';
import { cliUsage } from '../../../src/cli.js';
import { COMMANDS, commandToRun } from '../../../src/commands/registry.js';
import { DeployError } from '../../../src/errors.js';
import { parseRequest, type RunRequest } from '../../../src/request.js';

const root = join(__dirname, '..', '..', '..');
const action = parse(readFileSync(join(root, 'action.yml'), 'utf8')) as { inputs: Record<string, { description: string }> };

function request(command: string, options: string): RunRequest {
  return parseRequest(
    {
      command,
      mode: 'apply',
      inventoryPath: 'ha.yml',
      environment: 'prod',
      knownHosts: 'db1 ssh-ed25519 AAAA',
      insecureSkipHostKeyCheck: false,
      parallelism: '4',
      breakLock: false,
      options,
      runId: 'test',
      repository: 'test/test',
      env: {},
      fieldName: (field) => `input "${field}"`,
    },
    COMMANDS,
  );
}

function refusal(command: string, options: string): string {
  try {
    request(command, options);
  } catch (error) {
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).reason).toBe('invalid-input');
    return (error as DeployError).message;
  }
  throw new Error(`${command} accepted ${JSON.stringify(options)}`);
}

describe('the command registry', () => {
  it('is what action.yml describes: every command, in order, and every option', () => {
    const described = action.inputs.command.description.trim().split(/\s*\|\s*/);
    expect(described).toEqual(COMMANDS.map((c) => c.name));
    const optionsText = action.inputs.options.description;
    for (const command of COMMANDS) {
      for (const option of command.options) expect(optionsText, `action.yml's options input should name ${option.name}`).toContain(`${option.name}=`);
    }
  });

  it('writes the usage text: every command, and every option with the values it takes', () => {
    const usage = cliUsage();
    for (const command of COMMANDS) expect(usage).toMatch(new RegExp(`^  ${command.name} +${command.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    expect(usage).toContain('-o join=one-at-a-time|parallel: ');
    expect(usage).toContain('-o force-remove=true|false: ');
    expect(usage).toContain('-o drills=proxy-stop,db-stop,db-kill: ');
  });

  it('has one entry per name', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('refuses a planned command before anything is read, naming what is built', () => {
    expect(() => commandToRun('provision')).toThrow(/command provision is not available in this version/);
    try {
      commandToRun('provision');
    } catch (error) {
      expect((error as DeployError).hint).toContain('Available now: preflight, deploy-db, recover, deploy-lb, migrate-storage, verify-ha, unlock.');
    }
    expect(commandToRun('unlock').name).toBe('unlock');
  });
});

describe('command options', () => {
  it('refuses a bad value, naming the option and the values it takes', () => {
    expect(refusal('deploy-db', 'force-remove=yes')).toBe('input "options": force-remove "yes" must be true or false');
    expect(refusal('deploy-db', 'join=paralel')).toBe('input "options": join "paralel" must be one of: one-at-a-time, parallel');
    expect(refusal('verify-ha', 'drills=db-kil')).toBe(
      'input "options": drills "db-kil" names db-kil, not one of: proxy-stop, db-stop, db-kill (separate several with commas)',
    );
    expect(refusal('verify-ha', 'drills=proxy-stop db-kill,bogus\nallow-protected=maybe')).toBe(
      'input "options": drills "proxy-stop db-kill,bogus" names bogus, not one of: proxy-stop, db-stop, db-kill (separate several with commas)\n' +
        'input "options": allow-protected "maybe" must be true or false',
    );
    expect(refusal('recover', 'bootstrap-node=DB 2')).toBe('input "options": bootstrap-node "DB 2" must be the name of a db host of the inventory');
    expect(refusal('deploy-db', 'mariadb-version=latest')).toContain('must be a Debian package version');
  });

  it('refuses a key the command does not take, listing the ones it does', () => {
    expect(refusal('deploy-db', 'drills=db-kill')).toBe('input "options": "drills" is not an option of deploy-db; its options are: force-remove, join, mariadb-version');
    expect(refusal('deploy-lb', 'force-remove=true')).toBe('input "options": deploy-lb takes no options, got "force-remove"');
  });

  it('accepts good values, trimmed, booleans lower-case; an empty value leaves the option unset', () => {
    expect(request('verify-ha', 'drills = proxy-stop,db-kill\nallow-protected=TRUE').options).toEqual({ drills: 'proxy-stop,db-kill', 'allow-protected': 'true' });
    expect(request('deploy-db', 'join=parallel\nforce-remove=false\nmariadb-version=1:10.11.6-0+deb12u1').options).toEqual({
      join: 'parallel',
      'force-remove': 'false',
      'mariadb-version': '1:10.11.6-0+deb12u1',
    });
    expect(request('recover', 'bootstrap-node=').options).toEqual({ 'bootstrap-node': '' });
    expect(request('verify-ha', 'drills=none').options).toEqual({ drills: 'none' });
  });
});

describe('the CLI with a bad option', () => {
  it('exits 2 with the message, before reading the inventory', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const code = await runCli(['deploy-db', '-e', 'prod', '-i', '/nonexistent/ha.yml', '--insecure-skip-host-key-check', '-o', 'join=paralel'], {});
      expect(code).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).toContain('--option: join "paralel" must be one of: one-at-a-time, parallel');
  });
});
