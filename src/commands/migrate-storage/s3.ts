/**
 * migrate-storage, S3 part: with storage.kind s3, the inventory's
 * migrate.files directory (e.g. Open edX instructor uploads on the old
 * server) is copied into the bucket by rclone running on the source host,
 * with the credentials only on its stdin (components/s3/rclone.ts).
 *
 * Gather (read-only): rclone on the source, the source's files and bytes
 * (following symlinks, as the copy does), and when rclone is there the
 * bucket's objects and a per-file comparison (`rclone check`), so a second
 * apply after a complete copy has nothing to do.
 *
 * Apply: Debian's rclone when missing, `rclone copy` (never sync: nothing in
 * the bucket is deleted), then the verification: per-file comparison by size
 * and MD5 and the object count and bytes; any file missing or different fails
 * the run with the host and the files named.
 */
import { DeployError } from '../../errors.js';
import { changeId, type PlannedChange } from '../../engine/change.js';
import type { HostFacts as PlanHostFacts } from '../../engine/plan.js';
import type { Host } from '../../inventory/index.js';
import type { Logger } from '../../log.js';
import type { RemoteHost } from '../../ssh/types.js';
import {
  addRcloneCheckOutput,
  classifyRcloneExit,
  newRcloneCheckTally,
  parseRcloneSize,
  parseSourceFiles,
  rcloneCheckCommand,
  rcloneCopyCommand,
  rcloneEnvDisplay,
  rcloneEnvScript,
  rcloneErrorLine,
  rcloneSizeCommand,
  remotePath,
  s3Verdict,
  sourceFilesCommand,
  tallyReport,
  type RcloneCheckReport,
  type RcloneSize,
  type S3Target,
} from '../../components/s3/rclone.js';
import { aptInstall } from '../../operations/packages.js';
import { FACTS, readFact } from '../../facts/registry.js';
import { parseRcloneFacts, RCLONE_PACKAGE } from '../../facts/s3.js';
import type { CommandContext } from '../context.js';
import type { MigrationPart, MigrationPartPlan } from './part.js';

const COPY_TIMEOUT_MS = 12 * 60 * 60_000;
const CHECK_TIMEOUT_MS = 4 * 60 * 60_000;

export interface S3Gathered {
  remotes: Map<string, RemoteHost>;
  /** Installed rclone version, null when it is not installed. */
  rclone: string | null;
  source: { files: number; bytes: number };
  /** Only when rclone is installed. */
  bucket?: RcloneSize;
  check?: RcloneCheckReport;
}

export interface S3MigrationSetting {
  source: Host;
  dir: string;
  target: S3Target;
  secrets: Record<string, string>;
}

function settingFor(context: CommandContext): S3MigrationSetting | undefined {
  const storage = context.environment.storage;
  const files = context.environment.migrate?.files;
  if (storage.kind !== 's3' || !files) return undefined;
  const source = context.environment.hosts.find((h) => h.name === files.source_host);
  if (!source) throw new DeployError('invalid-inventory', `migrate.files.source_host "${files.source_host}" is not a host of the environment`);
  const s3 = storage.s3;
  const target: S3Target = {
    bucket: s3.bucket,
    // rclone's "Other" speaks plain S3 to any compatible server; without an endpoint it is AWS.
    provider: s3.endpoint ? 'Other' : 'AWS',
    accessKeySecret: s3.access_key_id.env,
    secretKeySecret: s3.secret_access_key.env,
    ...(s3.region ? { region: s3.region } : {}),
    ...(s3.endpoint ? { endpoint: s3.endpoint.replace(/\/$/, '') } : {}),
  };
  return {
    source,
    dir: files.source_path,
    target,
    secrets: {
      [s3.access_key_id.env]: context.secrets.valueOf(s3.access_key_id),
      [s3.secret_access_key.env]: context.secrets.valueOf(s3.secret_access_key),
    },
  };
}

function bucketName(t: S3Target): string {
  return remotePath(t).replace(/^[^:]+:/, 's3://');
}

