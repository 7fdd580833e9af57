/**
 * VRRP router ids: each VIP group needs an id of its own on its network
 * (research §2.6 I: two groups with one id fight over adverts, or both LBs of a
 * pair end up holding their VIPs). lms-ha cannot see the whole network, so it
 * demands ids unique across the inventory it is given, plus any ids the caller
 * knows are taken (e.g. by routers or other clusters).
 */

export interface VrrpGroupRef {
  /** Where the id is configured, for messages (e.g. "production" or "production/lb"). */
  name: string;
  virtualRouterId: number;
  /** The VIP, for messages only. */
  vip?: string;
}

/** Problems found, one sentence each; empty when the ids are fine. */
export function validateVirtualRouterIds(groups: VrrpGroupRef[], options: { taken?: number[] } = {}): string[] {
  const problems: string[] = [];
  const firstUser = new Map<number, string>();
  const taken = new Set(options.taken ?? []);
  for (const g of groups) {
    const id = g.virtualRouterId;
    if (!Number.isInteger(id) || id < 1 || id > 255) {
      problems.push(`${g.name}: virtual_router_id ${id} is outside 1..255`);
      continue;
    }
    if (taken.has(id)) {
      problems.push(`${g.name}: virtual_router_id ${id} is already used on the network; pick another`);
    }
    const other = firstUser.get(id);
    if (other !== undefined) {
      problems.push(`${g.name}: virtual_router_id ${id} is also used by ${other}; every VIP needs its own id`);
    } else {
      firstUser.set(id, g.name);
    }
  }
  return problems;
}
