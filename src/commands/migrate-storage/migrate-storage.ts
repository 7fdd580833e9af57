/**
 * migrate-storage: the shared-files tier (a replicated GlusterFS volume and
 * its client mounts, or S3) and the move of an existing single-server
 * installation into the HA tier (files, database).
 *
 * Each part is present only when the inventory asks for it (see
 * part.ts). Facts of all parts are gathered together, their
 * changes form one reviewed plan, applied in part order under one lock: the
 * volume exists before it is mounted, and is mounted before files are copied
 * into it.
 */
import { DeployError } from '../../errors.js';
import type { PlannedChange } from '../../engine/change.js';
import { createPlan, type HostFacts as PlanHostFacts } from '../../engine/plan.js';
import type { Host } from '../../inventory/index.js';
import type { RemoteHost } from '../../ssh/types.js';
import type { CommandContext, CommandRunner } from '../context.js';
import { databaseMigrationPart } from './database.js';
import { filesMigrationPart } from './files.js';
import { glusterClientPart, glusterVolumePart } from './gluster.js';
import { s3MigrationPart } from './s3.js';
import type { MigrationPart } from './part.js';
import { planOrApplyReviewed } from '../reviewed-change.js';
import type { CommandDescriptor } from '../command.js';

/** The parts the inventory asks for, in apply order. */
export function migrationParts(context: CommandContext): MigrationPart[] {
  const parts: (MigrationPart<any> | undefined)[] = [
    glusterVolumePart(context),
    glusterClientPart(context),
    filesMigrationPart(context),
    databaseMigrationPart(context),
    s3MigrationPart(context),
  ];
  return parts.filter((p): p is MigrationPart => p !== undefined);
}

function uniqueHosts(parts: readonly MigrationPart[]): Host[] {
  const out = new Map<string, Host>();
  for (const p of parts) for (const h of p.hosts) out.set(h.name, h);
  return [...out.values()];
}

/** One row per host: the parts' facts merged, so every host a change names is listed. */
function mergeHostFacts(hosts: readonly Host[], rows: readonly PlanHostFacts[]): PlanHostFacts[] {
  const byName = new Map<string, PlanHostFacts>(hosts.map((h) => [h.name, { name: h.name, address: h.address, roles: [...h.roles], facts: {} }]));
  for (const r of rows) {
    const row = byName.get(r.name) ?? { name: r.name, roles: r.roles, facts: {}, ...(r.address ? { address: r.address } : {}) };
    Object.assign(row.facts, r.facts);
    byName.set(r.name, row);
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

interface Gathered {
  remotes: Map<string, RemoteHost>;
  results: unknown[];
}

const migrateStorage: CommandRunner = async (context) => {
  const parts = migrationParts(context);
  if (parts.length === 0) {
    throw new DeployError('invalid-inventory', `migrate-storage has nothing to do in environment ${context.environment.name}`, {
      hint: 'Give the environment a storage section of kind glusterfs (with hosts of the storage role), or a migrate section.',
    });
  }
  const hosts = uniqueHosts(parts);
  return planOrApplyReviewed<Gathered>(context, {
    command: 'migrate-storage',
    lockHosts: hosts,
    gather: async () => {
      const remotes = new Map<string, RemoteHost>();
      for (const h of hosts) remotes.set(h.name, await context.host(h.name));
      const results = await Promise.all(parts.map((p) => p.gather()));
      return { remotes, results };
    },
    plan: (g) => {
      const changes: PlannedChange[] = [];
      const warnings: string[] = [];
      const rows: PlanHostFacts[] = [];
      parts.forEach((part, i) => {
        const planned = part.plan(g.results[i]);
        changes.push(...planned.changes);
        warnings.push(...planned.warnings);
        rows.push(...(planned.facts ?? []));
      });
      return createPlan({ command: 'migrate-storage', environment: context.environment.name, changes, warnings, hosts: mergeHostFacts(hosts, rows) });
    },
  });
};

export const migrateStorageCommand: CommandDescriptor = {
  name: 'migrate-storage',
  summary: 'GlusterFS (or S3) for the platform\'s files; moves a single-server file tree and database onto the HA tier',
  options: [],
  needs: {
    roles: [],
    sections: [],
    rolesFrom: (environment) => [
      ...(environment.storage?.kind === 'glusterfs' ? (['storage'] as const) : []),
      ...(environment.migrate?.database ? (['db'] as const) : []),
    ],
    // A database-only migration (the files stay where they are for now) needs no storage tier.
    gaps: (environment, name) => {
      if (environment.migrate?.database !== undefined) return [];
      if (environment.storage === undefined) return [{ path: [], message: `migrate-storage needs a "storage" section (or migrate.database) in environment "${name}"` }];
      if (environment.storage.kind === 'none') {
        return [{ path: ['storage'], message: `migrate-storage needs "storage" of kind glusterfs or s3 (or migrate.database) in environment "${name}"; this one is none` }];
      }
      return [];
    },
  },
  run: migrateStorage,
};
