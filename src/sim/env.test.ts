/**
 * The environment: quit-rule goldens worked out by hand (EasyRL4Rec's rule with W = 3,
 * threshold 1), the three modes, list-wise steps, seeded reproducibility.
 */
import { describe, expect, it } from 'vitest';
import { SimEnv, categoriesFromLists, wouldQuit } from './env.ts';
import { RandomPolicy } from './policies.ts';
import { playEpisodes } from './rollout.ts';
import type { RewardMatrix } from './user-model.ts';

// items 0:[a] 1:[a] 2:[b] 3:[a] 4:[c] 5:[d] 6:[a,e]
const cats = categoriesFromLists([['a'], ['a'], ['b'], ['a'], ['c'], ['d'], ['a', 'e']]);
/** Two users; reward of (u, i) = 10·u + i + 1, so every reward names its cell. */
const rewards: RewardMatrix = { nUsers: 2, nItems: 7, values: Float32Array.from({ length: 14 }, (_, c) => 10 * Math.floor(c / 7) + (c % 7) + 1) };

describe('quit rule (W = 3, threshold 1)', () => {
  it('[a],[a],[b] then [a] → quit; [a],[a] then [b] → stay', () => {
    expect(wouldQuit(cats, [0, 1, 2], 3, 3, 1)).toBe(true); // a occurs twice in the window: 2 > 1
    expect(wouldQuit(cats, [0, 1], 2, 3, 1)).toBe(false); // b occurs 0 times
    expect(wouldQuit(cats, [0, 2, 4], 3, 3, 1)).toBe(false); // a once: 1 is not > 1
    expect(wouldQuit(cats, [0, 1, 2, 4, 5], 3, 3, 1)).toBe(false); // window is the last 3: b, c, d
    expect(wouldQuit(cats, [1, 3, 4], 6, 3, 1)).toBe(true); // any category of a multi-category item counts
    expect(wouldQuit(cats, [0, 1, 2], 3, 3, 2)).toBe(false); // threshold 2: a twice is allowed
  });

  it("early window (t < W): 'last' reads all t items; 'python-slice' reads EasyRL4Rec's sequence_action[t - W : t]", () => {
    // Python: [a0, a1][2 - 3 : 2] = [a0, a1][-1 : 2] = [a1]; [a0][1 - 3 : 1] = [a0][-2 : 1] = [a0]
    expect(wouldQuit(cats, [0, 1], 3, 3, 1)).toBe(true); // last: a, a in the window → a twice
    expect(wouldQuit(cats, [0, 1], 3, 3, 1, 'python-slice')).toBe(false); // only item 1: a once
    expect(wouldQuit(cats, [0], 1, 3, 0, 'python-slice')).toBe(true); // t = 1: [a0], a once > 0
    // W = 5, t = 3: [x0, x1, x2][-2 : 3] = [x1, x2]; t = 4: [x0..x3][-1 : 4] = [x3]
    expect(wouldQuit(cats, [0, 2, 4], 3, 5, 0, 'python-slice')).toBe(false); // window [b, c]: no a
    expect(wouldQuit(cats, [0, 2, 4], 3, 5, 0)).toBe(true); // last: [a, b, c]
    expect(wouldQuit(cats, [0, 1, 2, 4], 5, 5, 0, 'python-slice')).toBe(false); // window [c]: no d
    expect(wouldQuit(cats, [3, 1, 2, 5], 5, 5, 0, 'python-slice')).toBe(true); // window [d]
    // from t = W on the two agree
    expect(wouldQuit(cats, [0, 1, 2], 3, 3, 1, 'python-slice')).toBe(true);
    // a, a, a, then a: 'last' quits on the third item (window [a, a]); 'python-slice' only on the fourth
    const quits = (earlyWindow: 'last' | 'python-slice'): boolean[] => {
      const env = new SimEnv(rewards, cats, { mode: 'NX_0', window: 3, threshold: 1, maxTurns: 6, earlyWindow });
      env.reset(0);
      const out: boolean[] = [];
      for (const i of [0, 1, 3, 6]) {
        out.push(env.step([i]).quit);
        if (env.finished) break;
      }
      return out;
    };
    expect(quits('last')).toEqual([false, false, true]);
    expect(quits('python-slice')).toEqual([false, false, false, true]);
  });

  it('the environment ends the episode on the item that triggers it, and counts its reward', () => {
    const env = new SimEnv(rewards, cats, { mode: 'NX_0', window: 3, threshold: 1, maxTurns: 6 });
    env.reset(1);
    for (const i of [0, 1, 2]) expect(env.step([i]).done).toBe(false);
    const last = env.step([3]);
    expect(last).toMatchObject({ done: true, quit: true, reward: 14 });
    expect(env.observation().rewards).toEqual([11, 12, 13, 14]);
    expect(() => env.step([4])).toThrow(/episode is over/);
  });

  it('NX_X ignores the quit rule and runs exactly maxTurns turns', () => {
    const env = new SimEnv(rewards, cats, { mode: 'NX_X', window: 3, threshold: 1, maxTurns: 5 });
    env.reset(0);
    const dones = [0, 1, 2, 3, 4].map((i) => env.step([i]).done);
    expect(dones).toEqual([false, false, false, false, true]);
    expect(env.observation().rewards.reduce((a, b) => a + b, 0)).toBe(1 + 2 + 3 + 4 + 5);
  });
});

