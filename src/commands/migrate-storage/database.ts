/**
 * migrate-storage, database part: a single-server MySQL/MariaDB (the
 * inventory's migrate.database) copied into the Galera cluster through its
 * writer (the first db host).
 *
 * Gather (read-only, again under the lock before apply): the source's tables
 * with engines, keys and exact row counts, sizes, the dump tool; the writer's
 * wsrep state and the tables already in the target databases. When the target
 * already has tables, both sides are checksummed: identical means the
 * migration is done (no changes, so a second apply reports 0), anything else
 * is refused, never overwritten.
 *
 * Plan (pure): tables Galera cannot replicate are refused unless
 * migrate.database.convert_tables is set; then one change per dump step
 * (components/migrate/database.ts explains the phases), the last of which
 * verifies per-table row counts and content checksums on the writer and on
 * every other node (with wsrep_sync_wait, so they are read after they have
 * applied the copy).
 *
 * Apply: each dump step starts the dump on the source and the client on the
 * writer with open streams (RemoteHost.spawn) and pipes one into the other
 * through the runner: nothing is written to disk on the runner or the hosts.
 */
import { DeployError } from '../../errors.js';
import { changeId, type PlannedChange } from '../../engine/change.js';
import type { HostFacts as PlanHostFacts } from '../../engine/plan.js';
import { hostsWithRole, type Host } from '../../inventory/index.js';
import type { Logger } from '../../log.js';
import type { RemoteHost, RemoteProcess, RunResult } from '../../ssh/types.js';
import {
  checksumScript,
  assertReplicable,
  classifyTables,
  columnsQuery,
  compareTableChecksums,
  conversionStatements,
  CONVERT_OPTION,
  DUMP_TOOL_COMMAND,
  dumpPlan,
  inventoryQuery,
  parseChecksums,
  parseColumns,
  parseRowCounts,
  parseSchemaSizes,
  parseTableInventory,
  passwordStdin,
  rowCountsQuery,
  schemaSizesQuery,
  sourceQueryCommand,
  tableKey,
  targetNotEmptyError,
  targetTablesQuery,
  type DumpStep,
  type SourceConnection,
  type TableChecksum,
  type TableInfo,
} from '../../components/migrate/database.js';
import { queryNodeStatus, runSqlScript } from '../../components/galera/orchestrate.js';
import { parseBatchRows } from '../../components/galera/table.js';
import type { CommandContext } from '../context.js';
import type { MigrationPart, MigrationPartPlan } from './part.js';
import { formatBytes, formatDuration } from '../../format.js';

/** A dump of a large database takes hours, not minutes. */
const DUMP_TIMEOUT_MS = 12 * 60 * 60_000;
const QUERY_TIMEOUT_MS = 10 * 60_000;
const CHECKSUM_TIMEOUT_MS = 2 * 60 * 60_000;

export interface DatabaseGathered {
  remotes: Map<string, RemoteHost>;
  sourceVersion: string;
  dumpTool: string;
  tables: TableInfo[];
  columns: Map<string, string[]>;
  rows: Map<string, number>;
  bytes: Map<string, number>;
  /** `schema.table` already on the cluster in the target databases. */
  targetTables: string[];
  /** Set when the target has tables: the comparison of both sides, row by row. */
  existing?: { sourceSums: TableChecksum[]; targetSums: TableChecksum[] };
  writerState: string;
  /** The writer is Primary and Synced: the cluster can take the copy. */
  writerReady: boolean;
}

export interface DatabaseMigrationSetting {
  source: Host;
  writer: Host;
  readers: Host[];
  schemas: string[];
  convert: boolean;
  conn: SourceConnection;
  password: string | undefined;
}

function settingFor(context: CommandContext): DatabaseMigrationSetting | undefined {
  const spec = context.environment.migrate?.database;
  if (!spec) return undefined;
  const source = context.environment.hosts.find((h) => h.name === spec.source_host);
  // The semantic checks of the inventory guarantee both; say so plainly if not.
  const dbHosts = hostsWithRole(context.environment, 'db');
  if (!source || dbHosts.length === 0) {
    throw new DeployError('invalid-inventory', 'migrate.database needs its source_host among the hosts and db hosts to copy into');
  }
  return {
    source,
    writer: dbHosts[0]!,
    readers: dbHosts.slice(1),
    schemas: [...spec.databases],
    convert: spec.convert_tables === true,
    conn: { user: spec.user, port: spec.port, password: spec.password !== undefined },
    password: spec.password ? context.secrets.valueOf(spec.password) : undefined,
  };
}

