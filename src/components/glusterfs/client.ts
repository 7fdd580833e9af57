/**
 * Client side of the volume: the /etc/fstab entry that mounts it at boot, an
 * idempotent edit of fstab that touches only our line, /proc/mounts parsing to
 * tell whether the FUSE mount is really there, and the write probe verify-ha
 * runs through it.
 */
import { DeployError } from '../../errors.js';
import { shellQuote } from '../../ssh/quote.js';

export interface GlusterMountSpec {
  /** Volfile servers, in order of preference; the first is the one named in the entry. */
  servers: string[];
  volume: string;
  /** Where clients see the volume, e.g. /var/www/moodledata. */
  mountPoint: string;
  /**
   * The client is also a gluster server (the Moodle seed's web+db+brick nodes).
   * At boot the mount must then wait for the local glusterd, which _netdev alone
   * does not guarantee; `x-systemd.requires=glusterd.service` orders it after it.
   * Never set it on a client-only host: the unit does not exist there and the
   * mount would fail.
   */
  localServer?: boolean;
  /** Extra mount options, e.g. ["acl"]. */
  extraOptions?: string[];
}

/**
 * fstab escapes whitespace and backslash in its fields as octal (\040 space,
 * \011 tab, \012 newline, \134 backslash); /proc/mounts uses the same form.
 */
export function escapeFstabField(s: string): string {
  return s.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

export function unescapeFstabField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function mountOptions(spec: GlusterMountSpec): string[] {
  const opts = ['defaults', '_netdev'];
  const backups = spec.servers.slice(1);
  // Only used to fetch the volfile when the first server is down at mount
  // time; once mounted, the client talks to every brick directly.
  if (backups.length > 0) opts.push(`backup-volfile-servers=${backups.join(':')}`);
  if (spec.localServer) opts.push('x-systemd.requires=glusterd.service');
  for (const o of spec.extraOptions ?? []) if (!opts.includes(o)) opts.push(o);
  return opts;
}

function validateMountSpec(spec: GlusterMountSpec): void {
  const problems: string[] = [];
  if (spec.servers.length === 0) problems.push('at least one volfile server is needed');
  for (const s of spec.servers) if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(s)) problems.push(`server "${s}" is not a host name or IPv4 address`);
  if (!spec.mountPoint.startsWith('/') || spec.mountPoint === '/' || /[\0\n]/.test(spec.mountPoint)) {
    problems.push(`mount point "${spec.mountPoint}" must be an absolute path other than /`);
  }
  for (const o of spec.extraOptions ?? []) if (!/^[A-Za-z0-9_.=:\/-]+$/.test(o)) problems.push(`mount option "${o}" has characters fstab cannot hold`);
  if (problems.length > 0) {
    throw new DeployError('invalid-inventory', `GlusterFS mount of ${spec.volume} at ${spec.mountPoint}: ${problems.join('; ')}`);
  }
}

/** `<server>:/<vol> <mount> glusterfs defaults,_netdev,backup-volfile-servers=<a>:<b> 0 0` */
export function renderFstabLine(spec: GlusterMountSpec): string {
  validateMountSpec(spec);
  const mp = spec.mountPoint.length > 1 ? spec.mountPoint.replace(/\/+$/, '') : spec.mountPoint;
  return `${spec.servers[0]}:/${spec.volume} ${escapeFstabField(mp)} glusterfs ${mountOptions(spec).join(',')} 0 0`;
}

export interface FstabEntry {
  /** 0-based line number in the file. */
  line: number;
  spec: string;
  file: string;
  vfstype: string;
  options: string[];
  freq: string;
  passno: string;
}

/** The entries of /etc/fstab (comments and blank lines skipped), fields unescaped. */
export function parseFstab(text: string): FstabEntry[] {
  const out: FstabEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    if (f.length < 2) return;
    out.push({
      line: i,
      spec: unescapeFstabField(f[0]!),
      file: unescapeFstabField(f[1]!),
      vfstype: f[2] ?? '',
      options: (f[3] ?? 'defaults').split(','),
      freq: f[4] ?? '0',
      passno: f[5] ?? '0',
    });
  });
  return out;
}

function sameMountPoint(a: string, b: string): boolean {
  const n = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
  return n(a) === n(b);
}

function isGlusterType(t: string): boolean {
  return t === 'glusterfs' || t === 'fuse.glusterfs';
}

