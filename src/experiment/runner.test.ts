import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../data/synthetic.ts';
import type { Interactions } from '../data/types.ts';
import type { FitOptions, FitReport, Recommender } from '../models/recommender.ts';
import { registerModel } from '../models/registry.ts';
import { applyOverrides, ConfigError, gridPoints, loadExperiment, validateExperiment } from '../eval/config.ts';
import { runExperiment } from './runner.ts';

/**
 * A scripted iterative model: at epoch e its "quality" is QUALITY[e−1]; scores mix an oracle
 * (items the user interacts with after train: valid and test) with user-item noise in that
 * proportion. Validation quality therefore follows QUALITY, which peaks at epoch 3.
 */
const QUALITY = [0.1, 0.4, 0.95, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02, 0.01];
let lastModel: Scripted | null = null;
class Scripted implements Recommender {
  readonly name = 'test-scripted';
  readonly config: Record<string, unknown>;
  nItems = 0;
  quality = 0;
  future: Set<number>[] = [];
  restored: number | null = null;
  constructor(config: Record<string, unknown>) {
    this.config = { scale: 1, ...config };
  }
  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    lastModel = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the test inspects the last trained model
    this.nItems = train.nItems;
    let epochs = 0;
    for (const q of QUALITY) {
      epochs++;
      this.quality = q * Number(this.config.scale);
      if (await options.onEpoch?.({ epoch: epochs, loss: 1 - q, seconds: 0 })) break;
    }
    return { epochs, seconds: 0, history: [] };
  }
  scoreUsers(users: Int32Array, _h: Interactions, out: Float32Array): void {
    users.forEach((u, r) => {
      for (let i = 0; i < this.nItems; i++) {
        const noise = (((u * 7919 + i * 104729) % 1000) + 0.5) / 1000;
        out[r * this.nItems + i] = this.quality * (this.future[u]?.has(i) ? 1 : 0) + (1 - this.quality) * noise;
      }
    });
  }
  async save(): Promise<void> {}
  snapshot(): unknown {
    return this.quality;
  }
  restore(state: unknown): void {
    this.quality = state as number;
    this.restored = state as number;
  }
}
registerModel({ name: 'test-scripted', description: 'test', sequential: false, create: (c) => new Scripted(c), load: async () => new Scripted({}) });

const dataset = generateSynthetic({ users: 150, items: 80, interactions: 3000, seed: 3 });

