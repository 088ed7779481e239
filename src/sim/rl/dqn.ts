/**
 * DQN (Mnih et al. 2015) with a GRU state tracker, trained against the user model as in
 * EasyRL4Rec's "learn with a user model" paradigm:
 *
 *   Q(s, ·) = the tracker net's head,  y = r + γ·(1 − done)·max_{a' allowed} Q_target(s', a'),
 *   loss = Huber(Q(s, a) − y) over a replay minibatch; the target net is copied every `targetEvery`
 *   updates; ε-greedy exploration decays linearly from 1 to `epsilonEnd` over `explorationSteps`;
 *   one update every `updateEvery` environment steps.
 *
 * "Allowed" excludes the items already recommended in the episode (the NX modes' rule), so the
 * bootstrap never values an action the policy could not take. With k > 1 items per turn, each
 * item of the list is a transition of its own from the same state.
 */
import { Rng } from '../../util/rng.ts';
import type { Observation } from '../env.ts';
import { randomAllowed, topKAllowed, type Policy } from '../policies.ts';
import { TrackerNet } from './net.ts';
import { REWARD_BUCKETS, packStates, type StateBuilder, type StateWindow } from './state.ts';

/** Hyperparameters of {@link DqnPolicy}. */
export interface DqnConfig {
  dims: number;
  hidden: number;
  gamma: number;
  lr: number;
  batch: number;
  replay: number;
  warmup: number;
  targetEvery: number;
  explorationSteps: number;
  epsilonEnd: number;
  /** One gradient update every this many environment steps (Mnih et al.: 4). */
  updateEvery: number;
  seed: number;
}

export const DQN_DEFAULTS: DqnConfig = { dims: 32, hidden: 64, gamma: 0.9, lr: 1e-3, batch: 32, replay: 20000, warmup: 500, targetEvery: 200, explorationSteps: 20000, epsilonEnd: 0.05, updateEvery: 4, seed: 0 };

interface Transition {
  s: StateWindow;
  a: number;
  r: number;
  s2: StateWindow;
  done: boolean;
  /** Items not allowed in s2 (the episode's recommended items). */
  banned2: Int32Array;
}

/** A DQN policy; set `training` to explore and learn, clear it to act greedily on Q. */
export class DqnPolicy implements Policy {
  readonly name = 'dqn';
  readonly config: DqnConfig;
  training = true;
  /** Environment steps seen while training, and gradient updates made. */
  steps = 0;
  updates = 0;
  /** Mean Huber loss of the updates since the last {@link takeLoss}. */
  private lossSum = 0;
  private lossN = 0;
  private readonly online: TrackerNet;
  private readonly target: TrackerNet;
  private readonly buffer: Transition[] = [];
  private next = 0;
  private readonly rng: Rng;
  private lastState: StateWindow | null = null;
  /** Whether the environment bans repeats (NX modes: a banned mask was passed to act). */
  private noRepeats = true;

  constructor(private readonly nItems: number, private readonly states: StateBuilder, config: Partial<DqnConfig> = {}) {
    this.config = { ...DQN_DEFAULTS, ...config };
    const c = this.config;
    const net = { nItems, dims: c.dims, hidden: c.hidden, window: states.window, rewardBuckets: REWARD_BUCKETS, value: false, maxBatch: c.batch, lr: c.lr, seed: c.seed };
    this.online = new TrackerNet(net);
    this.target = new TrackerNet(net);
    this.target.copyFrom(this.online);
    this.rng = new Rng(c.seed + 1);
  }

  /** ε of the exploration schedule now. */
  get epsilon(): number {
    const c = this.config;
    return Math.max(c.epsilonEnd, 1 - (this.steps / c.explorationSteps) * (1 - c.epsilonEnd));
  }

  act(obs: Observation, k: number, banned: Uint8Array | null, rng: Rng): Int32Array {
    const s = this.states.build(obs);
    this.lastState = s;
    this.noRepeats = banned !== null;
    if (this.training && rng.next() < this.epsilon) return randomAllowed(this.nItems, k, banned, rng);
    const { ids, buckets } = packStates([s], this.states.window);
    return topKAllowed(this.online.forward(1, ids, buckets).out, k, banned);
  }

  observe(obs: Observation, list: Int32Array, rewards: Float64Array, done: boolean): void {
    if (!this.training || !this.lastState) return;
    const s2 = this.states.build(obs);
    const banned2 = this.noRepeats ? Int32Array.from(obs.items) : new Int32Array(0);
    for (let j = 0; j < list.length; j++) {
      if (!Number.isFinite(rewards[j])) continue;
      this.push({ s: this.lastState, a: list[j], r: rewards[j], s2, done, banned2 });
      this.steps++;
      if (this.buffer.length >= this.config.warmup && this.steps % this.config.updateEvery === 0) this.update();
    }
  }

  /** Mean training loss since the last call (NaN when no update ran). */
  takeLoss(): number {
    const v = this.lossN > 0 ? this.lossSum / this.lossN : NaN;
    this.lossSum = 0;
    this.lossN = 0;
    return v;
  }

  private push(t: Transition): void {
    if (this.buffer.length < this.config.replay) this.buffer.push(t);
    else this.buffer[this.next] = t;
    this.next = (this.next + 1) % this.config.replay;
  }

  private update(): void {
    const c = this.config, B = c.batch, L = this.states.window, n = this.nItems;
    const batch = Array.from({ length: B }, () => this.buffer[this.rng.int(this.buffer.length)]);
    const next = packStates(batch.map((t) => t.s2), L);
    const q2 = this.target.forward(B, next.ids, next.buckets).out;
    const y = new Float64Array(B);
    batch.forEach((t, b) => {
      let best = 0;
      if (!t.done) {
        const row = q2.subarray(b * n, (b + 1) * n);
        best = -Infinity;
        const banned = new Set(t.banned2);
        for (let i = 0; i < n; i++) if (!banned.has(i) && row[i] > best) best = row[i];
      }
      y[b] = t.r + c.gamma * best;
    });
    const cur = packStates(batch.map((t) => t.s), L);
    const q = this.online.forward(B, cur.ids, cur.buckets).out;
    const { dOut } = this.online.gradients();
    let loss = 0;
    batch.forEach((t, b) => {
      const err = q[b * n + t.a] - y[b];
      loss += Math.abs(err) <= 1 ? 0.5 * err * err : Math.abs(err) - 0.5;
      dOut[b * n + t.a] = Math.max(-1, Math.min(1, err)) / B;
    });
    this.online.backward();
    this.online.step();
    this.lossSum += loss / B;
    this.lossN++;
    if (++this.updates % c.targetEvery === 0) this.target.copyFrom(this.online);
  }
}
