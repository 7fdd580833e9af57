/**
 * Syncing a directory of a host to S3 (Open edX instructor files), the pure half.
 *
 * The tool is rclone, from Debian's own archive (bookworm: 1.60.1). Debian 12
 * also ships awscli (2.9) and s3cmd (2.3); rclone was chosen because it has a
 * verification command with a machine-readable per-file report
 * (`rclone check --combined -`: "= path" identical, "+ path" only on the
 * source, "- path" only in the bucket, "* path" different, "! path" error),
 * compares by size and MD5 (which it stores in object metadata for multipart
 * uploads, where the ETag is not an MD5), takes its whole configuration from
 * environment variables, and is one static binary with no Python stack.
 *
 * Credentials never appear on a command line: the remote is defined by
 * RCLONE_CONFIG_LMSHA_* variables that the command reads from its stdin, one
 * NAME=value line each, exported with the shell's `read` and `export "$line"`
 * (the value is never parsed as shell code, so it needs no quoting). They
 * exist only in that process's environment. (`. /dev/stdin` would be shorter
 * but cannot open a stdin that is a socket, which is what some SSH servers
 * and process runners hand over.) Only `rcloneEnvScript` sees secret values;
 * plans show `rcloneEnvDisplay`.
 *
 * Transfers use `rclone copy`, never `sync`: a migration must not delete what
 * is already in the bucket. Objects are compared by checksum (ETag/MD5 come
 * with the listing, while modification times need a request per object), and
 * symlinks are followed (-L): S3 has no links, and a link in a course's files
 * means "this content".
 */
import type { CheckResult } from '../../check.js';
import { DeployError } from '../../errors.js';
import { joinArgs } from '../glusterfs/cli.js';

export const RCLONE_REMOTE = 'lmsha';
const ENV_PREFIX = `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_`;

export interface S3Target {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing "/" (e.g. "openedx/uploads"). */
  prefix?: string;
  /** rclone's s3 provider: AWS, Minio, Ceph, DigitalOcean, Wasabi, Other, ... */
  provider: string;
  region?: string;
  /** For S3-compatible servers, e.g. https://minio.internal:9000. */
  endpoint?: string;
  /** Names of the secrets (environment variables on the runner) holding the key pair. */
  accessKeySecret: string;
  secretKeySecret: string;
  /** Canned ACL for new objects; rclone's default is "private". */
  acl?: string;
  /** PEM file on the host with the CA of a private endpoint (rclone --ca-cert). */
  caCertFile?: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9!_.*'()-]+$/;

export function validateS3Target(t: S3Target): void {
  const problems: string[] = [];
  if (!BUCKET.test(t.bucket) || t.bucket.includes('..')) problems.push(`bucket "${t.bucket}" is not a valid S3 bucket name (3-63 lowercase letters, digits, "." and "-")`);
  if (t.prefix !== undefined && t.prefix !== '') {
    const segs = t.prefix.split('/');
    if (segs.some((s) => s === '' || s === '.' || s === '..' || !PREFIX_SEGMENT.test(s))) {
      problems.push(`prefix "${t.prefix}" must be "/"-separated names without empty, "." or ".." parts`);
    }
  }
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(t.provider)) problems.push(`provider "${t.provider}" is not an rclone s3 provider name`);
  if (t.region !== undefined && !/^[a-z0-9-]+$/.test(t.region)) problems.push(`region "${t.region}" is not a region name`);
  if (t.endpoint !== undefined && !/^https?:\/\/[A-Za-z0-9.-]+(:\d+)?\/?$/.test(t.endpoint)) problems.push(`endpoint "${t.endpoint}" must be http(s)://host[:port]`);
  if (t.acl !== undefined && !/^[a-z-]+$/.test(t.acl)) problems.push(`acl "${t.acl}" is not a canned ACL name`);
  if (t.caCertFile !== undefined && !/^\/[A-Za-z0-9._\/-]+$/.test(t.caCertFile)) problems.push(`CA file "${t.caCertFile}" must be a plain absolute path`);
  for (const s of [t.accessKeySecret, t.secretKeySecret]) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) problems.push(`secret name "${s}" is not an environment variable name`);
  if (problems.length > 0) throw new DeployError('invalid-inventory', `S3 target: ${problems.join('; ')}`);
}

