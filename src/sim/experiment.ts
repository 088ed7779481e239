/**
 * The simulation experiment behind `reclab sim`: fit the user model on the logged ratings, build
 * each policy, train the learning ones against the user model, evaluate every policy on the same
 * users for each seed, and summarise (means over seeds, paired t-tests against greedy).
 *
 * Per seed s: the evaluation environment is seeded with s, so every policy meets the same users in
 * the same order (paired comparison); the training environment is seeded with 1000 + s; policies
 * draw their own random numbers from a stream seeded with s. The user model and the greedy model
 * are fitted once (the environment is the same world for every seed).
 */
import type { Dataset } from '../data/types.ts';
import { pairedTTest } from '../eval/significance.ts';
import type { Recommender } from '../models/recommender.ts';
import { progress } from '../util/progress.ts';
import { Rng } from '../util/rng.ts';
import { SimEnv, categoriesFromSide, type EnvConfig, type ItemCategories } from './env.ts';
import { EpsilonGreedyPolicy, GreedyPolicy, LinUcbFeatures, LinUcbPolicy, PopularityPolicy, RandomPolicy, type Policy } from './policies.ts';
import { A2cPolicy, type A2cConfig } from './rl/a2c.ts';
import { DqnPolicy, type DqnConfig } from './rl/dqn.ts';
import { StateBuilder } from './rl/state.ts';
import { playEpisode, summarize, userCounts, type Episode, type EpisodeSummary } from './rollout.ts';
import { fitRatingModel, type RatingModel, type RatingModelOptions } from './user-model.ts';

export const POLICY_NAMES = ['random', 'popularity', 'greedy', 'epsilon-greedy', 'linucb', 'dqn', 'a2c'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];
/** Policies that learn from the environment (trained before evaluation; bandits keep learning). */
const LEARNING = new Set<PolicyName>(['epsilon-greedy', 'linucb', 'dqn', 'a2c']);

/** Settings of {@link runSimExperiment}. */
export interface SimExperimentOptions {
  env: Partial<EnvConfig>;
  policies: PolicyName[];
  /** Seeds 0 … seeds − 1. */
  seeds: number;
  /** Evaluation episodes per seed and policy. */
  episodes: number;
  /** Training episodes per seed for the learning policies. */
  trainEpisodes: number;
  /** Training episodes per point of the reward-over-training curve. */
  curveEvery: number;
  /** The fitted model behind `greedy` (any reclab Recommender fitted on the same data). */
  greedy?: Recommender;
  userModel?: RatingModelOptions;
  dqn?: Partial<DqnConfig>;
  a2c?: Partial<A2cConfig>;
  /** State window of the deep policies (default 10). */
  stateWindow?: number;
  epsilon?: number;
  linucbAlpha?: number;
  progress?: boolean;
  /** Called with each policy's result as soon as it is complete (before the comparison with greedy). */
  onResult?: (r: PolicyResult) => void;
}

/** One policy's figures. */
export interface PolicyResult extends Omit<EpisodeSummary, 'episodes'> {
  policy: PolicyName;
  mode: string;
  seeds: number;
  episodes: number;
  train_episodes: number;
  cumulative_reward_std: number;
  length_std: number;
  per_seed: EpisodeSummary[];
  /** Paired t-test over seeds of cumulative reward against greedy (absent for greedy or without it). */
  vs_greedy?: { mean_diff: number; p: number };
  /** Mean cumulative reward of training episodes per block of `curveEvery`, one list per seed. */
  curve?: number[][];
  seconds: number;
}

/** What the experiment returns. */
export interface SimExperimentResult {
  userModel: Omit<RatingModel, 'rewards'>;
  env: EnvConfig;
  results: PolicyResult[];
}

const meanOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const stdOf = (xs: number[]): number => {
  if (xs.length < 2) return 0;
  const m = meanOf(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
};

/** Event counts per item (popularity of the logged data). */
function eventCounts(data: Dataset): Float64Array {
  const c = new Float64Array(data.nItems);
  for (const i of data.items) c[i]++;
  return c;
}

/** Scores of every user by a fitted model, row-major nUsers × nItems (history = the whole log). */
export function scoreAllUsers(model: Recommender, data: Dataset): Float32Array {
  const out = new Float32Array(data.nUsers * data.nItems);
  const chunk = 256;
  for (let u0 = 0; u0 < data.nUsers; u0 += chunk) {
    const users = Int32Array.from({ length: Math.min(chunk, data.nUsers - u0) }, (_, j) => u0 + j);
    model.scoreUsers(users, data, out.subarray(u0 * data.nItems, (u0 + users.length) * data.nItems));
  }
  return out;
}

/** Runs the experiment on a dataset with ratings and item categories (`genres`). */
export function runSimExperiment(data: Dataset, options: SimExperimentOptions): SimExperimentResult {
  const cats: ItemCategories = categoriesFromSide(data.itemSide, data.nItems);
  const user = fitRatingModel(data, { seed: 0, ...options.userModel });
  const counts = eventCounts(data);
  const ucounts = userCounts(data);
  const greedyScores = options.policies.includes('greedy') ? (options.greedy ? scoreAllUsers(options.greedy, data) : null) : null;
  if (options.policies.includes('greedy') && !greedyScores) throw new Error('policy greedy needs a fitted model (options.greedy)');
  const stateWindow = options.stateWindow ?? 10;
  const states = new StateBuilder(stateWindow, data);
  const linFeatures = options.policies.includes('linucb') ? new LinUcbFeatures(cats, counts, data) : null;
  const make = (name: PolicyName, seed: number): Policy => {
    switch (name) {
      case 'random': return new RandomPolicy(data.nItems);
      case 'popularity': return new PopularityPolicy(counts);
      case 'greedy': return new GreedyPolicy('greedy', greedyScores!, data.nItems);
      // optimistic prior (the top of the rating scale): untried items are worth a try
      case 'epsilon-greedy': return new EpsilonGreedyPolicy(data.nItems, options.epsilon ?? 0.1, user.clip[1]);
      case 'linucb': return new LinUcbPolicy(linFeatures!, options.linucbAlpha ?? 1);
      case 'dqn': return new DqnPolicy(data.nItems, states, { ...options.dqn, seed });
      case 'a2c': return new A2cPolicy(data.nItems, states, { ...options.a2c, seed });
    }
  };
  const envConfig = new SimEnv(user.rewards, cats, options.env).config;
  const results: PolicyResult[] = [];
  for (const name of options.policies) {
    const t0 = performance.now();
    const learning = LEARNING.has(name);
    const perSeed: EpisodeSummary[] = [];
    const curves: number[][] = [];
    const total = options.seeds * ((learning ? options.trainEpisodes : 0) + options.episodes);
    const bar = progress(`sim ${name}`, total, { enabled: options.progress, unit: 'episodes' });
    for (let s = 0; s < options.seeds; s++) {
      const policy = make(name, s);
      const rng = new Rng(s);
      if (learning) {
        const trainEnv = new SimEnv(user.rewards, cats, options.env, 1000 + s);
        const curve: number[] = [];
        let block = 0;
        for (let e = 0; e < options.trainEpisodes; e++) {
          block += playEpisode(trainEnv, policy, rng).cumulativeReward;
          if ((e + 1) % options.curveEvery === 0) {
            curve.push(block / options.curveEvery);
            block = 0;
          }
          bar.tick(1, `seed ${s} train`);
        }
        curves.push(curve);
        if (policy instanceof DqnPolicy || policy instanceof A2cPolicy) policy.training = false;
      }
      const env = new SimEnv(user.rewards, cats, options.env, s);
      const episodes: Episode[] = [];
      for (let e = 0; e < options.episodes; e++) {
        episodes.push(playEpisode(env, policy, rng));
        bar.tick(1, `seed ${s} eval`);
      }
      perSeed.push(summarize(episodes, cats, ucounts, data.nUsers));
    }
    bar.stop();
    const pick = (k: keyof EpisodeSummary): number[] => perSeed.map((p) => p[k]);
    const result: PolicyResult = {
      policy: name,
      mode: envConfig.mode,
      seeds: options.seeds,
      episodes: options.episodes,
      train_episodes: learning ? options.trainEpisodes : 0,
      cumulative_reward: meanOf(pick('cumulative_reward')),
      cumulative_reward_std: stdOf(pick('cumulative_reward')),
      length: meanOf(pick('length')),
      length_std: stdOf(pick('length')),
      turn_reward: meanOf(pick('turn_reward')),
      diversity: meanOf(pick('diversity')),
      novelty: meanOf(pick('novelty')),
      quit_rate: meanOf(pick('quit_rate')),
      per_seed: perSeed,
      ...(learning ? { curve: curves } : {}),
      seconds: (performance.now() - t0) / 1000,
    };
    results.push(result);
    options.onResult?.(result);
  }
  const greedy = results.find((r) => r.policy === 'greedy');
  for (const r of results) {
    if (!greedy || r === greedy) continue;
    const t = pairedTTest(r.per_seed.map((p) => p.cumulative_reward), greedy.per_seed.map((p) => p.cumulative_reward));
    r.vs_greedy = { mean_diff: t.meanDiff, p: t.p };
  }
  const { rewards: _rewards, ...fit } = user;
  return { userModel: fit, env: envConfig, results };
}
