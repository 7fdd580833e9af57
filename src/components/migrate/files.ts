/**
 * Moving a file tree from a source host into the HA tier (a GlusterFS mount on
 * a target host), and proving afterwards that it arrived whole.
 *
 * ## Verification: manifests
 *
 * One remote command per side (`manifestCommand`) prints every entry under the
 * root with type, mode, owner (ids and names), size, mtime, symlink target and,
 * for regular files, SHA-256. Fields and records are NUL-terminated, the only
 * byte a Linux path cannot contain, so spaces, newlines, tabs, backslashes,
 * unicode and invalid UTF-8 in names survive. The runner parses both
 * (`parseManifest`) and compares them (`compareManifests`); nothing is trusted
 * from the copy tool's own report.
 *
 * ## Transfer: rsync bridged through the runner
 *
 * The source and target hosts are not assumed to reach each other (the seed's
 * bastion-only networks), and a temporary key from source to target would put
 * a credential for the cluster on the old server. The runner already has an
 * SSH channel to each. So rsync runs as a normal client on the source, with a
 * "remote shell" that is only a pipe back to the runner:
 *
 *   source: rsync -aH ... --rsh='sh -c "<bridge>"' ./ lms-ha-bridge:.
 *   bridge: writes the remote command rsync asked for (`rsync --server ...`)
 *           as one header line on the channel's stdout, then relays bytes:
 *           its stdin -> channel stdout, channel stdin -> its stdout.
 *   runner: reads the header, validates it (`parseRsyncServerHeader`), starts
 *           `rsync --server ...` in the destination directory on the target
 *           (`rsyncReceiverCommand`), and pipes the two channels into each
 *           other. It stores nothing.
 *
 * This keeps everything rsync gives: a re-run skips what is already there
 * (size + mtime) and `--partial` keeps a half-sent file to continue from, so an
 * interrupted migration resumes instead of restarting; hard links (-H),
 * owners, modes, times and symlinks are preserved. A tar stream through the
 * same two channels would be simpler but starts over after any interruption.
 * The header is validated token by token and the receiver command rebuilt from
 * it, so a compromised source cannot make the target run anything else
 * (or delete anything: no --delete is accepted).
 */
import type { CheckResult } from '../../check.js';
import { DeployError } from '../../errors.js';
import { shellQuote } from '../../ssh/quote.js';
import { joinArgs } from '../glusterfs/cli.js';

export const MIGRATE_LAYER = 'migrate';

// ---------------------------------------------------------------------------
// Manifest command

export const MANIFEST_MAGIC = 'lms-ha-manifest-v1';
const HASH_Z = '--sha256-z--';
const HASH_NL = '--sha256-nl--';
const END = '--end--';

// find -printf: type, permission bits (octal), uid, gid, user, group, size,
// mtime (seconds.fraction), path relative to the root, symlink target.
const PRINTF = '%y\\0%m\\0%U\\0%G\\0%u\\0%g\\0%s\\0%T@\\0%P\\0%l\\0';
const FIELDS = 10;

const RELATIVE_PATH = /^[A-Za-z0-9._+@,=-][A-Za-z0-9._+@,=\/ -]*$/;

function validateExcludes(exclude: readonly string[]): void {
  for (const e of exclude) {
    // Literal relative paths only: they become find -path and rsync patterns,
    // where * ? [ would be wildcards.
    if (!RELATIVE_PATH.test(e) || e.split('/').some((s) => s === '..' || s === '.' || s === '') || e.endsWith('/')) {
      throw new DeployError('invalid-inventory', `exclude "${e}" must be a plain path relative to the migrated directory (no wildcards, "..", or leading/trailing "/")`);
    }
  }
}

function validateRoot(root: string): void {
  if (!root.startsWith('/') || /[\0\n]/.test(root)) {
    throw new DeployError('invalid-inventory', `migration path "${root}" must be absolute`);
  }
}

export interface ManifestOptions {
  /** SHA-256 of every regular file (reads all data). Without it, a quick manifest for plans and resume. */
  hash: boolean;
  /** Paths relative to the root to leave out (e.g. Moodle's cache dirs). */
  exclude?: readonly string[];
}

function pruneExpr(exclude: readonly string[]): string {
  if (exclude.length === 0) return '';
  return `\\( ${exclude.map((e) => `-path ${shellQuote(`./${e}`)}`).join(' -o ')} \\) -prune -o `;
}

/**
 * Files hashed per sha256sum process in the hash pass: small enough that a
 * tree of a few thousand files still spreads over all workers, large enough
 * that a million files make a few thousand processes, not a million.
 */
