/**
 * The admin SQL that makes a ProxySQL match the desired state. Sent on stdin to
 * `mysql` connected to the admin interface (never on a command line: it holds
 * secrets). Each section replaces its tables wholesale in ProxySQL's memory
 * layer, then `LOAD ... TO RUNTIME` makes it live in one step and
 * `SAVE ... TO DISK` keeps it across restarts; so running it twice gives the
 * same runtime, and a failure half-way changes nothing live for the sections
 * not yet loaded.
 *
 * Order: monitor credentials first (so the Galera monitor can log in before it
 * sees the servers, instead of marking every node offline), then servers and
 * Galera hostgroups (one LOAD MYSQL SERVERS covers both tables), users, query
 * rules, and the admin credentials and interface last, so that any earlier
 * failure leaves the old admin login working for the retry.
 */
import { quoteString, SCRIPT_PREAMBLE } from '../galera/sql.js';
import { DeployError } from '../../errors.js';
import { type GlobalVariableRow, type ProxysqlDesiredState, type ProxysqlModel, desiredProxysqlState } from './model.js';

export const PROXYSQL_SECTIONS = ['mysql_variables', 'mysql_servers', 'mysql_users', 'mysql_query_rules', 'admin_variables'] as const;
export type ProxysqlSection = (typeof PROXYSQL_SECTIONS)[number];

export interface RenderedSql {
  /** What to send on stdin. Contains secrets. */
  sql: string;
  /** The same text with every secret replaced by "***", for plans and logs. */
  redacted: string;
  secrets: string[];
}

/**
 * A string literal for ProxySQL's admin (SQLite underneath): quotes doubled.
 * Backslashes are refused: SQLite takes them literally while the mysql client,
 * which reads the script first, treats `\'` as an escaped quote and would
 * mis-split the statement.
 */
export function proxysqlString(value: string): string {
  if (/[\\\n\r\0]/.test(value)) {
    throw new DeployError('invalid-input', 'a value for ProxySQL contains a backslash, line break or NUL', {
      hint: 'Remove it; lms-ha cannot pass these characters through the admin interface safely.',
    });
  }
  return `'${value.replace(/'/g, "''")}'`;
}

function value(v: string | number | null): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') return String(v);
  return proxysqlString(v);
}

function insert(table: string, row: Record<string, string | number | null>): string {
  const columns = Object.keys(row);
  return `INSERT INTO ${table} (${columns.join(',')}) VALUES (${columns.map((c) => value(row[c] ?? null)).join(',')});`;
}

function setVariables(rows: GlobalVariableRow[]): string[] {
  return rows.map((r) => `UPDATE global_variables SET variable_value=${proxysqlString(r.variable_value)} WHERE variable_name=${proxysqlString(r.variable_name)};`);
}

