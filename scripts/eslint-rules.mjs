// The two import rules of eslint.config.mjs, apart so that a unit test
// (test/unit/lint-rules.test.ts) can show each one failing.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** src/<first>/... of an absolute path, or '' outside src/; top-level files by their name without extension. */
function areaOf(file) {
  const rel = relative(SRC, file);
  if (rel.startsWith('..')) return '';
  const [first] = rel.split(sep);
  return first.replace(/\.[cm]?[jt]s$/, '');
}

/** The command a file belongs to: src/commands/<name>/..., or undefined for shared files in src/commands/. */
function commandOf(file) {
  const parts = relative(join(SRC, 'commands'), file).split(sep);
  return parts.length > 1 && parts[0] !== '..' ? parts[0] : undefined;
}

// Which areas each area may not import. Logger and errors sit at the bottom
// (src/log.ts, src/errors.ts); rendering is report's, posting is github's.
const LOWER_LAYERS = ['inventory', 'ssh', 'facts', 'operations', 'components', 'engine'];
const FORBIDDEN = {
  ...Object.fromEntries(LOWER_LAYERS.map((area) => [area, ['report', 'commands', 'github', 'run', 'main', 'cli', 'cli-main', 'inputs', 'index']])),
  report: ['commands', 'run', 'main', 'cli', 'cli-main', 'inputs', 'index'],
  github: ['commands', 'run', 'main', 'cli', 'cli-main', 'inputs', 'index'],
};

// Imports the layering refuses that are still in the tree, each with why it
// is tolerated for now; remove an entry when its import goes. Keys: importing
// file → imported files, relative to src/.
const TEMPORARY_EXCEPTIONS = {
};


export const layering = {
  meta: { type: 'problem', schema: [], messages: { layer: '{{from}} may not import {{to}}: {{why}}' } },
  create(context) {
    const file = context.filename;
    const from = areaOf(file);
    const fromCommand = commandOf(file);
    const fromRel = relative(SRC, file).split(sep).join('/');
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const targetRel = relative(SRC, target).split(sep).join('/');
      if (TEMPORARY_EXCEPTIONS[fromRel]?.includes(targetRel)) return;
      const to = areaOf(target);
      let why;
      if (FORBIDDEN[from]?.includes(to)) why = `${from} is below ${to} (data flows one way; see README's layout)`;
      else if (fromCommand !== undefined && commandOf(target) !== undefined && commandOf(target) !== fromCommand) {
        why = 'a command never imports another; move what both need out of commands/';
      }
      if (why) context.report({ node: node.source, messageId: 'layer', data: { from: fromRel, to: targetRel, why } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

// One style: relative imports name the file as the emitted JavaScript does (`./x.js`).
export const extensions = {
  meta: { type: 'problem', fixable: 'code', schema: [], messages: { ext: 'relative import "{{spec}}" must end in .js (the one import style)' } },
  create(context) {
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.') || spec.endsWith('.js') || spec.endsWith('.json') || spec.endsWith('.mjs')) return;
      context.report({
        node: node.source,
        messageId: 'ext',
        data: { spec },
        fix: (fixer) => {
          const target = resolve(dirname(context.filename), spec);
          const isDirectory = existsSync(target) && statSync(target).isDirectory();
          return fixer.replaceText(node.source, `'${spec}${isDirectory ? '/index.js' : '.js'}'`);
        },
      });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
  },
};

