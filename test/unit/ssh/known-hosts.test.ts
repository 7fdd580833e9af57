import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import {
  fingerprintSha256,
  isRevoked,
  keyTypeOfBlob,
  knownHostsLine,
  lookupHostKeys,
  parseKnownHosts,
} from '../../../src/ssh/known-hosts.js';

const { utils } = ssh2;

function pub(type: 'ed25519' | 'ecdsa' | 'rsa'): { line: string; b64: string; blob: Buffer; type: string } {
  const kp =
    type === 'rsa'
      ? utils.generateKeyPairSync('rsa', { bits: 2048 })
      : type === 'ecdsa'
        ? utils.generateKeyPairSync('ecdsa', { bits: 256 })
        : utils.generateKeyPairSync('ed25519');
  const [t, b64] = kp.public.trim().split(/\s+/) as [string, string];
  return { line: `${t} ${b64}`, b64, blob: Buffer.from(b64, 'base64'), type: t };
}

/** Exactly what `ssh-keygen -H` writes: |1|base64(salt)|base64(HMAC-SHA1(key=salt, data=host field)). */
function hashHost(field: string, salt = randomBytes(20)): string {
  const mac = createHmac('sha1', salt).update(field).digest();
  return `|1|${salt.toString('base64')}|${mac.toString('base64')}`;
}

