/**
 * verify-ha's failover drills (opt-in: `mode: apply` and `drills=...` in the
 * options). Each drill breaks one thing for real while a write probe runs
 * through the VIP writer port, measures how long writes were unavailable,
 * restores what it broke, waits (polling, with a deadline) until the whole
 * read-only verification passes again, and proves that every write the
 * probe saw acknowledged is on every db node.
 *
 * Where the probe runs: on a db node that the drill does not stop, with that
 * node's own mariadb client, over TCP to the VIP like an application server.
 * The runner has no MariaDB client, and a TCP channel through SSH would need a
 * MySQL protocol client in the bundle; a db node has the client already, sits
 * on the database network, and its SSH connection stays up through the drill.
 * Every attempt is one short-lived connection (one INSERT, autocommit), so an
 * acknowledgement (exit 0) means the commit was acknowledged by the cluster.
 *
 * The probe writes as a temporary account (random password on stdin only,
 * allowed only from the load balancers' addresses, since the proxy connects to
 * the nodes from there) into lms_ha.drill_probe, both created here by root
 * over the local socket; the account and the run's rows are removed at the end.
 * With ProxySQL the account is also added to each ProxySQL's runtime user list
 * (LOAD MYSQL USERS TO RUNTIME, never saved to disk) and removed the same way.
 * Each attempt is a transaction (BEGIN; INSERT; SELECT @@hostname; COMMIT), so
 * ProxySQL keeps its SELECT on the writer (transaction_persistent) and the
 * hostname names the node that took the write with either proxy.
 */
import { randomBytes } from 'node:crypto';
import type { CheckResult, DrillFigures } from '../../check.js';
import { parseCidr, parseIpAddrShow } from '../../components/keepalived/ipaddr.js';
import { HAPROXY_READER_LISTENER, HAPROXY_WRITER_LISTENER, writerOf } from '../../components/haproxy/index.js';
import { mysqlNativePasswordHash, PROXYSQL_ADMIN_USER, PROXYSQL_HOSTGROUPS } from '../../components/proxysql/index.js';
import { waitUntil } from '../../operations/wait.js';
import { withLock } from '../../engine/lock.js';
import { DeployError, toDeployError } from '../../errors.js';
import type { Environment, Host } from '../../inventory/index.js';
import type { Mode } from '../../request.js';
import type { RemoteHost, RemoteProcess } from '../../ssh/types.js';
import type { CommandContext } from '../context.js';
import { isUnreachable, nodeHealthy, vipHolders, type LbInput, type Unreachable } from './checks.js';
import { clientOptionFile, withCredentialsFile, type DbFacts } from '../../facts/health.js';

export const DRILLS = ['proxy-stop', 'db-stop', 'db-kill'] as const;
export type DrillName = (typeof DRILLS)[number];

export const DRILL_LAYER = 'drill';
export const DRILL_SCHEMA = 'lms_ha';
export const DRILL_TABLE = 'drill_probe';
export const DRILL_USER = 'lms_ha_drill';

/** Bounds of one probe: it stops by itself after this many writes or seconds. */
export const PROBE_LIMITS = { maxWrites: 20_000, maxSeconds: 600 };

export const DRILL_DEADLINES = {
  /** Writes must come back through the VIP within this long after the fault. */
  writesResumeMs: 60_000,
  /** The fault must be visible (VIP moved, writer moved) within this long. */
  faultVisibleMs: 30_000,
  /** After the restore, the whole verification must pass within this long (a rejoin may need an SST). */
  healthyMs: 300_000,
  /** Acknowledged writes the probe needs before a fault is injected. */
  warmupMs: 20_000,
};

/** Consecutive acknowledged writes that count as "writes work". */
const STEADY_WRITES = 5;
const POLL_MS = 250;

export interface DrillRequest {
  drills: DrillName[];
  allowProtected: boolean;
}

/**
 * Reads `drills=` and `allow-protected=` from the options. Null when no drill
 * is asked for. Refuses (invalid-input, nothing touched) plan mode, unknown
 * names, and a protected environment without `allow-protected=true`.
 */