/** `lmsha:bucket/prefix` */
export function remotePath(t: S3Target): string {
  return `${RCLONE_REMOTE}:${t.bucket}${t.prefix ? `/${t.prefix}` : ''}`;
}

function envPairs(t: S3Target, access: string, secret: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [
    ['TYPE', 's3'],
    ['PROVIDER', t.provider],
    ['ENV_AUTH', 'false'],
    ['ACCESS_KEY_ID', access],
    ['SECRET_ACCESS_KEY', secret],
    // Do not try to create the bucket (needs more rights than writing objects; the bucket is provisioned elsewhere).
    ['NO_CHECK_BUCKET', 'true'],
  ];
  if (t.region) pairs.push(['REGION', t.region]);
  if (t.endpoint) pairs.push(['ENDPOINT', t.endpoint]);
  if (t.acl) pairs.push(['ACL', t.acl]);
  return pairs;
}

/**
 * What the rclone command reads on stdin: NAME=value lines. Contains the
 * secret values: send it only as stdin, never log it. Throws
 * `missing-secret` when a secret has no value.
 */
export function rcloneEnvScript(t: S3Target, secrets: Record<string, string | undefined>): string {
  validateS3Target(t);
  const get = (name: string): string => {
    const v = secrets[name];
    if (v === undefined || v === '') {
      throw new DeployError('missing-secret', `secret ${name} has no value`, { hint: `Set the environment variable ${name} (a repository or environment secret).` });
    }
    if (/[\n\0]/.test(v)) throw new DeployError('missing-secret', `secret ${name} contains a newline`);
    return v;
  };
  return `${envPairs(t, get(t.accessKeySecret), get(t.secretKeySecret))
    .map(([k, v]) => `${ENV_PREFIX}${k}=${v}`)
    .join('\n')}\n`;
}

/** The same assignments with the secrets named, not shown: for plans and logs. */
export function rcloneEnvDisplay(t: S3Target): string {
  validateS3Target(t);
  return `${envPairs(t, `<secret ${t.accessKeySecret}>`, `<secret ${t.secretKeySecret}>`)
    .map(([k, v]) => `${ENV_PREFIX}${k}=${v}`)
    .join('\n')}\n`;
}

/**
 * Reads the remote's variables from stdin. AWS_CA_BUNDLE is dropped: the AWS
 * SDK inside rclone fails on it ("LoadCustomCABundleError ... transport
 * unsupported type"); a private CA goes through `caCertFile` (--ca-cert).
 */
const READ_ENV = `unset AWS_CA_BUNDLE; while IFS= read -r l; do case "$l" in ${ENV_PREFIX}*=*) export "$l";; esac; done`;

function commonArgs(t: S3Target): string[] {
  return t.caCertFile ? [`--ca-cert=${t.caCertFile}`] : [];
}

function validateSource(dir: string): void {
  if (!dir.startsWith('/') || /[\0\n]/.test(dir)) throw new DeployError('invalid-inventory', `source directory "${dir}" must be absolute`);
}

function excludeArgs(exclude: readonly string[]): string[] {
  return exclude.map((e) => {
    if (!/^[A-Za-z0-9._+@,=-][A-Za-z0-9._+@,=\/ -]*$/.test(e) || e.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new DeployError('invalid-inventory', `exclude "${e}" must be a plain relative path`);
    }
    // rclone filter: anchored at the root, the directory and everything below.
    return `--exclude=/${e}/**`;
  });
}

export interface RcloneCopyOptions {
  exclude?: readonly string[];
  /** Parallel uploads (rclone default 4). */
  transfers?: number;
}