describe('experiment runner', () => {
  it('early-stops with patience, restores the best epoch, picks the grid point by validation, tests against the baseline', async () => {
    const config = validateExperiment(
      {
        name: 'unit',
        data: { source: 'synthetic' },
        metrics: ['hr@5', 'ndcg@5', 'coverage@5'],
        patience: 2,
        baseline: 'pop',
        models: [{ name: 'pop' }, { name: 'test-scripted', grid: { scale: [0.5, 1] } }],
      },
      'unit.yaml',
    );
    // Give the scripted model its oracle (valid + test items per user) when it is created.
    const origCreate = Scripted.prototype.fit;
    const futures: Set<number>[] = [];
    for (let u = 0; u < dataset.nUsers; u++) {
      const s = dataset.offsets[u];
      const e = dataset.offsets[u + 1];
      futures.push(new Set(e - s >= 3 ? [dataset.items[e - 2], dataset.items[e - 1]] : []));
    }
    Scripted.prototype.fit = function (this: Scripted, train, options) {
      this.future = futures;
      return origCreate.call(this, train, options);
    };
    const { result, table } = await runExperiment(config, { dataset, dryRun: true, log: () => {}, progress: false });
    Scripted.prototype.fit = origCreate;

    const scripted = result.models[1];
    // Grid: scale 1 reaches quality 0.95, scale 0.5 only 0.475 → scale 1 wins on validation.
    expect(scripted.config.scale).toBe(1);
    expect(scripted.grid.map((g) => g.config.scale)).toEqual([0.5, 1]);
    expect(scripted.grid[1].valid).toBeGreaterThan(scripted.grid[0].valid);
    const run = scripted.runs[0];
    // Validation follows QUALITY: best at epoch 3, two worse epochs (patience 2) → stop after epoch 5.
    expect(run.bestEpoch).toBe(3);
    expect(run.epochs).toBe(5);
    expect(run.curve.map((c) => c.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(run.curve.every((c) => typeof c.valid === 'number')).toBe(true);
    expect(Math.max(...run.curve.map((c) => c.valid!))).toBe(run.curve[2].valid);
    expect(lastModel!.restored).toBeCloseTo(0.95, 12);
    expect(run.valid).toBe(run.curve[2].valid);
    // The restored model is near-oracle on test; Pop is not, and the difference is significant.
    expect(scripted.summary['hr@5'].mean).toBeGreaterThan(0.9);
    expect(result.models[0].summary['hr@5'].mean).toBeLessThan(0.9);
    expect(scripted.significance!.baseline).toBe('pop');
    expect(scripted.significance!.tTest).toBeLessThan(1e-6);
    expect(result.models[0].significance).toBeUndefined();
    // Recorded protocol and provenance.
    expect(result.protocol).toMatchObject({ candidates: 'full', ties: 'pessimistic', validMetric: 'hr@5' });
    expect(result.dataset.fingerprint).toBe(dataset.fingerprint);
    expect(result.versions.node).toBe(process.version);
    expect(table.header).toEqual(['model', 'hr@5', 'ndcg@5', 'coverage@5', 'Δhr@5 vs pop', 'p (t-test)', 'p (Wilcoxon)', 'fit s', 'eval s']);
    expect(table.rows[0][4]).toBe('(baseline)');
  });

  it('without a validation split (loo, valid: false) trains every epoch, reports the final state and refuses a grid', async () => {
    const base = { name: 'noval', data: { source: 'synthetic' }, split: { kind: 'loo', valid: false }, metrics: ['hr@5'] };
    const config = validateExperiment({ ...base, models: [{ name: 'test-scripted' }] }, 'noval.yaml');
    const { result, table } = await runExperiment(config, { dataset, dryRun: true, log: () => {}, progress: false });
    const run = result.models[0].runs[0];
    // no early stopping: all ten scripted epochs run, none is validated, nothing is restored
    expect(run.epochs).toBe(QUALITY.length);
    expect(run.bestEpoch).toBe(0);
    expect(run.curve.every((c) => c.valid === undefined)).toBe(true);
    expect(lastModel!.restored).toBeNull();
    expect(lastModel!.quality).toBeCloseTo(QUALITY.at(-1)!, 12);
    expect(table.notes?.some((n) => n.includes('final epoch is reported'))).toBe(true);
    const grid = validateExperiment({ ...base, models: [{ name: 'test-scripted', grid: { scale: [0.5, 1] } }] }, 'noval.yaml');
    await expect(runExperiment(grid, { dataset, dryRun: true, log: () => {}, progress: false })).rejects.toThrow(/grid needs a validation split/);
  });

  it('writes result.json, tables and plots into runs/<name>-<timestamp>/', async () => {
    const out = mkdtempSync(join(tmpdir(), 'reclab-runs-'));
    const config = validateExperiment({ name: 'files', data: { source: 'synthetic' }, metrics: ['hr@5'], output: out, seeds: [0, 1], models: [{ name: 'pop' }, { name: 'itemknn', config: { k: 10 } }] }, 'files.yaml');
    const { dir } = await runExperiment(config, { dataset, log: () => {}, progress: false });
    expect(readdirSync(out)).toHaveLength(1);
    expect(readdirSync(dir!).sort()).toEqual(['metrics.svg', 'result.json', 'table.csv', 'table.md']);
    const saved = JSON.parse(readFileSync(join(dir!, 'result.json'), 'utf8'));
    expect(saved.models[1].runs.map((r: { seed: number }) => r.seed)).toEqual([0, 1]);
    expect(readFileSync(join(dir!, 'table.csv'), 'utf8').split('\n')[0]).toBe('model,hr@5,Δhr@5 vs pop,p (t-test),p (Wilcoxon),fit s,eval s');
    expect(readFileSync(join(dir!, 'table.md'), 'utf8')).toMatch(/± /); // two seeds: mean ± std
  });
});

describe('experiment config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reclab-cfg-'));
  it('reports file, key and reason', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'name: x\ndata: { source: a.txt }\nmetrics: [hr@10, ndgc@10]\nmodels: [{ name: pop }]\n');
    expect(() => loadExperiment(path)).toThrow(ConfigError);
    expect(() => loadExperiment(path)).toThrow(/bad\.yaml: key "metrics\.1": unknown metric "ndgc@10"/);
    writeFileSync(path, 'name: x\ndata: { source: a.txt }\nmetrics: [hr@10]\nmodels: [{ name: pop, grid: { k: 5 } }]\n');
    expect(() => loadExperiment(path)).toThrow(/key "models\.0\.grid\.k"/);
    writeFileSync(path, 'name: x\n  bad: [\n');
    expect(() => loadExperiment(path)).toThrow(/bad\.yaml:\d+: invalid YAML/);
    writeFileSync(path, 'name: x\ndata: { source: a.txt }\nmetrics: [hr@10]\nprotocol: uni\nmodels: [{ name: pop }]\n');
    expect(() => loadExperiment(path)).toThrow(/key "protocol": unknown protocol "uni"/);
  });
  it('applies --key=value overrides before validation', () => {
    const path = join(dir, 'ok.yaml');
    writeFileSync(path, 'name: x\ndata: { source: a.txt }\nmetrics: [hr@10]\nmodels: [{ name: pop }, { name: itemknn }]\n');
    const c = loadExperiment(path, ['--seeds=[1,2]', '--models.1.grid.k=[10,20]', '--protocol=pop50']);
    expect(c.seeds).toEqual([1, 2]);
    expect(c.protocol).toBe('pop50');
    expect(gridPoints(c.models[1])).toEqual([{ k: 10 }, { k: 20 }]);
    expect(() => loadExperiment(path, ['--patience=-1'])).toThrow(/key "patience"/);
    expect(() => applyOverrides({ a: 1 }, ['--a.b=2'])).toThrow(/not a mapping/);
  });
  it('grid points are the cartesian product over the fixed config', () => {
    expect(gridPoints({ name: 'm', config: { a: 1 }, grid: { b: [1, 2], c: ['x', 'y'] } })).toEqual([
      { a: 1, b: 1, c: 'x' },
      { a: 1, b: 1, c: 'y' },
      { a: 1, b: 2, c: 'x' },
      { a: 1, b: 2, c: 'y' },
    ]);
  });
});
