/**
 * The deep policies: the actor's logit gradient against finite differences of its loss, the
 * state windows by hand, and both DQN and A2C learning the best items of a hand-built user model
 * (3 items pay 5, 3 pay 1, three turns without repeats: the best episode is worth 15).
 */
import { describe, expect, it } from 'vitest';
import { maxRelError, numericGrad } from '../../nn/gradcheck.ts';
import type { Interactions } from '../../data/types.ts';
import { SimEnv, categoriesFromLists } from '../env.ts';
import { playEpisodes, summarize } from '../rollout.ts';
import type { RewardMatrix } from '../user-model.ts';
import { A2cPolicy, actorGradient, maskedSoftmax } from './a2c.ts';
import { DqnPolicy } from './dqn.ts';
import { StateBuilder, packStates } from './state.ts';

describe('actor gradient', () => {
  it('matches finite differences of −A·log π(a) − β·H(π) over the allowed logits', () => {
    const z = Float64Array.from([0.3, -1.2, 2.0, 0.7, -0.4]);
    const banned = [1];
    const A = 1.7, beta = 0.05, a = 3;
    const loss = (x: Float64Array): number => {
      const p = maskedSoftmax(x, banned);
      let H = 0;
      for (const v of p) if (v > 0) H -= v * Math.log(v);
      return -A * Math.log(p[a]) - beta * H;
    };
    const dz = new Float32Array(5);
    actorGradient(maskedSoftmax(z, banned), a, A, beta, dz, 1);
    const num = numericGrad(loss, z.slice());
    expect(num[1]).toBeCloseTo(0, 9);
    expect(maxRelError(dz, num, 1e-6)).toBeLessThan(1e-5);
  });
});

describe('state windows', () => {
  it('logged tail then episode items, 1-based, left-padded; packed time-major', () => {
    const logged: Interactions = { nUsers: 2, nItems: 9, offsets: Int32Array.from([0, 3, 4]), items: Int32Array.from([4, 5, 6, 7]), times: new Float64Array(4), values: Float32Array.from([1, 2.4, 4.6, 3]) };
    const sb = new StateBuilder(4, logged);
    const s0 = sb.build({ user: 0, turn: 1, items: [8], rewards: [3.2] });
    expect(Array.from(s0.ids)).toEqual([5, 6, 7, 9]);
    expect(Array.from(s0.buckets)).toEqual([1, 2, 5, 3]);
    const s1 = sb.build({ user: 1, turn: 0, items: [], rewards: [] });
    expect(Array.from(s1.ids)).toEqual([0, 0, 0, 8]);
    expect(Array.from(packStates([s0, s1], 4).ids)).toEqual([5, 0, 6, 0, 7, 0, 9, 8]);
  });
});

describe('learning against a user model', () => {
  const cats = categoriesFromLists([['a'], ['b'], ['c'], ['d'], ['e'], ['f']]);
  const rewards: RewardMatrix = { nUsers: 4, nItems: 6, values: Float32Array.from({ length: 24 }, (_, c) => (c % 6 < 3 ? 5 : 1)) };
  const logged: Interactions = { nUsers: 4, nItems: 6, offsets: Int32Array.from([0, 1, 2, 3, 4]), items: Int32Array.from([0, 3, 1, 4]), times: new Float64Array(4), values: Float32Array.from([5, 1, 5, 1]) };
  const env = (seed: number): SimEnv => new SimEnv(rewards, cats, { mode: 'NX_X', maxTurns: 3 }, seed);
  const states = new StateBuilder(3, logged);

  it('DQN reaches the best cumulative reward (15)', () => {
    const dqn = new DqnPolicy(6, states, { dims: 8, hidden: 16, batch: 16, warmup: 50, explorationSteps: 600, targetEvery: 20, lr: 5e-3, updateEvery: 1, seed: 1 });
    playEpisodes(env(1), dqn, 300, 2);
    expect(dqn.updates).toBeGreaterThan(500);
    dqn.training = false;
    const s = summarize(playEpisodes(env(3), dqn, 20, 4), cats, [1, 1, 1, 1, 1, 1], 4);
    expect(s.cumulative_reward).toBe(15);
  });

  it('A2C reaches the best cumulative reward (15)', () => {
    const a2c = new A2cPolicy(6, states, { dims: 8, hidden: 16, lr: 1e-2, episodesPerUpdate: 4, seed: 1 });
    playEpisodes(env(1), a2c, 400, 2);
    a2c.training = false;
    const s = summarize(playEpisodes(env(3), a2c, 20, 4), cats, [1, 1, 1, 1, 1, 1], 4);
    expect(s.cumulative_reward).toBe(15);
  });

  it('in FreeB nothing is banned: DQN learns to repeat the one rewarding item (15, not 5 + 1 + 1)', () => {
    const one: RewardMatrix = { nUsers: 4, nItems: 6, values: Float32Array.from({ length: 24 }, (_, c) => (c % 6 === 0 ? 5 : 1)) };
    const free = (seed: number): SimEnv => new SimEnv(one, cats, { mode: 'FreeB', window: 3, threshold: 5, maxTurns: 3 }, seed);
    const dqn = new DqnPolicy(6, states, { dims: 8, hidden: 16, batch: 16, warmup: 50, explorationSteps: 600, targetEvery: 20, lr: 5e-3, updateEvery: 1, seed: 2 });
    playEpisodes(free(1), dqn, 300, 2);
    dqn.training = false;
    expect(summarize(playEpisodes(free(3), dqn, 20, 4), cats, [1, 1, 1, 1, 1, 1], 4).cumulative_reward).toBe(15);
  });
});
