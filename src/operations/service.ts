/**
 * Services: the planned change that enables, starts, restarts or reloads a
 * unit, and the one way lms-ha starts a service it is about to talk to.
 *
 * `systemctl start` returning does not mean the service answers: ProxySQL's
 * unit is Type=forking and its admin port opened 0.6 s after the start
 * returned (observed with ProxySQL 2.7.1 on Debian 12), glusterd answers its
 * CLI a moment after systemd reports it started. So every start-then-talk
 * step starts through startService, which waits, bounded, until the unit is
 * active and its port listens.
 */
import { DeployError } from '../errors.js';
import { changeId, type PlannedChange } from '../engine/change.js';
import type { Logger } from '../report/log.js';
import { shellQuote } from '../ssh/quote.js';
import type { RemoteHost } from '../ssh/types.js';
import { waitUntil } from './wait.js';

export type ServiceAction = 'enable' | 'start' | 'restart' | 'reload';

/** What "ready" means for a started service: active, and listening on `port` when it has one. */
export interface ServiceReadiness {
  unit: string;
  /** A TCP port the service listens on once it can be talked to (any local address). */
  port?: number;
  /** How long to wait after the start command returned. Default 60 s. */
  timeoutMs?: number;
}

export const SERVICE_READY_TIMEOUT_MS = 60_000;
const SERVICE_READY_POLL_MS = 200;

/**
 * One round trip: the unit's state, then the sockets listening on the port.
 * `ss -H` prints no header, so any line after the first means "listening".
 */
export function serviceReadyProbe(ready: ServiceReadiness): string {
  const unit = `systemctl is-active ${shellQuote(ready.unit)} || true`;
  return ready.port === undefined ? unit : `${unit}; ss -Hltn ${shellQuote(`sport = :${ready.port}`)}`;
}

/** Reads the probe's output: null when ready, else what is still missing. */
export function serviceReadyReason(ready: ServiceReadiness, stdout: string): string | null {
  const [state = '', ...listeners] = stdout.trim().split('\n');
  if (state.trim() !== 'active') return `${ready.unit} is ${state.trim() || 'in an unknown state'}`;
  if (ready.port !== undefined && !listeners.some((l) => l.trim() !== '')) return `nothing listens on port ${ready.port} yet`;
  return null;
}

/** Waits until the unit is active and its port listens; fails at once if the unit failed. */
export async function waitForService(host: RemoteHost, ready: ServiceReadiness, logger?: Logger): Promise<void> {
  const timeoutMs = ready.timeoutMs ?? SERVICE_READY_TIMEOUT_MS;
  const where = ready.port === undefined ? `${host.name} (${host.address})` : `${host.name} (${host.address}) port ${ready.port}`;
  await waitUntil(
    async () => {
      const r = await host.run(serviceReadyProbe(ready), { purpose: `check that ${ready.unit} is up`, timeoutMs: 30_000, allowFailure: true });
      const reason = serviceReadyReason(ready, r.stdout);
      if (reason === null) return { done: undefined };
      if (/ is failed$/.test(reason)) {
        throw new DeployError('apply-failed', `${ready.unit} failed to start on ${host.name}`, {
          host: host.name,
          hint: `See journalctl -u ${ready.unit} on ${host.name}, fix what it says, then run apply again.`,
        });
      }
      return { waiting: reason };
    },
    {
      timeoutMs,
      pollMs: SERVICE_READY_POLL_MS,
      logger,
      what: `${ready.unit} on ${where}`,
      host: host.name,
      timeoutError: (last) =>
        new DeployError('apply-failed', `${ready.unit} on ${where} was not ready ${Math.round(timeoutMs / 100) / 10} s after it was started: ${last}`, {
          host: host.name,
          hint: `See journalctl -u ${ready.unit} on ${host.name}${ready.port !== undefined ? ` and check what listens with: ss -ltnp 'sport = :${ready.port}'` : ''}, then run apply again.`,
        }),
    },
  );
}

/**
 * Runs `command` (a `systemctl start`/`restart`, possibly with a daemon-reload
 * before it) and returns only once the service is ready to be talked to.
 */
export async function startService(
  host: RemoteHost,
  command: string,
  ready: ServiceReadiness,
  options: { purpose: string; timeoutMs: number; logger?: Logger },
): Promise<void> {
  await host.run(command, { purpose: options.purpose, timeoutMs: options.timeoutMs });
  await waitForService(host, ready, options.logger);
}

/**
 * A planned unit action. With `ready`, a start or restart waits for the
 * service to answer before the next change (which may talk to it) runs.
 */
export function serviceChange(
  host: string,
  unit: string,
  action: ServiceAction,
  summary: string,
  command: string,
  ready?: Omit<ServiceReadiness, 'unit'>,
): PlannedChange {
  return {
    kind: 'service',
    id: changeId('service', host, unit, action),
    host,
    summary,
    unit,
    action,
    apply: async (ctx) => {
      if (ready) await startService(ctx.host, command, { unit, ...ready }, { purpose: summary, timeoutMs: 120_000, logger: ctx.logger });
      else await ctx.host.run(command, { purpose: summary, timeoutMs: 120_000 });
    },
  };
}
