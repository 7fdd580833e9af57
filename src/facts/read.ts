/**
 * The facts commands read through the registry, parsed: each runs its
 * registered snippet (src/facts/registry.ts) and hands the output to the
 * fact's pure parser.
 */
import type { RemoteHost } from '../ssh/types.js';
import { GALERA_FACTS_STDIN, parseGaleraFacts, type GaleraHostFacts } from './galera.js';
import { parseHostFacts, type HostFacts } from './host.js';
import { parseHostState, type HostState, type HostStateQuery } from './host-state.js';
import { FACTS, readFact, type FactCommand } from './registry.js';

export async function gatherHostFacts(host: RemoteHost, command: FactCommand = 'preflight', now: () => number = Date.now): Promise<HostFacts> {
  const started = now();
  const result = await readFact(host, command, FACTS.host, undefined, { purpose: 'read host facts', timeoutMs: 30_000 });
  const finished = now();
  return parseHostFacts(result.stdout, started, finished);
}

export async function gatherGaleraFacts(host: RemoteHost): Promise<GaleraHostFacts> {
  const result = await readFact(host, 'deploy-db', FACTS.galera, undefined, {
    purpose: 'read MariaDB/Galera facts',
    stdin: GALERA_FACTS_STDIN,
    timeoutMs: 30_000,
  });
  return parseGaleraFacts(result.stdout);
}

export async function gatherHostState(host: RemoteHost, q: HostStateQuery): Promise<HostState> {
  const r = await readFact(host, 'deploy-lb', FACTS.hostState, q, { purpose: 'read load balancer facts', timeoutMs: 30_000 });
  return parseHostState(r.stdout, q);
}
