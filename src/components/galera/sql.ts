/**
 * SQL builders with escaping, and the desired-vs-actual diff for accounts,
 * grants and databases.
 *
 * Secrets: a statement is a list of parts, literal SQL or a reference to a
 * named secret. `toStdinSql` substitutes the (escaped) values and the result is
 * meant ONLY for the stdin of `mariadb` on the host; it must never be put on a
 * command line (visible in `ps` and /proc/<pid>/cmdline) nor logged.
 * `toDisplaySql` is what plans and logs show: the secret's name, not its value.
 */
import { createHash } from 'node:crypto';
import { DeployError } from '../../errors.js';
import { type GaleraModel, MYSQLD_OS_USER, versionAtLeast } from './model.js';
import { parseBatchRows } from './table.js';

// ---------------------------------------------------------------------------
// Escaping

const STRING_ESCAPES: Record<string, string> = {
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '\x1a': '\\Z',
};

/**
 * A MariaDB string literal. Backslash escapes are only right when the session
 * does not have NO_BACKSLASH_ESCAPES; `toStdinSql` starts every script by
 * removing that mode, so scripts built here are always read this way.
 * Non-ASCII text is passed through: the script also runs `SET NAMES utf8mb4`.
 */
export function quoteString(value: string): string {
  // eslint-disable-next-line no-control-regex -- NUL and Ctrl-Z are exactly what a SQL literal must escape
  return `'${value.replace(/[\0\n\r\\'"\x1a]/g, (c) => STRING_ESCAPES[c]!)}'`;
}

/** A quoted identifier: backticks, with a backtick inside doubled. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.length > 64) throw new Error(`identifier "${name}" must be 1 to 64 characters`);
  if (name.includes('\0')) throw new Error('identifier contains NUL');
  if (/\s$/.test(name)) throw new Error(`identifier "${name}" ends with a space`);
  return `\`${name.replace(/`/g, '``')}\``;
}

/** `'user'@'host'`. */
export function quoteAccount(user: string, host: string): string {
  if (user.length > 128) throw new Error(`user name "${user}" is too long`);
  if (host.length === 0 || host.length > 255) throw new Error(`host "${host}" must be 1 to 255 characters`);
  return `${quoteString(user)}@${quoteString(host)}`;
}

/**
 * In GRANT ... ON `db`.*, `_` and `%` are wildcards: `edxapp_csmh` would also
 * match `edxappXcsmh`. Escaped, the grant names exactly one database; SHOW
 * GRANTS prints it back in this escaped form.
 */
export function escapeGrantDatabase(name: string): string {
  return name.replace(/[\\_%]/g, (c) => `\\${c}`);
}

// ---------------------------------------------------------------------------
// Statements with secrets

export interface SecretRef {
  secret: string;
}
export type SqlPart = string | SecretRef;

export interface SqlStatement {
  parts: SqlPart[];
}

export function stmt(...parts: SqlPart[]): SqlStatement {
  return { parts };
}

/** Statements that run before any built script. Their literals hold no backslash, so they parse in any sql_mode. */
export const SCRIPT_PREAMBLE = [
  "SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))",
  'SET NAMES utf8mb4',
];

/**
 * The script to send on the stdin of `mariadb` (never on its command line).
 * Throws `missing-secret` when a referenced secret has no value.
 */