export const HASH_BATCH_FILES = 64;

/** manifestCommand's exit code when the root cannot be entered (nothing printed). */
export const MANIFEST_ROOT_UNREADABLE_EXIT = 2;
/** manifestCommand's exit code when no temporary directory for the hash pass can be made (nothing printed). */
export const MANIFEST_NO_TEMP_DIR_EXIT = 3;

/**
 * The one command that prints a side's manifest on stdout (binary, NUL
 * separated; see `parseManifest`). The trailer carries both exit codes: a
 * missing trailer means the output was cut short.
 *
 * With hashes, the hash pass runs in the background while the metadata pass
 * prints, and hashes with several sha256sum processes at once (2 per CPU, 4
 * to 16): on a GlusterFS mount each file's open and read waits on the bricks,
 * so one process at a time leaves the CPUs idle (lab: 3,004 files, 95 MB
 * through FUSE, 16-20 s one at a time, 6 s in parallel). Each process writes
 * its own file in a private temporary directory, printed after both passes:
 * processes sharing one pipe would interleave records. A file that no
 * process hashed (a worker failed, the directory was full) is still listed
 * by the metadata pass, so the comparison reports it as unhashed, never as
 * verified.
 *
 * `sha256sum -z` (coreutils 8.27+) ends names with NUL and does not escape
 * them; older systems (CentOS 7's 8.22) lack it, so the newline form with
 * escaped names is used there and marked as such.
 */
export function manifestCommand(root: string, options: ManifestOptions): string {
  validateRoot(root);
  const exclude = options.exclude ?? [];
  validateExcludes(exclude);
  const prune = pruneExpr(exclude);
  const lines = [`cd -- ${shellQuote(root)} || exit ${MANIFEST_ROOT_UNREADABLE_EXIT}`, 'LC_ALL=C; export LC_ALL'];
  if (options.hash) {
    lines.push(
      `hashes=$(mktemp -d) || exit ${MANIFEST_NO_TEMP_DIR_EXIT}`,
      `trap 'rm -rf -- "$hashes"' EXIT`,
      `trap 'exit 143' HUP INT TERM`,
      `if sha256sum -z /dev/null >/dev/null 2>&1; then form='${HASH_Z}' z=-z; else form='${HASH_NL}' z=; fi`,
      'workers=$(( $(nproc 2>/dev/null || echo 2) * 2 )); [ "$workers" -lt 4 ] && workers=4; [ "$workers" -gt 16 ] && workers=16',
      `{ find . -mindepth 1 ${prune}-type f -print0 | xargs -0 -r -P "$workers" -n ${HASH_BATCH_FILES} sh -c 'f=$(mktemp "$1/h.XXXXXX") || exit 255; z=$2; shift 2; exec sha256sum $z -- "$@" >"$f"' sh "$hashes" "$z"; } &`,
      'hasher=$!',
    );
  }
  lines.push(`printf '${MANIFEST_MAGIC}\\0'`, `find . -mindepth 1 ${prune}-printf '${PRINTF}'`, 'rc1=$?');
  if (options.hash) {
    lines.push('wait "$hasher"; rc2=$?', `printf -- '%s\\0' "$form"`, `find "$hashes" -type f -name 'h.*' -exec cat -- {} +`);
  } else {
    lines.push('rc2=0');
  }
  // The leading NUL ends the newline form of the hash section.
  lines.push(`printf -- '\\0${END}\\0%s\\0%s\\0' "$rc1" "$rc2"`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Manifest parsing

export type EntryType = 'f' | 'd' | 'l' | 'p' | 's' | 'c' | 'b' | 'D' | '?';

export interface ManifestEntry {
  /** Relative path. Invalid UTF-8 bytes are shown as \xNN (see `key`). */
  path: string;
  /** Identity for comparison: the path, or a hex form when the name is not valid UTF-8. */
  key: string;
  type: EntryType;
  /** Permission bits as find prints them (octal, e.g. "644", "2775", "4755"). */
  mode: string;
  uid: number;
  gid: number;
  /** Name, or the number when the id has no name on that host. */
  user: string;
  group: string;
  size: number;
  /** Seconds since the epoch with fraction, as printed ("1700000000.1234567890"). */
  mtime: string;
  linkTarget?: string;
  sha256?: string;
}

export interface Manifest {
  entries: Map<string, ManifestEntry>;
  /** The trailer was present: the output is whole. */
  complete: boolean;
  /** Hashes were computed (regular files have sha256). */
  hashed: boolean;
  /** find's exit code for each pass; non-zero means some entry could not be read (e.g. vanished). */
  listExit: number | null;
  hashExit: number | null;
  /** Regular files listed but missing from the hash pass (vanished or unreadable between the passes). */
  unhashed: string[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

interface DecodedName {
  text: string;
  key: string;
}

function decodeName(bytes: Buffer): DecodedName {
  try {
    const text = utf8.decode(bytes);
    return { text, key: text };
  } catch {
    // Show valid runs as text and each byte of an invalid sequence as \xNN.
    let text = '';
    let i = 0;
    while (i < bytes.length) {
      const len = utf8SeqLen(bytes, i);
      if (len > 0) {
        text += bytes.subarray(i, i + len).toString('utf8');
        i += len;
      } else {
        text += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
        i += 1;
      }
    }
    // NUL cannot occur in a path, so this key cannot collide with a valid name.
    return { text, key: `\0hex:${bytes.toString('hex')}` };
  }
}

/** Length of a valid UTF-8 sequence at i, or 0. */
function utf8SeqLen(b: Buffer, i: number): number {
  const c = b[i]!;
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 >= 0xa0)) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 >= 0x90)) return 0;
    return 4;
  }
  return 0;
}

