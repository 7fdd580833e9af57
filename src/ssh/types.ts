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

/** What `spawn` takes: like RunOptions, without the buffered stdin. */
export interface SpawnOptions {
  purpose: string;
  /** Kill the command after this long (on the host, with its process group). Default 10 minutes. */
  timeoutMs?: number;
  /** Run as root (see RunOptions.sudo). Default true. */
  sudo?: boolean;
}

/**
 * A command running on a host with its streams open, for data too large to
 * hold in memory (a database dump, a file tree): pipe it on, never buffer it.
 * `stdout` must be read (or piped) or the command stalls on SSH flow control.
 */
export interface RemoteProcess {
  readonly stdin: NodeJS.WritableStream;
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  /**
   * Settles when the command ends: its exit status and the tail of stderr.
   * A non-zero exit resolves (the caller decides); a lost connection, a
   * timeout or a sudo refusal rejects with a DeployError naming the host.
   */
  readonly done: Promise<RunResult & { signal?: string }>;
  /** Stops the command on the host (KILL) and closes the channel; its remaining output is discarded, so `done` settles. */
  kill(): void;
}

export interface RemoteHost {
  /** Inventory name, used as the log prefix and in errors. */
  readonly name: string;
  readonly address: string;
  /** Runs a shell command (`sh -c`). Never retried: commands are not assumed idempotent. */
  run(command: string, options: RunOptions): Promise<RunResult>;
  /**
   * Starts a shell command with open streams (the SSH transport has it; the
   * in-memory fakes of unit tests may not). Never retried.
   */
  spawn?(command: string, options: SpawnOptions): Promise<RemoteProcess>;
  /** Reads a file as root; null when it does not exist. */
  readFile(path: string): Promise<Buffer | null>;
  /**
   * Writes a file atomically (temp file in the same directory, chmod/chown, rename),
   * so a reader never sees half a file and a failure leaves the old one in place.
   */
  writeFile(path: string, content: string | Buffer, options: WriteFileOptions): Promise<void>;
}

/**
 * What a run asks root for: a script (with its stdin) or a file's content.
 * A login that may not use sudo freely (the plan account) routes each such
 * request through a root route, which names the one command allowed to do it
 * or refuses it.
 */
export type RootRequest = { script: string; stdin?: string | Buffer } | { readPath: string };

export type RootRouted =
  | {
      /** The command line to run instead (it calls sudo itself); its stdin is not sent. */
      command: string;
      /** Exit codes of that command that mean "refused", with the hint to give. */
      refusedCodes: readonly number[];
      hint: string;
    }
  | { refused: string; hint: string };

export type RootRoute = (request: RootRequest) => RootRouted;