export function toStdinSql(statements: SqlStatement[], secrets: Record<string, string | undefined>): string {
  const body = statements.map((s) =>
    s.parts
      .map((p) => {
        if (typeof p === 'string') return p;
        const v = secrets[p.secret];
        if (v === undefined) {
          throw new DeployError('missing-secret', `secret ${p.secret} has no value`, {
            hint: `Set the environment variable ${p.secret} (as a repository or environment secret).`,
          });
        }
        return quoteString(v);
      })
      .join(''),
  );
  return `${[...SCRIPT_PREAMBLE, ...body].map((s) => `${s};`).join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// Privileges

/** Alias → the name SHOW GRANTS prints in MariaDB 10.5+. */
const PRIVILEGE_ALIASES: Record<string, string> = {
  ALL: 'ALL PRIVILEGES',
  'REPLICATION CLIENT': 'BINLOG MONITOR',
  'REPLICA MONITOR': 'SLAVE MONITOR',
  'REPLICATION REPLICA': 'REPLICATION SLAVE',
  'REPLICATION REPLICA ADMIN': 'REPLICATION SLAVE ADMIN',
  'READ ONLY ADMIN': 'READ_ONLY ADMIN',
};

export function normalizePrivilege(p: string): string {
  const up = p.trim().replace(/\s+/g, ' ').toUpperCase();
  return PRIVILEGE_ALIASES[up] ?? up;
}

/**
 * What the SST account needs. mariadb-backup connects locally on the donor:
 * RELOAD, PROCESS, LOCK TABLES and BINLOG MONITOR (REPLICATION CLIENT before
 * 10.5), per MariaDB's "mariadb-backup SST Method" page. With --galera-info
 * (which the SST script passes) mariadb-backup also checks SLAVE MONITOR
 * (10.5.9+; MariaDB/server 034abab, MDEV-34053), else it warns.
 */
export function sstPrivileges(version: string): string[] {
  if (!versionAtLeast(version, '10.5')) return ['RELOAD', 'PROCESS', 'LOCK TABLES', 'REPLICATION CLIENT'];
  const base = ['RELOAD', 'PROCESS', 'LOCK TABLES', 'BINLOG MONITOR'];
  return versionAtLeast(version, '10.5.9') ? [...base, 'SLAVE MONITOR'] : base;
}

// ---------------------------------------------------------------------------
// Desired state

export type AccountAuth = { kind: 'password'; secret: string } | { kind: 'unix_socket' };

export interface DesiredGrant {
  privileges: string[];
  /** '*' for global; otherwise a database name (not a pattern). */
  db: string;
  /** Omitted = every table of the database. */
  table?: string;
}

export interface DesiredAccount {
  user: string;
  host: string;
  auth: AccountAuth;
  grants: DesiredGrant[];
  /**
   * Revoke what is granted beyond `grants`. False for accounts the packages
   * create and other tools may rely on (mysql@localhost).
   */
  exactGrants: boolean;
}

export interface DesiredDatabase {
  name: string;
  charset: string;
  collation: string;
}

export interface AppUserSpec {
  user: string;
  /** Host patterns the user may connect from: the LBs' / app hosts' addresses (e.g. 10.0.0.%). */
  hosts: string[];
  /** Name of the secret holding the password. */
  passwordSecret: string;
  databases: string[];
  /** Default ALL PRIVILEGES on each database (what Moodle, Open edX and Chamilo installers expect). */
  privileges?: string[];
}

/** One account per host pattern. */
export function appAccounts(spec: AppUserSpec): DesiredAccount[] {
  if (spec.hosts.length === 0) throw new Error(`user ${spec.user}: at least one host pattern is required`);
  const privileges = spec.privileges ?? ['ALL PRIVILEGES'];
  return spec.hosts.map((host) => ({
    user: spec.user,
    host,
    auth: { kind: 'password', secret: spec.passwordSecret },
    grants: spec.databases.map((db) => ({ privileges, db })),
    exactGrants: true,
  }));
}

/**
 * The SST account, or null for rsync (no login). With unix_socket it is the
 * `mysql@localhost` account the 10.4+ installer already creates (with all
 * privileges, via unix_socket): we only make sure it has what SST needs and
 * never revoke, since OS user mysql can read the whole datadir anyway.
 */
export function sstAccount(model: GaleraModel): DesiredAccount | null {
  if (model.sst.method !== 'mariabackup') return null;
  const grants = [{ privileges: sstPrivileges(model.version), db: '*' }];
  if (model.sst.auth === 'unix_socket') {
    return { user: MYSQLD_OS_USER, host: 'localhost', auth: { kind: 'unix_socket' }, grants, exactGrants: false };
  }
  return {
    user: model.sst.user,
    host: 'localhost',
    auth: { kind: 'password', secret: model.sst.passwordSecret ?? '' },
    grants,
    exactGrants: true,
  };
}

// ---------------------------------------------------------------------------
// Builders

function grantObject(db: string, table?: string): string {
  if (db === '*') return '*.*';
  if (table === undefined || table === '*') return `${quoteIdent(escapeGrantDatabase(db))}.*`;
  return `${quoteIdent(db)}.${quoteIdent(table)}`;
}

function authClause(auth: AccountAuth): SqlPart[] {
  return auth.kind === 'unix_socket' ? [' IDENTIFIED VIA unix_socket'] : [' IDENTIFIED BY ', { secret: auth.secret }];
}

export function createUserSql(user: string, host: string, auth: AccountAuth): SqlStatement {
  return stmt(`CREATE USER IF NOT EXISTS ${quoteAccount(user, host)}`, ...authClause(auth));
}

export function alterUserAuthSql(user: string, host: string, auth: AccountAuth): SqlStatement {
  return stmt(`ALTER USER ${quoteAccount(user, host)}`, ...authClause(auth));
}

export function dropUserSql(user: string, host: string): SqlStatement {
  return stmt(`DROP USER IF EXISTS ${quoteAccount(user, host)}`);
}

function privilegeList(privileges: string[], version: string): string {
  return privileges
    .map(normalizePrivilege)
    .map((p) => (p === 'BINLOG MONITOR' && !versionAtLeast(version, '10.5') ? 'REPLICATION CLIENT' : p))
    .join(', ');
}

export function grantSql(privileges: string[], db: string, table: string | undefined, user: string, host: string, version = '10.11'): SqlStatement {
  return stmt(`GRANT ${privilegeList(privileges, version)} ON ${grantObject(db, table)} TO ${quoteAccount(user, host)}`);
}

export function revokeSql(privileges: string[], db: string, table: string | undefined, user: string, host: string, version = '10.11'): SqlStatement {
  return stmt(`REVOKE ${privilegeList(privileges, version)} ON ${grantObject(db, table)} FROM ${quoteAccount(user, host)}`);
}

export function createDatabaseSql(db: DesiredDatabase): SqlStatement {
  return stmt(
    `CREATE DATABASE IF NOT EXISTS ${quoteIdent(db.name)} CHARACTER SET ${charsetName(db.charset)} COLLATE ${charsetName(db.collation)}`,
  );
}

export function alterDatabaseSql(db: DesiredDatabase): SqlStatement {
  return stmt(`ALTER DATABASE ${quoteIdent(db.name)} CHARACTER SET ${charsetName(db.charset)} COLLATE ${charsetName(db.collation)}`);
}

function charsetName(name: string): string {
  if (!/^[a-z0-9_]+$/i.test(name)) throw new Error(`"${name}" is not a character set or collation name`);
  return name;
}

// ---------------------------------------------------------------------------
// Fact queries and their parsers (output of `mariadb -N -B`)

function inList(values: string[]): string {
  return values.length === 0 ? "('')" : `(${values.map(quoteString).join(', ')})`;
}

/** Existing accounts for the given user names: `User<TAB>Host` rows. */
export function listAccountsSql(users: string[]): string {
  return `SELECT User, Host FROM mysql.user WHERE User IN ${inList(users)} ORDER BY User, Host`;
}

export function parseAccounts(text: string): Array<{ user: string; host: string }> {
  return parseBatchRows(text)
    .filter((r) => r.length >= 2)
    .map((r) => ({ user: r[0]!, host: r[1]! }));
}

export function showGrantsSql(user: string, host: string): string {
  return `SHOW GRANTS FOR ${quoteAccount(user, host)}`;
}

export function listDatabasesSql(names: string[]): string {
  return `SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ${inList(names)} ORDER BY SCHEMA_NAME`;
}

export function parseDatabases(text: string): DesiredDatabase[] {
  return parseBatchRows(text)
    .filter((r) => r.length >= 3)
    .map((r) => ({ name: r[0]!, charset: r[1]!, collation: r[2]! }));
}

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/**
 * Base tables Galera cannot replicate safely: not InnoDB (MyISAM/Aria writes
 * are not replicated) or without a PRIMARY KEY (row events are applied by full
 * scans, and DELETEs may apply in a different order). System schemas excluded.
 * Rows: schema, table, engine, has_pk (1/0).
 */
export function schemaProblemsSql(schemas?: string[]): string {
  const scope =
    schemas && schemas.length > 0
      ? `t.TABLE_SCHEMA IN ${inList(schemas)}`
      : `t.TABLE_SCHEMA NOT IN ${inList(SYSTEM_SCHEMAS)}`;
  return [
    'SELECT t.TABLE_SCHEMA, t.TABLE_NAME, IFNULL(t.ENGINE, \'\'),',
    " IF(EXISTS(SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'PRIMARY KEY'), 1, 0) AS has_pk",
    ' FROM information_schema.TABLES t',
    ` WHERE t.TABLE_TYPE = 'BASE TABLE' AND ${scope}`,
    " AND (IFNULL(t.ENGINE, '') <> 'InnoDB' OR NOT EXISTS(SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'PRIMARY KEY'))",
    ' ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME',
  ].join('');
}

export interface SchemaProblem {
  schema: string;
  table: string;
  engine: string;
  hasPrimaryKey: boolean;
  problems: string[];
}

export function parseSchemaProblems(text: string): SchemaProblem[] {
  return parseBatchRows(text)
    .filter((r) => r.length >= 4)
    .map((r) => {
      const engine = r[2]!;
      const hasPrimaryKey = r[3] === '1';
      const problems: string[] = [];
      if (engine !== 'InnoDB') problems.push(`engine ${engine || 'unknown'} (not replicated by Galera: convert to InnoDB)`);
      if (!hasPrimaryKey) problems.push('no primary key (Galera needs one on every table)');
      return { schema: r[0]!, table: r[1]!, engine, hasPrimaryKey, problems };
    });
}

// ---------------------------------------------------------------------------
// SHOW GRANTS parsing

type Token =
  | { t: 'ident'; v: string }
  | { t: 'str'; v: string }
  | { t: 'word'; v: string }
  | { t: 'punct'; v: string };

function tokenize(line: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '`') {
      let v = '';
      i++;
      while (i < line.length) {
        if (line[i] === '`') {
          if (line[i + 1] === '`') {
            v += '`';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i++];
      }
      out.push({ t: 'ident', v });
    } else if (c === "'") {
      let v = '';
      i++;
      while (i < line.length) {
        const d = line[i]!;
        if (d === '\\' && i + 1 < line.length) {
          const e = line[i + 1]!;
          v += ({ n: '\n', r: '\r', t: '\t', '0': '\0', Z: '\x1a' } as Record<string, string>)[e] ?? e;
          i += 2;
          continue;
        }
        if (d === "'") {
          if (line[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += d;
        i++;
      }
      out.push({ t: 'str', v });
    } else if (',.@()'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else {
      let v = '';
      while (i < line.length && !/[\s,.@()`']/.test(line[i]!)) v += line[i++];
      out.push({ t: 'word', v });
    }
  }
  return out;
}

export interface ParsedAuth {
  /** Authentication alternatives: `IDENTIFIED VIA a USING 'x' OR b`. */
  plugins: Array<{ plugin: string; data: string | null }>;
}

export interface ParsedPrivilegeGrant {
  kind: 'privileges';
  user: string;
  host: string;
  privileges: string[];
  /** Database as SHOW GRANTS names it: '*' for global, wildcard escapes kept (`edxapp\_csmh`). */
  db: string;
  table: string;
  /** FUNCTION / PROCEDURE / PACKAGE grants; diffed as opaque. */
  routine: string | null;
  grantOption: boolean;
  auth: ParsedAuth | null;
  raw: string;
}

export interface ParsedOtherGrant {
  kind: 'proxy' | 'role' | 'unparsed';
  raw: string;
}

export type ParsedGrant = ParsedPrivilegeGrant | ParsedOtherGrant;

const isWord = (tok: Token | undefined, w: string): boolean => tok?.t === 'word' && tok.v.toUpperCase() === w;

/** One line of SHOW GRANTS (already un-escaped from batch mode). */
export function parseGrantLine(line: string): ParsedGrant {
  const raw = line.trim();
  const toks = tokenize(raw);
  if (!isWord(toks[0], 'GRANT')) return { kind: 'unparsed', raw };
  let i = 1;
  const privTokens: Token[][] = [[]];
  let depth = 0;
  for (; i < toks.length; i++) {
    const tk = toks[i]!;
    if (depth === 0 && (isWord(tk, 'ON') || isWord(tk, 'TO'))) break;
    if (tk.t === 'punct' && tk.v === '(') depth++;
    if (tk.t === 'punct' && tk.v === ')') depth--;
    if (depth === 0 && tk.t === 'punct' && tk.v === ',') privTokens.push([]);
    else privTokens[privTokens.length - 1]!.push(tk);
  }
  if (isWord(toks[i], 'TO')) return { kind: 'role', raw };
  if (!isWord(toks[i], 'ON')) return { kind: 'unparsed', raw };
  const privileges = privTokens.map((ts) => {
    const open = ts.findIndex((t) => t.t === 'punct' && t.v === '(');
    const head = open < 0 ? ts : ts.slice(0, open);
    const name = normalizePrivilege(head.filter((t) => t.t === 'word').map((w) => w.v).join(' '));
    if (open < 0) return name;
    // Column privileges: kept as one opaque name, e.g. "SELECT (a, b)".
    const cols = ts.slice(open + 1).filter((t) => t.t === 'ident' || t.t === 'word').map((t) => t.v);
    return `${name} (${cols.join(', ')})`;
  });
  if (privileges.length === 1 && privileges[0] === 'PROXY') return { kind: 'proxy', raw };
  i++;
  let routine: string | null = null;
  if (toks[i]?.t === 'word' && ['FUNCTION', 'PROCEDURE', 'PACKAGE'].includes(toks[i]!.v.toUpperCase())) {
    routine = toks[i]!.v.toUpperCase();
    i++;
    if (isWord(toks[i], 'BODY')) {
      routine += ' BODY';
      i++;
    }
  }
  const first = toks[i];
  if (!first || (first.t !== 'ident' && first.t !== 'word')) return { kind: 'unparsed', raw };
  const db = first.v;
  let table = '*';
  i++;
  if (toks[i]?.t === 'punct' && toks[i]!.v === '.') {
    const second = toks[i + 1];
    if (!second || (second.t !== 'ident' && second.t !== 'word')) return { kind: 'unparsed', raw };
    table = second.v;
    i += 2;
  } else if (db === '*') {
    table = '*'; // `ON *` (current database) is printed as *.* by SHOW GRANTS anyway
  }
  if (!isWord(toks[i], 'TO')) return { kind: 'unparsed', raw };
  i++;
  const u = toks[i];
  const at = toks[i + 1];
  const h = toks[i + 2];
  if (!u || u.t === 'punct' || !at || at.t !== 'punct' || at.v !== '@' || !h || h.t === 'punct') {
    return { kind: 'unparsed', raw };
  }
  i += 3;
  let auth: ParsedAuth | null = null;
  let grantOption = false;
  while (i < toks.length) {
    if (isWord(toks[i], 'IDENTIFIED') && isWord(toks[i + 1], 'BY') && isWord(toks[i + 2], 'PASSWORD') && toks[i + 3]?.t === 'str') {
      auth = { plugins: [{ plugin: 'mysql_native_password', data: toks[i + 3]!.v }] };
      i += 4;
    } else if (isWord(toks[i], 'IDENTIFIED') && isWord(toks[i + 1], 'VIA')) {
      auth = { plugins: [] };
      i += 2;
      for (;;) {
        const p = toks[i];
        if (!p || p.t !== 'word') break;
        let data: string | null = null;
        i++;
        if (isWord(toks[i], 'USING') && toks[i + 1]?.t === 'str') {
          data = toks[i + 1]!.v;
          i += 2;
        }
        auth.plugins.push({ plugin: p.v.toLowerCase(), data });
        if (isWord(toks[i], 'OR')) i++;
        else break;
      }
    } else if (isWord(toks[i], 'WITH') && isWord(toks[i + 1], 'GRANT') && isWord(toks[i + 2], 'OPTION')) {
      grantOption = true;
      i += 3;
    } else {
      i++; // REQUIRE ..., WITH MAX_QUERIES_PER_HOUR n, ...: not managed here
    }
  }
  return { kind: 'privileges', user: u.v, host: h.v, privileges, db, table, routine, grantOption, auth, raw };
}

/** All lines of `SHOW GRANTS FOR ...` as printed by `mariadb -N -B`. */
export function parseShowGrants(text: string): ParsedGrant[] {
  return parseBatchRows(text).map((r) => parseGrantLine(r.join('\t')));
}

// ---------------------------------------------------------------------------
// Diff

/** mysql_native_password's stored form: '*' + HEX(SHA1(SHA1(password))). Compared, never shown. */
export function nativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`;
}

export type SqlChangeKind =
  | 'create-database'
  | 'alter-database'
  | 'create-user'
  | 'password-changed'
  | 'auth-changed'
  | 'grant'
  | 'revoke'
  | 'drop-user';

export interface SqlChange {
  kind: SqlChangeKind;
  /** For the plan: names objects and accounts, never a secret. */
  description: string;
  statements: SqlStatement[];
  /** Removes access or data: the engine may want an explicit confirmation. */
  destructive: boolean;
}

export interface ActualAccount {
  user: string;
  host: string;
  /** Parsed SHOW GRANTS lines for the account. */
  grants: ParsedGrant[];
}

export function accountKey(user: string, host: string): string {
  return `'${user}'@'${host}'`;
}

function objectKey(db: string, table: string): string {
  return `${db}.${table}`;
}

function describeObject(db: string, table: string): string {
  if (db === '*') return '*.*';
  return table === '*' ? `\`${db}\`.*` : `\`${db}\`.\`${table}\``;
}

export interface AccountDiffOptions {
  version?: string;
  /**
   * User names this run owns: an existing account of such a user whose host is
   * no longer desired is dropped (shown as destructive).
   */
  managedUsers?: string[];
}

/**
 * Desired accounts vs what SHOW GRANTS reports: the minimal list of changes.
 * `secrets` are needed only to compare password hashes; they never reach a
 * description.
 */
export function diffAccounts(
  desired: DesiredAccount[],
  actual: ActualAccount[],
  secrets: Record<string, string | undefined>,
  options: AccountDiffOptions = {},
): SqlChange[] {
  const version = options.version ?? '10.11';
  const changes: SqlChange[] = [];
  const actualByKey = new Map(actual.map((a) => [accountKey(a.user, a.host), a]));
  const desiredKeys = new Set(desired.map((d) => accountKey(d.user, d.host)));

  for (const d of desired) {
    const key = accountKey(d.user, d.host);
    const acct = `'${d.user}'@'${d.host}'`;
    const a = actualByKey.get(key);
    const privGrants = (a?.grants ?? []).filter((g): g is ParsedPrivilegeGrant => g.kind === 'privileges');

    if (!a) {
      changes.push({
        kind: 'create-user',
        description: `create user ${acct}${d.auth.kind === 'unix_socket' ? ' (unix_socket, no password)' : ''}`,
        statements: [createUserSql(d.user, d.host, d.auth)],
        destructive: false,
      });
    } else {
      const auth = privGrants.find((g) => g.auth !== null)?.auth ?? null;
      if (d.auth.kind === 'password') {
        const secret = secrets[d.auth.secret];
        if (secret === undefined) {
          throw new DeployError('missing-secret', `secret ${d.auth.secret} (password of ${acct}) has no value`, {
            hint: `Set the environment variable ${d.auth.secret}.`,
          });
        }
        const current = auth?.plugins.find((p) => p.plugin === 'mysql_native_password')?.data ?? null;
        if (current === null || current.toUpperCase() !== nativePasswordHash(secret)) {
          changes.push({
            kind: 'password-changed',
            description: `password changed for ${acct}`,
            statements: [alterUserAuthSql(d.user, d.host, d.auth)],
            destructive: false,
          });
        }
      } else if (!auth?.plugins.some((p) => p.plugin === 'unix_socket')) {
        changes.push({
          kind: 'auth-changed',
          description: `authenticate ${acct} via unix_socket`,
          statements: [alterUserAuthSql(d.user, d.host, d.auth)],
          destructive: false,
        });
      }
    }

    // Grants, per object.
    const have = new Map<string, { privs: Set<string>; grantOption: boolean; db: string; table: string }>();
    for (const g of privGrants) {
      if (g.routine !== null) continue;
      const k = objectKey(g.db, g.table);
      const entry = have.get(k) ?? { privs: new Set<string>(), grantOption: false, db: g.db, table: g.table };
      for (const p of g.privileges) if (p !== 'USAGE') entry.privs.add(p);
      entry.grantOption ||= g.grantOption;
      have.set(k, entry);
    }
    const wantKeys = new Set<string>();
    for (const g of d.grants) {
      const db = g.db === '*' ? '*' : g.table === undefined || g.table === '*' ? escapeGrantDatabase(g.db) : g.db;
      const table = g.table ?? '*';
      const k = objectKey(db, table);
      wantKeys.add(k);
      const want = g.privileges.map(normalizePrivilege);
      const got = new Set(have.get(k)?.privs ?? []);
      const globalAll = have.get('*.*')?.privs.has('ALL PRIVILEGES') ?? false;
      // Exact and narrower than an existing ALL: revoke ALL first, then grant the list.
      const narrowAll = d.exactGrants && got.has('ALL PRIVILEGES') && !want.includes('ALL PRIVILEGES');
      if (narrowAll) {
        changes.push({
          kind: 'revoke',
          description: `revoke ALL PRIVILEGES on ${describeObject(g.db, table)} from ${acct}`,
          statements: [revokeSql(['ALL PRIVILEGES'], g.db, g.table, d.user, d.host, version)],
          destructive: true,
        });
        got.clear();
      }
      const missing =
        got.has('ALL PRIVILEGES') || (!d.exactGrants && globalAll) ? [] : want.filter((p) => !got.has(p));
      if (missing.length > 0) {
        changes.push({
          kind: 'grant',
          description: `grant ${missing.join(', ')} on ${describeObject(g.db, table)} to ${acct}`,
          statements: [grantSql(missing, g.db, g.table, d.user, d.host, version)],
          destructive: false,
        });
      }
      if (d.exactGrants && got.size > 0) {
        const extra = want.includes('ALL PRIVILEGES') ? [] : [...got].filter((p) => !want.includes(p)).sort();
        if (extra.length > 0) {
          changes.push({
            kind: 'revoke',
            description: `revoke ${extra.join(', ')} on ${describeObject(g.db, table)} from ${acct}`,
            statements: [revokeSql(extra, g.db, g.table, d.user, d.host, version)],
            destructive: true,
          });
        }
      }
    }
    if (d.exactGrants) {
      for (const [k, entry] of have) {
        const unwanted = [...entry.privs].sort();
        if (!wantKeys.has(k) && unwanted.length > 0) {
          // The object is as SHOW GRANTS names it (wildcards kept): revoke exactly that.
          changes.push({
            kind: 'revoke',
            description: `revoke ${unwanted.join(', ')} on ${entry.db === '*' ? '*.*' : `\`${entry.db}\`${entry.table === '*' ? '.*' : `.\`${entry.table}\``}`} from ${acct}`,
            statements: [
              stmt(
                `REVOKE ${unwanted.join(', ')} ON ${entry.db === '*' ? '*.*' : `${quoteIdent(entry.db)}.${entry.table === '*' ? '*' : quoteIdent(entry.table)}`} FROM ${quoteAccount(d.user, d.host)}`,
              ),
            ],
            destructive: true,
          });
        }
        if (entry.grantOption) {
          changes.push({
            kind: 'revoke',
            description: `revoke GRANT OPTION on ${describeObject(entry.db, entry.table)} from ${acct}`,
            statements: [
              stmt(
                `REVOKE GRANT OPTION ON ${entry.db === '*' ? '*.*' : `${quoteIdent(entry.db)}.${entry.table === '*' ? '*' : quoteIdent(entry.table)}`} FROM ${quoteAccount(d.user, d.host)}`,
              ),
            ],
            destructive: true,
          });
        }
      }
    }
  }

  const managed = new Set(options.managedUsers ?? []);
  for (const a of actual) {
    if (managed.has(a.user) && !desiredKeys.has(accountKey(a.user, a.host))) {
      changes.push({
        kind: 'drop-user',
        description: `drop user '${a.user}'@'${a.host}' (host no longer in the inventory)`,
        statements: [dropUserSql(a.user, a.host)],
        destructive: true,
      });
    }
  }
  return changes;
}

/** Databases to create, or to alter when their default charset/collation differ. */
export function diffDatabases(desired: DesiredDatabase[], actual: DesiredDatabase[]): SqlChange[] {
  const byName = new Map(actual.map((a) => [a.name, a]));
  const changes: SqlChange[] = [];
  for (const d of desired) {
    const a = byName.get(d.name);
    if (!a) {
      changes.push({
        kind: 'create-database',
        description: `create database \`${d.name}\` (${d.charset}, ${d.collation})`,
        statements: [createDatabaseSql(d)],
        destructive: false,
      });
    } else if (a.charset.toLowerCase() !== d.charset.toLowerCase() || a.collation.toLowerCase() !== d.collation.toLowerCase()) {
      changes.push({
        kind: 'alter-database',
        description: `change default of \`${d.name}\` from ${a.charset}/${a.collation} to ${d.charset}/${d.collation} (existing tables keep theirs)`,
        statements: [alterDatabaseSql(d)],
        destructive: false,
      });
    }
  }
  return changes;
}
