/**
 * deploy-lb's fact gathering: one read-only script per host that reports, in
 * `@@kind arg` sections, what deploy-lb compares against (installed packages,
 * system users, directories, files with owner/mode/digest, unit states, tools
 * on PATH), and a pure parser for its answer. Files whose content is secret
 * are reported by digest only: their content never leaves the host.
 */
import { shellQuote } from '../ssh/quote.js';
import { packagesSnippet, parsePackages } from './packages.js';
import { splitSections } from './sections.js';

export interface HostStateQuery {
  packages: readonly string[];
  users: readonly string[];
  dirs: readonly string[];
  /** `read: false` for secret files: owner, mode and sha256 only. */
  files: readonly { path: string; read: boolean }[];
  units: readonly string[];
  /** Executables looked up with `command -v`. */
  commands: readonly string[];
  /**
   * Read-only commands whose output lines are facts (e.g. `nft list tables`).
   * The script is fixed by deploy-lb, never built from input; errors count as no output.
   */
  probes?: readonly { name: string; script: string }[];
}

export interface FileFact {
  mode: number;
  owner: string;
  group: string;
  sha256: string;
  /** Only for files read whole. */
  content?: string;
}

export interface DirFact {
  mode: number;
  owner: string;
  group: string;
}

export interface UnitFact {
  /** `systemctl is-enabled`: enabled, disabled, static, masked, '' (no such unit). */
  enabled: string;
  /** `systemctl is-active`: active, inactive, failed, ... */
  active: string;
}

export interface HostState {
  /** Package → installed version (fully installed only). */
  packages: Record<string, string>;
  users: Record<string, boolean>;
  dirs: Record<string, DirFact | null>;
  files: Record<string, FileFact | null>;
  units: Record<string, UnitFact>;
  commands: Record<string, boolean>;
  /** Probe name → the lines it printed (empty when it failed). */
  probes: Record<string, string[]>;
}

const SAFE_WORD = /^[A-Za-z0-9@_.:\/-]+$/;

function word(value: string): string {
  // Section markers carry the name unquoted: only plain names and paths.
  if (!SAFE_WORD.test(value)) throw new Error(`not a plain name or path: ${JSON.stringify(value)}`);
  return value;
}

export function hostStateScript(q: HostStateQuery): string {
  const parts: string[] = [];
  if (q.packages.length > 0) {
    parts.push(
      `echo "@@pkg"; ${packagesSnippet(q.packages.map(word))}`,
    );
  }
  for (const u of q.users) {
    const n = shellQuote(word(u));
    parts.push(`echo "@@user ${u}"; if getent passwd ${n} >/dev/null 2>&1; then echo present; else echo absent; fi`);
  }
  for (const d of q.dirs) {
    const p = shellQuote(word(d));
    parts.push(`echo "@@dir ${d}"; if [ -d ${p} ]; then stat -c '%a %U %G' ${p}; else echo @absent; fi`);
  }
  for (const f of q.files) {
    const p = shellQuote(word(f.path));
    const read = f.read ? `; base64 -w0 ${p}; echo` : '';
    parts.push(`echo "@@file ${f.path}"; if [ -f ${p} ]; then stat -c '%a %U %G' ${p}; sha256sum ${p} | cut -d' ' -f1${read}; else echo @absent; fi`);
  }
  for (const u of q.units) {
    const n = shellQuote(word(u));
    parts.push(`echo "@@unit ${u}"; echo "enabled=$(systemctl is-enabled ${n} 2>/dev/null)"; echo "active=$(systemctl is-active ${n} 2>/dev/null)"`);
  }
  for (const c of q.commands) {
    parts.push(`echo "@@cmd ${c}"; if command -v ${shellQuote(word(c))} >/dev/null 2>&1; then echo present; else echo absent; fi`);
  }
  for (const p of q.probes ?? []) {
    // A subshell: a probe cannot end the script or change what follows; its stderr is dropped.
    parts.push(`echo "@@probe ${word(p.name)}"; ( ${p.script} ) 2>/dev/null | grep -v '^@@' || true`);
  }
  return parts.join('; ');
}

/** The answer's sections in order, each as its kind (`file`), argument (the path) and lines. */
function sections(stdout: string): Array<{ kind: string; arg: string; lines: string[] }> {
  return [...splitSections(stdout)].map(([key, text]) => {
    const space = key.indexOf(' ');
    return { kind: space === -1 ? key : key.slice(0, space), arg: space === -1 ? '' : key.slice(space + 1), lines: text.split('\n') };
  });
}

function parseOwnerMode(line: string | undefined): DirFact | null {
  const [mode, owner, group] = (line ?? '').trim().split(' ');
  if (!mode || !/^[0-7]{1,4}$/.test(mode) || !owner || !group) return null;
  return { mode: Number.parseInt(mode, 8), owner, group };
}

export function parseHostState(stdout: string, q: HostStateQuery): HostState {
  const state: HostState = { packages: {}, users: {}, dirs: {}, files: {}, units: {}, commands: {}, probes: {} };
  // Everything asked for has an answer, absent unless the host says otherwise.
  for (const u of q.users) state.users[u] = false;
  for (const d of q.dirs) state.dirs[d] = null;
  for (const f of q.files) state.files[f.path] = null;
  for (const u of q.units) state.units[u] = { enabled: '', active: 'unknown' };
  for (const c of q.commands) state.commands[c] = false;
  for (const p of q.probes ?? []) state.probes[p.name] = [];
  for (const s of sections(stdout)) {
    const first = (s.lines[0] ?? '').trim();
    switch (s.kind) {
      case 'pkg':
        state.packages = parsePackages(s.lines.join('\n'));
        break;
      case 'user':
        state.users[s.arg] = first === 'present';
        break;
      case 'dir':
        state.dirs[s.arg] = first === '@absent' ? null : parseOwnerMode(first);
        break;
      case 'file': {
        if (first === '@absent' || first === '') {
          state.files[s.arg] = null;
          break;
        }
        const meta = parseOwnerMode(first);
        const sha256 = (s.lines[1] ?? '').trim();
        if (!meta || !/^[0-9a-f]{64}$/.test(sha256)) {
          state.files[s.arg] = null;
          break;
        }
        const encoded = (s.lines[2] ?? '').trim();
        const wanted = q.files.find((f) => f.path === s.arg);
        state.files[s.arg] = {
          ...meta,
          sha256,
          ...(wanted?.read ? { content: Buffer.from(encoded, 'base64').toString('utf8') } : {}),
        };
        break;
      }
      case 'unit': {
        const get = (key: string) => s.lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1).trim() ?? '';
        state.units[s.arg] = { enabled: get('enabled'), active: get('active') || 'unknown' };
        break;
      }
      case 'cmd':
        state.commands[s.arg] = first === 'present';
        break;
      case 'probe':
        state.probes[s.arg] = s.lines.map((l) => l.trim()).filter((l) => l !== '');
        break;
    }
  }
  return state;
}
