/**
 * Package sources: `distro` leaves the host's own; `mirror` writes one
 * deb822 source; `push` copies .deb files from a directory on the runner, and
 * packages downloaded on the runner from pinned URLs, into a local repository
 * on each host. The set of pushed files (name + SHA-256)
 * is the reviewed manifest: a changed package changes the plan hash.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { DeployError } from '../../errors.js';
import { changeId, type PlannedChange } from '../../engine/change.js';
import { fileChange, sha256 } from '../../operations/file.js';
import { fetchPinned } from '../../operations/pinned-download.js';
import type { Logger } from '../../log.js';
import type { Provision } from '../../inventory/environment.js';
import {
  DEB_FILE_NAME,
  LMS_HA_SOURCES_PATH,
  manifestDelta,
  packagesIndexScript,
  parseManifest,
  PUSH_MANIFEST_PATH,
  PUSH_REPOSITORY_DIR,
  renderManifest,
  renderMirrorSources,
  renderPushSources,
  type PushedPackage,
} from '../../components/apt-sources/index.js';
import type { ProvisionFacts } from './facts.js';

/** Files copied to one host at once: enough to fill the link, under sshd's session limit. */
const COPY_PARALLELISM = 4;

export interface PushDirectory {
  packages: PushedPackage[];
  /** Each package's bytes on the runner: the file in the directory, or the download. */
  contentOf: (file: string) => Buffer;
}

/**
 * Every package to push: the directory's, then the pinned downloads (fetched
 * on the runner, refused unless their SHA-256 is the pinned one). A file
 * name in both is an error: which one is meant?
 */
export async function collectPushPackages(settings: Provision['packages'], logger: Logger, cwd = process.cwd()): Promise<PushDirectory> {
  const dir = settings.directory === undefined ? undefined : readPushDirectory(settings.directory, cwd);
  const downloaded = new Map<string, Buffer>();
  for (const pin of settings.downloads ?? []) {
    const file = decodeURIComponent(new URL(pin.url).pathname.split('/').pop() ?? '');
    if (!DEB_FILE_NAME.test(file)) {
      throw new DeployError('invalid-input', `provision.packages.downloads: ${pin.url} does not name a .deb file`, { hint: 'Give the URL of the .deb itself.' });
    }
    if (downloaded.has(file) || dir?.packages.some((p) => p.file === file)) {
      throw new DeployError('invalid-input', `provision.packages: ${file} is given twice (directory and downloads, or two downloads)`, { hint: 'Keep one of them.' });
    }
    downloaded.set(file, await fetchPinned({ url: pin.url, sha256: pin.sha256, tool: 'lms-ha-deb', file, what: `the package ${file}`, pinnedBy: 'provision.packages.downloads[].sha256' }, logger));
  }
  const packages = [...(dir?.packages ?? []), ...[...downloaded].map(([file, bytes]) => ({ file, sha256: sha256(bytes) }))];
  return { packages, contentOf: (file) => downloaded.get(file) ?? dir!.contentOf(file) };
}

/** Reads the push directory on the runner: every .deb with its SHA-256. Any other file is ignored. */
function readPushDirectory(directory: string, cwd: string): PushDirectory {
  const path = resolve(cwd, directory);
  let names: string[];
  try {
    names = readdirSync(path);
  } catch (error) {
    throw new DeployError('invalid-input', `provision.packages.directory ${directory}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'} (resolved to ${path})`, {
      hint: 'Give a directory of .deb files relative to the workspace (the repository checkout), or run from the directory it is relative to.',
    });
  }
  const packages = names
    .filter((n) => n.endsWith('.deb'))
    .filter((n) => DEB_FILE_NAME.test(n) && statSync(join(path, n)).isFile())
    .map((file) => ({ file, sha256: createHash('sha256').update(readFileSync(join(path, file))).digest('hex') }));
  if (packages.length === 0) {
    throw new DeployError('invalid-input', `provision.packages.directory ${directory} holds no .deb file (resolved to ${path})`, {
      hint: 'Put the packages the hosts need there (for example from `apt-get install --download-only` on a machine with the same release).',
    });
  }
  return { packages, contentOf: (file) => readFileSync(join(path, file)) };
}

