/**
 * What each command needs from the selected environment. Checked right after
 * loading, before any connection: a deploy-lb against an environment without
 * load balancers must fail here, not after preflight has logged into every host.
 */
import { DeployError, formatProblem, type InputProblem } from '../errors';
import type { CommandName } from '../request';
import type { Inventory, Role } from './schema';
import { detachedSource, originOf, sortProblems } from './source';
import type { Environment } from './environment';
import type { Path } from './paths';

type Section = 'database' | 'load_balancer' | 'storage';

interface CommandNeeds {
  roles: readonly Role[];
  sections: readonly Section[];
}

const NEEDS: Readonly<Record<CommandName, CommandNeeds>> = {
  preflight: { roles: [], sections: [] },
  provision: { roles: [], sections: [] },
  unlock: { roles: [], sections: [] },
  'deploy-db': { roles: ['db'], sections: ['database'] },
  recover: { roles: ['db'], sections: ['database'] },
  // The load balancers route to the Galera nodes, so they need both.
  'deploy-lb': { roles: ['lb', 'db'], sections: ['load_balancer', 'database'] },
  'migrate-storage': { roles: [], sections: [] },
  'verify-ha': { roles: [], sections: [] },
};

type EnvironmentShape = Pick<Inventory['environments'][string], 'hosts' | 'database' | 'load_balancer' | 'storage' | 'migrate'>;

/**
 * Roles a command needs some host to have. With an environment, roles that
 * depend on its settings are included too (GlusterFS storage hosts for
 * migrate-storage; for verify-ha, the roles behind each configured layer).
 */
export function requiredRolesFor(command: CommandName, environment?: EnvironmentShape): Role[] {
  const roles = new Set<Role>(NEEDS[command].roles);
  if (environment) {
    const gluster = environment.storage?.kind === 'glusterfs';
    if (command === 'migrate-storage') {
      if (gluster) roles.add('storage');
      if (environment.migrate?.database) roles.add('db');
    }
    if (command === 'verify-ha') {
      if (environment.database) roles.add('db');
      if (environment.load_balancer) roles.add('lb');
      if (gluster) roles.add('storage');
    }
  }
  return [...roles];
}

/**
 * Reports, all at once, the roles `command` needs that no host of the
 * environment has and the sections it needs that are missing. Throws
 * DeployError('invalid-inventory') with a problem per gap.
 */
export function checkRolesForCommand(inventory: Inventory, environment: string | Environment, command: CommandName): void {
  const name = typeof environment === 'string' ? environment : environment.name;
  const spec = inventory.environments[name];
  const source = originOf(inventory)?.source ?? detachedSource('inventory');
  const base: Path = ['environments', name];
  if (spec === undefined) {
    throw new DeployError('invalid-inventory', `environment "${name}" is not defined in ${source.file}`);
  }

  const problems: InputProblem[] = [];
  const report = (path: Path, message: string) => problems.push({ ...source.position([...base, ...path], 'key'), message });

  for (const section of NEEDS[command].sections) {
    if (spec[section] === undefined) report([], `${command} needs a "${section}" section in environment "${name}"`);
  }
  // A database-only migration (the files stay where they are for now) needs no storage tier.
  if (command === 'migrate-storage' && spec.migrate?.database === undefined) {
    if (spec.storage === undefined) report([], `migrate-storage needs a "storage" section (or migrate.database) in environment "${name}"`);
    else if (spec.storage.kind === 'none') {
      report(['storage'], `migrate-storage needs "storage" of kind glusterfs or s3 (or migrate.database) in environment "${name}"; this one is none`);
    }
  }
  if (command === 'verify-ha' && !spec.database && !spec.load_balancer && (spec.storage?.kind ?? 'none') === 'none') {
    report([], `verify-ha has nothing to verify in environment "${name}": it has no database, load_balancer or storage section`);
  }
  for (const role of requiredRolesFor(command, spec)) {
    if (!spec.hosts.some((host) => host.roles.includes(role))) {
      report(['hosts'], `${command} needs a host with the ${role} role, but no host in environment "${name}" has it; add ${role} to the roles of the hosts that should run it`);
    }
  }

  if (problems.length === 0) return;
  const sorted = sortProblems(problems);
  const message = `${command} cannot run on environment "${name}":\n${sorted.map((problem) => `  ${formatProblem(problem)}`).join('\n')}`;
  throw new DeployError('invalid-inventory', message, {
    problems: sorted,
    hint: `Add what ${command} needs to environment "${name}", or run it against an environment that has it.`,
  });
}
