/**
 * A file fetched on the runner from a pinned URL and refused unless its
 * SHA-256 is the pinned one; kept in the runner's tool cache (when the runner
 * has one) under its digest, so a second run does not download it again.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tc from '@actions/tool-cache';
import { DeployError } from '../errors.js';
import type { Logger } from '../log.js';
import { sha256 } from './file.js';

export interface PinnedFile {
  url: string;
  sha256: string;
  /** Tool-cache name, e.g. lms-ha-deb. */
  tool: string;
  /** File name inside the cache entry. */
  file: string;
  /** What it is, for messages: "the ProxySQL package". */
  what: string;
  /** The inventory key that pins it, for the hint. */
  pinnedBy: string;
}

/** The bytes of `pin`, from the tool cache or downloaded; a digest other than the pinned one is an error naming both. */
export async function fetchPinned(pin: PinnedFile, logger: Logger): Promise<Buffer> {
  const want = pin.sha256.toLowerCase();
  // Tool-cache versions are semver: the digest makes the entry's identity.
  const version = `0.0.0-sha${want.slice(0, 16)}`;
  const cacheable = !!process.env['RUNNER_TOOL_CACHE'];
  if (cacheable) {
    const dir = tc.find(pin.tool, version);
    if (dir) {
      const bytes = await readFile(join(dir, pin.file));
      if (sha256(bytes) === want) {
        logger.info(`${pin.what} from the runner's tool cache (sha256 ${want.slice(0, 12)})`);
        return bytes;
      }
    }
  }
  logger.info(`downloading ${pin.url}`);
  const path = await tc.downloadTool(pin.url, join(process.env['RUNNER_TEMP'] || tmpdir(), `lms-ha-${randomBytes(8).toString('hex')}-${pin.file}`));
  try {
    const bytes = await readFile(path);
    const got = sha256(bytes);
    if (got !== want) {
      throw new DeployError('invalid-input', `${pin.what} from ${pin.url} has sha256 ${got}, not the pinned ${want}`, {
        hint: `The file changed upstream or the download was tampered with. Check the vendor checksum and update ${pin.pinnedBy} only if it is genuine.`,
      });
    }
    if (cacheable) await tc.cacheFile(path, pin.file, pin.tool, version);
    return bytes;
  } finally {
    await rm(path, { force: true });
  }
}
