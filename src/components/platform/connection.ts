/**
 * How the learning platform connects to the HA tier, decided once from the
 * environment: the VIP and ports of the load balancer, the application user,
 * the causality setting, and where the files live. Every front (action output,
 * job summary, CLI, the demo) shows this same object and the snippet rendered
 * from it. A secret appears only as the name of the variable that holds it.
 */
import { hostsWithRole, type Environment } from '../../inventory/environment.js';
import { PRESETS, type PlatformPreset } from '../../inventory/presets.js';
import { renderSnippet, type Snippet } from './snippets.js';

/** Where a secret lives: the environment variable lms-ha reads it from. Never its value. */
export interface SecretPlace {
  env: string;
}

export interface ConnectionDatabase {
  /** The VIP address (no prefix). */
  host: string;
  /** Where writes go: HAProxy's writer listener, or ProxySQL's single port. */
  writerPort: number;
  /** Where reads may go: HAProxy's reader listener; with ProxySQL the same port (its rules split reads). */
  readerPort: number;
  balancer: 'haproxy' | 'proxysql';
  name: string;
  /** Every database the preset and app.databases declare. */
  databases: string[];
  user: string;
  password: SecretPlace;
  /** wsrep_sync_wait the cluster applies to reads (1 = reads wait for committed writes). */
  syncWait: number;
  charset: string;
  collation: string;
}

export type ConnectionFiles =
  | { kind: 'glusterfs'; volume: string; mountPath: string; owner: string; group: string; mountedOn: string[] }
  | { kind: 's3'; bucket: string; region: string | null; endpoint: string | null; accessKeyId: SecretPlace; secretAccessKey: SecretPlace }
  | { kind: 'none' };

export interface PlatformConnection {
  preset: PlatformPreset;
  platform: string;
  environment: string;
  database: ConnectionDatabase;
  files: ConnectionFiles;
  /** HAProxy's web frontend on the VIP, when load_balancer.ports.web is set. */
  web: { host: string; port: number; backends: string[] } | null;
  snippet: Snippet;
  /** What the platform sees in a failover. */
  failover: string[];
  versions: string;
}

/** Why there is no connection to show (custom preset, no load balancer, no user). */
export interface NoConnection {
  reason: string;
}

/** The user the platform connects as: the first whose databases include the preset's main one. */
function platformUser(environment: Environment, mainDatabase: string) {
  const users = environment.app.users;
  return users.find((u) => u.databases.includes(mainDatabase)) ?? users[0];
}

export function platformConnection(environment: Environment): PlatformConnection | NoConnection {
  const preset = environment.app.preset;
  if (preset === 'custom') return { reason: 'app.preset is custom (or not set): lms-ha knows no platform to write settings for' };
  const lb = environment.load_balancer;
  if (!lb) return { reason: 'the environment has no load_balancer: the platform connects through its VIP' };
  const definition = PRESETS[preset];
  const mainDatabase = definition.databases[0]!;
  const user = platformUser(environment, mainDatabase);
  if (!user) return { reason: `app.users is empty: add the ${definition.title} user (conventionally "${definition.user}") with password: { env: ... }` };
  const appDatabase = environment.app.databases.find((d) => d.name === mainDatabase);
  const database: ConnectionDatabase = {
    host: lb.vip_address,
    writerPort: lb.kind === 'haproxy' ? lb.ports.writer : lb.ports.mysql,
    readerPort: lb.kind === 'haproxy' ? lb.ports.reader : lb.ports.mysql,
    balancer: lb.kind,
    name: user.databases.includes(mainDatabase) ? mainDatabase : user.databases[0]!,
    databases: environment.app.databases.map((d) => d.name),
    user: user.name,
    password: { env: user.password.env },
    syncWait: environment.database?.sync_wait ?? 1,
    charset: appDatabase?.charset ?? definition.charset,
    collation: appDatabase?.collation ?? definition.collation,
  };
  const storage = environment.storage;
  const files: ConnectionFiles =
    storage.kind === 'glusterfs'
      ? {
          kind: 'glusterfs',
          volume: storage.volume,
          mountPath: storage.mount_path,
          owner: storage.owner,
          group: storage.group,
          mountedOn: hostsWithRole(environment, 'web').map((h) => h.name),
        }
      : storage.kind === 's3'
        ? {
            kind: 's3',
            bucket: storage.s3.bucket,
            region: storage.s3.region ?? null,
            endpoint: storage.s3.endpoint ?? null,
            accessKeyId: { env: storage.s3.access_key_id.env },
            secretAccessKey: { env: storage.s3.secret_access_key.env },
          }
        : { kind: 'none' };
  const web =
    lb.kind === 'haproxy' && lb.ports.web !== undefined
      ? { host: lb.vip_address, port: lb.ports.web, backends: hostsWithRole(environment, 'web').map((h) => h.name) }
      : null;
  const base = { preset, platform: definition.title, environment: environment.name, database, files, web };
  return { ...base, snippet: renderSnippet(base), failover: [...definition.failover], versions: definition.versions };
}

export function isConnection(c: PlatformConnection | NoConnection): c is PlatformConnection {
  return 'snippet' in c;
}
