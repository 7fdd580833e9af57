/**
 * Check rows both preflight and provision report about a host's baseline:
 * free space where a state transfer writes, and the spread of the host clocks.
 * One set of thresholds, so the two commands never disagree about a host.
 */
import type { CheckResult, CheckStatus } from '../check.js';
import { clockSpread, type HostFacts } from '../facts/host.js';

/** Below this a MariaDB datadir or a brick can fill up during a state transfer: fail. */
export const MIN_FREE_BYTES = 1024 ** 3;
/** Below this, warn: a state transfer copies the whole dataset and gcache grows. */
export const WARN_FREE_BYTES = 5 * 1024 ** 3;

export const GiB = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

/** The free-space row for `check` on `host`; the hint is for a warn or a fail. */
export function freeSpaceCheck(host: string, check: string, availableBytes: number, observed: string, hint: string): CheckResult {
  const status: CheckStatus = availableBytes < MIN_FREE_BYTES ? 'fail' : availableBytes < WARN_FREE_BYTES ? 'warn' : 'ok';
  return { layer: 'host', host, check, expected: `>= ${GiB(WARN_FREE_BYTES)}`, observed, status, ...(status === 'ok' ? {} : { hint }) };
}

/**
 * The spread of the host clocks (see clockSpread) against `boundMs`, the
 * measurement's uncertainty counted in the hosts' favour; above the bound,
 * `over` (preflight warns, provision refuses). No row with fewer than two clocks.
 */
export function clockSkewRow(
  hosts: readonly { name: string; facts: HostFacts }[],
  o: { check: string; boundMs: number; over: CheckStatus; unit: 's' | 'ms'; hint: (ahead: string, behind: string) => string },
): CheckResult[] {
  const skew = clockSpread(hosts);
  if (!skew) return [];
  const spreadMs = skew.spreadSeconds * 1000;
  const uncertaintyMs = skew.uncertaintySeconds * 1000;
  const status: CheckStatus = spreadMs - uncertaintyMs > o.boundMs ? o.over : 'ok';
  const show = (ms: number) => (o.unit === 's' ? `${(ms / 1000).toFixed(3)}s` : `${ms.toFixed(0)} ms`);
  return [
    {
      layer: 'host',
      host: '(all)',
      check: o.check,
      expected: `<= ${o.unit === 's' ? `${o.boundMs / 1000}s` : `${o.boundMs} ms`}`,
      observed: `${show(spreadMs)} (${skew.ahead} ahead of ${skew.behind}, ±${show(uncertaintyMs)})`,
      status,
      ...(status === 'ok' ? {} : { hint: o.hint(skew.ahead, skew.behind) }),
    },
  ];
}
