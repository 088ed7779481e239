/**
 * Item-transition graph heuristic — after "An Embarrassingly Simple Graph Heuristic Reveals
 * Shortcut-Solvable Benchmarks for Sequential Recommendation" (Han et al., 2026).
 *
 * A sanity baseline with no training: build the directed item-transition graph of the training
 * sequences (edge i → j counts how often j directly follows i), row-normalise it into transition
 * probabilities T̂, keep each item's `topEdges` strongest out-edges, and score the next item from
 * the user's last `lastItems` items by a few hops of the graph:
 *   v = Σ_{l=1..L} w^{l−1} e_{i_(t−l+1)},   score = Σ_{h=1..H} β^{h−1} · v T̂^h.
 * The paper ranks the retrieved candidates by item-feature similarity; items carry no features
 * here, so candidates are ranked by their graph score (items the graph never reaches follow, by
 * popularity — a 1e-9-scaled tie-break far below any reachable score). When this beats learned
 * models, the benchmark is solvable by local transitions — the paper's point.
 */
import type { Interactions } from '../data/types.ts';
import type { FitOptions, FitReport, SequentialRecommender } from './recommender.ts';
import type { ModelEntry } from './registry.ts';
import { readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { checkScoreArgs, secondsSince } from './cf/common.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import { floatTensor } from './cf/mf.ts';
import { topK } from './topk.ts';

/** Hyperparameters of {@link Transition}. */
export const TransitionConfigSchema = z
  .object({
    lastItems: z.number().int().positive().default(2).describe('how many of the newest items seed the walk (the paper: one or two)'),
    recencyDecay: z.number().min(0).default(0.5).describe('weight ratio w between consecutive seed items (newest weighs 1)'),
    hops: z.number().int().positive().default(2).describe('graph hops H'),
    hopDecay: z.number().min(0).default(0.3).describe('weight ratio β between consecutive hops'),
    topEdges: z.number().int().positive().default(100).describe('out-edges kept per item (strongest first)'),
  })
  .strict();
export type TransitionConfig = z.infer<typeof TransitionConfigSchema>;

/** Defaults: last two items, two hops. */
export const TRANSITION_DEFAULTS: TransitionConfig = TransitionConfigSchema.parse({});

/** Scale of the popularity tie-break, far below any graph score. */
const POP_EPS = 1e-9;

/** The transition-graph heuristic. */
export class Transition implements SequentialRecommender {
  readonly name = 'transition';
  readonly config: TransitionConfig;
  /** Pruned, row-normalised T̂ in CSR form. */
  edgeOffsets: Int32Array = new Int32Array(1);
  edgeItems: Int32Array = new Int32Array(0);
  edgeProbs: Float32Array = new Float32Array(0);
  /** Popularity tie-break per item (count / max count · POP_EPS). */
  prior: Float32Array = new Float32Array(0);
  private n = 0;
  private cur = new Float64Array(0);
  private next = new Float64Array(0);

  constructor(config: Record<string, unknown> = {}) {
    this.config = parseConfig('transition', TransitionConfigSchema, config);
  }

  get nItems(): number {
    return this.n;
  }

  /** Counts consecutive pairs, normalises each row, keeps the strongest `topEdges`. */
  async fit(train: Interactions, _options: FitOptions): Promise<FitReport> {
    const t0 = performance.now();
    const n = train.nItems;
    const rows: Map<number, number>[] = Array.from({ length: n }, () => new Map());
    const pop = new Float64Array(n);
    for (let u = 0; u < train.nUsers; u++) {
      for (let p = train.offsets[u]; p < train.offsets[u + 1]; p++) {
        pop[train.items[p]]++;
        if (p + 1 < train.offsets[u + 1]) {
          const i = train.items[p];
          const j = train.items[p + 1];
          if (i !== j) rows[i].set(j, (rows[i].get(j) ?? 0) + 1);
        }
      }
    }
    const offsets = new Int32Array(n + 1);
    const items: number[] = [];
    const probs: number[] = [];
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      let total = 0;
      for (const c of row.values()) total += c;
      const targets = Int32Array.from(row.keys());
      const counts = Float32Array.from(row.values());
      const best = topK(counts, this.config.topEdges);
      for (let t = 0; t < best.items.length; t++) {
        items.push(targets[best.items[t]]);
        probs.push(best.scores[t] / total);
      }
      offsets[i + 1] = items.length;
    }
    let maxPop = 1;
    for (const c of pop) maxPop = Math.max(maxPop, c);
    this.setGraph(n, offsets, Int32Array.from(items), Float32Array.from(probs), Float32Array.from(pop, (c) => (POP_EPS * c) / maxPop));
    return { epochs: 0, seconds: secondsSince(t0), history: [] };
  }

  private setGraph(n: number, offsets: Int32Array, items: Int32Array, probs: Float32Array, prior: Float32Array): void {
    this.n = n;
    this.edgeOffsets = offsets;
    this.edgeItems = items;
    this.edgeProbs = probs;
    this.prior = prior;
    this.cur = new Float64Array(n);
    this.next = new Float64Array(n);
  }

  /** Scores every item as the next one after `sequence` (oldest first). */
  scoreSequence(sequence: Int32Array, out: Float32Array, o = 0): void {
    const n = this.n;
    const { lastItems, recencyDecay, hops, hopDecay } = this.config;
    const score = new Float64Array(n);
    const cur = this.cur;
    cur.fill(0);
    let w = 1;
    for (let l = 0; l < lastItems && l < sequence.length; l++) {
      cur[sequence[sequence.length - 1 - l]] += w;
      w *= recencyDecay;
    }
    let hw = 1;
    for (let h = 0; h < hops; h++) {
      const next = this.next;
      next.fill(0);
      for (let i = 0; i < n; i++) {
        const vi = cur[i];
        if (vi === 0) continue;
        for (let q = this.edgeOffsets[i]; q < this.edgeOffsets[i + 1]; q++) next[this.edgeItems[q]] += vi * this.edgeProbs[q];
      }
      for (let j = 0; j < n; j++) score[j] += hw * next[j];
      cur.set(next);
      hw *= hopDecay;
    }
    for (let j = 0; j < n; j++) out[o + j] = score[j] + this.prior[j];
  }

  /** Scores each user's history row as a sequence. */
  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    checkScoreArgs('transition', this.n, users, history, out);
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      this.scoreSequence(history.items.subarray(history.offsets[u], history.offsets[u + 1]), out, r * this.n);
    }
  }

  async save(dir: string): Promise<void> {
    await writeCheckpoint(dir, { name: this.name, config: this.config, nItems: this.n }, {
      offsets: { data: this.edgeOffsets, shape: [this.n + 1] },
      items: { data: this.edgeItems, shape: [this.edgeItems.length] },
      probs: { data: this.edgeProbs, shape: [this.edgeProbs.length] },
      prior: { data: this.prior, shape: [this.n] },
    });
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<Transition> {
    const { meta, tensors } = await readCheckpoint(dir);
    const m = new Transition(meta.config);
    const n = meta.nItems;
    const offsets = tensors.offsets?.data;
    const items = tensors.items?.data;
    if (!(offsets instanceof Int32Array) || offsets.length !== n + 1 || !(items instanceof Int32Array) || items.length !== offsets[n]) {
      throw new Error(`${dir}: transition checkpoint needs int32 "offsets" [${n + 1}] and "items" tensors`);
    }
    m.setGraph(n, offsets, items, floatTensor(dir, tensors, 'probs', items.length), floatTensor(dir, tensors, 'prior', n));
    return m;
  }
}

/** Registry entry. */
export const transitionEntry: ModelEntry = {
  name: 'transition',
  description: 'Item-transition graph heuristic (sequential sanity baseline: few hops from the last items)',
  configSchema: TransitionConfigSchema,
  sequential: true,
  create: (config) => new Transition(config),
  load: (dir) => Transition.load(dir),
};
