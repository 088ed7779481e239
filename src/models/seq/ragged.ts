/**
 * Splitting a ragged batch across threads. Each thread takes a contiguous run of whole
 * sequences (so attention never crosses threads), chosen to balance the work: a sequence of
 * length L costs about L·(linear layers) + L²·(attention). Contiguous runs in batch order keep
 * the split a pure function of the batch, so a seed and a thread count fix the result exactly.
 */
import type { Engine, Program } from '../../kernels/engine.ts';

/** One thread's share of a batch: sequences [s0, s1). */
export interface Shard {
  s0: number;
  s1: number;
  /** First token of the shard in the batch. */
  t0: number;
  /** Tokens in the shard. */
  tokens: number;
  /** Σ L² over the shard's sequences. */
  sumL2: number;
  maxL: number;
}

/**
 * Splits sequences with token offsets `off` into at most `parts` shards of balanced cost
 * L·linearWeight + L². Empty shards are dropped (fewer sequences than parts).
 */
export function splitBalanced(off: Int32Array, parts: number, linearWeight: number): Shard[] {
  const nSeq = off.length - 1;
  const cost = (s: number): number => {
    const L = off[s + 1] - off[s];
    return L * linearWeight + L * L;
  };
  let total = 0;
  for (let s = 0; s < nSeq; s++) total += cost(s);
  const shards: Shard[] = [];
  let s0 = 0;
  let acc = 0;
  for (let p = 0; p < parts && s0 < nSeq; p++) {
    const target = (total * (p + 1)) / parts;
    let s1 = s0;
    if (p === parts - 1) s1 = nSeq;
    else {
      // take sequences while the cumulative cost stays nearer the target than without the next one
      while (s1 < nSeq && (s1 === s0 || Math.abs(acc + cost(s1) - target) <= Math.abs(acc - target))) {
        acc += cost(s1);
        s1++;
      }
    }
    if (p === parts - 1) for (let s = s0; s < s1; s++) acc += cost(s);
    let sumL2 = 0;
    let maxL = 0;
    for (let s = s0; s < s1; s++) {
      const L = off[s + 1] - off[s];
      sumL2 += L * L;
      maxL = Math.max(maxL, L);
    }
    shards.push({ s0, s1, t0: off[s0], tokens: off[s1] - off[s0], sumL2, maxL });
    s0 = s1;
  }
  return shards;
}

/**
 * Runs one recorded program per shard in parallel and returns the sum of the shards' losses,
 * each a float64 the shard's loss kernel accumulated at `lossPtrs[w]` (zeroed by the caller).
 */
export function runShards(engine: Engine, programs: Program[], lossPtrs: number[]): number {
  engine.runParallel(programs);
  let loss = 0;
  for (const ptr of lossPtrs) loss += new Float64Array(engine.memory.buffer, ptr, 1)[0];
  return loss;
}
