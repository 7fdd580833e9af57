import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASH_BATCH_FILES, MANIFEST_MAGIC, MANIFEST_NO_TEMP_DIR_EXIT, ManifestParseError, compareManifests, manifestCommand, manifestVerdict, parseManifest, summarizeManifest, transferEstimate } from '../../../src/components/migrate/files.js';
import { DeployError } from '../../../src/errors.js';

// ---------------------------------------------------------------------------
// Hand-built manifests, in the exact byte format of manifestCommand's output.

interface Rec {
  type?: string;
  mode?: string;
  uid?: number;
  gid?: number;
  user?: string;
  group?: string;
  size?: number;
  mtime?: string;
  path: string | Buffer;
  link?: string;
  sha?: string;
}

function build(recs: Rec[], opts: { hashed?: boolean; trailer?: boolean } = {}): Buffer {
  const parts: Buffer[] = [Buffer.from(`${MANIFEST_MAGIC}\0`)];
  for (const r of recs) {
    const f = [r.type ?? 'f', r.mode ?? '644', String(r.uid ?? 33), String(r.gid ?? 33), r.user ?? 'www-data', r.group ?? 'www-data', String(r.size ?? 0), r.mtime ?? '1700000000.5000000000'];
    parts.push(Buffer.from(f.map((x) => `${x}\0`).join('')), Buffer.isBuffer(r.path) ? r.path : Buffer.from(r.path), Buffer.from('\0'), Buffer.from(`${r.link ?? ''}\0`));
  }
  if (opts.hashed ?? true) {
    parts.push(Buffer.from('--sha256-z--\0'));
    for (const r of recs) {
      if ((r.type ?? 'f') !== 'f') continue;
      parts.push(Buffer.from(`${r.sha ?? 'a'.repeat(64)}  ./`), Buffer.isBuffer(r.path) ? r.path : Buffer.from(r.path), Buffer.from('\0'));
    }
  }
  if (opts.trailer ?? true) parts.push(Buffer.from('\0--end--\x000\x000\0'));
  return Buffer.concat(parts);
}

const tree: Rec[] = [
  { type: 'd', mode: '755', path: 'course files', size: 4096 },
  { path: 'course files/intro.pdf', size: 1000, sha: '1'.repeat(64) },
  { path: 'course files/naïve résumé.txt', size: 20, sha: '2'.repeat(64) },
  { path: 'line\nbreak.txt', size: 3, sha: '3'.repeat(64) },
  { type: 'l', mode: '777', path: 'latest.pdf', link: 'course files/intro.pdf' },
  { path: 'setuid-tool', mode: '4755', size: 10, sha: '4'.repeat(64) },
];

describe('parseManifest', () => {
  it('reads every field, names with spaces, newlines and unicode', () => {
    const m = parseManifest(build(tree));
    expect(m.complete).toBe(true);
    expect(m.hashed).toBe(true);
    expect(m.entries.size).toBe(6);
    expect(m.entries.get('line\nbreak.txt')).toEqual({
      path: 'line\nbreak.txt',
      key: 'line\nbreak.txt',
      type: 'f',
      mode: '644',
      uid: 33,
      gid: 33,
      user: 'www-data',
      group: 'www-data',
      size: 3,
      mtime: '1700000000.5000000000',
      sha256: '3'.repeat(64),
    });
    expect(m.entries.get('latest.pdf')!.linkTarget).toBe('course files/intro.pdf');
    expect(m.entries.get('course files/naïve résumé.txt')!.sha256).toBe('2'.repeat(64));
  });

  it('keeps names that are not valid UTF-8 distinct and readable', () => {
    const a = Buffer.from([0x66, 0xff, 0x2e, 0x74]); // f\xff.t
    const b = Buffer.from([0x66, 0xfe, 0x2e, 0x74]);
    const m = parseManifest(build([{ path: a, size: 1 }, { path: b, size: 1 }]));
    expect(m.entries.size).toBe(2);
    const paths = [...m.entries.values()].map((e) => e.path).sort();
    expect(paths).toEqual(['f\\xfe.t', 'f\\xff.t']);
    expect([...m.entries.values()].every((e) => e.sha256 !== undefined)).toBe(true);
  });

  it('notices a cut-short output', () => {
    const full = build(tree);
    const m = parseManifest(full.subarray(0, full.length - 30));
    expect(m.complete).toBe(false);
    expect(parseManifest(build(tree, { trailer: false })).complete).toBe(false);
  });

  it('rejects output that is not a manifest', () => {
    expect(() => parseManifest('sh: 1: cd: can\'t cd to /nope\n')).toThrow(ManifestParseError);
  });

  it('summarizes counts and bytes for the plan', () => {
    expect(summarizeManifest(parseManifest(build(tree)))).toEqual({ entries: 6, files: 4, directories: 1, symlinks: 1, other: 0, bytes: 1033 });
  });
});

