import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchPinnedPackage } from '../../../src/commands/deploy-lb/fetch.js';
import { MemoryLogger } from '../../support/memory-logger.js';

const BODY = Buffer.from('!<arch>\nfake proxysql package\n');
const SHA = createHash('sha256').update(BODY).digest('hex');
let server: Server;
let base: string;
let requests = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/vnd.debian.binary-package' });
    res.end(req.url === '/tampered.deb' ? Buffer.from('something else') : BODY);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => server.close());

describe('the pinned ProxySQL package on the runner', () => {
  it('downloads it, checks the sha256 and keeps it in the tool cache', async () => {
    const saved = { cache: process.env.RUNNER_TOOL_CACHE, temp: process.env.RUNNER_TEMP };
    process.env.RUNNER_TOOL_CACHE = mkdtempSync(join(tmpdir(), 'lms-ha-tc-'));
    process.env.RUNNER_TEMP = mkdtempSync(join(tmpdir(), 'lms-ha-tmp-'));
    try {
      const logger = new MemoryLogger();
      requests = 0;
      expect((await fetchPinnedPackage({ url: `${base}/proxysql.deb`, sha256: SHA }, logger)).equals(BODY)).toBe(true);
      expect((await fetchPinnedPackage({ url: `${base}/proxysql.deb`, sha256: SHA.toUpperCase() }, logger)).equals(BODY)).toBe(true);
      expect(requests).toBe(1);
      expect(logger.lines.some((l) => l.includes("tool cache"))).toBe(true);
    } finally {
      if (saved.cache === undefined) delete process.env.RUNNER_TOOL_CACHE;
      else process.env.RUNNER_TOOL_CACHE = saved.cache;
      if (saved.temp === undefined) delete process.env.RUNNER_TEMP;
      else process.env.RUNNER_TEMP = saved.temp;
    }
  });

  it('refuses a file whose sha256 is not the pinned one', async () => {
    await expect(fetchPinnedPackage({ url: `${base}/tampered.deb`, sha256: SHA }, new MemoryLogger())).rejects.toMatchObject({ reason: 'invalid-input' });
  });
});