/** Runs a query on the source server; stdout of `mariadb -N -B`. */
async function sourceQuery(host: RemoteHost, s: DatabaseMigrationSetting, sql: string, purpose: string, timeoutMs = QUERY_TIMEOUT_MS): Promise<string> {
  const r = await host.run(sourceQueryCommand(s.conn), {
    purpose,
    stdin: passwordStdin(s.conn, s.password) + sql,
    timeoutMs,
    allowFailure: true,
  });
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n').slice(-3).join(' ') || `exit ${r.code}`;
    throw new DeployError('command-failed', `${host.name}: ${purpose} on the source database failed: ${why}`, {
      host: host.name,
      hint: `Check that MariaDB/MySQL runs on ${host.name} and that migrate.database (user ${s.conn.user}, port ${s.conn.port}${s.conn.password ? ', password' : ', unix socket'}) can read ${s.schemas.join(', ')}.`,
    });
  }
  return r.stdout;
}

function columnsOf(g: Pick<DatabaseGathered, 'columns'>, tables: readonly TableInfo[]): Map<string, string[]> {
  return new Map(tables.map((t) => [tableKey(t.schema, t.table), g.columns.get(tableKey(t.schema, t.table)) ?? []]));
}

async function gather(context: CommandContext, s: DatabaseMigrationSetting): Promise<DatabaseGathered> {
  const remotes = new Map<string, RemoteHost>();
  for (const h of [s.source, s.writer, ...s.readers]) remotes.set(h.name, await context.host(h.name));
  const src = remotes.get(s.source.name)!;
  const writer = remotes.get(s.writer.name)!;

  const tool = await src.run(DUMP_TOOL_COMMAND, { purpose: 'find mariadb-dump or mysqldump', allowFailure: true, timeoutMs: 30_000 });
  if (tool.code !== 0 || tool.stdout.trim() === '') {
    throw new DeployError('preflight-failed', `${s.source.name}: neither mariadb-dump nor mysqldump is installed on the migration source`, {
      host: s.source.name,
      hint: `Install the client of its server on ${s.source.name} (e.g. apt-get install mariadb-client), then plan again.`,
    });
  }
  const versionOut = await sourceQuery(src, s, 'SELECT VERSION();\n', 'read the server version');
  const tables = parseTableInventory(await sourceQuery(src, s, `${inventoryQuery(s.schemas)}\n`, 'list tables'));
  const columns = parseColumns(await sourceQuery(src, s, `${columnsQuery(s.schemas)}\n`, 'list columns'));
  const rows = tables.length > 0 ? parseRowCounts(await sourceQuery(src, s, `${rowCountsQuery(tables)}\n`, 'count rows')) : new Map<string, number>();
  const bytes = parseSchemaSizes(await sourceQuery(src, s, `${schemaSizesQuery(s.schemas)}\n`, 'read database sizes'));

  const status = await queryNodeStatus(writer, 30_000);
  const writerState = status ? `${status.clusterStatus}/${status.localStateComment}/size ${status.clusterSize}` : 'not answering';
  const targetTables = parseBatchRows(await runSqlScript(writer, `${targetTablesQuery(s.schemas)}\n`, 'list tables of the target databases')).map(
    (r) => tableKey(r[0]!, r[1]!),
  );
  const g: DatabaseGathered = {
    remotes,
    sourceVersion: versionOut.trim().split('\n')[0] ?? '',
    dumpTool: tool.stdout.trim().split('\n')[0]!,
    tables,
    columns,
    rows,
    bytes,
    targetTables,
    writerState,
    writerReady: status !== null && status.clusterStatus === 'Primary' && status.localState === 4,
  };
  if (targetTables.length > 0 && tables.length > 0) {
    // Already migrated, or something else is there: only the content can tell.
    const script = checksumScript(tables, columnsOf(g, tables));
    const sourceSums = parseChecksums(await sourceQuery(src, s, script, 'checksum the source tables', CHECKSUM_TIMEOUT_MS));
    const present = tables.filter((t) => targetTables.includes(tableKey(t.schema, t.table)));
    const targetSums =
      present.length === 0
        ? []
        : parseChecksums(await runSqlScript(writer, checksumScript(present, columnsOf(g, present)), 'checksum the target tables', CHECKSUM_TIMEOUT_MS));
    g.existing = { sourceSums, targetSums };
  }
  return g;
}

