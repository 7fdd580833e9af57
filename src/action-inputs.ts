/**
 * The action's inputs, defined once. action.yml, src/inputs.ts (which reads
 * every one of them through `actionInput`), the README's input list and the
 * CLI's equivalents are checked against this table by
 * test/unit/github/inputs-table.test.ts, so an input that is declared and never
 * read, or documented and never declared, fails the build.
 */
export interface ActionInputSpec {
  name: string;
  description: string;
  required: boolean;
  /** The default as action.yml spells it; undefined for required inputs. */
  default?: string;
  /** Masked the moment it is read; passed from a secret in the workflows. */
  secret?: boolean;
  /** How the CLI takes the same setting (a flag or an environment variable); undefined when the CLI has no equivalent. */
  cli?: string;
}

export const ACTION_INPUTS = [
  {
    name: 'command',
    description: 'preflight | provision | deploy-db | recover | deploy-lb | migrate-storage | verify-ha | unlock',
    required: true,
    cli: '<command>',
  },
  {
    name: 'mode',
    description: 'plan (read-only: gathers facts and prints the exact changes) or apply.',
    required: false,
    default: 'plan',
    cli: '--mode',
  },
  { name: 'inventory', description: 'Path of the inventory YAML file in the workspace.', required: false, default: 'ha.yml', cli: '--inventory' },
  { name: 'environment', description: 'Name of the environment in the inventory to work on.', required: true, cli: '--environment' },
  {
    name: 'ssh-private-key',
    description:
      'Private key (OpenSSH or PEM) used for every host and the bastion. Held in memory only, never written to disk. Pass it from the secret LMS_HA_SSH_KEY.',
    required: true,
    secret: true,
    cli: 'LMS_HA_SSH_KEY',
  },
  {
    name: 'ssh-private-key-passphrase',
    description: 'Passphrase of the private key, if it has one (secret LMS_HA_SSH_KEY_PASSPHRASE).',
    required: false,
    default: '',
    secret: true,
    cli: 'LMS_HA_SSH_KEY_PASSPHRASE',
  },
  {
    name: 'known-hosts',
    description:
      'OpenSSH known_hosts content pinning every host\'s key (hashed entries and [host]:port are supported), from the secret LMS_HA_KNOWN_HOSTS. A host that is missing or presents another key is refused before authentication.',
    required: false,
    default: '',
    cli: 'LMS_HA_KNOWN_HOSTS',
  },
  {
    name: 'insecure-skip-host-key-check',
    description:
      'UNSAFE. Accept any host key (a man in the middle would receive your database passwords). Prints a warning annotation with each presented fingerprint. Only for a first contact with throwaway hosts.',
    required: false,
    default: 'false',
    cli: '--insecure-skip-host-key-check',
  },
  {
    name: 'parallelism',
    description:
      'How many hosts are worked on at once (one SSH connection each). Commands that must go one node at a time (Galera joins, rolling restarts) do so whatever this says.',
    required: false,
    default: '20',
    cli: '--parallelism',
  },
  {
    name: 'ssh-account',
    description:
      "apply: log in as the inventory's ssh.user (root or passwordless sudo), for plans and applies. plan: log in as provision.plan_account.user, which may run as root only the read-only fact gatherer provision installs; give the pull-request plan job the plan key with this, and keep the apply key in the protected environment. Mode apply with plan is refused before any connection.",
    required: false,
    default: 'apply',
    cli: '--ssh-account',
  },
  {
    name: 'plan-hash',
    description:
      'Hash of a plan reviewed outside a pull request (a manual plan run). With mode apply, the command re-plans and refuses (failure-reason plan-changed) when the fresh plan differs. Empty: the hash is read from the pull request comment (see require-reviewed-plan).',
    required: false,
    default: '',
    cli: '--plan-hash',
  },
  {
    name: 'plan-hash-key',
    description:
      "Secret that keys the plan hash wherever a plan sets secret values (passwords, credential files), so the published hash cannot be used to test password guesses. Give the plan job and the apply job the same one (e.g. a repository secret made with `openssl rand -hex 32`; at least 32 characters). Without it such a plan's hash is keyed with a random key for that run only, and apply with plan-hash refuses it.",
    required: false,
    default: '',
    secret: true,
    cli: 'LMS_HA_PLAN_HASH_KEY',
  },
  {
    name: 'require-reviewed-plan',
    description:
      'With mode apply inside a workflow: apply only the plan reviewed in the lms-ha comment of the pull request the commit came from (or the plan-hash input), and refuse (plan-changed) before touching a host otherwise. false is the emergency opt-out: logged as a warning and in the summary.',
    required: false,
    default: 'true',
  },
  {
    name: 'break-lock',
    description: 'Remove a lock left on the hosts by a run that died (logged with its holder).',
    required: false,
    default: 'false',
    cli: '--break-lock',
  },
  {
    name: 'options',
    description:
      'Command options, one `key=value` per line; an unknown key or value is refused before anything is contacted. recover: `bootstrap-node=NAME` bootstraps that db host whatever the seqnos say. deploy-db: `force-remove=true` removes the nodes in database.remove_nodes even below 3 votes or a majority; `join=parallel` (or one-at-a-time, the default) for the nodes of a new cluster; `mariadb-version=VERSION` pins MariaDB when the inventory has no database.package_version. verify-ha with mode apply: `drills=proxy-stop,db-stop,db-kill` runs failover drills, and `allow-protected=true` allows them on an environment marked protected.',
    required: false,
    default: '',
    cli: '--option',
  },
  {
    name: 'github-token',
    description:
      'Token for the pull request plan comment (permissions: pull-requests: write) and the health issue (issues: write).',
    required: false,
    default: '${{ github.token }}',
    secret: true,
  },
  {
    name: 'comment',
    description:
      'Plan mode on a pull request: create or update the sticky plan comment (per environment, command and inventory). Apply mode: mark the reviewed comment applied or apply-failed.',
    required: false,
    default: 'true',
  },
  {
    name: 'issue',
    description: 'For verify-ha: open, update or close the environment\'s lms-ha-health issue (true/false).',
    required: false,
    default: 'false',
  },
] as const satisfies readonly ActionInputSpec[];

export type ActionInputName = (typeof ACTION_INPUTS)[number]['name'];
