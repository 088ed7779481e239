/**
 * Training batches for next-item models, built as the SASRec reference implementation builds
 * them: B users drawn uniformly with replacement; for each, the input is the last `maxLen` items
 * of its sequence but the final one, the targets are the same window shifted by one, and every
 * position gets negatives drawn uniformly from the items the user never interacted with.
 * Unlike the reference, nothing is padded: sequences stay ragged (see ragged.ts).
 *
 * Item ids here are the model's internal ids: dataset id + 1 (0 is the padding row of the
 * embedding table, kept for PyTorch-compatible checkpoints).
 */
import type { Interactions } from '../../data/types.ts';
import type { Rng } from '../../nn/rng.ts';

/** A sampled batch: sequence i has inputs/targets at [off[i], off[i+1]) and nNeg negatives per position. */
export interface SeqBatch {
  /** Per-sequence token offsets, length nSeq + 1. */
  off: Int32Array;
  /** Input item (internal id) per token. */
  inputs: Int32Array;
  /** Next item (internal id) per token. */
  targets: Int32Array;
  /** nNeg negatives (internal ids) per token, token-major. */
  negatives: Int32Array;
  nNeg: number;
  /** The sampled users (dataset ids). */
  users: Int32Array;
}

/** Samples training batches from an Interactions view. */
export class BatchSampler {
  /** Users with at least two events (one input, one target). */
  readonly users: Int32Array;
  private readonly mark: Uint32Array;
  private stamp = 0;

  constructor(private readonly data: Interactions, private readonly maxLen: number) {
    const us: number[] = [];
    for (let u = 0; u < data.nUsers; u++) if (data.offsets[u + 1] - data.offsets[u] >= 2) us.push(u);
    this.users = Int32Array.from(us);
    this.mark = new Uint32Array(data.nItems + 1);
  }

  /**
   * Draws a batch of `size` users. `nNeg` = 0 draws no negatives (full softmax).
   * Negatives avoid the user's whole sequence, as in the reference implementation.
   */
  sample(size: number, nNeg: number, rng: Rng): SeqBatch {
    if (this.users.length === 0) throw new Error('BatchSampler: no user has two or more events to train on');
    const { data, maxLen } = this;
    const n = data.nItems;
    const users = new Int32Array(size);
    const off = new Int32Array(size + 1);
    for (let b = 0; b < size; b++) {
      const u = this.users[rng.int(this.users.length)];
      users[b] = u;
      off[b + 1] = off[b] + Math.min(maxLen, data.offsets[u + 1] - data.offsets[u] - 1);
    }
    const T = off[size];
    const inputs = new Int32Array(T);
    const targets = new Int32Array(T);
    const negatives = new Int32Array(T * nNeg);
    for (let b = 0; b < size; b++) {
      const u = users[b];
      const start = data.offsets[u];
      const end = data.offsets[u + 1];
      const L = off[b + 1] - off[b];
      for (let j = 0; j < L; j++) {
        // window: the last L transitions (item at p → item at p+1)
        const p = end - 1 - L + j;
        inputs[off[b] + j] = data.items[p] + 1;
        targets[off[b] + j] = data.items[p + 1] + 1;
      }
      if (nNeg > 0) {
        if (++this.stamp === 0xffffffff) {
          this.mark.fill(0);
          this.stamp = 1;
        }
        const s = this.stamp;
        let distinct = 0;
        for (let p = start; p < end; p++) {
          if (this.mark[data.items[p] + 1] !== s) distinct++;
          this.mark[data.items[p] + 1] = s;
        }
        const avoid = distinct < n; // a user who saw every item gets unconstrained negatives
        for (let q = off[b] * nNeg; q < off[b + 1] * nNeg; q++) {
          let x = rng.int(n) + 1;
          while (avoid && this.mark[x] === s) x = rng.int(n) + 1;
          negatives[q] = x;
        }
      }
    }
    return { off, inputs, targets, negatives, nNeg, users };
  }
}

/** The last `maxLen` items of `seq` as internal ids (dataset id + 1). */
export function lastWindow(seq: ArrayLike<number>, maxLen: number): Int32Array {
  const L = Math.min(maxLen, seq.length);
  const out = new Int32Array(L);
  for (let j = 0; j < L; j++) out[j] = seq[seq.length - L + j] + 1;
  return out;
}
