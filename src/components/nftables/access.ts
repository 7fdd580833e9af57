/**
 * Who may reach what: one model of the cluster's ports, derived from the
 * inventory, that both of lms-ha's nftables tables are rendered from —
 * provision's firewall (every cluster port on every host) and deploy-lb's
 * health-check fence (port 9200 on the db nodes). Because a drop in any table
 * is final for a packet, two tables that disagreed about a source would close
 * the port to it; deriving both from this one function is what keeps them
 * saying the same thing.
 *
 * Pure: no host access.
 */
import { isIP } from 'node:net';
import type { Environment, Host } from '../../inventory/index.js';

/** One port or an inclusive range. */
export type PortRange = number | readonly [number, number];

export interface Opening {
  /** Inventory host the port is opened on. */
  host: string;
  proto: 'tcp' | 'vrrp';
  /** Empty for vrrp (a protocol, not a port). */
  ports: PortRange[];
  /** Addresses and networks allowed in; everyone else is dropped (none: only the host itself). */
  sources: string[];
  /** Open to every source (a public frontend); `sources` is then empty. */
  everyone?: boolean;
  /** What the port is, for the plan's table. */
  label: string;
  /** Who the sources are, in words ("db peers, load balancers"). */
  from: string;
}

/** GlusterFS hands every brick a port from this range (glusterd.vol base-port .. max-port). */
export const GLUSTER_BRICK_PORTS: readonly [number, number] = [49152, 60999];
export const GLUSTER_DAEMON_PORTS: readonly [number, number] = [24007, 24008];
export const GALERA_PORTS = { replication: 4567, ist: 4568, sst: 4444 } as const;

const unique = (values: string[]): string[] => [...new Set(values)];

/** Addresses that can go into an nftables set; DNS names cannot (see `unaddressable`). */
function ipsOf(hosts: readonly Host[]): string[] {
  return unique(hosts.map((h) => h.address).filter((a) => isIP(a) !== 0));
}

/** Hosts whose address is a DNS name: nftables sets take addresses only, so the firewall cannot name them. */
export function unaddressable(environment: Pick<Environment, 'hosts'>): Host[] {
  return environment.hosts.filter((h) => isIP(h.address) === 0);
}

const withRole = (environment: Pick<Environment, 'hosts'>, role: Host['roles'][number]) => environment.hosts.filter((h) => h.roles.includes(role));

/**
 * The load balancers as a source: their own addresses and the VIP, since the
 * holder's kernel may pick the VIP as the source of its connections when its
 * prefix is longer than the host's own subnet (seen in the lab: every health
 * check dropped).
 */
export function loadBalancerSources(environment: Pick<Environment, 'hosts' | 'load_balancer'>): string[] {
  // Unfiltered: a DNS-named load balancer is refused by the fence's renderer rather than silently left out.
  const lbs = unique(withRole(environment, 'lb').map((h) => h.address));
  return environment.load_balancer ? unique([...lbs, environment.load_balancer.vip_address]) : lbs;
}

/** Who may ask a db node's Galera health check (clustercheck, HAProxy only): the load balancers. */
export function clustercheckSources(environment: Pick<Environment, 'hosts' | 'load_balancer'>): string[] {
  return loadBalancerSources(environment);
}

/**
 * Every port the cluster opens, on every host, and who may reach it. SSH is
 * not here: it is the operator's lifeline and handled apart (see the firewall
 * renderer), never closed by this model.
 */