/**
 * Undoes coreutils' escaping of a name in the newline form of sha256sum output
 * (the line then starts with "\\"): \\\\ \\n \\r. Works on bytes so that
 * invalid UTF-8 in the name survives.
 */
function unescapeHashName(name: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === 0x5c && i + 1 < name.length) {
      const d = name[i + 1]!;
      if (d === 0x5c || d === 0x6e || d === 0x72) {
        out.push(d === 0x6e ? 0x0a : d === 0x72 ? 0x0d : 0x5c);
        i++;
        continue;
      }
    }
    out.push(c);
  }
  return Buffer.from(out);
}

function stripDotSlash(name: Buffer): Buffer {
  return name[0] === 0x2e && name[1] === 0x2f ? name.subarray(2) : name;
}

export class ManifestParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestParseError';
  }
}

/**
 * Parses `manifestCommand` output. Pass the raw bytes (a Buffer) whenever
 * possible: a string already decoded as UTF-8 has lost invalid bytes in names.
 */
export function parseManifest(output: Buffer | string): Manifest {
  const buf = typeof output === 'string' ? Buffer.from(output, 'utf8') : output;
  let pos = 0;
  const next = (): Buffer | null => {
    if (pos >= buf.length) return null;
    const end = buf.indexOf(0, pos);
    if (end === -1) {
      // A field without its terminator: output cut short.
      pos = buf.length;
      return null;
    }
    const field = buf.subarray(pos, end);
    pos = end + 1;
    return field;
  };

  const magic = next();
  if (!magic || magic.toString('latin1') !== MANIFEST_MAGIC) {
    throw new ManifestParseError(`not an lms-ha manifest (starts with ${JSON.stringify(buf.subarray(0, 40).toString('utf8'))})`);
  }
  const entries = new Map<string, ManifestEntry>();
  const m: Manifest = { entries, complete: false, hashed: false, listExit: null, hashExit: null, unhashed: [] };
  let mode: 'meta' | 'hash-z' | 'hash-nl' = 'meta';

  for (;;) {
    if (mode === 'hash-nl') {
      // Newline records up to the next NUL, which comes just before the trailer.
      const end = buf.indexOf(0, pos);
      const section = buf.subarray(pos, end === -1 ? buf.length : end);
      let start = 0;
      while (start < section.length) {
        let nl = section.indexOf(0x0a, start);
        if (nl === -1) nl = section.length;
        const line = section.subarray(start, nl);
        start = nl + 1;
        if (line.length === 0) continue;
        const escaped = line[0] === 0x5c;
        const body = escaped ? line.subarray(1) : line;
        const hex = body.subarray(0, 64).toString('latin1');
        if (!/^[0-9a-f]{64}$/.test(hex) || body.length < 67) {
          throw new ManifestParseError(`bad sha256sum line: ${JSON.stringify(line.subarray(0, 100).toString('utf8'))}`);
        }
        const name = body.subarray(66);
        setHash(entries, stripDotSlash(escaped ? unescapeHashName(name) : name), hex);
      }
      if (end === -1) break;
      pos = end + 1;
      mode = 'meta';
      continue;
    }
    const f = next();
    if (f === null) break;
    const s = f.toString('latin1');
    if (s === END) {
      const a = next();
      const b = next();
      m.listExit = a ? Number(a.toString('latin1')) : null;
      m.hashExit = b ? Number(b.toString('latin1')) : null;
      m.complete = a !== null && b !== null;
      break;
    }
    if (s === HASH_Z) {
      mode = 'hash-z';
      m.hashed = true;
      continue;
    }
    if (s === HASH_NL) {
      mode = 'hash-nl';
      m.hashed = true;
      continue;
    }
    // The trailer is preceded by an empty field (see manifestCommand).
    if (s === '') continue;
    if (mode === 'hash-z') {
      // "<64 hex>  ./path"; the path may contain anything but NUL.
      const hex = f.subarray(0, 64).toString('latin1');
      if (!/^[0-9a-f]{64}$/.test(hex) || f.length < 67) throw new ManifestParseError(`bad sha256sum record: ${JSON.stringify(f.subarray(0, 100).toString('utf8'))}`);
      setHash(entries, stripDotSlash(f.subarray(66)), hex);
      continue;
    }
    // Metadata record: this field is the type, FIELDS - 1 more follow.
    const rest: Buffer[] = [];
    for (let i = 1; i < FIELDS; i++) {
      const x = next();
      if (x === null) break;
      rest.push(x);
    }
    if (rest.length < FIELDS - 1) break; // truncated record: incomplete manifest
    if (s.length !== 1) throw new ManifestParseError(`bad entry type ${JSON.stringify(s)}`);
    const [modeF, uid, gid, user, group, size, mtime, path, link] = rest as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
    const name = decodeName(path);
    const e: ManifestEntry = {
      path: name.text,
      key: name.key,
      type: ('fdlpscbD'.includes(s) ? s : '?') as EntryType,
      mode: modeF.toString('latin1'),
      uid: Number(uid.toString('latin1')),
      gid: Number(gid.toString('latin1')),
      user: user.toString('utf8'),
      group: group.toString('utf8'),
      size: Number(size.toString('latin1')),
      mtime: mtime.toString('latin1'),
    };
    if (e.type === 'l') e.linkTarget = decodeName(link).text;
    entries.set(e.key, e);
  }
  if (m.hashed) {
    for (const e of entries.values()) if (e.type === 'f' && e.sha256 === undefined) m.unhashed.push(e.path);
  }
  return m;
}

