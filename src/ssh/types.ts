/**
 * The transport's contract with everything above it. Components, the engine
 * and commands only ever see a RemoteHost; the ssh2-backed implementation lives
 * in src/ssh/, and unit tests use in-memory fakes of this interface.
 */

export interface RunOptions {
  /** Why the command runs, in words an operator understands; used in errors and logs. */
  purpose: string;
  /** Sent on the command's stdin. Secrets travel this way, never on the command line. */
  stdin?: string | Buffer;
  /** Kill the command after this long. Default 10 minutes. */
  timeoutMs?: number;
  /**
   * Run as root. For a non-root login this wraps the command in `sudo -n`;
   * for root it is a no-op. Default true: almost everything we do needs root.
   */
  sudo?: boolean;
  /** Return non-zero exits instead of throwing `command-failed`. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface WriteFileOptions {
  /** Octal mode, e.g. 0o640. */
  mode: number;
  owner?: string;
  group?: string;
}

export interface RemoteHost {
  /** Inventory name, used as the log prefix and in errors. */
  readonly name: string;
  readonly address: string;
  /** Runs a shell command (`sh -c`). Never retried: commands are not assumed idempotent. */
  run(command: string, options: RunOptions): Promise<RunResult>;
  /** Reads a file as root; null when it does not exist. */
  readFile(path: string): Promise<Buffer | null>;
  /**
   * Writes a file atomically (temp file in the same directory, chmod/chown, rename),
   * so a reader never sees half a file and a failure leaves the old one in place.
   */
  writeFile(path: string, content: string | Buffer, options: WriteFileOptions): Promise<void>;
}
