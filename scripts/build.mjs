/* global process, console */
// `npm run build` (and `prepare`, so installs from git and `npm pack` get it): compiles src/ into
// dist/ with tsc, then copies the runtime assets tsc does not emit — the engine's WebAssembly
// kernels, which src/kernels/runtime.ts finds beside itself through `new URL('./kernels.wasm', import.meta.url)`,
// so dist/kernels/ must hold them too. dist/ is removed first: a stale module from a deleted source
// file would otherwise ship.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
/** File endings copied verbatim from src/ to dist/. */
const ASSETS = ['.wasm'];
/** The dashboard's browser files (src/serve/ui/assets.ts reads them beside itself), copied whole. */
const UI_ASSETS = /^serve[\\/]ui[\\/]assets[\\/][^\\/]+\.(js|css)$/;

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

let copied = 0;
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (ASSETS.some((ext) => entry.name.endsWith(ext)) || UI_ASSETS.test(relative(src, path))) {
      const to = join(dist, relative(src, path));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(path, to);
      copied++;
    }
  }
};
walk(src);
if (copied === 0) throw new Error('build: no .wasm kernels under src/ to copy (run "npm run build:wasm")');
console.log(`build: dist/ compiled, ${copied} asset(s) copied`);
