/**
 * The plan as the pull request comment shows it: the headline and a per-host
 * table open, each host's changes collapsed in its own <details> so a reviewer
 * opens only the hosts they care about. The job summary keeps the flat,
 * apply-ordered rendering; this is the same content regrouped.
 */
import { changesByHost, kindCounts, renderPlanMarkdown, type Plan } from '../engine/plan.js';
import type { Redactor } from '../engine/redact.js';
import { cell, table } from '../report/markdown.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderCommentPlan(plan: Plan, redactor: Redactor): string {
  const byHost = changesByHost(plan);
  const changing = [...byHost.entries()].filter(([, changes]) => changes.length > 0);
  const out: string[] = [];
  out.push(
    plan.changes.length === 0
      ? '**No changes.** The hosts already match the desired state.'
      : `**${plural(plan.changes.length, 'change')}** on ${plural(changing.length, 'host')}.`,
    '',
  );
  if (plan.warnings.length > 0) {
    out.push('> [!WARNING]');
    for (const w of plan.warnings) out.push(`> ${w.replace(/\r?\n/g, ' ')}`);
    out.push('');
  }
  if (byHost.size > 0) {
    out.push(
      table(
        ['host', 'roles', 'changes'],
        [...byHost.entries()].map(([name, changes]) => [
          cell(name),
          cell(plan.hosts.find((h) => h.name === name)?.roles.join(', ')),
          cell(kindCounts(changes)),
        ]),
      ),
      '',
    );
  }
  for (const [name, changes] of changing) {
    const hostPlan: Plan = { ...plan, changes: plan.changes.filter((c) => c.host === name), warnings: [] };
    // The host's own rendering without its title line: the <summary> names the host.
    const body = renderPlanMarkdown(hostPlan, { redactor, headingLevel: 4, hostTable: false }).replace(/^#+ .*\n\n/, '');
    out.push(`<details><summary><b>${escapeHtml(name)}</b>: ${escapeHtml(kindCounts(changes))}</summary>`, '', body.trimEnd(), '', '</details>', '');
  }
  return redactor.redact(out.join('\n').replace(/\n+$/, '') + '\n');
}
