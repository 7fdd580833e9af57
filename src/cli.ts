import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DeployError } from './errors.js';
import { parseRequest, type RunRequest } from './request.js';

export const CLI_USAGE = `usage: lms-ha <command> --environment NAME [options]

commands: preflight, provision, deploy-db, recover, deploy-lb, migrate-storage, verify-ha, unlock

options:
  -i, --inventory FILE        inventory YAML (default: ha.yml)
  -e, --environment NAME      environment of the inventory to work on
  -m, --mode plan|apply       plan is read-only and prints the exact changes (default: plan)
      --ssh-key FILE          private key (default: $LMS_HA_SSH_KEY, ~/.ssh/id_ed25519, ~/.ssh/id_rsa)
      --known-hosts FILE      pinned host keys (default: $LMS_HA_KNOWN_HOSTS, ~/.ssh/known_hosts)
      --insecure-skip-host-key-check
                              UNSAFE: accept any host key
  -p, --parallelism N         hosts worked on at once (default: 20)
      --plan-hash HASH        apply only if the fresh plan has this hash
      --break-lock            remove a lock left by a run that died
  -o, --option KEY=VALUE      command option (repeatable), e.g. bootstrap-node=db2
      --json                  print the result as JSON on stdout
  -h, --help                  this text

       lms-ha import-terraform --from FILE --environment NAME [--inventory ha.yml] [--output lms_ha_hosts]
                              merges the hosts of a \`terraform output -json\` file into the inventory

exit codes: 0 success, 1 failed (hosts, cluster, verification), 2 invalid input (arguments, inventory, secrets)
`;

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
export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliInvocation | 'help' {
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
  if (values.help || positionals.length === 0) return 'help';
  if (positionals.length > 1) {
    throw new DeployError('invalid-input', `one command at a time, got: ${positionals.join(' ')}`);
  }
  const keyPath = values['ssh-key'] ?? env.LMS_HA_SSH_KEY ?? firstExisting(defaultKeyPaths());
  const knownHostsPath = values['known-hosts'] ?? env.LMS_HA_KNOWN_HOSTS ?? join(homedir(), '.ssh', 'known_hosts');
  const request = parseRequest({
    command: positionals[0],
    mode: values.mode,
    inventoryPath: values.inventory,
    environment: values.environment,
    privateKey: keyPath ? readNamedFile(keyPath, '--ssh-key') : undefined,
    privateKeyPassphrase: env.LMS_HA_SSH_KEY_PASSPHRASE,
    knownHosts: existsSync(knownHostsPath) ? readNamedFile(knownHostsPath, '--known-hosts').toString('utf8') : '',
    insecureSkipHostKeyCheck: values['insecure-skip-host-key-check'],
    parallelism: values.parallelism,
    expectedPlanHash: values['plan-hash'],
    breakLock: values['break-lock'],
    options: values.option.join('\n'),
    runId: `cli.${process.pid}`,
    repository: env.GITHUB_REPOSITORY ?? `local:${process.cwd()}`,
    env,
    fieldName: (field) => `--${field}`,
  });
  return { request, json: values.json };
}

function defaultKeyPaths(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => join(homedir(), '.ssh', name));
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

function readNamedFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new DeployError('invalid-input', `${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, {
      hint: `Check the path given to ${flag}.`,
    });
  }
}

/** Exit status by failure reason: 2 when the operator's input is wrong, 1 otherwise. */
export function exitCodeFor(reason: string | undefined): number {
  if (!reason) return 0;
  return reason === 'invalid-input' || reason === 'invalid-inventory' || reason === 'missing-secret' ? 2 : 1;
}
