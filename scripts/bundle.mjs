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
  // ssh2's two optional native addons: cpu-features, and sshcrypto.node, which
  // its install script compiles only where a compiler exists and install scripts
  // run (npm 11 skips them by default). ssh2 falls back to pure JS when their
  // require fails. Left external by their request, the bundle is the same
  // whether or not they were built: bundled, a built addon became an asset
  // reference and a missing one ncc's "not found" stub (plus ncc's license).
  externals: ['cpu-features', './crypto/build/Release/sshcrypto.node'],
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
  // No native addon is shipped (see externals above): it would tie dist/ to
  // the build machine and the Node ABI.
  if (name.endsWith('.node')) continue;
  // pagent.exe is ssh2's helper for Windows' Pageant agent; we never use an agent.
  if (name.endsWith('.exe')) continue;
  const path = join(out, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, asset.source);
}
const files = readdirSync(out, { recursive: true });
console.log(`dist/: ${files.join(', ')}`);
