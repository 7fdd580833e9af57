/**
 * Reads a host's loaded nftables ruleset (`nft -j list ruleset`, libnftables-json)
 * and finds what would stop the Galera peers from reaching this node: a rule in
 * an input chain that drops or rejects one of the cluster's TCP ports for every
 * source, or an input chain whose policy is drop and that accepts none of it.
 *
 * Why: an operator's firewall that drops the SST port does nothing visible until
 * a node has to rejoin by full state transfer; then the donor's socat retries
 * its connection to the joiner for about two minutes and the joiner aborts with
 * "State transfer to <node> failed: Broken pipe" (seen in the lab).
 * deploy-lb reads the ruleset anyway (its health-check fence is a table of its
 * own beside the operator's), so it can say so at plan time.
 *
 * Deliberately conservative: a rule that also narrows by source address,
 * interface or anything this reader does not understand is not reported (it may
 * be a fence that lets the peers in), nor is a chain that jumps elsewhere.
 * Pure: no host access.
 */

/** The TCP ports another db node or a load balancer opens to a db node. */
export interface WatchedPort {
  port: number;
  label: string;
}

export const GALERA_PEER_PORTS: readonly WatchedPort[] = [
  { port: 4567, label: 'Galera replication' },
  { port: 4568, label: 'Galera IST' },
  { port: 4444, label: 'Galera SST' },
];

export interface BlockedPort {
  /** "family name" as `nft list tables` prints it, e.g. "inet operator_filter". */
  table: string;
  chain: string;
  port: number;
  label: string;
  /** "rule 7 drops it" or "policy drop, no rule accepts it". */
  how: string;
}

type Json = unknown;
type Obj = Record<string, Json>;

interface Chain {
  family: string;
  table: string;
  name: string;
  hook?: string;
  policy?: string;
  rules: Obj[];
}

const isObj = (v: Json): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Port numbers (and ranges) a match's right-hand side stands for; null when not understood. */
type PortSet = (port: number) => boolean;

function portSet(right: Json, sets: Map<string, Json[]>, table: string): PortSet | null {
  if (typeof right === 'number') return (p) => p === right;
  if (typeof right === 'string') {
    if (right.startsWith('@')) {
      const elems = sets.get(`${table} ${right.slice(1)}`);
      return elems ? union(elems, sets, table) : null;
    }
    // Service names ("ssh") are printed numerically by -j unless -S; anything else is unknown.
    return /^\d+$/.test(right) ? (p) => p === Number(right) : null;
  }
  if (isObj(right)) {
    if (Array.isArray(right['set'])) return union(right['set'], sets, table);
    if (Array.isArray(right['range']) && right['range'].length === 2) {
      const [lo, hi] = right['range'];
      if (typeof lo === 'number' && typeof hi === 'number') return (p) => p >= lo && p <= hi;
    }
  }
  return null;
}

function union(elems: Json[], sets: Map<string, Json[]>, table: string): PortSet | null {
  const parts: PortSet[] = [];
  for (const e of elems) {
    // Named set elements may carry timeouts/comments: {"elem": {"val": 4444, ...}}.
    const value = isObj(e) && isObj(e['elem']) ? e['elem']['val'] : e;
    const part = portSet(value, sets, table);
    if (!part) return null;
    parts.push(part);
  }
  return (p) => parts.some((f) => f(p));
}

type Condition =
  | { kind: 'port'; test: PortSet }
  /** Holds for TCP (l4proto tcp, ct state new, ...): does not narrow who is dropped. */
  | { kind: 'neutral' }
  /** Never holds for a new TCP connection from a peer (a UDP port, l4proto udp, ct state established, iif lo). */
  | { kind: 'never' }
  /** Narrows by source, interface or something this reader does not model. */
  | { kind: 'other' };

function condition(match: Obj, sets: Map<string, Json[]>, table: string): Condition {
  const op = match['op'];
  const left = match['left'];
  const right = match['right'];
  if (!isObj(left)) return { kind: 'other' };
  const payload = isObj(left['payload']) ? left['payload'] : null;
  if (payload && payload['field'] === 'dport') {
    if (payload['protocol'] === 'udp' || payload['protocol'] === 'sctp' || payload['protocol'] === 'dccp') return { kind: 'never' };
    if (payload['protocol'] !== 'tcp' && payload['protocol'] !== 'th') return { kind: 'other' };
    const set = portSet(right, sets, table);
    if (!set) return { kind: 'other' };
    if (op === '==' || op === 'in') return { kind: 'port', test: set };
    if (op === '!=') return { kind: 'port', test: (p) => !set(p) };
    return { kind: 'other' };
  }
  const meta = isObj(left['meta']) ? left['meta'] : null;
  const protoMatch = (meta && meta['key'] === 'l4proto') || (payload && payload['field'] === 'protocol' && payload['protocol'] === 'ip') || (payload && payload['field'] === 'nexthdr');
  if (protoMatch) {
    const tcp = values(right).some((v) => v === 'tcp' || v === 6);
    return holds(op, tcp);
  }
  // A peer opening a connection is in ct state "new".
  if (isObj(left['ct']) && left['ct']['key'] === 'state') return holds(op, values(right).includes('new'));
  // Peers never arrive on the loopback interface.
  if (meta && (meta['key'] === 'iif' || meta['key'] === 'iifname') && values(right).every((v) => v === 'lo')) {
    return op === '==' || op === 'in' ? { kind: 'never' } : { kind: 'neutral' };
  }
  return { kind: 'other' };
}

