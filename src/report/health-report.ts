/** The scheduled-run health issue's body: verify-ha's checks as Markdown tables. */
import type { CheckResult } from '../check.js';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * Markdown for the scheduled-run issue (reportHealth's `report`): failing
 * checks first, then warnings. Pass already-redacted checks.
 */
export function healthReportMarkdown(checks: readonly CheckResult[]): string {
  const table = (rows: readonly CheckResult[]) =>
    ['| layer | host | check | expected | observed |', '|---|---|---|---|---|', ...rows.map((c) => `| ${cell(c.layer)} | ${cell(c.host)} | ${cell(c.check)} | ${cell(c.expected)} | ${cell(c.observed)} |`)].join('\n');
  const failed = checks.filter((c) => c.status === 'fail');
  const warned = checks.filter((c) => c.status === 'warn');
  const parts: string[] = [];
  parts.push(failed.length === 0 ? 'Every check passed.' : `${failed.length} check${failed.length === 1 ? '' : 's'} failed:\n\n${table(failed)}`);
  const hints = [...new Set(failed.map((c) => c.hint).filter((h): h is string => !!h))];
  if (hints.length > 0) parts.push(`What to do:\n\n${hints.map((h) => `- ${h}`).join('\n')}`);
  if (warned.length > 0) parts.push(`Warnings (${warned.length}):\n\n${table(warned)}`);
  return parts.join('\n\n');
}
