/**
 * What a platform's installer checks before it trusts a database, done as the
 * platform's own user through the VIP: connect to the writer and reader ports,
 * create a table with a primary key (Galera replicates only InnoDB tables with
 * one reliably; Moodle's and Tutor's installers create hundreds), write a row,
 * read it back through the reader port with the preset's causality setting,
 * then drop the table. Pure: the caller runs the script with the user's
 * credentials in a client option file on stdin.
 */
import { shellQuote } from '../../ssh/quote.js';
import { splitSections } from '../../facts/sections.js';

/** The scratch table, in the platform's own database; dropped after the check. */
export const INSTALLER_CHECK_TABLE = 'lms_ha_installer_check';

export interface InstallerCheckOptions {
  host: string;
  writerPort: number;
  readerPort: number;
  database: string;
  syncWait: number;
  /** Random per run: the value read back must be this one. */
  token: string;
  /** Shell prefix of the SQL client, reading credentials from "$cred". */
  client: string;
}

const IDENT = /^[A-Za-z0-9_]+$/;

export function installerCheckScript(o: InstallerCheckOptions): string {
  if (!IDENT.test(o.database)) throw new Error(`database name ${o.database} is not a plain identifier`);
  if (!/^[a-f0-9]+$/.test(o.token)) throw new Error('token must be hex');
  const table = `\`${o.database}\`.\`${INSTALLER_CHECK_TABLE}\``;
  const sql = {
    create: `CREATE TABLE IF NOT EXISTS ${table} (id INT NOT NULL PRIMARY KEY, token VARCHAR(64) NOT NULL) ENGINE=InnoDB; REPLACE INTO ${table} (id, token) VALUES (1, '${o.token}');`,
    read: `SET SESSION wsrep_sync_wait=${o.syncWait}; SELECT token FROM ${table} WHERE id=1;`,
    drop: `DROP TABLE IF EXISTS ${table};`,
  };
  const run = (port: number, statement: string) =>
    `timeout -k 1 10 ${o.client} --defaults-extra-file="$cred" --protocol=TCP -h${o.host} -P${port} --connect-timeout=3 -N -B -e ${shellQuote(statement)} 2>&1; echo "rc=$?"`;
  return [
    `echo "@@write"; ${run(o.writerPort, sql.create)}`,
    `echo "@@read"; ${run(o.readerPort, sql.read)}`,
    `echo "@@drop"; ${run(o.writerPort, sql.drop)}`,
  ].join('; ');
}

export interface InstallerCheckResult {
  wrote: boolean;
  writeError: string | null;
  readValue: string | null;
  readError: string | null;
  dropped: boolean;
}

export function parseInstallerCheck(stdout: string): InstallerCheckResult {
  const s = splitSections(stdout);
  const part = (name: string) => {
    const text = (s.get(name) ?? '').trim();
    const ok = /(^|\n)rc=0$/.test(text);
    const body = text.replace(/\n?rc=\d+$/, '').trim();
    return { ok, first: body.split('\n')[0] || (s.has(name) ? '' : 'did not run') };
  };
  const w = part('write');
  const r = part('read');
  const d = part('drop');
  return {
    wrote: w.ok,
    writeError: w.ok ? null : w.first || 'no answer',
    readValue: r.ok ? r.first : null,
    readError: r.ok ? null : r.first || 'no answer',
    dropped: d.ok,
  };
}

export interface InstallerCheckVerdict {
  status: 'ok' | 'fail' | 'warn';
  observed: string;
  hint?: string;
}

/** The check's row: what was seen, and what to do when it is not what the installer needs. */
export function installerCheckVerdict(r: InstallerCheckResult, o: { user: string; database: string; token: string; writerPort: number; readerPort: number; syncWait: number }): InstallerCheckVerdict {
  if (!r.wrote) {
    return {
      status: 'fail',
      observed: `create table + write on port ${o.writerPort} failed: ${r.writeError}`,
      hint: /Access denied/i.test(r.writeError ?? '')
        ? `The installer would stop here too. Check ${o.user}'s password and that its hosts admit the load balancers' addresses (deploy-db's plan warns when they do not); it needs ALL on ${o.database}.`
        : 'The platform cannot write through the VIP: see the load balancer and VIP checks above.',
    };
  }
  if (r.readValue === null) return { status: 'fail', observed: `read on port ${o.readerPort} failed: ${r.readError}`, hint: 'The reader port does not answer for the application user: see the load balancer checks.' };
  if (r.readValue !== o.token) {
    return {
      status: (o.syncWait & 1) === 1 ? 'fail' : 'warn',
      observed: `read back ${r.readValue === '' ? 'nothing' : 'an older value'} on port ${o.readerPort} (wsrep_sync_wait=${o.syncWait})`,
      hint: 'A page could miss what it just wrote: set database.sync_wait to 1 (reads wait for committed writes).',
    };
  }
  return {
    status: r.dropped ? 'ok' : 'warn',
    observed: `${o.user} created a table with a primary key in ${o.database} on port ${o.writerPort} and read its row back on port ${o.readerPort}${r.dropped ? '' : `; could not drop ${INSTALLER_CHECK_TABLE}`}`,
    ...(r.dropped ? {} : { hint: `Drop ${o.database}.${INSTALLER_CHECK_TABLE} by hand; the application user needs DROP on its database.` }),
  };
}
