import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { shellJoin, shellQuote, wrapCommand } from '../../../src/ssh/quote.js';

/**
 * What a real POSIX sh makes of each quoted word: one `sh` for the whole list
 * (a spawn per string made the test as slow as the machine was busy). Each word
 * is printed, then a NUL, which no quoted string can contain.
 */
function throughSh(quoted: string[]): string[] {
  const script = quoted.map((q) => `printf '%s\\0' ${q}`).join('\n');
  const out = execFileSync('sh', ['-c', script], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('shellQuote', () => {
  it('leaves plain words bare and quotes everything else', () => {
    expect(shellQuote('/etc/mysql/conf.d/galera.cnf')).toBe('/etc/mysql/conf.d/galera.cnf');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('$(reboot)')).toBe("'$(reboot)'");
  });

  it('round-trips hostile strings through a real sh', () => {
    const nasty = [
      "'",
      "''",
      "a'b'c",
      '"double" and \\ backslash',
      '$HOME `id` $(id) ${x:-y}',
      'new\nline\ttab',
      '; rm -rf / #',
      '*?[a-z]~',
      '!event',
      "-n",
      'ünïcødé ✓',
      "'\\''",
    ];
    expect(throughSh(nasty.map((s) => shellQuote(s)))).toEqual(nasty);
  });

  it('round-trips random printable strings', () => {
    const strings = Array.from({ length: 200 }, (_, i) =>
      Array.from(randomBytes(1 + (i % 40)), (b) => String.fromCharCode(32 + (b % 95))).join(''),
    );
    expect(throughSh(strings.map((s) => shellQuote(s)))).toEqual(strings);
  });

  it('refuses NUL, which no argument can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  it('joins words', () => {
    expect(shellJoin(['echo', "it's", 'x y'])).toBe("echo 'it'\\''s' 'x y'");
  });
});

describe('wrapCommand', () => {
  it('runs under sh -c, and under sudo -n only for a non-root login that wants root', () => {
    expect(wrapCommand('id -u', { user: 'root', sudo: true })).toBe("sh -c 'id -u'");
    expect(wrapCommand('id -u', { user: 'deploy', sudo: true })).toBe("sudo -n -- sh -c 'id -u'");
    expect(wrapCommand('id -u', { user: 'deploy', sudo: false })).toBe("sh -c 'id -u'");
  });

  it('puts the host-side timeout inside sudo, around sh', () => {
    expect(wrapCommand('id -u', { user: 'deploy', sudo: true, timeoutSeconds: 600 })).toBe("sudo -n -- timeout -k 5 600 sh -c 'id -u'");
    expect(wrapCommand('id -u', { user: 'root', sudo: true, timeoutSeconds: 0.25 })).toBe("timeout -k 5 0.25 sh -c 'id -u'");
    expect(wrapCommand('true', { user: 'root', sudo: true, timeoutSeconds: 1 / 3 })).toBe('timeout -k 5 0.333 sh -c true');
  });

  it('survives two levels of shell (login shell, then sh -c)', () => {
    const script = `printf '%s|' "it's" '$HOME' "a\\"b"`;
    const line = wrapCommand(script, { user: 'root', sudo: true });
    // sshd hands the line to the login shell with -c; emulate that.
    expect(execFileSync('sh', ['-c', line], { encoding: 'utf8' })).toBe(`it's|$HOME|a"b|`);
  });
});