function sum(values: Iterable<number>): number {
  let n = 0;
  for (const v of values) n += v;
  return n;
}


/** Per-table lines for the plan: the reviewer sees what moves before it moves. */
function tableLines(g: DatabaseGathered): string[] {
  return g.tables.map((t) => {
    const k = tableKey(t.schema, t.table);
    const flags = classifyTables([t])[0]?.reasons ?? [];
    return `${k} (${t.engine || 'no engine'}${t.hasPrimaryKey ? '' : ', no primary key'}): ${g.rows.get(k) ?? 0} rows${flags.length > 0 ? ' [converted]' : ''}`;
  });
}

export function planDatabaseMigration(s: DatabaseMigrationSetting, g: DatabaseGathered): MigrationPartPlan {
  const totalRows = sum(g.rows.values());
  const totalBytes = sum(g.bytes.values());
  const warnings: string[] = [];
  const sourceFacts: Record<string, string> = {
    server: g.sourceVersion,
    databases: s.schemas.join(', '),
    tables: String(g.tables.length),
    rows: String(totalRows),
    size: formatBytes(totalBytes),
  };
  const facts: PlanHostFacts[] = [
    { name: s.source.name, address: s.source.address, roles: ['migration source'], facts: sourceFacts },
    {
      name: s.writer.name,
      address: s.writer.address,
      roles: ['db', 'writer'],
      facts: { wsrep: g.writerState, 'target tables': String(g.targetTables.length) },
    },
  ];

  if (!g.writerReady) {
    throw new DeployError('cluster-unhealthy', `${s.writer.name}: the cluster writer is not ready to take the copy (wsrep ${g.writerState})`, {
      host: s.writer.name,
      hint: 'Run deploy-db (or recover) until verify-ha shows every node Synced, then plan the migration again.',
    });
  }
  if (g.tables.length === 0) {
    throw new DeployError('preflight-failed', `${s.source.name}: the source has no tables in ${s.schemas.join(', ')}`, {
      host: s.source.name,
      hint: 'Check migrate.database.databases against SHOW DATABASES on the source (names are case-sensitive).',
    });
  }

  // Already there: the same tables with the same content. Nothing to do.
  if (g.existing) {
    const cmp = compareTableChecksums(g.existing.sourceSums, g.existing.targetSums, { sourceHost: s.source.name, targetHost: s.writer.name });
    const bad = cmp.filter((r) => r.status === 'fail');
    const missing = bad.filter((r) => r.observed === 'missing');
    if (bad.length === 0) {
      sourceFacts.migrated = `yes: ${g.tables.length} tables identical on ${s.writer.name}`;
      return { changes: [], warnings, facts };
    }
    const differing = bad.map((r) => `${r.check.replace(/^table /, '')}: ${r.observed === 'missing' ? 'missing' : `${r.observed} vs ${r.expected}`}`);
    throw targetNotEmptyError(g.targetTables, s.writer.name, missing.length === bad.length ? [`${missing.length} source table(s) missing`] : differing);
  }

  assertReplicable(g.tables, s.convert, CONVERT_OPTION, s.source.name);
  const conversions = s.convert ? conversionStatements(g.tables, g.columns) : [];
  if (conversions.length > 0) {
    warnings.push(
      `${conversions.length} table(s) will be converted on the cluster (the source is not changed): ${conversions.map((c) => c.summary).join('; ')}. ` +
        'An application that inserts into a table with an added key column without naming its columns must be checked first.',
    );
  }
  const lockAllTables = g.tables.some((t) => t.engine.toLowerCase() !== 'innodb');
  if (lockAllTables) {
    warnings.push(`non-InnoDB tables on ${s.source.name}: the dump holds a global read lock while it runs (writes on the source wait); put the site in maintenance mode first`);
  }
  const steps = dumpPlan({ schemas: s.schemas, lockAllTables, convert: conversions.length > 0, source: s.conn }, conversions);
  const verifyOn = [s.writer, ...s.readers].map((h) => h.name);
  const changes: PlannedChange[] = steps.map((step, i) => {
    const last = i === steps.length - 1;
    const detail = [
      step.summary,
      ...(i === 0 ? [`${g.tables.length} tables, ${totalRows} rows, ${formatBytes(totalBytes)} from ${s.source.name} (${g.sourceVersion}):`, ...tableLines(g).map((l) => `- ${l}`)] : []),
      ...(step.source ? [`streamed ${s.source.name} -> runner -> ${s.writer.name}, nothing stored on the way`] : []),
      ...(last ? [`then verifies row counts and content checksums of every table on ${verifyOn.join(', ')}`] : []),
    ].join('\n');
    return {
      kind: 'cluster',
      step: 'migrate-data',
      id: changeId('cluster', s.writer.name, 'migrate-database', step.name),
      host: s.writer.name,
      summary:
        i === 0
          ? `copy ${s.schemas.join(', ')} (${g.tables.length} tables, ${totalRows} rows) from ${s.source.name}: ${step.summary}`
          : step.summary,
      detail,
      apply: async (ctx) => {
        await runStep(s, step, ctx.hosts, ctx.logger);
        if (last) await verifyMigration(s, g, conversions.length > 0, ctx.hosts, ctx.logger);
      },
    };
  });
  return { changes, warnings, facts };
}

