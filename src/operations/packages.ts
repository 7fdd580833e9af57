/**
 * Debian packages: one way to write `apt-get install` (flags instead of
 * copies, every word shell-quoted), and one install phase per host: the
 * package changes of a plan are reviewed one by one, but when the first of
 * them is applied every host installs all of its packages at once, in
 * parallel, instead of one apt run per package and host.
 */
import { DeployError } from '../errors.js';
import { changeId, type PlannedChange } from '../engine/change.js';
import type { Logger } from '../report/log.js';
import { shellQuote } from '../ssh/quote.js';
import type { RemoteHost } from '../ssh/types.js';

export interface AptInstallFlags {
  /** --allow-downgrades: a version pin below the installed version is a reviewed downgrade. */
  allowDowngrades?: boolean;
  /** --no-install-recommends: only what the package depends on. */
  noRecommends?: boolean;
  /** Shell lines run after a successful install (e.g. stop what the package started). */
  then?: readonly string[];
}

export const INSTALL_TIMEOUT_MS = 15 * 60_000;

/**
 * apt-get update, then install. The operator's changed configuration files
 * are kept (--force-confold); lms-ha writes its own afterwards.
 */
export function aptInstallScript(packages: readonly string[], flags: AptInstallFlags = {}): string {
  const options = [flags.allowDowngrades ? '--allow-downgrades' : '', flags.noRecommends ? '--no-install-recommends' : ''].filter(Boolean);
  return [
    'set -e',
    'export DEBIAN_FRONTEND=noninteractive',
    'apt-get update -q',
    ['apt-get install -y -q', ...options, '-o Dpkg::Options::=--force-confold', ...packages.map(shellQuote)].join(' '),
    ...(flags.then ?? []),
  ].join('\n');
}

export async function aptInstall(host: RemoteHost, packages: readonly string[], logger: Logger, flags: AptInstallFlags = {}): Promise<void> {
  logger.info(`installing ${packages.join(' ')}`, host.name);
  const r = await host.run(aptInstallScript(packages, flags), { purpose: `install ${packages.join(' ')}`, timeoutMs: INSTALL_TIMEOUT_MS, allowFailure: true });
  if (r.code !== 0) {
    throw new DeployError('command-failed', `package installation failed on ${host.name}: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`, {
      host: host.name,
      hint: 'Check the host package sources (run provision) and `apt-get install` by hand to see the full error.',
    });
  }
}

/** Runs `fn` once for all callers (a parallel phase shared by per-host steps). */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/** The shared install phase: started by the first package change applied, awaited by all. */
export type InstallPhase = (hosts: ReadonlyMap<string, RemoteHost>, logger: Logger) => Promise<Map<string, PromiseSettledResult<void>>>;

/** One install phase for `installs` (host name → packages), every host in parallel. */
export function installPhase(installs: ReadonlyMap<string, readonly string[]>, flags: AptInstallFlags = {}): InstallPhase {
  let all: Promise<Map<string, PromiseSettledResult<void>>> | undefined;
  return (hosts, logger) =>
    (all ??= Promise.allSettled(
      [...installs.entries()].map(([name, pkgs]) => {
        const remote = hosts.get(name);
        return remote ? aptInstall(remote, pkgs, logger, flags) : Promise.reject(new DeployError('internal', `no connection to ${name}`));
      }),
    ).then((results) => new Map([...installs.keys()].map((name, i) => [name, results[i]!]))));
}

/** The reviewed change for one package on one host; applying it waits for the host's share of `phase`. */
export function packageChange(host: string, pkg: string, phase: InstallPhase, options: { summary?: string; to?: string } = {}): PlannedChange {
  return {
    kind: 'package',
    id: changeId('package', host, pkg),
    host,
    summary: options.summary ?? `install ${pkg}`,
    name: pkg,
    from: null,
    to: options.to ?? 'candidate from the package sources',
    apply: async (ctx) => {
      const r = (await phase(ctx.hosts, ctx.logger)).get(ctx.change.host)!;
      if (r.status === 'rejected') throw r.reason;
    },
  };
}