function setHash(entries: Map<string, ManifestEntry>, name: Buffer, hex: string): void {
  const key = decodeName(name).key;
  const e = entries.get(key);
  if (e) e.sha256 = hex;
}

// ---------------------------------------------------------------------------
// Summary and comparison

export interface ManifestSummary {
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  other: number;
  /** Sum of regular file sizes. */
  bytes: number;
}

export function summarizeManifest(m: Manifest): ManifestSummary {
  const s: ManifestSummary = { entries: 0, files: 0, directories: 0, symlinks: 0, other: 0, bytes: 0 };
  for (const e of m.entries.values()) {
    s.entries++;
    if (e.type === 'f') {
      s.files++;
      s.bytes += e.size;
    } else if (e.type === 'd') s.directories++;
    else if (e.type === 'l') s.symlinks++;
    else s.other++;
  }
  return s;
}

function mtimeSeconds(t: string): string {
  return t.split('.')[0] ?? t;
}

export interface TransferEstimate extends ManifestSummary {
  /** What still has to move, judged like rsync's quick check (size + mtime): all of it on a first run. */
  remainingFiles: number;
  remainingBytes: number;
}

/**
 * The plan's figures: what the source holds, and (given the target's quick
 * manifest, e.g. after an interrupted run) how much of it still has to move.
 */
export function transferEstimate(source: Manifest, target?: Manifest): TransferEstimate {
  const s = summarizeManifest(source);
  let remainingFiles = 0;
  let remainingBytes = 0;
  for (const e of source.entries.values()) {
    if (e.type !== 'f') continue;
    const t = target?.entries.get(e.key);
    if (!t || t.type !== 'f' || t.size !== e.size || mtimeSeconds(t.mtime) !== mtimeSeconds(e.mtime)) {
      remainingFiles++;
      remainingBytes += e.size;
    }
  }
  return { ...s, remainingFiles, remainingBytes };
}

/**
 * Regular files whose copy on the target has a later mtime (whole seconds)
 * than the source's. A copy made by rsync carries the source's time, so these
 * were written on the target since: the application already uses the volume
 * (after the cutover). rsync -a would put the source's older version over
 * them. A file left half-sent by an interrupted rsync is not among them:
 * rsync gives it the time 0 (seen with 3.2.7 and 3.5.0) so that it is resumed.
 */
export function newerOnTarget(source: Manifest, target: Manifest): string[] {
  const newer: string[] = [];
  for (const e of source.entries.values()) {
    if (e.type !== 'f') continue;
    const t = target.entries.get(e.key);
    if (t?.type === 'f' && Number(mtimeSeconds(t.mtime)) > Number(mtimeSeconds(e.mtime))) newer.push(e.path);
  }
  return newer.sort();
}

