/**
 * What is live in a ProxySQL (its `runtime_*` tables) against the desired
 * state: the changes needed, nothing when converged. The engine runs
 * `PROXYSQL_RUNTIME_QUERY` through `mysql -N -B` on the admin interface, feeds
 * the output to `parseProxysqlRuntime`, and applies
 * `renderProxysqlAdminSql(model, { sections: sectionsToApply(changes) })`.
 *
 * Compared: what lms-ha configures. Not compared: what ProxySQL decides at run
 * time (which hostgroup the Galera monitor put a node in, ONLINE/SHUNNED), which
 * is health, reported by verify-ha.
 */
import { createHash } from 'node:crypto';
import { type GaleraHostgroupRow, type ProxysqlDesiredState, type ProxysqlModel, PROXYSQL_HOSTGROUPS, desiredProxysqlState } from './model.js';
import type { ProxysqlSection } from './sql.js';
import { PROXYSQL_SECTIONS } from './sql.js';

const MARK = 'lms-ha:section';

const QUERIES: Record<string, string> = {
  servers: 'SELECT hostgroup_id,hostname,port,status,weight,max_connections FROM runtime_mysql_servers ORDER BY hostgroup_id,hostname,port',
  galera:
    'SELECT writer_hostgroup,backup_writer_hostgroup,reader_hostgroup,offline_hostgroup,active,max_writers,writer_is_also_reader,max_transactions_behind FROM runtime_mysql_galera_hostgroups ORDER BY writer_hostgroup',
  rules: 'SELECT rule_id,active,username,match_digest,match_pattern,destination_hostgroup,apply FROM runtime_mysql_query_rules ORDER BY rule_id',
  users:
    'SELECT username,password,active,default_hostgroup,default_schema,transaction_persistent,max_connections,frontend,backend FROM runtime_mysql_users ORDER BY username,frontend',
  variables:
    "SELECT variable_name,variable_value FROM runtime_global_variables WHERE variable_name IN ('mysql-monitor_username','mysql-monitor_password','mysql-monitor_galera_healthcheck_interval','mysql-monitor_galera_healthcheck_timeout','mysql-monitor_galera_healthcheck_max_timeout_count','admin-admin_credentials','admin-mysql_ifaces') ORDER BY variable_name",
};

const marked = (queries: Record<string, string>): string =>
  `${Object.entries(queries)
    .map(([name, q]) => `SELECT '${MARK} ${name}';\n${q};`)
    .join('\n')}\n`;

/** One admin session's worth of SELECTs, each result preceded by a marker row. */
export const PROXYSQL_RUNTIME_QUERY = marked(QUERIES);

/**
 * The Galera monitor's latest check of each backend (verify-ha only; appended
 * to PROXYSQL_RUNTIME_QUERY): `error` is NULL when the check passed.
 */
export const PROXYSQL_MONITOR_QUERY = marked({
  monitor:
    'SELECT hostname,port,error FROM monitor.mysql_server_galera_log AS g WHERE time_start_us = (SELECT MAX(time_start_us) FROM monitor.mysql_server_galera_log AS h WHERE h.hostname = g.hostname AND h.port = g.port) ORDER BY hostname,port',
});

export interface RuntimeServer {
  hostgroup_id: number;
  hostname: string;
  port: number;
  status: string;
  weight: number;
  max_connections: number;
}
/** A runtime_mysql_galera_hostgroups row: the desired row's columns; `comment` is not compared. */
export type RuntimeGaleraHostgroup = Omit<GaleraHostgroupRow, 'comment'>;
export interface RuntimeQueryRule {
  rule_id: number;
  active: number;
  username: string | null;
  match_digest: string | null;
  match_pattern: string | null;
  destination_hostgroup: number | null;
  apply: number;
}
export interface RuntimeUser {
  username: string;
  password: string | null;
  active: number;
  default_hostgroup: number;
  default_schema: string | null;
  transaction_persistent: number;
  max_connections: number;
  frontend: number;
  backend: number;
}

/** The Galera monitor's latest check of one backend. */
export interface MonitorCheck {
  hostname: string;
  port: number;
  /** null: the check passed. */
  error: string | null;
}

export interface ProxysqlRuntime {
  servers: RuntimeServer[];
  galeraHostgroups: RuntimeGaleraHostgroup[];
  queryRules: RuntimeQueryRule[];
  users: RuntimeUser[];
  /** runtime_global_variables rows asked for (name → value). */
  variables: Record<string, string>;
  /** Only when PROXYSQL_MONITOR_QUERY was asked too. */
  monitor?: MonitorCheck[];
}

