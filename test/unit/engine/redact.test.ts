import { describe, expect, it, vi } from 'vitest';

import { Redactor } from '../../../src/engine/redact.js';

const SECRET = 'hunter2-Correct/Horse+Battery';

describe('Redactor', () => {
  it('leaves text alone when nothing is registered', () => {
    expect(new Redactor().redact(`password=${SECRET}`)).toBe(`password=${SECRET}`);
  });

  it('redacts the raw value, every occurrence', () => {
    const r = new Redactor().add(SECRET);
    expect(r.redact(`a ${SECRET} b ${SECRET}`)).toBe('a *** b ***');
  });

  it.each([
    ['base64', Buffer.from(SECRET).toString('base64')],
    ['base64url', Buffer.from(SECRET).toString('base64url')],
    ['percent-encoded', encodeURIComponent(SECRET)],
    ['JSON-escaped', JSON.stringify(`a"${SECRET}`).slice(1, -1)],
  ])('redacts the %s form', (_name, encoded) => {
    const r = new Redactor().add(SECRET);
    const out = r.redact(`value: ${encoded}`);
    expect(out).toContain('***');
    expect(out).not.toContain(encoded);
  });

  it('redacts a form-encoded value (spaces as +)', () => {
    const r = new Redactor().add('my secret value');
    expect(r.redact('pw=my+secret+value&x=1')).toBe('pw=***&x=1');
  });

  it('redacts a secret embedded at any offset of a longer base64 blob (basic auth, config dumps)', () => {
    const r = new Redactor().add(SECRET);
    for (const prefix of ['', 'a', 'ab', 'admin:', 'user1:']) {
      const blob = Buffer.from(`${prefix}${SECRET}@tail`).toString('base64');
      const out = r.redact(`Authorization: Basic ${blob}`);
      expect(out, `prefix ${JSON.stringify(prefix)}`).toContain('***');
      // Whatever survives must not decode back to the secret.
      const survivors = out.replace('Authorization: Basic ', '').split('***');
      for (const piece of survivors) expect(Buffer.from(piece, 'base64').toString('utf8')).not.toContain(SECRET);
    }
  });

  it('replaces the longest secret first', () => {
    const r = new Redactor().add('abcdefgh').add('abcdefgh-longer');
    expect(r.redact('x abcdefgh-longer y')).toBe('x *** y');
  });

  it('masks each line of a multi-line secret', () => {
    const key = '-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\n-----END KEY-----';
    const r = new Redactor().add(key);
    expect(r.redact('stderr: bad line AAAAB3NzaC1yc2EAAAADAQABAAABAQ here')).toBe('stderr: bad line *** here');
    expect(r.redact(key)).toBe('***');
  });

  it('ignores empty values (they would match everywhere)', () => {
    const r = new Redactor().add('').add(undefined).add(null);
    expect(r.size).toBe(0);
    expect(r.redact('abc')).toBe('abc');
  });

  it('calls onAdd once per new raw value', () => {
    const onAdd = vi.fn();
    const r = new Redactor({ onAdd });
    r.add(SECRET).add(SECRET).add('other-secret');
    expect(onAdd.mock.calls).toEqual([[SECRET], ['other-secret']]);
  });

  it('redacts deep values (never keys: they are lms-ha\'s own field names), keeping JSON valid for secrets with JSON syntax', () => {
    const tricky = '","x":"';
    const r = new Redactor().add(tricky).add(SECRET);
    const value = { a: `pw ${tricky}`, list: [SECRET, 1, null], failureReason: 'internal', nested: { b: SECRET } };
    const redacted = new Redactor().add(tricky).add(SECRET).add('failureReason').redactDeep(value);
    const text = JSON.stringify(redacted);
    expect(text).not.toContain(SECRET);
    expect(JSON.parse(text)).toEqual({ a: 'pw ***', list: ['***', 1, null], failureReason: 'internal', nested: { b: '***' } });
    expect(r.redactDeep({ x: SECRET })).toEqual({ x: '***' });
  });

  it('redacts error messages', () => {
    const r = new Redactor().add(SECRET);
    expect(r.redactError(new Error(`mysql: access denied for password ${SECRET}`))).toBe('mysql: access denied for password ***');
  });

  it('does not mask short base64 fragments of a short secret inside ordinary text', () => {
    const r = new Redactor().add('abc');
    expect(r.redact('the quick brown fox YWJj')).toBe('the quick brown fox ***');
    expect(r.redact('the quick brown fox')).toBe('the quick brown fox');
  });
});