export type DiffField = 'type' | 'mode' | 'user' | 'group' | 'uid' | 'gid' | 'size' | 'mtime' | 'sha256' | 'linkTarget';

export interface EntryDifference {
  path: string;
  field: DiffField;
  source: string;
  target: string;
}

export interface ManifestComparison {
  /** Regular files in the source. */
  files: number;
  /** Bytes of regular files in the source. */
  bytes: number;
  /** Regular files and bytes found on the target for those paths. */
  targetFiles: number;
  targetBytes: number;
  /** All source entries (files, directories, symlinks, others). */
  entries: number;
  missing: string[];
  extra: string[];
  differing: EntryDifference[];
  /** Reasons the comparison cannot be trusted (a manifest cut short, no hashes, unreadable files). */
  problems: string[];
  ok: boolean;
}

export interface CompareOptions {
  /** The target was written with rsync --chown: every target entry must have this owner. */
  expectedOwner?: { user: string; group: string };
  /** Compare numeric ids instead of names (rsync --numeric-ids). */
  numericIds?: boolean;
  /**
   * Also compare directory mtimes. Off by default: a directory's mtime changes
   * whenever anything inside it is created or removed, so any write to the
   * live target after the copy (Moodle itself) makes it differ harmlessly.
   */
  compareDirMtime?: boolean;
  /** Relative paths (and everything under them) to leave out on both sides, e.g. "lost+found". */
  ignore?: readonly string[];
  /** Require hashes on both sides (the default). Without, content is not compared: a problem. */
  requireHashes?: boolean;
}

function ignored(path: string, ignore: readonly string[]): boolean {
  return ignore.some((p) => path === p || path.startsWith(`${p}/`));
}

/**
 * Source against target, entry by entry:
 * - regular files: size, mtime (whole seconds: filesystems and rsync differ
 *   below that), sha256, mode and owner;
 * - directories: mode and owner (mtime only on request, see CompareOptions);
 * - symlinks: target and owner (Linux symlink modes are always 777, and not
 *   every copy tool can set a symlink's mtime);
 * - everything else: type, mode and owner.
 */
export function compareManifests(source: Manifest, target: Manifest, options: CompareOptions = {}): ManifestComparison {
  const ignore = options.ignore ?? [];
  const requireHashes = options.requireHashes ?? true;
  const missing: string[] = [];
  const extra: string[] = [];
  const differing: EntryDifference[] = [];
  const problems: string[] = [];
  let files = 0;
  let bytes = 0;
  let targetFiles = 0;
  let targetBytes = 0;
  let entries = 0;

  if (!source.complete) problems.push('the source manifest was cut short');
  if (!target.complete) problems.push('the target manifest was cut short');
  if (source.listExit) problems.push(`find on the source exited ${source.listExit} (some entries could not be read)`);
  if (target.listExit) problems.push(`find on the target exited ${target.listExit} (some entries could not be read)`);
  if (requireHashes && (!source.hashed || !target.hashed)) problems.push('file contents were not hashed on both sides');
  if (source.unhashed.length > 0) problems.push(`${source.unhashed.length} source file(s) could not be hashed, e.g. ${source.unhashed[0]}`);
  if (target.unhashed.length > 0) problems.push(`${target.unhashed.length} target file(s) could not be hashed, e.g. ${target.unhashed[0]}`);

  const diff = (path: string, field: DiffField, a: string | number | undefined, b: string | number | undefined) => {
    if (String(a ?? '') !== String(b ?? '')) differing.push({ path, field, source: String(a ?? ''), target: String(b ?? '') });
  };

  for (const s of source.entries.values()) {
    if (ignored(s.path, ignore)) continue;
    entries++;
    if (s.type === 'f') {
      files++;
      bytes += s.size;
    }
    const t = target.entries.get(s.key);
    if (!t) {
      missing.push(s.path);
      continue;
    }
    if (t.type === 'f') {
      targetFiles += s.type === 'f' ? 1 : 0;
      targetBytes += s.type === 'f' ? t.size : 0;
    }
    if (s.type !== t.type) {
      diff(s.path, 'type', s.type, t.type);
      continue;
    }
    if (options.expectedOwner) {
      diff(s.path, 'user', options.expectedOwner.user, t.user);
      diff(s.path, 'group', options.expectedOwner.group, t.group);
    } else if (options.numericIds) {
      diff(s.path, 'uid', s.uid, t.uid);
      diff(s.path, 'gid', s.gid, t.gid);
    } else {
      diff(s.path, 'user', s.user, t.user);
      diff(s.path, 'group', s.group, t.group);
    }
    if (s.type === 'l') {
      diff(s.path, 'linkTarget', s.linkTarget, t.linkTarget);
      continue;
    }
    diff(s.path, 'mode', s.mode, t.mode);
    if (s.type === 'f') {
      diff(s.path, 'size', s.size, t.size);
      diff(s.path, 'mtime', mtimeSeconds(s.mtime), mtimeSeconds(t.mtime));
      if (s.sha256 !== undefined && t.sha256 !== undefined) diff(s.path, 'sha256', s.sha256, t.sha256);
    } else if (s.type === 'd' && options.compareDirMtime) {
      diff(s.path, 'mtime', mtimeSeconds(s.mtime), mtimeSeconds(t.mtime));
    }
  }
  for (const t of target.entries.values()) {
    if (ignored(t.path, ignore)) continue;
    if (!source.entries.has(t.key)) extra.push(t.path);
  }
  missing.sort();
  extra.sort();
  return {
    files,
    bytes,
    targetFiles,
    targetBytes,
    entries,
    missing,
    extra,
    differing,
    problems,
    ok: missing.length === 0 && differing.length === 0 && problems.length === 0,
  };
}

