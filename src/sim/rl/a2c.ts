/**
 * Advantage actor-critic (A2C, Mnih et al. 2016, synchronous form) with the GRU state tracker: one
 * net, two heads — policy logits over items and a state value — trained against the user model on
 * whole episodes:
 *
 *   π(a | s) = softmax over allowed items of the logits,  G_t = r_t + γ·G_{t+1} (0 after the end),
 *   A_t = G_t − V(s_t) (normalised over the batch),
 *   loss = Σ_t [ −A_t·log π(a_t | s_t) + ½·c_v·(V(s_t) − G_t)² − β·H(π(· | s_t)) ] / #steps.
 *
 * Gradients with respect to the logits z of step t (allowed items only; banned ones have π = 0):
 *   −A_t·(onehot(a_t) − π)  +  β·π_j·(log π_j + H).
 * Acting samples from π while training and takes the most probable items otherwise. With k items per
 * turn, items are drawn one after another without replacement and each is its own action.
 */
import type { Rng } from '../../util/rng.ts';
import type { Observation } from '../env.ts';
import { topKAllowed, type Policy } from '../policies.ts';
import { TrackerNet } from './net.ts';
import { REWARD_BUCKETS, packStates, type StateBuilder, type StateWindow } from './state.ts';

/** Hyperparameters of {@link A2cPolicy}. */
export interface A2cConfig {
  dims: number;
  hidden: number;
  gamma: number;
  lr: number;
  /** Episodes per update. */
  episodesPerUpdate: number;
  /** Critic weight c_v. */
  valueWeight: number;
  /** Entropy bonus β. */
  entropy: number;
  maxBatch: number;
  seed: number;
}

export const A2C_DEFAULTS: A2cConfig = { dims: 32, hidden: 64, gamma: 0.9, lr: 1e-3, episodesPerUpdate: 8, valueWeight: 0.5, entropy: 0.01, maxBatch: 256, seed: 0 };

interface Step {
  s: StateWindow;
  a: number;
  r: number;
  /** Items banned at s. */
  banned: Int32Array;
}

/** Softmax of `logits` over the items not in `banned`, into a new array (banned get 0). */
export function maskedSoftmax(logits: ArrayLike<number>, banned: ArrayLike<number>): Float64Array {
  const p = new Float64Array(logits.length);
  const skip = new Set<number>(Array.from(banned));
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (!skip.has(i) && logits[i] > max) max = logits[i];
  let z = 0;
  for (let i = 0; i < logits.length; i++) {
    if (skip.has(i)) continue;
    p[i] = Math.exp(logits[i] - max);
    z += p[i];
  }
  for (let i = 0; i < p.length; i++) p[i] /= z;
  return p;
}

/**
 * The A2C loss gradient with respect to one step's logits (see the file comment), written into
 * `dz` scaled by `scale`; returns the step's policy-loss and entropy terms.
 */
export function actorGradient(p: Float64Array, a: number, advantage: number, beta: number, dz: Float32Array, scale: number): { policyLoss: number; entropy: number } {
  let H = 0;
  for (let j = 0; j < p.length; j++) if (p[j] > 0) H -= p[j] * Math.log(p[j]);
  for (let j = 0; j < p.length; j++) {
    if (p[j] === 0) continue;
    dz[j] = scale * (advantage * p[j] - (j === a ? advantage : 0) + beta * p[j] * (Math.log(p[j]) + H));
  }
  return { policyLoss: -advantage * Math.log(p[a]), entropy: H };
}

/** An A2C policy; set `training` to sample and learn, clear it to act on the most probable items. */
export class A2cPolicy implements Policy {
  readonly name = 'a2c';
  readonly config: A2cConfig;
  training = true;
  updates = 0;
  private readonly net: TrackerNet;
  private episode: Step[] = [];
  private readonly batch: Step[][] = [];
  private lastState: StateWindow | null = null;
  private lastBanned = new Int32Array(0);
  private lossSum = 0;
  private lossN = 0;

