/**
 * A network namespace with only loopback up, for running the built bundle as
 * a hostile user would. Every inventory host of a case lives at an address of
 * 10.255.0.0/16 on that loopback, where a listener records any connection; any
 * other address has no route, so an attempt there fails at once. Either way a
 * connection attempt is visible: recorded, or reported as ssh-failed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NoRouteNamespace {
  name: string;
  /** Connections the listener saw, as local addresses (`10.255.X.Y:port`). */
  connections(): string[];
  /** argv that runs a command inside the namespace. */
  wrap(argv: string[]): string[];
  close(): Promise<void>;
}

const LISTENER = `
const net = require('node:net');
const fs = require('node:fs');
const log = process.argv[1];
for (const port of [22, 2222]) {
  net.createServer((socket) => {
    fs.appendFileSync(log, socket.localAddress + ':' + socket.localPort + '\\n');
    socket.destroy();
  }).listen(port, '0.0.0.0');
}
process.stdout.write('ready\\n');
setInterval(() => {}, 1 << 30);
`;

function ip(args: string[]): { ok: boolean; stderr: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, stderr: `${r.stderr ?? ''}${r.error?.message ?? ''}` };
}

/** Creates the namespace, or says why it cannot (then the suite is skipped, visibly). */
export async function openNoRouteNamespace(): Promise<NoRouteNamespace | string> {
  // Not "lab-": the lab owns those names and deletes them on `lab.sh up`.
  const name = `lmsha-noroute-${process.pid}`;
  const added = ip(['netns', 'add', name]);
  if (!added.ok) return `cannot create a network namespace (${added.stderr.trim() || 'ip netns add failed'}); run as root`;
  const steps = [
    ['-n', name, 'link', 'set', 'lo', 'up'],
    ['-n', name, 'addr', 'add', '10.255.0.0/16', 'dev', 'lo'],
  ];
  for (const step of steps) {
    const r = ip(step);
    if (!r.ok) {
      ip(['netns', 'delete', name]);
      return `cannot set up the namespace: ${r.stderr.trim()}`;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'lmsha-noroute-'));
  const log = join(dir, 'connections.log');
  writeFileSync(log, '');
  const listener: ChildProcess = spawn('ip', ['netns', 'exec', name, process.execPath, '-e', LISTENER, log], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    listener.stdout!.once('data', () => resolve());
    listener.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
  });
  return {
    name,
    connections: () => readFileSync(log, 'utf8').split('\n').filter((line) => line !== ''),
    wrap: (argv) => ['ip', 'netns', 'exec', name, ...argv],
    close: async () => {
      listener.kill('SIGKILL');
      await new Promise((resolve) => listener.once('exit', resolve));
      ip(['netns', 'delete', name]);
    },
  };
}
