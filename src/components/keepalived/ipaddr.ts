/**
 * Addresses: parsing "a.b.c.d/nn" and reading `ip -o addr show` to tell whether
 * a load balancer holds the VIP (research §2.5: exactly one LB must).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  /** Normalised: IPv4 dotted quad, IPv6 fully expanded lower-case. */
  address: string;
  prefix: number;
  family: 'inet' | 'inet6';
}

/** Fully expanded, lower-case IPv6 (8 groups of 4 hex digits); null if invalid. */
export function expandIPv6(address: string): string | null {
  if (!isIPv6(address)) return null;
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1].split('.').map(Number);
    text = text.slice(0, v4.index) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [left, right] = text.includes('::') ? text.split('::') : [text, undefined];
  const head = left ? left.split(':') : [];
  const tail = right ? right.split(':') : [];
  const missing = right === undefined ? 0 : 8 - head.length - tail.length;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...tail];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** "10.0.0.100/24" → {address, prefix}; a bare address gets the full-length prefix. */
export function parseCidr(text: string): Cidr | null {
  const [address, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined || address === undefined) return null;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  if (isIPv4(address)) {
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    if (prefix > 32) return null;
    return { address, prefix, family: 'inet' };
  }
  const expanded = expandIPv6(address);
  if (expanded) {
    const prefix = prefixText === undefined ? 128 : Number(prefixText);
    if (prefix > 128) return null;
    return { address: expanded, prefix, family: 'inet6' };
  }
  return null;
}

export interface InterfaceAddress {
  /** Interface index ("2" in "2: eth0 ..."). */
  index: number;
  /** Interface name without the "@ifN" peer suffix of veth devices. */
  interface: string;
  family: 'inet' | 'inet6';
  address: string;
  prefix: number;
  /** "global", "link", "host". */
  scope?: string;
  /** Keepalived adds the VIP as a secondary when it shares the primary's subnet. */
  secondary: boolean;
  /** Address label (e.g. "eth0:vip") when set. */
  label?: string;
}

/**
 * Parses `ip -o addr show [dev IF]` (iproute2 one-line format):
 *   2: eth0    inet 10.0.0.21/24 brd 10.0.0.255 scope global eth0\       valid_lft forever preferred_lft forever
 */
export function parseIpAddrShow(output: string): InterfaceAddress[] {
  const result: InterfaceAddress[] = [];
  for (const line of output.split('\n')) {
    const main = line.split('\\')[0];
    const m = /^(\d+):\s+(\S+)\s+(inet6?)\s+(\S+)(.*)$/.exec(main.trim());
    if (!m) continue;
    const cidr = parseCidr(m[4]);
    if (!cidr) continue;
    const words = m[5].trim().split(/\s+/).filter(Boolean);
    const scopeAt = words.indexOf('scope');
    const scope = scopeAt >= 0 ? words[scopeAt + 1] : undefined;
    const ifname = m[2].replace(/@.*$/, '');
    // After "scope X" come flags, then (IPv4 only) the label: the first word that
    // names this interface or an alias of it.
    const label = m[3] === 'inet' ? words.slice(scopeAt >= 0 ? scopeAt + 2 : 0).find((w) => w === ifname || w.startsWith(`${ifname}:`)) : undefined;
    result.push({
      index: Number(m[1]),
      interface: ifname,
      family: cidr.family,
      address: cidr.address,
      prefix: cidr.prefix,
      scope,
      secondary: words.includes('secondary'),
      label: label && label !== ifname ? label : undefined,
    });
  }
  return result;
}

/** Whether the host whose `ip -o addr show` output this is holds the VIP (optionally on one interface). */
export function holdsVip(ipAddrOutput: string, vip: string, iface?: string): boolean {
  const wanted = parseCidr(vip);
  if (!wanted) return false;
  return parseIpAddrShow(ipAddrOutput).some(
    (a) => a.address === wanted.address && (iface === undefined || a.interface === iface),
  );
}
