import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DeployError } from './errors.js';
import { MAX_KNOWN_HOSTS_BYTES, MAX_PRIVATE_KEY_BYTES, readBoundedFile } from './read-file.js';
import { COMMANDS } from './commands/registry.js';
import { parseRequest, type OptionSpec, type RunRequest } from './request.js';

const FLAGS = `options:
  -i, --inventory FILE        inventory YAML (default: ha.yml)
  -e, --environment NAME      environment of the inventory to work on
  -m, --mode plan|apply       plan is read-only and prints the exact changes (default: plan)
      --ssh-key FILE          private key file (default: $LMS_HA_SSH_KEY, which holds the key text
                              or its path; else ~/.ssh/id_ed25519, id_ecdsa, id_rsa)
      --known-hosts FILE      pinned host keys (default: $LMS_HA_KNOWN_HOSTS, content or path;
                              else ~/.ssh/known_hosts)
      --insecure-skip-host-key-check
                              UNSAFE: accept any host key
  -p, --parallelism N         hosts worked on at once (default: 20)
      --ssh-account plan      log in as the inventory's plan account (plans only; see provision)
      --plan-hash HASH        apply only if the fresh plan has this hash (64 hex characters)
      --break-lock            remove a lock left by a run that died
  -o, --option KEY=VALUE      command option (repeatable), e.g. bootstrap-node=db2
      --json                  print the result as JSON on stdout
  -h, --help                  this text`;

const ENVIRONMENT = `environment: LMS_HA_SSH_KEY (key text or path), LMS_HA_SSH_KEY_PASSPHRASE, LMS_HA_KNOWN_HOSTS
  (content or path), LMS_HA_PLAN_HASH_KEY (keys the plan hash of plans that set secrets; the plan
  and the apply must have the same one, at least 32 characters), and the variables the inventory
  names for its secrets.`;

const IMPORT_TERRAFORM = `inventory from Terraform (no host is contacted):
  lms-ha import-terraform --from FILE --environment NAME [--inventory ha.yml] [--output lms_ha_hosts]
      merges the hosts of a \`terraform output -json\` file into the inventory (docs/provision.md)`;

/** The usage text; the commands and their options come from the registry. */
export function cliUsage(): string {
  const commands = COMMANDS;
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const lines = ['usage: lms-ha <command> --environment NAME [options]', '', 'commands:'];
  for (const command of commands) {
    lines.push(`  ${command.name.padEnd(width)}${command.summary}`);
    for (const option of command.options) lines.push(`  ${' '.repeat(width)}  -o ${optionSyntax(option)}: ${option.description}`);
  }
  lines.push('', FLAGS, '', IMPORT_TERRAFORM, '', ENVIRONMENT, '', 'exit codes: 0 success, 1 failed (hosts, cluster, verification), 2 invalid input (arguments, inventory, secrets)', '');
  return lines.join('\n');
}

function optionSyntax(option: OptionSpec): string {
  switch (option.kind) {
    case 'boolean':
      return `${option.name}=true|false`;
    case 'choice':
      return `${option.name}=${option.values.join('|')}`;
    case 'list':
      return `${option.name}=${option.values.join(',')}`;
    case 'text':
      return `${option.name}=VALUE`;
  }
}

export interface CliInvocation {
  request: RunRequest;
  json: boolean;
}

export interface ImportTerraformInvocation {
  from: string;
  inventory: string;
  environment: string;
  output: string;
}

/** `lms-ha import-terraform ...`: not a run against hosts, only a rewrite of the inventory file. */
export function parseImportTerraformArgs(argv: string[]): ImportTerraformInvocation {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        from: { type: 'string', default: '' },
        inventory: { type: 'string', short: 'i', default: 'ha.yml' },
        environment: { type: 'string', short: 'e', default: '' },
        output: { type: 'string', default: 'lms_ha_hosts' },
      },
    });
  } catch (error) {
    throw new DeployError('invalid-input', (error as Error).message, { hint: 'Run `lms-ha --help` for the options.' });
  }
  const { values } = parsed;
  if (!values.from || !values.environment) {
    throw new DeployError('invalid-input', 'import-terraform needs --from FILE (terraform output -json) and --environment NAME', { hint: 'Run `lms-ha --help` for the options.' });
  }
  return { from: values.from, inventory: values.inventory, environment: values.environment, output: values.output };
}

