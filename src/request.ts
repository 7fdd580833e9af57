/**
 * What one run is asked to do. Built by src/inputs.ts (the action) or
 * src/cli.ts (the CLI); everything below works from this and nothing else.
 */
export const COMMANDS = [
  'preflight',
  'provision',
  'deploy-db',
  'recover',
  'deploy-lb',
  'migrate-storage',
  'verify-ha',
  'unlock',
] as const;
export type CommandName = (typeof COMMANDS)[number];

export type Mode = 'plan' | 'apply';

export interface RunRequest {
  command: CommandName;
  mode: Mode;
  /** Path of the inventory file, as given (relative paths are relative to cwd). */
  inventoryPath: string;
  environment: string;
  /** The private key, in memory only: never written to disk on the runner. */
  privateKey?: Buffer;
  privateKeyPassphrase?: string;
  /** known_hosts content (OpenSSH format). */
  knownHosts: string;
  /** Opt-out of host key pinning. Unsafe; warned about loudly. */
  insecureSkipHostKeyCheck: boolean;
  /** How many hosts are worked on at once. */
  parallelism: number;
  /** Plan hash that was reviewed; apply refuses when the fresh plan differs. */
  expectedPlanHash?: string;
  /** Breaks a lock left by a run that died (explicit, logged). */
  breakLock: boolean;
  /** Who is running: written into the host lock so a second run can name the holder. */
  runId: string;
  repository: string;
  /** Environment variables to resolve `{ env: NAME }` secret references from. */
  env: Record<string, string | undefined>;
  /** Command-specific options (e.g. recover's bootstrap override, verify-ha drills). */
  options: Record<string, string>;
}
