// npm run bench [-- SECTION ...]: speed targets, measured side by side in one
// run on this machine (shared and noisy, so ratios are reported, not absolute
// limits). Each section is bench/<name>.mjs exporting `bench()`, which brings
// the lab into the state it needs and returns { result, line }.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib.mjs';

const SECTIONS = ['preflight', 'provision', 'deploy-db', 'deploy-lb', 'verify-ha', 'migrate-storage'];
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!SECTIONS.includes(name)) {
    console.error(`bench: unknown section "${name}"; sections: ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
}

const results = {};
const lines = [];
for (const name of SECTIONS) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const file = join(root, 'bench', `${name}.mjs`);
  if (!existsSync(file)) continue;
  console.error(`bench: ${name}`);
  const { bench } = await import(file);
  const { result, line } = await bench();
  results[name] = result;
  lines.push(line);
}
console.log(JSON.stringify(results, null, 2));
for (const line of lines) console.log(line);
