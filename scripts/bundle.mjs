// Builds dist/ with ncc: one CommonJS bundle that runs on Node 20 and 24.
// Source is ESM with `moduleResolution: bundler` and package.json has no
// "type": "module", so webpack resolves the ESM-only @actions/* v3 packages
// through their `import` condition and still emits CJS (gha-anchors §3.7, shape 1).
import ncc from '@vercel/ncc';
import { mkdirSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

// `--out DIR` builds elsewhere: the dist-sync test compares a fresh build with dist/.
const outFlag = process.argv.indexOf('--out');
const out = outFlag > 0 ? process.argv[outFlag + 1] : 'dist';
const { code, assets } = await ncc(new URL('../src/index.ts', import.meta.url).pathname, {
  minify: false,
  sourceMap: false,
  // cpu-features is an optional native addon of ssh2; ssh2 falls back to pure JS
  // when the require fails. Leaving it external keeps the bundle free of
  // machine-specific binaries and identical on every build machine.
  externals: ['cpu-features'],
  license: 'licenses.txt',
  quiet: true,
  target: 'es2022',
});

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// The same file is the CLI (`npx lms-ha`), so it carries a shebang.
writeFileSync(join(out, 'index.js'), code.startsWith('#!') ? code : `#!/usr/bin/env node\n${code}`);
chmodSync(join(out, 'index.js'), 0o755);
for (const [name, asset] of Object.entries(assets)) {
  // ssh2's sshcrypto.node is built on install where a compiler exists; it is
  // optional (ssh2 catches the failed require). Shipping it would make dist/
  // depend on the build machine and on the Node ABI, so it is dropped.
  if (name.endsWith('.node')) continue;
  // pagent.exe is ssh2's helper for Windows' Pageant agent; we never use an agent.
  if (name.endsWith('.exe')) continue;
  const path = join(out, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, asset.source);
}
const files = readdirSync(out, { recursive: true });
console.log(`dist/: ${files.join(', ')}`);
