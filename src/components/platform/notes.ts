/**
 * What the plan says about the platform's side of the tier: the server
 * settings the preset chose, how to size gcache, and an application user whose
 * allowed hosts would lock the platform out behind the load balancers.
 */
import { hostsWithRole, type Environment } from '../../inventory/environment.js';
import { PRESETS } from '../../inventory/presets.js';
import { parseSize } from '../galera/model.js';

function ipv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/**
 * Whether a MariaDB account host (`%`, `10.0.0.%`, `10.0.0.21`,
 * `10.0.0.0/255.255.255.0`) admits a client at `address`. Names never match:
 * with skip_name_resolve the server compares addresses only.
 */
export function hostPatternAdmits(pattern: string, address: string): boolean {
  const netmask = /^([\d.]+)\/([\d.]+)$/.exec(pattern);
  if (netmask) {
    const net = ipv4(netmask[1]!);
    const mask = ipv4(netmask[2]!);
    const addr = ipv4(address);
    return net !== null && mask !== null && addr !== null && ((addr & mask) >>> 0) === net;
  }
  const regex = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(address);
}

/** Users whose hosts leave out a load balancer: the database sees the balancers' addresses, not the web servers'. */
export function userHostWarnings(environment: Environment): string[] {
  const lbs = hostsWithRole(environment, 'lb');
  if (!environment.load_balancer || lbs.length === 0) return [];
  const out: string[] = [];
  environment.app.users.forEach((user, index) => {
    const shut = lbs.filter((lb) => !user.hosts.some((pattern) => hostPatternAdmits(pattern, lb.address)));
    if (shut.length === 0) return;
    const list = shut.map((h) => `${h.name} (${h.address})`).join(', ');
    out.push(
      `app.users[${index}] ${user.name}: hosts [${user.hosts.join(', ')}] do not admit ${list}. Behind ${environment.load_balancer!.kind === 'haproxy' ? 'HAProxy' : 'ProxySQL'} the database sees the load balancers' addresses, not the web servers', so the platform would be refused ("Access denied"). Add the load balancers' addresses (or a pattern such as ${shut[0]!.address.replace(/\.\d+$/, '.%')}) to hosts.`,
    );
  });
  return out;
}

/** The preset's server settings and gcache sizing, as plan lines. */
export function presetSettingNotes(environment: Environment): string[] {
  const preset = environment.app.preset;
  if (preset === 'custom' || !environment.database) return [];
  const definition = PRESETS[preset];
  const overridden = new Set(Object.keys(environment.database.options).map((k) => k.toLowerCase().replace(/-/g, '_')));
  const settings = definition.serverSettings
    .filter((s) => !overridden.has(s.name))
    .map((s) => `${s.name}=${String(s.value)} (${s.why})`);
  const out: string[] = [];
  if (settings.length > 0) out.push(`${preset} preset: ${settings.join('; ')}. Set database.options to override any of them.`);
  const gcache = environment.database.gcache_size;
  const start = parseSize(definition.gcache.start)!;
  const have = gcache === undefined ? null : parseSize(String(gcache));
  if (have === null || have < start) {
    out.push(
      `${preset} preset: gcache ${gcache === undefined ? 'is the default' : `is ${gcache}`}; start from database.gcache_size: ${definition.gcache.start} (${definition.gcache.why})`,
    );
  }
  return out;
}

/** Everything the plan says about the platform, user lock-outs first. */
export function platformPlanNotes(environment: Environment): string[] {
  return [...userHostWarnings(environment), ...presetSettingNotes(environment)];
}