/** Copies the directory's contents into the bucket prefix; stdin must be `rcloneEnvScript`. */
export function rcloneCopyCommand(sourceDir: string, t: S3Target, options: RcloneCopyOptions = {}): string {
  validateS3Target(t);
  validateSource(sourceDir);
  const args = [
    'rclone',
    'copy',
    sourceDir,
    remotePath(t),
    '--checksum',
    '--copy-links',
    '--fast-list',
    '--use-json-log',
    '--log-level=INFO',
    '--stats=0',
    ...commonArgs(t),
    ...excludeArgs(options.exclude ?? []),
  ];
  if (options.transfers !== undefined) args.push(`--transfers=${Math.max(1, Math.floor(options.transfers))}`);
  return `${READ_ENV} && exec ${joinArgs(args)}`;
}

/** Per-file comparison report on stdout (`parseRcloneCheck`); stdin must be `rcloneEnvScript`. */
export function rcloneCheckCommand(sourceDir: string, t: S3Target, options: { exclude?: readonly string[]; download?: boolean } = {}): string {
  validateS3Target(t);
  validateSource(sourceDir);
  const args = ['rclone', 'check', sourceDir, remotePath(t), '--combined=-', '--copy-links', '--fast-list', '--log-level=ERROR', ...commonArgs(t), ...excludeArgs(options.exclude ?? [])];
  // Compares bytes instead of MD5: for objects without an MD5 (multipart uploads by other tools).
  if (options.download) args.push('--download');
  return `${READ_ENV} && exec ${joinArgs(args)}`;
}

/** Object count and bytes under the prefix, as JSON (`parseRcloneSize`); also verify-ha's reachability probe. */
export function rcloneSizeCommand(t: S3Target, timeoutSeconds = 30): string {
  validateS3Target(t);
  const args = [
    'rclone',
    'size',
    remotePath(t),
    '--json',
    '--fast-list',
    `--timeout=${timeoutSeconds}s`,
    `--contimeout=${Math.min(timeoutSeconds, 10)}s`,
    // verify-ha wants an answer, not perseverance.
    '--retries=1',
    '--low-level-retries=1',
    '--log-level=ERROR',
    ...commonArgs(t),
  ];
  return `${READ_ENV} && exec ${joinArgs(args)}`;
}

export interface RcloneCheckReport {
  matching: number;
  /** "+": on the source, not in the bucket. */
  missing: string[];
  /** "-": in the bucket, not on the source. */
  extra: string[];
  /** "*": in both, different. */
  differing: string[];
  /** "!": could not be read or hashed. */
  errors: string[];
}

/**
 * Parses `rclone check --combined -`. One line per file: a symbol, a space,
 * the path. (A newline inside an object name cannot be represented in this
 * report; such names are unusual enough in instructor files to accept.)
 */
export function parseRcloneCheck(stdout: string): RcloneCheckReport {
  const r: RcloneCheckReport = { matching: 0, missing: [], extra: [], differing: [], errors: [] };
  for (const line of stdout.split('\n')) {
    if (line.length < 3 || line[1] !== ' ') continue;
    const path = line.slice(2);
    switch (line[0]) {
      case '=':
        r.matching++;
        break;
      case '+':
        r.missing.push(path);
        break;
      case '-':
        r.extra.push(path);
        break;
      case '*':
        r.differing.push(path);
        break;
      case '!':
        r.errors.push(path);
        break;
    }
  }
  return r;
}

/**
 * Folds one chunk of `rclone check --combined -` output into a running report,
 * for reports too large to hold: `pending` is the unfinished last line, kept
 * for the next chunk. Path lists keep at most `cap` entries; `counts` has them all.
 */
export interface RcloneCheckTally {
  report: RcloneCheckReport;
  counts: { missing: number; extra: number; differing: number; errors: number };
  pending: string;
}

