/**
 * OpenSSH known_hosts, parsed by hand: the file is the operator's single source
 * of trust for host keys, so we read exactly the format `ssh-keyscan`,
 * `ssh-keygen -H` and `ssh` itself write, and nothing looser.
 *
 * Supported: comma-separated host lists, `[host]:port` for non-22 ports,
 * hashed hosts (`|1|salt|hash`, HMAC-SHA1 of the host field keyed by the salt),
 * several keys (and key types) per host, `*`/`?` wildcards and `!` negation,
 * `@revoked` (a revoked key is refused for every host), comments and blank lines.
 * `@cert-authority` lines are skipped with a note: ssh2 does not verify host
 * certificates, and silently trusting a CA key as if it were a host key would
 * be worse than ignoring it.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';

/**
 * Key types accepted as pinned host keys. `ssh-dss` (DSA, 1024-bit, removed
 * from OpenSSH) is refused; `ssh-rsa` keys are accepted only with the SHA-2
 * signature algorithms (rsa-sha2-256/512), never the SHA-1 `ssh-rsa` one.
 */
export const HOST_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;

/** Longest host field read: a pattern is matched in O(pattern × name), so its length is what bounds a lookup. */
const MAX_HOST_FIELD = 4096;

export type HostMatcher =
  | { kind: 'hashed'; salt: Buffer; hash: Buffer }
  | { kind: 'patterns'; patterns: { negated: boolean; pattern: string }[] };

export interface KnownHostKey {
  /** The key type as written on the line, e.g. `ssh-ed25519`. */
  type: string;
  /** The raw public key blob (the base64 field, decoded). */
  blob: Buffer;
  /** 1-based line in the known_hosts text, for messages. */
  line: number;
}

export interface KnownHostsEntry extends KnownHostKey {
  marker?: 'revoked';
  hosts: HostMatcher;
}

export interface KnownHostsDb {
  /** Usable lines (plain keys and `@revoked`), in file order. */
  entries: KnownHostsEntry[];
  /** Lines that were skipped and why, e.g. `line 3: @cert-authority ... ignored`. */
  notes: string[];
}

/** Parses known_hosts text. Never throws: bad lines are skipped with a note, so a host whose line is broken is simply unknown (fail closed). */
export function parseKnownHosts(text: string): KnownHostsDb {
  const db: KnownHostsDb = { entries: [], notes: [] };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);

    let marker: 'revoked' | undefined;
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@cert-authority') {
        db.notes.push(
          `line ${lineNo}: @cert-authority entry ignored (host certificates are not supported; pin the host keys themselves)`,
        );
        return;
      }
      if (m !== '@revoked') {
        db.notes.push(`line ${lineNo}: unknown marker ${m}; line ignored`);
        return;
      }
      marker = 'revoked';
    }

    if (fields.length < 3) {
      db.notes.push(`line ${lineNo}: expected "hosts keytype base64-key"; line ignored`);
      return;
    }
    const [hostField, type, b64] = fields as [string, string, string];

    if (type === 'ssh-dss') {
      db.notes.push(`line ${lineNo}: ssh-dss (DSA) host keys are refused: DSA is broken and removed from OpenSSH; pin the host's ed25519 or ecdsa key instead; line ignored`);
      return;
    }
    if (!(HOST_KEY_TYPES as readonly string[]).includes(type)) {
      db.notes.push(`line ${lineNo}: key type ${type} is not supported; line ignored`);
      return;
    }
    if (hostField.length > MAX_HOST_FIELD) {
      db.notes.push(`line ${lineNo}: the host field is longer than ${MAX_HOST_FIELD} characters; line ignored`);
      return;
    }
    const blob = decodeBase64Strict(b64);
    if (!blob) {
      db.notes.push(`line ${lineNo}: the key is not valid base64; line ignored`);
      return;
    }
    const embedded = keyTypeOfBlob(blob);
    if (embedded !== type) {
      db.notes.push(
        `line ${lineNo}: the key says it is ${embedded ?? 'unreadable'} but the line says ${type}; line ignored`,
      );
      return;
    }
    // A truncated paste can still start with a valid type; let ssh2 check the whole structure.
    const parsed = ssh2.utils.parseKey(`${type} ${b64}`);
    if (parsed instanceof Error || Array.isArray(parsed)) {
      db.notes.push(`line ${lineNo}: the ${type} key is malformed (truncated?); line ignored`);
      return;
    }

    const hosts = parseHostField(hostField);
    if (!hosts) {
      db.notes.push(`line ${lineNo}: malformed host field; line ignored`);
      return;
    }
    db.entries.push({ marker, hosts, type, blob, line: lineNo });
  });
  // A host whose only pinned key is revoked is unpinned: say so, or the operator only sees "not in known_hosts".
  for (const entry of db.entries) {
    if (entry.marker !== 'revoked' && isRevoked(db, entry.blob)) {
      db.notes.push(`line ${entry.line}: this ${entry.type} key is also marked @revoked, so it pins nothing`);
    }
  }
  return db;
}

