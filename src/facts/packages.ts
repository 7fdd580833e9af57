/** Installed Debian packages: the one dpkg-query lms-ha asks. */
import { shellJoin } from '../ssh/quote.js';

/** Prints `name<TAB>version<TAB>status` for each of `packages` dpkg knows; nothing for the others. */
export function packagesSnippet(packages: readonly string[]): string {
  return `dpkg-query -W -f='\${Package}\\t\${Version}\\t\${Status}\\n' ${shellJoin(packages)} 2>/dev/null || true`;
}

/** Package → installed version, for fully installed packages only (not config-files, not half-installed). */
export function parsePackages(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (text ?? '').split('\n')) {
    const [name, version, status] = line.split('\t');
    if (name && version && status?.includes('ok installed')) out[name] = version;
  }
  return out;
}