export function accessModel(environment: Pick<Environment, 'hosts' | 'database' | 'load_balancer' | 'storage' | 'provision'>): Opening[] {
  const openings: Opening[] = [];
  const db = withRole(environment, 'db');
  const web = withRole(environment, 'web');
  const lbs = withRole(environment, 'lb');
  const arbitrators = withRole(environment, 'arbitrator');
  const lb = environment.load_balancer;
  const lbSources = loadBalancerSources(environment);
  const clients = environment.provision.firewall.client_networks;

  if (environment.database) {
    const peers = ipsOf([...db, ...arbitrators]);
    // Without load balancers the application connects to the nodes directly.
    const sqlClients = lb ? unique([...ipsOf(db), ...lbSources]) : unique([...ipsOf(db), ...lbSources, ...ipsOf(web), ...clients]);
    const sqlFrom = lb ? 'db nodes, load balancers' : 'db nodes, load balancers, web hosts, client networks';
    for (const host of db) {
      openings.push({ host: host.name, proto: 'tcp', ports: [environment.database.port], sources: sqlClients, label: 'MariaDB', from: sqlFrom });
      openings.push({ host: host.name, proto: 'tcp', ports: [GALERA_PORTS.replication], sources: peers, label: 'Galera replication', from: 'db nodes, arbitrators' });
      openings.push({ host: host.name, proto: 'tcp', ports: [GALERA_PORTS.ist, GALERA_PORTS.sst], sources: ipsOf(db), label: 'Galera IST + SST', from: 'db nodes' });
      if (lb?.kind === 'haproxy') {
        openings.push({ host: host.name, proto: 'tcp', ports: [lb.clustercheck_port], sources: clustercheckSources(environment), label: 'Galera health check (clustercheck)', from: 'load balancers' });
      }
    }
    for (const host of arbitrators) {
      openings.push({ host: host.name, proto: 'tcp', ports: [GALERA_PORTS.replication], sources: peers, label: 'Galera replication (garbd)', from: 'db nodes, arbitrators' });
    }
  }

  if (lb) {
    // The application (web hosts, client networks) and verify-ha's write probe, which runs on a db node.
    const appSources = unique([...ipsOf(web), ...ipsOf(db), ...clients]);
    const appFrom = `web hosts, db nodes${clients.length > 0 ? ', client networks' : ''}`;
    const sqlPorts = lb.kind === 'haproxy' ? [lb.ports.writer, lb.ports.reader] : [lb.ports.mysql];
    for (const host of lbs) {
      openings.push({ host: host.name, proto: 'tcp', ports: sqlPorts, sources: appSources, label: lb.kind === 'haproxy' ? 'HAProxy writer + readers' : 'ProxySQL', from: appFrom });
      if (lb.kind === 'proxysql') {
        openings.push({ host: host.name, proto: 'tcp', ports: [lb.ports.admin], sources: ['127.0.0.1', '::1'], label: 'ProxySQL admin', from: 'this host only' });
      }
      if (lb.kind === 'haproxy' && lb.ports.web !== undefined) {
        // A public web frontend unless client networks narrow it.
        openings.push({
          host: host.name,
          proto: 'tcp',
          ports: [lb.ports.web],
          sources: clients,
          ...(clients.length === 0 ? { everyone: true } : {}),
          label: 'HAProxy web frontend',
          from: clients.length > 0 ? 'client networks' : 'everyone',
        });
      }
      openings.push({ host: host.name, proto: 'vrrp', ports: [], sources: ipsOf(lbs), label: 'VRRP (Keepalived)', from: 'load balancers' });
    }
  }

  if (environment.storage.kind === 'glusterfs') {
    const storage = withRole(environment, 'storage');
    const arbiter = environment.storage.arbiter;
    const servers = storage.concat(environment.hosts.filter((h) => h.name === arbiter && !storage.includes(h)));
    // Clients mount the volume on the web and storage hosts.
    const sources = ipsOf([...servers, ...web]);
    for (const host of servers) {
      openings.push({ host: host.name, proto: 'tcp', ports: [GLUSTER_DAEMON_PORTS], sources, label: 'GlusterFS daemon', from: 'storage + web hosts' });
      openings.push({ host: host.name, proto: 'tcp', ports: [GLUSTER_BRICK_PORTS], sources, label: 'GlusterFS bricks', from: 'storage + web hosts' });
    }
  }
  return openings;
}

export function formatPorts(ports: readonly PortRange[]): string {
  return ports.map((p) => (typeof p === 'number' ? String(p) : `${p[0]}-${p[1]}`)).join(', ');
}
