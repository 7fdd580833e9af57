import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runStep, type DatabaseMigrationSetting } from '../../../src/commands/migrate-storage-database.js';
import type { DumpStep } from '../../../src/components/migrate/database.js';
import { DeployError } from '../../../src/errors.js';
import type { Host } from '../../../src/inventory/index.js';
import { MemoryLogger } from '../../../src/report/log.js';
import type { RemoteHost, RemoteProcess, RunResult } from '../../../src/ssh/types.js';

// How a dump step wires the two remote processes together: what reaches the
// importer, when it gets its end of input, and who is stopped when one side
// fails. The processes are in-memory stand-ins; the real transport is
// exercised by test/e2e/migrate-database.test.ts.

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

interface FakeProcess extends RemoteProcess {
  input: Buffer[];
  inputEnded: boolean;
  killed: boolean;
  finish(result: Partial<RunResult>): void;
  /** The stdout side, for the test to write into. */
  out: PassThrough;
}

function fakeProcess(): FakeProcess {
  const stdin = new PassThrough();
  const out = new PassThrough();
  let finish!: (r: RunResult) => void;
  const done = new Promise<RunResult>((resolve) => (finish = resolve));
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
      out.end();
      finish({ code: 137, stdout: '', stderr: 'killed' });
    },
    finish: (r) => {
      out.end();
      // The real transport settles `done` only after stdout has been read to its end.
      out.once('end', () => finish({ code: 0, stdout: '', stderr: '', ...r }));
      out.resume();
    },
  };
  stdin.on('data', (d: Buffer) => p.input.push(d));
  stdin.on('end', () => (p.inputEnded = true));
  return p;
}

function fakeHost(name: string, proc: FakeProcess): RemoteHost {
  return {
    name,
    address: '10.0.0.1',
    run: async () => ({ code: 0, stdout: '', stderr: '' }),
    spawn: async () => proc,
    readFile: async () => null,
    writeFile: async () => undefined,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

function start() {
  const dump = fakeProcess();
  const importer = fakeProcess();
  const hosts = new Map([
    ['old1', fakeHost('old1', dump)],
    ['db1', fakeHost('db1', importer)],
  ]);
  const logger = new MemoryLogger();
  const result = runStep(setting, step, hosts, logger).then(
    () => null,
    (e: unknown) => e as DeployError,
  );
  return { dump, importer, result, logger };
}

describe('streaming a dump step', () => {
  it('sends the password to the dump only, pipes every byte to the importer, and ends its input after a clean dump', async () => {
    const { dump, importer, result, logger } = start();
    await tick();
    dump.out.write('CREATE TABLE a;\n');
    dump.out.write('INSERT INTO a VALUES (1);\n');
    await tick();
    expect(importer.inputEnded).toBe(false);
    dump.finish({ code: 0 });
    await tick();
    expect(importer.inputEnded).toBe(true);
    importer.finish({ code: 0 });
    expect(await result).toBeNull();
    expect(Buffer.concat(dump.input).toString()).toBe('pw\n');
    expect(Buffer.concat(importer.input).toString()).toBe('CREATE TABLE a;\nINSERT INTO a VALUES (1);\n');
    expect(logger.lines.join('\n')).toMatch(/\[db1\] full: 42 B streamed from old1/);
  });

  it('a dump that breaks off never gives the importer its end of input: the importer is stopped and the source named', async () => {
    const { dump, importer, result } = start();
    await tick();
    dump.out.write('INSERT INTO a VALUES (1);\n');
    dump.finish({ code: 2, stderr: 'mariadb-dump: Error 2013: Lost connection to server during query\n' });
    const err = await result;
    expect(importer.killed).toBe(true);
    expect(importer.inputEnded).toBe(false);
    expect(err).toBeInstanceOf(DeployError);
    expect(err!.host).toBe('old1');
    expect(err!.reason).toBe('apply-failed');
    expect(err!.message).toMatch(/the dump \(full\) failed with exit 2: mariadb-dump: Error 2013/);
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
    expect(err!.message).toMatch(/loading the dump \(full\) failed with exit 1: ERROR 1146/);
  });
});
