/**
 * The simulation environment (EasyRL4Rec's `KuaiEnv`, list-wise): an episode draws a user; each
 * turn the policy recommends k items; the user model answers each with its reward mat[u, i]; the
 * user quits when the feed grows repetitive.
 *
 * Quit rule (EasyRL4Rec `_determine_whether_to_leave`): before an item is consumed, look at the
 * categories of the last W items recommended in this episode (a multiset). If any category of the
 * new item already occurs more than `threshold` times there, the user leaves. As in EasyRL4Rec, the
 * item that triggers the leave is still consumed (its reward counts) and the episode ends there;
 * items after it in the same list get no feedback.
 *
 * Modes (EasyRL4Rec's evaluation settings):
 * - `FreeB`: repeats allowed, quit rule on;
 * - `NX_0`: no item twice in an episode, quit rule on;
 * - `NX_X`: no repeats, quit rule off, every episode runs exactly `maxTurns` turns.
 * Every episode also ends after `maxTurns` turns. A policy that repeats an item in an NX mode gets
 * an error (policies read {@link SimEnv.recommendedMask} to avoid it).
 */
import { Rng } from '../util/rng.ts';
import type { RewardMatrix } from './user-model.ts';

export const SIM_MODES = ['FreeB', 'NX_0', 'NX_X'] as const;
export type SimMode = (typeof SIM_MODES)[number];

/** Categories of every item in CSR form: item i's are `values[offsets[i] .. offsets[i+1]-1]`. */
export interface ItemCategories {
  offsets: Int32Array;
  values: Int32Array;
  names: string[];
}

/** Settings of the environment. */
export interface EnvConfig {
  mode: SimMode;
  /** W: how many of the last recommended items the quit rule looks at (default 3). */
  window: number;
  /** A category occurring more than this many times in the window makes the user quit (default 1). */
  threshold: number;
  /** Turns per episode at most (NX_X: exactly) (default 20). */
  maxTurns: number;
  /** Items recommended per turn (default 1). */
  listSize: number;
  /**
   * The quit window while fewer than W items were shown (t < W): `'last'` (default) looks at all t
   * of them; `'python-slice'` reproduces EasyRL4Rec's `sequence_action[t - W : t]`, whose negative
   * start counts from the end of the list, so the window is items max(0, 2t − W) … t − 1 (with
   * W = 3: [a₀] at t = 1, only [a₁] at t = 2). From t = W on both are the last W items.
   */
  earlyWindow: 'last' | 'python-slice';
}

export const ENV_DEFAULTS: EnvConfig = { mode: 'NX_0', window: 3, threshold: 1, maxTurns: 20, listSize: 1, earlyWindow: 'last' };

/** What the policy sees. Arrays are the environment's own; do not modify. */
export interface Observation {
  user: number;
  /** Turns taken so far in this episode. */
  turn: number;
  /** Items consumed so far in this episode, in order, and their rewards. */
  items: readonly number[];
  rewards: readonly number[];
}

/** The answer to one list. */
export interface StepResult {
  /** Reward of each recommended item, in list order; NaN for items after the user left. */
  rewards: Float64Array;
  /** Sum of the finite rewards. */
  reward: number;
  /** The episode is over (quit or turn limit). */
  done: boolean;
  /** The user left by the quit rule (not the turn limit). */
  quit: boolean;
}

/** Item categories from a dataset's `genres` side column (token_seq), e.g. ML-100K's u.item. */
export function categoriesFromSide(side: { columns: Record<string, unknown> } | undefined, nItems: number, column = 'genres'): ItemCategories {
  const col = side?.columns[column] as { type: string; offsets: Int32Array; values: Int32Array; vocab: { toArray(): string[] } } | undefined;
  if (!col || col.type !== 'token_seq') throw new Error(`item side table has no token_seq column "${column}" (for ML-100K, u.item must sit beside u.data)`);
  if (col.offsets.length !== nItems + 1) throw new Error(`item column "${column}" has ${col.offsets.length - 1} rows, expected ${nItems}`);
  return { offsets: col.offsets, values: col.values, names: col.vocab.toArray() };
}

/** Categories from plain lists (tests, hand-built cases): `lists[i]` are item i's category names. */
export function categoriesFromLists(lists: readonly (readonly string[])[]): ItemCategories {
  const names: string[] = [];
  const index = new Map<string, number>();
  const offsets = new Int32Array(lists.length + 1);
  const values: number[] = [];
  lists.forEach((l, i) => {
    for (const c of l) {
      let id = index.get(c);
      if (id === undefined) index.set(c, (id = names.push(c) - 1));
      values.push(id);
    }
    offsets[i + 1] = values.length;
  });
  return { offsets, values: Int32Array.from(values), names };
}

/**
 * Whether a user who was recommended `recent` (oldest first; only the last `window` count) leaves
 * when shown `item`: some category of `item` occurs more than `threshold` times among the
 * categories of the window.
 */
