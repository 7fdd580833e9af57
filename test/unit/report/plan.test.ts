import { describe, expect, it } from 'vitest';

import type { PlannedChange } from '../../../src/engine/change.js';
import { Redactor } from '../../../src/engine/redact.js';
import { renderPlanMarkdown } from '../../../src/report/plan.js';
import { galeraConfig, SECRET, sampleChanges, samplePlan } from '../engine/sample-plan.js';

/** A plan whose change number `index` is modified by `edit`. */
function withEdit(index: number, edit: (c: PlannedChange) => PlannedChange) {
  const changes = sampleChanges();
  changes[index] = edit(changes[index]!);
  return samplePlan({ changes });
}

const redactor = () => new Redactor().add(SECRET);

describe('renderPlanMarkdown', () => {
  const md = renderPlanMarkdown(samplePlan({ warnings: ['db2 is not Synced yet'] }), {
    redactor: redactor(),
    planHash: 'a'.repeat(64),
  });

  it('starts with the per-host table, before the change list and the details', () => {
    const hostTable = md.indexOf('| host | roles | changes | kinds | facts |');
    const changeTable = md.indexOf('| # | host | kind | action | target | summary |');
    const details = md.indexOf('Details');
    expect(hostTable).toBeGreaterThan(0);
    expect(hostTable).toBeLessThan(changeTable);
    expect(changeTable).toBeLessThan(details);
    expect(md).toContain('| db1 | db, storage | 5 | 2 files, 1 package, 1 service, 1 SQL object | mariadb: absent · os: Debian 12 |');
    expect(md).toContain('| db2 | db | 1 | 1 cluster step | os: Debian 12 · uptime: 3 days |');
    expect(md).toContain('| lb1 | lb | 0 |  | os: Ubuntu 24.04 |');
  });

  it('says how many changes, on how many hosts, and the plan hash', () => {
    expect(md).toContain(`**6 changes** on 2 hosts. Plan hash \`${'a'.repeat(64)}\`.`);
  });

  it('lists every change in apply order', () => {
    const rows = md.split('\n').filter((l) => /^\| \d+ \|/.test(l));
    expect(rows.map((r) => r.split('|')[1]!.trim())).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(rows[0]).toContain('| package | install | mariadb-server |');
    expect(rows[3]).toContain('| service | restart | mariadb | restart mariadb |');
  });

  it('shows file changes as unified diffs in diff blocks', () => {
    expect(md).toContain('```diff\n--- a/etc/mysql/mariadb.conf.d/60-galera.cnf\n+++ b/etc/mysql/mariadb.conf.d/60-galera.cnf\n@@ -1,5 +1,5 @@');
    expect(md).toContain('-wsrep_cluster_address = gcomm://10.0.0.11,10.0.0.12\n+wsrep_cluster_address = gcomm://10.0.0.11,10.0.0.12,10.0.0.13');
  });

  it('never shows the content of a sensitive file, only that it changes', () => {
    expect(md).not.toContain(SECRET);
    expect(md).not.toContain('old-password');
    expect(md).not.toContain('password = ');
    expect(md).toContain('content changes, +1 −1 lines (sensitive: diff not shown)');
  });

  it('shows warnings', () => {
    expect(md).toContain('> [!WARNING]\n> db2 is not Synced yet');
  });

  it('redacts registered secrets that appear in a non-sensitive diff', () => {
    const plan = withEdit(1, (c) =>
      c.kind === 'file' ? { ...c, after: { ...c.after!, content: galeraConfig('10.0.0.11', `wsrep_sst_auth = sst:${SECRET}`) } } : c,
    );
    const out = renderPlanMarkdown(plan, { redactor: redactor() });
    expect(out).toContain('+wsrep_sst_auth = sst:***');
    expect(out).not.toContain(SECRET);
    // Without the redactor knowing the secret, it would be there: the test can fail.
    expect(renderPlanMarkdown(plan, { redactor: new Redactor() })).toContain(SECRET);
  });

  it('uses a longer fence when the diff itself contains one', () => {
    // A context line " ```" would close a three-backtick fence; "+```" would not.
    const plan = withEdit(1, (c) =>
      c.kind === 'file'
        ? { ...c, before: { ...c.before!, content: '```\nold\n```\n' }, after: { ...c.after!, content: '```\nnew\n```\n' } }
        : c,
    );
    const out = renderPlanMarkdown(plan, { redactor: redactor() });
    expect(out).toContain('````diff\n');
    expect(out).toContain('\n ```\n-old\n+new\n ```\n````\n');
  });

  it('escapes pipes in table cells', () => {
    const plan = withEdit(3, (c) => ({ ...c, summary: 'restart a|b' }) as PlannedChange);
    expect(renderPlanMarkdown(plan, { redactor: redactor() })).toContain('restart a\\|b');
  });

  it('shows mode and owner changes', () => {
    const plan = withEdit(1, (c) => (c.kind === 'file' ? { ...c, after: { ...c.after!, mode: 0o640, owner: 'mysql' } } : c));
    expect(renderPlanMarkdown(plan, { redactor: redactor() })).toContain('mode 0644 → 0640, owner root → mysql');
  });

  it('shows a new file against /dev/null', () => {
    const plan = withEdit(1, (c) => ({ ...c, before: null }) as PlannedChange);
    expect(renderPlanMarkdown(plan, { redactor: redactor() })).toContain('--- /dev/null\n+++ b/etc/mysql/mariadb.conf.d/60-galera.cnf');
  });

  it('does not stall on a large rewritten file: says so instead of diffing', () => {
    const big = (tag: string) => Array.from({ length: 20_000 }, (_, j) => `${tag} ${j}`).join('\n');
    const plan = withEdit(1, (c) =>
      c.kind === 'file' ? { ...c, before: { ...c.before!, content: big('old') }, after: { ...c.after!, content: big('new') } } : c,
    );
    // The note (not a diff) is the proof it did not diff: no timing here (a loaded machine is slow; speed is for the bench).
    const out = renderPlanMarkdown(plan, { redactor: redactor() });
    expect(out).toMatch(/content changes too much to show a diff; sha256 [0-9a-f]{12} → [0-9a-f]{12}/);
  });

  it('cuts a long diff with a note', () => {
    const plan = withEdit(1, (c) =>
      c.kind === 'file' ? { ...c, before: null, after: { ...c.after!, content: 'x\n'.repeat(1000) } } : c,
    );
    expect(renderPlanMarkdown(plan, { redactor: redactor(), maxLines: 50 })).toContain('... 953 more diff lines not shown');
  });

  it('says so when there is nothing to do', () => {
    const out = renderPlanMarkdown(samplePlan({ changes: [] }), { redactor: redactor() });
    expect(out).toContain('**No changes.** The hosts already match the desired state.');
    expect(out).not.toContain('Changes, in apply order');
  });
});
