/**
 * Moving a single-server MySQL/MariaDB database into the Galera cluster, the
 * pure half: what to ask the source, what to refuse, the dump and import
 * commands, and the verification.
 *
 * ## What Galera cannot take
 *
 * Galera replicates only InnoDB: rows written to MyISAM, Aria or MEMORY tables
 * stay on the node that wrote them (the CREATE replicates, the data does not),
 * so the other nodes silently hold empty tables. Tables without a primary key
 * replicate, but row events are applied by full scans and DELETEs on them are
 * unsupported, so nodes can diverge. Both are found before anything moves
 * (`inventoryQuery`, `classifyTables`) and refused (`nonReplicableError`)
 * unless conversion is asked for.
 *
 * ## Conversion happens on the target, on empty tables
 *
 * Converting on the source would change the production server, and converting
 * after the import would be too late (the MyISAM rows would only be on the
 * writer). So with conversion the dump runs in phases (`dumpPlan`):
 *   1. schema (tables, views, routines), no data, no triggers;
 *   2. ALTERs on the still-empty cluster tables (engine -> InnoDB, add a
 *      primary key): cheap, and replicated as DDL;
 *   3. data only, with column names in every INSERT (--complete-insert) so
 *      rows fit tables that gained a column;
 *   4. triggers and events, last so that neither fires while the data loads.
 * Without conversion a single dump does it all.
 *
 * ## Consistency of the dump
 *
 * All-InnoDB: `--single-transaction` reads one snapshot without blocking the
 * source. Any MyISAM/Aria table: a snapshot does not cover non-transactional
 * tables, so `--lock-all-tables` takes a global read lock for the dump's
 * duration: writes on the source wait. A migration is a cutover done with the
 * site in maintenance mode, so this costs nothing that was not already
 * stopped, and it is the only way the tables agree with each other.
 */
import type { CheckResult } from '../../check.js';
import { DeployError } from '../../errors.js';
import { joinArgs } from '../glusterfs/cli.js';
import { quoteIdent, quoteString } from '../galera/sql.js';
import { parseBatchRows } from '../galera/table.js';
import { MIGRATE_LAYER } from './files.js';

export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** The inventory option that allows conversion; named in the refusal so the operator knows what to set. */
export const CONVERT_OPTION = 'migrate.database.convert_tables';

function validateSchemas(schemas: readonly string[]): void {
  if (schemas.length === 0) throw new DeployError('invalid-inventory', 'no databases named for the migration');
  for (const s of schemas) {
    if (SYSTEM_SCHEMAS.includes(s.toLowerCase())) {
      throw new DeployError('invalid-inventory', `database "${s}" is a system schema and is never migrated`, {
        hint: 'List only the application databases (e.g. moodle); accounts are created by deploy-db.',
      });
    }
    quoteIdent(s); // throws on names MariaDB would not accept
  }
}

function inList(schemas: readonly string[]): string {
  return schemas.map(quoteString).join(', ');
}

// ---------------------------------------------------------------------------
// What is there

/**
 * Every base table of the schemas: engine, whether it has a primary key, its
 * AUTO_INCREMENT column if any, and the estimated row count. Run with
 * `mariadb -N -B`; parse with `parseTableInventory`. System-versioned tables
 * are base tables too (MariaDB reports them as "SYSTEM VERSIONED").
 */
export function inventoryQuery(schemas: readonly string[]): string {
  validateSchemas(schemas);
  return (
    'SELECT t.TABLE_SCHEMA, t.TABLE_NAME, IFNULL(t.ENGINE, \'\'), ' +
    'IF(EXISTS(SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c WHERE c.CONSTRAINT_SCHEMA = t.TABLE_SCHEMA ' +
    "AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'PRIMARY KEY'), 1, 0), " +
    'IFNULL((SELECT k.COLUMN_NAME FROM information_schema.COLUMNS k WHERE k.TABLE_SCHEMA = t.TABLE_SCHEMA ' +
    "AND k.TABLE_NAME = t.TABLE_NAME AND k.EXTRA LIKE '%auto_increment%' LIMIT 1), ''), " +
    'IFNULL(t.TABLE_ROWS, 0) ' +
    'FROM information_schema.TABLES t ' +
    `WHERE t.TABLE_SCHEMA IN (${inList(schemas)}) AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ` +
    'ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME;'
  );
}

