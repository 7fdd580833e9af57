/**
 * Every fact lms-ha reads on a host, by name: the shell snippet that reads it,
 * what it reads in words a reviewer checks, and the commands that gather it.
 * Commands read hosts only through `readFact`, which runs the snippet of an
 * entry here and refuses an entry not listed for the command, so this list is
 * all that plan mode runs on a host. A restricted plan account can be given a
 * root-owned gatherer generated from it, and nothing outside it.
 *
 * `readOnly: false` marks the one snippet that writes (verify-ha's causality
 * probe writes a row through one node and reads it back through another):
 * it belongs to the verify account, never to a read-only gatherer.
 */
import type { RemoteHost, RunOptions, RunResult } from '../ssh/types.js';
import { GALERA_FACTS_STDIN, galeraFactsScript } from './galera.js';
import { clientFactsScript, storageFactsScript, type ClientFactsArgs, type StorageFactsArgs } from './gluster.js';
import { causalityScript, dbFactsScript, VERIFY_DB_SQL, glusterClientScript, glusterPeerScript, glusterVolumeScript, lbFactsScript, type CausalityProbeOptions, type LbScriptOptions } from './health.js';
import { HOST_FACTS_SCRIPT } from './host.js';
import { hostStateScript, type HostStateQuery } from './host-state.js';
import { packagesOfSnippet, packagesSnippet, PACKAGES_GATHERER_BODY } from './packages.js';
import { LOCK_DIR, lockFileName } from './lock.js';
import { RCLONE_FACTS_SCRIPT } from './s3.js';

export type FactCommand = 'preflight' | 'deploy-db' | 'deploy-lb' | 'verify-ha' | 'migrate-storage' | 'recover';

export interface FactEntry<A> {
  readonly name: string;
  readonly reads: string;
  readonly gatheredBy: readonly FactCommand[];
  readonly readOnly: boolean;
  /** The snippet for `args` (what the inventory and the command's desired state give). */
  snippet(args: A): string;
  /** How the plan account's gatherer runs it; a fact without this is not open to the plan account. */
  readonly gather?: GatherForm;
}

/**
 * A fact as the root-owned plan gatherer runs it: a fixed body whose only
 * input is plain-word arguments ("$@"), checked by the gatherer, and the
 * fixed stdin it reads (the gatherer's own copy, never the caller's).
 */
export interface GatherForm {
  body: string;
  stdin?: string;
  /** The arguments when `request` is this fact (as the commands send it), else undefined. */
  recognise(request: { script?: string; stdin?: string; readPath?: string }): readonly string[] | undefined;
}

/** A fact with no arguments: the gatherer runs the same snippet, with the same stdin. */
function fixed(script: string, stdin?: string): GatherForm {
  return {
    body: script,
    ...(stdin !== undefined ? { stdin } : {}),
    recognise: (r) => (r.script === script && (r.stdin ?? '') === (stdin ?? '') ? [] : undefined),
  };
}

function fact<A>(entry: FactEntry<A>): FactEntry<A> {
  return entry;
}

