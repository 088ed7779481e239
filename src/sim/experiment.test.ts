/**
 * The simulation experiment end to end on ML-100K (skipped with a message when ../shared is not
 * there): one result per policy, figures within their ranges, and the same seeds giving the same
 * figures twice.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../data/load.ts';
import { createModel } from '../models/registry.ts';
import { runSimExperiment } from './experiment.ts';

const ML100K = join(import.meta.dirname, '../../../shared/datasets/ml-100k/u.data');
const have = existsSync(ML100K);
if (!have) console.warn(`skipping the sim experiment test: ${ML100K} not found`);

describe.skipIf(!have)('runSimExperiment on ML-100K', () => {
  it('reports every policy and is reproducible', async () => {
    const data = await loadDataset({ source: ML100K, format: 'ml-100k' }, {}, { cacheDir: false });
    const greedy = createModel('pop');
    await greedy.fit(data, { seed: 0 });
    const opts = {
      env: { mode: 'NX_0' as const, maxTurns: 10 }, policies: ['random', 'popularity', 'greedy', 'epsilon-greedy'] as const,
      seeds: 2, episodes: 30, trainEpisodes: 20, curveEvery: 10, greedy, userModel: { epochs: 3 },
    };
    const a = runSimExperiment(data, { ...opts, policies: [...opts.policies] });
    const b = runSimExperiment(data, { ...opts, policies: [...opts.policies] });
    expect(a.results.map((r) => r.policy)).toEqual(['random', 'popularity', 'greedy', 'epsilon-greedy']);
    for (const r of a.results) {
      expect(r.length).toBeGreaterThanOrEqual(1);
      expect(r.length).toBeLessThanOrEqual(10);
      expect(r.turn_reward).toBeGreaterThanOrEqual(1);
      expect(r.turn_reward).toBeLessThanOrEqual(5);
      expect(r.diversity).toBeGreaterThanOrEqual(0);
      expect(r.diversity).toBeLessThanOrEqual(1);
    }
    // popularity and greedy-on-popularity rank the same items: identical episodes
    expect(a.results[1].cumulative_reward).toBe(a.results[2].cumulative_reward);
    expect(a.results[3].curve).toHaveLength(2);
    expect(a.results[3].curve![0]).toHaveLength(2);
    expect(b.results.map((r) => r.cumulative_reward)).toEqual(a.results.map((r) => r.cumulative_reward));
  }, 120_000);
});
