import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runStep, type DatabaseMigrationSetting, type StreamLimits } from '../../../src/commands/migrate-storage/database.js';
import type { DumpStep } from '../../../src/components/migrate/database.js';
import { DeployError } from '../../../src/errors.js';
import type { Host } from '../../../src/inventory/index.js';
import { MemoryLogger } from '../../../src/report/log.js';
import type { RemoteHost, RemoteProcess, RunResult } from '../../../src/ssh/types.js';

// How a dump step wires the two remote processes together: what reaches the
// importer, when it gets its end of input, who is stopped when one side fails,
// and that no way of going wrong waits forever. The processes are in-memory
// stand-ins; the real transport is exercised by test/unit/ssh/spawn.test.ts
// and, on real hosts, by test/e2e/migrate-database.test.ts.

const host = (name: string): Host => ({ name, address: '10.0.0.1', roles: [], ssh: { user: 'root', port: 22, connect_timeout: 10 }, labels: {} });
const setting: DatabaseMigrationSetting = {
  source: host('old1'),
  writer: host('db1'),
  readers: [],
  schemas: ['moodle'],
  convert: false,
  conn: { user: 'dumper', port: 3306, password: true },
  password: 'pw',
};
const step: DumpStep = { name: 'full', source: 'DUMP', target: 'IMPORT', summary: 'dump moodle' };
// Short limits, so the bounded waits end within the test; the defaults are minutes.
const LIMITS: StreamLimits = { stallMs: 60, finishMs: 60, totalMs: 5_000 };

interface FakeProcess extends RemoteProcess {
  input: Buffer[];
  inputEnded: boolean;
  killed: boolean;
  /** Ends the output without an exit status yet (ssh2: EOF before exit-status and close). */
  endOutput(): void;
  /** Ends the output and then reports the exit, as the transport does: `done` after stdout was read to its end. */
  finish(result: Partial<RunResult>): void;
  /** The stdout side, for the test to write into. */
  out: PassThrough;
}

function fakeProcess(stdin: Writable = new PassThrough()): FakeProcess {
  const out = new PassThrough();
  let settle!: (r: RunResult & { signal?: string }) => void;
  const done = new Promise<RunResult & { signal?: string }>((resolve) => (settle = resolve));
  const p: FakeProcess = {
    stdin,
    stdout: out,
    stderr: new PassThrough(),
    done,
    input: [],
    inputEnded: false,
    killed: false,
    out,
    kill: () => {
      p.killed = true;
      out.resume();
      if (!out.writableEnded) out.end();
      settle({ code: 137, stdout: '', stderr: '', signal: 'KILL' });
    },
    endOutput: () => {
      if (!out.writableEnded) out.end();
    },
    finish: (r) => {
      p.endOutput();
      const report = () => settle({ code: 0, stdout: '', stderr: '', ...r });
      if (out.readableEnded) report();
      else out.once('end', report);
    },
  };
  if (stdin instanceof PassThrough) {
    stdin.on('data', (d: Buffer) => p.input.push(d));
    stdin.on('end', () => (p.inputEnded = true));
  }
  return p;
}