describe('compareManifests', () => {
  const src = () => parseManifest(build(tree));

  it('a faithful copy compares clean', () => {
    const c = compareManifests(src(), src());
    expect(c).toMatchObject({ ok: true, files: 4, bytes: 1033, targetFiles: 4, targetBytes: 1033, missing: [], extra: [], differing: [], problems: [] });
    expect(manifestVerdict(c, { source: 'old', target: 'moodle1', path: '/var/www/moodledata' }).every((r) => r.status === 'ok')).toBe(true);
  });

  it('finds missing, extra and differing entries and names the field', () => {
    const target = build([
      tree[0]!,
      { ...tree[1]!, sha: 'f'.repeat(64) }, // corrupted, same size and time
      { ...tree[2]!, mode: '600' },
      // line\nbreak.txt missing
      { ...tree[4]!, link: '/etc/passwd' },
      { ...tree[5]!, user: 'root' },
      { path: 'stray.tmp', size: 5 },
    ]);
    const c = compareManifests(src(), parseManifest(target));
    expect(c.ok).toBe(false);
    expect(c.missing).toEqual(['line\nbreak.txt']);
    expect(c.extra).toEqual(['stray.tmp']);
    expect(c.differing).toEqual([
      { path: 'course files/intro.pdf', field: 'sha256', source: '1'.repeat(64), target: 'f'.repeat(64) },
      { path: 'course files/naïve résumé.txt', field: 'mode', source: '644', target: '600' },
      { path: 'latest.pdf', field: 'linkTarget', source: 'course files/intro.pdf', target: '/etc/passwd' },
      { path: 'setuid-tool', field: 'user', source: 'www-data', target: 'root' },
    ]);
    const v = manifestVerdict(c, { source: 'old', target: 'moodle1', path: '/var/www/moodledata' });
    expect(v.map((r) => [r.check, r.status])).toEqual([
      ['files in /var/www/moodledata', 'fail'],
      ['missing in /var/www/moodledata', 'fail'],
      ['differing in /var/www/moodledata', 'fail'],
      ['extra in /var/www/moodledata', 'warn'],
    ]);
    expect(v[1]!.observed).toBe('1: "line\\nbreak.txt"');
    expect(v[2]!.hint).toMatch(/corrupted/);
  });

  it('compares types, sizes and mtimes to the second', () => {
    const t = parseManifest(
      build([
        { ...tree[0]!, type: 'f', sha: '0'.repeat(64) },
        { ...tree[1]!, size: 999 },
        { ...tree[2]!, mtime: '1700000000.9999999999' }, // same second: equal
        { ...tree[3]!, mtime: '1700000001.0000000000' },
        tree[4]!,
        tree[5]!,
      ]),
    );
    const c = compareManifests(src(), t);
    expect(c.differing.map((d) => `${d.path}:${d.field}`)).toEqual(['course files:type', 'course files/intro.pdf:size', 'line\nbreak.txt:mtime']);
  });

  it('ignores directory mtimes unless asked, and symlink modes always', () => {
    const t = parseManifest(build([{ ...tree[0]!, mtime: '1800000000.0' }, tree[1]!, tree[2]!, tree[3]!, { ...tree[4]!, mode: '755', mtime: '1' }, tree[5]!]));
    expect(compareManifests(src(), t).ok).toBe(true);
    expect(compareManifests(src(), t, { compareDirMtime: true }).differing.map((d) => d.field)).toEqual(['mtime']);
  });

  it('checks the forced owner after --chown, or numeric ids', () => {
    const t = parseManifest(build(tree.map((r) => ({ ...r, user: 'apache', group: 'apache', uid: 48, gid: 48 }))));
    expect(compareManifests(src(), t).differing).toHaveLength(12);
    expect(compareManifests(src(), t, { expectedOwner: { user: 'apache', group: 'apache' } }).ok).toBe(true);
    const sameIds = parseManifest(build(tree.map((r) => ({ ...r, user: '33', group: '33' }))));
    expect(compareManifests(src(), sameIds, { numericIds: true }).ok).toBe(true);
  });

  it('does not trust a cut-short or unhashed manifest', () => {
    const full = build(tree);
    const c = compareManifests(src(), parseManifest(full.subarray(0, full.length - 12)));
    expect(c.ok).toBe(false);
    expect(c.problems).toContain('the target manifest was cut short');
    const unhashed = compareManifests(src(), parseManifest(build(tree, { hashed: false })));
    expect(unhashed.problems).toContain('file contents were not hashed on both sides');
    expect(manifestVerdict(unhashed, { source: 'a', target: 'b', path: '/x' }).pop()!.status).toBe('fail');
  });

  it('leaves ignored paths out on both sides', () => {
    const t = parseManifest(build([...tree, { type: 'd', path: 'lost+found' }, { path: 'lost+found/#123', size: 1 }]));
    expect(compareManifests(src(), t).extra).toEqual(['lost+found', 'lost+found/#123']);
    expect(compareManifests(src(), t, { ignore: ['lost+found'] }).ok).toBe(true);
  });

  it('estimates what a resumed transfer still has to move', () => {
    const partial = parseManifest(build([tree[0]!, tree[1]!, { ...tree[2]!, size: 5 }], { hashed: false }));
    expect(transferEstimate(src(), partial)).toMatchObject({ files: 4, bytes: 1033, remainingFiles: 3, remainingBytes: 33 });
    expect(transferEstimate(src())).toMatchObject({ remainingFiles: 4, remainingBytes: 1033 });
  });
});