function remoteOf(hosts: ReadonlyMap<string, RemoteHost>, name: string): RemoteHost {
  const h = hosts.get(name);
  if (!h) throw new DeployError('internal', `no connection to ${name} for the database migration`);
  return h;
}

function spawnOf(host: RemoteHost): NonNullable<RemoteHost['spawn']> {
  if (!host.spawn) throw new DeployError('internal', `${host.name}: the transport cannot stream (no spawn)`);
  return host.spawn.bind(host);
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' ').slice(0, 600);
}

/**
 * Bounds of one streamed dump step. The step ends when both remote processes
 * have ended; these turn every way it could instead wait forever into a
 * host error (an import once waited for its end of input for over 11 minutes
 * in CI).
 */
export interface StreamLimits {
  /** Nothing moved through the pipe for this long while the dump was still sending. */
  stallMs: number;
  /**
   * After the last byte of the dump: both sides must have ended. What is left
   * then is the SQL in flight (the runner's buffer and the SSH window, a few MB)
   * and the dump's exit status, so minutes are plenty.
   */
  finishMs: number;
  /** The whole step. */
  totalMs: number;
}

/**
 * A dump holding a global read lock can wait that long for a long query on the
 * source before it sends its first byte; a stall of 10 minutes is a fault.
 */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { stallMs: 10 * 60_000, finishMs: 5 * 60_000, totalMs: DUMP_TIMEOUT_MS };

type Settled = { result: RunResult & { signal?: string } } | { error: unknown } | undefined;

function exitText(r: RunResult & { signal?: string }): string {
  return r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
}


