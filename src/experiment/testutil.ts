/**
 * Test helper: a tiny SASRec experiment on a synthetic log (80 users, 50 items), small enough to
 * train a few epochs in seconds, for the tracer's and `reclab run`'s resume tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes the experiment YAML into `output` (which it also names as the run's output) and returns its path. */
export function tinyExperiment(output: string, stepsPerEpoch: number): string {
  mkdirSync(output, { recursive: true });
  const path = join(output, 'exp.yaml');
  writeFileSync(
    path,
    [
      'name: tiny',
      'data:',
      '  source: synthetic:users=80,items=50,interactions=1200,seed=7',
      'split:',
      '  kind: loo',
      'protocol: pop100',
      'metrics: [hr@10, ndcg@10]',
      'validMetric: ndcg@10',
      'evalEvery: 1',
      'seeds: [3]',
      `output: ${output}`,
      'models:',
      '  - name: sasrec',
      `    config: { hidden: 8, blocks: 1, heads: 1, maxLen: 10, dropout: 0.2, batchSize: 16, stepsPerEpoch: ${stepsPerEpoch}, threads: 1, epochs: 4 }`,
      '',
    ].join('\n'),
  );
  return path;
}