function rcloneFailure(s: S3MigrationSetting, what: string, r: { code: number; stderr: string }): DeployError {
  const why = rcloneErrorLine(r.stderr) ?? `exit ${r.code}`;
  return new DeployError('command-failed', `${s.source.name}: ${what} for ${bucketName(s.target)} failed: ${why.slice(0, 400)}`, {
    host: s.source.name,
    hint: `${classifyRcloneExit(r.code).message}. Check storage.s3 (endpoint, region, bucket) and the key pair in ${s.target.accessKeySecret}/${s.target.secretKeySecret}; the bucket must exist.`,
  });
}

/**
 * `rclone check`, its report read as it streams: one line per file would not
 * fit in memory for a large tree.
 */
async function checkBucket(host: RemoteHost, s: S3MigrationSetting): Promise<RcloneCheckReport> {
  if (!host.spawn) throw new DeployError('internal', `${host.name}: the transport cannot stream (no spawn)`);
  const p = await host.spawn(rcloneCheckCommand(s.dir, s.target), { purpose: `compare ${s.dir} with ${bucketName(s.target)}`, timeoutMs: CHECK_TIMEOUT_MS });
  p.stdin.end(rcloneEnvScript(s.target, s.secrets));
  const tally = newRcloneCheckTally();
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (chunk: string) => addRcloneCheckOutput(tally, chunk));
  const r = await p.done;
  addRcloneCheckOutput(tally, '', { final: true });
  // rclone check exits 1 when files differ: the report says how; only a report-less failure is an error.
  const report = tallyReport(tally);
  const reported = report.matching + report.missing.length + report.extra.length + report.differing.length + report.errors.length;
  if (r.code !== 0 && !(r.code === 1 && reported > 0)) throw rcloneFailure(s, 'rclone check', r);
  return report;
}

async function bucketSize(host: RemoteHost, s: S3MigrationSetting): Promise<RcloneSize> {
  const r = await host.run(rcloneSizeCommand(s.target, 120), {
    purpose: `count the objects in ${bucketName(s.target)}`,
    stdin: rcloneEnvScript(s.target, s.secrets),
    timeoutMs: CHECK_TIMEOUT_MS,
    allowFailure: true,
  });
  if (r.code !== 0) throw rcloneFailure(s, 'rclone size', r);
  return parseRcloneSize(r.stdout);
}

async function gather(context: CommandContext, s: S3MigrationSetting): Promise<S3Gathered> {
  const host = await context.host(s.source.name);
  const remotes = new Map([[s.source.name, host]]);
  const files = await host.run(sourceFilesCommand(s.dir), { purpose: `count the files in ${s.dir}`, allowFailure: true, timeoutMs: CHECK_TIMEOUT_MS });
  if (files.code === 3) {
    throw new DeployError('preflight-failed', `${s.source.name}: the migration source ${s.dir} does not exist`, {
      host: s.source.name,
      hint: 'Check migrate.files.source_path.',
    });
  }
  if (files.code !== 0) throw new DeployError('command-failed', `${s.source.name}: counting the files in ${s.dir} failed: ${files.stderr.trim().slice(-300)}`, { host: s.source.name });
  const source = parseSourceFiles(files.stdout);
  const pkg = await readFact(host, 'migrate-storage', FACTS.rclone, undefined, { purpose: 'look for rclone', allowFailure: true, timeoutMs: 30_000 });
  const rclone = parseRcloneFacts(pkg.stdout);
  const g: S3Gathered = { remotes, rclone, source };
  if (rclone) {
    g.bucket = await bucketSize(host, s);
    g.check = await checkBucket(host, s);
  }
  return g;
}