/** The values of a right-hand side: one value, a list (flags) or an anonymous set. */
function values(right: Json): Json[] {
  if (Array.isArray(right)) return right;
  if (isObj(right) && Array.isArray(right['set'])) return right['set'];
  return [right];
}

/** A condition that holds for a peer's new TCP connection when `included` (op == / in), or when not (op !=). */
function holds(op: Json, included: boolean): Condition {
  if (op === '==' || op === 'in') return included ? { kind: 'neutral' } : { kind: 'never' };
  if (op === '!=') return included ? { kind: 'never' } : { kind: 'neutral' };
  return { kind: 'other' };
}

interface RuleView {
  handle: Json;
  verdict: 'accept' | 'drop' | 'jump' | 'none';
  conditions: Condition[];
}

function view(rule: Obj, sets: Map<string, Json[]>, table: string): RuleView {
  const conditions: Condition[] = [];
  let verdict: RuleView['verdict'] = 'none';
  for (const e of Array.isArray(rule['expr']) ? rule['expr'] : []) {
    if (!isObj(e)) continue;
    if (isObj(e['match'])) conditions.push(condition(e['match'], sets, table));
    else if ('accept' in e) verdict = 'accept';
    else if ('drop' in e || 'reject' in e) verdict = 'drop';
    else if ('jump' in e || 'goto' in e || 'vmap' in e) verdict = 'jump';
    // counter, log, limit, ...: no effect on which packets the verdict applies to.
    else if (!('counter' in e || 'log' in e || 'comment' in e)) conditions.push({ kind: 'other' });
  }
  return { handle: rule['handle'], verdict, conditions };
}

/** Whether the rule applies to a new TCP connection to `port` from any source: yes, no, or unknown. */
function applies(r: RuleView, port: number): 'yes' | 'no' | 'maybe' {
  let result: 'yes' | 'maybe' = 'yes';
  for (const c of r.conditions) {
    if (c.kind === 'never') return 'no';
    if (c.kind === 'port' && !c.test(port)) return 'no';
    if (c.kind === 'other') result = 'maybe';
  }
  return result;
}

/**
 * Which of `ports` the loaded ruleset blocks for every source. `json` is the
 * output of `nft -j list ruleset`; an empty or unreadable text means nothing is
 * known, so nothing is reported. Tables named in `ignoreTables` ("inet name")
 * are skipped (lms-ha's own fence).
 */
export function findBlockedPorts(json: string, ports: readonly WatchedPort[] = GALERA_PEER_PORTS, ignoreTables: readonly string[] = []): BlockedPort[] {
  let doc: Json;
  try {
    doc = JSON.parse(json);
  } catch {
    return [];
  }
  const items = isObj(doc) && Array.isArray(doc['nftables']) ? doc['nftables'] : [];
  const chains = new Map<string, Chain>();
  const sets = new Map<string, Json[]>();
  for (const item of items) {
    if (!isObj(item)) continue;
    const c = item['chain'];
    if (isObj(c) && typeof c['family'] === 'string' && typeof c['table'] === 'string' && typeof c['name'] === 'string') {
      chains.set(`${c['family']} ${c['table']} ${c['name']}`, {
        family: c['family'],
        table: c['table'],
        name: c['name'],
        ...(typeof c['hook'] === 'string' ? { hook: c['hook'] } : {}),
        ...(typeof c['policy'] === 'string' ? { policy: c['policy'] } : {}),
        rules: [],
      });
    }
    const s = item['set'];
    if (isObj(s) && typeof s['family'] === 'string' && typeof s['table'] === 'string' && typeof s['name'] === 'string') {
      sets.set(`${s['family']} ${s['table']} ${s['name']}`, Array.isArray(s['elem']) ? s['elem'] : []);
    }
  }
  for (const item of items) {
    const r = isObj(item) ? item['rule'] : undefined;
    if (!isObj(r)) continue;
    chains.get(`${String(r['family'])} ${String(r['table'])} ${String(r['chain'])}`)?.rules.push(r);
  }

  const blocked: BlockedPort[] = [];
  for (const chain of chains.values()) {
    const table = `${chain.family} ${chain.table}`;
    if (chain.hook !== 'input' || !['ip', 'ip6', 'inet'].includes(chain.family) || ignoreTables.includes(table)) continue;
    const rules = chain.rules.map((r) => view(r, sets, table));
    for (const { port, label } of ports) {
      let how: string | null = null;
      let decided = false;
      for (const r of rules) {
        const a = applies(r, port);
        if (a === 'no' || r.verdict === 'none') continue;
        // An accept (or a jump) that may let some sources in: the operator may be fencing on purpose.
        if (r.verdict === 'accept' || r.verdict === 'jump' || a === 'maybe') {
          decided = true;
          break;
        }
        how = `rule ${String(r.handle)} drops it`;
        decided = true;
        break;
      }
      if (!decided && chain.policy === 'drop') how = 'policy drop, no rule accepts it';
      if (how) blocked.push({ table, chain: chain.name, port, label, how });
    }
  }
  return blocked;
}