export const FACTS = {
  host: fact<void>({
    name: 'host',
    reads: 'hostname, /etc/os-release, free space of / and /var/lib, uid, clock',
    gatheredBy: ['preflight', 'deploy-db', 'deploy-lb', 'verify-ha', 'migrate-storage', 'recover'],
    readOnly: true,
    snippet: () => HOST_FACTS_SCRIPT,
    gather: fixed(HOST_FACTS_SCRIPT),
  }),
  packages: fact<readonly string[]>({
    name: 'packages',
    reads: 'installed version of the named Debian packages (dpkg-query)',
    gatheredBy: ['deploy-db', 'deploy-lb', 'migrate-storage'],
    readOnly: true,
    snippet: (packages) => packagesSnippet(packages),
    gather: { body: PACKAGES_GATHERER_BODY, recognise: (r) => (r.script !== undefined && r.stdin === undefined ? packagesOfSnippet(r.script) : undefined) },
  }),
  hostState: fact<HostStateQuery>({
    name: 'host-state',
    reads: 'packages, system users, directories (owner, mode), files (owner, mode, sha256; content only of non-secret files), unit states, tools on PATH, listeners and nftables tables',
    gatheredBy: ['deploy-lb'],
    readOnly: true,
    snippet: (query) => hostStateScript(query),
  }),
  galera: fact<void>({
    name: 'galera',
    reads: "MariaDB packages, mariadb unit state, the Galera option file, grastate.dat, the SST credentials file's digest, the apt pin, wsrep status",
    gatheredBy: ['deploy-db'],
    readOnly: true,
    snippet: () => galeraFactsScript(),
    gather: fixed(galeraFactsScript(), GALERA_FACTS_STDIN),
  }),
  healthDb: fact<void>({
    name: 'health-db',
    reads: 'mariadb state, wsrep status and settings, the causality probe table, clustercheck',
    gatheredBy: ['verify-ha'],
    readOnly: true,
    snippet: () => dbFactsScript(),
    gather: fixed(dbFactsScript(), VERIFY_DB_SQL),
  }),
  healthLb: fact<LbScriptOptions>({
    name: 'health-lb',
    reads: "proxy and keepalived state, interface addresses (the VIP), HAProxy's stats or ProxySQL's runtime tables, the listeners' answers",
    gatheredBy: ['verify-ha'],
    readOnly: true,
    snippet: (options) => lbFactsScript(options),
  }),
  glusterPeers: fact<void>({
    name: 'gluster-peers',
    reads: 'glusterd state and the trusted pool (gluster pool list)',
    gatheredBy: ['verify-ha'],
    readOnly: true,
    snippet: () => glusterPeerScript(),
    gather: fixed(glusterPeerScript()),
  }),
  glusterVolume: fact<string>({
    name: 'gluster-volume',
    reads: "the volume's info, status and heal counts",
    gatheredBy: ['verify-ha'],
    readOnly: true,
    snippet: (volume) => glusterVolumeScript(volume),
  }),
  glusterClient: fact<string>({
    name: 'gluster-client',
    reads: 'the GlusterFS mount and a write probe in it',
    gatheredBy: ['verify-ha'],
    readOnly: false,
    snippet: (mountPoint) => glusterClientScript(mountPoint),
  }),
  glusterServer: fact<StorageFactsArgs>({
    name: 'gluster-server',
    reads: 'the GlusterFS server package, glusterd state, the brick filesystem, the pool, the volume info and the brick processes',
    gatheredBy: ['migrate-storage'],
    readOnly: true,
    snippet: (args) => storageFactsScript(args.volume, args.brickPath),
  }),
  glusterMountHost: fact<ClientFactsArgs>({
    name: 'gluster-mount-host',
    reads: "the GlusterFS client package, /etc/fstab, the mounts, the volume root's mode and owner, whether the owner and group exist",
    gatheredBy: ['migrate-storage'],
    readOnly: true,
    snippet: (args) => clientFactsScript(args.mountPath, args.owner, args.group),
  }),
  rclone: fact<void>({
    name: 'rclone',
    reads: 'the rclone package and binary',
    gatheredBy: ['migrate-storage'],
    readOnly: true,
    snippet: () => RCLONE_FACTS_SCRIPT,
  }),
  causality: fact<CausalityProbeOptions>({
    name: 'causality',
    reads: 'a row written through one node, read back through another (wsrep_sync_wait)',
    gatheredBy: ['verify-ha'],
    readOnly: false,
    snippet: (options) => causalityScript(options),
  }),
  lock: fact<string>({
    name: 'lock',
    reads: `the environment's lock file in ${LOCK_DIR} (who holds it, since when)`,
    gatheredBy: ['preflight', 'deploy-db', 'deploy-lb', 'verify-ha', 'migrate-storage', 'recover'],
    readOnly: true,
    snippet: (environment) => `cat -- ${LOCK_DIR}/${lockFileName(environment)}`,
    gather: {
      // Exit 44 is the transport's "no such file" for a read.
      body: `f=${LOCK_DIR}/"$1".lock; [ -e "$f" ] || exit 44; exec cat -- "$f"`,
      recognise: (r) => {
        const m = r.readPath === undefined ? null : new RegExp(`^${LOCK_DIR}/([A-Za-z0-9_.-]+)\\.lock$`).exec(r.readPath);
        return m ? [m[1]!] : undefined;
      },
    },
  }),
} as const;

/** Every fact in the registry, for a reviewer's list or a generated gatherer. */
export function allFacts(): FactEntry<never>[] {
  return Object.values(FACTS) as FactEntry<never>[];
}

/** The facts `command` gathers. */
export function factsGatheredBy(command: FactCommand): FactEntry<never>[] {
  return allFacts().filter((f) => f.gatheredBy.includes(command));
}

/**
 * The snippet of `fact` as `command` runs it. A fact the registry does not
 * list for the command is a programming error: the list would no longer say
 * what the command reads.
 */
export function factSnippet<A>(command: FactCommand, fact: FactEntry<A>, args: A): string {
  if (!factsGatheredBy(command).some((f) => f.name === fact.name)) {
    throw new Error(`${command} reads the ${fact.name} fact, which src/facts/registry.ts does not list for it`);
  }
  return fact.snippet(args);
}

/** Runs `fact` on `host` for `command` (the only way commands read a host's facts). */
export function readFact<A>(host: RemoteHost, command: FactCommand, fact: FactEntry<A>, args: A, options: RunOptions): Promise<RunResult> {
  return host.run(factSnippet(command, fact, args), options);
}