function hasSshKeygen(): boolean {
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // ssh-keygen -? exits non-zero but exists; only ENOENT means absent.
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

const ed = pub('ed25519');
const ec = pub('ecdsa');
const rsa = pub('rsa');
const other = pub('ed25519');

describe('parseKnownHosts / lookupHostKeys', () => {
  it('reads plain host lists, several key types per host, comments and blank lines', () => {
    const db = parseKnownHosts(
      [
        '# pinned by ops',
        '',
        `db1,10.0.0.11 ${ed.line} root@db1`,
        `10.0.0.11 ${ec.line}`,
        `   10.0.0.11 ${rsa.line}   `,
        `10.0.0.12 ${other.line}`,
      ].join('\n'),
    );
    expect(db.notes).toEqual([]);
    const keys = lookupHostKeys(db, '10.0.0.11', 22);
    expect([...keys.keys()].sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa']);
    expect(keys.get('ssh-ed25519')![0]!.blob.equals(ed.blob)).toBe(true);
    expect(keys.get('ssh-ed25519')![0]!.line).toBe(3);
    expect([...lookupHostKeys(db, 'DB1', 22).keys()]).toEqual(['ssh-ed25519']);
    expect(lookupHostKeys(db, '10.0.0.13', 22).size).toBe(0);
  });

  it('uses [host]:port for non-22 ports and does not mix ports', () => {
    const db = parseKnownHosts(`[10.0.0.11]:2222 ${ed.line}\n10.0.0.11 ${other.line}\n`);
    expect(lookupHostKeys(db, '10.0.0.11', 2222).get('ssh-ed25519')![0]!.blob.equals(ed.blob)).toBe(true);
    expect(lookupHostKeys(db, '10.0.0.11', 22).get('ssh-ed25519')![0]!.blob.equals(other.blob)).toBe(true);
    expect(lookupHostKeys(db, '10.0.0.11', 2200).size).toBe(0);
    // IPv6 with a port, as ssh-keyscan -p writes it.
    const v6 = parseKnownHosts(`[fd00::5]:2222 ${ed.line}`);
    expect(lookupHostKeys(v6, 'fd00::5', 2222).size).toBe(1);
  });

  it('matches hashed entries (HMAC-SHA1 of the host field, as ssh-keygen -H writes them)', () => {
    const db = parseKnownHosts(
      [`${hashHost('10.0.0.21')} ${ed.line}`, `${hashHost('[10.0.0.22]:2222')} ${rsa.line}`, `${hashHost('db3.example')} ${ec.line}`].join('\n'),
    );
    expect(db.notes).toEqual([]);
    expect(lookupHostKeys(db, '10.0.0.21', 22).get('ssh-ed25519')![0]!.blob.equals(ed.blob)).toBe(true);
    expect(lookupHostKeys(db, '10.0.0.22', 2222).get('ssh-rsa')![0]!.blob.equals(rsa.blob)).toBe(true);
    expect(lookupHostKeys(db, '10.0.0.22', 22).size).toBe(0);
    expect(lookupHostKeys(db, 'DB3.example', 22).size).toBe(1); // hashed names are lowercased like OpenSSH does
    expect(lookupHostKeys(db, '10.0.0.2', 22).size).toBe(0);
  });

  it.skipIf(!hasSshKeygen())('agrees with the real ssh-keygen -H and ssh-keygen -l', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lms-ha-kh-'));
    try {
      const file = join(dir, 'known_hosts');
      writeFileSync(file, `10.1.2.3 ${ed.line}\n[10.1.2.4]:2200 ${rsa.line}\n`);
      execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
      const hashed = readFileSync(file, 'utf8');
      expect(hashed).toMatch(/^\|1\|/m);
      expect(hashed).not.toContain('10.1.2.3');
      const db = parseKnownHosts(hashed);
      expect(lookupHostKeys(db, '10.1.2.3', 22).get('ssh-ed25519')![0]!.blob.equals(ed.blob)).toBe(true);
      expect(lookupHostKeys(db, '10.1.2.4', 2200).get('ssh-rsa')![0]!.blob.equals(rsa.blob)).toBe(true);

      const pubFile = join(dir, 'k.pub');
      writeFileSync(pubFile, `${ed.line}\n`);
      const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' });
      expect(out.split(/\s+/)[1]).toBe(fingerprintSha256(ed.blob));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('supports wildcards and negation', () => {
    const db = parseKnownHosts(`10.0.0.*,!10.0.0.9 ${ed.line}\ndb?.lab ${rsa.line}`);
    expect(lookupHostKeys(db, '10.0.0.7', 22).size).toBe(1);
    expect(lookupHostKeys(db, '10.0.0.9', 22).size).toBe(0);
    expect(lookupHostKeys(db, 'db2.lab', 22).has('ssh-rsa')).toBe(true);
    expect(lookupHostKeys(db, 'db22.lab', 22).size).toBe(0);
  });

  it('keeps @revoked keys out of the lookup, for every host', () => {
    const db = parseKnownHosts(`10.0.0.11 ${ed.line}\n10.0.0.11 ${rsa.line}\n@revoked * ${ed.line}\n`);
    const keys = lookupHostKeys(db, '10.0.0.11', 22);
    expect([...keys.keys()]).toEqual(['ssh-rsa']);
    expect(isRevoked(db, ed.blob)).toBe(true);
    expect(isRevoked(db, rsa.blob)).toBe(false);
  });

  it('ignores @cert-authority and malformed lines with a note each (so such hosts stay unknown)', () => {
    const db = parseKnownHosts(
      [
        `@cert-authority *.lab ${ed.line}`,
        `10.0.0.1 ssh-ed25519`,
        `10.0.0.2 ssh-ed25519 not*base64`,
        `10.0.0.3 ssh-rsa ${ed.b64}`,
        `10.0.0.4 sk-ssh-ed25519@openssh.com ${ed.b64}`,
        `|1|short|bad ${ed.line}`,
        `@bogus 10.0.0.5 ${ed.line}`,
        `10.0.0.6 ssh-ed25519 ${ed.b64.slice(0, 20)}`,
      ].join('\n'),
    );
    expect(db.entries).toEqual([]);
    expect(db.notes).toHaveLength(8);
    expect(db.notes[0]).toMatch(/^line 1: @cert-authority entry ignored/);
    expect(db.notes[3]).toMatch(/^line 4: the key says it is ssh-ed25519 but the line says ssh-rsa/);
  });
});

describe('fingerprints and lines', () => {
  it('formats SHA256 fingerprints like ssh-keygen -l (base64, no padding)', () => {
    const fp = fingerprintSha256(ed.blob);
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('reads the key type from a blob and renders the known_hosts line to add', () => {
    expect(keyTypeOfBlob(ed.blob)).toBe('ssh-ed25519');
    expect(keyTypeOfBlob(rsa.blob)).toBe('ssh-rsa');
    expect(keyTypeOfBlob(Buffer.from([0, 0]))).toBeUndefined();
    expect(knownHostsLine('10.0.0.11', 22, ed.blob)).toBe(`10.0.0.11 ${ed.line}`);
    expect(knownHostsLine('10.0.0.11', 2222, ed.blob)).toBe(`[10.0.0.11]:2222 ${ed.line}`);
    // The line we suggest parses back to the same pin.
    const db = parseKnownHosts(knownHostsLine('10.0.0.11', 2222, ec.blob));
    expect(lookupHostKeys(db, '10.0.0.11', 2222).get(ec.type)![0]!.blob.equals(ec.blob)).toBe(true);
  });
});
