import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCtrExperiment, runCtrExperiment } from './ctr.ts';

const DIR = new URL('../../../shared/datasets/ml-100k', import.meta.url).pathname;
const have = existsSync(`${DIR}/u.data`);
if (!have) console.warn(`experiment/ctr.test: ${DIR} absent; the ML-100K CTR run test is skipped`);
const tmp = mkdtempSync(join(tmpdir(), 'reclab-ctr-exp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('CTR experiment files', () => {
  it('a wrong key is named with the file', () => {
    const f = join(tmp, 'bad.yaml');
    writeFileSync(f, 'task: ctr\nname: x\ndata: { source: d }\nmodels: [{ name: lr }]\npatience: 0\n');
    expect(() => loadCtrExperiment(f)).toThrow(/bad\.yaml: key "patience"/);
  });

  it.skipIf(!have)('runs LR and FM for two seeds: result.json shape as the ranking runner (models[].label, summary[metric].mean)', async () => {
    const f = join(tmp, 'ok.yaml');
    writeFileSync(f, `task: ctr\nname: t\ndata: { source: ${DIR} }\nseeds: [0, 1]\nmodels:\n  - { name: lr, label: LR, config: { epochs: 1, lr: 0.01 } }\n  - { name: fm, config: { epochs: 1 } }\n`);
    const config = loadCtrExperiment(f);
    const { result } = await runCtrExperiment(config, { dryRun: true, log: () => {} });
    expect(result.models.map((m) => m.label)).toEqual(['LR', 'fm']);
    for (const m of result.models) {
      for (const k of ['auc', 'gauc', 'logloss', 'cold_auc', 'rest_auc']) expect(Number.isFinite(m.summary[k].mean)).toBe(true);
      expect(m.runs.length).toBe(2);
      expect(m.summary.auc.mean).toBeGreaterThan(0.6);
    }
    expect(result.comparisons).toHaveLength(1);
    expect(result.comparisons[0]).toMatchObject({ a: 'fm', b: 'LR', kind: 'baseline' });
    expect(result.dataset.split).toEqual({ train: 80003, valid: 9997, test: 10000 });
  });
});
