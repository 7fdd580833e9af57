/**
 * verify-ha's platform check: the application user does, through the VIP,
 * what its platform's installer checks (see components/platform/installer-check).
 */
import { randomBytes } from 'node:crypto';
import type { CheckResult } from '../../check.js';
import { toDeployError } from '../../errors.js';
import type { Host } from '../../inventory/index.js';
import { isConnection, platformConnection } from '../../components/platform/connection.js';
import { installerCheckScript, installerCheckVerdict, parseInstallerCheck } from '../../components/platform/installer-check.js';
import type { CommandContext } from '../context.js';
import { nodeHealthy, type LbInput, type Unreachable } from './checks.js';
import { clientOptionFile, withCredentialsFile, type DbFacts } from '../../facts/health.js';

export const PLATFORM_LAYER = 'platform';
const TIMEOUT_MS = 45_000;

/** Null when there is no platform preset (nothing the installer would check) or no healthy node to run from. */
export async function platformInstallerCheck(
  context: CommandContext,
  dbNodes: Host[],
  db: ReadonlyMap<string, DbFacts | Unreachable>,
  lb: LbInput,
): Promise<CheckResult | null> {
  const connection = platformConnection(context.environment);
  if (!isConnection(connection)) return null;
  const d = connection.database;
  const from = dbNodes.find((h) => nodeHealthy(db.get(h.name)));
  const check = `${connection.platform} installer checks as ${d.user}`;
  const expected = `create a table with a primary key via :${d.writerPort}, read own write via :${d.readerPort}`;
  if (!from) return { layer: PLATFORM_LAYER, host: '(vip)', check, expected, observed: 'not run: no synced db node to run the client from', status: 'warn' };
  const user = context.environment.app.users.find((u) => u.name === d.user)!;
  const token = randomBytes(12).toString('hex');
  const script = withCredentialsFile(
    3,
    `c=$(command -v mariadb || command -v mysql); ${installerCheckScript({ host: d.host, writerPort: lb.writerPort, readerPort: d.readerPort, database: d.name, syncWait: d.syncWait, token, client: '"$c"' })}`,
  );
  try {
    const remote = await context.host(from.name);
    const r = await remote.run(script, {
      purpose: 'platform installer checks through the VIP',
      stdin: clientOptionFile(user.name, context.secrets.valueOf(user.password)),
      timeoutMs: TIMEOUT_MS,
      allowFailure: true,
    });
    const verdict = installerCheckVerdict(parseInstallerCheck(r.stdout), { user: d.user, database: d.name, token, writerPort: lb.writerPort, readerPort: d.readerPort, syncWait: d.syncWait });
    return { layer: PLATFORM_LAYER, host: from.name, check, expected, ...verdict };
  } catch (e) {
    return { layer: PLATFORM_LAYER, host: from.name, check, expected, observed: `not run: ${toDeployError(e).message.split('\n', 1)[0]}`, status: 'fail' };
  }
}
