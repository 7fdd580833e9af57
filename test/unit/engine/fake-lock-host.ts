/**
 * An in-memory RemoteHost that emulates the filesystem semantics the lock relies
 * on: creating the lock is an atomic check-and-set (link(2) fails if the name
 * exists), and every step yields to the event loop first, so concurrent
 * acquirers really interleave.
 */
import type { RemoteHost, RunOptions, RunResult, WriteFileOptions } from '../../../src/ssh/types.js';

export interface RunRecord {
  host: string;
  op: string;
  command: string;
  options: RunOptions;
}

/** Yields a few turns of the event loop, with some randomness to vary interleavings. */
async function tick(): Promise<void> {
  const turns = 1 + Math.floor(Math.random() * 3);
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function shellValue(script: string, name: string): string {
  const match = new RegExp(`^${name}='((?:[^']|'\\\\'')*)'$`, 'm').exec(script);
  if (!match) throw new Error(`fake host: no ${name}= in script:\n${script}`);
  return match[1]!.replace(/'\\''/g, "'");
}

export class FakeLockHost implements RemoteHost {
  readonly address: string;
  readonly files = new Map<string, string>();
  /** Throws this on the next run of the given op (once). */
  failNext = new Map<string, Error>();

  constructor(
    readonly name: string,
    private readonly journal: RunRecord[] = [],
  ) {
    this.address = `10.0.0.${name.length}`;
  }

  async run(command: string, options: RunOptions): Promise<RunResult> {
    const op = /^# lms-ha-lock (\w+)/.exec(command)?.[1];
    if (!op) throw new Error(`fake host ${this.name}: unexpected command ${command}`);
    this.journal.push({ host: this.name, op, command, options });
    await tick();
    const failure = this.failNext.get(op);
    if (failure) {
      this.failNext.delete(op);
      throw failure;
    }
    const lock = shellValue(command, 'lock');
    switch (op) {
      case 'acquire': {
        // mkdir, mktemp, cat: not atomic with respect to each other, hence the ticks.
        const content = String(options.stdin ?? '');
        await tick();
        // ln tmp lock: the atomic step.
        if (this.files.has(lock)) return ok(`held\n${this.files.get(lock)}`);
        this.files.set(lock, content);
        return ok('acquired\n');
      }
      case 'release': {
        const token = shellValue(command, 'token');
        const content = this.files.get(lock);
        if (content === undefined) return ok('absent\n');
        await tick();
        if (content.includes(`"token":"${token}"`)) {
          this.files.delete(lock);
          return ok('released\n');
        }
        return ok(`foreign\n${content}`);
      }
      case 'break': {
        const content = this.files.get(lock);
        if (content === undefined) return ok('absent\n');
        this.files.delete(lock);
        return ok(`broken\n${content}`);
      }
      default:
        throw new Error(`fake host ${this.name}: unknown lock op ${op}`);
    }
  }

  async readFile(path: string): Promise<Buffer | null> {
    this.journal.push({ host: this.name, op: 'readFile', command: path, options: { purpose: 'read' } });
    const content = this.files.get(path);
    return content === undefined ? null : Buffer.from(content);
  }

  async writeFile(path: string, content: string | Buffer, _options: WriteFileOptions): Promise<void> {
    this.files.set(path, content.toString());
  }
}

function ok(stdout: string): RunResult {
  return { code: 0, stdout, stderr: '' };
}