// ---------------------------------------------------------------------------
// The real command against a real tree (GNU find and coreutils, as on the hosts).

function run(cmd: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  return execFileSync('sh', ['-c', cmd], { encoding: 'buffer', env, maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('manifestCommand on a real tree', () => {
  let dir: string;
  let src: string;
  let dst: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lmsha-manifest-'));
    src = join(dir, 'src');
    dst = join(dir, 'dst');
    mkdirSync(join(src, 'a/b/c'), { recursive: true });
    writeFileSync(join(src, 'a/b/c/deep.txt'), 'deep');
    writeFileSync(join(src, 'with space.txt'), 'space');
    writeFileSync(join(src, 'new\nline'), 'nl');
    writeFileSync(join(src, 'tab\there'), 'tab');
    writeFileSync(join(src, 'back\\slash'), 'bs');
    writeFileSync(join(src, 'ünïcödé-日本.txt'), 'u');
    writeFileSync(Buffer.from(join(src, 'latin1-\xe9.txt'), 'latin1'), 'l1');
    writeFileSync(join(src, 'empty'), '');
    writeFileSync(join(src, 'odd-mode'), 'x');
    chmodSync(join(src, 'odd-mode'), 0o4751);
    mkdirSync(join(src, 'sticky'));
    chmodSync(join(src, 'sticky'), 0o1777);
    symlinkSync('a/b/c/deep.txt', join(src, 'rel-link'));
    symlinkSync('/nonexistent/target', join(src, 'broken-link'));
    linkSync(join(src, 'with space.txt'), join(src, 'hard link'));
    mkdirSync(join(src, 'cache/x'), { recursive: true });
    writeFileSync(join(src, 'cache/x/tmp'), 'volatile');
    utimesSync(join(src, 'empty'), 1_600_000_000, 1_600_000_000);
    run(`cp -a ${JSON.stringify(src)} ${JSON.stringify(dst)}`);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists everything with the right types, modes and hashes', () => {
    const m = parseManifest(run(manifestCommand(src, { hash: true })));
    expect(m.complete).toBe(true);
    expect(m.listExit).toBe(0);
    expect(m.hashExit).toBe(0);
    expect(m.unhashed).toEqual([]);
    const byPath = new Map([...m.entries.values()].map((e) => [e.path, e]));
    expect(byPath.get('new\nline')!.sha256).toBe(createHash('sha256').update('nl').digest('hex'));
    expect(byPath.get('tab\there')!.sha256).toBe(createHash('sha256').update('tab').digest('hex'));
    expect(byPath.get('empty')!.sha256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(byPath.get('empty')!.mtime.split('.')[0]).toBe('1600000000');
    expect(byPath.get('odd-mode')!.mode).toBe('4751');
    expect(byPath.get('sticky')).toMatchObject({ type: 'd', mode: '1777' });
    expect(byPath.get('rel-link')).toMatchObject({ type: 'l', linkTarget: 'a/b/c/deep.txt' });
    expect(byPath.get('broken-link')).toMatchObject({ type: 'l', linkTarget: '/nonexistent/target' });
    expect(byPath.get('tab\there')!.size).toBe(3);
    expect(byPath.get('back\\slash')!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(byPath.get('ünïcödé-日本.txt')!.type).toBe('f');
    expect(byPath.get('latin1-\\xe9.txt')!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const deep = byPath.get('a/b/c/deep.txt')!;
    expect(deep.uid).toBe(process.getuid!());
    expect(deep.user).toMatch(/^[a-z_][a-z0-9_-]*$/);
    expect(m.entries.size).toBe(19);
  });

  it('a cp -a copy compares clean; corruption, chmod, removal and additions are caught', () => {
    const s = parseManifest(run(manifestCommand(src, { hash: true })));
    expect(compareManifests(s, parseManifest(run(manifestCommand(dst, { hash: true })))).ok).toBe(true);

    // Same size, same mtime, different bytes: only the hash can tell.
    const victim = join(dst, 'with space.txt');
    run(`printf SPACE > ${JSON.stringify(victim)} && touch -r ${JSON.stringify(join(src, 'with space.txt'))} ${JSON.stringify(victim)}`);
    chmodSync(join(dst, 'odd-mode'), 0o755);
    unlinkSync(join(dst, 'new\nline'));
    writeFileSync(join(dst, 'extra file'), 'e');
    const c = compareManifests(s, parseManifest(run(manifestCommand(dst, { hash: true }))));
    expect(c.missing).toEqual(['new\nline']);
    expect(c.extra).toEqual(['extra file']);
    expect(c.differing.map((d) => `${d.path}:${d.field}`).sort()).toEqual(['hard link:sha256', 'odd-mode:mode', 'with space.txt:sha256']);
  });

  it('leaves excluded directories out', () => {
    const m = parseManifest(run(manifestCommand(src, { hash: true, exclude: ['cache'] })));
    expect([...m.entries.keys()].some((k) => k.startsWith('cache'))).toBe(false);
    expect(m.entries.has('a/b/c/deep.txt')).toBe(true);
  });

  it('falls back to escaped sha256sum output where -z is missing (coreutils < 8.27)', () => {
    const shim = join(dir, 'shim');
    mkdirSync(shim, { recursive: true });
    const real = run('command -v sha256sum').toString().trim();
    writeFileSync(join(shim, 'sha256sum'), `#!/bin/sh\nfor a in "$@"; do [ "$a" = -z ] && { echo "sha256sum: invalid option -- 'z'" >&2; exit 1; }; done\nexec ${real} "$@"\n`);
    chmodSync(join(shim, 'sha256sum'), 0o755);
    const old = parseManifest(run(manifestCommand(src, { hash: true }), { ...process.env, PATH: `${shim}:${process.env.PATH}` }));
    const modern = parseManifest(run(manifestCommand(src, { hash: true })));
    expect(old.complete).toBe(true);
    expect(old.unhashed).toEqual([]);
    for (const [k, e] of modern.entries) expect(old.entries.get(k)!.sha256).toBe(e.sha256);
  });

  it('reports a root that does not exist as a failure, not an empty tree', () => {
    expect(() => run(manifestCommand(join(dir, 'nope'), { hash: true }))).toThrow();
  });

  it('hashes many files in parallel batches, every one of them, and leaves no temporary files', () => {
    const many = join(dir, 'many');
    const files = HASH_BATCH_FILES * 9 + 5;
    for (let i = 0; i < files; i++) {
      mkdirSync(join(many, `d${i % 13}`), { recursive: true });
      writeFileSync(join(many, `d${i % 13}`, `f ${i}`), `file ${i}\n`.repeat(i % 40));
    }
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const m = parseManifest(run(manifestCommand(many, { hash: true }), { ...process.env, TMPDIR: tmp }));
    expect(m.complete).toBe(true);
    expect(m.hashExit).toBe(0);
    expect(m.unhashed).toEqual([]);
    const hashed = [...m.entries.values()].filter((e) => e.type === 'f');
    expect(hashed).toHaveLength(files);
    for (const e of hashed) {
      const i = Number(e.path.split(' ')[1]);
      expect(e.sha256, e.path).toBe(createHash('sha256').update(`file ${i}\n`.repeat(i % 40)).digest('hex'));
    }
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a hash process that fails leaves its files unhashed, and the comparison refuses to call them verified', () => {
    const shim = join(dir, 'shim-failing');
    mkdirSync(shim, { recursive: true });
    const real = run('command -v sha256sum').toString().trim();
    // Fails (no output) for the batch holding one particular file, as a read error would.
    writeFileSync(join(shim, 'sha256sum'), `#!/bin/sh\nfor a in "$@"; do case "$a" in *deep.txt) exit 1;; esac; done\nexec ${real} "$@"\n`);
    chmodSync(join(shim, 'sha256sum'), 0o755);
    const broken = parseManifest(run(manifestCommand(dst, { hash: true }), { ...process.env, PATH: `${shim}:${process.env.PATH}` }));
    expect(broken.complete).toBe(true);
    expect(broken.hashExit).not.toBe(0);
    expect(broken.unhashed).toContain('a/b/c/deep.txt');
    const cmp = compareManifests(parseManifest(run(manifestCommand(dst, { hash: true }))), broken);
    expect(cmp.ok).toBe(false);
    expect(cmp.problems.join('; ')).toMatch(/target file\(s\) could not be hashed/);
  });

  it('without a temporary directory for the hashes, exits with its own code and prints nothing', () => {
    let failure: { status: number; stdout: Buffer } | undefined;
    try {
      run(manifestCommand(src, { hash: true }), { ...process.env, TMPDIR: join(dir, 'no-such-dir') });
    } catch (e) {
      failure = e as { status: number; stdout: Buffer };
    }
    expect(failure?.status).toBe(MANIFEST_NO_TEMP_DIR_EXIT);
    expect(failure?.stdout.length).toBe(0);
  });
});

describe('manifestCommand validation', () => {
  it('refuses relative roots and wildcard or escaping excludes', () => {
    expect(() => manifestCommand('relative', { hash: true })).toThrow(DeployError);
    for (const bad of ['*.tmp', '../x', '/abs', 'a//b', 'dir/']) expect(() => manifestCommand('/x', { hash: false, exclude: [bad] })).toThrow(DeployError);
  });
  it('quotes the root', () => {
    expect(manifestCommand("/srv/it's here", { hash: false })).toContain("cd -- '/srv/it'\\''s here' || exit 2");
  });
});
