/**
 * "How to connect": the platform's connection settings attached to the runs
 * after which the tier serves the platform (deploy-lb, verify-ha). The same
 * object becomes the `connection` output, a job summary section and the CLI's
 * closing text, so the three never disagree.
 */
import type { Environment } from '../inventory/environment.js';
import { isConnection, platformConnection, type PlatformConnection } from '../components/platform/connection.js';
import type { CommandName } from '../request.js';
import { code, fence } from './markdown.js';
import type { RunReport } from './run-report.js';

/** Commands whose report carries the connection settings. */
export const CONNECTION_COMMANDS: readonly CommandName[] = ['deploy-lb', 'verify-ha'];

export const CONNECTION_SECTION_TITLE = 'How the platform connects';

function filesLine(c: PlatformConnection): string {
  const f = c.files;
  if (f.kind === 'glusterfs') return `Files: GlusterFS volume ${code(f.volume)} mounted at ${code(f.mountPath)} (owner ${f.owner}:${f.group}) on ${f.mountedOn.join(', ') || 'no web host'}.`;
  if (f.kind === 's3') return `Files: S3 bucket ${code(f.bucket)}${f.region ? ` (${f.region})` : ''}; keys from ${code(f.accessKeyId.env)} and ${code(f.secretAccessKey.env)}.`;
  return 'Files: no shared storage in this environment.';
}

/** Markdown for the job summary (and, as plain text, the CLI). */
export function connectionMarkdown(c: PlatformConnection): string {
  const d = c.database;
  const ports = d.writerPort === d.readerPort ? `port ${d.writerPort} (${d.balancer}: reads and writes split by its rules)` : `writer port ${d.writerPort}, reader port ${d.readerPort}`;
  return [
    `${c.platform}: ${code(`${d.host}`)} ${ports}, database ${code(d.name)}, user ${code(d.user)}, password from ${code(d.password.env)} (never shown), wsrep_sync_wait=${d.syncWait}.`,
    filesLine(c),
    ...(c.web ? [`Web farm: http://${c.web.host}:${c.web.port}/ (HAProxy to ${c.web.backends.join(', ')}).`] : []),
    '',
    `${code(c.snippet.file)}:`,
    '',
    fence(c.snippet.text.replace(/\n$/, ''), c.snippet.language),
    '',
    'In a failover:',
    ...c.failover.map((line) => `- ${line}`),
    '',
    `Versions: ${c.versions}`,
  ].join('\n');
}

/** The report with the connection attached, for the commands that carry it. */
export function withConnection<T extends Pick<RunReport, 'command' | 'sections' | 'connection'>>(report: T, environment: Environment): T {
  if (!CONNECTION_COMMANDS.includes(report.command)) return report;
  const connection = platformConnection(environment);
  if (!isConnection(connection)) return report;
  return {
    ...report,
    connection,
    sections: [...(report.sections ?? []), { title: CONNECTION_SECTION_TITLE, markdown: connectionMarkdown(connection) }],
  };
}
