/**
 * `reclab sim`: argument errors name the flag; a tiny end-to-end run on ML-100K prints one JSON
 * line per policy with the long-term figures (skipped with a message without ../shared).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../testutil.ts';
import { curveChart } from './sim.ts';

const run = runCli;

const ML100K = fileURLToPath(new URL('../../../../shared/datasets/ml-100k/u.data', import.meta.url));
const have = existsSync(ML100K);
if (!have) console.warn(`skipping the reclab sim end-to-end test: ${ML100K} not found`);

describe('reclab sim', () => {
  it('names the bad flag', async () => {
    expect((await run(['sim', '--data', 'x', '--mode', 'NX_9'])).err).toMatch(/--mode: expected one of FreeB, NX_0, NX_X, got "NX_9"/);
    expect((await run(['sim', '--data', 'x', '--policies', 'random,oracle'])).err).toMatch(/--policies: unknown policy "oracle"/);
    expect((await run(['sim', '--data', 'x', '--seeds', '0'])).err).toMatch(/--seeds: expected an integer ≥ 1/);
  });

  it('draws one training curve per learning policy', () => {
    const base = { mode: 'NX_0', seeds: 2, episodes: 1, cumulative_reward: 0, cumulative_reward_std: 0, length: 0, length_std: 0, turn_reward: 0, diversity: 0, novelty: 0, quit_rate: 0, per_seed: [], seconds: 0 };
    const svg = curveChart([{ ...base, policy: 'random', train_episodes: 0 }, { ...base, policy: 'a2c', train_episodes: 20, curve: [[1, 3], [3, 5]] }], 10);
    expect(svg).toContain('data-name="a2c"');
    expect(svg).not.toContain('data-name="random"');
  });

  it.skipIf(!have)('prints one JSON line per policy on ML-100K', async () => {
    const r = await run(['sim', '--data', ML100K, '--format', 'ml-100k', '--policies', 'random,popularity,greedy', '--greedy-model', 'pop', '--seeds', '2', '--episodes', '20', '--max-turns', '5', '--json', '--no-progress']);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.policy)).toEqual(['random', 'popularity', 'greedy']);
    for (const l of lines) for (const k of ['cumulative_reward', 'length', 'turn_reward', 'diversity', 'novelty']) expect(typeof l[k]).toBe('number');
    expect(lines[0].vs_greedy).toBeDefined();
  }, 120_000);
});
