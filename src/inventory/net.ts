/**
 * Addresses as the inventory writes them: IP literals, DNS names and the VIP's
 * `a.b.c.d/prefix`. Only what the checks need; no resolution (a bad inventory
 * must fail without touching the network).
 */
import { isIPv4, isIPv6 } from 'node:net';

export type AddressKind = 'ipv4' | 'ipv6' | 'dns';

export type AddressCheck =
  | { ok: true; kind: AddressKind; /** Comparable form: IPv6 compressed, DNS lowercase without trailing dot. */ canonical: string }
  | { ok: false; /** Completes a sentence that starts with the field's name. */ problem: string };

const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function isDnsName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  // An all-numeric last label is a mistyped IPv4 address, never a resolvable name.
  if (/^[0-9]+$/.test(labels.at(-1)!)) return false;
  return labels.every((label) => DNS_LABEL.test(label));
}

/** 32-bit unsigned value of a dotted quad, or undefined. */
export function parseIPv4(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function canonicalIPv6(text: string): string {
  return new URL(`http://[${text}]`).hostname.slice(1, -1);
}

/** Checks a host's `address`: an IPv4/IPv6 literal or a DNS name, nothing else. */
export function checkAddress(text: string): AddressCheck {
  if (/\s/.test(text)) return { ok: false, problem: `must not contain spaces, got ${JSON.stringify(text)}` };
  if (text.includes('://')) return { ok: false, problem: `must be a bare address or DNS name, not a URL, got ${JSON.stringify(text)}` };
  if (text.startsWith('[') && text.endsWith(']')) {
    return { ok: false, problem: `must be written without brackets, like ${text.slice(1, -1)}` };
  }
  const at = text.lastIndexOf('@');
  if (at > 0) return { ok: false, problem: `must not include a user name; set ssh.user: ${text.slice(0, at)} instead` };
  if (text.includes('/')) return { ok: false, problem: `must be a single address, not a subnet, got ${JSON.stringify(text)}` };

  if (isIPv4(text)) {
    if (text === '0.0.0.0') return { ok: false, problem: 'is 0.0.0.0, which means "any address", not a host' };
    const first = Number(text.split('.')[0]);
    if (first >= 224 && first <= 239) return { ok: false, problem: `is ${text}, a multicast address, not a host` };
    if (text === '255.255.255.255') return { ok: false, problem: 'is 255.255.255.255, the broadcast address, not a host' };
    return { ok: true, kind: 'ipv4', canonical: text };
  }
  if (isIPv6(text)) {
    if (text.includes('%')) return { ok: false, problem: `must not include a zone id (${text.slice(text.indexOf('%'))}): link-local addresses do not work between hosts` };
    const canonical = canonicalIPv6(text);
    if (canonical === '::') return { ok: false, problem: 'is ::, which means "any address", not a host' };
    if (canonical.startsWith('ff')) return { ok: false, problem: `is ${text}, a multicast address, not a host` };
    return { ok: true, kind: 'ipv6', canonical };
  }

  const withPort = /^(.+):([0-9]+)$/.exec(text);
  if (withPort && (isIPv4(withPort[1]!) || isDnsName(withPort[1]!))) {
    return { ok: false, problem: `must not include a port; set ssh.port: ${withPort[2]} instead` };
  }
  if (/^[0-9.]+$/.test(text)) {
    return { ok: false, problem: `is not a valid IPv4 address (four numbers from 0 to 255, without leading zeros), got ${JSON.stringify(text)}` };
  }
  if (isDnsName(text)) return { ok: true, kind: 'dns', canonical: text.toLowerCase().replace(/\.$/, '') };
  return { ok: false, problem: `is not a valid IP address or DNS name, got ${JSON.stringify(text)}` };
}

/** 127.0.0.0/8, ::1, an IPv4-mapped loopback, or localhost (and names under .localhost). */
export function isLoopback(address: Extract<AddressCheck, { ok: true }>): boolean {
  if (address.kind === 'ipv4') return address.canonical.startsWith('127.');
  if (address.kind === 'ipv6') return address.canonical === '::1' || /^::ffff:(127\.|7f)/.test(address.canonical);
  return address.canonical === 'localhost' || address.canonical.endsWith('.localhost');
}

export interface Cidr4 {
  address: number;
  prefix: number;
  /** The address without the prefix, as written. */
  text: string;
}

/** `10.0.0.100/24` (the schema already guarantees the shape). */
export function parseCidr4(text: string): Cidr4 | undefined {
  const [address, prefix] = text.split('/');
  const value = address === undefined ? undefined : parseIPv4(address);
  if (value === undefined || prefix === undefined) return undefined;
  return { address: value, prefix: Number(prefix), text: address! };
}

function networkOf(address: number, prefix: number): number {
  const size = 2 ** (32 - prefix);
  return Math.floor(address / size) * size;
}

export function sameSubnet(a: number, b: number, prefix: number): boolean {
  return networkOf(a, prefix) === networkOf(b, prefix);
}

/** The network and broadcast addresses of a subnet; neither can be a VIP (for prefixes up to /30). */
export function reservedAddressOf(cidr: Cidr4): 'network' | 'broadcast' | undefined {
  if (cidr.prefix > 30) return undefined;
  const network = networkOf(cidr.address, cidr.prefix);
  if (cidr.address === network) return 'network';
  if (cidr.address === network + 2 ** (32 - cidr.prefix) - 1) return 'broadcast';
  return undefined;
}

/** Two subnets overlap when the shorter prefix contains the other's network. */
export function subnetsOverlap(a: Cidr4, b: Cidr4): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return sameSubnet(a.address, b.address, prefix);
}

export function formatSubnet(cidr: Cidr4): string {
  return `${formatIPv4(networkOf(cidr.address, cidr.prefix))}/${cidr.prefix}`;
}
