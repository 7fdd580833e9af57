/**
 * What a command needs from the selected environment (each command's
 * descriptor says it; src/commands/registry.ts lists them). Checked right after
 * loading, before any connection: a deploy-lb against an environment without
 * load balancers must fail here, not after preflight has logged into every host.
 */
import { DeployError, formatProblem, type InputProblem } from '../errors';
import type { EnvironmentSpec, Inventory, Role } from './schema';
import { detachedSource, originOf, sortProblems } from './source';
import type { Environment } from './environment';
import type { Path } from './paths';

type Section = 'database' | 'load_balancer' | 'storage';

type EnvironmentShape = Pick<EnvironmentSpec, 'hosts' | 'database' | 'load_balancer' | 'storage' | 'migrate'>;

export interface CommandNeeds {
  /** Roles some host must have, whatever the environment says. */
  roles: readonly Role[];
  /** Sections the environment must have. */
  sections: readonly Section[];
  /** Roles that depend on the environment's settings (GlusterFS storage hosts, the layers verify-ha checks). */
  rolesFrom?(environment: EnvironmentShape): readonly Role[];
  /** Anything else the environment lacks for the command, at a path under the environment. */
  gaps?(environment: EnvironmentShape, name: string): { path: Path; message: string }[];
}

/** Roles a command needs some host to have; with an environment, those its settings add. */
export function requiredRoles(needs: CommandNeeds, environment?: EnvironmentShape): Role[] {
  const roles = new Set<Role>(needs.roles);
  if (environment && needs.rolesFrom) for (const role of needs.rolesFrom(environment)) roles.add(role);
  return [...roles];
}

/**
 * Reports, all at once, the roles `command` needs that no host of the
 * environment has, the sections it needs that are missing and its other gaps.
 * Throws DeployError('invalid-inventory') with a problem per gap.
 */
export function checkCommandNeeds(inventory: Inventory, environment: string | Environment, command: string, needs: CommandNeeds): void {
  const name = typeof environment === 'string' ? environment : environment.name;
  const spec = inventory.environments[name];
  const source = originOf(inventory)?.source ?? detachedSource('inventory');
  const base: Path = ['environments', name];
  if (spec === undefined) {
    throw new DeployError('invalid-inventory', `environment "${name}" is not defined in ${source.file}`);
  }

  const problems: InputProblem[] = [];
  const report = (path: Path, message: string) => problems.push({ ...source.position([...base, ...path], 'key'), message });

  for (const section of needs.sections) {
    if (spec[section] === undefined) report([], `${command} needs a "${section}" section in environment "${name}"`);
  }
  for (const gap of needs.gaps?.(spec, name) ?? []) report(gap.path, gap.message);
  for (const role of requiredRoles(needs, spec)) {
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
