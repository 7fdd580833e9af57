/**
 * One observed fact compared with what it should be. Preflight and verify-ha
 * both produce these; the report layer renders them as the
 * (layer, host, check, expected, observed, status) table.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  layer: string;
  host: string;
  check: string;
  expected: string;
  observed: string;
  status: CheckStatus;
  /** What to do about it, for warn and fail. */
  hint?: string;
}

export function worstStatus(results: readonly CheckResult[]): CheckStatus {
  if (results.some((r) => r.status === 'fail')) return 'fail';
  if (results.some((r) => r.status === 'warn')) return 'warn';
  return 'ok';
}
