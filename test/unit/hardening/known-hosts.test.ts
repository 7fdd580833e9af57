import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { globMatch, lookupHostKeys, parseKnownHosts } from '../../../src/ssh/known-hosts.js';
import { preferredHostKeyAlgorithms } from '../../../src/ssh/host-key.js';

const { utils } = ssh2;

function ed25519(): string {
  const [type, b64] = utils.generateKeyPairSync('ed25519').public.trim().split(/\s+/);
  return `${type} ${b64}`;
}

// A syntactically valid ssh-dss public key blob (type string + four mpints) is all the parser looks at.
function dssLine(): string {
  const part = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([part(Buffer.from('ssh-dss')), part(Buffer.alloc(129, 1)), part(Buffer.alloc(21, 1)), part(Buffer.alloc(128, 2)), part(Buffer.alloc(128, 3))]);
  return `ssh-dss ${blob.toString('base64')}`;
}

describe('known_hosts hardening', () => {
  it('a negated pattern unpins the host under both of its port-22 spellings, as OpenSSH does', () => {
    const key = ed25519();
    const db = parseKnownHosts(`*,!10.0.0.11 ${key}\n`);
    expect(lookupHostKeys(db, '10.0.0.12', 22).size).toBe(1);
    expect(lookupHostKeys(db, '10.0.0.11', 22).size).toBe(0);
    // The bracketed form must not reach the key either.
    const bracketed = parseKnownHosts(`*,![10.0.0.11]:22 ${key}\n`);
    expect(lookupHostKeys(bracketed, '10.0.0.11', 22).size).toBe(0);
  });

  it('a pattern with many stars is matched without exponential backtracking (bounded only by the test timeout)', () => {
    const stars = `${'*a'.repeat(40)}*b`;
    const name = 'a'.repeat(200);
    expect(globMatch(stars, name)).toBe(false);
    const db = parseKnownHosts(`${stars} ${ed25519()}\n`);
    expect(lookupHostKeys(db, name, 22).size).toBe(0);
  }, 10_000);

  it('the glob matcher agrees with the obvious cases', () => {
    expect(globMatch('*.lab', 'db1.lab')).toBe(true);
    expect(globMatch('db?.lab', 'db1.lab')).toBe(true);
    expect(globMatch('db?.lab', 'db10.lab')).toBe(false);
    expect(globMatch('10.0.*.1', '10.0.5.1')).toBe(true);
    expect(globMatch('10.0.*.1', '10.0.5.2')).toBe(false);
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('a*b*c', 'aXbYc')).toBe(true);
    expect(globMatch('a*b*c', 'aXbY')).toBe(false);
  });

  it('every dropped line is reported with its reason', () => {
    const key = ed25519();
    const text = [
      `10.0.0.1 ${dssLine()}`,
      `@cert-authority *.lab ${key}`,
      `10.0.0.2 ssh-ed25519 not!base64`,
      `10.0.0.3 ssh-rsa ${key.split(' ')[1]}`,
      `10.0.0.4 ${key}`,
      `@revoked * ${key}`,
      `@bogus 10.0.0.5 ${key}`,
    ].join('\n');
    const db = parseKnownHosts(text);
    const notes = db.notes.join('\n');
    expect(notes).toMatch(/line 1: ssh-dss \(DSA\) host keys are refused/);
    expect(notes).toMatch(/line 2: @cert-authority entry ignored/);
    expect(notes).toMatch(/line 3: the key is not valid base64/);
    expect(notes).toMatch(/line 4: the key says it is ssh-ed25519 but the line says ssh-rsa/);
    expect(notes).toMatch(/line 5: this ssh-ed25519 key is also marked @revoked/);
    expect(notes).toMatch(/line 7: unknown marker @bogus/);
    expect(lookupHostKeys(db, '10.0.0.4', 22).size).toBe(0);
    expect(lookupHostKeys(db, '10.0.0.1', 22).size).toBe(0);
  });

  it('never negotiates ssh-dss or the SHA-1 ssh-rsa signature, pinned or not', () => {
    const rsa = utils.generateKeyPairSync('rsa', { bits: 2048 }).public.trim();
    const db = parseKnownHosts(`10.0.0.9 ${rsa}\n`);
    const pinned = preferredHostKeyAlgorithms({ name: 'db9', address: '10.0.0.9', port: 22 }, { knownHosts: db, insecureSkipHostKeyCheck: false });
    expect(pinned.slice(0, 2)).toEqual(['rsa-sha2-512', 'rsa-sha2-256']);
    const unpinned = preferredHostKeyAlgorithms({ name: 'x', address: '10.0.0.8', port: 22 }, { knownHosts: db, insecureSkipHostKeyCheck: true });
    for (const list of [pinned, unpinned]) {
      expect(list).not.toContain('ssh-rsa');
      expect(list).not.toContain('ssh-dss');
    }
  });
});
