/**
 * What each application preset brings: the databases its platform needs (so
 * `app.users[].databases` can name them without repeating them in
 * `app.databases`), the conventional user, where its files go, the server
 * settings the platform wants from the cluster, and what it sees in a failover.
 * The connection settings themselves are rendered by src/components/platform.
 */
import type { AppPreset } from './schema.js';

export type PlatformPreset = Exclude<AppPreset, 'custom'>;

/** A server setting a preset decides, with the reason shown next to it in the plan. */
export interface PresetServerSetting {
  name: string;
  value: string | number | boolean;
  why: string;
}

export interface PresetDefinition {
  title: string;
  databases: readonly string[];
  charset: string;
  collation: string;
  /** The account name the platform's own docs use. */
  user: string;
  /** The file tree shared by the web hosts (GlusterFS), when storage.mount_path is not given. */
  files?: { mountPath: string; owner: string };
  /** Settings for the [mariadb] group; database.options overrides any of them. */
  serverSettings: readonly PresetServerSetting[];
  /** gcache sizing: the size to start from and how to measure the real need. */
  gcache: { start: string; why: string };
  /** What the platform sees during a failover, in the operator's words. */
  failover: readonly string[];
  /** Which platform versions this tier suits. */
  versions: string;
}

/**
 * Every connection reaches the cluster from a load balancer's or web host's
 * address, and users' hosts are addresses: a reverse DNS lookup only costs time
 * and, behind HAProxy, logs "IP address could not be resolved" for each
 * connection. The socket accounts lms-ha uses (`localhost`) keep working.
 */
const SKIP_NAME_RESOLVE: PresetServerSetting = {
  name: 'skip_name_resolve',
  value: 'ON',
  why: 'users connect from addresses (the load balancers\'), so reverse DNS only adds delay and "could not be resolved" warnings',
};

/**
 * Galera's wsrep_auto_increment_control steps ids by the cluster size so that
 * several writers never collide. lms-ha sends every write to one node (HAProxy's
 * writer listener, ProxySQL's writer hostgroup), so ids can be consecutive again:
 * Moodle's installer otherwise warns that the admin user's id is "unexpected".
 */
const SINGLE_WRITER_AUTO_INCREMENT: readonly PresetServerSetting[] = [
  { name: 'wsrep_auto_increment_control', value: 'OFF', why: 'one writer at a time (the load balancer sends every write to one node), so ids need not step by the cluster size' },
  { name: 'auto_increment_increment', value: 1, why: 'consecutive ids under a single writer' },
  { name: 'auto_increment_offset', value: 1, why: 'consecutive ids under a single writer' },
];

const GCACHE_HOW =
  'gcache must hold the writes of the longest time a node may be away (maintenance, a reboot) so it rejoins by IST instead of a full copy: size = write rate x hours. Measure the rate after a busy day with verify-ha (its "gcache window" check reports MiB/h and hours held), then set database.gcache_size to at least 4 h of it.';

const PER_REQUEST_STALL =
  'Per-request connections (each web request opens its own) stall about 3 s when the writer node is killed (until the load balancer marks it down) and about 2 s when a load balancer stops (the VIP moves); no acknowledged write is lost.';

export const PRESETS: Readonly<Record<PlatformPreset, PresetDefinition>> = {
  moodle: {
    title: 'Moodle',
    databases: ['moodle'],
    charset: 'utf8mb4',
    collation: 'utf8mb4_unicode_ci',
    user: 'moodle',
    files: { mountPath: '/var/www/moodledata', owner: 'www-data' },
    serverSettings: [SKIP_NAME_RESOLVE, ...SINGLE_WRITER_AUTO_INCREMENT],
    gcache: { start: '1G', why: `a small Moodle site writes a few hundred MiB an hour (a test site filled 256M in under 2 h). ${GCACHE_HOW}` },
    failover: [
      'Behind HAProxy a long-lived connection (cron, backups, admin CLI scripts) fails on every later query after the writer dies ("MySQL server has gone away"): re-run the job; it connects to the new writer.',
      PER_REQUEST_STALL,
      'A fail-back to the original writer (when it is healthy again) costs one more error for connections open at that moment.',
      'Reads on the reader port wait for the writes already committed (wsrep_sync_wait=1), so a page never reads older data than it just wrote.',
    ],
    versions: 'Moodle 4.5 needs MariaDB >= 10.6.7; Moodle 5.0 needs MariaDB >= 10.11.0 and PHP >= 8.2. The default database.version "10.11" suits both.',
  },
  openedx: {
    title: 'Open edX (Tutor)',
    // edxapp_csmh holds courseware student module history, split out of edxapp.
    databases: ['edxapp', 'edxapp_csmh'],
    charset: 'utf8mb4',
    collation: 'utf8mb4_unicode_ci',
    user: 'edxapp001',
    serverSettings: [SKIP_NAME_RESOLVE, ...SINGLE_WRITER_AUTO_INCREMENT],
    gcache: { start: '2G', why: `tracking logs and courseware state make Open edX write more than Moodle per learner. ${GCACHE_HOW}` },
    failover: [
      'Through ProxySQL the application keeps its connection: ProxySQL moves the writer hostgroup to another node and retries; an open transaction on the dead writer fails and Django returns an error for that request.',
      PER_REQUEST_STALL.replace('until the load balancer marks it down', "until ProxySQL's monitor marks it down"),
      'Celery workers hold long-lived connections: a task running at the moment of a writer failure fails once and is retried by Celery when it has retries configured.',
      'Reads routed to the readers wait for the writes already committed (wsrep_sync_wait=1), so a learner always sees an answer just submitted.',
    ],
    versions: 'Tutor (Open edX Quince and later) expects MySQL 8 by default; with RUN_MYSQL: false it works against MariaDB 10.11 (Django 4.2 supports MariaDB >= 10.4).',
  },
  chamilo: {
    title: 'Chamilo',
    databases: ['chamilo'],
    charset: 'utf8mb4',
    collation: 'utf8mb4_unicode_ci',
    user: 'chamilo',
    files: { mountPath: '/var/www/chamilo-data', owner: 'www-data' },
    serverSettings: [SKIP_NAME_RESOLVE, ...SINGLE_WRITER_AUTO_INCREMENT],
    gcache: { start: '1G', why: GCACHE_HOW },
    failover: [
      'Through ProxySQL a per-request PHP connection is moved to the new writer; a request in the middle of a transaction on the dead writer gets one error.',
      PER_REQUEST_STALL.replace('until the load balancer marks it down', "until ProxySQL's monitor marks it down"),
      'Cron jobs holding one connection for a long time fail once after a writer failure: re-run them.',
    ],
    versions: 'Chamilo 1.11 runs on MariaDB 10.x (10.11 included); point its app/courses and app/upload directories at the shared mount.',
  },
};

export const PRESET_DATABASES: Readonly<Record<AppPreset, readonly string[]>> = {
  moodle: PRESETS.moodle.databases,
  openedx: PRESETS.openedx.databases,
  chamilo: PRESETS.chamilo.databases,
  custom: [],
};

export function presetDefinition(preset: AppPreset): PresetDefinition | null {
  return preset === 'custom' ? null : PRESETS[preset];
}
