/**
 * The quickstart serves the model chosen on validation, never on test: a hand-built result where
 * the two disagree.
 */
import { describe, expect, it } from 'vitest';
import type { ExperimentResult, ModelResult, SeedRun } from '../../experiment/runner.ts';
import { bestOnValidation, validationScore } from './quickstart.ts';

const run = (valid: number, test: number): SeedRun => ({ seed: 0, config: {}, valid, bestEpoch: 0, epochs: 0, curve: [], fitSeconds: 0, validSeconds: 0, test: { metrics: { 'ndcg@10': test }, seconds: 0 } });
const model = (label: string, runs: SeedRun[]): ModelResult => ({
  label, name: label, config: {}, grid: [], runs, summary: { 'ndcg@10': { mean: runs.reduce((a, r) => a + r.test!.metrics['ndcg@10'], 0) / runs.length, std: 0 } },
});

describe('quickstart selection', () => {
  it('picks the best mean validation value over seeds, not the best test value', () => {
    const result = { models: [model('pop', [run(0.1, 0.1)]), model('ease', [run(0.3, 0.2), run(0.1, 0.2)]), model('bpr', [run(0.25, 0.5)])] } as unknown as ExperimentResult;
    expect(validationScore(result.models[1])).toBeCloseTo(0.2, 12);
    // bpr leads on validation (0.25 > ease 0.2 > pop 0.1)
    expect(bestOnValidation(result).label).toBe('bpr');
    result.models[2].runs[0].valid = 0.15; // now ease (0.2) leads on validation while bpr still leads on test
    expect(bestOnValidation(result).label).toBe('ease');
  });

  it('a split without validation (NaN) never wins over a validated model', () => {
    const result = { models: [model('pop', [run(NaN, 0.9)]), model('ease', [run(0.01, 0.1)])] } as unknown as ExperimentResult;
    expect(bestOnValidation(result).label).toBe('ease');
  });
});
