/**
 * Structural invariants of the reusable workflows and the caller templates.
 * GitHub only reports most workflow mistakes when a run starts (or as an
 * opaque "workflow file issue"), so they are checked here, offline.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { ACTION_INPUTS as INPUT_TABLE } from '../../../src/action-inputs.js';
import { builtCommands } from '../../../src/commands/registry.js';
import { REVIEWED_COMMANDS } from '../../../src/github/reviewed-run.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const WORKFLOWS = join(ROOT, '.github', 'workflows');
const TEMPLATES = join(ROOT, 'workflows-templates');

/** The action's inputs, from the one table (src/action-inputs.ts). */
const ACTION_INPUTS: string[] = INPUT_TABLE.map((i) => i.name);
/**
 * The deploy chain: each command builds on the ones before it (hosts, the
 * cluster, what talks to it), verify-ha proves the result read-only. The
 * deploy job's steps run in this order, and it is the default everywhere.
 */
const APPLY_ORDER = ['provision', 'deploy-db', 'deploy-lb', 'migrate-storage', 'verify-ha'];
/** What the plan job comments by default: every command of the chain whose apply needs a reviewed plan (the action's own list). */
const PLANNED = APPLY_ORDER.filter((c) => (REVIEWED_COMMANDS as readonly string[]).includes(c));
const PINNED = /^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- workflow YAML is read field by field
type Yaml = Record<string, any>;

interface Loaded {
  file: string;
  text: string;
  doc: Yaml;
}

function load(path: string): Loaded {
  const text = readFileSync(path, 'utf8');
  const parsed = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (parsed.errors.length) throw new Error(`${path}: ${parsed.errors.map((e) => e.message).join('; ')}`);
  return { file: path, text, doc: parsed.toJS() as Yaml };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(dir, f));
}

const reusable = yamlFiles(WORKFLOWS)
  .filter((f) => /lms-ha-[\w-]+\.yml$/.test(f))
  .map(load);
const templates = yamlFiles(TEMPLATES).map(load);
const byName = (name: string) => {
  const w = reusable.find((r) => r.file.endsWith(`/${name}`));
  if (!w) throw new Error(`no reusable workflow ${name}`);
  return w;
};

function jobs(w: Loaded): [string, Yaml][] {
  return Object.entries(w.doc['jobs'] as Yaml);
}

function actionSteps(job: Yaml): Yaml[] {
  return ((job['steps'] ?? []) as Yaml[]).filter((s) => s['uses'] === './.lms-ha');
}

/** Every `ctx.name` used inside ${{ }} in a text. */
function references(text: string, ctx: string): Set<string> {
  const names = new Set<string>();
  for (const expr of text.matchAll(/\$\{\{([\s\S]*?)\}\}/g)) {
    for (const m of expr[1]!.matchAll(new RegExp(`\\b${ctx}\\.([A-Za-z_][\\w-]*)`, 'g'))) names.add(m[1]!);
    for (const m of expr[1]!.matchAll(new RegExp(`\\b${ctx}\\[\\s*'([^']+)'\\s*\\]`, 'g'))) names.add(m[1]!);
  }
  return names;
}

/** Text without YAML comments (commented-out examples must not count as references). */
function uncommented(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
}

function permissionsOf(job: Yaml): Record<string, string> {
  return (job['permissions'] ?? {}) as Record<string, string>;
}

const LEVEL: Record<string, number> = { none: 0, read: 1, write: 2 };