  constructor(private readonly nItems: number, private readonly states: StateBuilder, config: Partial<A2cConfig> = {}) {
    this.config = { ...A2C_DEFAULTS, ...config };
    const c = this.config;
    this.net = new TrackerNet({ nItems, dims: c.dims, hidden: c.hidden, window: states.window, rewardBuckets: REWARD_BUCKETS, value: true, maxBatch: c.maxBatch, lr: c.lr, seed: c.seed });
  }

  act(obs: Observation, k: number, banned: Uint8Array | null, rng: Rng): Int32Array {
    const s = this.states.build(obs);
    this.lastState = s;
    // FreeB passes no mask: nothing is banned, in acting and in the update's softmax alike
    this.lastBanned = banned ? Int32Array.from(obs.items) : new Int32Array(0);
    const { ids, buckets } = packStates([s], this.states.window);
    const logits = this.net.forward(1, ids, buckets).out;
    if (!this.training) return topKAllowed(logits, k, banned);
    const out = new Int32Array(k);
    const taken: number[] = [];
    for (let j = 0; j < k; j++) {
      const bannedNow = [...Array.from(this.lastBanned), ...taken];
      const p = maskedSoftmax(logits, bannedNow);
      let u = rng.next(), pick = -1;
      for (let i = 0; i < p.length; i++) {
        if (p[i] === 0) continue;
        pick = i;
        u -= p[i];
        if (u <= 0) break;
      }
      out[j] = pick;
      taken.push(pick);
    }
    return out;
  }

  observe(_obs: Observation, list: Int32Array, rewards: Float64Array, done: boolean): void {
    if (!this.training || !this.lastState) return;
    for (let j = 0; j < list.length; j++) {
      if (!Number.isFinite(rewards[j])) continue;
      this.episode.push({ s: this.lastState, a: list[j], r: rewards[j], banned: this.lastBanned });
    }
    if (!done) return;
    this.batch.push(this.episode);
    this.episode = [];
    if (this.batch.length >= this.config.episodesPerUpdate) this.update();
  }

  /** Mean training loss since the last call (NaN when no update ran). */
  takeLoss(): number {
    const v = this.lossN > 0 ? this.lossSum / this.lossN : NaN;
    this.lossSum = 0;
    this.lossN = 0;
    return v;
  }

  private update(): void {
    const c = this.config, L = this.states.window, n = this.nItems;
    const steps: Step[] = [], returns: number[] = [];
    for (const ep of this.batch) {
      const G = new Array<number>(ep.length);
      let g = 0;
      for (let t = ep.length - 1; t >= 0; t--) G[t] = g = ep[t].r + c.gamma * g;
      steps.push(...ep);
      returns.push(...G);
    }
    this.batch.length = 0;
    const total = steps.length;
    let loss = 0;
    for (let b0 = 0; b0 < total; b0 += c.maxBatch) {
      const chunk = steps.slice(b0, b0 + c.maxBatch), B = chunk.length;
      const { ids, buckets } = packStates(chunk.map((s) => s.s), L);
      const { out, value } = this.net.forward(B, ids, buckets);
      const adv = chunk.map((_, b) => returns[b0 + b] - value[b]);
      // normalised advantages: the policy step does not scale with the reward's size
      const mean = adv.reduce((a, v) => a + v, 0) / B;
      const sd = Math.sqrt(adv.reduce((a, v) => a + (v - mean) ** 2, 0) / B) || 1;
      const { dOut, dValue } = this.net.gradients();
      chunk.forEach((st, b) => {
        const p = maskedSoftmax(out.subarray(b * n, (b + 1) * n), st.banned);
        const r = actorGradient(p, st.a, B > 1 ? (adv[b] - mean) / sd : adv[b], c.entropy, dOut.subarray(b * n, (b + 1) * n), 1 / total);
        const dv = value[b] - returns[b0 + b];
        dValue[b] = (c.valueWeight * dv) / total;
        loss += r.policyLoss + 0.5 * c.valueWeight * dv * dv - c.entropy * r.entropy;
      });
      this.net.backward();
    }
    this.net.step();
    this.updates++;
    this.lossSum += loss / total;
    this.lossN++;
  }
}