export interface TableInfo {
  schema: string;
  table: string;
  engine: string;
  hasPrimaryKey: boolean;
  /** Name of the AUTO_INCREMENT column, if the table has one. */
  autoIncrementColumn: string | null;
  /** information_schema's estimate (exact for MyISAM, approximate for InnoDB). */
  estimatedRows: number;
}

export function parseTableInventory(stdout: string): TableInfo[] {
  return parseBatchRows(stdout).map((r) => {
    if (r.length < 6) throw new Error(`unexpected table inventory row: ${r.join('\t')}`);
    return {
      schema: r[0]!,
      table: r[1]!,
      engine: r[2]!,
      hasPrimaryKey: r[3] === '1',
      autoIncrementColumn: r[4] === '' || r[4] === 'NULL' ? null : r[4]!,
      estimatedRows: Number(r[5]) || 0,
    };
  });
}

/** Columns of every base table, in table order: for the content checksum and for picking a free key name. */
export function columnsQuery(schemas: readonly string[]): string {
  validateSchemas(schemas);
  return (
    'SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.COLUMNS c ' +
    'JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME ' +
    `WHERE c.TABLE_SCHEMA IN (${inList(schemas)}) AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ` +
    'ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION;'
  );
}

export function tableKey(schema: string, table: string): string {
  return `${schema}.${table}`;
}

/** `schema.table` -> column names in order. */
export function parseColumns(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of parseBatchRows(stdout)) {
    if (r.length < 3) continue;
    const k = tableKey(r[0]!, r[1]!);
    const list = out.get(k) ?? [];
    list.push(r[2]!);
    out.set(k, list);
  }
  return out;
}

export interface TableProblem {
  schema: string;
  table: string;
  /** Why Galera cannot take it as it is. */
  reasons: Array<'engine' | 'no-primary-key'>;
  engine: string;
}

export function classifyTables(tables: readonly TableInfo[]): TableProblem[] {
  const out: TableProblem[] = [];
  for (const t of tables) {
    const reasons: TableProblem['reasons'] = [];
    if (t.engine.toLowerCase() !== 'innodb') reasons.push('engine');
    if (!t.hasPrimaryKey) reasons.push('no-primary-key');
    if (reasons.length > 0) out.push({ schema: t.schema, table: t.table, reasons, engine: t.engine });
  }
  return out;
}

function describeProblem(p: TableProblem): string {
  const parts: string[] = [];
  if (p.reasons.includes('engine')) parts.push(`engine ${p.engine || 'unknown'} (Galera replicates only InnoDB)`);
  if (p.reasons.includes('no-primary-key')) parts.push('no primary key');
  return `${p.schema}.${p.table}: ${parts.join(', ')}`;
}

/**
 * The refusal: names every table and what is wrong with it, and the option
 * that converts them.
 */
export function nonReplicableError(problems: readonly TableProblem[], option = CONVERT_OPTION, host?: string): DeployError {
  const lines = problems.map(describeProblem);
  return new DeployError(
    'preflight-failed',
    `${problems.length} table(s) cannot be replicated by Galera as they are:\n  ${lines.join('\n  ')}`,
    {
      hint:
        `Set ${option}: true to convert them during the migration: non-InnoDB tables become InnoDB, and a table without ` +
        'a primary key gets its AUTO_INCREMENT column as key or a new "id" column (BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY; ' +
        '"lmsha_id" when "id" is taken). An application that inserts without a column list into such a table must be checked first. ' +
        'Or convert them yourself on the source and plan again.',
      ...(host === undefined ? {} : { host }),
    },
  );
}

/** Throws the refusal when there is anything to refuse and conversion was not asked for. */
export function assertReplicable(tables: readonly TableInfo[], convert: boolean, option = CONVERT_OPTION, host?: string): TableProblem[] {
  const problems = classifyTables(tables);
  if (problems.length > 0 && !convert) throw nonReplicableError(problems, option, host);
  return problems;
}

// ---------------------------------------------------------------------------
// Conversion

