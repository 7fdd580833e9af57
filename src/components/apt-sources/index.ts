/**
 * Where a host gets packages from, rendered for apt: a mirror (deb822
 * sources file), or `push` — .deb files copied from the runner into a local
 * repository on the host, indexed there with dpkg-deb (always installed,
 * unlike dpkg-scanpackages or apt-ftparchive) and served as `file:`. Whatever
 * the mode, deploy-db / deploy-lb / migrate-storage install with plain
 * `apt-get install` from it, unchanged.
 *
 * Pure: no host access.
 */

export const LMS_HA_SOURCES_PATH = '/etc/apt/sources.list.d/lms-ha.sources';
export const PUSH_REPOSITORY_DIR = '/var/lib/lms-ha/apt';
/** The pushed packages by digest: what the plan shows and compares. */
export const PUSH_MANIFEST_PATH = `${PUSH_REPOSITORY_DIR}/Manifest`;

/** A .deb file name that is safe unquoted in the repository and in an index line. */
export const DEB_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+%~:-]*\.deb$/;

export interface PushedPackage {
  file: string;
  sha256: string;
}

/** One line per package, `sha256  file`, sorted by file (as sha256sum prints it). */
export function renderManifest(packages: readonly PushedPackage[]): string {
  return [...packages]
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((p) => `${p.sha256}  ${p.file}\n`)
    .join('');
}

export function parseManifest(text: string | null | undefined): PushedPackage[] {
  const out: PushedPackage[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line.trim());
    if (m && DEB_FILE_NAME.test(m[2]!)) out.push({ sha256: m[1]!, file: m[2]! });
  }
  return out;
}

/** What to copy and what to remove to go from `have` to `want`. */
export function manifestDelta(have: readonly PushedPackage[], want: readonly PushedPackage[]): { copy: PushedPackage[]; remove: string[] } {
  const haveKey = new Set(have.map((p) => `${p.file} ${p.sha256}`));
  const wantFiles = new Set(want.map((p) => p.file));
  return {
    copy: want.filter((p) => !haveKey.has(`${p.file} ${p.sha256}`)),
    remove: have.filter((p) => !wantFiles.has(p.file)).map((p) => p.file),
  };
}

/** The deb822 source of the pushed repository: trusted, because every file's digest was reviewed in the plan and came over the pinned SSH connection. */
export function renderPushSources(): string {
  return `# Rendered by lms-ha (provision, packages pushed from the runner); local edits are overwritten.
# Trusted: each package's SHA-256 is in the reviewed plan (${PUSH_MANIFEST_PATH}).
Types: deb
URIs: file:${PUSH_REPOSITORY_DIR}
Suites: ./
Trusted: yes
`;
}

/** The distribution's archive keyring, so a mirror is verified exactly like the official archive. */
export function archiveKeyring(osId: string): string {
  return osId === 'ubuntu' ? '/usr/share/keyrings/ubuntu-archive-keyring.gpg' : '/usr/share/keyrings/debian-archive-keyring.gpg';
}

export function renderMirrorSources(url: string, osId: string, codename: string): string {
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw new Error(`mirror URL ${JSON.stringify(url)} is not an http(s) URL`);
  if (!/^[a-z]+$/.test(codename)) throw new Error(`release codename ${JSON.stringify(codename)} is not a plain word`);
  const components = osId === 'ubuntu' ? 'main universe' : 'main';
  return `# Rendered by lms-ha (provision, packages from a mirror); local edits are overwritten.
Types: deb
URIs: ${url}
Suites: ${codename} ${codename}-updates
Components: ${components}
Signed-By: ${archiveKeyring(osId)}
`;
}

/**
 * Shell that rebuilds the repository's Packages index from the .deb files in
 * it: the control fields (dpkg-deb -f), then the fields apt needs to fetch and
 * verify the file, as dpkg-scanpackages writes them.
 */
export function packagesIndexScript(): string {
  return [
    'set -e',
    `cd ${PUSH_REPOSITORY_DIR}`,
    'tmp=$(mktemp Packages.XXXXXX)',
    'for f in *.deb; do [ -e "$f" ] || continue; dpkg-deb -f "$f"; printf "Filename: ./%s\\nSize: %s\\nSHA256: %s\\n\\n" "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d" " -f1)"; done > "$tmp"',
    'chmod 0644 "$tmp"',
    'mv -f "$tmp" Packages',
  ].join('\n');
}
