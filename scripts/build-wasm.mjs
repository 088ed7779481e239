/* global process, console */
// `npm run build:wasm`: compiles the kernel core's AssemblyScript sources (src/kernels/asm) into the
// two committed modules src/kernels/kernels.wasm (SIMD mul + add) and kernels-fma.wasm (relaxed-SIMD
// fused multiply-adds); src/kernels/runtime.ts picks one at start-up. The .wasm files are committed
// so a fresh clone runs without a build; `--check` rebuilds into a temporary folder and fails when a
// committed file differs from what its sources compile to (src/kernels/build.test.ts runs it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernels = join(root, 'src', 'kernels');
const asc = join(dirname(createRequire(import.meta.url).resolve('assemblyscript/package.json')), 'bin', 'asc.js');
const COMMON = ['src/kernels/asm/index.ts', '-O3', '--noAssert', '--runtime', 'stub', '--importMemory', '--sharedMemory',
  '--initialMemory', '32', '--maximumMemory', '65536', '--enable', 'simd', '--enable', 'threads', '--use', 'abort=', '--memoryBase', '1024'];
const BUILDS = [
  { file: 'kernels.wasm', flags: [] },
  { file: 'kernels-fma.wasm', flags: ['--enable', 'relaxed-simd'] },
];

const check = process.argv.includes('--check');
const outDir = check ? mkdtempSync(join(tmpdir(), 'reclab-wasm-')) : kernels;
try {
  const stale = [];
  for (const { file, flags } of BUILDS) {
    const out = join(outDir, file);
    execFileSync(process.execPath, [asc, ...COMMON, '-o', out, ...flags], { cwd: root, stdio: 'inherit' });
    if (check && !readFileSync(out).equals(readFileSync(join(kernels, file)))) stale.push(file);
  }
  if (stale.length > 0) {
    console.error(`build:wasm --check: src/kernels/${stale.join(', ')} differ from what src/kernels/asm compiles to; run "npm run build:wasm" and commit the result`);
    process.exit(1);
  }
  console.log(check ? 'build:wasm --check: the committed kernels match their sources' : `build:wasm: ${BUILDS.map((b) => b.file).join(', ')} written to src/kernels/`);
} finally {
  if (check) rmSync(outDir, { recursive: true, force: true });
}