export function redact(text: string, secrets: string[]): string {
  let out = text;
  // Longest first, so "admin:secret" is not half-redacted as "admin:***".
  for (const s of [...secrets].filter((x) => x.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join('***');
    // A secret containing a quote appears doubled inside literals.
    if (s.includes("'")) out = out.split(s.replace(/'/g, "''")).join('***');
  }
  return out;
}

function sectionSql(state: ProxysqlDesiredState, section: ProxysqlSection): string[] {
  switch (section) {
    case 'mysql_variables':
      return [
        '-- Monitor account and Galera health check timing.',
        ...setVariables(state.mysqlVariables),
        'LOAD MYSQL VARIABLES TO RUNTIME;',
        'SAVE MYSQL VARIABLES TO DISK;',
      ];
    case 'mysql_servers':
      return [
        '-- Backends (all in the writer hostgroup; the Galera monitor places them) and the Galera hostgroups.',
        'DELETE FROM mysql_servers;',
        ...state.servers.map((r) => insert('mysql_servers', { ...r })),
        'DELETE FROM mysql_galera_hostgroups;',
        ...state.galeraHostgroups.map((r) => insert('mysql_galera_hostgroups', { ...r })),
        'LOAD MYSQL SERVERS TO RUNTIME;',
        'SAVE MYSQL SERVERS TO DISK;',
      ];
    case 'mysql_users':
      return [
        '-- Application users (password = mysql_native_password hash), writes by default.',
        'DELETE FROM mysql_users;',
        ...state.users.map((r) => insert('mysql_users', { ...r })),
        'LOAD MYSQL USERS TO RUNTIME;',
        'SAVE MYSQL USERS TO DISK;',
      ];
    case 'mysql_query_rules':
      return [
        '-- Read/write split: locking reads to the writer, other SELECTs to the readers.',
        'DELETE FROM mysql_query_rules;',
        ...state.queryRules.map((r) => insert('mysql_query_rules', { ...r })),
        'LOAD MYSQL QUERY RULES TO RUNTIME;',
        'SAVE MYSQL QUERY RULES TO DISK;',
      ];
    case 'admin_variables':
      return [
        '-- Admin login off admin:admin, admin interface on loopback only (last: an earlier failure keeps the old login).',
        ...setVariables(state.adminVariables),
        'LOAD ADMIN VARIABLES TO RUNTIME;',
        'SAVE ADMIN VARIABLES TO DISK;',
      ];
  }
}

/**
 * The admin SQL for the given sections (default: all), always in the fixed
 * order above whatever order they are asked in.
 */
export function renderProxysqlAdminSql(model: ProxysqlModel, options: { sections?: readonly ProxysqlSection[] } = {}): RenderedSql {
  const state = desiredProxysqlState(model);
  const wanted = new Set(options.sections ?? PROXYSQL_SECTIONS);
  const lines = ['-- Rendered by lms-ha (deploy-lb) for the ProxySQL admin interface.'];
  for (const section of PROXYSQL_SECTIONS) {
    if (wanted.has(section)) lines.push(...sectionSql(state, section));
  }
  const sql = `${lines.join('\n')}\n`;
  return { sql, redacted: redact(sql, state.secrets), secrets: state.secrets };
}

/**
 * A MariaDB string literal: the one quoting every MariaDB script of lms-ha uses,
 * read with backslash escapes on, which SCRIPT_PREAMBLE guarantees.
 */
export const mariadbString = quoteString;

/**
 * The monitor account in MariaDB (run once on any Synced node; Galera replicates
 * it), one per load balancer address. USAGE only: the Galera check reads global
 * status and variables, which need no privilege (proxysql-admin creates it so).
 */
export function proxysqlMonitorAccountSql(monitor: { username: string; password: string }, lbAddresses: string[]): RenderedSql {
  if (!/^[A-Za-z0-9_]+$/.test(monitor.username)) {
    throw new DeployError('invalid-inventory', `"${monitor.username}" is not a plain MariaDB user name`, { hint: 'Use letters, digits and "_".' });
  }
  if (monitor.password.length === 0) {
    throw new DeployError('missing-secret', 'the ProxySQL monitor password is empty', { hint: 'Set the environment variable the inventory names for it.' });
  }
  // The same preamble as every MariaDB script: an operator sql_mode with
  // NO_BACKSLASH_ESCAPES would otherwise misread the escaped password literal.
  const lines: string[] = [
    '-- Rendered by lms-ha (deploy-lb): the ProxySQL monitor account, no privileges (USAGE).',
    ...SCRIPT_PREAMBLE.map((statement) => `${statement};`),
  ];
  for (const address of [...new Set(lbAddresses)]) {
    if (!/^[0-9A-Fa-f.:]+$/.test(address)) {
      throw new DeployError('invalid-inventory', `load balancer address "${address}" is not an IP address`, { hint: 'Give the host an IP address.' });
    }
    const account = `${mariadbString(monitor.username)}@${mariadbString(address)}`;
    lines.push(
      `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${mariadbString(monitor.password)};`,
      `ALTER USER ${account} IDENTIFIED BY ${mariadbString(monitor.password)};`,
    );
  }
  const sql = `${lines.join('\n')}\n`;
  const escapedSecret = mariadbString(monitor.password).slice(1, -1);
  const secrets = [...new Set([monitor.password, escapedSecret])];
  return { sql, redacted: redact(sql, secrets), secrets };
}
