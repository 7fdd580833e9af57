/**
 * What a db host has now, gathered in one round trip per host (pyinfra style):
 * installed packages, whether mariadb runs, the Galera option file, wsrep
 * status and grastate.dat. Read-only: plan mode runs exactly this.
 */
import { packagesSnippet, parsePackages } from './packages.js';
import { fileContentSnippet, parseFileContent, splitSections } from './sections.js';
import { MARIADB_PIN_PATH } from '../components/galera/apt-pin.js';
import { GALERA_CONFIG_PATH, GALERA_SST_AUTH_PATH } from '../components/galera/config.js';
import { GRASTATE_PATH, NULL_UUID, parseGrastate, type Grastate } from '../components/galera/recover.js';
import { parseWsrepStatus, WSREP_STATUS_SQL, type NodeStatus } from '../components/galera/status.js';

export const GALERA_PACKAGES = ['mariadb-server', 'galera-4', 'mariadb-backup'] as const;

export interface GaleraHostFacts {
  /** Package → installed version (only fully installed packages). */
  packages: Record<string, string>;
  running: boolean;
  /** `systemctl is-enabled mariadb`: it starts at boot (and, as a member, rejoins). */
  enabled: boolean;
  /** Content of 60-galera.cnf, null when absent. */
  config: string | null;
  /** Parsed wsrep status when mariadb runs and answered; null otherwise. */
  status: NodeStatus | null;
  /** True when the server runs with the Galera provider active. */
  wsrepActive: boolean;
  grastate: Grastate | null;
  /** The SST credentials file (sst.auth=password): digest and metadata only, never its content. */
  sstAuthFile: { sha256: string; mode: number; owner: string; group: string } | null;
  /** Content of the apt pin for MariaDB's packages (database.package_version), null when absent. */
  aptPin: string | null;
}

/** A node that has been part of a cluster (running in one, or stopped with a cluster state). */
export function isClusterMember(f: GaleraHostFacts): boolean {
  if (f.running && f.wsrepActive) return true;
  return f.grastate !== null && f.grastate.uuid !== NULL_UUID;
}

// Sections separated by markers; files as base64 so any byte survives. The
// status query reads its SQL from stdin (no quoting games on the command line).
export function galeraFactsScript(): string {
  return [
    `echo "@@packages"; ${packagesSnippet(GALERA_PACKAGES)}`,
    'echo "@@active"; systemctl is-active mariadb 2>/dev/null || true',
    'echo "@@enabled"; systemctl is-enabled mariadb 2>/dev/null || true',
    `echo "@@config"; ${fileContentSnippet(GALERA_CONFIG_PATH)}`,
    `echo "@@grastate"; ${fileContentSnippet(GRASTATE_PATH)}`,
    `echo "@@sstauth"; if [ -f ${GALERA_SST_AUTH_PATH} ]; then sha256sum ${GALERA_SST_AUTH_PATH} | cut -d' ' -f1; stat -c '%a %U %G' ${GALERA_SST_AUTH_PATH}; else echo "@absent"; fi`,
    `echo "@@aptpin"; ${fileContentSnippet(MARIADB_PIN_PATH)}`,
    'echo "@@status"; if systemctl is-active -q mariadb 2>/dev/null; then timeout 10 mariadb -N -B 2>/dev/null || true; else cat >/dev/null; fi',
  ].join('; ');
}

export function parseGaleraFacts(stdout: string): GaleraHostFacts {
  const s = splitSections(stdout);
  const packages = parsePackages(s.get('packages'));
  const running = (s.get('active') ?? '').trim() === 'active';
  const statusText = s.get('status') ?? '';
  const status = running && statusText.trim() !== '' ? parseWsrepStatus(statusText) : null;
  const grastateText = parseFileContent(s.get('grastate'));
  return {
    packages,
    running,
    enabled: /^enabled/.test((s.get('enabled') ?? '').trim()),
    config: parseFileContent(s.get('config')),
    status,
    wsrepActive: status !== null && !status.missing.includes('wsrep_cluster_status') && status.clusterStatus !== 'Disconnected',
    grastate: grastateText === null ? null : parseGrastate(grastateText),
    sstAuthFile: parseSstAuthFact(s.get('sstauth')),
    aptPin: parseFileContent(s.get('aptpin')),
  };
}

function parseSstAuthFact(section: string | undefined): GaleraHostFacts['sstAuthFile'] {
  const lines = (section ?? '').trim().split('\n');
  if (lines[0] === undefined || lines[0] === '' || lines[0] === '@absent') return null;
  const [mode, owner, group] = (lines[1] ?? '').trim().split(' ');
  return { sha256: lines[0].trim(), mode: Number.parseInt(mode ?? '0', 8), owner: owner ?? '', group: group ?? '' };
}

/** What galeraFactsScript's client reads on stdin. */
export const GALERA_FACTS_STDIN = `${WSREP_STATUS_SQL};\n`;
