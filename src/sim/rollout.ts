/**
 * Running policies in the environment and the long-term metrics of EasyRL4Rec:
 * - cumulative reward: Σ rewards of an episode (mean over episodes);
 * - length: items consumed per episode (the interaction length);
 * - turn reward: cumulative reward / length (single-turn reward);
 * - diversity: mean over pairs of consumed items of 1 − Jaccard(categories of the two) — EasyRL4Rec
 *   uses 1 − cosine of embeddings; categories need no model and are what the quit rule sees;
 * - novelty: mean over consumed items of −ln p(i), p(i) = share of users with a logged event on i
 *   (floored at 1 / nUsers for items nobody logged).
 */
import { Rng } from '../util/rng.ts';
import type { ItemCategories, SimEnv } from './env.ts';
import type { Policy } from './policies.ts';

/** One finished episode. */
export interface Episode {
  user: number;
  items: number[];
  rewards: number[];
  cumulativeReward: number;
  length: number;
  quit: boolean;
}

/** Mean long-term figures over episodes. */
export interface EpisodeSummary {
  episodes: number;
  cumulative_reward: number;
  length: number;
  turn_reward: number;
  diversity: number;
  novelty: number;
  quit_rate: number;
}

/** Plays one episode of `policy` in `env` (the environment draws the user). */
export function playEpisode(env: SimEnv, policy: Policy, rng: Rng, user?: number): Episode {
  let obs = env.reset(user);
  const banned = env.config.mode === 'FreeB' ? null : env.recommendedMask();
  let quit = false;
  while (!env.finished) {
    const list = policy.act(obs, env.config.listSize, banned, rng);
    const res = env.step(list);
    obs = env.observation();
    policy.observe?.(obs, list, res.rewards, res.done);
    quit = res.quit;
  }
  const cumulativeReward = obs.rewards.reduce((a, r) => a + r, 0);
  return { user: obs.user, items: [...obs.items], rewards: [...obs.rewards], cumulativeReward, length: obs.items.length, quit };
}

/** Plays `episodes` episodes with a policy-side stream seeded by `seed`. */
export function playEpisodes(env: SimEnv, policy: Policy, episodes: number, seed: number, onEpisode?: (e: Episode, index: number) => void): Episode[] {
  const rng = new Rng(seed);
  const out: Episode[] = [];
  for (let n = 0; n < episodes; n++) {
    const e = playEpisode(env, policy, rng);
    out.push(e);
    onEpisode?.(e, n);
  }
  return out;
}

/** Mean over pairs of 1 − |A ∩ B| / |A ∪ B| of the items' category sets (0 for fewer than 2 items). */
export function categoryDiversity(items: readonly number[], cats: ItemCategories): number {
  if (items.length < 2) return 0;
  let sum = 0, pairs = 0;
  for (let a = 0; a < items.length; a++) {
    for (let b = a + 1; b < items.length; b++) {
      const i = items[a], j = items[b];
      let inter = 0;
      for (let x = cats.offsets[i]; x < cats.offsets[i + 1]; x++) {
        for (let y = cats.offsets[j]; y < cats.offsets[j + 1]; y++) if (cats.values[x] === cats.values[y]) inter++;
      }
      const union = cats.offsets[i + 1] - cats.offsets[i] + (cats.offsets[j + 1] - cats.offsets[j]) - inter;
      sum += union === 0 ? 0 : 1 - inter / union;
      pairs++;
    }
  }
  return sum / pairs;
}

/** Number of distinct users with an event on each item (the novelty's popularity). */
export function userCounts(data: { nUsers: number; nItems: number; offsets: Int32Array; items: Int32Array }): Float64Array {
  const counts = new Float64Array(data.nItems);
  const last = new Int32Array(data.nItems).fill(-1);
  for (let u = 0; u < data.nUsers; u++) {
    for (let e = data.offsets[u]; e < data.offsets[u + 1]; e++) {
      const i = data.items[e];
      if (last[i] !== u) {
        last[i] = u;
        counts[i]++;
      }
    }
  }
  return counts;
}

/** Means of the long-term figures over `episodes`. `userCount[i]` as {@link userCounts}. */
export function summarize(episodes: readonly Episode[], cats: ItemCategories, userCount: ArrayLike<number>, nUsers: number): EpisodeSummary {
  let cum = 0, len = 0, div = 0, nov = 0, novN = 0, quits = 0;
  for (const e of episodes) {
    cum += e.cumulativeReward;
    len += e.length;
    div += categoryDiversity(e.items, cats);
    for (const i of e.items) {
      nov += -Math.log(Math.max(userCount[i], 1) / nUsers);
      novN++;
    }
    if (e.quit) quits++;
  }
  const n = episodes.length;
  return {
    episodes: n,
    cumulative_reward: cum / n,
    length: len / n,
    turn_reward: len > 0 ? cum / len : 0,
    diversity: div / n,
    novelty: novN > 0 ? nov / novN : 0,
    quit_rate: quits / n,
  };
}