/**
 * Name for an added key column that no existing column uses (MariaDB column
 * names are case-insensitive): "id", else "lmsha_id", "lmsha_id_2", ...
 */
export function freeKeyColumnName(columns: readonly string[]): string {
  const taken = new Set(columns.map((c) => c.toLowerCase()));
  if (!taken.has('id')) return 'id';
  if (!taken.has('lmsha_id')) return 'lmsha_id';
  for (let i = 2; ; i++) if (!taken.has(`lmsha_id_${i}`)) return `lmsha_id_${i}`;
}

export interface ConversionStatement {
  schema: string;
  table: string;
  sql: string;
  /** What it does, for the plan. */
  summary: string;
  /** The column added as primary key, when one was added. */
  addedColumn?: string;
}

/**
 * One ALTER per problem table (one rebuild): ENGINE=InnoDB and/or a primary key.
 * A table that already has an AUTO_INCREMENT column gets that column as its key
 * (a table can have only one AUTO_INCREMENT column; if its values are not
 * unique the ALTER fails and changes nothing). Otherwise a new column is
 * appended, last so that `SELECT *` keeps its column positions.
 */
export function conversionStatements(
  tables: readonly TableInfo[],
  columns: ReadonlyMap<string, readonly string[]>,
): ConversionStatement[] {
  const out: ConversionStatement[] = [];
  for (const p of classifyTables(tables)) {
    const info = tables.find((t) => t.schema === p.schema && t.table === p.table)!;
    const clauses: string[] = [];
    const what: string[] = [];
    let addedColumn: string | undefined;
    if (p.reasons.includes('engine')) {
      clauses.push('ENGINE=InnoDB');
      what.push(`engine ${p.engine} -> InnoDB`);
    }
    if (p.reasons.includes('no-primary-key')) {
      if (info.autoIncrementColumn) {
        clauses.push(`ADD PRIMARY KEY (${quoteIdent(info.autoIncrementColumn)})`);
        what.push(`primary key on its AUTO_INCREMENT column ${info.autoIncrementColumn}`);
      } else {
        addedColumn = freeKeyColumnName(columns.get(tableKey(p.schema, p.table)) ?? []);
        clauses.push(`ADD COLUMN ${quoteIdent(addedColumn)} BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY`);
        what.push(`new primary key column ${addedColumn} BIGINT UNSIGNED AUTO_INCREMENT`);
      }
    }
    const stmt: ConversionStatement = {
      schema: p.schema,
      table: p.table,
      sql: `ALTER TABLE ${quoteIdent(p.schema)}.${quoteIdent(p.table)} ${clauses.join(', ')};`,
      summary: `${p.schema}.${p.table}: ${what.join('; ')}`,
    };
    if (addedColumn !== undefined) stmt.addedColumn = addedColumn;
    out.push(stmt);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Dump and import

/**
 * How the commands on the source host log in to its server. Without a
 * password: `user` over the unix socket (root by unix_socket auth, Debian's
 * default). With one: the command reads it from the first line of its stdin
 * into MYSQL_PWD (`readPasswordPrefix`), so it never appears on a command
 * line or in a file; the environment of a root process is readable by root only.
 */
export interface SourceConnection {
  user: string;
  port: number;
  /** The password comes first on stdin, one line. */
  password: boolean;
}

const DEFAULT_PORT = 3306;

/** Login options for the source's client programs. */
export function sourceConnectionArgs(conn: SourceConnection | undefined): string[] {
  if (!conn) return [];
  const args = [`--user=${conn.user}`];
  // The socket ignores the port: a server on another port is reached over TCP on loopback.
  if (conn.port !== DEFAULT_PORT) args.push('--protocol=tcp', '--host=127.0.0.1', `--port=${conn.port}`);
  return args;
}

/**
 * Shell prefix that takes the first stdin line as the password (`read` takes
 * the value as data, never as code) and leaves the rest of stdin to the client.
 */
export function readPasswordPrefix(conn: SourceConnection | undefined): string {
  return conn?.password ? 'IFS= read -r MYSQL_PWD && export MYSQL_PWD && ' : '';
}

/** What to put first on the stdin of a source command (`passwordStdin` + the SQL, or just the password for a dump). */
export function passwordStdin(conn: SourceConnection | undefined, password: string | undefined): string {
  if (!conn?.password) return '';
  if (password === undefined || /[\n\r\0]/.test(password)) {
    throw new DeployError('missing-secret', 'the source database password is missing or contains a line break');
  }
  return `${password}\n`;
}

/** A batch query command on the source (stdin: `passwordStdin` then the SQL). */
export function sourceQueryCommand(conn: SourceConnection | undefined): string {
  return `${readPasswordPrefix(conn)}exec ${CLIENT_BIN} ${joinArgs([...sourceConnectionArgs(conn), '--default-character-set=utf8mb4', '--batch', '-N'])}`;
}

export interface DumpSpec {
  schemas: readonly string[];
  /** Any non-transactional table in the schemas: the dump takes a global read lock instead of a snapshot. */
  lockAllTables: boolean;
  /** Conversion was asked for and there is something to convert: phased dump. */
  convert: boolean;
  /** How the dump logs in to the source; omitted: root over the unix socket. */
  source?: SourceConnection;
}

export interface DumpStep {
  name: 'full' | 'schema' | 'convert' | 'data' | 'programs';
  /** Command on the source whose stdout is the SQL; absent for `convert`. Its stdin gets `passwordStdin`. */
  source?: string;
  /** Command on the target writer that reads SQL on stdin. */
  target: string;
  /** For `convert`: the script to send on the target's stdin. */
  sql?: string;
  summary: string;
}

// mariadb-dump on MariaDB 10.5+, mysqldump on older or MySQL sources.
const DUMP_BIN = '"$(command -v mariadb-dump || command -v mysqldump)"';
const CLIENT_BIN = '"$(command -v mariadb || command -v mysql)"';

/** Prints the dump tool's path, or fails: checked before planning a dump. */
export const DUMP_TOOL_COMMAND = 'command -v mariadb-dump || command -v mysqldump';

function dumpCommand(spec: DumpSpec, extra: readonly string[]): string {
  const base = [
    ...sourceConnectionArgs(spec.source),
    // utf8mb4 explicitly: old mysqldump defaults to 3-byte utf8 and would mangle emoji.
    '--default-character-set=utf8mb4',
    // LOCK TABLES statements in the output are not supported by Galera on import.
    '--skip-add-locks',
    spec.lockAllTables ? '--lock-all-tables' : '--single-transaction',
    '--quick',
  ];
  const args = joinArgs([...base, ...extra, '--databases', ...spec.schemas]);
  return `${readPasswordPrefix(spec.source)}LC_ALL=C exec ${DUMP_BIN} ${args}`;
}

/** The import on the writer, as root over the unix socket: stdin is the dump stream (or the conversion script). */
export function importCommand(): string {
  return `exec ${CLIENT_BIN} --default-character-set=utf8mb4 --batch`;
}

/**
 * The ordered steps. Each source command's stdout is piped by the runner into
 * the step's target command (no copy on the runner or on disk).
 */
export function dumpPlan(spec: DumpSpec, conversions: readonly ConversionStatement[] = []): DumpStep[] {
  validateSchemas(spec.schemas);
  const target = importCommand();
  const lock = spec.lockAllTables ? 'global read lock (non-InnoDB tables present)' : 'consistent snapshot';
  if (!spec.convert || conversions.length === 0) {
    return [
      {
        name: 'full',
        source: dumpCommand(spec, ['--routines', '--triggers', '--events']),
        target,
        summary: `dump ${spec.schemas.join(', ')} (${lock}) into the cluster writer`,
      },
    ];
  }
  return [
    {
      name: 'schema',
      // Routines here, not with the triggers: views (created in this phase) may call them.
      source: dumpCommand(spec, ['--no-data', '--skip-triggers', '--routines']),
      target,
      summary: `create the tables, views and routines of ${spec.schemas.join(', ')} on the cluster, without data or triggers`,
    },
    {
      name: 'convert',
      target,
      sql: `${conversions.map((c) => c.sql).join('\n')}\n`,
      summary: `convert ${conversions.length} empty table(s): ${conversions.map((c) => c.summary).join('; ')}`,
    },
    {
      name: 'data',
      source: dumpCommand(spec, ['--no-create-info', '--no-create-db', '--skip-triggers', '--complete-insert']),
      target,
      summary: `load the rows (${lock}), with column names so converted tables accept them`,
    },
    {
      name: 'programs',
      source: dumpCommand(spec, ['--no-data', '--no-create-info', '--no-create-db', '--triggers', '--events']),
      target,
      summary: 'create triggers and events',
    },
  ];
}

/** Tables already in the target schemas: the dump drops and recreates tables, so a non-empty target is refused. */
export function targetTablesQuery(schemas: readonly string[]): string {
  validateSchemas(schemas);
  return `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${inList(schemas)}) ORDER BY 1, 2;`;
}

/**
 * The refusal to import over tables that are already there and are not
 * the source's (`differing` says how they differ, when known).
 */
export function targetNotEmptyError(tables: readonly string[], host?: string, differing: readonly string[] = []): DeployError {
  const names = tables.slice(0, 10).join(', ') + (tables.length > 10 ? ', ...' : '');
  const why = differing.length > 0 ? `; they differ from the source: ${differing.slice(0, 5).join('; ')}${differing.length > 5 ? '; ...' : ''}` : '';
  return new DeployError(
    'preflight-failed',
    `the cluster already has ${tables.length} table(s) in the target databases (${names})${why}; the import would drop and replace them`,
    {
      hint:
        'Migrate into empty databases: after making sure nothing there is needed (e.g. a half-finished earlier migration), drop the databases on the cluster ' +
        '(DROP DATABASE name; deploy-db creates them again, empty) and plan again.',
      ...(host === undefined ? {} : { host }),
    },
  );
}

/** Exact row counts of the tables, one query (`parseRowCounts`). */
export function rowCountsQuery(tables: ReadonlyArray<{ schema: string; table: string }>): string {
  if (tables.length === 0) return '';
  return `${tables
    .map((t) => `SELECT ${quoteString(t.schema)}, ${quoteString(t.table)}, COUNT(*) FROM ${quoteIdent(t.schema)}.${quoteIdent(t.table)}`)
    .join('\nUNION ALL ')};`;
}

/** `schema.table` -> exact row count. */
export function parseRowCounts(stdout: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of parseBatchRows(stdout)) {
    if (r.length < 3) throw new Error(`unexpected row count row: ${r.join('\t')}`);
    out.set(tableKey(r[0]!, r[1]!), Number(r[2]));
  }
  return out;
}

/** Bytes of data and indexes per schema (information_schema's figures), for the plan. */
export function schemaSizesQuery(schemas: readonly string[]): string {
  validateSchemas(schemas);
  return (
    'SELECT TABLE_SCHEMA, IFNULL(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES ' +
    `WHERE TABLE_SCHEMA IN (${inList(schemas)}) GROUP BY TABLE_SCHEMA ORDER BY 1;`
  );
}

export function parseSchemaSizes(stdout: string): Map<string, number> {
  return new Map(parseBatchRows(stdout).map((r) => [r[0]!, Number(r[1]) || 0]));
}

// ---------------------------------------------------------------------------
// Verification

/**
 * The engine-independent content checksum of one table: row count, and two
 * order-independent aggregates over a per-row string (SUM of CRC32 and the XOR
 * of the first 64 bits of MD5; XOR alone would let two identical rows cancel
 * out). The row string is built from `columns` (the source's columns, so a
 * key column added on the target is left out), each as its bytes (CAST AS
 * BINARY, so mixed collations cannot clash) preceded by its byte length, or
 * -1 for NULL: ('a', NULL) and (NULL, 'a') and ('a#', 'b') vs ('a', '#b')
 * all differ. TIMESTAMPs are read in UTC (see `checksumScript`).
 */
export function tableChecksumSql(schema: string, table: string, columns: readonly string[]): string {
  if (columns.length === 0) throw new Error(`table ${schema}.${table} has no columns`);
  const parts = columns.flatMap((c) => {
    const v = `CAST(${quoteIdent(c)} AS BINARY)`;
    return [`IFNULL(LENGTH(${v}), -1)`, v];
  });
  const row = `CONCAT_WS('#', ${parts.join(', ')})`;
  return (
    `SELECT ${quoteString(schema)}, ${quoteString(table)}, COUNT(*), ` +
    'COALESCE(SUM(CRC32(r)), 0), ' +
    'COALESCE(BIT_XOR(CAST(CONV(LEFT(MD5(r), 16), 16, 10) AS UNSIGNED)), 0) ' +
    `FROM (SELECT ${row} AS r FROM ${quoteIdent(schema)}.${quoteIdent(table)}) AS lmsha_rows;`
  );
}

/**
 * One script for every table, for `mariadb -N -B` on each side. `syncWait`
 * (Galera target read on a node other than the writer): wait until the node
 * has applied everything the cluster committed before reading.
 */
export function checksumScript(
  tables: ReadonlyArray<{ schema: string; table: string }>,
  columns: ReadonlyMap<string, readonly string[]>,
  options: { syncWait?: boolean } = {},
): string {
  const lines = ["SET SESSION time_zone = '+00:00';"];
  if (options.syncWait) lines.push('SET SESSION wsrep_sync_wait = 1;');
  for (const t of tables) {
    const cols = columns.get(tableKey(t.schema, t.table));
    if (!cols) throw new Error(`no column list for ${t.schema}.${t.table}`);
    lines.push(tableChecksumSql(t.schema, t.table, cols));
  }
  return `${lines.join('\n')}\n`;
}

export interface TableChecksum {
  schema: string;
  table: string;
  /** Decimal strings: counts and sums can exceed what a JS number holds exactly. */
  rows: string;
  crcSum: string;
  md5Xor: string;
}

export function parseChecksums(stdout: string): TableChecksum[] {
  return parseBatchRows(stdout).map((r) => {
    if (r.length < 5) throw new Error(`unexpected checksum row: ${r.join('\t')}`);
    return { schema: r[0]!, table: r[1]!, rows: r[2]!, crcSum: r[3]!, md5Xor: r[4]! };
  });
}

function normNum(s: string): string {
  const t = s.trim().replace(/^0+(?=\d)/, '');
  return t === '' ? '0' : t;
}

export interface VerifyTablesOptions {
  sourceHost: string;
  targetHost: string;
}

/**
 * One row per source table: row count and content checksum equal on the
 * target. A table missing on the target fails; a table only on the target
 * warns.
 */
export function compareTableChecksums(
  source: readonly TableChecksum[],
  target: readonly TableChecksum[],
  options: VerifyTablesOptions,
): CheckResult[] {
  const out: CheckResult[] = [];
  const byKey = new Map(target.map((t) => [tableKey(t.schema, t.table), t]));
  const row = (check: string, expected: string, observed: string, status: CheckResult['status'], hint?: string): CheckResult => {
    const r: CheckResult = { layer: MIGRATE_LAYER, host: options.targetHost, check, expected, observed, status };
    if (hint && status !== 'ok') r.hint = hint;
    return r;
  };
  const redo = 'Re-run the database migration into empty databases (the source must not change meanwhile: maintenance mode).';
  for (const s of source) {
    const key = tableKey(s.schema, s.table);
    const t = byKey.get(key);
    const check = `table ${key}`;
    const expected = `${normNum(s.rows)} rows, checksum ${normNum(s.crcSum)}/${normNum(s.md5Xor)} (from ${options.sourceHost})`;
    if (!t) {
      out.push(row(check, expected, 'missing', 'fail', redo));
      continue;
    }
    byKey.delete(key);
    const countOk = normNum(s.rows) === normNum(t.rows);
    const sumOk = normNum(s.crcSum) === normNum(t.crcSum) && normNum(s.md5Xor) === normNum(t.md5Xor);
    const observed = `${normNum(t.rows)} rows, checksum ${normNum(t.crcSum)}/${normNum(t.md5Xor)}`;
    if (!countOk || !sumOk) {
      out.push(row(check, expected, observed, 'fail', countOk ? `Same row count but different content. ${redo}` : redo));
      continue;
    }
    out.push(row(check, expected, observed, 'ok'));
  }
  for (const [key, t] of byKey) {
    out.push(row(`table ${key}`, `not on ${options.sourceHost}`, `${normNum(t.rows)} rows`, 'warn', 'Only on the target: not from the migration.'));
  }
  return out;
}
