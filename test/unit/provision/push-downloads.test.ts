import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPushPackages } from '../../../src/commands/provision/packages.js';
import { MemoryLogger } from '../../support/memory-logger.js';

// push mode's pinned downloads, fetched with @actions/tool-cache from a loopback HTTP server.
const DEB = Buffer.from('!<arch>\nfake deb for the test\n');
const DIGEST = createHash('sha256').update(DEB).digest('hex');
let server: Server;
let base: string;
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/pool/mariadb-server_10.11.6_amd64.deb') res.end(DEB);
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** A workspace with debs/ holding one package and a file that is not one. */
function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'push-'));
  mkdirSync(join(dir, 'debs'));
  writeFileSync(join(dir, 'debs', 'galera-4_26.4.16_amd64.deb'), 'galera bytes');
  writeFileSync(join(dir, 'debs', 'README'), '');
  return dir;
}

describe('provision push: pinned downloads', () => {
  it('pushes the directory and the verified download, their bytes as reviewed; the tool cache serves the second run', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'toolcache-'));
    process.env['RUNNER_TOOL_CACHE'] = cache;
    process.env['RUNNER_TEMP'] = mkdtempSync(join(tmpdir(), 'runnertemp-'));
    try {
      const dir = workspace();
      const settings = { source: 'push' as const, directory: 'debs', downloads: [{ url: `${base}/pool/mariadb-server_10.11.6_amd64.deb`, sha256: DIGEST.toUpperCase() }] };
      const before = hits;
      const push = await collectPushPackages(settings, new MemoryLogger(), dir);
      expect(push.packages.map((p) => p.file)).toEqual(['galera-4_26.4.16_amd64.deb', 'mariadb-server_10.11.6_amd64.deb']);
      expect(push.packages[1]!.sha256).toBe(DIGEST);
      expect(push.contentOf('mariadb-server_10.11.6_amd64.deb').equals(DEB)).toBe(true);
      expect(push.contentOf('galera-4_26.4.16_amd64.deb').toString()).toBe('galera bytes');
      expect(hits - before).toBe(1);
      await collectPushPackages(settings, new MemoryLogger(), dir);
      expect(hits - before).toBe(1);
    } finally {
      delete process.env['RUNNER_TOOL_CACHE'];
      delete process.env['RUNNER_TEMP'];
    }
  });

  it('refuses a download whose digest is not the pinned one, naming both', async () => {
    const wrong = '0'.repeat(64);
    const settings = { source: 'push' as const, downloads: [{ url: `${base}/pool/mariadb-server_10.11.6_amd64.deb`, sha256: wrong }] };
    await expect(collectPushPackages(settings, new MemoryLogger(), workspace())).rejects.toThrow(
      `the package mariadb-server_10.11.6_amd64.deb from ${base}/pool/mariadb-server_10.11.6_amd64.deb has sha256 ${DIGEST}, not the pinned ${wrong}`,
    );
  });

  it('refuses a file given twice, and a URL that is not a .deb', async () => {
    const dup = { url: `${base}/pool/mariadb-server_10.11.6_amd64.deb`, sha256: DIGEST };
    await expect(collectPushPackages({ source: 'push', downloads: [dup, dup] }, new MemoryLogger(), workspace())).rejects.toThrow('mariadb-server_10.11.6_amd64.deb is given twice');
    await expect(collectPushPackages({ source: 'push', downloads: [{ url: `${base}/pool/`, sha256: DIGEST }] }, new MemoryLogger(), workspace())).rejects.toThrow('does not name a .deb file');
  });
});