/** The only place the CLI reads argv, files named by flags and the environment. */
export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliInvocation | 'help' | 'usage' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        inventory: { type: 'string', short: 'i', default: 'ha.yml' },
        environment: { type: 'string', short: 'e', default: '' },
        mode: { type: 'string', short: 'm', default: 'plan' },
        'ssh-key': { type: 'string' },
        'known-hosts': { type: 'string' },
        'insecure-skip-host-key-check': { type: 'boolean', default: false },
        parallelism: { type: 'string', short: 'p', default: '20' },
        'ssh-account': { type: 'string', default: 'apply' },
        'plan-hash': { type: 'string' },
        'break-lock': { type: 'boolean', default: false },
        option: { type: 'string', short: 'o', multiple: true, default: [] },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new DeployError('invalid-input', (error as Error).message, { hint: 'Run `lms-ha --help` for the options.' });
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length === 0) return 'usage';
  if (positionals.length > 1) {
    throw new DeployError('invalid-input', `one command at a time, got: ${positionals.join(' ')}`);
  }
  const privateKey = readPrivateKey(values['ssh-key'], env);
  const knownHosts = readKnownHosts(values['known-hosts'], env);
  const request = parseRequest({
    command: positionals[0],
    mode: values.mode,
    inventoryPath: values.inventory,
    environment: values.environment,
    privateKey,
    privateKeyPassphrase: env.LMS_HA_SSH_KEY_PASSPHRASE,
    knownHosts,
    insecureSkipHostKeyCheck: values['insecure-skip-host-key-check'],
    parallelism: values.parallelism,
    sshAccount: values['ssh-account'],
    expectedPlanHash: values['plan-hash'],
    planHashKey: env.LMS_HA_PLAN_HASH_KEY,
    breakLock: values['break-lock'],
    options: values.option.join('\n'),
    runId: `cli.${process.pid}`,
    repository: env.GITHUB_REPOSITORY ?? `local:${process.cwd()}`,
    env,
    fieldName: (field) => (field === 'options' ? '--option' : `--${field}`),
  }, COMMANDS);
  return { request, json: values.json };
}

function defaultKeyPaths(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => join(homedir(), '.ssh', name));
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

const PRIVATE_KEY_TEXT = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const PUBLIC_KEY_TEXT = /^\s*((ssh|ecdsa-sha2|sk-ssh|sk-ecdsa)-[a-z0-9@.-]+ AAAA|-----BEGIN [A-Z0-9 ]*PUBLIC KEY-----|---- BEGIN SSH2 PUBLIC KEY ----)/;
const KEY_HINT =
  'Give the path of the private key file (--ssh-key FILE), or put the key itself or its path in LMS_HA_SSH_KEY (the action takes the key text; the CLI takes either in the variable).';

/**
 * --ssh-key is a path. LMS_HA_SSH_KEY holds a path or the key text itself (the
 * form the action's input takes, so one secret serves both). A value is never
 * echoed: a pasted key must not end up on the terminal or in a CI log.
 */