/** Undoes the escaping of `mysql --batch` (without --raw); the literal NULL becomes null. */
export function unescapeBatchField(field: string): string | null {
  if (field === 'NULL') return null;
  return field.replace(/\\([\\0ntr])/g, (_, c: string) => ({ '\\': '\\', '0': '\0', n: '\n', t: '\t', r: '\r' })[c] ?? c);
}

/** Parses `mysql -N -B` output into rows of fields. */
export function parseBatchTsv(output: string): (string | null)[][] {
  return output
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t').map(unescapeBatchField));
}

const int = (v: string | null | undefined): number => (v === null || v === undefined || v === '' ? 0 : Number(v));
const intOrNull = (v: string | null | undefined): number | null => (v === null || v === undefined || v === '' ? null : Number(v));

/** Parses the output of PROXYSQL_RUNTIME_QUERY run with `mysql -N -B`. */
export function parseProxysqlRuntime(output: string): ProxysqlRuntime {
  const runtime: ProxysqlRuntime = { servers: [], galeraHostgroups: [], queryRules: [], users: [], variables: {} };
  let section = '';
  for (const f of parseBatchTsv(output)) {
    if (f.length === 1 && f[0]?.startsWith(`${MARK} `)) {
      section = f[0].slice(MARK.length + 1);
      continue;
    }
    switch (section) {
      case 'servers':
        runtime.servers.push({
          hostgroup_id: int(f[0]),
          hostname: f[1] ?? '',
          port: int(f[2]),
          status: f[3] ?? '',
          weight: int(f[4]),
          max_connections: int(f[5]),
        });
        break;
      case 'galera':
        runtime.galeraHostgroups.push({
          writer_hostgroup: int(f[0]),
          backup_writer_hostgroup: int(f[1]),
          reader_hostgroup: int(f[2]),
          offline_hostgroup: int(f[3]),
          active: int(f[4]),
          max_writers: int(f[5]),
          writer_is_also_reader: int(f[6]),
          max_transactions_behind: int(f[7]),
        });
        break;
      case 'rules':
        runtime.queryRules.push({
          rule_id: int(f[0]),
          active: int(f[1]),
          username: f[2] ?? null,
          match_digest: f[3] ?? null,
          match_pattern: f[4] ?? null,
          destination_hostgroup: intOrNull(f[5]),
          apply: int(f[6]),
        });
        break;
      case 'users':
        runtime.users.push({
          username: f[0] ?? '',
          password: f[1] ?? null,
          active: int(f[2]),
          default_hostgroup: int(f[3]),
          default_schema: f[4] ?? null,
          transaction_persistent: int(f[5]),
          max_connections: int(f[6]),
          frontend: int(f[7]),
          backend: int(f[8]),
        });
        break;
      case 'variables':
        if (f[0]) runtime.variables[f[0]] = f[1] ?? '';
        break;
      case 'monitor':
        (runtime.monitor ??= []).push({ hostname: f[0] ?? '', port: int(f[1]), error: f[2] === null || f[2] === '' || f[2] === undefined ? null : f[2] });
        break;
      default:
        break;
    }
  }
  return runtime;
}

export interface ProxysqlChange {
  section: ProxysqlSection;
  action: 'add' | 'remove' | 'modify';
  /** What changes: "server 10.0.0.12:3306", "user moodle", "rule 3", "mysql-monitor_password". */
  subject: string;
  /** Human summary; never contains a secret ("password changed"). */
  detail: string;
}

function fieldChanges(pairs: [string, unknown, unknown][]): string[] {
  return pairs.filter(([, want, have]) => want !== have).map(([name, want, have]) => `${name} ${String(have)} -> ${String(want)}`);
}

function variableChanges(section: ProxysqlSection, rows: ProxysqlDesiredState['mysqlVariables'], actual: Record<string, string>): ProxysqlChange[] {
  const out: ProxysqlChange[] = [];
  for (const r of rows) {
    const have = actual[r.variable_name];
    if (have === r.variable_value) continue;
    let detail: string;
    if (r.secret) detail = r.variable_name === 'admin-admin_credentials' ? 'credentials changed' : 'password changed';
    else detail = have === undefined ? `set to ${r.variable_value}` : `${have} -> ${r.variable_value}`;
    out.push({ section, action: have === undefined ? 'add' : 'modify', subject: r.variable_name, detail });
  }
  return out;
}

