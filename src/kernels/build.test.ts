/**
 * The committed kernel modules are exactly what their AssemblyScript sources compile to: nobody can
 * edit src/kernels/asm without rebuilding, or commit a .wasm that no source produces.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('kernel build', () => {
  it('src/kernels/*.wasm match a fresh build of src/kernels/asm', () => {
    const root = join(import.meta.dirname, '..', '..');
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), '--check'], { cwd: root, encoding: 'utf8' });
    expect(r.stderr + r.stdout).toContain('the committed kernels match their sources');
    expect(r.status).toBe(0);
  }, 180_000);
});