/**
 * The keys pinned for host:port, by key type. Revoked keys are left out
 * (see `isRevoked`). Port 22 is looked up as plain `host` like OpenSSH does;
 * `[host]:22` is accepted too since it can only mean the same thing, but a
 * negated pattern for either name unpins the line for both (`*,!db1` must not
 * pin db1 through its `[db1]:22` spelling).
 */
export function lookupHostKeys(db: KnownHostsDb, host: string, port: number): Map<string, KnownHostKey[]> {
  const names = hostLookupNames(host, port);
  const byType = new Map<string, KnownHostKey[]>();
  for (const entry of db.entries) {
    if (entry.marker === 'revoked') continue;
    const verdicts = names.map((n) => hostMatch(entry.hosts, n));
    if (verdicts.includes('negated') || !verdicts.includes('matched')) continue;
    if (isRevoked(db, entry.blob)) continue;
    const list = byType.get(entry.type) ?? [];
    list.push({ type: entry.type, blob: entry.blob, line: entry.line });
    byType.set(entry.type, list);
  }
  return byType;
}

/**
 * A revoked key must never be accepted, whatever host line it is revoked on:
 * a key that leaked from one machine is no proof of identity for any other.
 */
export function isRevoked(db: KnownHostsDb, blob: Buffer): boolean {
  return db.entries.some((e) => e.marker === 'revoked' && e.blob.equals(blob));
}

/** `SHA256:<base64 without padding>`, exactly as `ssh-keygen -l` prints it. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type embedded at the start of an SSH public key blob (`string` type name). */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(type) ? type : undefined;
}

/** The host field OpenSSH uses for host:port (`host` for 22, `[host]:port` otherwise). */
export function knownHostsHostField(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** A complete known_hosts line for this key, as `ssh-keyscan` would print it. */
export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  const type = keyTypeOfBlob(blob) ?? 'unknown';
  return `${knownHostsHostField(host, port)} ${type} ${blob.toString('base64')}`;
}

/** Equality that does not leak, by timing, how much of a key matched. */
export function sameKey(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function hostLookupNames(host: string, port: number): string[] {
  const h = host.toLowerCase();
  return port === 22 ? [h, `[${h}]:22`] : [`[${h}]:${port}`];
}

function parseHostField(field: string): HostMatcher | undefined {
  if (field.startsWith('|')) {
    // |1|base64(salt)|base64(HMAC-SHA1(salt, host))
    const parts = field.split('|');
    if (parts.length !== 4 || parts[0] !== '' || parts[1] !== '1') return undefined;
    const salt = decodeBase64Strict(parts[2]!);
    const hash = decodeBase64Strict(parts[3]!);
    if (!salt || !hash || salt.length !== 20 || hash.length !== 20) return undefined;
    return { kind: 'hashed', salt, hash };
  }
  const patterns = field
    .split(',')
    .filter((p) => p !== '')
    .map((p) => (p.startsWith('!') ? { negated: true, pattern: p.slice(1) } : { negated: false, pattern: p }));
  if (patterns.length === 0 || patterns.some((p) => p.pattern === '')) return undefined;
  return { kind: 'patterns', patterns };
}

function hostMatch(matcher: HostMatcher, name: string): 'matched' | 'negated' | 'none' {
  if (matcher.kind === 'hashed') {
    const digest = createHmac('sha1', matcher.salt).update(name).digest();
    return sameKey(digest, matcher.hash) ? 'matched' : 'none';
  }
  // OpenSSH: a matching negated pattern vetoes the line even if another pattern matches.
  let matched = false;
  for (const { negated, pattern } of matcher.patterns) {
    if (globMatch(pattern.toLowerCase(), name)) {
      if (negated) return 'negated';
      matched = true;
    }
  }
  return matched ? 'matched' : 'none';
}

/**
 * `*` and `?` glob, greedy with one backtrack point: O(pattern × name) at
 * worst, where a regular expression (or OpenSSH's recursive matcher) is
 * exponential in the number of `*` (a pattern of 30 stars took minutes).
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === name[n])) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = n;
    } else if (star !== -1) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Node's base64 decoder skips garbage silently; a pinned key must be exactly what was written. */
function decodeBase64Strict(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  const buf = Buffer.from(s, 'base64');
  if (buf.length === 0) return undefined;
  // Round trip (ignoring padding) rejects truncated or non-canonical input.
  if (buf.toString('base64').replace(/=+$/, '') !== s.replace(/=+$/, '')) return undefined;
  return buf;
}