/** Up to `max` paths, quoted, and how many more. */
export function samplePaths(items: readonly string[], max = 10): string {
  const shown = items.slice(0, max).map((p) => JSON.stringify(p));
  return items.length > max ? `${shown.join(', ')} and ${items.length - max} more` : shown.join(', ');
}

/**
 * The verdict as table rows. Missing or differing entries and untrustworthy
 * manifests fail; entries only on the target warn (something else wrote
 * there, or the target was not empty), since they lose nothing.
 */
export function manifestVerdict(cmp: ManifestComparison, where: { source: string; target: string; path: string }): CheckResult[] {
  const host = where.target;
  const row = (check: string, expected: string, observed: string, status: CheckResult['status'], hint?: string): CheckResult => {
    const r: CheckResult = { layer: MIGRATE_LAYER, host, check, expected, observed, status };
    if (hint && status !== 'ok') r.hint = hint;
    return r;
  };
  const rerun = 'Re-run the migration: rsync resumes and copies what is missing or different; then verify again.';
  const out: CheckResult[] = [
    row(
      `files in ${where.path}`,
      `${cmp.files} files, ${cmp.bytes} bytes (from ${where.source})`,
      `${cmp.targetFiles} files, ${cmp.targetBytes} bytes`,
      cmp.targetFiles === cmp.files && cmp.targetBytes === cmp.bytes ? 'ok' : 'fail',
      rerun,
    ),
    row(`missing in ${where.path}`, '0', cmp.missing.length === 0 ? '0' : `${cmp.missing.length}: ${samplePaths(cmp.missing)}`, cmp.missing.length === 0 ? 'ok' : 'fail', rerun),
    row(
      `differing in ${where.path}`,
      '0',
      cmp.differing.length === 0 ? '0' : `${cmp.differing.length}: ${samplePaths(cmp.differing.map((d) => `${d.path} (${d.field}: ${d.source} -> ${d.target})`))}`,
      cmp.differing.length === 0 ? 'ok' : 'fail',
      cmp.differing.some((d) => d.field === 'sha256')
        ? 'Content differs with the same size and time: the copy was corrupted or the file changed on the target. Re-run the migration with the differing files removed on the target.'
        : rerun,
    ),
    row(
      `extra in ${where.path}`,
      '0',
      cmp.extra.length === 0 ? '0' : `${cmp.extra.length}: ${samplePaths(cmp.extra)}`,
      cmp.extra.length === 0 ? 'ok' : 'warn',
      'These exist only on the target; nothing was lost, but check they are expected.',
    ),
  ];
  if (cmp.problems.length > 0) {
    out.push(row(`verification of ${where.path}`, 'complete manifests with hashes on both sides', cmp.problems.join('; '), 'fail', 'Stop writers on the source (maintenance mode), then verify again.'));
  }
  return out;
}

// ---------------------------------------------------------------------------
// rsync through the runner

export const RSYNC_BRIDGE_HOST = 'lms-ha-bridge';

