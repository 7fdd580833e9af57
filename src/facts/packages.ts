/** Installed Debian packages: the one dpkg-query lms-ha asks. */
import { shellJoin } from '../ssh/quote.js';

const DPKG_QUERY = "dpkg-query -W -f='${Package}\\t${Version}\\t${Status}\\n'";
const DPKG_QUERY_END = '2>/dev/null || true';

/** Prints `name<TAB>version<TAB>status` for each of `packages` dpkg knows; nothing for the others. */
export function packagesSnippet(packages: readonly string[]): string {
  return `${DPKG_QUERY} ${shellJoin(packages)} ${DPKG_QUERY_END}`;
}

/** The same query for the plan gatherer, its package names given as "$@". */
export const PACKAGES_GATHERER_BODY = `${DPKG_QUERY} "$@" ${DPKG_QUERY_END}`;

/** The package names of a script packagesSnippet wrote, or undefined when it is not one (names of plain characters only). */
export function packagesOfSnippet(script: string): string[] | undefined {
  if (!script.startsWith(`${DPKG_QUERY} `) || !script.endsWith(` ${DPKG_QUERY_END}`)) return undefined;
  const words = script.slice(DPKG_QUERY.length + 1, script.length - DPKG_QUERY_END.length - 1).split(' ');
  return words.every((w) => /^[a-z0-9][a-z0-9+.-]*$/.test(w)) && words.length > 0 ? words : undefined;
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
