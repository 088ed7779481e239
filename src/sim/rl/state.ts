/**
 * The state the deep policies read: the last L items the user consumed with their rewards — the
 * user's logged events first (so the first turn is already personal), then the items consumed in
 * this episode — as 1-based item ids and reward buckets, left-padded with 0.
 */
import type { Interactions } from '../../data/types.ts';
import type { Observation } from '../env.ts';

/** Rewards 1…5 map to buckets 1…5 (rounded, clamped); bucket 0 is padding. */
export const REWARD_BUCKETS = 6;

/** The reward bucket of a reward (rounded and clamped to 1…REWARD_BUCKETS − 1). */
export function rewardBucket(r: number): number {
  return Math.min(REWARD_BUCKETS - 1, Math.max(1, Math.round(r)));
}

/** One state: L item ids and L buckets, oldest first. */
export interface StateWindow {
  ids: Int32Array;
  buckets: Int32Array;
}

/** Builds state windows from logged histories (values = ratings) and episode observations. */
export class StateBuilder {
  constructor(readonly window: number, private readonly logged: Interactions) {}

  /** The state after `obs` (copied: later steps do not change it). */
  build(obs: Observation): StateWindow {
    const L = this.window;
    const ids = new Int32Array(L), buckets = new Int32Array(L);
    let t = L - 1;
    for (let k = obs.items.length - 1; k >= 0 && t >= 0; k--, t--) {
      ids[t] = obs.items[k] + 1;
      buckets[t] = rewardBucket(obs.rewards[k]);
    }
    const { offsets, items, values } = this.logged;
    for (let e = offsets[obs.user + 1] - 1; e >= offsets[obs.user] && t >= 0; e--, t--) {
      ids[t] = items[e] + 1;
      buckets[t] = rewardBucket(values ? values[e] : REWARD_BUCKETS - 1);
    }
    return { ids, buckets };
  }
}

/** Packs states time-major (row t·B + b) for {@link TrackerNet.forward}. */
export function packStates(states: readonly StateWindow[], L: number): { ids: Int32Array; buckets: Int32Array } {
  const B = states.length;
  const ids = new Int32Array(L * B), buckets = new Int32Array(L * B);
  states.forEach((s, b) => {
    for (let t = 0; t < L; t++) {
      ids[t * B + b] = s.ids[t];
      buckets[t * B + b] = s.buckets[t];
    }
  });
  return { ids, buckets };
}