export interface RsyncSpec {
  /** Directory on the source host whose contents are copied. */
  source: string;
  exclude?: readonly string[];
  /** Owner for everything written on the target (rsync --chown), e.g. the web server user. */
  chown?: { user: string; group: string };
  /**
   * Keep numeric ids instead of mapping by name. Off by default: the old
   * server and the cluster may give the app user different numbers (CentOS
   * apache 48 vs Debian www-data 33), and names are what the app runs as.
   */
  numericIds?: boolean;
  /**
   * Copy POSIX ACLs (-A) / extended attributes (-X). Off by default: a
   * GlusterFS FUSE mount refuses ACLs unless mounted with `acl`, and trusted.*
   * or security.* xattrs from the source cannot be set there; either makes
   * rsync exit 23 for every file. LMS data does not use them.
   */
  acls?: boolean;
  xattrs?: boolean;
  /** KiB/s cap, to spare a live source (rsync --bwlimit). */
  bandwidthLimitKiB?: number;
}

/**
 * The bridge "remote shell": prints the command rsync wants run remotely as
 * one line on fd 3 (the channel's stdout), then relays both ways.
 * - The foreground half (the process rsync waits for, like it waits for ssh)
 *   copies fd 4 (channel stdin, i.e. the receiver's output) to rsync; it ends
 *   when the receiver has exited and the runner closes the channel's stdin.
 * - The background half copies rsync's output to fd 3. In a non-interactive
 *   shell a background job's stdin is /dev/null, so it reads a saved copy (fd 5).
 * rsync splits this string itself: single quotes group, no backslash escapes.
 */
const BRIDGE_RSH = `sh -c 'shift; printf "%s\\n" "$*" >&3; exec 5<&0; cat <&5 >&3 & exec cat <&4' ${RSYNC_BRIDGE_HOST}`;

export function rsyncClientArgs(spec: RsyncSpec): string[] {
  validateRoot(spec.source);
  const exclude = spec.exclude ?? [];
  validateExcludes(exclude);
  let flags = '-aH';
  if (spec.acls) flags += 'A';
  if (spec.xattrs) flags += 'X';
  // --update: a file that is newer on the target (the application wrote it
  // there after the cutover) is kept, never replaced by the source's older
  // version; the plan refuses such a target up front (newerOnTarget), this
  // covers a file written during the copy. Verification then names it.
  const args = ['rsync', flags, '--update', '--partial', '--stats'];
  if (spec.numericIds) args.push('--numeric-ids');
  if (spec.chown) {
    for (const n of [spec.chown.user, spec.chown.group]) {
      if (!/^[a-z_][a-z0-9_-]*\$?$|^\d+$/i.test(n)) throw new DeployError('invalid-inventory', `owner "${n}" is not a user or group name`);
    }
    args.push(`--chown=${spec.chown.user}:${spec.chown.group}`);
  }
  if (spec.bandwidthLimitKiB !== undefined) {
    if (!Number.isInteger(spec.bandwidthLimitKiB) || spec.bandwidthLimitKiB <= 0) throw new DeployError('invalid-inventory', 'bandwidth limit must be a positive whole number of KiB/s');
    args.push(`--bwlimit=${spec.bandwidthLimitKiB}`);
  }
  // Anchored at the transfer root: "/cache" matches only <source>/cache.
  for (const e of exclude) args.push(`--exclude=/${e}`);
  args.push(`--rsh=${BRIDGE_RSH}`, './', `${RSYNC_BRIDGE_HOST}:.`);
  return args;
}

/**
 * The source-side command. Its stdout carries the header line and then the
 * rsync protocol (to the target's stdin); its stdin is the target's stdout.
 * rsync's own messages and --stats go to stderr.
 */
export function rsyncSenderCommand(spec: RsyncSpec): string {
  return `cd -- ${shellQuote(spec.source)} && exec 3>&1 4<&0 && LC_ALL=C exec ${joinArgs(rsyncClientArgs(spec))} </dev/null >&2`;
}

/** Long options the receiver may be started with. Anything else in the header is refused. */
export const RSYNC_SERVER_LONG_OPTIONS: readonly RegExp[] = [
  /^--partial$/,
  /^--stats$/,
  /^--numeric-ids$/,
  /^--inplace$/,
  /^--(usermap|groupmap)=[A-Za-z0-9_.*:,$-]+$/,
  /^--chown=[A-Za-z0-9_.:$-]+$/,
  /^--bwlimit=\d+[KkMm]?$/,
];

export interface RsyncServerHeader {
  /** The validated option tokens between `--server` and the trailing `. .`. */
  options: string[];
}

/**
 * Splits the first line (the header) off the bridge's output. Returns null
 * until a newline has arrived; `rest` is protocol data that already followed
 * it and must be forwarded to the target.
 */