/** One dump step: the source's dump piped into the writer's client, or the conversion script sent to the writer. Exported for its unit test. */
export async function runStep(
  s: DatabaseMigrationSetting,
  step: DumpStep,
  hosts: ReadonlyMap<string, RemoteHost>,
  logger: Logger,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
): Promise<void> {
  const writer = remoteOf(hosts, s.writer.name);
  const started = Date.now();
  if (!step.source) {
    const r = await writer.run(step.target, { purpose: `migrate ${step.name}`, stdin: step.sql ?? '', timeoutMs: QUERY_TIMEOUT_MS, allowFailure: true });
    if (r.code !== 0) {
      throw new DeployError('apply-failed', `${s.writer.name}: ${step.summary} failed: ${lastLines(r.stderr) || `exit ${r.code}`}`, {
        host: s.writer.name,
        hint: 'Nothing was loaded yet. Drop the target databases (DROP DATABASE name; deploy-db creates them again), fix the cause and run the migration again.',
      });
    }
    logger.info(`${step.name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`, s.writer.name);
    return;
  }
  const source = remoteOf(hosts, s.source.name);
  // Before anything starts: a missing password must not leave two processes behind.
  const password = passwordStdin(s.conn, s.password);
  // The hosts stop them too (timeout(1)), a little after the runner would have.
  const hostTimeoutMs = limits.totalMs + 60_000;
  const importer = await spawnOf(writer)(step.target, { purpose: `import the ${step.name} dump`, timeoutMs: hostTimeoutMs });
  let dump: RemoteProcess;
  try {
    dump = await spawnOf(source)(step.source, { purpose: `dump ${s.schemas.join(', ')} (${step.name})`, timeoutMs: hostTimeoutMs });
  } catch (e) {
    importer.kill();
    throw e;
  }

  let bytes = 0;
  let lastMove = Date.now();
  let outputEndedAt: number | undefined;
  let dumpSettled: Settled;
  let importSettled: Settled;
  let wake: () => void = () => undefined;
  const settle = (p: Promise<RunResult & { signal?: string }>, set: (v: Settled) => void) =>
    p.then(
      (result) => set({ result }),
      (error: unknown) => set({ error }),
    );
  void settle(dump.done, (v) => ((dumpSettled = v), wake()));
  void settle(importer.done, (v) => ((importSettled = v), wake()));

  dump.stdin.end(password);
  dump.stdout.on('data', (d: Buffer) => {
    bytes += d.length;
    lastMove = Date.now();
  });
  // The import gets its end of input when the dump's output ends, not when the
  // dump's channel reports its exit: the import no longer depends on that
  // report arriving. A dump that fails part-way is still caught, by its exit
  // status below; the statements before the break were executed either way.
  dump.stdout.once('end', () => {
    outputEndedAt = Date.now();
    wake();
  });
  dump.stdout.pipe(importer.stdin);
  importer.stdout.resume();

  // Wait for both to end, one of them to end early, or a limit.
  type Outcome = 'ended' | 'import-ended-early' | 'stalled' | 'unfinished' | 'timed-out';
  let timer: NodeJS.Timeout | undefined;
  let decided = false;
  const outcome = await new Promise<Outcome>((resolve) => {
    const decide = (o: Outcome) => {
      decided = true;
      clearTimeout(timer);
      resolve(o);
    };
    const check = () => {
      if (decided) return;
      clearTimeout(timer);
      if (dumpSettled && importSettled) return decide('ended');
      // An import that ended while the dump still sends would leave the dump blocked on flow control.
      if (importSettled && outputEndedAt === undefined) return decide('import-ended-early');
      const now = Date.now();
      const deadline = Math.min(started + limits.totalMs, outputEndedAt !== undefined ? outputEndedAt + limits.finishMs : lastMove + limits.stallMs);
      if (now < deadline) {
        timer = setTimeout(check, deadline - now);
        return;
      }
      if (now >= started + limits.totalMs) return decide('timed-out');
      decide(outputEndedAt !== undefined ? 'unfinished' : 'stalled');
    };
    wake = check;
    check();
  });

  const redo = 'The cluster may hold part of the data: drop the target databases (DROP DATABASE name; deploy-db creates them again), fix the cause and run the migration again.';
  const seen = () =>
    `${formatBytes(bytes)} streamed in ${formatDuration(Date.now() - started)}; the dump on ${s.source.name} ${
      dumpSettled ? 'had ended' : outputEndedAt !== undefined ? 'had sent all its output but not ended' : 'was still sending'
    }, the import on ${s.writer.name} ${importSettled ? 'had ended' : 'was still running'}`;
  if (outcome !== 'ended') {
    // Stop whichever still runs; kill() also drains its output so its end is seen.
    if (!dumpSettled) dump.kill();
    if (!importSettled) importer.kill();
  }
  if (outcome === 'import-ended-early') {
    // The import's own failure is the cause; the dump was stopped because of it.
    const imp = importSettled!;
    if ('error' in imp) throw imp.error;
    throw new DeployError(
      'apply-failed',
      `${s.writer.name}: loading the dump (${step.name}) ${imp.result.code !== 0 ? `failed with ${exitText(imp.result)}` : 'ended before the dump did'}: ${
        lastLines(imp.result.stderr) || '(no message)'
      } (${seen()})`,
      { host: s.writer.name, hint: redo },
    );
  }
  if (outcome !== 'ended') {
    const stalled = outcome === 'stalled';
    const importerBlocked = stalled && (importer.stdin as NodeJS.WritableStream & { writableNeedDrain?: boolean }).writableNeedDrain === true;
    // The host to look at: for a stall the side holding things up, otherwise the side still running.
    const blame = (stalled ? !importerBlocked : !dumpSettled) ? s.source.name : s.writer.name;
    const what =
      outcome === 'timed-out'
        ? `the ${step.name} step did not finish within ${formatDuration(limits.totalMs)}`
        : outcome === 'unfinished'
          ? `the ${step.name} step did not end within ${formatDuration(limits.finishMs)} after the last byte of the dump`
          : importerBlocked
            ? `the import stopped taking the ${step.name} dump: nothing moved for ${formatDuration(limits.stallMs)}`
            : `the dump (${step.name}) sent nothing for ${formatDuration(limits.stallMs)}`;
    const hint =
      blame === s.source.name
        ? `Look at ${s.source.name}: SHOW PROCESSLIST shows whether the dump waits for a lock (a long query, or writes while it takes its read lock; put the site in maintenance mode) or the server is stuck. Both processes were stopped. ${redo}`
        : `Look at ${s.writer.name}: SHOW PROCESSLIST and wsrep_local_state_comment show whether the import waits for a lock or the cluster is paused by flow control. Both processes were stopped. ${redo}`;
    throw new DeployError('apply-failed', `${blame}: ${what} (${seen()}); both were stopped`, { host: blame, hint });
  }

  const d = dumpSettled!;
  const imp = importSettled!;
  // The dump is the cause when it failed: the import then read a cut-off stream.
  if ('error' in d) throw d.error;
  if (d.result.code !== 0) {
    throw new DeployError('apply-failed', `${s.source.name}: the dump (${step.name}) failed with ${exitText(d.result)}: ${lastLines(d.result.stderr) || '(no message)'}`, {
      host: s.source.name,
      hint: redo,
    });
  }
  if ('error' in imp) throw imp.error;
  if (imp.result.code !== 0) {
    throw new DeployError('apply-failed', `${s.writer.name}: loading the dump (${step.name}) failed with ${exitText(imp.result)}: ${lastLines(imp.result.stderr) || '(no message)'}`, {
      host: s.writer.name,
      hint: redo,
    });
  }
  const secs = (Date.now() - started) / 1000;
  logger.info(`${step.name}: ${formatBytes(bytes)} streamed from ${s.source.name} in ${secs.toFixed(1)} s (${formatBytes(bytes / Math.max(secs, 0.001))}/s)`, s.writer.name);
}

