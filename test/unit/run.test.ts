import { afterEach, describe, expect, it, vi } from 'vitest';
import ssh2 from 'ssh2';
import { Redactor } from '../../src/engine/redact.js';
import { MemoryLogger } from '../support/memory-logger.js';
import { COMMANDS } from '../../src/commands/registry.js';
import { parseRequest } from '../../src/request.js';
import { executeRun } from '../../src/run.js';
import { HostPool } from '../../src/ssh/pool.js';

// The invariant "nothing at all before the inventory, the inputs and host keys
// have all been validated": each bad input below must end the run before a
// single connection is attempted.

const GOOD_INVENTORY = `version: 1
environments:
  prod:
    hosts:
      - { name: db1, address: 192.0.2.11, roles: [db] }
      - { name: db2, address: 192.0.2.12, roles: [db] }
      - { name: db3, address: 192.0.2.13, roles: [db] }
    app:
      users:
        - { name: app, password: { env: APP_DB_PASSWORD }, databases: [app] }
      databases:
        - { name: app }
    database:
      cluster_name: prod
`;

/** A throwaway key generated for the test: the run reads it before anything else. */
const FAKE_PRIVATE_KEY = ssh2.utils.generateKeyPairSync('ed25519').private;

const KNOWN_HOSTS = ['192.0.2.11', '192.0.2.12', '192.0.2.13']
  .map((a) => `${a} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl`)
  .join('\n');

function rawRequest(overrides: { env?: Record<string, string>; knownHosts?: string } = {}) {
  return {
    command: 'preflight',
    mode: 'plan',
    inventoryPath: 'ha.yml',
    environment: 'prod',
    privateKey: Buffer.from(FAKE_PRIVATE_KEY),
    knownHosts: overrides.knownHosts ?? KNOWN_HOSTS,
    insecureSkipHostKeyCheck: false,
    parallelism: '4',
    breakLock: false,
    options: '',
    runId: 'test',
    repository: 'test/test',
    env: overrides.env ?? { APP_DB_PASSWORD: 'canary-secret-1' },
    fieldName: (f: string) => f,
  };
}

function request(overrides: { env?: Record<string, string>; knownHosts?: string } = {}) {
  return parseRequest(rawRequest(overrides), COMMANDS);
}

async function run(inventory: string, overrides: Parameters<typeof request>[0] = {}) {
  const connect = vi.spyOn(HostPool.prototype, 'get');
  const forEach = vi.spyOn(HostPool.prototype, 'forEachHost');
  const redactor = new Redactor();
  const report = await executeRun(request(overrides), {
    logger: new MemoryLogger(),
    redactor,
    registerSecret: (v) => redactor.add(v),
    readFile: () => inventory,
  });
  return { report, connections: connect.mock.calls.length + forEach.mock.calls.length };
}

afterEach(() => vi.restoreAllMocks());

describe('executeRun refuses before any connection', () => {
  it('on an invalid inventory, with file:line:col problems', async () => {
    const { report, connections } = await run(GOOD_INVENTORY.replace('address: 192.0.2.12', 'adress: 192.0.2.12'));
    expect(report.error?.reason).toBe('invalid-inventory');
    expect(report.error?.problems[0]).toMatchObject({ file: 'ha.yml', line: 6 });
    expect(connections).toBe(0);
  });

  it('on an environment that does not exist', async () => {
    const { report, connections } = await run(GOOD_INVENTORY.replace('  prod:', '  production:'));
    expect(report.error?.reason).toBe('invalid-inventory');
    expect(report.error?.problems.map((p) => p.message).join('\n')).toContain('"prod"');
    expect(connections).toBe(0);
  });

  it('on a missing secret, naming the variable and never a value', async () => {
    const { report, connections } = await run(GOOD_INVENTORY, { env: {} });
    expect(report.error?.reason).toBe('missing-secret');
    expect(report.error?.message).toContain('APP_DB_PASSWORD');
    expect(connections).toBe(0);
  });

  it('on a host with no pinned key, naming every such host and how to pin it', async () => {
    const { report, connections } = await run(GOOD_INVENTORY, {
      knownHosts: KNOWN_HOSTS.split('\n').slice(0, 1).join('\n'),
    });
    expect(report.error?.reason).toBe('host-key-unknown');
    expect(report.error?.message).toContain('db2 (192.0.2.12)');
    expect(report.error?.message).toContain('db3 (192.0.2.13)');
    expect(report.error?.hint).toContain('ssh-keyscan 192.0.2.12');
    expect(connections).toBe(0);
  });

  it('on the plan account with mode apply, or with an inventory that names no plan account', async () => {
    expect(() => parseRequest({ ...rawRequest(), mode: 'apply', sshAccount: 'plan' }, COMMANDS)).toThrow(/ssh-account plan can only plan/);
    expect(() => parseRequest({ ...rawRequest(), sshAccount: 'root' }, COMMANDS)).toThrow(/ssh-account "root" must be apply or plan/);
    const connect = vi.spyOn(HostPool.prototype, 'get');
    const redactor = new Redactor();
    const report = await executeRun({ ...request(), sshAccount: 'plan' }, { logger: new MemoryLogger(), redactor, registerSecret: (v) => redactor.add(v), readFile: () => GOOD_INVENTORY });
    expect(report.error?.reason).toBe('invalid-input');
    expect(report.error?.message).toContain('has no provision.plan_account; nothing was contacted');
    expect(connect).not.toHaveBeenCalled();
  });

  it('on a command whose roles no host has', async () => {
    const noDb = GOOD_INVENTORY.replace(/roles: \[db\]/g, 'roles: [web]').replace(/    database:\n      cluster_name: prod\n/, '').replace(/    app:[\s\S]*$/, '');
    const req = request();
    const connect = vi.spyOn(HostPool.prototype, 'get');
    const redactor = new Redactor();
    const report = await executeRun({ ...req, command: 'deploy-db' }, {
      logger: new MemoryLogger(),
      redactor,
      registerSecret: (v) => redactor.add(v),
      readFile: () => noDb,
    });
    expect(report.error?.reason).toBe('invalid-inventory');
    expect(report.error?.problems.map((p) => p.message).join('\n')).toMatch(/deploy-db/);
    expect(connect).not.toHaveBeenCalled();
  });
});
