// Checks that the committed dist/ is what the sources build to: bundles into a
// temporary directory and compares file lists and bytes. A step of its own in
// the test command (scripts/test.sh), not a unit test: a full bundle takes as
// long as the machine is busy, and a unit test must not depend on speed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const committed = join(root, 'dist');
const fresh = mkdtempSync(join(tmpdir(), 'lms-ha-dist-'));

function listFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

try {
  execFileSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--out', fresh], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const want = listFiles(fresh);
  const have = listFiles(committed);
  const problems = [];
  for (const f of want) if (!have.includes(f)) problems.push(`dist/${f} is missing`);
  for (const f of have) if (!want.includes(f)) problems.push(`dist/${f} is not built from the sources any more`);
  for (const f of want) {
    if (have.includes(f) && !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f)))) problems.push(`dist/${f} differs from a fresh build`);
  }
  if (problems.length > 0) {
    console.error(`${problems.join('\n')}\nRebuild with \`npm run build\` and commit dist/.`);
    process.exitCode = 1;
  } else {
    console.log(`dist/ matches a fresh build (${want.length} files)`);
  }
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