function readPrivateKey(flag: string | undefined, env: NodeJS.ProcessEnv): Buffer | undefined {
  if (flag !== undefined) {
    if (PRIVATE_KEY_TEXT.test(flag) || PUBLIC_KEY_TEXT.test(flag) || flag.includes('\n')) {
      throw new DeployError('invalid-input', '--ssh-key takes the path of the key file, and the value given looks like key text (not shown)', { hint: KEY_HINT });
    }
    return checkKeyShape(readBoundedFile(flag, MAX_PRIVATE_KEY_BYTES, '--ssh-key', KEY_HINT), '--ssh-key');
  }
  const fromEnv = env.LMS_HA_SSH_KEY;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (PRIVATE_KEY_TEXT.test(fromEnv) || PUBLIC_KEY_TEXT.test(fromEnv) || fromEnv.includes('\n')) {
      if (Buffer.byteLength(fromEnv) > MAX_PRIVATE_KEY_BYTES) {
        throw new DeployError('invalid-input', `LMS_HA_SSH_KEY holds more than ${MAX_PRIVATE_KEY_BYTES} bytes; that is no private key`, { hint: KEY_HINT });
      }
      return checkKeyShape(Buffer.from(`${fromEnv.replace(/\r\n/g, '\n').trim()}\n`), 'LMS_HA_SSH_KEY');
    }
    return checkKeyShape(readBoundedFile(fromEnv, MAX_PRIVATE_KEY_BYTES, 'the key file in LMS_HA_SSH_KEY,', KEY_HINT), 'LMS_HA_SSH_KEY');
  }
  const found = firstExisting(defaultKeyPaths());
  return found ? checkKeyShape(readBoundedFile(found, MAX_PRIVATE_KEY_BYTES, 'the SSH key', KEY_HINT), found) : undefined;
}

/** A public key where the private one belongs is the usual mix-up; said once here, not once per host. */
function checkKeyShape(key: Buffer, where: string): Buffer {
  if (PUBLIC_KEY_TEXT.test(key.subarray(0, 200).toString('latin1'))) {
    throw new DeployError('invalid-input', `${where} holds a PUBLIC key; lms-ha needs the private key (the file without .pub)`, { hint: KEY_HINT });
  }
  return key;
}

const KNOWN_HOSTS_LINE = /^\s*(@[a-z-]+\s+)?\S+\s+(ssh-|ecdsa-|sk-)\S*\s+AAAA/m;
const KNOWN_HOSTS_HINT = 'Give the path of a known_hosts file (--known-hosts FILE), or its path or content in LMS_HA_KNOWN_HOSTS.';

/**
 * --known-hosts is a path; LMS_HA_KNOWN_HOSTS holds a path or the content (as
 * the action's input does). A file that was named and is missing is an error,
 * not an empty pin list; only the default ~/.ssh/known_hosts may be absent.
 */
function readKnownHosts(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined) {
    if (flag.includes('\n') || KNOWN_HOSTS_LINE.test(flag)) {
      throw new DeployError('invalid-input', '--known-hosts takes the path of a file, and the value given looks like known_hosts content (not shown)', {
        hint: KNOWN_HOSTS_HINT,
      });
    }
    return readBoundedFile(flag, MAX_KNOWN_HOSTS_BYTES, '--known-hosts', KNOWN_HOSTS_HINT).toString('utf8');
  }
  const fromEnv = env.LMS_HA_KNOWN_HOSTS;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.includes('\n') || KNOWN_HOSTS_LINE.test(fromEnv)) {
      if (Buffer.byteLength(fromEnv) > MAX_KNOWN_HOSTS_BYTES) {
        throw new DeployError('invalid-input', `LMS_HA_KNOWN_HOSTS holds more than ${MAX_KNOWN_HOSTS_BYTES} bytes`, { hint: KNOWN_HOSTS_HINT });
      }
      return fromEnv;
    }
    return readBoundedFile(fromEnv, MAX_KNOWN_HOSTS_BYTES, 'the known_hosts file in LMS_HA_KNOWN_HOSTS,', KNOWN_HOSTS_HINT).toString('utf8');
  }
  const fallback = join(homedir(), '.ssh', 'known_hosts');
  return existsSync(fallback) ? readBoundedFile(fallback, MAX_KNOWN_HOSTS_BYTES, 'known_hosts', KNOWN_HOSTS_HINT).toString('utf8') : '';
}
