import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/reclab.js', import.meta.url));

function reclab(args: string[]): string {
  return execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

describe('reclab law llm', () => {
  it('prints the published MMLU for Llama 3 8B as JSON', () => {
    const out = JSON.parse(reclab(['law', 'llm', '--layers', '32', '--hidden', '4096', '--ffn', '14336', '--tokens', '15', '--params', '8.03', '--json']));
    expect(out.mmlu).toBe(65.45);
    expect(out.inputs.gamma).toBe(1);
  });

  it('accepts --gamma and rejects a non-number with the flag name', () => {
    const out = JSON.parse(reclab(['law', 'llm', '--layers', '32', '--hidden', '4096', '--ffn', '11008', '--tokens', '2', '--params', '6.7', '--gamma', '1', '--json']));
    expect(out.mmlu).toBe(58.03);
    expect(() => execFileSync(process.execPath, [BIN, 'law', 'llm', '--layers', 'x', '--hidden', '1', '--ffn', '1', '--tokens', '1', '--params', '1'], { encoding: 'utf8', stdio: 'pipe' })).toThrow(/--layers/);
  });
});

describe('reclab law fit / predict', () => {
  it('fits a CSV, writes the report and plots, and predicts from fit.json', async () => {
    const { mkdtempSync, writeFileSync, existsSync, readFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { lawValue } = await import('../../laws/law.ts');
    const dir = mkdtempSync(join(tmpdir(), 'reclab-law-cli-'));
    try {
      // Exact law data: the refit must reproduce it and predict an untrained size exactly.
      const truth = { w1: 1, w2: 4, w3: -0.35, w4: -0.18, w5: -0.1, D: 1, b: 2.5 };
      const rows = ['layers,hidden,ndcg@10'];
      for (const N of [2, 4, 8, 16]) for (const h of [16, 32, 64, 128]) rows.push(`${N},${h},${lawValue(truth, N, h)}`);
      writeFileSync(join(dir, 'r.csv'), `${rows.join('\n')}\n`);
      const out = join(dir, 'out');
      const md = reclab(['law', 'fit', join(dir, 'r.csv'), '--out', out]);
      expect(md).toMatch(/R² = 1\b/);
      for (const f of ['fit.json', 'fit.md', 'curves.svg']) expect(existsSync(join(out, f))).toBe(true);
      expect(readFileSync(join(out, 'curves.svg'), 'utf8')).toMatch(/^<svg/);
      const lines = reclab(['law', 'predict', join(out, 'fit.json'), '--layers', '6', '--hidden', '48', '--json']).trim().split('\n');
      const p = JSON.parse(lines[0]);
      expect(p.layers).toBe(6);
      expect(p['ndcg@10']).toBeCloseTo(lawValue(truth, 6, 48), 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reclab law fit (joint)', () => {
  it('fits two result files jointly: shared shape, the second dataset gets its own D', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { lawValue } = await import('../../laws/law.ts');
    const dir = mkdtempSync(join(tmpdir(), 'reclab-law-joint-'));
    try {
      const truth = { w1: 1, w2: 4, w3: -0.35, w4: -0.18, w5: -0.1, D: 1, b: 2.5 };
      for (const [name, D] of [['a', 1], ['b', 3]] as const) {
        const rows = ['layers,hidden,ndcg@10,dataset'];
        for (const N of [2, 4, 8, 16]) for (const h of [16, 32, 64, 128]) rows.push(`${N},${h},${lawValue({ ...truth, D }, N, h)},${name}`);
        writeFileSync(join(dir, `${name}.csv`), `${rows.join('\n')}\n`);
      }
      const report = JSON.parse(reclab(['law', 'fit', join(dir, 'a.csv'), join(dir, 'b.csv'), '--json']));
      expect(report.fit.free).toEqual(['w1', 'w2', 'w3', 'w4', 'b', 'D:b']);
      expect(report.fit.groupD.a).toBe(1);
      expect(report.fit.groupD.b).toBeCloseTo(3, 4);
      expect(report.fit.params.w3).toBeCloseTo(-0.35, 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