/**
 * Row counts and content checksums of every source table on every node; the
 * readers with wsrep_sync_wait, so they answer after applying the copy. With
 * conversion, the converted tables must now be InnoDB with a primary key.
 */
async function verifyMigration(s: DatabaseMigrationSetting, g: DatabaseGathered, converted: boolean, hosts: ReadonlyMap<string, RemoteHost>, logger: Logger): Promise<void> {
  const cols = columnsOf(g, g.tables);
  const source = remoteOf(hosts, s.source.name);
  const sourceSums = parseChecksums(await sourceQuery(source, s, checksumScript(g.tables, cols), 'checksum the source tables', CHECKSUM_TIMEOUT_MS));
  const nodes = [s.writer, ...s.readers];
  const results = await Promise.all(
    nodes.map(async (node, i) => {
      const remote = remoteOf(hosts, node.name);
      const out = await runSqlScript(remote, checksumScript(g.tables, cols, { syncWait: i > 0 }), 'checksum the migrated tables', CHECKSUM_TIMEOUT_MS);
      return compareTableChecksums(sourceSums, parseChecksums(out), { sourceHost: s.source.name, targetHost: node.name });
    }),
  );
  const failures = results.flat().filter((r) => r.status === 'fail');
  if (failures.length > 0) {
    const first = failures[0]!;
    throw new DeployError(
      'verify-failed',
      `the migrated databases differ from ${s.source.name} on ${[...new Set(failures.map((f) => f.host))].join(', ')}:\n  ${failures
        .slice(0, 10)
        .map((f) => `${f.host} ${f.check}: expected ${f.expected}, found ${f.observed}`)
        .join('\n  ')}${failures.length > 10 ? `\n  ... ${failures.length - 10} more` : ''}`,
      { host: first.host, hint: first.hint },
    );
  }
  if (converted) {
    const after = parseTableInventory(await runSqlScript(remoteOf(hosts, s.writer.name), `${inventoryQuery(s.schemas)}\n`, 'list migrated tables'));
    const left = classifyTables(after);
    if (left.length > 0) {
      throw new DeployError('verify-failed', `${s.writer.name}: ${left.length} migrated table(s) are still not replicable: ${left.map((p) => `${p.schema}.${p.table} (${p.reasons.join(', ')})`).join(', ')}`, {
        host: s.writer.name,
      });
    }
  }
  const rows = sum(sourceSums.map((c) => Number(c.rows)));
  logger.info(`verified ${sourceSums.length} tables, ${rows} rows: row counts and checksums equal on ${nodes.map((n) => n.name).join(', ')}`, s.writer.name);
}

/** The database part of migrate-storage, or undefined when the inventory has no migrate.database. */
export function databaseMigrationPart(context: CommandContext): MigrationPart<DatabaseGathered> | undefined {
  const s = settingFor(context);
  if (!s) return undefined;
  return {
    name: 'database',
    hosts: [s.source, s.writer, ...s.readers],
    gather: () => gather(context, s),
    plan: (g) => planDatabaseMigration(s, g),
  };
}