export function newRcloneCheckTally(): RcloneCheckTally {
  return { report: { matching: 0, missing: [], extra: [], differing: [], errors: [] }, counts: { missing: 0, extra: 0, differing: 0, errors: 0 }, pending: '' };
}

export function addRcloneCheckOutput(tally: RcloneCheckTally, chunk: string, options: { final?: boolean; cap?: number } = {}): RcloneCheckTally {
  const cap = options.cap ?? 100;
  const text = tally.pending + chunk;
  const cut = options.final ? text.length : text.lastIndexOf('\n') + 1;
  const part = parseRcloneCheck(text.slice(0, cut));
  tally.pending = text.slice(cut);
  tally.report.matching += part.matching;
  for (const k of ['missing', 'extra', 'differing', 'errors'] as const) {
    tally.counts[k] += part[k].length;
    const room = cap - tally.report[k].length;
    if (room > 0) tally.report[k].push(...part[k].slice(0, room));
  }
  return tally;
}

/** The tally as a report whose lists say how many were left out ("... and N more" in `s3Verdict`). */
export function tallyReport(tally: RcloneCheckTally): RcloneCheckReport {
  const r = tally.report;
  const pad = (list: string[], n: number): string[] => (n > list.length ? [...list, ...Array<string>(n - list.length).fill('…')] : list);
  return { matching: r.matching, missing: pad(r.missing, tally.counts.missing), extra: pad(r.extra, tally.counts.extra), differing: pad(r.differing, tally.counts.differing), errors: pad(r.errors, tally.counts.errors) };
}

/**
 * Regular files under the source directory and their bytes, following
 * symlinks as the copy does (-L): prints "COUNT BYTES". Exit 3 when the
 * directory does not exist.
 */
export function sourceFilesCommand(sourceDir: string, exclude: readonly string[] = []): string {
  validateSource(sourceDir);
  excludeArgs(exclude);
  const prune = exclude.length === 0 ? '' : `\\( ${exclude.map((e) => `-path ${joinArgs([`./${e}`])}`).join(' -o ')} \\) -prune -o `;
  return [
    `cd -- ${joinArgs([sourceDir])} || exit 3`,
    `find -L . -mindepth 1 ${prune}-type f -printf '%s\\n' | awk '{ n++; b += $1 } END { printf "%.0f %.0f\\n", n, b }'`,
  ].join('\n');
}

export function parseSourceFiles(stdout: string): { files: number; bytes: number } {
  const m = /^(\d+) (\d+)$/m.exec(stdout.trim());
  if (!m) throw new Error(`unexpected file count output: ${stdout.trim().slice(0, 200)}`);
  return { files: Number(m[1]), bytes: Number(m[2]) };
}

export interface RcloneSize {
  count: number;
  bytes: number;
}

export function parseRcloneSize(stdout: string): RcloneSize {
  let j: unknown;
  try {
    j = JSON.parse(stdout.trim());
  } catch {
    throw new Error(`rclone size printed no JSON: ${stdout.trim().slice(0, 200)}`);
  }
  const o = j as { count?: unknown; bytes?: unknown };
  if (typeof o.count !== 'number' || typeof o.bytes !== 'number') throw new Error(`rclone size JSON lacks count/bytes: ${stdout.trim().slice(0, 200)}`);
  return { count: o.count, bytes: o.bytes };
}

export interface RcloneExit {
  outcome: 'ok' | 'retry' | 'fail';
  message: string;
}

/** rclone's exit codes (rclone docs, "Exit Code"). */
export function classifyRcloneExit(code: number): RcloneExit {
  switch (code) {
    case 0:
      return { outcome: 'ok', message: 'rclone finished' };
    case 1:
      // Documented as "syntax or usage error", but rclone also exits 1 for a
      // failed command (e.g. "Failed to size: InvalidAccessKeyId ...").
      return { outcome: 'fail', message: 'rclone failed (exit 1)' };
    case 3:
      return { outcome: 'fail', message: 'directory not found (exit 3): the source directory or the bucket does not exist' };
    case 4:
      return { outcome: 'fail', message: 'file not found (exit 4)' };
    case 5:
      return { outcome: 'retry', message: 'temporary error (exit 5): running it again continues where it stopped' };
    case 6:
      return { outcome: 'fail', message: 'some files could not be copied (exit 6); see the errors' };
    case 7:
      return { outcome: 'fail', message: 'fatal error (exit 7): credentials, permissions or quota' };
    default:
      return { outcome: 'fail', message: `rclone failed with exit ${code}` };
  }
}

