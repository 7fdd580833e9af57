/**
 * Host key pinning for ssh2. ssh2 accepts any host key unless told otherwise;
 * this verifier accepts only a key pinned in known_hosts for the same
 * host:port and the same key type, and otherwise aborts the handshake, which
 * happens before any authentication, so a man in the middle never sees a
 * login attempt or a signature made with our key.
 */
import { DeployError } from '../errors.js';
import {
  fingerprintSha256,
  isRevoked,
  keyTypeOfBlob,
  knownHostsHostField,
  knownHostsLine,
  lookupHostKeys,
  sameKey,
  type KnownHostsDb,
} from './known-hosts.js';

export interface HostKeyTarget {
  /** Inventory name (for messages). */
  name: string;
  address: string;
  port: number;
  /** Name of the jump host the connection goes through, for messages. */
  via?: string;
}

export interface HostKeyPolicy {
  knownHosts: KnownHostsDb;
  /** Accept any key (unsafe, explicit opt-out). The presented key is still recorded. */
  insecureSkipHostKeyCheck: boolean;
}

/** The key a server presented, as the operator would compare it with `ssh-keygen -lf`. */
export interface PresentedHostKey {
  type: string;
  fingerprint: string;
  /** The known_hosts line that would pin this key. */
  knownHostsLine: string;
  /** False only when accepted through the insecure opt-out. */
  verified: boolean;
}

export type HostKeyDecision =
  | { ok: true; key: PresentedHostKey }
  | { ok: false; key?: PresentedHostKey; error: DeployError };

/** The host-key signature algorithms ssh2 may negotiate for each known_hosts key type. */
const ALGORITHMS_FOR_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  // SHA-2 signatures only: the SHA-1 "ssh-rsa" signature algorithm is refused.
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256'],
};

/** ssh2's default order (ed25519 first), which we fall back to after the pinned types. */
const DEFAULT_ORDER = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
];

/**
 * The `algorithms.serverHostKey` list for this host: the pinned types first,
 * so a server that has several host keys presents one we can check (the trap
 * in appleboy/ssh-action#275: only an RSA line pinned, server offers ed25519
 * first, "mismatch"). The other types stay in the list, after the pinned ones,
 * so a server that lacks every pinned type still completes key exchange far
 * enough for us to say which key it has instead of a bare "no matching host
 * key format". Undefined (ssh2's default) when nothing is pinned.
 */
export function preferredHostKeyAlgorithms(target: HostKeyTarget, policy: HostKeyPolicy): string[] {
  const known = lookupHostKeys(policy.knownHosts, target.address, target.port);
  // Nothing pinned: still never offer ssh-dss or SHA-1 ssh-rsa.
  if (known.size === 0) return [...DEFAULT_ORDER];
  const preferred: string[] = [];
  for (const type of known.keys()) {
    for (const algo of ALGORITHMS_FOR_TYPE[type] ?? []) if (!preferred.includes(algo)) preferred.push(algo);
  }
  for (const algo of DEFAULT_ORDER) if (!preferred.includes(algo)) preferred.push(algo);
  return preferred;
}

/** Decides whether the key blob a server presented may be trusted as target. Pure; used by the verifier. */
export function checkHostKey(target: HostKeyTarget, blob: Buffer, policy: HostKeyPolicy): HostKeyDecision {
  const type = keyTypeOfBlob(blob) ?? 'unknown';
  const fingerprint = fingerprintSha256(blob);
  const line = knownHostsLine(target.address, target.port, blob);
  const where = `${target.name} (${target.address}:${target.port}${target.via ? ` via ${target.via}` : ''})`;
  const presented = `${type} key ${fingerprint}`;
  const key: PresentedHostKey = { type, fingerprint, knownHostsLine: line, verified: false };

  if (isRevoked(policy.knownHosts, blob)) {
    // Even the insecure opt-out does not accept a key someone explicitly revoked.
    return {
      ok: false,
      key,
      error: new DeployError(
        'host-key-mismatch',
        `${where} presented the ${presented}, which is marked @revoked in known_hosts; refusing to connect.`,
        {
          host: target.name,
          hint: `The host is using a key that was revoked. Replace the host's keys (ssh-keygen -A after removing the old ones) and pin the new key after checking it on the host's console.`,
        },
      ),
    };
  }

  if (policy.insecureSkipHostKeyCheck) return { ok: true, key };

  const known = lookupHostKeys(policy.knownHosts, target.address, target.port);
  const field = knownHostsHostField(target.address, target.port);
  const verifyHint =
    `Check the fingerprint on the host itself (e.g. on its console: ssh-keygen -lf /etc/ssh/ssh_host_${shortType(type)}_key.pub), ` +
    `never by trusting this connection`;

  if (known.size === 0) {
    return {
      ok: false,
      key,
      error: new DeployError(
        'host-key-unknown',
        `${where} is not in known_hosts (looked up as ${field}); it presented the ${presented}. Refusing to connect to an unknown host.`,
        {
          host: target.name,
          hint: `${verifyHint}, then add this line to the known-hosts input:\n${line}`,
        },
      ),
    };
  }

  const sameType = known.get(type) ?? [];
  if (sameType.some((k) => sameKey(k.blob, blob))) return { ok: true, key: { ...key, verified: true } };

  const knownList = [...known.values()]
    .flat()
    .map((k) => `${k.type} ${fingerprintSha256(k.blob)} (known_hosts line ${k.line})`)
    .join(', ');
  const why =
    sameType.length > 0
      ? `a different ${type} key is pinned for it`
      : `known_hosts pins only ${[...known.keys()].join(', ')} for it and the server offered none of those`;
  return {
    ok: false,
    key,
    error: new DeployError(
      'host-key-mismatch',
      `HOST KEY MISMATCH for ${where}: it presented the ${presented}, but ${why} [pinned: ${knownList}]. ` +
        `This may be a man-in-the-middle attack, or the host was reinstalled. Refusing to connect.`,
      {
        host: target.name,
        hint: `${verifyHint}. Only if it matches, replace the pinned line(s) for ${field} with:\n${line}`,
      },
    ),
  };
}

/**
 * A synchronous `hostVerifier` for ssh2 plus the decision it made. ssh2 only
 * reports "Host denied (verification failed)"; the caller throws `decision()`'s
 * error instead, which says which host, which key and what to do.
 */
export function createHostVerifier(
  target: HostKeyTarget,
  policy: HostKeyPolicy,
): { hostVerifier: (key: Buffer) => boolean; decision: () => HostKeyDecision | undefined } {
  let last: HostKeyDecision | undefined;
  return {
    hostVerifier: (key: Buffer) => {
      last = checkHostKey(target, key, policy);
      return last.ok;
    },
    decision: () => last,
  };
}

function shortType(type: string): string {
  if (type === 'ssh-ed25519') return 'ed25519';
  if (type.startsWith('ecdsa-')) return 'ecdsa';
  if (type === 'ssh-rsa') return 'rsa';
  if (type === 'ssh-dss') return 'dsa';
  return '*';
}