/** The changes that make `actual` match the model; empty when converged. */
export function diffProxysqlRuntime(model: ProxysqlModel | ProxysqlDesiredState, actual: ProxysqlRuntime): ProxysqlChange[] {
  const desired = 'servers' in model ? model : desiredProxysqlState(model);
  const changes: ProxysqlChange[] = [];

  changes.push(...variableChanges('mysql_variables', desired.mysqlVariables, actual.variables));

  // Servers: the Galera monitor copies each host into the writer, backup-writer,
  // reader or offline hostgroup; compare hosts and their settings, not placement.
  const managed = new Set<number>(Object.values(PROXYSQL_HOSTGROUPS));
  const live = new Map<string, RuntimeServer[]>();
  for (const s of actual.servers) {
    const key = `${s.hostname}:${s.port}`;
    if (!managed.has(s.hostgroup_id)) {
      changes.push({ section: 'mysql_servers', action: 'remove', subject: `server ${key}`, detail: `in hostgroup ${s.hostgroup_id}, which lms-ha does not use` });
      continue;
    }
    live.set(key, [...(live.get(key) ?? []), s]);
  }
  for (const want of desired.servers) {
    const key = `${want.hostname}:${want.port}`;
    const rows = live.get(key);
    live.delete(key);
    if (!rows) {
      changes.push({ section: 'mysql_servers', action: 'add', subject: `server ${key}`, detail: `weight ${want.weight}` });
      continue;
    }
    const diffs = new Set<string>();
    for (const row of rows) {
      for (const d of fieldChanges([
        ['weight', want.weight, row.weight],
        ['max_connections', want.max_connections, row.max_connections],
      ]))
        diffs.add(d);
    }
    if (diffs.size > 0) changes.push({ section: 'mysql_servers', action: 'modify', subject: `server ${key}`, detail: [...diffs].join(', ') });
  }
  for (const key of [...live.keys()].sort()) {
    changes.push({ section: 'mysql_servers', action: 'remove', subject: `server ${key}`, detail: 'not a db node of the inventory' });
  }

  // Galera hostgroups (reloaded with the servers).
  const liveGalera = new Map(actual.galeraHostgroups.map((g) => [g.writer_hostgroup, g]));
  for (const want of desired.galeraHostgroups) {
    const have = liveGalera.get(want.writer_hostgroup);
    liveGalera.delete(want.writer_hostgroup);
    const subject = `galera hostgroup ${want.writer_hostgroup}`;
    if (!have) {
      changes.push({ section: 'mysql_servers', action: 'add', subject, detail: `writer ${want.writer_hostgroup}, backup ${want.backup_writer_hostgroup}, reader ${want.reader_hostgroup}, offline ${want.offline_hostgroup}` });
      continue;
    }
    const diffs = fieldChanges([
      ['backup_writer_hostgroup', want.backup_writer_hostgroup, have.backup_writer_hostgroup],
      ['reader_hostgroup', want.reader_hostgroup, have.reader_hostgroup],
      ['offline_hostgroup', want.offline_hostgroup, have.offline_hostgroup],
      ['active', want.active, have.active],
      ['max_writers', want.max_writers, have.max_writers],
      ['writer_is_also_reader', want.writer_is_also_reader, have.writer_is_also_reader],
      ['max_transactions_behind', want.max_transactions_behind, have.max_transactions_behind],
    ]);
    if (diffs.length > 0) changes.push({ section: 'mysql_servers', action: 'modify', subject, detail: diffs.join(', ') });
  }
  for (const id of [...liveGalera.keys()].sort((a, b) => a - b)) {
    changes.push({ section: 'mysql_servers', action: 'remove', subject: `galera hostgroup ${id}`, detail: 'not managed by lms-ha' });
  }

  // Users: runtime shows one row per user and direction (frontend, backend).
  const liveUsers = new Map<string, RuntimeUser[]>();
  for (const u of actual.users) liveUsers.set(u.username, [...(liveUsers.get(u.username) ?? []), u]);
  for (const want of desired.users) {
    const rows = liveUsers.get(want.username);
    liveUsers.delete(want.username);
    const subject = `user ${want.username}`;
    if (!rows) {
      changes.push({ section: 'mysql_users', action: 'add', subject, detail: `default hostgroup ${want.default_hostgroup}` });
      continue;
    }
    const diffs = new Set<string>();
    if (!rows.some((r) => r.frontend === 1) || !rows.some((r) => r.backend === 1)) diffs.add('frontend/backend rows missing');
    for (const row of rows) {
      // lms-ha loads the hash, and runtime keeps it as is. Anything else (clear
      // text loaded by hand, another password) is reloaded.
      if (row.password !== want.password) diffs.add('password changed');
      for (const d of fieldChanges([
        ['active', want.active, row.active],
        ['default_hostgroup', want.default_hostgroup, row.default_hostgroup],
        ['default_schema', want.default_schema, row.default_schema],
        ['transaction_persistent', want.transaction_persistent, row.transaction_persistent],
        ['max_connections', want.max_connections, row.max_connections],
      ]))
        diffs.add(d);
    }
    if (diffs.size > 0) changes.push({ section: 'mysql_users', action: 'modify', subject, detail: [...diffs].join(', ') });
  }
  for (const name of [...liveUsers.keys()].sort()) {
    changes.push({ section: 'mysql_users', action: 'remove', subject: `user ${name}`, detail: 'not an application user of the inventory' });
  }

  // Query rules, by rule_id.
  const liveRules = new Map(actual.queryRules.map((r) => [r.rule_id, r]));
  for (const want of desired.queryRules) {
    const have = liveRules.get(want.rule_id);
    liveRules.delete(want.rule_id);
    const subject = `rule ${want.rule_id}`;
    if (!have) {
      changes.push({ section: 'mysql_query_rules', action: 'add', subject, detail: `${want.match_digest} -> hostgroup ${want.destination_hostgroup}` });
      continue;
    }
    const diffs = fieldChanges([
      ['active', want.active, have.active],
      ['username', null, have.username],
      ['match_digest', want.match_digest, have.match_digest],
      ['match_pattern', null, have.match_pattern],
      ['destination_hostgroup', want.destination_hostgroup, have.destination_hostgroup],
      ['apply', want.apply, have.apply],
    ]);
    if (diffs.length > 0) changes.push({ section: 'mysql_query_rules', action: 'modify', subject, detail: diffs.join(', ') });
  }
  for (const id of [...liveRules.keys()].sort((a, b) => a - b)) {
    changes.push({ section: 'mysql_query_rules', action: 'remove', subject: `rule ${id}`, detail: 'not a rule of lms-ha' });
  }

  changes.push(...variableChanges('admin_variables', desired.adminVariables, actual.variables));
  return changes;
}