function sample(items: readonly string[], max = 10): string {
  const shown = items.slice(0, max).map((p) => JSON.stringify(p));
  return items.length > max ? `${shown.join(', ')} and ${items.length - max} more` : shown.join(', ');
}

/**
 * The verification verdict for an S3 migration. `expected` is the source's
 * regular file count and bytes (from its manifest, following symlinks as the
 * copy did); `bucket` what `rclone size` reports.
 */
export function s3Verdict(
  report: RcloneCheckReport,
  where: { host: string; source: string; target: S3Target },
  expected?: { files: number; bytes: number },
  bucket?: RcloneSize,
): CheckResult[] {
  const dest = remotePath(where.target).replace(`${RCLONE_REMOTE}:`, 's3://');
  const row = (check: string, exp: string, observed: string, status: CheckResult['status'], hint?: string): CheckResult => {
    const r: CheckResult = { layer: 'migrate', host: where.host, check, expected: exp, observed, status };
    if (hint && status !== 'ok') r.hint = hint;
    return r;
  };
  const rerun = 'Run the migration again: rclone copy skips what is already there and uploads the rest.';
  const out: CheckResult[] = [];
  if (expected && bucket) {
    out.push(
      row(
        `objects in ${dest}`,
        `at least ${expected.files} objects, ${expected.bytes} bytes (from ${where.source})`,
        `${bucket.count} objects, ${bucket.bytes} bytes`,
        bucket.count >= expected.files && bucket.bytes >= expected.bytes ? 'ok' : 'fail',
        rerun,
      ),
    );
  }
  out.push(
    row(`identical in ${dest}`, expected ? String(expected.files) : 'every source file', String(report.matching), expected === undefined || report.matching === expected.files ? 'ok' : 'fail', rerun),
    row(`missing in ${dest}`, '0', report.missing.length === 0 ? '0' : `${report.missing.length}: ${sample(report.missing)}`, report.missing.length === 0 ? 'ok' : 'fail', rerun),
    row(`differing in ${dest}`, '0', report.differing.length === 0 ? '0' : `${report.differing.length}: ${sample(report.differing)}`, report.differing.length === 0 ? 'ok' : 'fail', rerun),
    row(`unreadable for ${dest}`, '0', report.errors.length === 0 ? '0' : `${report.errors.length}: ${sample(report.errors)}`, report.errors.length === 0 ? 'ok' : 'fail', 'See the rclone errors: permissions on the source, or objects without an MD5 (verify with --download).'),
    row(`extra in ${dest}`, '0', report.extra.length === 0 ? '0' : `${report.extra.length}: ${sample(report.extra)}`, report.extra.length === 0 ? 'ok' : 'warn', 'Objects only in the bucket: not from this migration; nothing was lost.'),
  );
  return out;
}

/**
 * The line that says what went wrong in rclone's stderr: "Failed to size:
 * InvalidAccessKeyId: ...", with its "caused by:" continuation; timestamps
 * dropped. Falls back to the last non-empty line.
 */
export function rcloneErrorLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\s+/, '').trim()).filter((l) => l !== '' && !l.startsWith('{'));
  const i = lines.findIndex((l) => /^(Failed|ERROR|CRITICAL)\b/.test(l));
  if (i === -1) return lines.pop();
  const next = lines[i + 1];
  return next !== undefined && next.startsWith('caused by:') ? `${lines[i]} (${next})` : lines[i];
}

