/**
 * Reading a file an operator named (inventory, private key, known_hosts) with
 * a ceiling: `-i /dev/zero` or a multi-gigabyte file must end in a clear
 * message, not in a hang or an out-of-memory crash. Never echoes content.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DeployError } from './errors.js';

export const MAX_INVENTORY_BYTES = 1024 * 1024;
export const MAX_KNOWN_HOSTS_BYTES = 1024 * 1024;
export const MAX_PRIVATE_KEY_BYTES = 64 * 1024;

/** How a path is named in messages: as given when it is plainly a path, else not at all (it may be a pasted secret). */
export function describePath(path: string): string {
  return /^[\x20-\x7e]{1,200}$/.test(path) && !/-----BEGIN|PRIVATE KEY/.test(path) ? path : '(the value given, not shown)';
}

/**
 * The file's bytes, at most `maxBytes`. Reads one byte more than the limit so
 * an endless device (/dev/zero, /dev/urandom) or a huge file is refused after
 * a bounded read.
 */
export function readBoundedFile(path: string, maxBytes: number, what: string, hint: string): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    const buffer = Buffer.alloc(maxBytes + 1);
    let total = 0;
    while (total < buffer.length) {
      const read = readSync(fd, buffer, total, buffer.length - total, null);
      if (read === 0) break;
      total += read;
    }
    if (total > maxBytes) {
      throw new DeployError('invalid-input', `${what} ${describePath(path)} is larger than ${maxBytes} bytes (or endless); refusing to read it`, { hint });
    }
    return buffer.subarray(0, total);
  } catch (error) {
    if (error instanceof DeployError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a file' : code === 'EACCES' ? 'permission denied' : code;
    throw new DeployError('invalid-input', `${what} ${describePath(path)}: ${why}`, { hint });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
