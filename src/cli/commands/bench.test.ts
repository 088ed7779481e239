import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../testutil.ts';

const run = runCli;

describe('reclab bench / reclab eval', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reclab-cli-bench-'));
  const config = join(dir, 'exp.yaml');
  writeFileSync(
    config,
    [
      'name: cli',
      'data: { source: "synthetic:users=120,items=60,interactions=2400,seed=5" }',
      'metrics: [hr@10, ndcg@10, coverage@10]',
      'baseline: pop',
      `output: ${JSON.stringify(join(dir, 'runs'))}`,
      'models: [{ name: pop }, { name: itemknn, config: { k: 20 } }]',
      '',
    ].join('\n'),
  );

  it('bench prints the table with metrics and p-value columns and saves the run', async () => {
    const r = await run(['bench', config, '--saveModels=true', '--no-progress']);
    expect(r.code, r.err).toBe(0);
    const header = r.out.split('\n').find((l) => l.startsWith('model'))!;
    for (const col of ['hr@10', 'ndcg@10', 'coverage@10', 'p (t-test)', 'p (Wilcoxon)']) expect(header).toContain(col);
    expect(r.out).toMatch(/^pop\s/m);
    expect(r.out).toMatch(/^itemknn\s/m);
    expect(r.out).toContain('protocol: full ranking');
    const runs = readdirSync(join(dir, 'runs'));
    expect(runs).toHaveLength(1);
    // The saved model evaluates to the same test hr@10 through `reclab eval`.
    const hr = r.out.split('\n').find((l) => l.startsWith('itemknn'))!.trim().split(/\s+/)[1];
    const e = await run(['eval', '--data', 'synthetic:users=120,items=60,interactions=2400,seed=5', '--model', join(dir, 'runs', runs[0], 'models', 'itemknn'), '--metrics', 'hr@10', '--no-progress']);
    expect(e.code, e.err).toBe(0);
    expect(e.out).toMatch(new RegExp(`^hr@10\\s+${hr.replace('.', '\\.')}\\s`, 'm'));
  });

  it('bad configs fail with file, key and reason', async () => {
    const r = await run(['bench', config, '--metrics=[hr@0]']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/exp\.yaml: key "metrics\.0": metric "hr@0": cutoff must be ≥ 1/);
  });
});
