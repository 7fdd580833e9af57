import { describe, expect, it } from 'vitest';
import { serviceReadyProbe, serviceReadyReason, startService, waitForService } from '../../../src/operations/service.js';
import type { RemoteHost, RunOptions, RunResult } from '../../../src/ssh/types.js';
import { MemoryLogger } from '../../../src/report/log.js';

/** A host whose unit state and listener the test sets; it records every command. */
function fakeHost(answer: (command: string) => RunResult): RemoteHost & { sent: string[] } {
  const sent: string[] = [];
  return {
    name: 'lb1',
    address: '10.0.0.21',
    sent,
    async run(command: string, _options: RunOptions) {
      sent.push(command);
      return answer(command);
    },
    async readFile() {
      return null;
    },
    async writeFile() {},
  };
}

const ok = (stdout: string): RunResult => ({ code: 0, stdout, stderr: '' });
const LISTEN = 'LISTEN 0      128        127.0.0.1:6032       0.0.0.0:*';

describe('serviceReadyProbe / serviceReadyReason', () => {
  it.each([
    [{ unit: 'proxysql', port: 6032 }, `systemctl is-active proxysql || true; ss -Hltn 'sport = :6032'`],
    [{ unit: 'keepalived' }, 'systemctl is-active keepalived || true'],
    [{ unit: 'weird unit;rm -rf /', port: 1 }, `systemctl is-active 'weird unit;rm -rf /' || true; ss -Hltn 'sport = :1'`],
  ])('%o → %s', (ready, command) => {
    expect(serviceReadyProbe(ready)).toBe(command);
  });

  it.each([
    [{ unit: 'proxysql', port: 6032 }, `active\n${LISTEN}\n`, null],
    [{ unit: 'proxysql', port: 6032 }, 'active\n', 'nothing listens on port 6032 yet'],
    [{ unit: 'proxysql', port: 6032 }, 'activating\n', 'proxysql is activating'],
    [{ unit: 'proxysql', port: 6032 }, 'failed\n', 'proxysql is failed'],
    [{ unit: 'keepalived' }, 'active\n', null],
    [{ unit: 'keepalived' }, '', 'keepalived is in an unknown state'],
  ])('%o with %j → %s', (ready, stdout, reason) => {
    expect(serviceReadyReason(ready, stdout)).toBe(reason);
  });
});

describe('startService', () => {
  it('returns only once the port listens, after the start returned', async () => {
    let listeningAfter = Infinity;
    const host = fakeHost((c) => {
      if (c === 'systemctl start proxysql') {
        listeningAfter = Date.now() + 600;
        return ok('');
      }
      return ok(`active\n${Date.now() >= listeningAfter ? LISTEN : ''}\n`);
    });
    const logger = new MemoryLogger();
    await startService(host, 'systemctl start proxysql', { unit: 'proxysql', port: 6032 }, { purpose: 'start proxysql', timeoutMs: 10_000, logger });
    expect(Date.now()).toBeGreaterThanOrEqual(listeningAfter);
    expect(host.sent[0]).toBe('systemctl start proxysql');
    expect(host.sent.length).toBeGreaterThan(2);
    expect(logger.lines.join('\n')).toContain('waiting for proxysql on lb1 (10.0.0.21) port 6032: nothing listens on port 6032 yet');
  });

  it('times out with a message naming the host and the port', async () => {
    const host = fakeHost(() => ok('active\n'));
    await expect(waitForService(host, { unit: 'proxysql', port: 6032, timeoutMs: 300 })).rejects.toMatchObject({
      reason: 'apply-failed',
      host: 'lb1',
      message: 'proxysql on lb1 (10.0.0.21) port 6032 was not ready 0.3 s after it was started: nothing listens on port 6032 yet',
    });
  });

  it('stops at once when the unit failed, pointing at its journal', async () => {
    const host = fakeHost(() => ok('failed\n'));
    const err = await waitForService(host, { unit: 'glusterd', port: 24007, timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'apply-failed', message: 'glusterd failed to start on lb1' });
    expect((err as { hint: string }).hint).toContain('journalctl -u glusterd');
    expect(host.sent).toHaveLength(1);
  });
});