export function parseDrillRequest(options: Record<string, string>, mode: Mode, environment: Pick<Environment, 'name' | 'protected'>): DrillRequest | null {
  const raw = (options['drills'] ?? '').trim();
  if (raw === '' || raw === 'none') return null;
  const names = raw.split(/[\s,]+/).filter((x) => x !== '');
  const unknown = names.filter((n) => !(DRILLS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new DeployError('invalid-input', `options: drills "${unknown.join(', ')}" unknown`, {
      hint: `Name drills from: ${DRILLS.join(', ')} (e.g. drills=proxy-stop,db-kill). Nothing was done.`,
    });
  }
  if (mode !== 'apply') {
    throw new DeployError('invalid-input', `options: drills=${names.join(',')} stop services for real, so they need mode apply`, {
      hint: 'Run verify-ha with mode apply to run the drills, or leave out the drills option for the read-only checks. Nothing was done.',
    });
  }
  const allowText = (options['allow-protected'] ?? 'false').trim().toLowerCase();
  if (allowText !== 'true' && allowText !== 'false') {
    throw new DeployError('invalid-input', `options: allow-protected "${options['allow-protected']}" must be true or false`, { hint: 'Nothing was done.' });
  }
  const allowProtected = allowText === 'true';
  if (environment.protected && !allowProtected) {
    throw new DeployError('invalid-input', `environment ${environment.name} is marked protected: drills refused; nothing was done`, {
      hint: 'Drills stop a proxy and a database node for real. To run them on this environment anyway, add allow-protected=true to the options.',
    });
  }
  return { drills: [...new Set(names)] as DrillName[], allowProtected };
}

// ---------------------------------------------------------------------------
// The probe (pure parts)

export interface ProbeEvent {
  ok: boolean;
  seq: number;
  /** Start and end of the attempt in ms on the probe host's clock. */
  startMs: number;
  endMs: number;
  /** ok: @@hostname of the node that took the write; fail: the client's error. */
  detail: string;
}

export interface ProbeOptions {
  run: string;
  vip: string;
  port: number;
  maxWrites: number;
  maxSeconds: number;
}

/** A run id: letters and digits only, so it is safe inside SQL and shell. */
export function newRunId(): string {
  return `d${randomBytes(8).toString('hex')}`;
}

/**
 * The probe loop (bash: fractional `read -t`). stdin: a 3-line client option
 * file, then any line (or EOF) stops the loop. One line out per attempt:
 * `ok SEQ START_NS END_NS HOSTNAME` or `fail SEQ START_NS END_NS ERROR`.
 */
export function probeScript(o: ProbeOptions): string {
  if (!/^[a-z0-9]+$/.test(o.run)) throw new Error(`bad probe run id ${o.run}`);
  const sql = `BEGIN; INSERT INTO ${DRILL_SCHEMA}.${DRILL_TABLE} (run, seq) VALUES ('${o.run}', $i); SELECT @@hostname; COMMIT;`;
  const loop = [
    'c=$(command -v mariadb || command -v mysql)',
    'if [ -z "$c" ]; then echo "error no mariadb or mysql client on this host"; exit 3; fi',
    `end=$(( $(date +%s) + ${o.maxSeconds} )); i=0`,
    'echo ready',
    `while [ $i -lt ${o.maxWrites} ] && [ "$(date +%s)" -lt "$end" ]; do`,
    '  if IFS= read -r -t 0.001 cmd; then break; else [ $? -gt 128 ] || break; fi',
    '  i=$((i+1)); s=$(date +%s%N)',
    `  out=$(timeout -k 1 3 "$c" --defaults-extra-file="$cred" --protocol=TCP -h${o.vip} -P${o.port} --connect-timeout=2 -N -B -e "${sql}" 2>&1); rc=$?`,
    '  e=$(date +%s%N)',
    '  if [ $rc -eq 0 ]; then echo "ok $i $s $e $(printf %s "$out" | tail -n 1)"; else echo "fail $i $s $e rc=$rc $(printf %s "$out" | head -n 1 | tr -s " \\t" " ")"; fi',
    'done',
    'echo "end $i"',
  ].join('\n');
  // A child bash (not exec): the outer shell's trap removes the credentials file when it ends.
  return withCredentialsFile(3, `cred="$cred" bash -c ${bashQuote(loop)}`);
}

function bashQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function parseProbeLine(line: string): ProbeEvent | null {
  const m = /^(ok|fail) (\d+) (\d+) (\d+) ?(.*)$/.exec(line.trim());
  if (!m) return null;
  return { ok: m[1] === 'ok', seq: Number(m[2]), startMs: Number(BigInt(m[3]!) / 1_000_000n), endMs: Number(BigInt(m[4]!) / 1_000_000n), detail: m[5] ?? '' };
}

export interface WindowFigures {
  /** Longest time between two consecutive acknowledged writes, in ms: what an application saw as unavailability. */
  unavailableMs: number;
  failedAttempts: number;
  acknowledged: number;
  /** The first error the probe saw in this window. */
  firstError: string | null;
}

/**
 * Figures for events[from, to): the longest gap between acknowledgements,
 * counted from the last acknowledgement before `from` (so an outage that
 * starts at the fault is measured from the last write that worked).
 */
export function windowFigures(events: readonly ProbeEvent[], from: number, to: number): WindowFigures {
  let previous: number | null = null;
  for (let i = from - 1; i >= 0; i--) {
    if (events[i]!.ok) {
      previous = events[i]!.endMs;
      break;
    }
  }
  let longest = 0;
  let failed = 0;
  let acked = 0;
  let firstError: string | null = null;
  for (const e of events.slice(from, to)) {
    if (!e.ok) {
      failed++;
      firstError ??= e.detail;
      continue;
    }
    acked++;
    if (previous !== null) longest = Math.max(longest, e.endMs - previous);
    previous = e.endMs;
  }
  return { unavailableMs: longest, failedAttempts: failed, acknowledged: acked, firstError };
}

/** Acknowledged sequence numbers missing from a node's rows. */
export function missingWrites(acknowledged: readonly number[], present: ReadonlySet<number>): number[] {
  return acknowledged.filter((s) => !present.has(s));
}

/** Setup by root over the socket: table, and the temporary account for each LB address. */
export function drillSetupSql(password: string, fromAddresses: readonly string[]): string {
  const accounts = fromAddresses.map((a) => `'${DRILL_USER}'@'${a}'`);
  return [
    'SET SESSION wsrep_sync_wait=0;',
    `CREATE DATABASE IF NOT EXISTS ${DRILL_SCHEMA};`,
    `CREATE TABLE IF NOT EXISTS ${DRILL_SCHEMA}.${DRILL_TABLE} (run VARCHAR(40) NOT NULL, seq INT UNSIGNED NOT NULL, written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (run, seq)) ENGINE=InnoDB;`,
    ...accounts.map((a) => `DROP USER IF EXISTS ${a};`),
    ...accounts.map((a) => `CREATE USER ${a} IDENTIFIED BY '${password}';`),
    ...accounts.map((a) => `GRANT INSERT, SELECT ON ${DRILL_SCHEMA}.${DRILL_TABLE} TO ${a};`),
    '',
  ].join('\n');
}

export function drillCleanupSql(run: string, fromAddresses: readonly string[]): string {
  return [
    `DELETE FROM ${DRILL_SCHEMA}.${DRILL_TABLE} WHERE run='${run}';`,
    ...fromAddresses.map((a) => `DROP USER IF EXISTS '${DRILL_USER}'@'${a}';`),
    '',
  ].join('\n');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

const PROBE_HINT = 'The probe runs the mariadb client on a db node against the VIP writer port: check that the node reaches the VIP.';

/** What a drill waited for did not happen: the platform did not behave as an HA platform should. */
function waitedInVain(what: string, deadlineMs: number): DeployError {
  return new DeployError('verify-failed', `timed out after ${seconds(deadlineMs)} waiting for ${what}`, {
    hint: 'The platform did not fail over or recover as it should: see the table. The drill restarted what it had stopped.',
  });
}

// ---------------------------------------------------------------------------
// The probe (I/O)

/** A probe running on a host: its events as they arrive, waits on them, and a stop. */
class RunningProbe {
  readonly events: ProbeEvent[] = [];
  private buffer = '';
  private ended = false;
  private endError: string | null = null;
  private waiters: Array<() => void> = [];

  constructor(
    readonly host: string,
    private readonly process: RemoteProcess,
  ) {
    process.stdout.on('data', (chunk: Buffer | string) => {
      this.buffer += chunk.toString();
      const lines = this.buffer.split('\n');
      this.buffer = lines.pop() ?? '';
      for (const line of lines) {
        const e = parseProbeLine(line);
        if (e) this.events.push(e);
        else if (line.startsWith('error ')) this.endError = line.slice(6);
      }
      this.wake();
    });
    process.done
      .then((r) => {
        if (r.code !== 0 && !this.endError) this.endError = `probe exited with ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
      })
      .catch((e: unknown) => (this.endError = toDeployError(e).message))
      .finally(() => {
        this.ended = true;
        this.wake();
      });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `test` holds on the events; rejects at the deadline or when the probe ended. */
  async until(what: string, test: (events: readonly ProbeEvent[]) => boolean, deadlineMs: number): Promise<void> {
    const stop = Date.now() + deadlineMs;
    for (;;) {
      if (test(this.events)) return;
      if (this.ended) throw new DeployError('command-failed', `the write probe on ${this.host} ended before ${what}${this.endError ? `: ${this.endError}` : ''}`, { host: this.host, hint: PROBE_HINT });
      const left = stop - Date.now();
      if (left <= 0) throw waitedInVain(what, deadlineMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<ProbeEvent[]> {
    if (!this.ended) {
      this.process.stdin.write('stop\n');
      this.process.stdin.end();
      try {
        await this.process.done;
      } catch {
        // the events gathered so far are what counts
      }
    }
    return this.events;
  }

  kill(): void {
    if (!this.ended) this.process.kill();
  }
}

/** The last `n` events are acknowledged writes, all after index `from`. */
function steadyAfter(from: number, n = STEADY_WRITES): (events: readonly ProbeEvent[]) => boolean {
  return (events) => events.length - from >= n && events.slice(-n).every((e) => e.ok);
}

// ---------------------------------------------------------------------------
// Orchestration

/** What the drills need from a fresh read-only verification. */
export interface DrillView {
  /** Read-only checks (without preflight). */
  checks: CheckResult[];
  dbNodes: Host[];
  db: ReadonlyMap<string, DbFacts | Unreachable>;
  lb: LbInput | null;
}

export interface DrillOutcome {
  rows: CheckResult[];
  figures: DrillFigures[];
  error?: DeployError;
}

interface DrillTarget {
  drill: DrillName;
  /** Inventory host that is broken. */
  host: string;
  what: string;
}

function row(host: string, check: string, expected: string, observed: string, ok: boolean, hint?: string): CheckResult {
  const r: CheckResult = { layer: DRILL_LAYER, host, check, expected, observed, status: ok ? 'ok' : 'fail' };
  if (!ok && hint) r.hint = hint;
  return r;
}

/** Why the drills cannot run on this platform as it is (layers and sizes), or null. */
export function drillPreconditions(request: DrillRequest, view: DrillView): string | null {
  if (!view.lb || view.dbNodes.length === 0) return 'drills need a database and a load_balancer section in the inventory';
  if (request.drills.includes('proxy-stop') && view.lb.lbs.length < 2) return 'the proxy-stop drill needs two load balancers: with one, stopping its proxy is a full outage';
  const synced = view.dbNodes.filter((h) => nodeHealthy(view.db.get(h.name)));
  if ((request.drills.includes('db-stop') || request.drills.includes('db-kill')) && synced.length < 3) {
    return `the db drills need at least 3 synced db nodes (found ${synced.length}): stopping one of 2 leaves no quorum`;
  }
  return null;
}

/**
 * Every proxy agrees on the active writer and none is half-way through a
 * change. HAProxy: no server counting rise/fall checks, the writer an active
 * server. ProxySQL: exactly one ONLINE server in the writer hostgroup on
 * every LB, the same one, and nothing SHUNNED. verify-ha's checks tolerate a
 * transition; a drill must not start in it (the writer would move under it,
 * e.g. failing back to a node that just rejoined).
 */
export function proxySettled(view: DrillView): boolean {
  const lb = view.lb;
  if (!lb) return true;
  if (lb.kind === 'proxysql') {
    const writers = lb.lbs.map((h) => {
      const f = lb.facts.get(h.name);
      if (!f || isUnreachable(f) || !f.proxysql?.runtime) return null;
      const servers = f.proxysql.runtime.servers;
      if (servers.some((x) => x.status !== 'ONLINE' && x.hostgroup_id !== PROXYSQL_HOSTGROUPS.offline)) return null;
      const w = servers.filter((x) => x.hostgroup_id === PROXYSQL_HOSTGROUPS.writer && x.status === 'ONLINE');
      return w.length === 1 ? w[0]!.hostname : null;
    });
    return writers.every((w) => w !== null && w === writers[0]);
  }
  return lb.lbs.every((h) => {
    const f = lb.facts.get(h.name);
    if (!f || isUnreachable(f) || !f.haproxy?.stats) return false;
    const listeners = f.haproxy.stats.backends.filter((b) => b.name === HAPROXY_WRITER_LISTENER || b.name === HAPROXY_READER_LISTENER);
    const writer = writerOf(f.haproxy.stats);
    return writer !== null && !writer.backup && listeners.every((b) => b.servers.every((x) => x.rawStatus.trim() === 'UP'));
  });
}

/** Polls the read-only verification until every check passes and the proxies have settled. */
async function waitHealthy(verifyNow: () => Promise<DrillView>, deadlineMs: number): Promise<{ view: DrillView | null; failures: string[]; ms: number }> {
  const started = Date.now();
  let view: DrillView | null = null;
  let failures: string[] = [];
  try {
    await pollUntil('every check to pass', deadlineMs, async () => {
      const v = await verifyNow();
      failures = v.checks.filter((c) => c.status === 'fail').map((c) => `${c.host} ${c.check} (${c.observed})`);
      if (failures.length === 0 && !proxySettled(v)) failures = [v.lb?.kind === 'proxysql' ? 'ProxySQL still moving servers between hostgroups (no single agreed writer yet)' : 'HAProxy still counting health checks (a server in transition, or a backup writing)'];
      if (failures.length === 0) view = v;
      return view !== null;
    });
  } catch {
    // the caller reports what still fails
  }
  return { view, failures, ms: Date.now() - started };
}

/** The writer as the VIP holder's proxy sees it (inventory name), or null: HAProxy's active writer, ProxySQL's writer hostgroup. */
function currentWriter(view: DrillView): string | null {
  const lb = view.lb;
  if (!lb) return null;
  const holder = vipHolders(lb)[0];
  const f = holder ? lb.facts.get(holder) : undefined;
  if (!f || isUnreachable(f)) return null;
  if (lb.kind === 'proxysql') {
    const writers = (f.proxysql?.runtime?.servers ?? []).filter((x) => x.hostgroup_id === PROXYSQL_HOSTGROUPS.writer && x.status === 'ONLINE');
    if (writers.length !== 1) return null;
    return view.dbNodes.find((h) => h.address === writers[0]!.hostname || h.name === writers[0]!.hostname)?.name ?? null;
  }
  if (!f.haproxy?.stats) return null;
  const w = writerOf(f.haproxy.stats);
  if (!w) return null;
  return view.dbNodes.find((h) => h.name === w.name || w.address?.startsWith(`${h.address}:`))?.name ?? null;
}

/**
 * The probe account in every ProxySQL's runtime user list (add) or out of it
 * (remove): memory table, then LOAD MYSQL USERS TO RUNTIME, never SAVE TO
 * DISK, so a restart of ProxySQL forgets it too. Stopped LBs are skipped.
 */
async function proxysqlDrillUser(context: CommandContext, lb: LbInput, action: 'add' | 'remove', password: string): Promise<void> {
  const config = context.environment.load_balancer;
  if (!config || config.kind !== 'proxysql') return;
  const sql = [
    `DELETE FROM mysql_users WHERE username='${DRILL_USER}';`,
    ...(action === 'add'
      ? [`INSERT INTO mysql_users (username,password,active,default_hostgroup,transaction_persistent,comment) VALUES ('${DRILL_USER}','${mysqlNativePasswordHash(password)}',1,${PROXYSQL_HOSTGROUPS.writer},1,'lms-ha drill probe (temporary)');`]
      : []),
    'LOAD MYSQL USERS TO RUNTIME;',
    '',
  ].join('\n');
  const script = withCredentialsFile(
    3,
    `c=$(command -v mariadb || command -v mysql) && timeout -k 1 30 "$c" --defaults-extra-file="$cred" --protocol=TCP -h127.0.0.1 -P${config.ports.admin} --connect-timeout=3 -N -B`,
  );
  const stdin = clientOptionFile(PROXYSQL_ADMIN_USER, context.secrets.valueOf(config.proxysql.admin_password)) + sql;
  await Promise.all(
    lb.lbs.map(async (h) => {
      const r = await (await context.host(h.name)).run(script, { purpose: `${action} the drill probe account in ProxySQL`, stdin, timeoutMs: 60_000, allowFailure: true });
      if (r.code !== 0 && action === 'add') {
        throw new DeployError('command-failed', `could not add the drill probe account to ProxySQL on ${h.name}: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`, {
          host: h.name,
          hint: 'The drill talks to the ProxySQL admin interface on 127.0.0.1 with the inventory admin secret: check that proxysql runs and deploy-lb has configured it.',
        });
      }
      if (r.code !== 0) context.logger.warn(`could not remove the drill probe account ${DRILL_USER} from ProxySQL on ${h.name}: ${r.stderr.trim().split('\n').pop() ?? ''}`, h.name);
    }),
  );
}

async function rootSql(remote: RemoteHost, sql: string, purpose: string): Promise<string> {
  const r = await remote.run('c=$(command -v mariadb || command -v mysql) && timeout -k 1 30 "$c" -N -B', { purpose, stdin: sql, timeoutMs: 60_000, allowFailure: true });
  if (r.code !== 0) {
    throw new DeployError('command-failed', `${purpose} on ${remote.name} failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`, {
      host: remote.name,
      hint: 'The drill needs root access to MariaDB over the local socket on the db nodes.',
    });
  }
  return r.stdout;
}

async function vipHolderNow(context: CommandContext, lb: LbInput): Promise<string[]> {
  const vip = parseCidr(lb.vip)?.address;
  const answers = await Promise.all(
    lb.lbs.map(async (h) => {
      try {
        const r = await (await context.host(h.name)).run('ip -o addr show', { purpose: 'see who holds the VIP', timeoutMs: 10_000, allowFailure: true });
        return parseIpAddrShow(r.stdout).some((a) => a.address === vip) ? h.name : null;
      } catch {
        return null;
      }
    }),
  );
  return answers.filter((x): x is string => x !== null);
}

/** ProxySQL's unit is Type=forking: its admin port listens ~0.6 s after systemctl start returned. */
async function waitForProxysqlAdmin(remote: RemoteHost, context: CommandContext): Promise<void> {
  const config = context.environment.load_balancer;
  const port = config?.kind === 'proxysql' ? config.ports.admin : 6032;
  await pollUntil(`ProxySQL's admin port on ${remote.name}`, DRILL_DEADLINES.faultVisibleMs, async () => {
    const r = await remote.run(`ss -Hltn 'sport = :${port}'`, { purpose: 'wait for the ProxySQL admin port', timeoutMs: 10_000, allowFailure: true });
    return r.stdout.trim() !== '';
  });
}

async function pollUntil(what: string, deadlineMs: number, test: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  await waitUntil(async () => ((await test()) ? { done: undefined } : { waiting: what }), {
    timeoutMs: deadlineMs,
    pollMs: POLL_MS,
    timeoutError: () => waitedInVain(what, deadlineMs),
  });
  return Date.now() - started;
}

/**
 * Runs the drills in the order asked, under the environment lock. `verifyNow`
 * re-runs the read-only verification (used to wait until healthy).
 */
export async function runDrills(context: CommandContext, request: DrillRequest, first: DrillView, verifyNow: () => Promise<DrillView>): Promise<DrillOutcome> {
  const failed = first.checks.filter((c) => c.status === 'fail');
  if (failed.length > 0) {
    return {
      rows: [],
      figures: [],
      error: new DeployError('cluster-unhealthy', `drills refused: the platform is not fully healthy (${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => `${c.host} ${c.check}`).join('; ')}); nothing was stopped`, {
        hint: 'Drills only run on a platform where every check passes: fix the failures in the table first.',
      }),
    };
  }
  const unable = drillPreconditions(request, first);
  if (unable) return { rows: [], figures: [], error: new DeployError('invalid-input', `drills refused: ${unable}; nothing was stopped`, { hint: 'Leave out the drills option for the read-only checks.' }) };

  const env = context.environment;
  const lockHosts = env.hosts.filter((h) => first.dbNodes.some((d) => d.name === h.name) || first.lb!.lbs.some((l) => l.name === h.name));
  const remotes = await Promise.all(lockHosts.map((h) => context.host(h.name)));
  return withLock(
    remotes,
    { environment: env.name, owner: { runId: context.request.runId, repository: context.request.repository, command: 'verify-ha drills' }, logger: context.logger },
    async () => {
      const rows: CheckResult[] = [];
      const figures: DrillFigures[] = [];
      let view = first;
      for (const drill of request.drills) {
        if (!proxySettled(view)) {
          const settled = await waitHealthy(verifyNow, DRILL_DEADLINES.healthyMs);
          if (!settled.view) {
            rows.push(row('(lbs)', `${drill}: platform settled before the drill`, 'every check passes, the proxies settled', settled.failures.join('; '), false));
            return { rows, figures, error: new DeployError('cluster-unhealthy', `drill ${drill} not started: the platform did not settle (${settled.failures.join('; ')}); nothing was stopped for it`) };
          }
          view = settled.view;
        }
        const result = await runOneDrill(context, drill, view, verifyNow);
        rows.push(...result.rows);
        if (result.figures) figures.push(result.figures);
        if (result.error) return { rows, figures, error: result.error };
        view = result.view;
      }
      return { rows, figures };
    },
  );
}

async function runOneDrill(context: CommandContext, drill: DrillName, view: DrillView, verifyNow: () => Promise<DrillView>): Promise<{ rows: CheckResult[]; figures?: DrillFigures; error?: DeployError; view: DrillView }> {
  const lb = view.lb!;
  const log = context.logger;
  const writer = currentWriter(view);
  const holder = vipHolders(lb)[0]!;
  const proxyUnit = lb.kind === 'proxysql' ? 'proxysql' : 'haproxy';
  let target: DrillTarget;
  if (drill === 'proxy-stop') target = { drill, host: holder, what: `${proxyUnit} stopped on ${holder} (VIP holder)` };
  else {
    if (!writer) return { rows: [row('(db)', `${drill}: choose a node`, 'the current writer', `${lb.kind === 'proxysql' ? 'ProxySQL' : 'HAProxy'} on the VIP holder names no writer`, false)], error: new DeployError('cluster-unhealthy', `${drill}: no writer to stop`), view };
    target = { drill, host: writer, what: `mariadb ${drill === 'db-kill' ? 'killed (SIGKILL)' : 'stopped'} on ${writer} (the writer)` };
  }
  // The probe runs on a synced db node the drill leaves alone.
  const probeHost = view.dbNodes.find((h) => h.name !== target.host && nodeHealthy(view.db.get(h.name)))!;
  const probeRemote = await context.host(probeHost.name);
  const run = newRunId();
  const password = randomBytes(18).toString('hex');
  context.redactor.add(password);
  const fromAddresses = lb.lbs.map((h) => h.address);
  const rows: CheckResult[] = [];
  const name = drill;
  if (!probeRemote.spawn) throw new DeployError('internal', 'drills need a transport that streams command output (ssh)');
  const spawn = probeRemote.spawn.bind(probeRemote);
  let probe: RunningProbe | undefined;

  let broken = false;
  let restored = false;
  const restore = async (): Promise<void> => {
    if (!broken || restored) return;
    restored = true;
    const remote = await context.host(target.host);
    const unit = drill === 'proxy-stop' ? proxyUnit : 'mariadb';
    log.info(`drill ${name}: restoring: systemctl start ${unit} on ${target.host}`);
    await remote.run(`systemctl start ${unit}`, { purpose: `restart ${unit} after the ${name} drill`, timeoutMs: 600_000 });
    // A restarted ProxySQL loads its users from disk, where the probe account never is.
    if (unit === 'proxysql') await waitForProxysqlAdmin(remote, context).then(() => proxysqlDrillUser(context, { ...lb, lbs: lb.lbs.filter((h) => h.name === target.host) }, 'add', password));
  };

  try {
    log.info(`drill ${name}: preparing the write probe on ${probeHost.name} (run ${run})`);
    await rootSql(probeRemote, drillSetupSql(password, fromAddresses), 'create the drill probe table and account');
    await proxysqlDrillUser(context, lb, 'add', password);
    const opts: ProbeOptions = { run, vip: parseCidr(lb.vip)?.address ?? lb.vip, port: lb.writerPort, maxWrites: PROBE_LIMITS.maxWrites, maxSeconds: PROBE_LIMITS.maxSeconds };
    const child = await spawn(probeScript(opts), { purpose: `write probe through the VIP (${name})`, timeoutMs: (PROBE_LIMITS.maxSeconds + 60) * 1000 });
    child.stdin.write(`[client]\nuser="${DRILL_USER}"\npassword="${password}"\n`);
    child.stderr.on('data', () => undefined);
    probe = new RunningProbe(probeHost.name, child);

    await probe.until('the first acknowledged writes through the VIP', steadyAfter(0), DRILL_DEADLINES.warmupMs);
    const before = probe.events.filter((e) => e.ok).at(-1)!.detail;
    // The writer the probe sees must be the node about to be stopped, or the drill would measure nothing.
    const victimName = context.facts.get(target.host)?.hostname;
    if (drill !== 'proxy-stop' && victimName && before !== victimName) {
      throw new DeployError('cluster-unhealthy', `the writer moved before the fault: the probe's writes land on ${before}, the proxy named ${target.host} (${victimName}); nothing was stopped`, {
        hint: 'Run the drill again once the load balancers agree on the writer.',
      });
    }

    // The fault.
    const markFault = probe.events.length;
    const faultAt = Date.now();
    const victim = await context.host(target.host);
    log.info(`drill ${name}: ${target.what}`);
    broken = true;
    if (drill === 'proxy-stop') await victim.run(`systemctl stop ${proxyUnit}`, { purpose: `stop ${proxyUnit} (drill)`, timeoutMs: 60_000 });
    else if (drill === 'db-stop') await victim.run('systemctl stop mariadb', { purpose: 'stop mariadb (drill)', timeoutMs: 300_000 });
    else await victim.run('systemctl kill --signal=KILL mariadb', { purpose: 'kill -9 mariadb (drill)', timeoutMs: 60_000 });

    // The fault took effect: the VIP left the holder / writes land on another node.
    let effect: string;
    if (drill === 'proxy-stop') {
      await pollUntil('the VIP on another load balancer', DRILL_DEADLINES.faultVisibleMs, async () => {
        const now = await vipHolderNow(context, lb);
        return now.length === 1 && now[0] !== holder;
      });
      const now = await vipHolderNow(context, lb);
      effect = `VIP ${holder} → ${now.join(', ')}`;
    } else {
      await probe.until('a write acknowledged by another node', (ev) => ev.slice(markFault).some((e) => e.ok && e.detail !== before), DRILL_DEADLINES.writesResumeMs);
      const next = probe.events.slice(markFault).find((e) => e.ok && e.detail !== before)!;
      effect = `writer ${before} → ${next.detail}`;
    }
    const markEffect = probe.events.length;
    await probe.until('writes through the VIP again', steadyAfter(markEffect), DRILL_DEADLINES.writesResumeMs);
    const resumedMs = Date.now() - faultAt;
    const fault = windowFigures(probe.events, markFault, probe.events.length);
    rows.push(
      row(
        target.host,
        `${name}: writes unavailable`,
        `writes resume within ${seconds(DRILL_DEADLINES.writesResumeMs)}`,
        `${seconds(fault.unavailableMs)} (${fault.failedAttempts} failed attempt${fault.failedAttempts === 1 ? '' : 's'}; ${effect}; resumed ${seconds(resumedMs)} after the fault)`,
        true,
      ),
    );
    log.info(`drill ${name}: writes unavailable for ${seconds(fault.unavailableMs)}, ${fault.failedAttempts} failed attempts (${effect})`);

    // Restore, then wait for the whole platform to pass again.
    const markRestore = probe.events.length;
    const restoreAt = Date.now();
    await restore();
    const after = await waitHealthy(verifyNow, DRILL_DEADLINES.healthyMs);
    const healthy = after.view;
    const healthyMs = Date.now() - restoreAt;
    if (healthy) await probe.until('writes after the restore', steadyAfter(probe.events.length), DRILL_DEADLINES.writesResumeMs);
    const events = await probe.stop();
    const during = windowFigures(events, markRestore, events.length);
    rows.push(
      row(
        target.host,
        `${name}: healthy again after restore`,
        `every check passes and the proxies settle within ${seconds(DRILL_DEADLINES.healthyMs)}`,
        healthy
          ? `after ${seconds(healthyMs)} (${drill === 'proxy-stop' ? proxyUnit : 'mariadb'} started on ${target.host}); writes unavailable ${seconds(during.unavailableMs)} during the restore`
          : `still failing after ${seconds(healthyMs)}: ${after.failures.join('; ')}`,
        healthy !== null,
        'The platform did not recover by itself after the drill: see the failing checks and fix them by hand.',
      ),
    );

    // Every acknowledged write on every node that is up.
    const acked = events.filter((e) => e.ok).map((e) => e.seq);
    const unacked = events.filter((e) => !e.ok).map((e) => e.seq);
    const presence = await Promise.all(
      view.dbNodes.map(async (h) => {
        try {
          const out = await rootSql(await context.host(h.name), `SET SESSION wsrep_sync_wait=1;\nSELECT seq FROM ${DRILL_SCHEMA}.${DRILL_TABLE} WHERE run='${run}';\n`, 'read back the drill writes');
          const present = new Set(out.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number));
          return { host: h.name, missing: missingWrites(acked, present), extra: unacked.filter((s) => present.has(s)).length, error: null as string | null };
        } catch (e) {
          return { host: h.name, missing: [] as number[], extra: 0, error: toDeployError(e).message };
        }
      }),
    );
    const lost = presence.filter((p) => p.missing.length > 0);
    const unread = presence.filter((p) => p.error !== null);
    const ok = lost.length === 0 && unread.length === 0 && acked.length > 0;
    rows.push(
      row(
        '(db)',
        `${name}: acknowledged writes present`,
        `all acknowledged writes on every db node (0 lost)`,
        ok
          ? `all ${acked.length} on ${presence.map((p) => p.host).join(', ')} (0 lost; ${presence[0]?.extra ?? 0} of ${unacked.length} unacknowledged attempts also committed)`
          : [
              ...lost.map((p) => `${p.host}: ${p.missing.length} of ${acked.length} missing (first seq ${p.missing.slice(0, 5).join(', ')})`),
              ...unread.map((p) => `${p.host}: not read (${p.error})`),
              ...(acked.length === 0 ? ['no write was acknowledged'] : []),
            ].join('; '),
        ok,
        'A write the cluster acknowledged is missing: this is data loss; keep the nodes as they are and compare them before any restart.',
      ),
    );
    const figures: DrillFigures = {
      drill,
      host: target.host,
      effect,
      unavailableMs: Math.round(fault.unavailableMs),
      failedAttempts: fault.failedAttempts,
      resumedMs: Math.round(resumedMs),
      healthyAfterMs: healthy ? Math.round(healthyMs) : null,
      restoreUnavailableMs: Math.round(during.unavailableMs),
      acknowledged: acked.length,
      lost: Math.max(0, ...presence.map((p) => p.missing.length)),
    };
    const failedRows = rows.filter((r) => r.status === 'fail');
    return failedRows.length > 0
      ? { rows, figures, view: healthy ?? view, error: new DeployError('verify-failed', `drill ${name}: ${failedRows.map((r) => `${r.check} (${r.observed})`).join('; ')}`, { hint: failedRows[0]!.hint }) }
      : { rows, figures, view: healthy ?? view };
  } catch (e) {
    const err = toDeployError(e);
    rows.push(row(target.host, `${name}: ran to the end`, 'writes resume, restore, healthy', err.message.split('\n')[0]!, false, 'The drill stopped part way; it restarted what it had stopped. Check the table and the platform.'));
    probe?.kill();
    try {
      await restore();
    } catch (re) {
      log.warn(`drill ${name}: could not restore ${target.host}: ${toDeployError(re).message}`, target.host);
    }
    return { rows, view, error: new DeployError(err.reason === 'internal' ? 'verify-failed' : err.reason, `drill ${name} failed: ${err.message.split('\n')[0]}`, { host: target.host, hint: err.hint }) };
  } finally {
    // Also after a failure: the temporary account must not outlive the run.
    await proxysqlDrillUser(context, lb, 'remove', password).catch((e: unknown) => log.warn(`drill ${name}: ${toDeployError(e).message}`));
    await rootSql(probeRemote, drillCleanupSql(run, fromAddresses), 'remove the drill rows and account').catch((e: unknown) =>
      log.warn(`drill ${name}: could not remove the drill account ${DRILL_USER} and rows of run ${run}: ${toDeployError(e).message}`, probeHost.name),
    );
  }
}
