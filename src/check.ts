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

/**
 * One drill's measurements as numbers, for the `result` output: the check
 * rows carry the same figures as text for people, these are for scripts that
 * track them night after night.
 */
export interface DrillFigures {
  /** proxy-stop, db-stop or db-kill. */
  drill: string;
  /** Inventory host that was broken (the VIP holder or the writer). */
  host: string;
  /** What moved: "VIP lb1 → lb2" or "writer db1 → db2". */
  effect: string;
  /** Longest stretch without an acknowledged write after the fault. */
  unavailableMs: number;
  failedAttempts: number;
  /** From the fault until writes were steady again. */
  resumedMs: number;
  /** From the restore until every check passed again; null if it never did. */
  healthyAfterMs: number | null;
  /** Longest stretch without an acknowledged write during the restore. */
  restoreUnavailableMs: number;
  acknowledged: number;
  /** Acknowledged writes missing on some node (the most on any one node). */
  lost: number;
}

export function worstStatus(results: readonly CheckResult[]): CheckStatus {
  if (results.some((r) => r.status === 'fail')) return 'fail';
  if (results.some((r) => r.status === 'warn')) return 'warn';
  return 'ok';
}