export function planS3Migration(s: S3MigrationSetting, g: S3Gathered): MigrationPartPlan {
  const dest = bucketName(s.target);
  const facts: PlanHostFacts[] = [
    {
      name: s.source.name,
      address: s.source.address,
      roles: ['migration source'],
      facts: {
        [s.dir]: `${g.source.files} files, ${g.source.bytes} bytes`,
        rclone: g.rclone ?? 'not installed',
        ...(g.bucket ? { [dest]: `${g.bucket.count} objects, ${g.bucket.bytes} bytes` } : {}),
      },
    },
  ];
  const warnings: string[] = [];
  if (g.check && g.check.extra.length > 0) {
    warnings.push(`${dest} has ${g.check.extra.length} object(s) that are not in ${s.source.name}:${s.dir}; the copy leaves them alone`);
  }
  const complete = g.check !== undefined && g.check.missing.length === 0 && g.check.differing.length === 0 && g.check.errors.length === 0 && g.check.matching === g.source.files;
  if (complete) return { changes: [], warnings, facts };

  const changes: PlannedChange[] = [];
  if (!g.rclone) {
    changes.push({
      kind: 'package',
      id: changeId('package', s.source.name, RCLONE_PACKAGE),
      host: s.source.name,
      summary: `install ${RCLONE_PACKAGE} (copies and verifies the files in S3)`,
      name: RCLONE_PACKAGE,
      from: null,
      to: 'candidate from the package sources',
      apply: async (ctx) => {
        await aptInstall(ctx.host, [RCLONE_PACKAGE], ctx.logger, { noRecommends: true });
      },
    });
  }
  const toCopy = g.check ? g.check.missing.length + g.check.differing.length : g.source.files;
  changes.push({
    kind: 'cluster',
    step: 'migrate-data',
    id: changeId('cluster', s.source.name, 'migrate-s3', s.dir, dest),
    host: s.source.name,
    summary: `copy ${s.dir} (${g.source.files} files, ${g.source.bytes} bytes${g.check ? `; ${toCopy} not yet in the bucket or different` : ''}) to ${dest}, then verify every file`,
    detail: [
      `rclone copy on ${s.source.name}, by checksum, following symlinks; nothing in the bucket is deleted`,
      `remote (credentials on stdin only):\n${rcloneEnvDisplay(s.target).trimEnd()}`,
      'then rclone check (size and MD5 of every file) and rclone size (objects, bytes)',
    ].join('\n'),
    apply: async (ctx) => {
      await copyAndVerify(ctx.host, s, g, ctx.logger);
    },
  });
  return { changes, warnings, facts };
}

async function copyAndVerify(host: RemoteHost, s: S3MigrationSetting, g: S3Gathered, logger: Logger): Promise<void> {
  const dest = bucketName(s.target);
  const started = Date.now();
  const copy = await host.run(rcloneCopyCommand(s.dir, s.target), {
    purpose: `copy ${s.dir} to ${dest}`,
    stdin: rcloneEnvScript(s.target, s.secrets),
    timeoutMs: COPY_TIMEOUT_MS,
    allowFailure: true,
  });
  if (copy.code !== 0) throw rcloneFailure(s, 'rclone copy', copy);
  const secs = (Date.now() - started) / 1000;
  logger.info(`rclone copy to ${dest} finished in ${secs.toFixed(1)} s`, s.source.name);
  // The source may have changed since the plan; count it again for the comparison.
  const now = parseSourceFiles((await host.run(sourceFilesCommand(s.dir), { purpose: `count the files in ${s.dir}`, timeoutMs: CHECK_TIMEOUT_MS })).stdout);
  if (now.files !== g.source.files) logger.warn(`${s.dir} changed during the migration: ${g.source.files} files at plan time, ${now.files} now`, s.source.name);
  const report = await checkBucket(host, s);
  const size = await bucketSize(host, s);
  const rows = s3Verdict(report, { host: s.source.name, source: `${s.source.name}:${s.dir}`, target: s.target }, now, size);
  const failed = rows.filter((r) => r.status === 'fail');
  if (failed.length > 0) {
    throw new DeployError(
      'verify-failed',
      `${s.source.name}: ${dest} does not match ${s.dir} after the copy:\n  ${failed.map((r) => `${r.check}: expected ${r.expected}, found ${r.observed}`).join('\n  ')}`,
      { host: s.source.name, hint: failed[0]!.hint },
    );
  }
  logger.info(`verified ${report.matching} files identical in ${dest} (size and MD5); bucket holds ${size.count} objects, ${size.bytes} bytes`, s.source.name);
}

/** The S3 part of migrate-storage, or undefined unless storage is S3 and migrate.files names a source. */
export function s3MigrationPart(context: CommandContext): MigrationPart<S3Gathered> | undefined {
  const s = settingFor(context);
  if (!s) return undefined;
  return {
    name: 's3',
    hosts: [s.source],
    gather: () => gather(context, s),
    plan: (g) => planS3Migration(s, g),
  };
}
