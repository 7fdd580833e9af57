/** What migrate-storage reads on the host that copies files to S3: whether rclone is installed and on PATH. */
import { packagesSnippet, parsePackages } from './packages.js';
import { splitSections } from './sections.js';

export const RCLONE_PACKAGE = 'rclone';

export const RCLONE_FACTS_SCRIPT = `echo "@@packages"; ${packagesSnippet([RCLONE_PACKAGE])}; echo "@@binary"; command -v rclone || true`;

/** The installed rclone package's version when its binary is on PATH too, else null. */
export function parseRcloneFacts(stdout: string): string | null {
  const sections = splitSections(stdout);
  const version = parsePackages(sections.get('packages'))[RCLONE_PACKAGE];
  return version !== undefined && (sections.get('binary') ?? '').trim() !== '' ? version : null;
}