function fakeHost(name: string, proc: FakeProcess, spawned: string[]): RemoteHost {
  return {
    name,
    address: '10.0.0.1',
    run: async () => ({ code: 0, stdout: '', stderr: '' }),
    spawn: async (command) => {
      spawned.push(`${name}: ${command}`);
      return proc;
    },
    readFile: async () => null,
    writeFile: async () => undefined,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

function start(options: { importerStdin?: Writable; setting?: DatabaseMigrationSetting; limits?: StreamLimits } = {}) {
  const dump = fakeProcess();
  const importer = fakeProcess(options.importerStdin);
  const spawned: string[] = [];
  const hosts = new Map([
    ['old1', fakeHost('old1', dump, spawned)],
    ['db1', fakeHost('db1', importer, spawned)],
  ]);
  const logger = new MemoryLogger();
  const result = runStep(options.setting ?? setting, step, hosts, logger, options.limits ?? LIMITS).then(
    () => null,
    (e: unknown) => e as DeployError,
  );
  return { dump, importer, result, logger, spawned };
}

describe('streaming a dump step', () => {
  it('sends the password to the dump only, pipes every byte to the importer, and ends its input when the dump output ends', async () => {
    const { dump, importer, result, logger } = start();
    await tick();
    dump.out.write('CREATE TABLE a;\n');
    dump.out.write('INSERT INTO a VALUES (1);\n');
    await tick();
    expect(importer.inputEnded).toBe(false);
    // The end of the output, with the exit status still on its way: the import must not wait for it.
    dump.endOutput();
    await tick();
    expect(importer.inputEnded).toBe(true);
    dump.finish({ code: 0 });
    importer.finish({ code: 0 });
    expect(await result).toBeNull();
    expect(Buffer.concat(dump.input).toString()).toBe('pw\n');
    expect(Buffer.concat(importer.input).toString()).toBe('CREATE TABLE a;\nINSERT INTO a VALUES (1);\n');
    expect(logger.lines.join('\n')).toMatch(/\[db1\] full: 42 B streamed from old1/);
    expect(dump.killed || importer.killed).toBe(false);
  });

  it('a dump whose exit status never comes after its output ended (the CI hang) fails within the limit, naming the source, and stops both', async () => {
    const { dump, importer, result } = start();
    await tick();
    dump.out.write('INSERT INTO a VALUES (1);\n');
    dump.endOutput();
    await tick();
    // The import got its end of input and finished; the dump's channel never reports its end.
    importer.finish({ code: 0 });
    const err = await result;
    expect(importer.inputEnded).toBe(true);
    expect(err).toBeInstanceOf(DeployError);
    expect(err!.host).toBe('old1');
    expect(err!.reason).toBe('apply-failed');
    expect(err!.message).toMatch(/^old1: the full step did not end within 0\.1 s after the last byte of the dump \(26 B streamed in [\d.]+ s; the dump on old1 had sent all its output but not ended, the import on db1 had ended\); both were stopped$/);
    expect(err!.hint).toMatch(/SHOW PROCESSLIST/);
    expect(err!.hint).toMatch(/DROP DATABASE/);
    expect(dump.killed).toBe(true);
  });

  it('an import that does not end after its input ended fails within the limit, naming the writer, and is stopped', async () => {
    const { dump, importer, result } = start();
    await tick();
    dump.out.write('INSERT INTO a VALUES (1);\n');
    dump.finish({ code: 0 });
    const err = await result;
    expect(err!.host).toBe('db1');
    expect(err!.message).toMatch(/the import on db1 was still running\); both were stopped$/);
    expect(importer.killed).toBe(true);
    expect(dump.killed).toBe(false);
  });

  it('a dump that sends nothing more is a stall on the source: named with the bytes so far, both stopped', async () => {
    const { dump, importer, result } = start();
    await tick();
    dump.out.write('-- MariaDB dump\n');
    const err = await result;
    expect(err!.host).toBe('old1');
    expect(err!.message).toMatch(/^old1: the dump \(full\) sent nothing for 0\.1 s \(16 B streamed in [\d.]+ s; the dump on old1 was still sending, the import on db1 was still running\); both were stopped$/);
    expect(err!.hint).toMatch(/Look at old1: SHOW PROCESSLIST/);
    expect(dump.killed).toBe(true);
    expect(importer.killed).toBe(true);
  });

  it('an import that stops reading is a stall on the writer, not on the source', async () => {
    // A writer that takes nothing: the runner's buffer fills and the dump is held back.
    const stuck = new Writable({ highWaterMark: 8, write: () => undefined });
    const { dump, importer, result } = start({ importerStdin: stuck });
    await tick();
    dump.out.write('INSERT INTO a VALUES (1), (2), (3);\n');
    const err = await result;
    expect(err!.host).toBe('db1');
    expect(err!.message).toMatch(/^db1: the import stopped taking the full dump: nothing moved for 0\.1 s/);
    expect(err!.hint).toMatch(/Look at db1/);
    expect(dump.killed && importer.killed).toBe(true);
  });

  it('the whole step is bounded even while bytes keep moving', async () => {
    const { dump, importer, result } = start({ limits: { stallMs: 1_000, finishMs: 1_000, totalMs: 80 } });
    await tick();
    const feed = setInterval(() => dump.out.write('INSERT INTO a VALUES (1);\n'), 5);
    const err = await result;
    clearInterval(feed);
    expect(err!.host).toBe('old1');
    expect(err!.message).toMatch(/^old1: the full step did not finish within 0\.1 s \(\d+(\.\d)? (B|KiB) streamed/);
    expect(dump.killed && importer.killed).toBe(true);
  });

  it('a dump that fails part-way is reported as the cause, after the import read the end of what it got', async () => {
    const { dump, importer, result } = start();
    await tick();
    dump.out.write('INSERT INTO a VALUES (1);\n');
    dump.finish({ code: 2, stderr: 'mariadb-dump: Error 2013: Lost connection to server during query\n' });
    await tick();
    expect(importer.inputEnded).toBe(true);
    importer.finish({ code: 1, stderr: 'ERROR 1064 (42000) at line 2: You have an error in your SQL syntax\n' });
    const err = await result;
    expect(err).toBeInstanceOf(DeployError);
    expect(err!.host).toBe('old1');
    expect(err!.reason).toBe('apply-failed');
    expect(err!.message).toMatch(/^old1: the dump \(full\) failed with exit 2: mariadb-dump: Error 2013/);
    expect(err!.hint).toMatch(/DROP DATABASE/);
  });

  it('an importer that fails stops the dump, which would otherwise wait on flow control forever, and the writer is named', async () => {
    const { dump, importer, result } = start();
    await tick();
    dump.out.write('INSERT INTO missing VALUES (1);\n');
    importer.finish({ code: 1, stderr: "ERROR 1146 (42S02) at line 1: Table 'moodle.missing' doesn't exist\n" });
    const err = await result;
    expect(dump.killed).toBe(true);
    expect(err!.host).toBe('db1');
    expect(err!.message).toMatch(/^db1: loading the dump \(full\) failed with exit 1: ERROR 1146 .* \(32 B streamed in [\d.]+ s; the dump on old1 was still sending, the import on db1 had ended\)$/);
  });

  it('an import that fails after a complete dump is named with its error', async () => {
    const { dump, importer, result } = start();
    await tick();
    dump.out.write('INSERT INTO a VALUES (1);\n');
    dump.finish({ code: 0 });
    await tick();
    importer.finish({ code: 1, stderr: 'ERROR 1213 (40001) at line 9: Deadlock found\n' });
    const err = await result;
    expect(err!.host).toBe('db1');
    expect(err!.message).toBe('db1: loading the dump (full) failed with exit 1: ERROR 1213 (40001) at line 9: Deadlock found');
    expect(dump.killed || importer.killed).toBe(false);
  });

  it('a missing source password starts nothing', async () => {
    const { result, spawned } = start({ setting: { ...setting, password: undefined } });
    const err = await result;
    expect(err!.reason).toBe('missing-secret');
    expect(spawned).toEqual([]);
  });
});