/**
 * Puts our line in fstab: replaces the glusterfs entry for the same mount
 * point (first one; later duplicates are removed), or appends it. Everything
 * else is kept byte for byte. Another filesystem already configured on that
 * mount point is a conflict we do not resolve: it would hide or be hidden by
 * the volume.
 */
export function upsertFstabEntry(text: string, spec: GlusterMountSpec): { content: string; changed: boolean; line: string } {
  const line = renderFstabLine(spec);
  const entries = parseFstab(text);
  const conflicting = entries.filter((e) => sameMountPoint(e.file, spec.mountPoint) && !isGlusterType(e.vfstype));
  if (conflicting.length > 0) {
    const e = conflicting[0]!;
    throw new DeployError(
      'preflight-failed',
      `/etc/fstab already mounts ${e.spec} (${e.vfstype}) on ${spec.mountPoint}; the GlusterFS volume cannot be mounted there too`,
      { hint: `Move the existing data into the volume with migrate-storage from another path, then remove line ${e.line + 1} of /etc/fstab.` },
    );
  }
  const ours = entries.filter((e) => sameMountPoint(e.file, spec.mountPoint) && isGlusterType(e.vfstype));
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  if (ours.length === 0) {
    lines.push(line);
  } else {
    lines[ours[0]!.line] = line;
    const drop = new Set(ours.slice(1).map((e) => e.line));
    for (let i = lines.length - 1; i >= 0; i--) if (drop.has(i)) lines.splice(i, 1);
  }
  const content = `${lines.join('\n')}\n`;
  return { content, changed: content !== text, line };
}

export interface MountEntry {
  source: string;
  mountPoint: string;
  fsType: string;
  options: string[];
}

/** Parses /proc/mounts (or /proc/self/mounts); octal escapes undone. */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const raw of text.split('\n')) {
    const f = raw.trim().split(' ');
    if (f.length < 4) continue;
    out.push({
      source: unescapeFstabField(f[0]!),
      mountPoint: unescapeFstabField(f[1]!),
      fsType: f[2]!,
      options: f[3]!.split(','),
    });
  }
  return out;
}

/**
 * The gluster FUSE mount at `mountPoint`, if any. The last entry for a mount
 * point is the visible one (a later mount hides earlier ones). When `volume`
 * is given the source must name it (`server:/volume`); the server part is
 * not compared, since a backup volfile server may have been used.
 */
export function findGlusterMount(mounts: readonly MountEntry[], mountPoint: string, volume?: string): MountEntry | null {
  const atPoint = mounts.filter((m) => sameMountPoint(m.mountPoint, mountPoint));
  const top = atPoint[atPoint.length - 1];
  if (!top || top.fsType !== 'fuse.glusterfs') return null;
  if (volume !== undefined) {
    const vol = top.source.slice(top.source.indexOf(':') + 1).replace(/^\/+/, '');
    if (vol !== volume) return null;
  }
  return top;
}

/**
 * verify-ha's write probe: writes, reads back and removes a small file
 * through the mount, under `timeout` because a hung FUSE mount blocks
 * forever. Prints "lms-ha-probe-ok" on success.
 */
export function writeProbeCommand(mountPoint: string, timeoutSeconds = 10): string {
  const dir = shellQuote(mountPoint);
  const script =
    `f=${dir}/.lms-ha-probe.$(hostname).$$; ` +
    `printf 'lms-ha-probe-ok' > "$f" && r=$(cat "$f") && rm -f "$f" && [ "$r" = lms-ha-probe-ok ] && echo lms-ha-probe-ok`;
  return `timeout -k 2 ${timeoutSeconds} sh -c ${shellQuote(script)}`;
}

export interface WriteProbeResult {
  ok: boolean;
  /** Why not, in words. */
  detail: string;
}

export function parseWriteProbe(result: { code: number; stdout: string; stderr: string }): WriteProbeResult {
  if (result.code === 0 && result.stdout.includes('lms-ha-probe-ok')) return { ok: true, detail: 'write, read back and remove succeeded' };
  if (result.code === 124 || result.code === 137) return { ok: false, detail: 'timed out: the mount is hung' };
  const why = result.stderr.trim().split('\n').pop() ?? '';
  return { ok: false, detail: why !== '' ? why : `exit ${result.code}` };
}
