/**
 * The action's inputs are defined once (src/action-inputs.ts). action.yml,
 * the reader (src/inputs.ts), the README and the CLI are held to that table,
 * so an input declared and never read, read and never declared, or documented
 * and never read, fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ACTION_INPUTS } from '../../../src/action-inputs.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const names = ACTION_INPUTS.map((i) => i.name);
const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('the inputs table', () => {
  it('is action.yml: same names in the same order, required, defaults and descriptions', () => {
    const declared = parse(read('action.yml'))['inputs'] as Record<string, { description: string; required?: boolean; default?: string }>;
    expect(Object.keys(declared)).toEqual(names);
    for (const spec of ACTION_INPUTS) {
      const input = declared[spec.name]!;
      expect(squash(input.description), spec.name).toBe(squash(spec.description));
      expect(input.required ?? false, spec.name).toBe(spec.required);
      expect(input.default, spec.name).toBe('default' in spec ? spec.default : undefined);
    }
  });

  it('is what src/inputs.ts reads: every input through actionInput(name), no getInput of anything else', () => {
    const source = read('src/inputs.ts');
    const read_ = new Set([...source.matchAll(/actionInput\('([a-z-]+)'\)/g)].map((m) => m[1]!));
    expect([...read_].sort()).toEqual([...names].sort());
    const direct = [...source.matchAll(/core\.getInput\(('([a-z-]+)'|name)\)/g)].map((m) => m[2] ?? 'name');
    // The one generic read inside actionInput, and the raw command kept for a refused run's report.
    expect(direct.sort()).toEqual(['command', 'name']);
  });

  it('is what the README documents: the input list names exactly the table', () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('Inputs (all kebab-case'), readme.indexOf('Outputs:', readme.indexOf('Inputs (all kebab-case')));
    const documented = [...section.matchAll(/`([a-z][a-z-]+)`/g)].map((m) => m[1]!).filter((n) => !['plan', 'apply', 'ha.yml', 'key=value', 'true', 'false'].includes(n));
    expect([...new Set(documented)].sort()).toEqual([...names].sort());
  });

  it('marks the secrets, which the workflows pass from secrets only', () => {
    const secret = ACTION_INPUTS.filter((i) => 'secret' in i && i.secret).map((i) => i.name);
    expect(secret.sort()).toEqual(['github-token', 'plan-hash-key', 'ssh-private-key', 'ssh-private-key-passphrase']);
    for (const file of ['.github/workflows/lms-ha-deploy.yml', '.github/workflows/lms-ha-plan.yml', '.github/workflows/lms-ha-verify.yml']) {
      for (const line of read(file).split('\n')) {
        const m = /^\s+(ssh-private-key(?:-passphrase)?):\s*(.*)$/.exec(line);
        if (m) expect(m[2], `${file}: ${m[1]}`).toMatch(/^\$\{\{ secrets\.LMS_HA_[A-Z_]+ \}\}$/);
      }
    }
  });

  it('names the CLI equivalents that exist in the CLI', () => {
    const cli = read('src/cli.ts');
    for (const spec of ACTION_INPUTS) {
      if (!('cli' in spec) || spec.cli === '<command>') continue;
      const flag = spec.cli.startsWith('--') ? spec.cli.slice(2) : spec.cli;
      expect(cli, `${spec.name} -> ${spec.cli}`).toContain(flag);
    }
  });
});