/** The sections to re-apply for these changes, in apply order. */
export function sectionsToApply(changes: ProxysqlChange[]): ProxysqlSection[] {
  const touched = new Set(changes.map((c) => c.section));
  return PROXYSQL_SECTIONS.filter((s) => touched.has(s));
}

/**
 * What lms-ha configures, one "key: value" line per item, from a ProxySQL's
 * runtime tables: the same on every load balancer when they agree. Placement
 * (hostgroup, status) is the monitor's decision and left out; passwords and
 * credentials are compared by digest so the lines can be shown.
 */
export function configuredItems(runtime: ProxysqlRuntime): Map<string, string> {
  const digest = (v: string | null): string => (v === null ? 'none' : `sha256:${createHash('sha256').update(v).digest('hex').slice(0, 12)}`);
  const items = new Map<string, string>();
  for (const s of runtime.servers) items.set(`server ${s.hostname}:${s.port}`, `weight ${s.weight}, max_connections ${s.max_connections}`);
  for (const g of runtime.galeraHostgroups) {
    items.set(
      `galera hostgroup ${g.writer_hostgroup}`,
      `backup ${g.backup_writer_hostgroup}, reader ${g.reader_hostgroup}, offline ${g.offline_hostgroup}, active ${g.active}, max_writers ${g.max_writers}, writer_is_also_reader ${g.writer_is_also_reader}, max_transactions_behind ${g.max_transactions_behind}`,
    );
  }
  for (const r of runtime.queryRules) items.set(`rule ${r.rule_id}`, `active ${r.active}, user ${r.username ?? '*'}, digest ${r.match_digest ?? '-'}, pattern ${r.match_pattern ?? '-'}, to ${r.destination_hostgroup ?? '-'}, apply ${r.apply}`);
  for (const u of runtime.users) {
    items.set(
      `user ${u.username} (${u.frontend ? 'frontend' : ''}${u.frontend && u.backend ? '+' : ''}${u.backend ? 'backend' : ''})`,
      `password ${digest(u.password)}, active ${u.active}, hostgroup ${u.default_hostgroup}, schema ${u.default_schema ?? '-'}, transaction_persistent ${u.transaction_persistent}, max_connections ${u.max_connections}`,
    );
  }
  for (const [name, value] of Object.entries(runtime.variables)) items.set(name, /password|credentials/.test(name) ? digest(value) : value);
  return items;
}

/** The items that differ between two load balancers' runtimes ("rule 3", "mysql-monitor_galera_healthcheck_interval"), sorted. */
export function configurationDifferences(a: ProxysqlRuntime, b: ProxysqlRuntime): string[] {
  const x = configuredItems(a);
  const y = configuredItems(b);
  return [...new Set([...x.keys(), ...y.keys()])].filter((k) => x.get(k) !== y.get(k)).sort();
}
