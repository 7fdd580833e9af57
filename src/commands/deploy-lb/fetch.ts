import { randomBytes } from 'node:crypto';
import * as tc from '@actions/tool-cache';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeployError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { sha256 } from '../../operations/file.js';

/** Downloads (or takes from the runner's tool cache) the pinned ProxySQL .deb and checks its sha256. */
export type PackageFetcher = (pkg: { url: string; sha256: string }, logger: Logger) => Promise<Buffer>;

export const fetchPinnedPackage: PackageFetcher = async (pkg, logger) => {
  const want = pkg.sha256.toLowerCase();
  const version = `0.0.0-sha${want.slice(0, 16)}`;
  const cacheable = !!process.env['RUNNER_TOOL_CACHE'];
  if (cacheable) {
    const dir = tc.find('lms-ha-proxysql-deb', version);
    if (dir) {
      const bytes = await readFile(join(dir, 'proxysql.deb'));
      if (sha256(bytes) === want) {
        logger.info(`ProxySQL package from the runner's tool cache (sha256 ${want.slice(0, 12)})`);
        return bytes;
      }
    }
  }
  logger.info(`downloading ${pkg.url}`);
  const path = await tc.downloadTool(pkg.url, join(process.env['RUNNER_TEMP'] || tmpdir(), `lms-ha-proxysql-${randomBytes(8).toString('hex')}.deb`));
  const bytes = await readFile(path);
  const got = sha256(bytes);
  if (got !== want) {
    await rm(path, { force: true });
    throw new DeployError('invalid-input', `the ProxySQL package from ${pkg.url} has sha256 ${got}, not the pinned ${want}`, {
      hint: 'The file changed upstream or the download was tampered with. Check the vendor checksum and update load_balancer.proxysql.package.sha256 only if it is genuine.',
    });
  }
  if (cacheable) await tc.cacheFile(path, 'proxysql.deb', 'lms-ha-proxysql-deb', version);
  await rm(path, { force: true });
  return bytes;
};