describe('reusable workflows', () => {
  it('exist: plan, deploy, verify', () => {
    expect(reusable.map((r) => r.file.split('/').at(-1)).sort()).toEqual([
      'lms-ha-deploy.yml',
      'lms-ha-plan.yml',
      'lms-ha-verify.yml',
    ]);
  });

  describe.each(reusable.map((r) => [r.file.split('/').at(-1)!, r] as const))('%s', (_name, w) => {
    const call = w.doc['on']?.['workflow_call'] as Yaml | undefined;

    it('is callable only (workflow_call is its one trigger)', () => {
      expect(call).toBeTypeOf('object');
      expect(Object.keys(w.doc['on'])).toEqual(['workflow_call']);
    });

    it('grants nothing at the top and least privilege per job, with a timeout', () => {
      expect(w.doc['permissions']).toEqual({});
      for (const [id, job] of jobs(w)) {
        expect(job['permissions'], `${id}.permissions`).toBeTypeOf('object');
        for (const [scope, level] of Object.entries(permissionsOf(job))) {
          expect(['contents', 'pull-requests', 'issues'], `${id}: ${scope}`).toContain(scope);
          expect(['read', 'write'], `${id}: ${scope}`).toContain(level);
          if (scope === 'contents') expect(level, `${id}: contents`).toBe('read');
        }
        expect(job['timeout-minutes'], `${id}.timeout-minutes`).toBeDefined();
      }
    });

    it('pins third-party actions by full SHA with a version comment, and checks out without credentials', () => {
      for (const [, job] of jobs(w)) {
        for (const step of (job['steps'] ?? []) as Yaml[]) {
          const uses = step['uses'] as string | undefined;
          if (!uses || uses === './.lms-ha') continue;
          expect(uses).toMatch(PINNED);
          const line = w.text.split('\n').find((l) => l.includes(`uses: ${uses}`))!;
          expect(line, uses).toMatch(/ # v\d+(\.\d+)*$/);
          if (uses.startsWith('actions/checkout@')) {
            expect(step['with']?.['persist-credentials'], `${step['name']}`).toBe(false);
          }
        }
      }
    });

    it('runs the action checked out at this workflow\'s own commit', () => {
      for (const [id, job] of jobs(w)) {
        const steps = (job['steps'] ?? []) as Yaml[];
        const first = steps.findIndex((s) => s['uses'] === './.lms-ha');
        if (first === -1) continue;
        const self = steps.slice(0, first).find((s) => s['with']?.['path'] === '.lms-ha');
        expect(self, `${id}: checkout of lms-ha before use`).toBeDefined();
        expect(self!['with']['ref']).toContain('job.workflow_sha');
        expect(self!['with']['repository']).toContain('job.workflow_repository');
        // A private copy of lms-ha needs a token of its own; the default is the job's.
        expect(self!['with']['token']).toBe('${{ secrets.LMS_HA_CHECKOUT_TOKEN || github.token }}');
      }
    });

    it('passes the action only inputs it has', () => {
      const actionYml = join(ROOT, 'action.yml');
      const declared = existsSync(actionYml)
        ? Object.keys((load(actionYml).doc['inputs'] ?? {}) as Yaml)
        : ACTION_INPUTS;
      for (const [, job] of jobs(w)) {
        for (const step of actionSteps(job)) {
          for (const input of Object.keys(step['with'] ?? {})) {
            expect(ACTION_INPUTS, `${step['name']}: ${input}`).toContain(input);
            expect(declared, `${step['name']}: ${input} (action.yml)`).toContain(input);
          }
          expect(step['with']['ssh-private-key']).toBe('${{ secrets.LMS_HA_SSH_KEY }}');
          expect(step['with']['ssh-private-key-passphrase']).toBe('${{ secrets.LMS_HA_SSH_KEY_PASSPHRASE }}');
          expect(step['with']['known-hosts']).toBe('${{ secrets.LMS_HA_KNOWN_HOSTS }}');
          expect(step['env']?.['LMS_HA_SECRETS']).toBe(
            '${{ secrets.LMS_HA_INVENTORY_SECRETS || toJSON(secrets) }}',
          );
        }
      }
    });

    it('references only declared inputs, secrets and matrix values', () => {
      const inputs = Object.keys(call?.['inputs'] ?? {});
      const secrets = Object.keys(call?.['secrets'] ?? {});
      for (const name of references(w.text, 'inputs')) expect(inputs, `inputs.${name}`).toContain(name);
      for (const name of references(w.text, 'secrets')) expect(secrets, `secrets.${name}`).toContain(name);
      for (const [id, job] of jobs(w)) {
        const matrix = Object.keys(job['strategy']?.['matrix'] ?? {});
        for (const name of references(JSON.stringify(job), 'matrix')) expect(matrix, `${id}: matrix.${name}`).toContain(name);
      }
    });

    it('gives every input a type, and defaults of that type', () => {
      for (const [name, input] of Object.entries((call?.['inputs'] ?? {}) as Yaml)) {
        expect(['string', 'boolean', 'number'], name).toContain(input['type']);
        if ('default' in input) expect(typeof input['default'], name).toBe(input['type']);
        if (input['required']) expect('default' in input, `${name}: required with a default`).toBe(false);
      }
    });

    it('puts no expression inside a run script (values go through env)', () => {
      for (const [id, job] of jobs(w)) {
        for (const step of (job['steps'] ?? []) as Yaml[]) {
          if (typeof step['run'] === 'string') expect(step['run'], `${id}: ${step['name']}`).not.toContain('${{');
        }
      }
    });

    it('checks the SSH secrets before anything uses them (they are not required: true)', () => {
      for (const [name, secret] of Object.entries((call?.['secrets'] ?? {}) as Yaml)) {
        expect(secret['required'], name).toBe(false);
      }
      for (const [id, job] of jobs(w)) {
        if (actionSteps(job).length === 0) continue;
        const [first] = job['steps'] as Yaml[];
        expect(first!['name'], id).toBe('Check secrets');
        expect(first!['env']).toMatchObject({
          SSH_KEY: '${{ secrets.LMS_HA_SSH_KEY }}',
          KNOWN_HOSTS: '${{ secrets.LMS_HA_KNOWN_HOSTS }}',
        });
        expect(first!['run']).toMatch(/exit 1/);
      }
    });
  });

  it('deploy: one approval-gated job that never cancels a run in progress, applying in order', () => {
    const w = byName('lms-ha-deploy.yml');
    const all = jobs(w);
    expect(all).toHaveLength(1);
    const [, job] = all[0]!;
    expect(job['environment']).toBe('${{ inputs.environment }}');
    // queue: max keeps up to 100 waiting deploys in order instead of one that a newer run silently replaces.
    expect(job['concurrency']).toEqual({ group: 'lms-ha-${{ inputs.environment }}', 'cancel-in-progress': false, queue: 'max' });
    expect(permissionsOf(job)).toEqual({ contents: 'read', 'pull-requests': 'write' });

    const steps = actionSteps(job);
    expect(steps.map((s) => s['with']['command'])).toEqual(APPLY_ORDER);
    for (const step of steps) {
      const command = step['with']['command'] as string;
      expect(step['if']).toBe(`contains(fromJSON(inputs.commands), '${command}')`);
      if (command === 'verify-ha') {
        // apply would mean failover drills; after a deploy only the read-only checks run.
        expect(step['with']['mode']).toBe('plan');
        continue;
      }
      expect(step['with']['mode']).toBe('apply');
      expect(step['with']['comment']).toBe('true');
      expect(step['with']['require-reviewed-plan']).toBe('${{ inputs.require-reviewed-plan }}');
      expect(step['with']['plan-hash']).toBe(`\${{ fromJSON(inputs.plan-hashes)['${command}'] }}`);
    }
    const call = w.doc['on']['workflow_call'];
    expect(call['inputs']['require-reviewed-plan']).toMatchObject({ type: 'boolean', default: true });
    expect(JSON.parse(call['inputs']['commands']['default'])).toEqual(APPLY_ORDER);
    // Per command outputs, each wired to its step.
    for (const command of APPLY_ORDER) {
      expect(call['outputs'][`${command}-failure-reason`]['value']).toBe(`\${{ jobs.deploy.outputs.${command}-failure-reason }}`);
      expect(job['outputs'][`${command}-failure-reason`]).toBe(`\${{ steps.${command}.outputs.failure-reason }}`);
      if (command === 'verify-ha') continue;
      for (const o of ['changed', 'plan-hash']) {
        expect(call['outputs'][`${command}-${o}`]['value']).toBe(`\${{ jobs.deploy.outputs.${command}-${o} }}`);
        expect(job['outputs'][`${command}-${o}`]).toBe(`\${{ steps.${command}.outputs.${o} }}`);
      }
    }
  });

  it('plan and deploy pass the same plan-hash-key secret, so a keyed plan hash matches between review and apply', () => {
    for (const name of ['lms-ha-plan.yml', 'lms-ha-deploy.yml']) {
      for (const [, job] of jobs(byName(name))) {
        for (const step of actionSteps(job).filter((s) => s['with']['command'] !== 'verify-ha')) {
          expect(step['with']['plan-hash-key'], `${name}: ${step['name']}`).toBe('${{ secrets.LMS_HA_PLAN_HASH_KEY }}');
        }
      }
    }
  });

  it('default command lists: the whole chain on deploy, every gated command of it on plan, only built commands, the same in every document', () => {
    const built = builtCommands();
    for (const command of APPLY_ORDER) expect(built, command).toContain(command);
    const planDefault = JSON.parse(byName('lms-ha-plan.yml').doc['on']['workflow_call']['inputs']['commands']['default']) as string[];
    const deployDefault = JSON.parse(byName('lms-ha-deploy.yml').doc['on']['workflow_call']['inputs']['commands']['default']) as string[];
    expect(deployDefault).toEqual(APPLY_ORDER);
    // A default deploy step that applies without a plan comment from the default plan job is refused (fail closed): every run red.
    const gated = actionSteps(byName('lms-ha-deploy.yml').doc['jobs']['deploy']).filter((s) => s['with']['mode'] === 'apply').map((s) => s['with']['command'] as string);
    expect(planDefault).toEqual(gated);
    expect(planDefault).toEqual(PLANNED);

    const docs = [...reusable, ...templates].map((w) => ({ file: w.file, text: w.text }));
    for (const file of ['README.md', join('workflows-templates', 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))]) {
      docs.push({ file, text: readFileSync(join(ROOT, file), 'utf8') });
    }
    // Every JSON command list of two or more written anywhere (comments included) is one of the two defaults.
    const lists = docs.flatMap((d) => [...d.text.matchAll(/'(\["[a-z-]+"(?:,\s*"[a-z-]+")+\])'/g)].map((m) => ({ file: d.file, list: m[1]! })));
    expect(lists.length).toBeGreaterThan(3);
    for (const { file, list } of lists) expect([JSON.stringify(planDefault), JSON.stringify(deployDefault)], `${file}: ${list}`).toContain(JSON.stringify(JSON.parse(list)));
    // Every chain written out with arrows ("provision -> deploy-db -> ...", across comment lines too) is the deploy chain.
    const name = `\`?(?:${built.join('|')})\`?`;
    const chain = new RegExp(`${name}(?:\\s*(?:->|→)\\s*${name})+`, 'g');
    const chains = docs.flatMap((d) => [...d.text.replace(/\n\s*#\s*/g, ' ').matchAll(chain)].map((m) => ({ file: d.file, chain: m[0].replace(/`/g, '').split(/\s*(?:->|→)\s*/) })));
    expect(chains.length).toBeGreaterThanOrEqual(3);
    for (const c of chains) expect(c.chain, c.file).toEqual(APPLY_ORDER);
  });

  it('plan: comments from a matrix of commands, read-only, and skips forks with a notice', () => {
    const w = byName('lms-ha-plan.yml');
    const plan = w.doc['jobs']['plan'] as Yaml;
    const skipped = w.doc['jobs']['skipped'] as Yaml;
    expect(permissionsOf(plan)).toEqual({ contents: 'read', 'pull-requests': 'write' });
    expect(plan['strategy']['matrix']['command']).toBe('${{ fromJSON(inputs.commands) }}');
    const [step] = actionSteps(plan);
    expect(step!['with']).toMatchObject({ command: '${{ matrix.command }}', mode: 'plan', comment: 'true' });
    expect(step!['with']['plan-hash']).toBeUndefined();

    // The two conditions partition pull requests: same-repo ones plan, the rest get the notice.
    expect(plan['if']).toContain("github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'");
    expect(skipped['if']).toContain("github.event.pull_request.head.repo.full_name != github.repository || github.actor == 'dependabot[bot]'");
    expect(permissionsOf(skipped)).toEqual({});
    expect(JSON.stringify(skipped['steps'])).toContain('::notice');
    expect(JSON.stringify(skipped['steps'])).not.toContain('secrets.');
    expect(plan['concurrency']['cancel-in-progress']).toBe(true);
  });

  it('verify: read-only verify-ha that may write issues, in its own concurrency group', () => {
    const w = byName('lms-ha-verify.yml');
    const [[, job]] = jobs(w) as [[string, Yaml]];
    expect(permissionsOf(job)).toEqual({ contents: 'read', issues: 'write' });
    const [step] = actionSteps(job);
    expect(step!['with']).toMatchObject({ command: 'verify-ha', mode: 'plan', issue: '${{ inputs.update-issue }}' });
    expect(job['concurrency']['cancel-in-progress']).toBe(false);
    expect(job['concurrency']['group']).not.toBe(byName('lms-ha-deploy.yml').doc['jobs']['deploy']['concurrency']['group']);
  });

  it('no workflow anywhere cancels an apply in progress', () => {
    for (const w of reusable) {
      for (const [id, job] of jobs(w)) {
        const applies = actionSteps(job).some((s) => s['with']['mode'] === 'apply');
        if (applies) expect(job['concurrency']?.['cancel-in-progress'], `${id}`).toBe(false);
      }
    }
  });
});

describe('caller templates', () => {
  it('exist: pr-plan, deploy, nightly-verify', () => {
    expect(templates.map((t) => t.file.split('/').at(-1)).sort()).toEqual([
      'deploy.yml',
      'nightly-verify.yml',
      'pr-plan.yml',
    ]);
  });

  describe.each(templates.map((t) => [t.file.split('/').at(-1)!, t] as const))('%s', (_name, t) => {
    it('grants nothing at the top and documents the OWNER placeholder', () => {
      expect(t.doc['permissions']).toEqual({});
      expect(t.text).toMatch(/replace OWNER/);
    });

    it('calls existing reusable workflows with every required input and secret, and nothing undeclared', () => {
      const callers = Object.entries(t.doc['jobs'] as Yaml).filter(([, j]) => j['uses']);
      expect(callers.length).toBeGreaterThan(0);
      for (const [id, job] of callers) {
        const m = /^OWNER\/lms-ha\/\.github\/workflows\/([\w.-]+\.yml)@v1$/.exec(job['uses']);
        expect(m, `${id}.uses = ${job['uses']}`).not.toBeNull();
        const callee = byName(m![1]!);
        const call = callee.doc['on']['workflow_call'] as Yaml;

        const given = Object.keys(job['with'] ?? {});
        for (const name of given) expect(Object.keys(call['inputs']), `${id}: with.${name}`).toContain(name);
        for (const [name, input] of Object.entries(call['inputs'] as Yaml)) {
          if (input['required']) expect(given, `${id}: required input ${name}`).toContain(name);
        }

        const secrets = job['secrets'];
        if (secrets !== 'inherit') {
          expect(secrets, `${id}.secrets`).toBeTypeOf('object');
          for (const name of Object.keys(secrets)) expect(Object.keys(call['secrets']), name).toContain(name);
          for (const [name, s] of Object.entries(call['secrets'] as Yaml)) {
            if (s['required']) expect(Object.keys(secrets), `${id}: required secret ${name}`).toContain(name);
          }
        }

        // A called workflow can only lower the caller's token permissions.
        const granted = permissionsOf(job);
        for (const [, calleeJob] of jobs(callee)) {
          for (const [scope, level] of Object.entries(permissionsOf(calleeJob))) {
            expect(LEVEL[granted[scope] ?? 'none'], `${id}: ${scope}: ${level}`).toBeGreaterThanOrEqual(LEVEL[level]!);
          }
        }

        // Same group name as the called job would make GitHub cancel the caller.
        expect(String(job['concurrency']?.['group'] ?? '')).not.toMatch(/^lms-ha-/);
      }
    });

    it('uses only inputs its own triggers declare', () => {
      const dispatch = Object.keys(t.doc['on']?.['workflow_dispatch']?.['inputs'] ?? {});
      expect(dispatch.length).toBeLessThanOrEqual(10);
      for (const name of references(uncommented(t.text), 'inputs')) expect(dispatch, `inputs.${name}`).toContain(name);
    });
  });

  it('pr-plan runs on pull requests', () => {
    const t = templates.find((x) => x.file.endsWith('/pr-plan.yml'))!;
    expect(Object.keys(t.doc['on'])).toEqual(['pull_request']);
  });

  it('deploy runs on merge to main and by hand, always requiring the reviewed plan on merge', () => {
    const t = templates.find((x) => x.file.endsWith('/deploy.yml'))!;
    expect(t.doc['on']['push']['branches']).toEqual(['main']);
    expect(t.doc['on']['workflow_dispatch']['inputs']['environment']['type']).toBe('environment');
    const choice = t.doc['on']['workflow_dispatch']['inputs']['command'];
    expect(choice['type']).toBe('choice');
    expect(choice['options']).toEqual(['all', ...APPLY_ORDER]);
    expect(t.doc['jobs']['deploy']['with']['require-reviewed-plan']).toBe(
      "${{ github.event_name == 'push' || inputs.require-reviewed-plan }}",
    );
  });

  it('nightly-verify runs on a schedule and by hand, and explains the 60-day auto-disable', () => {
    const t = templates.find((x) => x.file.endsWith('/nightly-verify.yml'))!;
    expect(t.doc['on']['schedule'][0]['cron']).toMatch(/^\d+ \d+ \* \* \*$/);
    expect(t.doc['on']).toHaveProperty('workflow_dispatch');
    expect(t.text).toMatch(/60 days/);
    expect(t.text).toMatch(/default branch/);
  });
});