export function wouldQuit(cats: ItemCategories, recent: readonly number[], item: number, window: number, threshold: number,
  earlyWindow: EnvConfig['earlyWindow'] = 'last'): boolean {
  const t = recent.length;
  const from = t >= window ? t - window : earlyWindow === 'python-slice' ? Math.max(0, 2 * t - window) : 0;
  for (let c = cats.offsets[item]; c < cats.offsets[item + 1]; c++) {
    const cat = cats.values[c];
    let count = 0;
    for (let t = from; t < recent.length; t++) {
      const j = recent[t];
      for (let k = cats.offsets[j]; k < cats.offsets[j + 1]; k++) if (cats.values[k] === cat) count++;
    }
    if (count > threshold) return true;
  }
  return false;
}

/** The environment. Seeded: the same seed gives the same users in the same order. */
export class SimEnv {
  readonly config: EnvConfig;
  private readonly rng: Rng;
  private user = -1;
  private turn = 0;
  private done = true;
  private readonly items: number[] = [];
  private readonly rewards: number[] = [];
  private readonly shown: Uint8Array;

  constructor(readonly userModel: RewardMatrix, readonly categories: ItemCategories, config: Partial<EnvConfig> = {}, seed = 0) {
    this.config = { ...ENV_DEFAULTS, ...config };
    const c = this.config;
    if (!SIM_MODES.includes(c.mode)) throw new Error(`sim mode "${String(c.mode)}": expected one of ${SIM_MODES.join(', ')}`);
    for (const key of ['window', 'maxTurns', 'listSize'] as const) {
      if (!Number.isInteger(c[key]) || c[key] < 1) throw new Error(`sim config ${key}: expected an integer ≥ 1, got ${c[key]}`);
    }
    if (c.earlyWindow !== 'last' && c.earlyWindow !== 'python-slice') throw new Error(`sim config earlyWindow: expected last or python-slice, got ${String(c.earlyWindow)}`);
    if (!Number.isInteger(c.threshold) || c.threshold < 0) throw new Error(`sim config threshold: expected an integer ≥ 0, got ${c.threshold}`);
    if (categories.offsets.length !== userModel.nItems + 1) throw new Error(`categories cover ${categories.offsets.length - 1} items, the user model ${userModel.nItems}`);
    if (c.mode !== 'FreeB' && c.listSize * c.maxTurns > userModel.nItems) throw new Error(`${c.mode}: ${c.maxTurns} turns × ${c.listSize} items exceed the ${userModel.nItems} items without repeats`);
    this.rng = new Rng(seed);
    this.shown = new Uint8Array(userModel.nItems);
  }

  get nItems(): number {
    return this.userModel.nItems;
  }

  /** Starts an episode with `user` (default: a user drawn uniformly by the environment's stream). */
  reset(user?: number): Observation {
    const u = user ?? this.rng.int(this.userModel.nUsers);
    if (!Number.isInteger(u) || u < 0 || u >= this.userModel.nUsers) throw new Error(`reset: user ${u} out of range 0..${this.userModel.nUsers - 1}`);
    this.user = u;
    this.turn = 0;
    this.done = false;
    for (const i of this.items) this.shown[i] = 0;
    this.items.length = 0;
    this.rewards.length = 0;
    return this.observation();
  }

  /** The current observation. */
  observation(): Observation {
    return { user: this.user, turn: this.turn, items: this.items, rewards: this.rewards };
  }

  /** 1 for every item recommended in this episode (the items an NX policy must not pick). */
  recommendedMask(): Uint8Array {
    return this.shown;
  }

  /** Whether the current episode is over. */
  get finished(): boolean {
    return this.done;
  }

  /** Recommends `list` (length `listSize`) to the current user. */
  step(list: ArrayLike<number>): StepResult {
    const c = this.config;
    if (this.done) throw new Error('step: the episode is over; call reset()');
    if (list.length !== c.listSize) throw new Error(`step: expected a list of ${c.listSize} items, got ${list.length}`);
    const noRepeat = c.mode !== 'FreeB';
    for (let k = 0; k < list.length; k++) {
      const i = list[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.nItems) throw new Error(`step: item ${i} at list position ${k} out of range 0..${this.nItems - 1}`);
      if (noRepeat && this.shown[i]) throw new Error(`step: item ${i} was already recommended to user ${this.user} in this episode (${c.mode} forbids repeats)`);
      for (let j = 0; j < k; j++) if (noRepeat && list[j] === i) throw new Error(`step: item ${i} appears twice in the list (${c.mode} forbids repeats)`);
    }
    const rewards = new Float64Array(list.length).fill(NaN);
    let total = 0, quit = false;
    const row = this.user * this.nItems;
    for (let k = 0; k < list.length; k++) {
      const i = list[k];
      quit = c.mode !== 'NX_X' && wouldQuit(this.categories, this.items, i, c.window, c.threshold, c.earlyWindow);
      rewards[k] = this.userModel.values[row + i];
      total += rewards[k];
      this.items.push(i);
      this.rewards.push(rewards[k]);
      this.shown[i] = 1;
      if (quit) break;
    }
    this.turn++;
    this.done = quit || this.turn >= c.maxTurns;
    return { rewards, reward: total, done: this.done, quit };
  }
}
