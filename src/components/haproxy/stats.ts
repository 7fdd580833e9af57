/**
 * Reads HAProxy's `show stat` CSV (stats socket or `/;csv` on the stats page),
 * as verify-ha does (research §2.4): per backend, each server's status, whether
 * it is an active or a backup server, and its last check.
 *
 * Columns are found by name from the `# pxname,svname,...` header, never by
 * position, so other HAProxy versions (which add columns) parse the same.
 */
import { DeployError } from '../../errors.js';
import { HAPROXY_WRITER_LISTENER } from './config.js';

/** `status` reduced to what verify-ha reasons about. */
export type ServerState = 'UP' | 'DOWN' | 'MAINT' | 'NOLB' | 'DRAIN' | 'NO_CHECK' | 'OTHER';

export interface HaproxyServerStat {
  name: string;
  /** "10.0.0.11:3306" when HAProxy reports it (the `addr` column). */
  address?: string;
  state: ServerState;
  /** The status column as HAProxy printed it ("UP 1/3", "MAINT (via db/x)", ...). */
  rawStatus: string;
  /** Configured as `backup`. */
  backup: boolean;
  /** `check_status`, e.g. L7OK, L7STS, L4CON, L4TOUT. */
  checkStatus: string;
  /** Seconds since the last UP/DOWN change. */
  lastChangeSeconds?: number;
  currentSessions: number;
  /** Order of the server in the configuration (HAProxy's sid). */
  order: number;
}

export interface HaproxyBackendStat {
  name: string;
  /** Status of the BACKEND row: UP while at least one server can take traffic. */
  state: ServerState;
  rawStatus: string;
  /** Servers in configuration order. */
  servers: HaproxyServerStat[];
}

export interface HaproxyStats {
  backends: HaproxyBackendStat[];
  /** FRONTEND rows (and the frontends of `listen` sections): name → status (OPEN/STOP). */
  frontends: Record<string, string>;
}

export function serverState(status: string): ServerState {
  const s = status.trim().toUpperCase();
  // Transitions are printed as "UP 1/3" (going down) and "DOWN 1/2" (coming up):
  // the server keeps its current role until the transition completes.
  if (s === 'UP' || s.startsWith('UP ')) return 'UP';
  if (s === 'DOWN' || s.startsWith('DOWN ')) return 'DOWN';
  if (s.startsWith('MAINT')) return 'MAINT';
  if (s.startsWith('NOLB')) return 'NOLB';
  if (s.startsWith('DRAIN')) return 'DRAIN';
  if (s === 'NO CHECK') return 'NO_CHECK';
  return 'OTHER';
}

function splitCsvLine(line: string): string[] {
  // HAProxy quotes nothing except free-text fields (check_desc, ...), which may
  // hold commas; handle RFC 4180 quoting to stay correct.
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        current += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      fields.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  fields.push(current);
  return fields;
}

export function parseHaproxyStat(csv: string): HaproxyStats {
  const lines = csv.split(/\r?\n/);
  const headerIndex = lines.findIndex((l) => l.startsWith('# pxname,'));
  if (headerIndex < 0) {
    throw new DeployError('verify-failed', 'HAProxy `show stat` output has no "# pxname,..." header', {
      hint: 'Query the stats socket with `show stat` (or the stats page with ";csv"); got something else.',
    });
  }
  const header = splitCsvLine(lines[headerIndex].slice(2));
  const col = (name: string): number => header.indexOf(name);
  const required = ['pxname', 'svname', 'status'];
  for (const name of required) {
    if (col(name) < 0) throw new DeployError('verify-failed', `HAProxy stat header has no "${name}" column`);
  }
  const get = (fields: string[], name: string): string => {
    const i = col(name);
    return i >= 0 ? (fields[i] ?? '') : '';
  };
  const num = (value: string): number | undefined => (value === '' ? undefined : Number(value));

  const backends = new Map<string, HaproxyBackendStat>();
  const backendOf = (name: string): HaproxyBackendStat => {
    let b = backends.get(name);
    if (!b) {
      b = { name, state: 'OTHER', rawStatus: '', servers: [] };
      backends.set(name, b);
    }
    return b;
  };
  const frontends: Record<string, string> = {};

  for (const line of lines.slice(headerIndex + 1)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = splitCsvLine(line);
    const px = get(f, 'pxname');
    const sv = get(f, 'svname');
    const status = get(f, 'status');
    if (sv === 'FRONTEND') {
      frontends[px] = status;
      continue;
    }
    const type = get(f, 'type');
    if (sv === 'BACKEND') {
      const b = backendOf(px);
      b.state = serverState(status);
      b.rawStatus = status;
      continue;
    }
    // Listener rows (type 3) exist only with `option socket-stats`.
    if (type === '3') continue;
    const sid = num(get(f, 'sid'));
    const b = backendOf(px);
    b.servers.push({
      name: sv,
      address: get(f, 'addr') || undefined,
      state: serverState(status),
      rawStatus: status,
      backup: get(f, 'bck') === '1',
      checkStatus: get(f, 'check_status').replace(/^\* /, ''),
      lastChangeSeconds: num(get(f, 'lastchg')),
      currentSessions: num(get(f, 'scur')) ?? 0,
      order: sid ?? b.servers.length + 1,
    });
  }
  for (const b of backends.values()) b.servers.sort((x, y) => x.order - y.order);
  return { backends: [...backends.values()], frontends };
}

/**
 * The server the writer listener sends new connections to, as HAProxy chooses
 * it: an active server that is UP, else the first UP backup in configuration
 * order (no `option allbackups`). Null when none can take traffic.
 */
export function writerOf(stats: HaproxyStats, listener: string = HAPROXY_WRITER_LISTENER): HaproxyServerStat | null {
  const backend = stats.backends.find((b) => b.name === listener);
  if (!backend) return null;
  const up = backend.servers.filter((s) => s.state === 'UP');
  return up.find((s) => !s.backup) ?? up.find((s) => s.backup) ?? null;
}