const aptUpdate = 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q';

function sourcesChange(host: string, content: string, have: ProvisionFacts['files'][string], why: string): PlannedChange | null {
  const existing = have ? { ...have, sha256: sha256(have.content) } : null;
  return fileChange(host, { path: LMS_HA_SOURCES_PATH, content, mode: 0o644, owner: 'root', group: 'root' }, existing, {
    why,
    apply: async (ctx) => {
      await ctx.host.writeFile(LMS_HA_SOURCES_PATH, content, { mode: 0o644, owner: 'root', group: 'root' });
      await ctx.host.run(aptUpdate, { purpose: 'read the new package sources (apt-get update)', timeoutMs: 10 * 60_000 });
    },
  });
}

function pushChange(host: string, push: PushDirectory, facts: ProvisionFacts): PlannedChange | null {
  const manifest = renderManifest(push.packages);
  const have = facts.files[PUSH_MANIFEST_PATH];
  if (have && have.content === manifest) return null;
  const before = parseManifest(have?.content);
  const { copy, remove } = manifestDelta(before, push.packages);
  return {
    kind: 'file',
    id: changeId('file', host, PUSH_MANIFEST_PATH),
    host,
    summary: `push packages into ${PUSH_REPOSITORY_DIR} (${copy.length} to copy, ${remove.length} to remove, ${push.packages.length} in all)`,
    path: PUSH_MANIFEST_PATH,
    before: have ? { content: have.content, mode: have.mode, owner: have.owner, group: have.group } : null,
    after: { content: manifest, mode: 0o644, owner: 'root', group: 'root' },
    sensitive: false,
    apply: async (ctx) => {
      const h = ctx.host;
      await h.run(`install -d -m 0755 -o root -g root ${PUSH_REPOSITORY_DIR}`, { purpose: `create ${PUSH_REPOSITORY_DIR}` });
      const limit = pLimit(COPY_PARALLELISM);
      await Promise.all(
        copy.map((p) =>
          limit(async () => {
            const bytes = push.contentOf(p.file);
            // The bytes read now must be the ones reviewed.
            if (createHash('sha256').update(bytes).digest('hex') !== p.sha256) {
              throw new DeployError('plan-changed', `${p.file} changed on the runner since the plan was made`, { host: h.name, hint: 'Run plan again and review it.' });
            }
            await h.writeFile(`${PUSH_REPOSITORY_DIR}/${p.file}`, bytes, { mode: 0o644, owner: 'root', group: 'root' });
          }),
        ),
      );
      if (remove.length > 0) {
        await h.run(`cd ${PUSH_REPOSITORY_DIR} && rm -f -- ${remove.map((f) => `'${f}'`).join(' ')}`, { purpose: 'remove packages no longer pushed' });
      }
      await h.run(packagesIndexScript(), { purpose: 'index the pushed packages (dpkg-deb)', timeoutMs: 10 * 60_000 });
      await h.writeFile(PUSH_MANIFEST_PATH, manifest, { mode: 0o644, owner: 'root', group: 'root' });
      await h.run(aptUpdate, { purpose: 'read the pushed repository (apt-get update)', timeoutMs: 10 * 60_000 });
    },
  };
}

/** The changes that set a host's package sources, in apply order; first in the plan, since later installs need them. */
export function packageSourceChanges(host: string, settings: Provision['packages'], facts: ProvisionFacts, push: PushDirectory | undefined): PlannedChange[] {
  if (settings.source === 'distro') return [];
  if (settings.source === 'mirror') {
    const change = sourcesChange(host, renderMirrorSources(settings.mirror_url!, facts.osId, facts.codename), facts.files[LMS_HA_SOURCES_PATH], `packages from ${settings.mirror_url}`);
    return change ? [change] : [];
  }
  const changes: PlannedChange[] = [];
  const repo = pushChange(host, push!, facts);
  if (repo) changes.push(repo);
  const sources = sourcesChange(host, renderPushSources(), facts.files[LMS_HA_SOURCES_PATH], `packages pushed from the runner, served from ${PUSH_REPOSITORY_DIR}`);
  if (sources) changes.push(sources);
  return changes;
}