export function splitBridgeHeader(chunk: Buffer): { header: string; rest: Buffer } | null {
  const nl = chunk.indexOf(0x0a);
  if (nl === -1) {
    if (chunk.length > 4096) throw new DeployError('command-failed', 'the rsync bridge sent no header line');
    return null;
  }
  return { header: chunk.subarray(0, nl).toString('utf8'), rest: chunk.subarray(nl + 1) };
}

/**
 * Checks the remote command rsync asked for: `rsync --server <options> . .`,
 * options being short-option clusters (e.g. -logDtprHe.iLsfxCIvu, where
 * "e.xxx" lists protocol capabilities) and allow-listed long options. rsync
 * 3.2.4+ backslash-escapes shell-special characters in remote arguments; the
 * escapes are undone before checking. A `--sender` (reverse direction),
 * `--delete*` or anything unexpected is refused.
 */
export function parseRsyncServerHeader(line: string): RsyncServerHeader {
  const tokens = line.trim().split(/ +/).map((t) => t.replace(/\\(.)/g, '$1'));
  const refuse = (why: string): never => {
    throw new DeployError('command-failed', `refusing the rsync receiver command "${line.slice(0, 200)}": ${why}`, {
      hint: 'The source host asked for an rsync receiver lms-ha does not start. Check the rsync on the source, or report a bug if it is a stock rsync.',
    });
  };
  if (tokens[0] !== 'rsync' || tokens[1] !== '--server') refuse('it does not start with "rsync --server"');
  if (tokens.length < 5 || tokens[tokens.length - 1] !== '.' || tokens[tokens.length - 2] !== '.') refuse('it does not end with ". ."');
  const options = tokens.slice(2, -2);
  for (const t of options) {
    if (/^-[A-Za-z0-9.]+$/.test(t)) continue;
    if (t === '--sender') refuse('--sender would copy from the target to the source');
    if (!RSYNC_SERVER_LONG_OPTIONS.some((re) => re.test(t))) refuse(`option ${t} is not allowed`);
  }
  return { options };
}

/** The target-side command: an rsync receiver in the destination directory. */
export function rsyncReceiverCommand(destination: string, header: RsyncServerHeader): string {
  validateRoot(destination);
  return `cd -- ${shellQuote(destination)} && LC_ALL=C exec ${joinArgs(['rsync', '--server', ...header.options, '.', '.'])}`;
}

export interface RsyncExit {
  outcome: 'ok' | 'warn' | 'retry' | 'fail';
  message: string;
}

/** rsync's exit codes (rsync(1) EXIT VALUES), as what to do next. */
export function classifyRsyncExit(code: number): RsyncExit {
  switch (code) {
    case 0:
      return { outcome: 'ok', message: 'rsync finished' };
    case 24:
      return { outcome: 'warn', message: 'some source files vanished during the copy (the site is still writing); verification decides whether that matters' };
    case 23:
      return { outcome: 'fail', message: 'some files could not be copied (rsync exit 23, partial transfer due to error); see the rsync errors above' };
    case 10:
    case 12:
    case 20:
    case 30:
    case 35:
    case 255:
      return { outcome: 'retry', message: `the transfer was interrupted (rsync exit ${code}); running the migration again resumes it` };
    case 11:
      return { outcome: 'fail', message: 'file I/O error (rsync exit 11): is the target full or the mount gone?' };
    default:
      return { outcome: 'fail', message: `rsync failed with exit ${code}` };
  }
}

export interface RsyncStats {
  files?: number;
  regularFilesTransferred?: number;
  totalFileSize?: number;
  transferredFileSize?: number;
  bytesSent?: number;
  bytesReceived?: number;
}

/** Reads the figures of `rsync --stats` (thousands separators removed). */
export function parseRsyncStats(text: string): RsyncStats {
  const n = (re: RegExp): number | undefined => {
    const m = re.exec(text);
    return m ? Number(m[1]!.replace(/[^0-9]/g, '')) : undefined;
  };
  const stats: RsyncStats = {};
  const set = <K extends keyof RsyncStats>(k: K, v: number | undefined) => {
    if (v !== undefined) stats[k] = v;
  };
  set('files', n(/^Number of files: ([\d,.']+)/m));
  set('regularFilesTransferred', n(/^Number of regular files transferred: ([\d,.']+)/m));
  set('totalFileSize', n(/^Total file size: ([\d,.']+) bytes/m));
  set('transferredFileSize', n(/^Total transferred file size: ([\d,.']+) bytes/m));
  set('bytesSent', n(/^Total bytes sent: ([\d,.']+)/m));
  set('bytesReceived', n(/^Total bytes received: ([\d,.']+)/m));
  return stats;
}