describe('modes and actions', () => {
  it('NX modes refuse a repeated item; FreeB allows it', () => {
    const nx = new SimEnv(rewards, cats, { mode: 'NX_0', maxTurns: 5 });
    nx.reset(0);
    nx.step([4]);
    expect(() => nx.step([4])).toThrow(/already recommended to user 0.*NX_0 forbids repeats/);
    const free = new SimEnv(rewards, cats, { mode: 'FreeB', window: 3, threshold: 5, maxTurns: 5 });
    free.reset(0);
    free.step([4]);
    expect(free.step([4]).reward).toBe(5);
  });

  it('list-wise: each item gets its reward; items after a quit get none', () => {
    const env = new SimEnv(rewards, cats, { mode: 'NX_0', listSize: 2, maxTurns: 3 });
    env.reset(0);
    const r1 = env.step([0, 1]);
    expect(Array.from(r1.rewards)).toEqual([1, 2]);
    const r2 = env.step([3, 4]); // window [a, a]: item 3 (a) triggers the quit, item 4 is never seen
    expect(r2.quit).toBe(true);
    expect(r2.rewards[0]).toBe(4);
    expect(r2.rewards[1]).toBeNaN();
    expect(env.observation().items).toEqual([0, 1, 3]);
    expect(() => new SimEnv(rewards, cats, { listSize: 2, maxTurns: 3 }).reset(0)).not.toThrow();
    const bad = new SimEnv(rewards, cats, { listSize: 2, maxTurns: 3 });
    bad.reset(0);
    expect(() => bad.step([1])).toThrow(/expected a list of 2 items/);
    expect(() => bad.step([1, 9])).toThrow(/item 9 at list position 1 out of range/);
    expect(() => bad.step([1, 1])).toThrow(/appears twice/);
  });

  it('a random policy in NX_0 and NX_X never repeats an item within an episode', () => {
    for (const mode of ['NX_0', 'NX_X'] as const) {
      const env = new SimEnv(rewards, cats, { mode, maxTurns: 6 }, 3);
      const eps = playEpisodes(env, new RandomPolicy(7), 200, 4);
      for (const e of eps) expect(new Set(e.items).size).toBe(e.items.length);
      if (mode === 'NX_X') expect(eps.every((e) => e.length === 6)).toBe(true);
    }
  });

  it('fixed seeds give identical episodes and cumulative reward; another seed differs', () => {
    const run = (envSeed: number, policySeed: number): number[] =>
      playEpisodes(new SimEnv(rewards, cats, { mode: 'FreeB', maxTurns: 8 }, envSeed), new RandomPolicy(7), 50, policySeed).map((e) => e.cumulativeReward);
    expect(run(1, 2)).toEqual(run(1, 2));
    expect(run(1, 2)).not.toEqual(run(5, 2));
  });

  it('rejects bad configuration with the field named', () => {
    expect(() => new SimEnv(rewards, cats, { window: 0, maxTurns: 3 })).toThrow(/window: expected an integer ≥ 1/);
    expect(() => new SimEnv(rewards, cats, { mode: 'X' as never })).toThrow(/sim mode "X"/);
    expect(() => new SimEnv(rewards, cats, { mode: 'NX_X', maxTurns: 8 })).toThrow(/exceed the 7 items/);
    expect(() => new SimEnv(rewards, cats, { maxTurns: 3 }).reset(2)).toThrow(/user 2 out of range/);
  });
});
