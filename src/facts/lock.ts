/** Where the environment lock lives on a host (written by the engine's lock, read as a fact in plan mode). */
import { createHash } from 'node:crypto';

export const LOCK_DIR = '/var/lock/lms-ha';

/** `<environment>.lock`, with the name made safe for a path. */
export function lockFileName(environment: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(environment)) return `${environment}.lock`;
  // Still one file per environment: the hash keeps two names that sanitize the
  // same (`a/b`, `a_b`) apart.
  const digest = createHash('sha256').update(environment).digest('hex').slice(0, 8);
  return `${environment.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '').slice(0, 80)}-${digest}.lock`;
}
