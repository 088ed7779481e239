/**
 * The one valid/test data rule. Every loop that trains on a split and scores it (the bench
 * runner, the tracer behind `reclab run`, the law sweep, the quickstart) takes its evaluation
 * views and its sampled candidates from here, so the rule is written once:
 *
 * - validation: history = train, train items excluded under `full`, targets = valid;
 * - test: history = train ∪ valid, train and valid items excluded under `full`, targets = test;
 * - sampled negatives (both stages) are drawn outside the user's **whole** history — train,
 *   valid and test — so a validation list never holds the user's test item as a negative (nor a
 *   test list the validation item), and `popN:all` counts popularity on every event;
 * - candidate seeds: validation draws with the stage seed `s`, test with `s + 1`; the runner and
 *   the tracer take `s` = the experiment's first seed, the law sweep a fixed 1 (the seed its
 *   published points were drawn with).
 */
import { concatInteractions } from '../data/interactions.ts';
import type { Interactions, Split } from '../data/types.ts';
import { Rng } from '../util/rng.ts';
import { usersWithTargets, type EvalData } from '../eval/evaluate.ts';
import { sampleCandidates, type CandidateLists, type Protocol } from '../eval/protocol.ts';

/** The evaluation views of one split under the rule above. */
export interface EvalViews {
  valid: EvalData;
  test: EvalData;
  /**
   * Whether the split has validation targets. A leave-one-out split with `valid: false` (the HSTU
   * repository's) has none: nothing can be selected on, and the final state is what is reported.
   */
  hasValid: boolean;
}

/** The validation and test views of `split` (train, valid and test may be any per-user subsets of one split). */
export function evalViews(split: Pick<Split, 'train' | 'valid' | 'test'>): EvalViews {
  const { train, valid, test } = split;
  const seen = [train, valid, test];
  return {
    valid: { history: train, exclude: [train], targets: valid, train, seen },
    test: { history: concatInteractions(train, valid), exclude: [train, valid], targets: test, train, seen },
    hasValid: usersWithTargets(valid).length > 0,
  };
}

/** Candidate lists of a sampled protocol for both stages (absent for `full` and for a stage without targets). */
export interface StageCandidates {
  valid?: CandidateLists;
  test?: CandidateLists;
}

/**
 * Draws the sampled candidates of both stages once, so every model, grid point and seed ranks the
 * same lists: validation with `seed`, test with `seed + 1`. `users` restricts a stage to some of
 * its users (the sweep's `maxEvalUsers` sample); a user's list does not depend on the others.
 */
export function stageCandidates(protocol: Protocol, views: EvalViews, seed: number, users: { valid?: Int32Array; test?: Int32Array } = {}): StageCandidates {
  if (protocol.kind !== 'sampled') return {};
  const draw = (data: EvalData, s: number, who: Int32Array | undefined): CandidateLists =>
    sampleCandidates({ ...protocol, seed: s }, who ?? usersWithTargets(data.targets), data.targets, data.seen!, data.train);
  return {
    ...(views.hasValid ? { valid: draw(views.valid, seed, users.valid) } : {}),
    test: draw(views.test, seed + 1, users.test),
  };
}


/**
 * Users with a target in `targets`, or a seeded sample of at most `max` of them (sorted): the
 * experiment's and the law sweep's `maxEvalUsers`, for models whose scoring is too dear to run
 * on every user (generative retrieval's beam search). Every model of a run ranks the same users.
 */
export function sampleEvalUsers(targets: Interactions, max: number | undefined, seed: number): Int32Array {
  const users = usersWithTargets(targets);
  if (max === undefined || users.length <= max) return users;
  const shuffled = new Rng(seed).shuffle(Int32Array.from(users));
  return Int32Array.from(shuffled.subarray(0, max)).sort();
}
